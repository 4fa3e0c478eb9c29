/**
 * haplay: agentless, Ansible-style orchestration over SSH for highly available Linux load
 * balancers (keepalived VRRP + LVS). The authoring API, all of it:
 *
 * | what                  | exports                                                               |
 * | --------------------- | --------------------------------------------------------------------- |
 * | task contract, plays  | `Task` `Plan` `PlanOk` `PlanChange` `Handler` `HostContext` `Play`      |
 * |                       | `Rolling` `Serial` `GateResult` `HookContext` `TaskStatus`            |
 * | task primitives       | `absent` `apt` `command` `directory` `file` `group` `ipRoute` `ipRule` |
 * | (`./tasks`)           | `iptablesRule` `lineInFile` `loVip` `netplan` `service`               |
 * |                       | `serviceHandler` `sudoers` `sysctl` `template` `user` (+ `*Input`)    |
 * | LB roles (`./roles`)  | `keepalived*Tasks` `scriptUserTasks` `notifyTasks` `*SysctlTasks`     |
 * |                       | `loVipTasks` `redirect*` `dsrFwmark*` `lintLb` `verifyLb`             |
 * | inventory             | `loadInventory` `Inventory` `InventoryHost` `Issue` `formatIssue`     |
 * | playbooks             | `loadPlaybook` `Playbook` `VerifyContext` `VerifyCheck`               |
 * | run                   | `runPlaybook` `RunOptions` `RunReport` `HostReport` `HostStatus`      |
 * |                       | `TaskReport` `recapTable`                                             |
 * | rollback, history     | `rollbackHosts` `RollbackOptions` `HostRollback` `historyHosts`       |
 * | connectors            | `Connector` `ConnectorFactory` `ExecResult` `LocalConnectors`         |
 *
 * The namespace lab is `./lab`; the site playbook is `playbooks/site.ts`.
 *
 * @example
 * ```ts
 * import { file, loadInventory, type Play, runPlaybook } from "./mod.ts";
 * const motd: Play = {
 *   name: "motd",
 *   hosts: "all",
 *   rolling: { serial: "50%" },
 *   tasks: (h) => [file({ path: "/etc/motd", content: `managed by haplay on ${h.name}\n` })],
 * };
 * async function deploy(inventory: string) {
 *   const report = await runPlaybook(await loadInventory(inventory), [motd]);
 *   return report.ok;
 * }
 * ```
 * @module
 */
export * from "./engine/mod.ts";
export * from "./tasks/mod.ts";
export * from "./roles/mod.ts";
