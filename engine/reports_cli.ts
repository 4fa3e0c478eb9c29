/**
 * `deno task reports <report.json>... [--json FILE]`: one recap for a fleet split across
 * controllers (see engine/report_merge.ts). Exit codes: 0 every shard ok; 1 a host failed or was
 * unreachable; 3 a report is unreadable or the shards overlap; 4 usage error.
 * @module
 */
import { parseArgs } from "node:util";
import { mergedRecap, mergeReports, parseReport, ReportError } from "./report_merge.ts";
import { runMain } from "./_cli_errors.ts";
import { redactor } from "./secrets.ts";

const USAGE = "usage: deno task reports <report.json>... [--json FILE]";

/** Runs the command; returns the exit code. */
export async function reportsMain(
  argv: string[],
  print: (s: string) => void = (s) => console.log(redactor.redact(s)),
  printErr: (s: string) => void = (s) => console.error(redactor.redact(s)),
): Promise<number> {
  let a;
  try {
    a = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: "string" } } });
  } catch (e) {
    printErr(`${(e as Error).message}\n${USAGE}`);
    return 4;
  }
  if (a.positionals.length === 0) {
    printErr(USAGE);
    return 4;
  }
  try {
    const reports = [];
    for (const file of a.positionals) {
      let text: string;
      try {
        text = await Deno.readTextFile(file);
      } catch (e) {
        throw new ReportError(`${file}: cannot read (${(e as Error).message})`);
      }
      reports.push({ file, report: parseReport(file, text) });
    }
    const merged = mergeReports(reports);
    print(mergedRecap(merged));
    if (a.values.json) {
      await Deno.writeTextFile(
        a.values.json,
        redactor.redact(JSON.stringify(merged, null, 2)) + "\n",
      );
    }
    return merged.ok ? 0 : 1;
  } catch (e) {
    if (!(e instanceof ReportError)) throw e;
    printErr(e.message);
    return 3;
  }
}

if (import.meta.main) await runMain("reports", reportsMain);
