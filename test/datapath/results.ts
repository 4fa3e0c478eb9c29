/**
 * The data-path results table (printed by the test and written to `results.md`).
 * @module
 */

/** What one mode showed (a column is "FAILED: why" when its step failed). */
export interface ModeResult {
  mode: string;
  /** "web1 10 / web2 10, alternating". */
  balanced: string;
  /** "web2 out in 3.1 s → web1 10/10; back in 2.4 s". */
  health: string;
  /** "lb1 → lb2: 1 of 52 failed, gap 1.3 s". */
  failover: string;
  /** "snapshot equal" or what differed. */
  rollback: string;
  /** Seconds: deploy, whole mode. */
  deployS: number;
  totalS: number;
  ok: boolean;
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The markdown table of `rows` with a heading line about the run. */
export function resultsMarkdown(rows: ModeResult[], about: string): string {
  const head = [
    "| mode | balanced (20 requests) | health-check removal | failover (MASTER keepalived stopped) | rollback | deploy s | mode s |",
    "| --- | --- | --- | --- | --- | ---: | ---: |",
  ];
  const body = rows.map((r) =>
    `| ${cell(r.mode)}${r.ok ? "" : " ✗"} | ${cell(r.balanced)} | ${cell(r.health)} | ${
      cell(r.failover)
    } | ${cell(r.rollback)} | ${r.deployS} | ${r.totalS} |`
  );
  return [
    "# Data-path results (real IPVS in QEMU guests)",
    "",
    "Written by `deno task test:datapath` (test/datapath/datapath_test.ts); see docs/datapath.md.",
    "",
    about,
    "",
    ...head,
    ...body,
    "",
  ].join("\n");
}
