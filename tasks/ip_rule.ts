/**
 * `ipRule`: one IPv4 policy routing rule, identified by its priority, live (`ip rule`) and
 * persisted for boot (see `_policy_routing.ts`). The task owns its priority: other rules at
 * that priority are replaced.
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { common, parseArgs, withCommon } from "./_args.ts";
import { allValues, parseKv } from "./_facts.ts";
import { planFrom } from "./_fact_plan.ts";
import { need, ok } from "./_plan.ts";
import { parsePersist, type PersistFact, planPersistFact, PR_PROBE } from "./_policy_routing.ts";
import { fwmark, ipv4Prefix, normPrefix, routeTable } from "./_route_args.ts";
import { END } from "./_sh.ts";

/** Arguments of {@link ipRule}. */
export const IpRuleArgs = z.object({
  ...common,
  /** 1..32765 (0, 32766 and 32767 are the kernel's). */
  priority: z.number().int().min(1).max(32765),
  fwmark: fwmark.optional(),
  from: ipv4Prefix.optional(),
  table: routeTable,
  state: z.enum(["present", "absent"]).default("present"),
  /** Persist for boot (default true). */
  persist: z.boolean().default(true),
}).strict();

/** Input of {@link ipRule}. */
export type IpRuleInput = z.input<typeof IpRuleArgs>;

/** The selector + action as `ip -N rule show` prints it after "PRIO:\t". */
export function ruleText(a: z.output<typeof IpRuleArgs>): string {
  return [
    `from ${normPrefix(a.from ?? "all", "all")}`,
    a.fwmark ? `fwmark ${a.fwmark}` : "",
    `lookup ${a.table}`,
  ].filter(Boolean).join(" ");
}

/** sh: `ip rule add` arguments of the desired rule. */
export function ruleArgs(a: z.output<typeof IpRuleArgs>): string {
  return `pref ${a.priority} ${ruleText(a)}`;
}

/** Probe: `rule=` lines of every IPv4 rule, numeric tables; then persistence state. */
export const RULE_PROBE = `ip -N -4 rule show | sed 's/^/rule=/'\n${PR_PROBE}\n${END}`;

/** What {@link RULE_PROBE} found: every IPv4 rule and the boot persistence. */
export interface IpRuleFact {
  /** Rules as `ip -N rule show` prints them (selector + action, whitespace-normalized). */
  rules: { priority: number; rule: string }[];
  persist: PersistFact;
}

/** Parse {@link RULE_PROBE}'s output (throws on output it cannot read). */
export function parseIpRules(stdout: string): IpRuleFact {
  const f = parseKv(stdout);
  need(f, "end");
  const rules = allValues(stdout, "rule")
    .map((l) => /^(\d+):\s+(.*?)\s*$/.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ priority: Number(m[1]), rule: m[2].replace(/\s+/g, " ") }));
  return { rules, persist: parsePersist(stdout) };
}

/** The IPv4 rules fact (the same for every ipRule task). */
export const ipRulesFact: Fact<IpRuleFact> = { sh: RULE_PROBE, parse: parseIpRules };

/** Pure planner of {@link ipRule} from the probe's raw output (throws on unreadable output). */
export function planIpRule(a: z.output<typeof IpRuleArgs>, facts: string): Plan {
  return planIpRuleFact(a, parseIpRules(facts));
}

/** Pure planner of {@link ipRule} from its {@link IpRuleFact}. */
export function planIpRuleFact(a: z.output<typeof IpRuleArgs>, f: IpRuleFact): Plan {
  const here = f.rules.filter((r) => r.priority === a.priority).map((r) => r.rule);
  const want = ruleText(a);
  const marker = `haplay:ip-rule:${a.priority}`;
  const delAll =
    `_i=0; while ip rule del pref ${a.priority} 2>/dev/null && [ $_i -lt 100 ]; do _i=$((_i + 1)); done`;
  const present = a.state === "present";
  const liveOk = present ? here.length === 1 && here[0] === want : here.length === 0;
  const persist = a.persist
    ? planPersistFact(
      f.persist,
      marker,
      present ? `${delAll}; ip rule add ${ruleArgs(a)}` : undefined,
    )
    : undefined;
  if (liveOk && (!persist || persist.ok)) {
    return ok(`rule ${a.priority}: ${present ? want : "absent"}`);
  }
  const parts: string[] = [];
  if (!liveOk) {
    parts.push(
      present
        ? `set rule ${a.priority}: ${want}${here.length ? ` (replacing ${here.join("; ")})` : ""}`
        : `delete rule ${a.priority}: ${here.join("; ")}`,
    );
  }
  if (persist && !persist.ok) parts.push(persist.summary);
  const diff =
    (liveOk
      ? ""
      : [...here.map((h) => `-${a.priority}: ${h}\n`), present ? `+${a.priority}: ${want}\n` : ""]
        .join("")) +
    (persist?.diff ?? "");
  return {
    kind: "change",
    summary: parts.join(", "),
    diff,
    backup: [
      `ip -4 rule show pref ${a.priority} > "$J/rules" 2>/dev/null || :`,
      persist?.backup ?? "",
    ].filter(Boolean).join("\n"),
    apply: [
      liveOk ? "" : present ? `${delAll}\nip rule add ${ruleArgs(a)}` : delAll,
      persist && !persist.ok ? persist.apply : "",
    ].filter(Boolean).join("\n") || ":",
    restore: [
      `if [ -f "$J/rules" ]; then`,
      `  ${delAll}`,
      `  while IFS= read -r _l; do ip rule add pref ${a.priority} \${_l#*:}; done < "$J/rules"`,
      `fi`,
      persist?.restore ?? "",
    ].filter(Boolean).join("\n"),
  };
}

/**
 * An IPv4 policy routing rule.
 *
 * @example
 * ipRule({ priority: 100, fwmark: 1, table: 100 })
 */
export function ipRule(args: IpRuleInput): Task {
  const a = parseArgs("ipRule", IpRuleArgs, args);
  return withCommon({
    name: a.name ?? `ip rule ${a.priority} ${a.state === "present" ? ruleText(a) : "absent"}`,
    module: "ipRule",
    resource: `ip-rule:${a.priority}`,
    probe: ipRulesFact.sh,
    plan: planFrom(`ipRule ${a.priority}`, ipRulesFact, (f) => planIpRuleFact(a, f)),
  }, a);
}
