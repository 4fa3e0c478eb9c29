/**
 * The load-balancer layer: the `haplay_lb` schema, the cluster model, keepalived.conf
 * rendering, lint, and the roles the site playbook (`playbooks/site.ts`) composes.
 * Every field is documented in `docs/lb.md`.
 * @module
 */
export * from "./lb_schema.ts";
export {
  addressOf,
  allClusters,
  type Cluster,
  clusterOf,
  type HostLike,
  type HostMap,
  instanceVips,
  interfaceOf,
  lbClusterOf,
  type LbMember,
  priorityOf,
  type RealServer,
  realServerDuties,
  type RealServerDuty,
  type ResolvedService,
  rollingOrder,
  stateOf,
  type Vip,
} from "./cluster.ts";
export { type RenderedKeepalived, renderKeepalived } from "./keepalived_conf.ts";
export { CHECKER_SCRIPT } from "./keepalived_check.ts";
export { lintFindings, lintLb, WRONG } from "./lint.ts";
export { notifySteps, sudoCommands } from "./notify_plan.ts";
export * as paths from "./paths.ts";
export {
  keepalivedHandlers,
  keepalivedPackageTasks,
  keepalivedTasks,
  KeepalivedVars,
  RELOAD,
  RESTART,
} from "./keepalived.ts";
export { scriptUserTasks, ScriptUserVars, sudoersContent } from "./script_user.ts";
export { notifyTasks, NotifyVars } from "./notify.ts";
export {
  lbSysctls,
  lbSysctlTasks,
  realServerSysctls,
  realServerSysctlTasks,
  SysctlVars,
} from "./sysctl.ts";
export { loVips, loVipTasks, LoVipVars } from "./lo_vip.ts";
export { redirectRules, redirectTasks, RedirectVars } from "./redirect.ts";
export { dsrFwmarkTasks, DsrFwmarkVars } from "./dsr_fwmark.ts";
export { verifyLb } from "./verify.ts";
export { hostChecks, verifyPlans, verifyScript, vrrpChecks } from "./verify_script.ts";
export { labInventoryText, writeLabInventory } from "./lab_inventory.ts";
export { redirectHandlers, saveIptablesHandler } from "./redirect.ts";
export { dsrFwmarkHandlers } from "./dsr_fwmark.ts";
