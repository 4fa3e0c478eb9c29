/**
 * The lab's view of this machine's network: the links, network namespaces and mounts named
 * after a lab.
 * @module
 */

import { names } from "./_state.ts";
import { linkNames, mountPoints, netnsNames, run, waitFor } from "./util.ts";

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
