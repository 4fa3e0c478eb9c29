/**
 * The site playbook (default of `deno task deploy <inventory>`): HA load balancers from the
 * `haplay_lb` section of an inventory (see `docs/lb.md`).
 *
 * 1. "real servers" (every host, in parallel): kernel ARP settings and the VIP on lo, or the
 *    REDIRECT rule, on every host some DR service balances to. Done first so no LB forwards to
 *    a host that would drop the packets.
 * 2. "load balancers" (`serial: 1`): keepalived package, script user and sudoers, notify
 *    scripts, sysctls, fwmark policy routing, then DAEMON_ARGS, keepalived.conf (validated on the
 *    host) and the service; handlers reload/restart keepalived and confirm it is alive. One host
 *    at a time so a bad config stops the rollout with the pair still serving; `order` asks for
 *    the lowest priority (the BACKUPs) first and the MASTER last (see {@link rollingHosts}).
 * Same-box DR hosts are in both plays. Hosts a play has nothing for get no tasks.
 *
 * `lint` checks the LB variables (schema and rules) before any host is contacted; `verify`
 * checks keepalived, VRRP ownership, real servers and health-check targets after the deploy.
 * @module
 */
import type { Inventory, Issue } from "../engine/inventory.ts";
import type { VerifyCheck, VerifyContext } from "../engine/playbook.ts";
import type { Handler, HostContext, Play, Task } from "../engine/types.ts";
import { lbView } from "../roles/_context.ts";
import { allClusters, rollingOrder } from "../roles/cluster.ts";
import { dsrFwmarkTasks } from "../roles/dsr_fwmark.ts";
import {
  keepalivedHandlers,
  keepalivedPackageTasks,
  keepalivedTasks,
} from "../roles/keepalived.ts";
import { lintLb } from "../roles/lint.ts";
import { loVipTasks } from "../roles/lo_vip.ts";
import { notifyTasks } from "../roles/notify.ts";
import { redirectTasks } from "../roles/redirect.ts";
import { scriptUserTasks } from "../roles/script_user.ts";
import { lbSysctlTasks, realServerSysctlTasks } from "../roles/sysctl.ts";
import { verifyLb } from "../roles/verify.ts";

/** Tasks of a host as a real server (empty when it serves no DR VIP). */
export function realServerTasks(host: HostContext): Task[] {
  return [...realServerSysctlTasks(host), ...loVipTasks(host), ...redirectTasks(host)];
}

/** Tasks of a host as a load balancer (empty when it is none). */
export function loadBalancerTasks(host: HostContext): Task[] {
  if (!lbView(host)) return [];
  return [
    ...keepalivedPackageTasks(host),
    ...scriptUserTasks(host),
    ...notifyTasks(host),
    ...lbSysctlTasks(host),
    ...dsrFwmarkTasks(host),
    ...keepalivedTasks(host),
  ];
}

/** Handlers of a load balancer. */
export function loadBalancerHandlers(host: HostContext): Handler[] {
  return lbView(host) ? keepalivedHandlers(host) : [];
}

/**
 * Rolling order of hosts: load balancers by ascending VRRP priority of their first instance
 * (BACKUPs first, the expected MASTER last); other hosts keep their place before them.
 */
export function rollingHosts(hosts: HostContext[]): HostContext[] {
  if (!hosts.length) return hosts;
  const all = hosts[0].all;
  const rank = new Map<string, number>();
  for (const c of allClusters(all)) rollingOrder(c).forEach((n, i) => rank.set(n, i));
  return hosts.map((h, i) => ({ h, i, r: rank.get(h.name) ?? -1 }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.h);
}

/** A play with the ordering hook haplay's engine may honour (ignored where it does not). */
type OrderedPlay = Play & { order?: (hosts: HostContext[]) => HostContext[] };

/** The plays. */
export const plays: OrderedPlay[] = [
  { name: "real servers", hosts: "all", tasks: realServerTasks },
  {
    name: "load balancers",
    hosts: "all",
    serial: 1,
    order: rollingHosts,
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
