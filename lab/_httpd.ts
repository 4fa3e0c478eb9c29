/**
 * The apt repository's HTTP server on the bridge address (busybox httpd, started detached).
 * @module
 */

import { APT_PORT, readPid } from "./_state.ts";
import type { LabRecord } from "./types.ts";
import { spawnDetached, tail } from "./_host.ts";
import { LabError, pidCmdline, waitFor } from "./util.ts";

/** The apt httpd's argv (its recorded command line: only this process is ever killed). */
export function httpdArgs(bridgeIp: string, repoDir: string): string[] {
  return ["busybox", "httpd", "-f", "-p", `${bridgeIp}:${APT_PORT}`, "-h", repoDir];
}

/** Start the apt httpd on the bridge address and wait until it accepts connections. */
export async function startHttpd(rec: LabRecord, repoDir: string) {
  const args = httpdArgs(rec.bridgeIp, repoDir);
  await spawnDetached(`${rec.dir}/httpd.console`, "", [
    "/bin/sh",
    "-c",
    'p=$1; shift; echo $$ > "$p"; exec "$@"',
    "sh",
    `${rec.dir}/httpd.pid`,
    ...args,
  ]);
  const ok = await waitFor(async () => {
    const pid = await readPid(`${rec.dir}/httpd.pid`);
    if (pid === undefined) return false;
    if ((await pidCmdline(pid)).join(" ") !== args.join(" ")) return false;
    try {
      const c = await Deno.connect({ hostname: rec.bridgeIp, port: APT_PORT });
      c.close();
      return true;
    } catch {
      return false;
    }
  }, 5000);
  if (!ok) {
    throw new LabError(`apt repo httpd did not start: ${await tail(`${rec.dir}/httpd.console`)}`);
  }
}
