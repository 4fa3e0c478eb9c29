/**
 * Record a fact case: run a fact's snippet (with the engine prelude) on this machine, or on a
 * lab host via `--lab NAME --host hN`, and write `{path | arg, sh, output, fact}` as
 * `test/tasks/facts/<fact>/<case>.json`.
 *
 * ```sh
 * deno run --allow-run --allow-read --allow-write --allow-env --allow-sys test/tasks/facts/_record.ts stat /etc/keepalived directory
 * deno run --allow-run --allow-read --allow-write --allow-env --allow-sys test/tasks/facts/_record.ts stat /etc/keepalived lab-dir --lab s1 --host h1
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { PRELUDE } from "../../../engine/prelude.ts";
import { FACTS, PATH_FACTS } from "./_builders.ts";

const { positionals, values } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { lab: { type: "string" }, host: { type: "string" } },
});
const [kind, path, name] = positionals;
if (!FACTS[kind] || !path || !name) {
  console.error(
    `usage: _record.ts <${Object.keys(FACTS).join("|")}> <arg> <case> [--lab L --host H]`,
  );
  Deno.exit(2);
}
const fact = FACTS[kind](path);
const script = `${PRELUDE}\n(\n${fact.sh}\n)`;
let output: string;
if (values.lab) {
  const { labLoad, labExec } = await import("../../../lab/lab.ts");
  const lab = await labLoad(values.lab);
  if (!lab) throw new Error(`lab ${values.lab} is not up`);
  output = (await labExec(lab, values.host ?? "h1", ["sh", "-c", script])).stdout;
} else {
  const out = await new Deno.Command("sh", { args: ["-c", script], stdout: "piped" }).output();
  output = new TextDecoder().decode(out.stdout);
}
const file = new URL(`./${kind}/${name}.json`, import.meta.url);
await Deno.mkdir(new URL(`./${kind}/`, import.meta.url), { recursive: true });
await Deno.writeTextFile(
  file,
  JSON.stringify(
    {
      [PATH_FACTS.includes(kind) ? "path" : "arg"]: path,
      sh: fact.sh,
      output,
      fact: fact.parse(output),
    },
    null,
    2,
  ) + "\n",
);
console.log(file.pathname);
