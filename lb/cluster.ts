/**
 * The load-balancer cluster model: from the inventory's hosts (or a play's `HostContext.all`),
 * which hosts are load balancers of which `haplay_lb` section, their addresses, priorities and
 * initial states, and every service's real servers resolved to addresses. Pure; shared by the
 * renderer, lint, the roles and verify.
 * @module
 */
import { isIp, parseIpPrefix } from "./_net.ts";
import {
  type LbConfig,
  LbHostVars,
  type LbHostVarsConfig,
  type ModeName,
  type ServiceConfig,
  type VipEntryConfig,
  type VrrpInstanceConfig,
} from "./schema.ts";

/** The part of an inventory host (or HostContext) the model reads. */
export interface HostLike {
  /** Inventory name. */
  name: string;
  /** Merged variables. */
  vars: Record<string, unknown>;
  /** Groups, including "all". */
  groups: string[];
}

/** Every host of an inventory, by name. */
export type HostMap = ReadonlyMap<string, HostLike>;

/** A problem found while resolving the model: where (host + var path) and what. */
export interface ModelProblem {
  /** Host whose variables hold the offending value. */
  host: string;
  /** Path inside the host's vars, e.g. ["haplay_lb", "services", 0, "real_servers", 1]. */
  path: (string | number)[];
  /** Plain words. */
  message: string;
  /** "error": cannot be rendered or deployed; otherwise it would run but be wrong. */
  severity: "error" | "wrong";
}

/** One load balancer of a cluster. */
export interface LbMember {
  /** Inventory name. */
  name: string;
  /** Its parsed LB-layer variables. */
  vars: LbHostVarsConfig;
  /** Data-plane address (no prefix), when known. */
  address?: string;
  /** Prefix length of the data-plane address, when written. */
  prefix?: number;
}

/** A real server of a service, resolved. */
export interface RealServer {
  /** Inventory host, when it is one. */
  host?: string;
  /** Its address (undefined when the host has no IP address: an error). */
  address?: string;
  /** Port (undefined for portless fwmark services). */
  port?: number;
  weight: number;
  /** Index of the `real_servers` entry it came from (-1: the default list). */
  ref: number;
}

/** A service with its mode and real servers resolved. */
export interface ResolvedService {
  /** Position in `haplay_lb.services`. */
  index: number;
  /** The service as configured. */
  cfg: ServiceConfig;
  /** Effective mode (service's, else the section's). */
  mode: ModeName;
  /** How DR real servers accept the VIP (none for nat / vrrp-only). */
  vipMethod?: "lo" | "redirect";
  /** The VRRP instance whose addresses include the VIP, when one does. */
  instance?: string;
  /** Resolved real servers. */
  realServers: RealServer[];
}

/** One cluster: an LB group and the `haplay_lb` section its hosts deploy. */
export interface Cluster {
  /** The section (defaults applied), as seen by {@link Cluster.owner}. */
  cfg: LbConfig;
  /** The host the section was read from (the first LB host). */
  owner: string;
  /** The LB hosts (members of `lb_group` with a `haplay_lb`), inventory order. */
  members: LbMember[];
  /** Services, resolved. */
  services: ResolvedService[];
  /** Problems found while resolving. */
  problems: ModelProblem[];
}

/** A VRRP address entry normalized: address, prefix, dev, label. */
export interface Vip {
  address: string;
  family: 4 | 6;
  prefix?: number;
  dev?: string;
  label?: string;
  /** As written, for rendering (`198.18.0.100/24`). */
  text: string;
}

/** Normalizes a virtual_ipaddress entry. */
export function vipOf(e: VipEntryConfig): Vip {
  const o = typeof e === "string" ? { address: e } : e;
  const p = parseIpPrefix(o.address)!;
  return {
    address: p.address,
    family: p.family,
    prefix: p.prefix,
    dev: o.dev,
    label: o.label,
    text: o.address,
  };
}

/** Every address of an instance: virtual_ipaddress then virtual_ipaddress_excluded. */
export function instanceVips(i: VrrpInstanceConfig): Vip[] {
  return [...i.virtual_ipaddress, ...i.virtual_ipaddress_excluded].map(vipOf);
}

/** Parses a host's LB-layer vars, or undefined when they do not validate (lint reports it). */
export function lbVarsOf(h: HostLike): LbHostVarsConfig | undefined {
  // Parsed once per vars object: every host's task list reads every host's LB vars, so without
  // this, planning is quadratic in the number of hosts (inventories are not mutated).
  if (parsedVars.has(h.vars)) return parsedVars.get(h.vars);
  const r = LbHostVars.safeParse(h.vars);
  const out = r.success ? r.data : undefined;
  parsedVars.set(h.vars, out);
  return out;
}
const parsedVars = new WeakMap<object, LbHostVarsConfig | undefined>();
const clustersOf = new WeakMap<HostMap, Cluster[]>();

