/**
 * The load-balancer and real-server roles as a whole: which role tasks and handlers a host gets
 * from the `haplay_lb` section. Shared by the site playbook and the YAML role registry.
 * @module
 */
import type { Handler, HostContext, Task } from "../engine/types.ts";
import { lbView } from "../lb/context.ts";
import { dsrFwmarkHandlers, dsrFwmarkTasks } from "./dsr_fwmark.ts";
import { keepalivedHandlers, keepalivedPackageTasks, keepalivedTasks } from "./keepalived.ts";
import { loVipTasks } from "./lo_vip.ts";
import { notifyTasks } from "./notify.ts";
import { redirectHandlers, redirectTasks } from "./redirect.ts";
import { scriptUserTasks } from "./script_user.ts";
import { lbSysctlTasks, realServerSysctlTasks } from "./sysctl.ts";

/** The real-server tasks of any host (empty when it serves no DR VIP). */
export function realServerRoleTasks(host: HostContext): Task[] {
  return [...realServerSysctlTasks(host), ...loVipTasks(host), ...redirectTasks(host)];
}

/** Tasks of a host as a load balancer (empty when it is none); same-box-dr real-server tasks first. */
export function loadBalancerTasks(host: HostContext): Task[] {
  if (!lbView(host)) return [];
  return [
    ...realServerRoleTasks(host),
    ...keepalivedPackageTasks(host),
    ...scriptUserTasks(host),
    ...notifyTasks(host),
    ...lbSysctlTasks(host),
    ...dsrFwmarkTasks(host),
    ...keepalivedTasks(host),
  ];
}

/** Handlers of a load balancer (one "save iptables rules" for redirect and dsr_fwmark). */
export function loadBalancerHandlers(host: HostContext): Handler[] {
  if (!lbView(host)) return [];
  const extra = [...redirectHandlers(host), ...dsrFwmarkHandlers(host)];
  return [...keepalivedHandlers(host), ...extra.slice(0, 1)];
}
