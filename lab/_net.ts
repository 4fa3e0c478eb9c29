/**
 * The lab's view of this machine's network: the links, network namespaces and mounts named
 * after a lab.
 * @module
 */

import { linkNames, mountPoints, netnsNames } from "./util.ts";

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
