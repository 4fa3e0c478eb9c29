/**
 * Public types of the VM lab and the record it keeps in its state directory (`vm.json`).
 * @module
 */
import type { GuestRole } from "./topology.ts";

/** One guest of a running VM lab. */
export interface VmHost {
  /** Host name (`lb1`, `lb2`, `web1`, `web2`, `client`). */
  name: string;
  /** Management address (eth1): what SSH and haplay connect to. */
  ip: string;
  role: GuestRole;
  /** Data address with prefix (eth0). */
  data: string;
  /** PID of its QEMU process (on this machine). */
  pid: number;
}

/** A running VM lab, as returned by `vmUp` and stored in `<dir>/vm.json`. */
export interface VmLab {
  /** Lab name. */
  name: string;
  /** State directory (keys, known_hosts, ssh_config, inventory, overlays, consoles). */
  dir: string;
  /** Network namespace holding the bridges and taps (`vmlab-NAME`). */
  netns: string;
  /** Management subnet (`198.19.X.0/24`). */
  mgmtSubnet: string;
  /** This machine's address on the management subnet (`M.1`, on veth `vmlabNAME`). */
  controllerIp: string;
  /** The guests. */
  hosts: VmHost[];
  /** SSH private key authorised for root and `deploy` on every guest. */
  keyFile: string;
  /** known_hosts with every guest's own host keys (`name,ip type key`). */
  knownHosts: string;
  /** ssh_config for `ssh -F` (strict host key checking, the lab key, root). */
  sshConfig: string;
  /** haplay/Ansible YAML inventory of the guests (groups lb, real, client). */
  inventory: string;
  /** QEMU accelerator used (`tcg` or `kvm`). */
  accel: "tcg" | "kvm";
  /** Kernel release of the guests. */
  kernelVersion: string;
  /** Seconds from starting QEMU to every guest accepting SSH logins. */
  bootSeconds: number;
  /** PID 1 of the guests: the VM lab's bash init (`bash`) or Debian's systemd (`systemd`). */
  init: VmInit;
}

/** PID 1 of a lab's guests. */
export type VmInit = "bash" | "systemd";

/** Options of `vmUp`. */
export interface VmUpOptions {
  /** Lab name, `[a-z][a-z0-9]{0,6}` (default `vm`). */
  name?: string;
  /** Management subnet `198.18.X.0/24` or `198.19.X.0/24` (default `198.19.240.0/24`). */
  mgmtSubnet?: string;
  /** Memory per guest in MiB (default 256). */
  memoryMiB?: number;
  /** `auto` (default, env HAPLAY_VMLAB_ACCEL): KVM only when usable, else TCG. */
  accel?: "auto" | "tcg" | "kvm";
  /** Parent of the state directory (default env HAPLAY_VMLAB_DIR or `/tmp/haplay-vmlab`). */
  stateDir?: string;
  /** Image cache directory (default env HAPLAY_VMLAB_CACHE or `/var/cache/haplay/vmlab`). */
  cacheDir?: string;
  /** PID 1 of the guests (default `bash`: the small bash init, fastest under TCG). */
  init?: VmInit;
  /** Boot only these guests of the topology (default: all five). */
  guests?: string[];
  /** Seconds to wait for every guest's sshd (default 300; systemd guests 900). */
  bootTimeout?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What `vm.json` holds beyond {@link VmLab}. */
export interface VmRecord extends VmLab {
  /** Everything is up (set last). */
  complete: boolean;
  /** `ip netns add` made /run/netns a mount point (undo when no netns is left). */
  netnsMountCreated: boolean;
  /** Root-namespace end of the management veth. */
  veth: string;
  /** `PID:STARTTIME` of the process that brought the lab up. */
  owner: string;
  /** Memory per guest in MiB (a restarted guest gets the same). */
  memoryMiB: number;
  /** The image the guests' overlays are backed by (a reboot refuses another one). */
  image: { vmlinux: string; rootfs: string; recipe: string; builtAt: string };
}
