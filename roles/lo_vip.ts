/**
 * Role `lo_vip`: DR real servers (and same-box-dr load balancers) own the VIPs they serve as
 * /32 addresses on `lo`, live and persisted in netplan (`/etc/netplan/99-haplay-lo.yaml`), so
 * they accept packets the LB forwards unchanged. On systemd-networkd hosts that file is what
 * brings them back at boot; the live address is `ip addr replace` plus a reload of networkd's
 * rendering of `lo` only (see `tasks/lo_vip.ts` and README "The lo VIP and netplan"). ARP for
 * them is suppressed by the `sysctl` role (arp_ignore/arp_announce), so only the VRRP MASTER
 * answers for the VIP.
 * @module
 */
import { z } from "zod";
import type { HostContext, Task } from "../engine/types.ts";
import { loVip } from "../tasks/mod.ts";
import { realServerDuties } from "../lb/cluster.ts";
import { NETPLAN_LO_NAME } from "../lb/paths.ts";

/** The role's variables: none of its own (the VIPs come from the services it serves). */
export const LoVipVars = z.object({});

/** The VIPs (A.B.C.D/32) a host must carry on lo. */
export function loVips(host: HostContext): string[] {
  const vips = realServerDuties(host.name, host.all)
    .filter((d) => d.method === "lo" && d.service.cfg.vip !== undefined)
    .map((d) => `${d.service.cfg.vip}/32`);
  return [...new Set(vips)];
}

/** The lo VIP task (none when the host serves no DR VIP through lo). */
export function loVipTasks(host: HostContext): Task[] {
  const vips = loVips(host);
  return vips.length ? [loVip({ address: vips, file: NETPLAN_LO_NAME, tags: ["lo_vip"] })] : [];
}