/** The data-plane address of a host: `data_address`, else `haplay_host`/`ansible_host` if an IP. */
export function addressOf(
  h: HostLike,
  parsed?: LbHostVarsConfig,
): { address?: string; prefix?: number } {
  const da = parsed?.data_address ??
    (typeof h.vars.data_address === "string" ? h.vars.data_address : undefined);
  if (da) {
    const p = parseIpPrefix(da);
    if (p) return { address: p.address, prefix: p.prefix };
  }
  for (const k of ["haplay_host", "ansible_host"]) {
    const v = h.vars[k];
    if (typeof v === "string" && isIp(v)) return { address: parseIpPrefix(v)!.address };
  }
  return isIp(h.name) ? { address: h.name } : {};
}

/** VRRP priority of a member for an instance, when set. */
export function priorityOf(m: LbMember, instance: string): number | undefined {
  const p = m.vars.vrrp_priority;
  return typeof p === "number" ? p : p?.[instance];
}

/** The VRRP interface of a member for an instance. */
export function interfaceOf(cfg: LbConfig, m: LbMember, inst: VrrpInstanceConfig): string {
  return inst.interface ?? m.vars.vrrp_interface ?? cfg.interface;
}

/**
 * Initial state of a member for an instance: the `vrrp_state` host var when set; else BACKUP
 * when the instance says so or uses nopreempt; else MASTER for the single highest priority.
 */
export function stateOf(c: Cluster, m: LbMember, inst: VrrpInstanceConfig): "MASTER" | "BACKUP" {
  const forced = m.vars.vrrp_state;
  const f = typeof forced === "string" ? forced : forced?.[inst.name];
  if (f) return f;
  if (inst.state === "BACKUP" || inst.nopreempt) return "BACKUP";
  const mine = priorityOf(m, inst.name);
  if (mine === undefined) return "BACKUP";
  const others = c.members.filter((x) => x.name !== m.name).map((x) =>
    priorityOf(x, inst.name) ?? 0
  );
  return others.every((p) => p < mine) ? "MASTER" : "BACKUP";
}

/** The members of a cluster ordered for a rolling deploy: lowest priority first, MASTER last. */
export function rollingOrder(c: Cluster): string[] {
  const first = c.cfg.vrrp_instances[0]?.name ?? "";
  return [...c.members]
    .map((m, i) => ({ m, i, p: priorityOf(m, first) ?? 0 }))
    .sort((a, b) => a.p - b.p || a.i - b.i)
    .map((x) => x.m.name);
}

/** Hosts of a group (by membership), in map order. */
export function groupHosts(all: HostMap, group: string): string[] {
  return [...all.values()].filter((h) => h.groups.includes(group)).map((h) => h.name);
}

/**
 * The cluster a host deploys or belongs to as a load balancer: read from `hostName`'s own
 * `haplay_lb`. Returns undefined when the host has no (valid) section.
 */
export function clusterOf(hostName: string, all: HostMap): Cluster | undefined {
  const h = all.get(hostName);
  const vars = h && lbVarsOf(h);
  if (!h || !vars?.haplay_lb) return undefined;
  const cfg = vars.haplay_lb;
  // The cluster depends only on the section's content and the host map: every host that
  // inherits the same haplay_lb (group vars) shares one, built once per map. Without this,
  // every host's tasks and order probe rebuilt it over all real servers: quadratic in hosts
  // (1,000 hosts: minutes of CPU).
  let byCfg = clustersByCfg.get(all);
  if (!byCfg) clustersByCfg.set(all, byCfg = new Map());
  let key = cfgKeys.get(cfg);
  if (key === undefined) cfgKeys.set(cfg, key = JSON.stringify(cfg));
  const known = byCfg.get(key);
  if (known) return known;
  const built = buildCluster(hostName, cfg, all);
  if (built.members.length) byCfg.set(key, built); // else its owner is hostName: not shared
  return built;
}
const clustersByCfg = new WeakMap<HostMap, Map<string, Cluster>>();
const cfgKeys = new WeakMap<object, string>();

function buildCluster(hostName: string, cfg: LbConfig, all: HostMap): Cluster {
  const problems: ModelProblem[] = [];
  const members: LbMember[] = [];
  for (const name of groupHosts(all, cfg.lb_group)) {
    const mh = all.get(name)!;
    const mv = lbVarsOf(mh);
    if (!mv?.haplay_lb) continue;
    members.push({ name, vars: mv, ...addressOf(mh, mv) });
  }
  const owner = members[0]?.name ?? hostName;
  const c: Cluster = { cfg, owner, members, services: [], problems };
  c.services = cfg.services.map((s, i) => resolveService(c, s, i, all, owner));
  return c;
}

/** Every distinct cluster of an inventory, keyed by LB group (first definition wins). */
export function allClusters(all: HostMap): Cluster[] {
  const known = clustersOf.get(all);
  if (known) return known;
  const seen = new Map<string, Cluster>();
  for (const h of all.values()) {
    const v = lbVarsOf(h)?.haplay_lb;
    if (!v || seen.has(v.lb_group)) continue;
    const first = groupHosts(all, v.lb_group).find((n) => lbVarsOf(all.get(n)!)?.haplay_lb) ??
      h.name;
    const c = clusterOf(first, all);
    if (c) seen.set(v.lb_group, c);
  }
  const out = [...seen.values()];
  clustersOf.set(all, out);
  return out;
}

