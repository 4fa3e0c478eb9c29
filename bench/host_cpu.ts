/**
 * CPU time spent inside the lab hosts: per host, the user+system time of every process under its
 * PID 1, each with its reaped descendants (sshd and its sessions, the shells and Python modules
 * they ran, apt, dpkg, keepalived). The difference over a run is the host side of the run's
 * cost; unlike wall time it does not grow when other work shares this machine's CPUs.
 * Read with sh (Deno grants /proc only to --allow-all).
 * @module
 */
import type { Lab } from "../lab/lab.ts";

const SH = `for p; do
  t=0; todo=$p
  while [ -n "$todo" ]; do
    next=
    for q in $todo; do
      l=$(cat /proc/$q/stat 2>/dev/null) || continue
      set -- \${l##*) }
      t=$((t + \${12} + \${13} + \${14} + \${15}))
      next="$next $(cat /proc/$q/task/*/children 2>/dev/null)"
    done
    todo=$next
  done
  echo "$p $t"
done`;

/** CPU ms consumed so far in each host, by lab host name. */
export async function hostCpuMs(lab: Lab): Promise<Record<string, number>> {
  const r = await new Deno.Command("/bin/sh", {
    args: ["-c", SH, "sh", ...lab.hosts.map((h) => String(h.pid))],
    stdout: "piped",
    stderr: "null",
  }).output();
  const ticks = new Map<number, number>();
  for (const line of new TextDecoder().decode(r.stdout).split("\n")) {
    const [p, t] = line.split(" ").map(Number);
    if (p) ticks.set(p, t);
  }
  return Object.fromEntries(lab.hosts.map((h) => [h.name, (ticks.get(h.pid) ?? 0) * 10]));
}

/** Total host CPU ms between two readings. */
export function hostCpuDelta(a: Record<string, number>, b: Record<string, number>): number {
  return Object.keys(b).reduce((s, h) => s + Math.max(0, b[h] - (a[h] ?? 0)), 0);
}
