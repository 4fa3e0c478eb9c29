/**
 * Record a fact case: run a fact's snippet (with the engine prelude) on this machine, or on a
 * lab host via `--lab NAME --host hN`, and write `{path | arg, output, fact}` as
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
import type { Fact } from "../../../engine/types.ts";
import { statFact } from "../../../tasks/_stat_fact.ts";
import { fileFact } from "../../../tasks/file.ts";
import { lineFileFact } from "../../../tasks/line_in_file.ts";
import { sysctlFact } from "../../../tasks/sysctl.ts";
import { serviceFact } from "../../../tasks/service.ts";
import { aptFact } from "../../../tasks/apt.ts";
import { userFact } from "../../../tasks/user.ts";
import { groupFact } from "../../../tasks/group.ts";
import { ipRulesFact } from "../../../tasks/ip_rule.ts";
import { CommandArgs, commandFact } from "../../../tasks/command.ts";
import { ipRoutesFact } from "../../../tasks/ip_route.ts";
import { iptablesFact, IptablesRuleArgs } from "../../../tasks/iptables_rule.ts";

/** Each recordable fact, from the one argument of the case (a path, a key, a unit, ...). */
const FACTS: Record<string, (arg: string) => Fact<unknown>> = {
  stat: statFact,
  file: (path) => fileFact(path),
  line: lineFileFact,
  /** `KEY:FILE`, e.g. `net.ipv4.ip_forward:/etc/sysctl.d/60-haplay.conf`. */
  sysctl: (arg) => sysctlFact(arg.slice(0, arg.indexOf(":")), arg.slice(arg.indexOf(":") + 1)),
  service: (name) => serviceFact({ name }),
  /** Package names, comma-separated (candidates asked for all of them). */
  apt: (names) => aptFact(names.split(",")),
  user: userFact,
  group: groupFact,
  /** The rule's arguments as JSON, e.g. `{"chain":"INPUT","rule":["-j","ACCEPT"]}`. */
  iptables: (json) => iptablesFact(IptablesRuleArgs.parse(JSON.parse(json))),
  /** The argument is ignored (give `all`): the fact is every IPv4 rule. */
  ip_rules: () => ipRulesFact,
  /** A routing table number. */
  ip_routes: (table) => ipRoutesFact(Number(table)),
  /** The command's arguments as JSON, e.g. `{"cmd":"x","creates":"/etc/x"}` (guards only run). */
  command: (json) => commandFact(CommandArgs.parse(JSON.parse(json))),
};

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
      [kind === "stat" || kind === "file" || kind === "line" ? "path" : "arg"]: path,
      output,
      fact: fact.parse(output),
    },
    null,
    2,
  ) + "\n",
);
console.log(file.pathname);
