/**
 * Lint of the load-balancer layer: schema errors and every rule of `lint_vrrp.ts`,
 * `lint_lvs.ts`, `lint_checks.ts` (health checks, degradation), `lint_sync.ts` (connection sync) and `lint_extra.ts` (raw keepalived lines), positioned at `file:line:col` of the value concerned. Pure apart from reading
 * the loaded inventory. Severities: `error` (keepalived, or haplay's validator, refuses it),
 * `warning` starting with "will run but wrong:" (keepalived runs, not as meant), other warnings
 * (advice, notes, hints).
 * @module
 */
import type { Inventory, Issue } from "../engine/inventory.ts";
import { type Finding, locateAll } from "./_locate.ts";
import { allClusters, type Cluster, type HostMap } from "./cluster.ts";
import { hostsWithLbVars, schemaIssues, unknownKeyFindings } from "./lint_schema.ts";
import {
  ruleDrPort,
  ruleDrSubnet,
  ruleLoFamily,
  ruleNatGateway,
  ruleRealServers,
  ruleSameBox,
  ruleServiceShape,
  ruleVipOwner,
} from "./lint_lvs.ts";
import {
  ruleAuth,
  ruleManyVips,
  ruleMembers,
  ruleNopreempt,
  rulePriorities,
  ruleReferences,
  ruleSameSection,
  ruleScriptSecurity,
  ruleSyncWeights,
  ruleUnicast,
  ruleVipFamilies,
  ruleVridRange,
  ruleVridUnique,
} from "./lint_vrrp.ts";
import { ruleScriptPathVersions } from "./lint_versions.ts";
import { ruleExtras } from "./lint_extra.ts";
import {
  ruleCheckCommands,
  ruleDegradation,
  ruleServerGroups,
  ruleUdpChecks,
} from "./lint_checks.ts";
import { ruleSyncIdUnique, ruleSyncInterface, ruleSyncShape } from "./lint_sync.ts";

export { WRONG } from "./lint_vrrp.ts";

/** The rules run on each cluster. */
const CLUSTER_RULES: Array<(c: Cluster, all: HostMap) => Finding[]> = [
  ruleMembers,
  ruleVridRange,
  rulePriorities,
  ruleNopreempt,
  ruleAuth,
  ruleManyVips,
  ruleUnicast,
  ruleVipFamilies,
  ruleScriptSecurity,
  ruleScriptPathVersions,
  ruleReferences,
  ruleSyncWeights,
  ruleServiceShape,
  ruleVipOwner,
  ruleRealServers,
  ruleNatGateway,
  ruleDrSubnet,
  ruleDrPort,
  ruleSameBox,
  ruleLoFamily,
  ruleExtras,
  ruleUdpChecks,
  ruleCheckCommands,
  ruleDegradation,
  ruleServerGroups,
  ruleSyncShape,
  ruleSyncInterface,
];

/** Unpositioned findings of every rule (schema-valid hosts only). */
export function lintFindings(all: HostMap): Finding[] {
  const clusters = allClusters(all);
  const out: Finding[] = [];
  for (const c of clusters) {
    for (const rule of CLUSTER_RULES) out.push(...rule(c, all));
    const sections = new Map(c.members.map((m) => [m.name, all.get(m.name)!.vars.haplay_lb]));
    out.push(...ruleSameSection(c, sections));
  }
  out.push(...ruleVridUnique(clusters));
  out.push(...ruleSyncIdUnique(clusters));
  return out;
}

/**
 * Lints the LB layer of an inventory. Schema errors first; the semantic rules run only when the
 * schema is clean (they need parsed values).
 */
export function lintLb(inv: Inventory): Issue[] {
  const hosts = hostsWithLbVars(inv);
  const schema = [...schemaIssues(inv, hosts), ...locateAll(inv, unknownKeyFindings(inv, hosts))];
  if (schema.length) return schema;
  if (!allClusters(inv.hosts).length) {
    return [{
      file: inv.file,
      line: 1,
      col: 1,
      path: "",
      message: "no haplay_lb section: nothing for the load-balancer playbook to deploy",
      severity: "error",
    }];
  }
  return locateAll(inv, lintFindings(inv.hosts));
}
