/**
 * Lint, part 3: LVS service rules (pure, on the cluster model): service shape, who carries the
 * VIP, real servers (resolution, NAT return path, DR adjacency, ports) and same-box DR.
 * @module
 */
import { inSubnet, networkOf, parseIpPrefix } from "./_net.ts";
import type { Finding } from "./_locate.ts";
import {
  type Cluster,
  type HostMap,
  instanceVips,
  lbVarsOf,
  type ResolvedService,
} from "./cluster.ts";
import { WRONG } from "./lint_vrrp.ts";
import { checkersOf } from "./schema.ts";

const svcPath = (
  s: ResolvedService,
  ...rest: (string | number)[]
) => ["haplay_lb", "services", s.index, ...rest];
const LVS = (s: ResolvedService) => s.mode !== "vrrp-only";
const isDr = (s: ResolvedService) =>
  s.mode === "dr" || s.mode === "same-box-dr" || s.mode === "dsr-fwmark";

/** Required fields per mode; duplicate virtual servers. */
export function ruleServiceShape(c: Cluster): Finding[] {
  const out: Finding[] = [];
  const err = (s: ResolvedService, path: (string | number)[], message: string) =>
    out.push({ host: c.owner, path: svcPath(s, ...path), message, severity: "error" });
  const heads = new Map<string, string>();
  for (const s of c.services) {
    const { vip, port, fwmark } = s.cfg;
    if (s.mode === "dsr-fwmark" && (vip === undefined || fwmark === undefined)) {
      err(s, [], `dsr-fwmark needs both vip (marked by iptables) and fwmark (the virtual server)`);
    }
    if (s.mode !== "dsr-fwmark" && LVS(s) && fwmark === undefined && port === undefined) {
      err(s, [], `${s.mode} needs a port (virtual_server VIP PORT) or a fwmark`);
    }
    if ((s.mode === "nat" || s.mode === "dr" || s.mode === "same-box-dr") && vip === undefined) {
      err(s, [], `${s.mode} needs a vip carried by a vrrp_instance`);
    }
    if (s.mode === "vrrp-only" && s.cfg.real_servers?.length) {
      out.push({
        host: c.owner,
        path: svcPath(s, "real_servers"),
        message: `vrrp-only services have no virtual_server: real_servers are ignored`,
        severity: "warning",
      });
    }
    if (
      LVS(s) && fwmark !== undefined && port === undefined && s.cfg.real_port === undefined &&
      checkersOf(s.cfg.health_check).some(({ check: h }) =>
        h.type !== "none" && h.type !== "MISC_CHECK" && h.connect_port === undefined
      )
    ) {
      err(s, ["health_check"], `a fwmark service without port needs health_check.connect_port`);
    }
    if (!LVS(s)) continue;
    const head = fwmark !== undefined ? `fwmark ${fwmark}` : `${vip} ${port} ${s.cfg.protocol}`;
    const prev = heads.get(head);
    if (prev) err(s, [], `same virtual server (${head}) as service ${prev}`);
    else heads.set(head, s.cfg.name);
  }
  return out;
}

/** Who carries the VIP: a vrrp_instance for nat/dr/same-box-dr, nobody for dsr-fwmark. */
export function ruleVipOwner(c: Cluster): Finding[] {
  const out: Finding[] = [];
  for (const s of c.services) {
    if (s.cfg.vip === undefined) continue;
    if (s.mode === "dsr-fwmark" && s.instance) {
      out.push({
        host: c.owner,
        path: svcPath(s, "vip"),
        message:
          `${WRONG}dsr-fwmark: ${s.cfg.vip} is in ${s.instance}'s virtual_ipaddress, but the LB must ` +
          `not own the VIP (the MARK rule routes it locally); replies from real servers carrying it ` +
          `as source are dropped as spoofed`,
        severity: "warning",
      });
    } else if (s.mode !== "dsr-fwmark" && !s.instance) {
      out.push({
        host: c.owner,
        path: svcPath(s, "vip"),
        message:
          `${WRONG}no vrrp_instance carries ${s.cfg.vip}: add it to a virtual_ipaddress, or ` +
          `clients cannot reach the service`,
        severity: "warning",
      });
    }
  }
  return out;
}

/** Real servers that do not resolve; services without real servers. */
export function ruleRealServers(c: Cluster): Finding[] {
  const out: Finding[] = c.problems.map((p) => ({
    host: p.host,
    path: p.path,
    message: p.message,
    severity: p.severity === "error" ? "error" as const : "warning" as const,
  }));
  for (const s of c.services) {
    if (!LVS(s) || s.realServers.length > 0 || c.problems.some((p) => p.path[2] === s.index)) {
      continue;
    }
    out.push({
      host: c.owner,
      path: svcPath(s, s.cfg.real_servers ? "real_servers" : "name"),
      message:
        `${WRONG}service ${s.cfg.name} has no real servers (group '${c.cfg.real_group}' is empty?): ` +
        `keepalived ignores the virtual server`,
      severity: "warning",
    });
  }
  return out;
}

