/**
 * Process-tree memory from /proc (Linux). Deno allows /proc only with `--allow-all`, so these
 * run inside `bench/measure.ts`, a child process started with `-A`.
 *
 * The tree of a PID is found through `/proc/PID/task/TID/children` (every thread: Deno and
 * Python spawn from several). Processes that left the tree (OpenSSH ControlPersist masters
 * daemonize) are found by a marker in their command line ({@link findByMarker}).
 * @module
 */

const PAGE_KB = 4;

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (all its threads). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: Iterable<Deno.DirEntry>;
  try {
    tasks = Deno.readDirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    const c = read(`/proc/${pid}/task/${t.name}/children`);
    if (c) { for (const x of c.trim().split(/\s+/)) if (x) out.push(Number(x)); }
  }
  return out;
}

/** `pid` and all its descendants still alive. */
export function treeOf(roots: Iterable<number>): number[] {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    stack.push(...childrenOf(p));
  }
  return [...seen];
}

/** Resident set size of one process in KiB (0 when gone). */
export function rssKb(pid: number): number {
  const s = read(`/proc/${pid}/statm`);
  if (!s) return 0;
  return Number(s.split(" ")[1] ?? 0) * PAGE_KB;
}

/** Proportional set size of one process in KiB (0 when gone). */
export function pssKb(pid: number): number {
  const s = read(`/proc/${pid}/smaps_rollup`);
  const m = s && /^Pss:\s+(\d+) kB/m.exec(s);
  return m ? Number(m[1]) : 0;
}

/** PIDs whose command line contains `marker` (a full /proc scan: call it sparingly). */
export function findByMarker(marker: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const c = read(`/proc/${e.name}/cmdline`);
    if (c && c.includes(marker)) out.push(Number(e.name));
  }
  return out;
}

/** utime + stime of reaped children of this process, in ms (fields 16, 17 of /proc/self/stat). */
export function childCpuMs(): number {
  const s = read("/proc/self/stat") ?? "";
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  // after "pid (comm) ": index 0 is field 3 (state); cutime is field 16, cstime field 17
  const ticks = Number(f[13]) + Number(f[14]);
  return ticks * 10; // USER_HZ = 100
}

/** Busy and total jiffies of the whole machine (/proc/stat "cpu" line). */
export function machineCpu(): { busy: number; total: number } {
  const line = (read("/proc/stat") ?? "").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = line.reduce((a, b) => a + b, 0);
  const idle = (line[3] ?? 0) + (line[4] ?? 0);
  return { busy: total - idle, total };
}
