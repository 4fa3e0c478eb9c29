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
 * On a first install (no LB holds a VIP) the two plays run at the same time ({@link firstInstall}
 * as `withPrevious`): nothing is serving, and no host has work in both.
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
import {
  firstInstall,
  holdsVipScript,
  lbGateScript,
  liveOrder,
  rollingIf,
  vipGate,
} from "../lb/gate.ts";
import { lintLb } from "../lb/lint.ts";
import {
  loadBalancerHandlers,
  loadBalancerTasks,
  realServerRoleTasks,
} from "../roles/load_balancer.ts";
import { redirectHandlers } from "../roles/redirect.ts";
import { verifyLb } from "../lb/verify.ts";

/**
 * Tasks of the "real servers" play: the real-server tasks of hosts that are not load balancers
 * (a same-box-dr LB gets them in its own play, so one run touches each host in one play only).
 */
export function realServerTasks(host: HostContext): Task[] {
  return lbView(host) ? [] : realServerRoleTasks(host);
}

/** Handlers of the "real servers" play. */
export function realServerHandlers(host: HostContext): Handler[] {
  return lbView(host) ? [] : redirectHandlers(host);
}

export { loadBalancerHandlers, loadBalancerTasks, realServerRoleTasks };

export {
  firstInstall,
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
    withPrevious: firstInstall,
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
