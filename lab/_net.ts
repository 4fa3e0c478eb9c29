/**
 * The lab's view of this machine's network: links and network namespaces named after a lab,
 * subnets in use, a TCP banner probe.
 * @module
 */

import { linkNames, mountPoints, run } from "./util.ts";

/** Where `ip netns` bind-mounts named network namespaces. */
export const NETNS_DIR = "/run/netns";

/** Links of this machine (root netns) whose name matches `re`. */
export async function linksNamed(re: RegExp): Promise<string[]> {
  return (await linkNames()).filter((n) => re.test(n));
}

/** Named network namespaces (`ip netns list`) whose name matches `re`. */
export async function netnsNamed(re: RegExp): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(NETNS_DIR)) if (re.test(e.name)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/** True when `path` is a mount point now. */
export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** What uses the /24 `prefix` on this machine (an address or a route), if anything. */
export async function subnetInUse(prefix: string): Promise<string | undefined> {
  const addrs = await run("ip", ["-4", "-o", "addr", "show"]);
  for (const line of addrs.stdout.split("\n")) {
    if (line.includes(` inet ${prefix}.`)) return `address on ${line.split(/\s+/)[1]}`;
  }
  const routes = await run("ip", ["-4", "route", "show", "table", "all"]);
  for (const line of routes.stdout.split("\n")) {
    const dst = line.split(" ")[0] === "local" ? line.split(" ")[1] : line.split(" ")[0];
    if (dst.startsWith(`${prefix}.`)) return `route '${line.trim()}'`;
  }
  return undefined;
}

/** The first bytes a TCP server sends ("" on error or after `timeoutMs`). */
export async function tcpBanner(ip: string, port: number, timeoutMs: number): Promise<string> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await Deno.connect({ hostname: ip, port });
    const buf = new Uint8Array(256);
    const n = await conn.read(buf);
    return n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
  } catch {
    return "";
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // already closed by the timer
    }
  }
}
