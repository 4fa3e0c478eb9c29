/**
 * The lab's view of this machine's network: the links, network namespaces and mounts named
 * after a lab.
 * @module
 */

import { names } from "./_state.ts";
import { linkNames, mountPoints, netnsNames, run, sysctlSet, waitFor } from "./util.ts";

/** Links of this machine (root netns) whose name matches `re`. */
export async function linksNamed(re: RegExp): Promise<string[]> {
  return (await linkNames()).filter((n) => re.test(n));
}

/** Named network namespaces (`ip netns list`) whose name matches `re`. */
export async function netnsNamed(re: RegExp): Promise<string[]> {
  return (await netnsNames()).filter((n) => re.test(n));
}

/** True when `path` is a mount point now. */
export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Delete the veths, netns and bridge named after lab `name`; waits for the veth peers to go. */
export async function removeLinks(name: string): Promise<void> {
  const veths = await linksNamed(new RegExp(`^${name}h\\d+$`));
  const nss = await netnsNamed(new RegExp(`^${name}-h\\d+$`));
  const batch = [...veths.map((v) => `link del ${v}`), ...nss.map((n) => `netns del ${n}`)];
  if (batch.length) {
    // errors (already gone) do not matter: leftovers are checked by the caller
    await run("ip", ["-force", "-b", "-"], { stdin: batch.join("\n") + "\n", allowFail: true });
  }
  const br = names.bridge(name);
  if ((await linkNames()).includes(br)) {
    await run("ip", ["link", "del", br], { allowFail: true });
  }
  // veth peers vanish asynchronously once their netns is gone
  await waitFor(
    async () => (await linksNamed(new RegExp(`^${name}(br|h\\d+)$`))).length === 0,
    5000,
  );
}

/**
 * A fixed MAC address for a lab interface, from its IPv4 address (`kind` 0: a host's eth0, 1:
 * the bridge side of its veth, 2: the bridge): a host keeps its NIC's address across reboots,
 * as hardware does, so its neighbours' ARP caches stay right.
 */
export function labMac(ip: string, kind: 0 | 1 | 2): string {
  const hex = ip.split(".").map((o) => Number(o).toString(16).padStart(2, "0"));
  return ["02", `0${kind}`, ...hex].join(":");
}

/**
 * Give hosts `idx` of lab `name` their network namespace and NIC: a veth pair with `eth0` (its
 * fixed MAC) inside the netns and the other end in the lab bridge, up, IPv6 off. Addresses are
 * the host's own business (boot.sh or its netplan file).
 */
export async function plugHosts(
  name: string,
  hosts: ReadonlyArray<{ ip: string }>,
  idx: readonly number[],
): Promise<void> {
  const add = idx.flatMap((i) => [
    `netns add ${names.netns(name, i)}`,
    `link add ${names.veth(name, i)} address ${labMac(hosts[i - 1].ip, 1)} type veth ` +
    `peer name eth0 address ${labMac(hosts[i - 1].ip, 0)} netns ${names.netns(name, i)}`,
  ]);
  await run("ip", ["-b", "-"], { stdin: add.join("\n") + "\n" });
  await sysctlSet(idx.map((i) => `net.ipv6.conf.${names.veth(name, i)}.disable_ipv6=1`));
  await run("ip", ["-b", "-"], {
    stdin: idx.map((i) => `link set ${names.veth(name, i)} master ${names.bridge(name)} up`)
      .join("\n") + "\n",
  });
}

/**
 * Unplug hosts `idx` of lab `name`: delete their veths and network namespaces (their
 * processes must be gone) and wait until the kernel removed both. Returns what is left.
 */
export async function unplugHosts(name: string, idx: readonly number[]): Promise<string[]> {
  const veths = new Set(idx.map((i) => names.veth(name, i)));
  const nss = new Set(idx.map((i) => names.netns(name, i)));
  const batch = [
    ...(await linkNames()).filter((l) => veths.has(l)).map((l) => `link del ${l}`),
    ...(await netnsNames()).filter((n) => nss.has(n)).map((n) => `netns del ${n}`),
  ];
  if (batch.length) {
    await run("ip", ["-force", "-b", "-"], { stdin: batch.join("\n") + "\n", allowFail: true });
  }
  const gone = async () =>
    !(await linkNames()).some((l) => veths.has(l)) &&
    !(await netnsNames()).some((n) => nss.has(n));
  if (await waitFor(gone, 5000)) return [];
  return [
    ...(await linkNames()).filter((l) => veths.has(l)),
    ...(await netnsNames()).filter((n) => nss.has(n)),
  ];
}
