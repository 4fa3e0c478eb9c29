/**
 * The namespace lab's helpers: the shared ones of `labkit/sys.ts` with {@link LabError} as
 * their error, and the few only this lab needs (bounded concurrency, symlink-safe writes,
 * process probes, sysctls).
 * @module
 */

import { type Kit, kitFor } from "../labkit/sys.ts";

export {
  exists,
  isRoot,
  NETNS_DIR,
  netnsNames,
  onPath,
  pidAlive,
  pidCmdline,
  processIdentity,
  readIf,
  removeIf,
  type RunOptions,
  type RunResult,
  sleep,
  SYSTEM_PATH,
  tcpBanner,
  waitFor,
} from "../labkit/sys.ts";

/** Error with a one-line, user-facing message (the CLI prints only `message`). */
export class LabError extends Error {
  /** Create a lab error; the message should be a single line. */
  constructor(message: string) {
    super(message);
    this.name = "LabError";
  }
}

const kit: Kit = kitFor((message) => new LabError(message));

/**
 * Run a program to completion with a clean environment and capture its output. Throws a
 * {@link LabError} naming the program and the last line of its stderr when it exits non-zero
 * (unless `allowFail`).
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

/**
 * Map `items` through `fn` with at most `limit` calls in flight. Every item is attempted; if any
 * call failed, the first error is thrown after all calls settled (so no work is left running).
 */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  async function worker() {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failure ??= { error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}

/**
 * Write a file by replacing whatever is at `path` (a symlink is removed, never followed: the
 * lab writes into overlay views of this machine's root, where following a link would escape).
 */
export async function putFile(path: string, data: string | Uint8Array, mode = 0o644) {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  await Deno.writeFile(path, bytes, { createNew: true, mode });
  await Deno.chmod(path, mode);
}

/** What {@link probePids} found out about one process. */
export interface PidInfo {
  /** The PID asked about. */
  pid: number;
  /** Exists and is not a zombie. */
  alive: boolean;
  /** PID 1 of a PID namespace nested below ours (NSpid has >1 fields and ends in 1). */
  pid1: boolean;
  /** Its network namespace is the one bind-mounted at /run/netns/<netns asked for>. */
  inNetns: boolean;
  /** `/proc/PID/root/run/sshd.pid` is non-empty (sshd listens inside a lab host). */
  sshdReady: boolean;
  /** Its `comm` (process name). */
  comm: string;
}

// Deno refuses /proc and /sys to anything short of --allow-all: read them with sh builtins.
const PROBE_SH = `for a; do
  p=\${a%%:*}; n=\${a#*:}; st=-; pid1=0; inns=0; sshd=0; comm=-
  if [ -r /proc/$p/status ]; then
    while read -r k v r; do
      case $k in
        State:) st=$v;;
        NSpid:) if [ -n "$r" ] && [ "\${r##*[!0-9]}" = 1 ]; then pid1=1; fi;;
      esac
    done < /proc/$p/status
    read -r comm < /proc/$p/comm || comm=-
    if [ -n "$n" ] && [ /proc/$p/ns/net -ef "/run/netns/$n" ]; then inns=1; fi
    if [ -s /proc/$p/root/run/sshd.pid ]; then sshd=1; fi
  fi
  echo "$p $st $pid1 $inns $sshd $comm"
done`;

/**
 * Inspect processes (one `sh` for all of them): liveness, PID-1-of-a-namespace, membership of
 * the named network namespace (`netns` is a name under /run/netns), sshd readiness.
 */
export async function probePids(
  items: ReadonlyArray<{ pid: number; netns?: string }>,
): Promise<Map<number, PidInfo>> {
  const out = new Map<number, PidInfo>();
  const valid = items.filter((i) => Number.isInteger(i.pid) && i.pid > 0);
  if (!valid.length) return out;
  const r = await run("/bin/sh", [
    "-c",
    PROBE_SH,
    "sh",
    ...valid.map((i) => `${i.pid}:${i.netns ?? ""}`),
  ]);
  for (const line of r.stdout.split("\n")) {
    const [p, st, pid1, inns, sshd, ...comm] = line.split(" ");
    if (!p) continue;
    out.set(Number(p), {
      pid: Number(p),
      alive: st !== "-" && st !== "Z" && st !== "X",
      pid1: pid1 === "1",
      inNetns: inns === "1",
      sshdReady: sshd === "1",
      comm: comm.join(" "),
    });
  }
  return out;
}

/** Set sysctls (`key=value`, keys with `.`), in one `sysctl` run. */
export async function sysctlSet(settings: string[]): Promise<void> {
  if (settings.length) await run("sysctl", ["-q", "-w", ...settings]);
}
