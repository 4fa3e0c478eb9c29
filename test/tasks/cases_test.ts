/**
 * Tasks as data (pyinfra's two corpora): `cases/<primitive>/*.json` are planner cases
 * (`{args, facts, expect: {summary, apply?, diff?, backup?, restore?} | {reason}}`: parsed facts
 * in, plan out; the snippets a case leaves out are not compared), and
 * `facts/<fact>/*.json` are parser cases (`{path?, output, fact} | {path?, output, error}`: what
 * the probe printed on a real host in, the typed fact out). Adding a case is adding a file;
 * adding a primitive is one line in {@link PLANNERS} (and {@link PARSERS} for a new fact).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Plan } from "../../engine/types.ts";
import { parseArgs } from "../../tasks/_args.ts";
import { guarded } from "../../tasks/_plan.ts";
import { parseStat, type PathStat } from "../../tasks/_stat_fact.ts";
import { DirectoryArgs, planDirectory } from "../../tasks/directory.ts";
import { AbsentArgs, planAbsentStat } from "../../tasks/absent.ts";
import {
  FileArgs,
  type FileFact,
  fileSpec,
  parseFileFact,
  planFileFact,
} from "../../tasks/file.ts";
import { templateArgs } from "../../tasks/template.ts";
import { SudoersArgs, sudoersFileArgs } from "../../tasks/sudoers.ts";
import {
  lineEditOf,
  type LineFileFact,
  LineInFileArgs,
  parseLineFile,
  planLineFact,
} from "../../tasks/line_in_file.ts";
import { AptArgs, type AptFact, parseApt, planAptFact } from "../../tasks/apt.ts";
import {
  parseService,
  planServiceFact,
  ServiceArgs,
  type ServiceFact,
} from "../../tasks/service.ts";
import {
  type IptablesFact,
  IptablesRuleArgs,
  parseIptables,
  planIptablesFact,
} from "../../tasks/iptables_rule.ts";
import { IpRuleArgs, type IpRuleFact, parseIpRules, planIpRuleFact } from "../../tasks/ip_rule.ts";
import {
  IpRouteArgs,
  type IpRouteFact,
  parseIpRoutes,
  planIpRouteFact,
} from "../../tasks/ip_route.ts";
import {
  CommandArgs,
  type CommandFact,
  parseCommand,
  planCommandFact,
} from "../../tasks/command.ts";
import { parseUser, planUserFact, UserArgs, type UserFact } from "../../tasks/user.ts";
import { GroupArgs, type GroupFact, parseGroup, planGroupFact } from "../../tasks/group.ts";
import { parseSysctl, planSysctlFact, SysctlArgs, type SysctlFact } from "../../tasks/sysctl.ts";
import { NetplanArgs, type NetplanFacts, planNetplan } from "../../tasks/netplan.ts";
import { LoVipArgs, type LoVipFacts, planLoVip } from "../../tasks/lo_vip.ts";

import { FACTS } from "./facts/_builders.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));

/** A planner as the runner calls it: the case's raw args and its facts (as typed by the fact). */
type Planner = (args: unknown, facts: unknown) => Plan;

/** Types a primitive's planner for the registry (the case file holds facts of type `F`). */
function planner<F>(plan: (args: unknown, facts: F) => Plan): Planner {
  return plan as Planner;
}

/** JSON cannot hold bytes: file-like args may give `content_b64` instead of `content`. */
function bytesArgs(a: unknown): Record<string, unknown> {
  const { content_b64, ...rest } = a as Record<string, unknown>;
  if (typeof content_b64 !== "string") return rest;
  return { ...rest, content: Uint8Array.from(atob(content_b64), (c) => c.charCodeAt(0)) };
}

