/**
 * Process and file helpers of the VM lab (no dependency on the namespace lab's internals).
 * @module
 */

/** Error with a one-line, user-facing message (the CLI prints only `message`). */
export class VmlabError extends Error {
  /** Create an error; the message should be one line. */
  constructor(message: string) {
    super(message);
    this.name = "VmlabError";
  }
}

/** PATH of every program the VM lab runs (on this machine and in chroots). */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Result of {@link run}. */
export interface RunResult {
  /** Exit code (128+N when killed by signal N). */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOpts {
  /** Text for standard input (otherwise /dev/null). */
  stdin?: string;
  /** Extra environment (added to PATH and LANG; the rest of ours is not passed on). */
  env?: Record<string, string>;
  /** Do not throw on a non-zero exit. */
  allowFail?: boolean;
  /** Kill the program (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Working directory. */
  cwd?: string;
}

const SIGNALS: Partial<Record<string, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function lastLine(text: string): string {
  const l = text.split("\n").map((x) => x.trim()).filter((x) => x);
  return l.length ? l[l.length - 1] : "";
}

/**
 * Run a program to completion with a clean environment and capture its output. Throws a
 * {@link VmlabError} with the last line of stderr on a non-zero exit (unless `allowFail`).
 */
export async function run(cmd: string, args: string[], o: RunOpts = {}): Promise<RunResult> {
  const ac = o.timeoutMs ? new AbortController() : undefined;
  const timer = ac ? setTimeout(() => ac.abort(), o.timeoutMs) : undefined;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: o.cwd,
      env: { PATH: SYSTEM_PATH, LANG: "C.UTF-8", ...o.env },
      clearEnv: true,
      stdin: o.stdin !== undefined ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      signal: ac?.signal,
    }).spawn();
  } catch (e) {
    clearTimeout(timer);
    throw new VmlabError(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
  }
  if (o.stdin !== undefined) {
    const w = child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(o.stdin));
      await w.close();
    } catch {
      // the program may exit without reading its input
    }
  }
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  const res: RunResult = {
    code: out.signal ? 128 + (SIGNALS[out.signal] ?? 0) : out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
  if (ac?.signal.aborted) res.stderr += `\n(killed after ${o.timeoutMs} ms)`;
  if (res.code !== 0 && !o.allowFail) {
    const why = lastLine(res.stderr) || lastLine(res.stdout) || "no output";
    throw new VmlabError(`${[cmd, ...args].join(" ").slice(0, 200)}: exit ${res.code}: ${why}`);
  }
  return res;
}

/** Sleep `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `pred` every `stepMs` until true (→ true) or `timeoutMs` passed (→ false). */
export async function waitFor(
  pred: () => Promise<boolean>,
  timeoutMs: number,
  stepMs = 100,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (true) {
    if (await pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}

/** True when `path` exists (symlinks not followed). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** A text file's content, or undefined when it cannot be read. */
export async function readIf(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** Remove a path if it exists (recursive for directories). */
export async function removeIf(path: string, recursive = false): Promise<void> {
  try {
    await Deno.remove(path, { recursive });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** The NUL-separated command line of a process (empty when it is gone). */
export async function pidCmdline(pid: number): Promise<string[]> {
  if (!Number.isInteger(pid) || pid <= 0) return [];
  // Deno refuses /proc without --allow-all: read it with cat
  const r = await run("cat", [`/proc/${pid}/cmdline`], { allowFail: true });
  if (r.code !== 0 || !r.stdout) return [];
  return r.stdout.replace(/\0$/, "").split("\0");
}

/** True when `pid` runs and is not a zombie. */
export async function pidAlive(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const r = await run("cat", [`/proc/${pid}/stat`], { allowFail: true });
  if (r.code !== 0) return false;
  const state = r.stdout.slice(r.stdout.lastIndexOf(")") + 2).split(" ")[0];
  return state !== "Z" && state !== "X";
}

/** Seconds since `t0` (a `performance.now()` value), one decimal. */
export function secondsSince(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

/** True when this process runs as root (false when that cannot be told). */
export function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}
