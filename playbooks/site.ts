/**
 * The site playbook (default of `deno task deploy <inventory>`): HA load balancers from the
 * `haplay_lb` section of an inventory (see `docs/lb.md`).
 *
 * 1. "real servers" (every host, in parallel): kernel ARP settings and the VIP on lo, or the
 *    REDIRECT rule, on every host some DR service balances to. Done first so no LB forwards to
 *    a host that would drop the packets.
 * 2. "load balancers" (`rolling.serial: 1`): keepalived package, script user and sudoers, notify
 *    scripts, sysctls, fwmark policy routing, then DAEMON_ARGS, keepalived.conf (validated on the
 *    host) and the service; handlers reload/restart keepalived and confirm it is alive. One host
 *    at a time: `order` puts the BACKUPs first (lowest priority first) and the host holding the
 *    VIP right now last ({@link liveOrder}, from `orderProbe` in the first probe; when no LB holds
 *    a VIP, nothing is serving and all converge at once, {@link rollingIf} as `rolling.when`);
 *    each changed LB is gated before the next is touched (`gateScript`: keepalived running,
 *    config test clean; `gate`: exactly one LB holds the VIP); a failing gate rolls that host
 *    back and stops the rollout with the pair still serving.
 * Same-box DR hosts get their real-server tasks in the LB play (before keepalived), so a run
 * applies to each host in one play only. Hosts a play has nothing for get no tasks.
 *
 * `lint` checks the LB variables (schema and rules) before any host is contacted; `verify`
 * checks keepalived, VRRP ownership, real servers and health-check targets after the deploy.
 * @module
 */
import type { Inventory, Issue } from "../engine/inventory.ts";
import type { VerifyCheck, VerifyContext } from "../engine/playbook.ts";
import type { Handler, HostContext, Play, Task } from "../engine/types.ts";
import { lbView } from "../lb/context.ts";
import { holdsVipScript, lbGateScript, liveOrder, rollingIf, vipGate } from "../lb/gate.ts";
import { dsrFwmarkHandlers, dsrFwmarkTasks } from "../roles/dsr_fwmark.ts";
import {
  keepalivedHandlers,
  keepalivedPackageTasks,
  keepalivedTasks,
} from "../roles/keepalived.ts";
import { lintLb } from "../lb/lint.ts";
import { loVipTasks } from "../roles/lo_vip.ts";
import { notifyTasks } from "../roles/notify.ts";
import { redirectHandlers, redirectTasks } from "../roles/redirect.ts";
import { scriptUserTasks } from "../roles/script_user.ts";
import { lbSysctlTasks, realServerSysctlTasks } from "../roles/sysctl.ts";
import { verifyLb } from "../lb/verify.ts";

/** The real-server tasks of any host (empty when it serves no DR VIP). */
export function realServerRoleTasks(host: HostContext): Task[] {
  return [...realServerSysctlTasks(host), ...loVipTasks(host), ...redirectTasks(host)];
}

/**
 * Tasks of the "real servers" play: the real-server tasks of hosts that are not load balancers
 * (a same-box-dr LB gets them in its own play, so one run touches each host in one play only).
 */
export function realServerTasks(host: HostContext): Task[] {
  return lbView(host) ? [] : realServerRoleTasks(host);
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

/** Handlers of the "real servers" play. */
export function realServerHandlers(host: HostContext): Handler[] {
  return lbView(host) ? [] : redirectHandlers(host);
}

/** Handlers of a load balancer (one "save iptables rules" for redirect and dsr_fwmark). */
export function loadBalancerHandlers(host: HostContext): Handler[] {
  if (!lbView(host)) return [];
  const extra = [...redirectHandlers(host), ...dsrFwmarkHandlers(host)];
  return [...keepalivedHandlers(host), ...extra.slice(0, 1)];
}

export {
  GATE_SCRIPT,
  gateResult,
  holdsVipScript,
  lbGate,
  lbGateScript,
  liveOrder,
  rollingHosts,
  rollingIf,
  vipGate,
  vipSamplesScript,
} from "../lb/gate.ts";

/** The plays. */
export const plays: Play[] = [
  { name: "real servers", hosts: "all", tasks: realServerTasks, handlers: realServerHandlers },
  {
    name: "load balancers",
    hosts: "all",
    rolling: {
      serial: 1,
      order: liveOrder,
      orderProbe: holdsVipScript,
      when: rollingIf,
      gateScript: lbGateScript,
      gate: vipGate,
    },
    tasks: loadBalancerTasks,
    handlers: loadBalancerHandlers,
  },
];

/** Static checks: the LB variables' schema and every lint rule, positioned. */
export function lint(inv: Inventory): Issue[] {
  return lintLb(inv);
}

/** Live checks after a deploy. */
export function verify(ctx: VerifyContext): Promise<VerifyCheck[]> {
  return verifyLb(ctx);
}