/** Planner of each primitive with cases: validated args and parsed facts in, plan out. */
export const PLANNERS: Record<string, Planner> = {
  directory: planner<PathStat>((a, f) =>
    planDirectory(parseArgs("directory", DirectoryArgs, a as never), f)
  ),
  absent: planner<PathStat>((a, f) =>
    planAbsentStat(parseArgs("absent", AbsentArgs, a as never).path, f)
  ),
  file: planner<FileFact>((a, f) =>
    planFileFact(fileSpec(parseArgs("file", FileArgs, bytesArgs(a) as never)), f)
  ),
  template: planner<FileFact>((a, f) => planFileFact(fileSpec(templateArgs(a as never)), f)),
  lineInFile: planner<LineFileFact>((raw, f) => {
    const a = parseArgs("lineInFile", LineInFileArgs, raw as never);
    return planLineFact({ ...a, edit: lineEditOf(a) }, f);
  }),
  sysctl: planner<SysctlFact>((a, f) =>
    planSysctlFact(parseArgs("sysctl", SysctlArgs, a as never), f)
  ),
  service: planner<ServiceFact>((a, f) =>
    planServiceFact(parseArgs("service", ServiceArgs, a as never), f)
  ),
  apt: planner<AptFact>((a, f) => planAptFact(parseArgs("apt", AptArgs, a as never), f)),
  user: planner<UserFact>((a, f) => planUserFact(parseArgs("user", UserArgs, a as never), f)),
  group: planner<GroupFact>((a, f) => planGroupFact(parseArgs("group", GroupArgs, a as never), f)),
  sudoers: planner<FileFact>((a, f) =>
    planFileFact(fileSpec(sudoersFileArgs(parseArgs("sudoers", SudoersArgs, a as never))), f)
  ),
  iptablesRule: planner<IptablesFact>((a, f) =>
    planIptablesFact(parseArgs("iptablesRule", IptablesRuleArgs, a as never), f)
  ),
  ipRule: planner<IpRuleFact>((a, f) =>
    planIpRuleFact(parseArgs("ipRule", IpRuleArgs, a as never), f)
  ),
  ipRoute: planner<IpRouteFact>((a, f) =>
    planIpRouteFact(parseArgs("ipRoute", IpRouteArgs, a as never), f)
  ),
  netplan: planner<NetplanFacts>((a, f) =>
    planNetplan(parseArgs("netplan", NetplanArgs, a as never), f)
  ),
  lo_vip: planner<LoVipFacts>((a, f) => planLoVip(parseArgs("loVip", LoVipArgs, a as never), f)),
  command: planner<CommandFact>((a, f) =>
    planCommandFact(parseArgs("command", CommandArgs, a as never), f)
  ),
};

/** Parser of each fact with recorded outputs. */
export const PARSERS: Record<string, (stdout: string) => unknown> = {
  stat: parseStat,
  file: parseFileFact,
  line: parseLineFile,
  sysctl: parseSysctl,
  service: parseService,
  apt: parseApt,
  user: parseUser,
  group: parseGroup,
  iptables: parseIptables,
  ip_rules: parseIpRules,
  ip_routes: parseIpRoutes,
  command: parseCommand,
};

interface TaskCase {
  args: unknown;
  facts: unknown;
  expect:
    | { summary: string; apply?: string; diff?: string; backup?: string; restore?: string }
    | { reason: string };
}

interface FactCase {
  path?: string;
  arg?: string;
  /** The snippet that printed `output` (recorded cases). */
  sh?: string;
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
  const without = Object.keys(PLANNERS).filter((p) => !all.some((c) => c.group === p));
  assert.deepEqual(without, [], "every registered planner has cases");
  for (const { group, name, c } of all) {
    const where = `cases/${group}/${name}`;
    const plan = PLANNERS[group];
    assert.ok(plan, `${where}: no planner registered for ${group}`);
    // As in a task's plan(): facts a planner cannot use become a refusal, never a throw.
    const got = guarded(group, () => plan(c.args, c.facts))("");
    if ("reason" in c.expect) {
      assert.deepEqual(got, { kind: "ok", reason: c.expect.reason }, where);
      continue;
    }
    assert.equal(got.kind, "change", `${where}: ${JSON.stringify(got)}`);
    if (got.kind !== "change") continue;
    assert.equal(got.summary, c.expect.summary, where);
    for (const k of ["apply", "diff", "backup", "restore"] as const) {
      if (c.expect[k] !== undefined) assert.equal(got[k], c.expect[k], `${where}: ${k}`);
    }
  }
});

Deno.test("fact cases: every recorded probe output parses to its fact", async () => {
  const all = await cases<FactCase>("facts");
  const without = Object.keys(PARSERS).filter((p) => !all.some((c) => c.group === p));
  assert.deepEqual(without, [], "every registered parser has recorded outputs");
  for (const { group, name, c } of all) {
    const where = `facts/${group}/${name}`;
    const parse = PARSERS[group];
    assert.ok(parse, `${where}: no parser registered for ${group}`);
    if (c.sh !== undefined) {
      const arg = c.path ?? c.arg;
      assert.ok(FACTS[group] && arg !== undefined, `${where}: no builder for its sh`);
      assert.equal(
        FACTS[group](arg).sh,
        c.sh,
        `${where}: the fact's snippet changed since this output was recorded: record it again`,
      );
    }
    if (c.error !== undefined) {
      assert.throws(() => parse(c.output), { message: c.error }, where);
    } else {
      assert.deepEqual(parse(c.output), c.fact, where);
    }
  }
});
