/**
 * Run reports: per task, per host, per run; JSON-ready and redacted.
 * @module
 */
import type { TaskStatus } from "./types.ts";

/** Outcome of one task on one host. */
export interface TaskReport {
  name: string;
  module: string;
  resource: string;
  status: TaskStatus;
  /** For "ok": why nothing was done. For changes: what was (or would be) done. */
  summary: string;
  diff?: string;
  error?: string;
}

/** Final state of one host in a run. */
export type HostStatus = "ok" | "changed" | "failed" | "unreachable" | "skipped";

/** Everything that happened on one host. */
export interface HostReport {
  host: string;
  play: string;
  status: HostStatus;
  tasks: TaskReport[];
  /**
   * SSH exec channels opened on this host so far in the run (round trips; a running total
   * across plays): 1 for a no-op run, 2 for a converge.
   */
  execs: number;
  handlers: string[];
  error?: string;
  /** The play's gate verdict, when it has one and the host changed. */
  gate?: { ok: boolean; detail: string };
  /** True once the apply script started on the host (its journal has this run). */
  applied?: boolean;
  /** Set when a failed gate (or, in a rolling play, a failed apply) rolled the host back. */
  rolledBack?: boolean;
  /** Internal: what a play's gate script printed (consumed by the engine, never reported). */
  gateOutput?: { code: number; stdout: string };
  timings: { connectMs: number; probeMs: number; applyMs: number; totalMs: number };
}

/** The whole run. */
export interface RunReport {
  runId: string;
  check: boolean;
  startedAt: string;
  durationMs: number;
  hosts: HostReport[];
  /** True when no host failed or was unreachable. */
  ok: boolean;
  /** True when anything changed (or would change, in check mode). */
  changed: boolean;
}

/** Counts per host for the recap table. */
export function recapCounts(h: HostReport): Record<string, number> {
  const c = { ok: 0, changed: 0, failed: 0, skipped: 0 };
  for (const t of h.tasks) {
    if (t.status === "ok") c.ok++;
    else if (t.status === "changed" || t.status === "would-change") c.changed++;
    else if (t.status === "failed") c.failed++;
    else c.skipped++;
  }
  // a host that failed before any task ran (become refused, probe failed) is one failure
  if (h.status === "failed" && !c.failed) c.failed = 1;
  return { ...c, unreachable: h.status === "unreachable" ? 1 : 0, execs: h.execs };
}

/** The recap table as text lines: one row per host, its plays added up. */
export function recapTable(hosts: HostReport[]): string {
  const keys = ["ok", "changed", "failed", "skipped", "unreachable", "execs"];
  const merged = new Map<string, Record<string, number>>();
  for (const h of hosts) {
    const c = recapCounts(h);
    const m = merged.get(h.host);
    if (!m) merged.set(h.host, c);
    else {
      for (const k of keys) {
        m[k] = k === "execs" || k === "unreachable" ? Math.max(m[k], c[k]) : m[k] + c[k];
      }
    }
  }
  const rows = [["host", ...keys]];
  for (const [host, c] of merged) rows.push([host, ...keys.map((k) => String(c[k]))]);
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd()).join("\n");
}