/** NAT: the real servers' default gateway must be a VRRP address of the LBs. */
export function ruleNatGateway(c: Cluster, all: HostMap): Finding[] {
  const out: Finding[] = [];
  const floating = new Set(
    c.cfg.vrrp_instances.flatMap((i) => instanceVips(i).map((v) => v.address)),
  );
  const fixed = new Map(c.members.filter((m) => m.address).map((m) => [m.address!, m.name]));
  for (const s of c.services.filter((s) => s.mode === "nat")) {
    for (const r of s.realServers) {
      if (!r.host) {
        out.push({
          host: c.owner,
          path: svcPath(s, "real_servers", r.ref),
          message:
            `hint: NAT real server ${r.address} is outside the inventory; make sure its default ` +
            `gateway is a VRRP address of the LBs (${[...floating].join(", ")})`,
          severity: "warning",
        });
        continue;
      }
      const gw = lbVarsOf(all.get(r.host)!)?.default_gateway;
      if (gw === undefined) {
        out.push({
          host: r.host,
          path: ["default_gateway"],
          message:
            `hint: set default_gateway on NAT real server ${r.host} so lint can check that ` +
            `replies return through the LB (${[...floating].join(", ")})`,
          severity: "warning",
        });
      } else if (fixed.has(gw)) {
        out.push({
          host: r.host,
          path: ["default_gateway"],
          message:
            `${WRONG}${r.host}'s default gateway ${gw} is ${
              fixed.get(gw)
            }'s own address: after a ` +
            `failover replies go to the BACKUP and NAT breaks; use a VRRP address (${
              [...floating].join(", ")
            })`,
          severity: "warning",
        });
      } else if (!floating.has(gw)) {
        out.push({
          host: r.host,
          path: ["default_gateway"],
          message:
            `${WRONG}NAT needs the LB as the real servers' default gateway, but ${r.host} uses ` +
            `${gw}: replies bypass the LB and are never translated back`,
          severity: "warning",
        });
      }
    }
  }
  return out;
}

/** The LB segment of a cluster: `subnet`, else a member's address prefix, else a VIP prefix. */
export function lbSubnet(c: Cluster): string | undefined {
  if (c.cfg.subnet) return networkOf(c.cfg.subnet) ?? c.cfg.subnet;
  const m = c.members.find((m) => m.address && m.prefix !== undefined);
  if (m) return networkOf(`${m.address}/${m.prefix}`) ?? undefined;
  for (const i of c.cfg.vrrp_instances) {
    const v = instanceVips(i).find((v) =>
      v.prefix !== undefined && v.prefix < (v.family === 4 ? 32 : 128)
    );
    if (v) return networkOf(`${v.address}/${v.prefix}`) ?? undefined;
  }
  return undefined;
}

/** DR: real servers must be on the LB's segment (LVS-DR rewrites only the MAC). */
export function ruleDrSubnet(c: Cluster): Finding[] {
  const net = lbSubnet(c);
  if (!net) return [];
  const out: Finding[] = [];
  for (const s of c.services.filter(isDr)) {
    for (const r of s.realServers) {
      if (!r.address || parseIpPrefix(r.address)?.family !== parseIpPrefix(net)?.family) continue;
      if (inSubnet(r.address, net)) continue;
      out.push({
        host: r.host ?? c.owner,
        path: r.host ? ["data_address"] : svcPath(s, "real_servers", r.ref),
        message:
          `${WRONG}DR real server ${
            r.host ?? r.address
          } (${r.address}) of ${s.cfg.name} is outside ` +
          `the LB segment ${net}: direct routing only reaches hosts on the same L2 segment`,
        severity: "warning",
      });
    }
  }
  return out;
}

/** DR cannot change ports: the real server port must equal the service port. */
export function ruleDrPort(c: Cluster): Finding[] {
  const out: Finding[] = [];
  for (const s of c.services.filter(isDr)) {
    const port = s.cfg.port;
    if (port === undefined) continue;
    const bad = s.realServers.filter((r) => r.port !== undefined && r.port !== port);
    const byPath = new Map<string, typeof bad>();
    for (const r of bad) {
      const own = r.ref >= 0 && typeof s.cfg.real_servers?.[r.ref] === "object" &&
        (s.cfg.real_servers[r.ref] as { port?: number }).port !== undefined;
      const key = own ? String(r.ref) : "real_port";
      byPath.set(key, [...(byPath.get(key) ?? []), r]);
    }
    for (const [key, rs] of byPath) {
      out.push({
        host: c.owner,
        path: svcPath(s, ...(key === "real_port" ? ["real_port"] : ["real_servers", Number(key)])),
        message:
          `${WRONG}DR forwards packets unchanged: real server port ${rs[0].port} differs from ` +
          `the service port ${port}, so ${rs.map((r) => r.host ?? r.address).join(", ")} ` +
          `${rs.length > 1 ? "receive" : "receives"} them on ${port}`,
        severity: "warning",
      });
    }
  }
  return out;
}

/** An LB that is also a real server needs same-box-dr (the notify swap), or IPVS loops. */
export function ruleSameBox(c: Cluster): Finding[] {
  const lbs = new Set(c.members.map((m) => m.name));
  const out: Finding[] = [];
  for (const s of c.services.filter((s) => s.mode === "dr" || s.mode === "nat")) {
    const both = s.realServers.filter((r) => r.host && lbs.has(r.host)).map((r) => r.host!);
    if (!both.length) continue;
    out.push({
      host: c.owner,
      path: svcPath(s, "mode"),
      message:
        `${WRONG}${both.join(", ")} ${both.length > 1 ? "are" : "is"} both LB and real server of ` +
        `${s.cfg.name} without the notify swap: a BACKUP running IPVS forwards the packets it gets ` +
        `again (loop); use mode same-box-dr`,
      severity: "warning",
    });
  }
  return out;
}

/** `vip_method: lo` is IPv4 only (the lo_vip role). */
export function ruleLoFamily(c: Cluster): Finding[] {
  return c.services.filter((s) => s.vipMethod === "lo" && s.cfg.vip?.includes(":")).map((s) => ({
    host: c.owner,
    path: svcPath(s, "vip"),
    message: `vip_method lo supports IPv4 VIPs only; use vip_method: redirect for ${s.cfg.vip}`,
    severity: "error" as const,
  }));
}
