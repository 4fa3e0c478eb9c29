/**
 * How each recorded fact is built from the one argument its case records (`path` or `arg`):
 * shared by the recorder (`_record.ts`) and the runner (`../cases_test.ts`), which checks that a
 * case's recorded `sh` is still what the fact runs today (else its output is stale).
 * @module
 */
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

/** Facts whose argument is a path (recorded as `path`; the others as `arg`). */
export const PATH_FACTS = ["stat", "file", "line"];

/** Each recordable fact, from the one argument of the case (a path, a key, a unit, ...). */
export const FACTS: Record<string, (arg: string) => Fact<unknown>> = {
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
