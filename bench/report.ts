/**
 * Turn the samples of a benchmark into `results.json`, the Markdown tables (stdout) and,
 * optionally, the generated part of `docs/bench.md`. Also re-renders an existing results file
 * (`deno task bench --render bench/results.json [--docs]`).
 * @module
 */
import { goals, markdown, type SameWork, type Sample, summarize } from "./results.ts";
import { updateDocs } from "./docs.ts";
import { REPO } from "./tools.ts";

/** What a benchmark run produced, before summarizing. */
export interface RawResult {
  date: string;
  machine: Record<string, unknown>;
  config: Record<string, unknown>;
  durationS: number;
  resets: { count: number; mismatches: string[] };
  sameWork: SameWork;
  samples: Sample[];
}

/** Summarize, write `out`, print the tables, update the docs when asked. */
export async function publish(raw: RawResult, out: string, docs: boolean): Promise<void> {
  const all = summarize(raw.samples);
  const rows = all.filter((r) => r.size <= 50);
  const memory = all.filter((r) => r.size > 50);
  const gs = goals(rows, memory);
  const md = markdown(rows, memory, gs, raw.sameWork);
  const result = { ...raw, rows: all, goals: gs, samples: raw.samples };
  await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
  console.log(md);
  const mm = raw.resets.mismatches;
  console.log(
    `total ${raw.durationS} s; ${raw.resets.count} lab resets, ` +
      (mm.length ? `MISMATCHES: ${mm.join("; ")}` : "every baseline identical"),
  );
  console.log(`results: ${out}`);
  if (docs) await updateDocs(`${REPO}/docs/bench.md`, md, raw);
}

/** Re-render a results file (summaries, tables, docs) from its samples. */
export async function rerender(file: string, out: string, docs: boolean): Promise<void> {
  const raw = JSON.parse(await Deno.readTextFile(file)) as RawResult;
  await publish(raw, out, docs);
}
