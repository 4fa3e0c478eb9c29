/**
 * The VM lab's network: one network namespace (`vmlab-NAME`) holding a data bridge `brdata`
 * and a management bridge `brmgmt` with every guest's tap; a veth `vmlabNAME` joins this
 * machine's root namespace (address `M.1/24`, nothing else) to `brmgmt`. The data bridge has
 * no way out. IPv6 is off on everything the lab creates.
 * @module
 */
import {
  linkNames,
  mountPoints,
  NETNS_DIR,
  netnsNames,
  run,
  subnetInUse,
  VmlabError,
  waitFor,
} from "./util.ts";

/** Names of the lab's network objects. */
export function netNames(lab: string) {
  return {
    netns: `vmlab-${lab}`,
    veth: `vmlab${lab}`,
    tap: (guest: string, kind: "d" | "m") => `${guest}-${kind}`,
  };
}

/** Links of the root namespace. */
export const rootLinks: () => Promise<string[]> = linkNames;

/** Network namespaces (names under /run/netns). */
export const netnsList: () => Promise<string[]> = netnsNames;

/** True when /run/netns is a mount point. */
export async function netnsMounted(): Promise<boolean> {
  return (await mountPoints()).includes(NETNS_DIR);
}

/** Creates the namespace, bridges, taps and the management veth. */
export async function netUp(lab: string, prefix: string, guests: string[]): Promise<void> {
  const n = netNames(lab);
  await run("ip", ["netns", "add", n.netns]);
  const inNs = (args: string[]) => run("ip", ["netns", "exec", n.netns, ...args]);
  await inNs([
    "sysctl",
    "-q",
    "-w",
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
  ]);
  const batch = [
    "link set lo up",
    "link add brdata type bridge stp_state 0 mcast_snooping 0",
    "link add brmgmt type bridge stp_state 0 mcast_snooping 0",
    "link set brdata up",
    "link set brmgmt up",
    ...guests.flatMap((g) => [
      `tuntap add name ${n.tap(g, "d")} mode tap`,
      `tuntap add name ${n.tap(g, "m")} mode tap`,
      `link set ${n.tap(g, "d")} master brdata up`,
      `link set ${n.tap(g, "m")} master brmgmt up`,
    ]),
  ];
  await run("ip", ["-n", n.netns, "-b", "-"], { stdin: batch.join("\n") + "\n" });
  await run("ip", [
    "link",
    "add",
    n.veth,
    "type",
    "veth",
    "peer",
    "name",
    "mgmt0",
    "netns",
    n.netns,
  ]);
  await run("sysctl", ["-q", "-w", `net.ipv6.conf.${n.veth}.disable_ipv6=1`], { allowFail: true });
  await run("ip", ["-n", n.netns, "link", "set", "mgmt0", "master", "brmgmt", "up"]);
  await run("ip", ["-b", "-"], {
    stdin: `addr add ${prefix}.1/24 dev ${n.veth}\nlink set ${n.veth} up\n`,
  });
}

/**
 * Removes the veth and the namespace (taps and bridges go with it) and, when `unmountNetns`
 * and no namespace is left, the /run/netns mount `ip netns add` made. Returns what is left.
 */
export async function netDown(lab: string, unmountNetns: boolean): Promise<string[]> {
  const n = netNames(lab);
  if ((await rootLinks()).includes(n.veth)) {
    await run("ip", ["link", "del", n.veth], { allowFail: true });
  }
  if ((await netnsList()).includes(n.netns)) {
    await run("ip", ["netns", "del", n.netns], { allowFail: true });
  }
  await waitFor(async () => !(await rootLinks()).includes(n.veth), 5000, 100);
  if (unmountNetns && (await netnsList()).length === 0 && (await netnsMounted())) {
    await run("umount", [NETNS_DIR], { allowFail: true });
  }
  const left: string[] = [];
  if ((await rootLinks()).includes(n.veth)) left.push(`link ${n.veth}`);
  if ((await netnsList()).includes(n.netns)) left.push(`netns ${n.netns}`);
  return left;
}

/** Throws when the lab's names or management subnet are taken in the root namespace. */
export async function netPreflight(lab: string, prefix: string): Promise<void> {
  const n = netNames(lab);
  if ((await netnsList()).includes(n.netns)) {
    throw new VmlabError(
      `netns ${n.netns} exists (a vmlab ${lab} is up? vmlab down --name ${lab})`,
    );
  }
  if ((await rootLinks()).includes(n.veth)) throw new VmlabError(`link ${n.veth} exists`);
  const clash = await subnetInUse(prefix);
  if (clash) throw new VmlabError(`management subnet ${prefix}.0/24 is in use here: ${clash}`);
}
