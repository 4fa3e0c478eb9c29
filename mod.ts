/**
 * haplay: agentless, Ansible-style orchestration over SSH for highly available Linux load
 * balancers (keepalived VRRP + LVS). This module is the public API: import tasks and roles,
 * build plays, and run them against an inventory.
 *
 * ```ts
 * import { file, loadInventory, runPlaybook } from "./mod.ts";
 * const inv = await loadInventory("inventory/prod.yaml");
 * const report = await runPlaybook(inv, [{
 *   name: "motd",
 *   hosts: "all",
 *   tasks: (h) => [file({ path: "/etc/motd", content: `managed by haplay on ${h.name}\n` })],
 * }]);
 * ```
 * @module
 */
export type {
  Handler,
  HostContext,
  Plan,
  PlanChange,
  PlanOk,
  Play,
  Task,
  TaskStatus,
} from "./engine/types.ts";
export { b64, parseKv, q } from "./engine/shell.ts";
export { PRELUDE } from "./engine/prelude.ts";
export { newRunId, type RunOptions, runPlaybook, targetOf } from "./engine/run.ts";
export type { HostReport, HostStatus, RunReport, TaskReport } from "./engine/report.ts";
export { recapTable } from "./engine/report.ts";
export {
  historyHosts,
  type HostRollback,
  rollbackHosts,
  type RollbackOptions,
} from "./engine/rollback.ts";
export { type ExecResult, HostKeyError, SshSession, type SshTarget } from "./engine/ssh.ts";
export {
  loadPlaybook,
  type Playbook,
  playbookFromModule,
  type VerifyCheck,
  type VerifyContext,
} from "./engine/playbook.ts";
export {
  checkHostVars,
  formatIssue,
  type Inventory,
  InventoryError,
  type InventoryHost,
  type Issue,
  loadInventory,
} from "./engine/inventory.ts";
export { selectHosts } from "./engine/patterns.ts";
export { Redactor, redactor, Secret } from "./engine/secrets.ts";
export * from "./tasks/mod.ts";
export * from "./roles/mod.ts";
export * as site from "./playbooks/site.ts";
