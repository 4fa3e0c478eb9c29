/**
 * Machine-wide limits a large lab runs into, raised before its hosts start (never lowered;
 * each raise is said on stderr): the root namespace's ARP neighbour table (the bridge address
 * has every host of every lab as a neighbour: Linux's default `gc_thresh3` is 1,024 entries,
 * past which "neighbour table overflow" drops new ones) and `kernel.pid_max` (each lab host
 * runs about 5 processes idle, plus an sshd, shell and helpers per connection).
 * @module
 */

import { run } from "./util.ts";

/** Processes a lab host needs, idle plus one busy connection (measured: 4-5 idle, init "lab"). */
export const PIDS_PER_HOST = 12;

/**
 * The neighbour-table thresholds (`gc_thresh1..3`) to set for `hosts` more hosts when `used`
 * entries exist and the limits are `current`: undefined when they suffice. gc_thresh3 (hard
 * limit) gets twice what is needed rounded up to 1,024, gc_thresh2 (soft) half of it,
 * gc_thresh1 (no GC below) a quarter; none is lowered.
 */
export function neighLimitsFor(
  current: [number, number, number],
  used: number,
  hosts: number,
): [number, number, number] | undefined {
  const need = used + hosts + 256;
  if (current[1] >= need && current[2] >= 2 * need) return undefined;
  const hard = Math.ceil((2 * need) / 1024) * 1024;
  const want = [hard / 4, hard / 2, hard] as const;
  return [0, 1, 2].map((i) => Math.max(current[i], want[i])) as [number, number, number];
}

/** The `kernel.pid_max` for `hosts` more hosts with `used` PIDs (threads) taken; undefined if enough. */
export function pidMaxFor(current: number, used: number, hosts: number): number | undefined {
  const need = used + hosts * PIDS_PER_HOST + 4096;
  return current >= need ? undefined : Math.min(4194304, Math.ceil(need / 32768) * 32768);
}

async function sysctlNum(key: string): Promise<number> {
  return Number((await run("sysctl", ["-n", key])).stdout.trim());
}

async function countLines(cmd: string): Promise<number> {
  const r = await run("/bin/sh", ["-c", `${cmd} | wc -l`], { allowFail: true });
  return Number(r.stdout.trim()) || 0;
}

/** Raise the neighbour table and pid_max for a lab of `hosts` hosts where they are short. */
export async function raiseLimits(hosts: number): Promise<void> {
  const keys = [1, 2, 3].map((i) => `net.ipv4.neigh.default.gc_thresh${i}`);
  const cur = await Promise.all(keys.map(sysctlNum)) as [number, number, number];
  const neigh = neighLimitsFor(cur, await countLines("ip -4 neigh show"), hosts);
  if (neigh) {
    await run("sysctl", ["-q", "-w", ...keys.map((k, i) => `${k}=${neigh[i]}`)]);
    console.error(
      `lab: raised net.ipv4.neigh.default.gc_thresh1/2/3 from ${cur.join("/")} to ` +
        `${neigh.join("/")} (machine-wide; ${hosts} hosts are neighbours of the lab bridge)`,
    );
  }
  const pidMax = await sysctlNum("kernel.pid_max");
  const to = pidMaxFor(pidMax, await countLines("ls -d /proc/[0-9]*/task/[0-9]*"), hosts);
  if (to !== undefined) {
    await run("sysctl", ["-q", "-w", `kernel.pid_max=${to}`]);
    console.error(`lab: raised kernel.pid_max from ${pidMax} to ${to} (machine-wide)`);
  }
}
