/**
 * Put the latest results table into `docs/bench.md`, between its result markers.
 * @module
 */

/** Start marker of the generated part of docs/bench.md. */
export const BEGIN = "<!-- bench:results:begin -->";
/** End marker. */
export const END = "<!-- bench:results:end -->";

/** Replace the generated part of `path` with `md` and a line about the run, then `deno fmt` it. */
export async function updateDocs(
  path: string,
  md: string,
  r: {
    date: string;
    durationS: number;
    machine: Record<string, unknown>;
    config: Record<string, unknown>;
  },
): Promise<void> {
  const text = await Deno.readTextFile(path);
  const a = text.indexOf(BEGIN), b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path}: no ${BEGIN} ... ${END} section`);
  const m = r.machine;
  const head = `Run of ${r.date.slice(0, 16).replace("T", " ")} UTC, ${r.durationS} s, ` +
    `\`--hosts ${(r.config.sizes as number[]).join(",")} --runs ${r.config.runs}\`, ` +
    `${m.cpus} CPUs (${m.cpu}), load average at start ${
      (m.loadavg as number[]).map((x) => x.toFixed(1)).join(" ")
    }, ` +
    `Deno ${m.deno}, ${m.ansible}, commit ${m.commit}.`;
  await Deno.writeTextFile(
    path,
    `${text.slice(0, a + BEGIN.length)}\n\n${head}\n\n${md}\n${text.slice(b)}`,
  );
  // keep the file as `deno fmt` wants it (tables aligned), like every other file of the repo
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", path], stdout: "null" }).output();
}