/** The cluster whose LB group the host is a member of, when it is a load balancer. */
export function lbClusterOf(hostName: string, all: HostMap): Cluster | undefined {
  const c = clusterOf(hostName, all);
  return c && c.members.some((m) => m.name === hostName) ? c : undefined;
}

function resolveService(
  c: Cluster,
  s: ServiceConfig,
  index: number,
  all: HostMap,
  owner: string,
): ResolvedService {
  const mode = s.mode ?? c.cfg.mode;
  const base = ["haplay_lb", "services", index];
  const vipMethod = mode === "dsr-fwmark"
    ? "redirect"
    : mode === "same-box-dr"
    ? "lo"
    : mode === "dr"
    ? s.vip_method ?? c.cfg.vip_method
    : undefined;
  const instance = s.vip === undefined
    ? undefined
    : c.cfg.vrrp_instances.find((i) =>
      instanceVips(i).some((v) => v.address === parseIpPrefix(s.vip!)!.address)
    )?.name;
  const port = s.real_port ?? s.port;
  const out: RealServer[] = [];
  const add = (
    host: string | undefined,
    address: string | undefined,
    ref: number,
    o: { port?: number; weight?: number } = {},
  ) => {
    out.push({ host, address, port: o.port ?? port, weight: o.weight ?? s.weight, ref });
    if (host && !address) {
      c.problems.push({
        host: owner,
        path: ref < 0 ? [...base] : [...base, "real_servers", ref],
        message: `real server ${host} has no IP address: set data_address or ansible_host to an IP`,
        severity: "error",
      });
    }
  };
  const addHost = (name: string, ref: number, o?: { port?: number; weight?: number }) =>
    add(name, addressOf(all.get(name)!, lbVarsOf(all.get(name)!)).address, ref, o);
  if (s.real_servers === undefined) {
    if (mode === "vrrp-only") return { index, cfg: s, mode, vipMethod, instance, realServers: out };
    const names = mode === "same-box-dr"
      ? c.members.map((m) => m.name)
      : groupHosts(all, c.cfg.real_group);
    names.forEach((n) => addHost(n, -1));
  } else {
    s.real_servers.forEach((r, j) => {
      const o = typeof r === "string" ? { name: r } : r;
      const opts = typeof r === "string" ? {} : { port: r.port, weight: r.weight };
      const name = "name" in o ? o.name : undefined;
      const host = "host" in o ? o.host : undefined;
      const group = "group" in o ? o.group : undefined;
      const address = "address" in o ? o.address : undefined;
      if (address !== undefined) return add(undefined, parseIpPrefix(address)!.address, j, opts);
      if (host !== undefined || (name !== undefined && all.has(name))) {
        const n = (host ?? name)!;
        if (!all.has(n)) {
          return problem(c, owner, [...base, "real_servers", j], `no host '${n}' in the inventory`);
        }
        return addHost(n, j, opts);
      }
      const g = (group ?? name)!;
      const members = groupHosts(all, g);
      if (members.length) return members.forEach((n) => addHost(n, j, opts));
      if (name !== undefined && isIp(name)) {
        return add(undefined, parseIpPrefix(name)!.address, j, opts);
      }
      problem(c, owner, [...base, "real_servers", j], `no host or group '${g}' in the inventory`);
    });
  }
  return { index, cfg: s, mode, vipMethod, instance, realServers: out };
}

function problem(c: Cluster, host: string, path: (string | number)[], message: string) {
  c.problems.push({ host, path, message, severity: "error" });
}

/** Real-server duties of a host: the VIPs it must accept, and how, across every cluster. */
export interface RealServerDuty {
  /** The service. */
  service: ResolvedService;
  /** The cluster it belongs to. */
  cluster: Cluster;
  /** How to accept the VIP. */
  method: "lo" | "redirect";
}

/** What a host must do as a real server (DR-style services only; NAT needs nothing). */
export function realServerDuties(hostName: string, all: HostMap): RealServerDuty[] {
  const out: RealServerDuty[] = [];
  for (const c of allClusters(all)) {
    for (const s of c.services) {
      if (!s.vipMethod || !s.realServers.some((r) => r.host === hostName)) continue;
      out.push({ service: s, cluster: c, method: s.vipMethod });
    }
  }
  return out;
}

/** The match of a service's packets: `-d VIP/32 [-p tcp --dport PORT]`. */
export function serviceMatch(s: ResolvedService): string[] {
  const vip = s.cfg.vip!;
  const fam = vip.includes(":") ? "128" : "32";
  const m = ["-d", `${vip}/${fam}`];
  if (s.cfg.port !== undefined) {
    m.push("-p", s.cfg.protocol.toLowerCase(), "--dport", String(s.cfg.port));
  }
  return m;
}
