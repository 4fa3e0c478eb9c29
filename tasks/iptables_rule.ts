/**
 * `iptablesRule`: one iptables (or ip6tables) rule, present or absent.
 *
 * Idempotent via `iptables -C`; inserted with `-I CHAIN POS` (when `position` is given) or
 * appended with `-A`; removed with `-D` (every copy). Persisted with `netfilter-persistent save`
 * when that command exists (else the summary says "not persisted").
 *
 * Rollback is surgical: it puts back `/etc/iptables/rules.v4` and `rules.v6` and removes the
 * rule the run added, or re-inserts the rule the run removed at its former position; rules
 * changed by others since are left alone (a whole-table `iptables-restore` would clobber them).
 * The table as it was (`iptables-save -t TABLE`) is kept in the journal for reference.
 *
 * "Persisted" is checked by comparing the table's section of the rules file with the live
 * table (counters and comments ignored); a stale file gets a `netfilter-persistent save`.
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { b64Text, parseKv } from "./_facts.ts";
import { common, oneLine, parseArgs, withCommon } from "./_args.ts";
import { planFrom } from "./_fact_plan.ts";
import { need, ok } from "./_plan.ts";
import { END } from "./_sh.ts";

/** Arguments of {@link iptablesRule}. */
export const IptablesRuleArgs = z.object({
  ...common,
  table: z.enum(["filter", "nat", "mangle", "raw", "security"]).default("filter"),
  chain: z.string().regex(/^[A-Za-z0-9_.-]{1,28}$/, "must be a chain name"),
  /** The rule as argv after `-A CHAIN`, e.g. ["-p", "tcp", "--dport", "80", "-j", "ACCEPT"]. */
  rule: z.array(oneLine).min(1).refine(
    (r) =>
      !/^-(A|I|D|C|R|N|X|F|Z|P|E|L|S)$|^--(append|insert|delete|check|replace|flush)$/.test(r[0]),
    "must not start with a command option (-A/-I/-D/...)",
  ),
  state: z.enum(["present", "absent"]).default("present"),
  /** 1-based position for `-I` (default: append). Only used when inserting. */
  position: z.number().int().min(1).optional(),
  persist: z.boolean().default(true),
  family: z.enum(["ipv4", "ipv6"]).default("ipv4"),
}).strict();

/** Input of {@link iptablesRule}. */
export type IptablesRuleInput = z.input<typeof IptablesRuleArgs>;

/** Table section of iptables-save output, normalized (no comments, no counters). */
export function normalizeTable(text: string, table: string): string {
  const out: string[] = [];
  let inside = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("*")) inside = line === `*${table}`;
    if (!inside || line === "" || line.startsWith("#")) continue;
    out.push(line.replace(/ \[\d+:\d+\]$/, "").replace(/^\[\d+:\d+\] /, ""));
    if (line === "COMMIT") inside = false;
  }
  return out.join("\n");
}

interface Names {
  bin: string;
  save: string;
  rules: string;
}

function names(family: "ipv4" | "ipv6"): Names {
  return family === "ipv4"
    ? { bin: "iptables", save: "iptables-save", rules: "/etc/iptables/rules.v4" }
    : { bin: "ip6tables", save: "ip6tables-save", rules: "/etc/iptables/rules.v6" };
}

/** Probe: check result, persistence tool and both table texts (chains are read from the live one). */
export function iptablesProbe(a: z.output<typeof IptablesRuleArgs>): string {
  const n = names(a.family);
  const ipt = `${n.bin} -w -t ${a.table}`;
  const R = a.rule.map(q).join(" ");
  return [
    `if ${ipt} -C ${q(a.chain)} ${R} 2>/dev/null; then echo present=1; else echo present=0; fi`,
    `if command -v netfilter-persistent >/dev/null 2>&1; then echo nfp=1; else echo nfp=0; fi`,
    `printf 'live_b64='; ${n.save} -t ${a.table} 2>/dev/null | base64 -w0; echo`,
    `if [ -f ${n.rules} ]; then printf 'file_b64='; base64 -w0 < ${n.rules}; echo; fi`,
    END,
  ].join("\n");
}

/** What the iptables probe found. */
export interface IptablesFact {
  /** `iptables -C` found the rule. */
  present: boolean;
  /** `netfilter-persistent` is installed. */
  persistTool: boolean;
  /** `iptables-save -t TABLE` of the live table. */
  live: string;
  /** The rules file (`/etc/iptables/rules.v4` or `.v6`), when it exists. */
  file?: string;
}

/** Parse the iptables probe's output (throws on output it cannot read). */
export function parseIptables(stdout: string): IptablesFact {
  const f = parseKv(stdout);
  need(f, "end");
  const fact: IptablesFact = {
    present: need(f, "present") === "1",
    persistTool: need(f, "nfp") === "1",
    live: b64Text(need(f, "live_b64")),
  };
  if (f.file_b64 !== undefined) fact.file = b64Text(f.file_b64);
  return fact;
}

/** The iptables fact of a rule. */
export function iptablesFact(a: z.output<typeof IptablesRuleArgs>): Fact<IptablesFact> {
  return { sh: iptablesProbe(a), parse: parseIptables };
}

/** Pure planner of {@link iptablesRule} from the probe's raw output (throws on unreadable output). */
export function planIptables(a: z.output<typeof IptablesRuleArgs>, facts: string): Plan {
  return planIptablesFact(a, parseIptables(facts));
}

