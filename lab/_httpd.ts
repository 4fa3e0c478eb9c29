/**
 * The apt repository's HTTP server on the bridge address (busybox httpd, started detached).
 * @module
 */

import { APT_PORT, readPid } from "./_state.ts";
import type { LabRecord } from "./types.ts";
import { spawnDetached, tail } from "./_host.ts";
import { LabError, pidAlive, pidCmdline, waitFor } from "./util.ts";

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

/** Stop the apt httpd of a lab: only the process with the recorded command line. */
export async function stopHttpd(rec: LabRecord): Promise<void> {
  const hp = await readPid(`${rec.dir}/httpd.pid`);
  if (hp !== undefined && rec.aptRepoDir) {
    const want = httpdArgs(rec.bridgeIp, rec.aptRepoDir).join(" ");
    if ((await pidCmdline(hp)).join(" ") === want) {
      try {
        Deno.kill(hp, "SIGTERM");
      } catch { /* gone */ }
      if (!(await waitFor(async () => !(await pidAlive(hp)), 3000))) {
        if ((await pidCmdline(hp)).join(" ") === want) Deno.kill(hp, "SIGKILL");
      }
    }
  }
}
