/**
 * Small process / file helpers shared by the namespace lab modules.
 * @module
 */

/** Error with a one-line, user-facing message (the CLI prints only `message`). */
export class LabError extends Error {
  /** Create a lab error; the message should be a single line. */
  constructor(message: string) {
    super(message);
    this.name = "LabError";
  }
}

/** Result of {@link run}. */
export interface RunResult {
  /** Exit code (128+signal when killed by a signal). */
  code: number;
  /** Captured standard output (UTF-8). */
  stdout: string;
  /** Captured standard error (UTF-8). */
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Text written to the child's standard input (otherwise stdin is /dev/null). */
  stdin?: string;
  /** Working directory of the child. */
  cwd?: string;
  /** Environment of the child; when given it replaces the inherited one completely. */
  env?: Record<string, string>;
  /** Do not throw on a non-zero exit code. */
  allowFail?: boolean;
}

/** PATH used for every program the lab runs. */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function firstLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return lines.length ? lines[lines.length - 1] : "";
}

/**
 * Run a program to completion and capture its output. Throws a {@link LabError} naming the
 * program and the last line of its stderr when it exits non-zero (unless `allowFail`).
 */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const env = opts.env ?? { PATH: SYSTEM_PATH, LANG: "C.UTF-8" };
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env,
      clearEnv: true,
      stdin: opts.stdin !== undefined ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new LabError(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
  }
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    } catch {
      // the child may exit without reading its input
    }
  }
  const out = await child.output();
  const dec = new TextDecoder();
  const res = {
    code: out.signal ? 128 + (signalNumber(out.signal) ?? 0) : out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
  if (res.code !== 0 && !opts.allowFail) {
    const why = firstLine(res.stderr) || firstLine(res.stdout) || "no output";
    throw new LabError(`${[cmd, ...args].join(" ").slice(0, 160)}: exit ${res.code}: ${why}`);
  }
  return res;
}

function signalNumber(sig: Deno.Signal): number | undefined {
  const table: Partial<Record<Deno.Signal, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGTERM: 15,
  };
  return table[sig];
}

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

/** True when `cmd` is a program on PATH. */
export async function onPath(cmd: string): Promise<boolean> {
  const r = await new Deno.Command("/bin/sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  return r.success;
}

/** Sleep for `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when `path` exists (symlinks are not followed). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Read a text file, or `undefined` when it does not exist / cannot be read. */
export async function readIf(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
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

/** Remove a path if present (not recursive). */
export async function removeIf(path: string) {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
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

/** Is `pid` a live process (zombies count as gone)? */
export async function pidAlive(pid: number): Promise<boolean> {
  return (await probePids([{ pid }])).get(pid)?.alive ?? false;
}

/** The command line of `pid` as an array (empty when gone). */
export async function pidCmdline(pid: number): Promise<string[]> {
  if (!Number.isInteger(pid) || pid <= 0) return [];
  const r = await run("cat", [`/proc/${pid}/cmdline`], { allowFail: true });
  if (r.code !== 0 || !r.stdout) return [];
  return r.stdout.replace(/\0$/, "").split("\0");
}

/** `PID:STARTTIME` of a live process (stable across PID reuse), or "" when it is gone. */
export async function processIdentity(pid: number): Promise<string> {
  if (!Number.isInteger(pid) || pid <= 0) return "";
  const r = await run("cat", [`/proc/${pid}/stat`], { allowFail: true });
  if (r.code !== 0) return "";
  const fields = r.stdout.slice(r.stdout.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return "";
  return `${pid}:${fields[19]}`; // field 22 of stat: start time
}

/** Mount points (decoded) currently listed in /proc/self/mounts, in mount order. */
export async function mountPoints(): Promise<string[]> {
  const text = (await run("cat", ["/proc/self/mounts"])).stdout;
  return text.split("\n").filter((l) => l).map((l) =>
    l.split(" ")[1].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))
  );
}

/** Names of this machine's network links (root netns), without `@peer` suffixes. */
export async function linkNames(): Promise<string[]> {
  const r = await run("ip", ["-o", "link", "show"]);
  return r.stdout.split("\n").filter((l) => l).map((l) => l.split(": ")[1].split("@")[0]);
}

/** Set sysctls (`key=value`, keys with `.`), in one `sysctl` run. */
export async function sysctlSet(settings: string[]): Promise<void> {
  if (settings.length) await run("sysctl", ["-q", "-w", ...settings]);
}

/** Wait until `pred` is true, polling every `stepMs`; false on timeout. */
export async function waitFor(
  pred: () => Promise<boolean>,
  timeoutMs: number,
  stepMs = 50,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (true) {
    if (await pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}
