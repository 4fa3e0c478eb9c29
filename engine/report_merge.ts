/**
 * One recap for a fleet deployed by several controllers: each controller runs its own shard
 * (`deno task deploy inv.yaml --limit 'real[0:499]' --report a.json`, another `'real[500:]'`
 * ...), and `deno task reports a.json b.json ...` merges their JSON reports. Shards must not
 * overlap: a host in two reports is an error (two controllers deploying one host race for its
 * lock; one of them was refused, and adding up both would hide it).
 * @module
 */
import { z } from "zod";
import type { HostReport, RunReport } from "./report.ts";
import { recapCounts, recapTable } from "./report.ts";

const hostShape = z.object({
  host: z.string(),
  play: z.string(),
  status: z.enum(["ok", "changed", "failed", "unreachable", "skipped"]),
  tasks: z.array(z.object({ status: z.string() }).passthrough()),
  execs: z.number(),
}).passthrough();

const reportShape = z.object({
  runId: z.string(),
  check: z.boolean(),
  startedAt: z.string(),
  durationMs: z.number(),
  hosts: z.array(hostShape),
  ok: z.boolean(),
  changed: z.boolean(),
}).passthrough();

/** A report that could not be read, with the file and the field at fault. */
export class ReportError extends Error {
  override name = "ReportError";
}

/**
 * Parse one `--report` file's text; the error names the file and the first bad field.
 *
 * @example
 * ```ts
 * import { parseReport } from "./report_merge.ts";
 * const r = parseReport("a.json", JSON.stringify({
 *   runId: "r1", check: false, startedAt: "2026-12-01T00:00:00Z", durationMs: 10,
 *   hosts: [], ok: true, changed: false,
 * }));
 * console.assert(r.runId === "r1");
 * ```
 */
export function parseReport(file: string, text: string): RunReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ReportError(`${file}: not JSON (${(e as Error).message})`);
  }
  const r = reportShape.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0];
    const field = i.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`).join("")
      .replace(/^\./, "");
    throw new ReportError(
      `${file}: field ${
        field || "(top level)"
      }: ${i.message} (is it a deno task deploy --report file?)`,
    );
  }
  return r.data as unknown as RunReport;
}

/** The merged view of several shards' reports. */
export interface MergedReport {
  shards: { file: string; runId: string; hosts: number; durationMs: number; ok: boolean }[];
  hosts: HostReport[];
  /** Wall time of the fleet run: shards run concurrently, so the longest one. */
  durationMs: number;
  ok: boolean;
  changed: boolean;
  totals: Record<"hosts" | "ok" | "changed" | "failed" | "unreachable", number>;
}

/**
 * Merge shard reports (pure). Throws ReportError when a host appears in two shards or the
 * shards mix check mode and real runs.
 */
export function mergeReports(reports: { file: string; report: RunReport }[]): MergedReport {
  const owner = new Map<string, number>(); // host -> index of the first report naming it
  const clashes: string[] = [];
  reports.forEach(({ file, report }, i) => {
    for (const h of new Set(report.hosts.map((x) => x.host))) {
      const first = owner.get(h);
      if (first !== undefined) clashes.push(`${h} (${reports[first].file} and ${file})`);
      else owner.set(h, i);
    }
  });
  if (clashes.length) {
    throw new ReportError(
      `shards overlap: ${clashes.slice(0, 5).join(", ")}${
        clashes.length > 5 ? ` and ${clashes.length - 5} more` : ""
      }; give each controller a disjoint --limit`,
    );
  }
  if (new Set(reports.map((r) => r.report.check)).size > 1) {
    throw new ReportError(
      "some reports are check-mode runs and some are not; merge like with like",
    );
  }
  const hosts = reports.flatMap((r) => r.report.hosts);
  const perHost = new Map<string, HostReport["status"]>();
  const rank = { ok: 0, skipped: 0, changed: 1, unreachable: 2, failed: 3 } as const;
  for (const h of hosts) {
    const prev = perHost.get(h.host);
    if (prev === undefined || rank[h.status] > rank[prev]) perHost.set(h.host, h.status);
  }
  const totals = { hosts: perHost.size, ok: 0, changed: 0, failed: 0, unreachable: 0 };
  for (const s of perHost.values()) {
    if (s === "failed") totals.failed++;
    else if (s === "unreachable") totals.unreachable++;
    else if (s === "changed") totals.changed++;
    else totals.ok++;
  }
  return {
    shards: reports.map(({ file, report }) => ({
      file,
      runId: report.runId,
      hosts: new Set(report.hosts.map((h) => h.host)).size,
      durationMs: report.durationMs,
      ok: report.ok,
    })),
    hosts,
    durationMs: Math.max(0, ...reports.map((r) => r.report.durationMs)),
    ok: reports.every((r) => r.report.ok),
    changed: reports.some((r) => r.report.changed),
    totals,
  };
}

/** The merged recap as text: one line per shard, the per-host table, a totals line. */
export function mergedRecap(m: MergedReport): string {
  const lines = m.shards.map((s) =>
    `${s.file}: run ${s.runId}, ${s.hosts} hosts, ${(s.durationMs / 1000).toFixed(1)} s, ${
      s.ok ? "ok" : "FAILED"
    }`
  );
  lines.push(recapTable(m.hosts));
  const execs = m.hosts.reduce((n, h) => Math.max(n, recapCounts(h).execs), 0);
  const t = m.totals;
  lines.push(
    `${t.hosts} hosts in ${m.shards.length} shards: ${t.ok} ok, ${t.changed} changed, ` +
      `${t.failed} failed, ${t.unreachable} unreachable; wall ${
        (m.durationMs / 1000).toFixed(1)
      } s (longest shard); at most ${execs} execs on a host`,
  );
  return lines.join("\n");
}
