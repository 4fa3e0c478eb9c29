/**
 * Role `sysctl`: kernel parameters per role and variant, as the seeds set them.
 *
 * Load balancers (`/etc/sysctl.d/90-haplay-lb.conf`):
 * - any LVS service (nat, dr, dsr-fwmark, same-box-dr): `net.ipv4.ip_forward = 1`
 *   (NAT needs it; the DR seeds 000/001 set it too);
 * - dsr-fwmark: `rp_filter = 0` on `all` and on the inside interfaces (`rp_filter_off`, default
 *   the VRRP interfaces) so replies from the real servers are not dropped (seed 002); also
 *   applied to `rp_filter_off` interfaces in other modes when set (seed 000: NICs differ).
 * DR real servers with the VIP on lo (`/etc/sysctl.d/90-haplay-rs.conf`):
 * - `arp_ignore = 1`, `arp_announce = 2` on `all` and on the segment interface (seed 000/004):
 *   only the LB answers ARP for the VIP. REDIRECT real servers need no ARP settings.
 * @module
 */
import { z } from "zod";
import type { HostContext, Task } from "../engine/types.ts";
import { sysctl } from "../tasks/mod.ts";
import { lbView } from "../lb/context.ts";
import { interfaceOf, lbVarsOf, realServerDuties } from "../lb/cluster.ts";
import { LbSection } from "../lb/schema.ts";
import { SYSCTL_LB, SYSCTL_RS } from "../lb/paths.ts";

/** The role's variables: the section (modes, interfaces) and the host's `vrrp_interface`. */
export const SysctlVars = z.object({
  haplay_lb: LbSection.optional(),
  vrrp_interface: z.string().optional(),
});

/** A key/value pair. */
export interface Kv {
  key: string;
  value: number;
}

/** Kernel parameters of a load balancer (empty when it is none). */
export function lbSysctls(host: HostContext): Kv[] {
  const v = lbView(host);
  if (!v) return [];
  const { cluster: c, member: m } = v;
  const out: Kv[] = [];
  if (c.services.some((s) => s.mode !== "vrrp-only")) {
    out.push({ key: "net.ipv4.ip_forward", value: 1 });
  }
  const fwmark = c.services.some((s) => s.mode === "dsr-fwmark");
  const ifaces = c.cfg.rp_filter_off ??
    (fwmark ? [...new Set(c.cfg.vrrp_instances.map((i) => interfaceOf(c.cfg, m, i)))] : []);
  if (ifaces.length) {
    for (const i of ["all", ...ifaces]) out.push({ key: `net.ipv4.conf.${i}.rp_filter`, value: 0 });
  }
  return out;
}

/** Kernel parameters of a real server (empty unless it has the VIP on lo for a DR service). */
export function realServerSysctls(host: HostContext): Kv[] {
  const duties = realServerDuties(host.name, host.all);
  if (!duties.some((d) => d.method === "lo")) return [];
  const own = lbVarsOf(host)?.vrrp_interface;
  const ifaces = new Set<string>(["all"]);
  ifaces.add(own ?? duties[0].cluster.cfg.interface);
  return [...ifaces].flatMap((i) => [
    { key: `net.ipv4.conf.${i}.arp_ignore`, value: 1 },
    { key: `net.ipv4.conf.${i}.arp_announce`, value: 2 },
  ]);
}

/** sysctl tasks of a load balancer. */
export function lbSysctlTasks(host: HostContext): Task[] {
  return lbSysctls(host).map((kv) => sysctl({ ...kv, file: SYSCTL_LB, tags: ["sysctl"] }));
}

/** sysctl tasks of a real server. */
export function realServerSysctlTasks(host: HostContext): Task[] {
  return realServerSysctls(host).map((kv) => sysctl({ ...kv, file: SYSCTL_RS, tags: ["sysctl"] }));
}
