/**
 * The shapes of a namespace lab: a running lab, its hosts, and the record kept in `lab.json`.
 * @module
 */

/** One host of a running lab. */
export interface LabHost {
  /** Host name, `h1`..`hN` (also its hostname inside). */
  name: string;
  /** IPv4 address of its `eth0`. */
  ip: string;
  /** Name of its network namespace (`<lab>-hN`, see `ip netns list`). */
  netns: string;
  /** PID (in this machine's PID namespace) of the host's PID 1. */
  pid: number;
}

/** A running lab, as returned by {@link labUp} and stored in `<dir>/lab.json`. */
export interface Lab {
  /** Lab name. */
  name: string;
  /** State directory of this lab (`stateDir/name`). */
  dir: string;
  /** The lab subnet inside 198.18.0.0/15, /20../24 (`198.18.X.0/24`, `198.18.32.0/22`). */
  subnet: string;
  /** Address of the bridge (`P.1`), the hosts' gateway-less neighbour on the machine. */
  bridgeIp: string;
  /** The hosts, `h1`..`hN`. */
  hosts: LabHost[];
  /** SSH client private key authorised for root and `deploy` on every host. */
  keyFile: string;
  /** known_hosts with every host's keys (`h1,IP keytype key`). */
  knownHosts: string;
  /** ssh_config for `ssh -F` (Host h1.., strict host key checking, the lab key). */
  sshConfig: string;
  /** Path of the haplay (Ansible YAML) inventory `inventory.yaml`. */
  inventory: string;
  /** URL of the lab apt repository (`http://P.1:8080/`) when started with `aptRepo`. */
  aptRepoUrl?: string;
}

/** What lab.json holds beyond the public {@link Lab} fields. */
export interface LabRecord extends Lab {
  hostCount: number;
  init: "lab" | "systemd";
  complete: boolean;
  netnsMountCreated: boolean;
  aptRepoDir?: string;
  cgroupDir?: string;
  /** The process that brought the lab up (pid + start time, to survive pid reuse). */
  owner?: string;
}
