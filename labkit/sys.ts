/**
 * Process, file and network helpers both labs share (the namespace lab `lab/` and the VM lab
 * `vmlab/`): running a program with a clean environment, polling, files that may be missing,
 * processes by PID, the root namespace's links, network namespaces and mounts, a chroot.
 *
 * Whatever can fail for the user throws the calling lab's own error class: a lab gets its
 * bound helpers from {@link kitFor} with a function that makes its error.
 * @module
 */

/** PATH of every program the labs run (on this machine and in chroots). */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Where `ip netns` bind-mounts named network namespaces. */
export const NETNS_DIR = "/run/netns";

/** Result of a {@link Run}. */
export interface RunResult {
  /** Exit code (128+N when killed by signal N). */
  code: number;
  /** Captured standard output (UTF-8). */
  stdout: string;
  /** Captured standard error (UTF-8). */
  stderr: string;
}

/** Options of a {@link Run}. */
export interface RunOptions {
  /** Text written to the child's standard input (otherwise stdin is /dev/null). */
  stdin?: string;
  /** Extra environment, added to PATH and LANG (nothing else of ours is passed on). */
  env?: Record<string, string>;
  /** Do not throw on a non-zero exit code. */
  allowFail?: boolean;
  /** Kill the program (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Working directory of the child. */
  cwd?: string;
}

/**
 * Run a program to completion with a clean environment and capture its output. Throws the
 * lab's error, naming the program and the last line of its stderr, when it exits non-zero
 * (unless `allowFail`).
 */
export type Run = (cmd: string, args: string[], opts?: RunOptions) => Promise<RunResult>;

/** Makes the one-line, user-facing error of a lab. */
export type ErrorOf = (message: string) => Error;

const SIGNALS: Partial<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
};

function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return lines.length ? lines[lines.length - 1] : "";
}

function makeRun(errorOf: ErrorOf): Run {
  return async (cmd, args, o = {}) => {
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
      throw errorOf(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
    }
    if (o.stdin !== undefined) {
      const w = child.stdin.getWriter();
      try {
        await w.write(new TextEncoder().encode(o.stdin));
        await w.close();
      } catch {
        // the child may exit without reading its input
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
      throw errorOf(`${[cmd, ...args].join(" ").slice(0, 200)}: exit ${res.code}: ${why}`);
    }
    return res;
  };
}

/** The helpers of one lab whose failures throw that lab's error (see {@link kitFor}). */
export interface Kit {
  /** Run a program (see {@link Run}). */
  run: Run;
  /**
   * Run `args` chrooted into `root` with this machine's /dev and a fresh /proc, in a throwaway
   * mount namespace (nothing stays mounted), with `DEBIAN_FRONTEND=noninteractive`.
   */
  inChroot(
    root: string,
    args: string[],
    opts?: { stdin?: string; allowFail?: boolean },
  ): Promise<RunResult>;
  /** Names of this machine's network links (root netns), without `@peer` suffixes. */
  linkNames(): Promise<string[]>;
  /** Mount points (decoded) currently listed in /proc/self/mounts, in mount order. */
  mountPoints(): Promise<string[]>;
  /** What uses the /24 `prefix` (`198.18.7`) on this machine (an address or a route), if any. */
  subnetInUse(prefix: string): Promise<string | undefined>;
  /** A new passphrase-less SSH key pair `file` + `file.pub` of `type`; its public line. */
  keygen(type: "ed25519" | "ecdsa", file: string, comment: string): Promise<string>;
}

/** The shared helpers bound to a lab's error: whatever fails throws `errorOf(message)`. */
export function kitFor(errorOf: ErrorOf): Kit {
  const run = makeRun(errorOf);
  return {
    run,
    inChroot: (root, args, opts = {}) =>
      run("unshare", [
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        'r=$1; shift; mount --bind /dev "$r/dev" && mount -t proc proc "$r/proc" && exec chroot "$r" "$@"',
        "sh",
        root,
        ...args,
      ], {
        stdin: opts.stdin,
        allowFail: opts.allowFail,
        env: { DEBIAN_FRONTEND: "noninteractive", HOME: "/root" },
      }),
    async linkNames() {
      const r = await run("ip", ["-o", "link", "show"]);
      return r.stdout.split("\n").filter((l) => l).map((l) => l.split(": ")[1].split("@")[0]);
    },
    async mountPoints() {
      const text = (await run("cat", ["/proc/self/mounts"])).stdout;
      return text.split("\n").filter((l) => l).map((l) =>
        l.split(" ")[1].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))
      );
    },
    async subnetInUse(prefix) {
      const addrs = await run("ip", ["-4", "-o", "addr", "show"]);
      for (const line of addrs.stdout.split("\n")) {
        if (line.includes(` inet ${prefix}.`)) return `address on ${line.split(/\s+/)[1]}`;
      }
      const routes = await run("ip", ["-4", "route", "show", "table", "all"]);
      for (const line of routes.stdout.split("\n")) {
        const f = line.split(" ");
        const dst = f[0] === "local" || f[0] === "broadcast" ? f[1] : f[0];
        if (dst?.startsWith(`${prefix}.`)) return `route '${line.trim()}'`;
      }
      return undefined;
    },
    async keygen(type, file, comment) {
      await run("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", comment, "-f", file]);
      return await Deno.readTextFile(`${file}.pub`);
    },
  };
}

// only with allowFail: its error class never shows
const quiet: Run = makeRun((m) => new Error(m));

/** Sleep for `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `pred` every `stepMs` until true (→ true) or `timeoutMs` passed (→ false). */
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

/** Remove a path if it exists (recursive for directories only when asked). */
export async function removeIf(path: string, recursive = false): Promise<void> {
  try {
    await Deno.remove(path, { recursive });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** True when `cmd` is a program on PATH. */
export async function onPath(cmd: string): Promise<boolean> {
  const r = await new Deno.Command("/bin/sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  return r.success;
}

/** True when this process runs as root (false when that cannot be told). */
export function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

// Deno refuses /proc without --allow-all: the helpers below read it with cat

/** The command line of `pid` as an array (empty when it is gone). */
export async function pidCmdline(pid: number): Promise<string[]> {
  if (!Number.isInteger(pid) || pid <= 0) return [];
  const r = await quiet("cat", [`/proc/${pid}/cmdline`], { allowFail: true });
  if (r.code !== 0 || !r.stdout) return [];
  return r.stdout.replace(/\0$/, "").split("\0");
}

/** `PID:STARTTIME` of a live process (stable across PID reuse), or "" when it is gone. */
export async function processIdentity(pid: number): Promise<string> {
  if (!Number.isInteger(pid) || pid <= 0) return "";
  const r = await quiet("cat", [`/proc/${pid}/stat`], { allowFail: true });
  if (r.code !== 0) return "";
  const fields = r.stdout.slice(r.stdout.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return "";
  return `${pid}:${fields[19]}`; // field 22 of stat: start time
}

/** Is `pid` a live process (zombies count as gone)? */
export async function pidAlive(pid: number): Promise<boolean> {
  return (await processIdentity(pid)) !== "";
}

/** Names of the network namespaces under /run/netns (`ip netns list`). */
export async function netnsNames(): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(NETNS_DIR)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/** The first bytes a TCP server sends (`""` on any error or after `timeoutMs`). */
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
