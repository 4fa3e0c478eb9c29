/**
 * Tasks as data (pyinfra's two corpora): `cases/<primitive>/*.json` are planner cases
 * (`{args, facts, expect: {summary, apply?} | {reason}}`: parsed facts in, plan out), and
 * `facts/<fact>/*.json` are parser cases (`{path, output, fact} | {path, output, error}`: what
 * the probe printed on a real host in, the typed fact out). Adding a case is adding a file.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Plan } from "../../engine/types.ts";
import { parseArgs } from "../../tasks/_args.ts";
import { parseStat, type PathStat } from "../../tasks/_stat_fact.ts";
import { DirectoryArgs, planDirectory } from "../../tasks/directory.ts";
import { AbsentArgs, planAbsentStat } from "../../tasks/absent.ts";
import { NetplanArgs, type NetplanFacts, planNetplan } from "../../tasks/netplan.ts";
import { LoVipArgs, type LoVipFacts, planLoVip } from "../../tasks/lo_vip.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));

/** Planner of each primitive with cases: validated args and parsed facts in, plan out. */
const PLANNERS: Record<string, (args: unknown, facts: PathStat) => Plan> = {
  directory: (a, f) => planDirectory(parseArgs("directory", DirectoryArgs, a as never), f),
  absent: (a, f) => planAbsentStat(parseArgs("absent", AbsentArgs, a as never).path, f),
  netplan: (a, f) =>
    planNetplan(parseArgs("netplan", NetplanArgs, a as never), f as unknown as NetplanFacts),
  lo_vip: (a, f) =>
    planLoVip(parseArgs("loVip", LoVipArgs, a as never), f as unknown as LoVipFacts),
};

/** Parser of each fact with recorded outputs. */
const PARSERS: Record<string, (stdout: string) => unknown> = { stat: parseStat };

interface TaskCase {
  args: unknown;
  facts: PathStat;
  expect: { summary: string; apply?: string } | { reason: string };
}

interface FactCase {
  path: string;
  output: string;
  fact?: unknown;
  error?: string;
}

async function cases<T>(dir: string): Promise<Array<{ group: string; name: string; c: T }>> {
  const out = [];
  for await (const g of Deno.readDir(`${HERE}${dir}`)) {
    if (!g.isDirectory) continue;
    for await (const f of Deno.readDir(`${HERE}${dir}/${g.name}`)) {
      if (!f.name.endsWith(".json")) continue;
      const c = JSON.parse(await Deno.readTextFile(`${HERE}${dir}/${g.name}/${f.name}`)) as T;
      out.push({ group: g.name, name: f.name, c });
    }
  }
  return out.sort((a, b) => `${a.group}/${a.name}`.localeCompare(`${b.group}/${b.name}`));
}

Deno.test("task cases: every planner case plans as recorded", async () => {
  const all = await cases<TaskCase>("cases");
  assert.ok(all.length >= 7, `${all.length} cases`);
  for (const { group, name, c } of all) {
    const where = `cases/${group}/${name}`;
    const plan = PLANNERS[group];
    assert.ok(plan, `${where}: no planner registered for ${group}`);
    const got = plan(c.args, c.facts);
    if ("reason" in c.expect) {
      assert.deepEqual(got, { kind: "ok", reason: c.expect.reason }, where);
      continue;
    }
    assert.equal(got.kind, "change", `${where}: ${JSON.stringify(got)}`);
    if (got.kind !== "change") continue;
    assert.equal(got.summary, c.expect.summary, where);
    if (c.expect.apply !== undefined) assert.equal(got.apply, c.expect.apply, where);
  }
});

Deno.test("fact cases: every recorded probe output parses to its fact", async () => {
  const all = await cases<FactCase>("facts");
  assert.ok(all.length >= 6, `${all.length} cases`);
  for (const { group, name, c } of all) {
    const where = `facts/${group}/${name}`;
    const parse = PARSERS[group];
    assert.ok(parse, `${where}: no parser registered for ${group}`);
    if (c.error !== undefined) {
      assert.throws(() => parse(c.output), { message: c.error }, where);
    } else {
      assert.deepEqual(parse(c.output), c.fact, where);
    }
  }
});