/** Pure planner of {@link iptablesRule} from its {@link IptablesFact}. */
export function planIptablesFact(a: z.output<typeof IptablesRuleArgs>, f: IptablesFact): Plan {
  const n = names(a.family);
  const ipt = `${n.bin} -w -t ${a.table}`;
  const C = q(a.chain);
  const R = a.rule.map(q).join(" ");
  const text = `${a.table} ${a.chain} ${a.rule.join(" ")}`;
  const present = f.present;
  // the chain exists when iptables-save lists it (`:CHAIN POLICY [p:b]`, built-in ones too)
  const chain = f.live.split("\n").some((l) => l.startsWith(`:${a.chain} `));
  const nfp = f.persistTool;
  const wantPresent = a.state === "present";
  const liveOk = present === wantPresent || (!wantPresent && !chain);
  const fileOk = !a.persist || !nfp || !liveOk ||
    (f.file !== undefined && normalizeTable(f.file, a.table) === normalizeTable(f.live, a.table));
  if (liveOk && fileOk) {
    return ok(`rule ${wantPresent ? "present" : "absent"}: ${text}`);
  }
  const persist = a.persist && nfp ? `netfilter-persistent save >&2` : "";
  const note = !a.persist
    ? " (not persisted)"
    : nfp
    ? ""
    : " (not persisted: netfilter-persistent not installed)";
  const summary = liveOk
    ? `persist ${a.table} table to ${n.rules} (file out of date)`
    : `${
      wantPresent ? (a.position ? `insert at ${a.position}` : "append") : "delete"
    } rule: ${text}${note}`;
  const add = a.position ? `-I ${C} ${a.position}` : `-A ${C}`;
  const live = wantPresent ? `if ! ${ipt} -C ${C} ${R} 2>/dev/null; then ${ipt} ${add} ${R}; fi` : [
    `${ipt} -S ${C} > "$J/chain.before" 2>/dev/null || :`,
    `_i=0; while ${ipt} -C ${C} ${R} 2>/dev/null && [ $_i -lt 100 ]; do ${ipt} -D ${C} ${R}; _i=$((_i + 1)); done`,
    `${ipt} -S ${C} > "$J/chain.after" 2>/dev/null || :`,
    // Position (1-based, rules only) of the first removed line, for rollback.
    `awk 'NR == FNR { a[FNR] = $0; n = FNR; next } $0 != a[FNR] && !done { print FNR - 1; done = 1 } ` +
    `END { if (!done) print n }' "$J/chain.after" "$J/chain.before" > "$J/rule.pos" 2>/dev/null || :`,
  ].join("\n");
  return {
    kind: "change",
    summary,
    diff: liveOk ? undefined : `${wantPresent ? "+" : "-"}-A ${a.chain} ${a.rule.join(" ")}\n`,
    backup: [
      `${n.save} -t ${a.table} > "$J/table.rules" 2>/dev/null || :`,
      `if ${ipt} -C ${C} ${R} 2>/dev/null; then echo 1; else echo 0; fi > "$J/rule.was"`,
      // netfilter-persistent save rewrites both files (one plugin per family).
      `hp_save_path /etc/iptables/rules.v4 v4`,
      `hp_save_path /etc/iptables/rules.v6 v6`,
    ].join("\n"),
    apply: [liveOk ? ":" : live, persist].filter(Boolean).join("\n"),
    restore: [
      `hp_restore_path /etc/iptables/rules.v4 v4`,
      `hp_restore_path /etc/iptables/rules.v6 v6`,
      `if [ "$(cat "$J/rule.was" 2>/dev/null)" = 0 ]; then`,
      `  _i=0; while ${ipt} -C ${C} ${R} 2>/dev/null && [ $_i -lt 100 ]; do ${ipt} -D ${C} ${R}; _i=$((_i + 1)); done`,
      `elif [ "$(cat "$J/rule.was" 2>/dev/null)" = 1 ] && ! ${ipt} -C ${C} ${R} 2>/dev/null; then`,
      `  _p=$(cat "$J/rule.pos" 2>/dev/null); _n=$(${ipt} -S ${C} | grep -c '^-A ' || :)`,
      `  if [ -n "$_p" ] && [ "$_p" -ge 1 ] && [ "$_p" -le "$((_n + 1))" ]; then ${ipt} -I ${C} "$_p" ${R}; else ${ipt} -A ${C} ${R}; fi`,
      `fi`,
    ].join("\n"),
  };
}

/**
 * One iptables rule.
 *
 * @example
 * iptablesRule({ table: "mangle", chain: "PREROUTING",
 *   rule: ["-d", "198.18.0.5/32", "-p", "tcp", "--dport", "80", "-j", "MARK", "--set-mark", "1"] })
 */
export function iptablesRule(args: IptablesRuleInput): Task {
  const a = parseArgs("iptablesRule", IptablesRuleArgs, args);
  const text = `${a.table} ${a.chain} ${a.rule.join(" ")}`;
  return withCommon({
    name: a.name ?? `iptables ${a.state} ${text}`,
    module: "iptablesRule",
    resource: `iptables:${a.family}:${text}`,
    probe: iptablesFact(a).sh,
    plan: planFrom(`iptablesRule ${text}`, iptablesFact(a), (f) => planIptablesFact(a, f)),
  }, a);
}
