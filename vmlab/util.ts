/**
 * The VM lab's helpers: the shared ones of `labkit/sys.ts` with {@link VmlabError} as their
 * error (no dependency on the namespace lab's internals).
 * @module
 */

import { type Kit, kitFor } from "../labkit/sys.ts";

export {
  exists,
  isRoot,
  NETNS_DIR,
  netnsNames,
  pidAlive,
  pidCmdline,
  processIdentity,
  readIf,
  removeIf,
  type RunResult,
  sleep,
  SYSTEM_PATH,
  tcpBanner,
  waitFor,
} from "../labkit/sys.ts";

/** Error with a one-line, user-facing message (the CLI prints only `message`). */
export class VmlabError extends Error {
  /** Create an error; the message should be one line. */
  constructor(message: string) {
    super(message);
    this.name = "VmlabError";
  }
}

const kit: Kit = kitFor((message) => new VmlabError(message));

/**
 * Run a program to completion with a clean environment and capture its output. Throws a
 * {@link VmlabError} with the last line of stderr on a non-zero exit (unless `allowFail`).
 */
export const run: Kit["run"] = kit.run;
/** Run a command chrooted into a root with /dev and a fresh /proc (see `labkit/sys.ts`). */
export const inChroot: Kit["inChroot"] = kit.inChroot;
/** Names of this machine's network links (root netns), without `@peer` suffixes. */
export const linkNames: Kit["linkNames"] = kit.linkNames;
/** Mount points (decoded) currently listed in /proc/self/mounts, in mount order. */
export const mountPoints: Kit["mountPoints"] = kit.mountPoints;
/** What uses a /24 prefix on this machine (an address or a route), if anything. */
export const subnetInUse: Kit["subnetInUse"] = kit.subnetInUse;
/** A new passphrase-less SSH key pair `file` + `file.pub`; returns the public line. */
export const keygen: Kit["keygen"] = kit.keygen;

/** Seconds since `t0` (a `performance.now()` value), one decimal. */
export function secondsSince(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

/**
 * CPU seconds (user + system) process `pid` has used so far, from `/proc/PID/stat` (0 when it
 * is gone). A guest's QEMU CPU time is what its work costs whatever the machine's load: under
 * TCG, on an idle core, wall time is about the same. Read by `cat`: Deno lets only a process
 * with every permission read `/proc/PID/*` itself.
 */
export async function pidCpuSeconds(pid: number): Promise<number> {
  const r = await run("cat", [`/proc/${pid}/stat`], { allowFail: true });
  if (r.code !== 0) return 0;
  // fields after the command (which may hold spaces) start after the last ')'
  const f = r.stdout.slice(r.stdout.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]); // utime, stime at 100 Hz
  return Number.isFinite(ticks) ? Math.round(ticks / 10) / 10 : 0;
}
