/**
 * The roles of `roles/` by name, for YAML playbooks: the zod schema of the variables a role
 * reads (what a play's `vars:` for it may set), its tasks and handlers, and whether it is a
 * load-balancer role (then the playbook lints the inventory's `haplay_lb` like the site playbook,
 * and a play using `keepalived` gets the site playbook's rolling order and gates).
 *
 * Every role here reads the load-balancer layer's host variables ({@link LbHostVars}: the
 * `haplay_lb` section, `vrrp_priority`, `vrrp_interface`, `data_address`, ...) of the host and of
 * its peers, plus its own (e.g. `keepalived` needs `haplay_lb`).
 * @module
 */
import { z } from "zod";
import type { Handler, HostContext, Task } from "../engine/types.ts";
import { loadBalancerHandlers, loadBalancerTasks, realServerRoleTasks } from "./load_balancer.ts";
import { dsrFwmarkHandlers, dsrFwmarkTasks, DsrFwmarkVars } from "./dsr_fwmark.ts";
import {
  keepalivedHandlers,
  keepalivedPackageTasks,
  keepalivedTasks,
  KeepalivedVars,
  RELOAD,
  RESTART,
} from "./keepalived.ts";
import { LbHostVars, LbSection } from "../lb/schema.ts";
import { loVipTasks, LoVipVars } from "./lo_vip.ts";
import { notifyTasks } from "./notify.ts";
import { redirectHandlers, redirectTasks, RedirectVars, SAVE_IPTABLES } from "./redirect.ts";
import { scriptUserTasks } from "./script_user.ts";
import { lbSysctlTasks, realServerSysctlTasks, SysctlVars } from "./sysctl.ts";

/** One role as a YAML playbook sees it. */
export interface RoleDef {
  /** Name used in `roles:`. */
  name: string;
  /** One line: what it deploys. */
  summary: string;
  /** The variables the role reads; a play's `vars:` for it are checked key by key. */
  vars: z.ZodObject;
  /** Tasks of one host (after the play's `vars:` for the role are applied). */
  tasks(host: HostContext): Task[];
  /** Handlers of one host. */
  handlers(host: HostContext): Handler[];
  /** Names of the handlers it may define (for checking `notify:` at load time). */
  handlerNames: readonly string[];
  /** Reads `haplay_lb`: lint the inventory's section before any host is contacted. */
  lb: boolean;
  /** Deploys keepalived: the play gets the site playbook's rolling order and gates. */
  keepalived: boolean;
}

/** The LB-layer host variables, with the role's own schema on top. */
function lbVars(own: z.ZodObject, section: z.ZodType = LbSection.optional()): z.ZodObject {
  return LbHostVars.extend(own.shape).extend({ haplay_lb: section });
}

const LB_HANDLERS = [RELOAD, RESTART, SAVE_IPTABLES];

const DEFS: RoleDef[] = [
  {
    name: "keepalived",
    summary:
      "keepalived package, script user and sudoers, notify scripts, keepalived.conf, service",
    vars: lbVars(KeepalivedVars, LbSection),
    tasks: (h) => [
      ...keepalivedPackageTasks(h),
      ...scriptUserTasks(h),
      ...notifyTasks(h),
      ...keepalivedTasks(h),
    ],
    handlers: keepalivedHandlers,
    handlerNames: [RELOAD, RESTART],
    lb: true,
    keepalived: true,
  },
  {
    name: "lo_vip",
    summary: "the DR VIPs a real server serves, as /32 addresses on lo (netplan)",
    vars: lbVars(LoVipVars),
    tasks: loVipTasks,
    handlers: () => [],
    handlerNames: [],
    lb: true,
    keepalived: false,
  },
  {
    name: "sysctl",
    summary:
      "kernel parameters: ip_forward/rp_filter on load balancers, ARP on lo-VIP real servers",
    vars: lbVars(SysctlVars),
    tasks: (h) => [...realServerSysctlTasks(h), ...lbSysctlTasks(h)],
    handlers: () => [],
    handlerNames: [],
    lb: true,
    keepalived: false,
  },
  {
    name: "redirect",
    summary: "iptables REDIRECT of the VIPs a real server accepts, persisted",
    vars: lbVars(RedirectVars),
    tasks: redirectTasks,
    handlers: redirectHandlers,
    handlerNames: [SAVE_IPTABLES],
    lb: true,
    keepalived: false,
  },
  {
    name: "dsr_fwmark",
    summary: "fwmark MARK rules, ip rule and local route of a dsr-fwmark load balancer",
    vars: lbVars(DsrFwmarkVars),
    tasks: dsrFwmarkTasks,
    handlers: dsrFwmarkHandlers,
    handlerNames: [SAVE_IPTABLES],
    lb: true,
    keepalived: false,
  },
  {
    name: "real_server",
    summary: "everything a real server needs (sysctl, lo_vip, redirect), as the site playbook",
    vars: lbVars(z.object({})),
    tasks: realServerRoleTasks,
    handlers: redirectHandlers,
    handlerNames: [SAVE_IPTABLES],
    lb: true,
    keepalived: false,
  },
  {
    name: "load_balancer",
    summary: "a whole load balancer (keepalived, sysctl, dsr_fwmark, same-box real server)",
    vars: lbVars(KeepalivedVars, LbSection),
    tasks: loadBalancerTasks,
    handlers: loadBalancerHandlers,
    handlerNames: LB_HANDLERS,
    lb: true,
    keepalived: true,
  },
];

/** Roles by name. */
export const ROLES: ReadonlyMap<string, RoleDef> = new Map(DEFS.map((d) => [d.name, d]));

/** Every role name, sorted. */
export const ROLE_NAMES: readonly string[] = [...ROLES.keys()].sort();
