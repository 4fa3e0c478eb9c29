/**
 * The load-balancer roles (`@haplay/haplay/roles`): functions `(host) => Task[]` (and their
 * handlers) that read a host's `haplay_lb` variables (see `docs/lb.md`) and return nothing for a
 * host they do not concern; `playbooks/site.ts` composes them. Plus the LB layer's lint (before
 * any host is contacted) and verify (after a deploy).
 *
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { keepalivedHandlers, keepalivedPackageTasks, keepalivedTasks } from "./mod.ts";
 * const play: Play = {
 *   name: "keepalived only",
 *   hosts: "lvs",
 *   tasks: (h) => [...keepalivedPackageTasks(h), ...keepalivedTasks(h)],
 *   handlers: keepalivedHandlers,
 * };
 * ```
 * @module
 */
import { keepalivedPackageTasks as _keepalivedPackageTasks } from "./keepalived.ts";
import { keepalivedTasks as _keepalivedTasks } from "./keepalived.ts";
import { keepalivedHandlers as _keepalivedHandlers } from "./keepalived.ts";
import { scriptUserTasks as _scriptUserTasks } from "./script_user.ts";
import { notifyTasks as _notifyTasks } from "./notify.ts";
import { lbSysctlTasks as _lbSysctlTasks } from "./sysctl.ts";
import { realServerSysctlTasks as _realServerSysctlTasks } from "./sysctl.ts";
import { loVipTasks as _loVipTasks } from "./lo_vip.ts";
import { redirectTasks as _redirectTasks } from "./redirect.ts";
import { redirectHandlers as _redirectHandlers } from "./redirect.ts";
import { dsrFwmarkTasks as _dsrFwmarkTasks } from "./dsr_fwmark.ts";
import { dsrFwmarkHandlers as _dsrFwmarkHandlers } from "./dsr_fwmark.ts";
import { lintLb as _lintLb } from "../lb/lint.ts";
import { verifyLb as _verifyLb } from "../lb/verify.ts";

/**
 * The keepalived package (apt).
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { keepalivedPackageTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: keepalivedPackageTasks };
 * ```
 */
export const keepalivedPackageTasks: typeof _keepalivedPackageTasks = _keepalivedPackageTasks;

/**
 * DAEMON_ARGS, the config validator, keepalived.conf (tested on the host before it lands) and the service.
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { keepalivedTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: keepalivedTasks };
 * ```
 */
export const keepalivedTasks: typeof _keepalivedTasks = _keepalivedTasks;

/**
 * Handlers of the keepalived role: reload (keeps the PID) or restart, then an alive check.
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { keepalivedHandlers } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all", tasks: () => [], handlers: keepalivedHandlers };
 * ```
 */
export const keepalivedHandlers: typeof _keepalivedHandlers = _keepalivedHandlers;

/**
 * The `keepalived_script` user and a sudoers drop-in granting exactly the commands the notify scripts run.
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { scriptUserTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: scriptUserTasks };
 * ```
 */
export const scriptUserTasks: typeof _scriptUserTasks = _scriptUserTasks;

/**
 * The notify scripts (and the same-box DR virtual-server switch) of a load balancer.
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { notifyTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: notifyTasks };
 * ```
 */
export const notifyTasks: typeof _notifyTasks = _notifyTasks;

/**
 * A load balancer's sysctls (ip_forward, nonlocal bind, ... as its services need).
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { lbSysctlTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: lbSysctlTasks };
 * ```
 */
export const lbSysctlTasks: typeof _lbSysctlTasks = _lbSysctlTasks;

/**
 * A DR real server's ARP sysctls (arp_ignore, arp_announce).
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { realServerSysctlTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: realServerSysctlTasks };
 * ```
 */
export const realServerSysctlTasks: typeof _realServerSysctlTasks = _realServerSysctlTasks;

/**
 * A DR real server's VIPs on `lo` (netplan-persisted, made live).
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { loVipTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: loVipTasks };
 * ```
 */
export const loVipTasks: typeof _loVipTasks = _loVipTasks;

/**
 * A DR real server accepting the VIP by an iptables REDIRECT, persisted with iptables-persistent.
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { redirectTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: redirectTasks };
 * ```
 */
export const redirectTasks: typeof _redirectTasks = _redirectTasks;

/**
 * Handlers of the redirect role (save the iptables rules).
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { redirectHandlers } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all", tasks: () => [], handlers: redirectHandlers };
 * ```
 */
export const redirectHandlers: typeof _redirectHandlers = _redirectHandlers;

/**
 * DSR via fwmark: the mangle MARK rule, `ip rule fwmark` and the local route table.
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { dsrFwmarkTasks } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all",  tasks: dsrFwmarkTasks };
 * ```
 */
export const dsrFwmarkTasks: typeof _dsrFwmarkTasks = _dsrFwmarkTasks;

/**
 * Handlers of the DSR fwmark role (save the iptables rules).
 * @example
 * ```ts
 * import type { Play } from "../mod.ts";
 * import { dsrFwmarkHandlers } from "./mod.ts";
 * const play: Play = { name: "lb", hosts: "all", tasks: () => [], handlers: dsrFwmarkHandlers };
 * ```
 */
export const dsrFwmarkHandlers: typeof _dsrFwmarkHandlers = _dsrFwmarkHandlers;

/**
 * The LB layer's static checks: the `haplay_lb` schema, then keepalived-like rules (router ids,
 * priorities, auth, VIP counts, real-server reachability), each positioned in the inventory.
 * @example
 * ```ts
 * import { formatIssue, loadInventory } from "../mod.ts";
 * import { lintLb } from "./mod.ts";
 * async function lint(file: string): Promise<string[]> {
 *   return lintLb(await loadInventory(file)).map(formatIssue);
 * }
 * ```
 */
export const lintLb: typeof _lintLb = _lintLb;

/**
 * Live checks after a deploy: keepalived running with a clean config test, one MASTER and the
 * VIP on exactly one host per VRRP instance, real servers accepting the VIP, health-check
 * targets answering (one exec per host).
 * @example
 * ```ts
 * import { loadInventory } from "../mod.ts";
 * import { verifyLb } from "./mod.ts";
 * async function healthy(file: string): Promise<boolean> {
 *   const checks = await verifyLb({ inventory: await loadInventory(file), log: console.log });
 *   return checks.every((c) => c.ok);
 * }
 * ```
 */
export const verifyLb: typeof _verifyLb = _verifyLb;
