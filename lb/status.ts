/**
 * The live view of a fleet's load balancers (`deno task status`): per VRRP instance each
 * director's state, configured and effective priority and who holds each VIP; per virtual
 * server each director's IPVS table (real servers, weight, active and inactive connections, up,
 * weight 0 or removed by its health check). One exec per director per look; {@link buildStatus}
 * is pure, so the judgement is unit-tested on recorded facts.
 * @module
 */
import type { Connector, ConnectorFactory } from "../engine/connector.ts";
import type { Inventory } from "../engine/inventory.ts";
import { selectHosts } from "../engine/patterns.ts";
import { allClusters, type Cluster, type HostMap, instanceVips, priorityOf } from "./cluster.ts";
import {
  type DirectorFacts,
  type IpvsService,
  parseStatus,
  statusScript,
} from "./status_script.ts";
import { isDrained } from "./_drain_files.ts";
import { inhibitOf } from "./verify_ipvs.ts";

/** One director's view of one VRRP instance. */
export interface InstanceMember {
  host: string;
  /** MASTER / BACKUP / FAULT / STOP as keepalived reports it; "DOWN" when keepalived is not running. */
  state: string;
  configuredPriority?: number;
  effectivePriority?: number;
  /** The instance's VIPs this host holds. */
  holds: string[];
}

/** One VRRP instance across its directors. */
export interface InstanceStatus {
  /** The cluster, named by its first LB host. */
  cluster: string;
  name: string;
  vrid: number;
  vips: string[];
  members: InstanceMember[];
  /** Hosts that say MASTER. */
  masters: string[];
  /** For each VIP, the hosts that hold it. */
  holders: Record<string, string[]>;
  /** Exactly one MASTER, and it alone holds every VIP. */
  ok: boolean;
  problem?: string;
}

/** A configured real server as one director's kernel table shows it. */
export interface RealServerStatus {
  address: string;
  port?: number;
  /** Inventory host, when the real server is one. */
  host?: string;
  configuredWeight: number;
  weight?: number;
  active?: number;
  inactive?: number;
  /** `up` (in the table with weight > 0), `weight 0` (drained or inhibited), `removed` (not in
   * the table: its health check failed), `no ipvs` (the kernel has none, or the service is
   * missing from it). */
  state: "up" | "weight 0" | "removed" | "no ipvs";
  /**
   * Drained: its drain file (`deno task drain`) is on the director, or the table has it at
   * weight 0 while the inventory configures more and no inhibit_on_failure explains it (an
   * inhibited real server at weight 0 failed its health check: not drained).
   */
  drained: boolean;
}

/** One virtual server on one director. */
export interface DirectorTable {
  host: string;
  /** The director holds the service's VIP (or, fwmark-only, is MASTER of the first instance). */
  active: boolean;
  /** `present`, `missing` (kernel has IPVS, not this service), `no kernel ipvs`, `unreachable`. */
  table: "present" | "missing" | "no kernel ipvs" | "unreachable";
  scheduler?: string;
  realServers: RealServerStatus[];
  /** Real servers in the kernel's table that the inventory does not name. */
  unexpected: { address: string; port: number; weight: number }[];
}

/** One virtual server across its directors. */
export interface ServiceStatus {
  cluster: string;
  name: string;
  mode: string;
  protocol: string;
  vip?: string;
  port?: number;
  fwmark?: number;
  directors: DirectorTable[];
}

/** One director. */
export interface DirectorStatus {
  host: string;
  reachable: boolean;
  error?: string;
  keepalived?: DirectorFacts["keepalived"];
}

/** The whole view. */
export interface StatusReport {
  at: string;
  directors: DirectorStatus[];
  instances: InstanceStatus[];
  services: ServiceStatus[];
  /** Every director reachable, keepalived running, every instance ok. */
  ok: boolean;
}

function matches(s: IpvsService, svc: Cluster["services"][number]): boolean {
  if (svc.cfg.fwmark !== undefined && !svc.cfg.vip) {
    return s.protocol === "FWM" && s.address === String(svc.cfg.fwmark);
  }
  if (svc.cfg.fwmark !== undefined && s.protocol === "FWM") {
    return s.address === String(svc.cfg.fwmark);
  }
  return s.protocol === svc.cfg.protocol && s.address === svc.cfg.vip &&
    (svc.cfg.port === undefined || s.port === svc.cfg.port);
}

function instanceStatus(c: Cluster, facts: Map<string, DirectorFacts | string>): InstanceStatus[] {
  return c.cfg.vrrp_instances.map((inst) => {
    const vips = instanceVips(inst).map((v) => v.address);
    const members: InstanceMember[] = c.members.map((m) => {
      const f = facts.get(m.name);
      const base = { host: m.name, configuredPriority: priorityOf(m, inst.name) };
      if (f === undefined || typeof f === "string") {
        return { ...base, state: "UNREACHABLE", holds: [] };
      }
      const live = f.instances.find((i) => i.name === inst.name);
      const held = new Set(f.addresses.map((a) => a.split(" ")[1]?.split("/")[0]));
      return {
        ...base,
        state: !f.keepalived.running ? "DOWN" : live?.state ?? "UNKNOWN",
        effectivePriority: live?.effectivePriority ?? live?.priority,
        holds: vips.filter((v) => held.has(v)),
      };
    });
    const masters = members.filter((m) => m.state === "MASTER").map((m) => m.host);
    const holders: Record<string, string[]> = {};
    for (const v of vips) {
      holders[v] = members.filter((m) => m.holds.includes(v)).map((m) => m.host);
    }
    const misheld = Object.entries(holders).find(([, h]) => h.length !== 1 || h[0] !== masters[0]);
    const problem = masters.length === 0
      ? "no MASTER"
      : masters.length > 1
      ? `${masters.length} MASTERs (split brain): ${masters.join(", ")}`
      : misheld
      ? `${misheld[0]} held by ${misheld[1].join(", ") || "no host"}, MASTER is ${masters[0]}`
      : undefined;
    return {
      cluster: c.owner,
      name: inst.name,
      vrid: inst.virtual_router_id,
      vips,
      members,
      masters,
      holders,
      ok: problem === undefined,
      ...(problem ? { problem } : {}),
    };
  });
}

function serviceStatus(
  c: Cluster,
  facts: Map<string, DirectorFacts | string>,
  instances: InstanceStatus[],
): ServiceStatus[] {
  return c.services.filter((s) => s.mode !== "vrrp-only").map((svc) => {
    const inst = instances.find((i) => i.name === (svc.instance ?? c.cfg.vrrp_instances[0]?.name));
    const directors: DirectorTable[] = c.members.map((m) => {
      const f = facts.get(m.name);
      const active = svc.cfg.vip
        ? !!inst?.holders[svc.cfg.vip]?.includes(m.name) ||
          !!instances.some((i) => i.holders[svc.cfg.vip!]?.includes(m.name))
        : !!inst?.masters.includes(m.name);
      const configured = svc.realServers.filter((r) => r.address);
      if (f === undefined || typeof f === "string") {
        return {
          host: m.name,
          active: false,
          table: "unreachable",
          realServers: configured.map((r) => ({
            address: r.address!,
            port: r.port,
            host: r.host,
            configuredWeight: r.weight,
            state: "no ipvs",
            drained: false,
          })),
          unexpected: [],
        };
      }
      const row = f.ipvs?.find((s) => matches(s, svc));
      const table = f.ipvs === undefined ? "no kernel ipvs" : row ? "present" : "missing";
      // keepalived clears the ports of a fwmark service's real servers: the kernel shows them :0
      const portOk = (want: number | undefined, got: number) =>
        row?.protocol === "FWM" || want === undefined || got === want;
      const realServers: RealServerStatus[] = configured.map((r) => {
        const d = row?.dests.find((x) => x.address === r.address && portOk(r.port, x.port));
        const drained = isDrained(f.drains, r.address!) ||
          (d?.weight === 0 && r.weight > 0 && !inhibitOf(svc, r));
        return {
          address: r.address!,
          port: r.port,
          host: r.host,
          configuredWeight: r.weight,
          ...(d ? { weight: d.weight, active: d.active, inactive: d.inactive } : {}),
          state: !row ? "no ipvs" : !d ? "removed" : d.weight > 0 ? "up" : "weight 0",
          drained,
        };
      });
      const unexpected = (row?.dests ?? []).filter((d) =>
        !configured.some((r) => r.address === d.address && portOk(r.port, d.port))
      ).map((d) => ({ address: d.address, port: d.port, weight: d.weight }));
      return {
        host: m.name,
        active,
        table,
        ...(row ? { scheduler: row.scheduler } : {}),
        realServers,
        unexpected,
      };
    });
    return {
      cluster: c.owner,
      name: svc.cfg.name,
      mode: svc.mode,
      protocol: svc.cfg.protocol,
      ...(svc.cfg.vip ? { vip: svc.cfg.vip } : {}),
      ...(svc.cfg.port !== undefined ? { port: svc.cfg.port } : {}),
      ...(svc.cfg.fwmark !== undefined ? { fwmark: svc.cfg.fwmark } : {}),
      directors,
    };
  });
}

/**
 * The status of every cluster whose directors all are in `hosts`, from each director's facts
 * (or the error that kept them from being read). Pure.
 */
export function buildStatus(
  all: HostMap,
  facts: Map<string, DirectorFacts | string>,
  at = new Date().toISOString(),
): StatusReport {
  const clusters = allClusters(all).filter((c) => c.members.every((m) => facts.has(m.name)));
  const directors: DirectorStatus[] = [...facts].map(([host, f]) =>
    typeof f === "string"
      ? { host, reachable: false, error: f }
      : { host, reachable: true, keepalived: f.keepalived }
  );
  const instances = clusters.flatMap((c) => instanceStatus(c, facts));
  const services = clusters.flatMap((c) =>
    serviceStatus(c, facts, instances.filter((i) => i.cluster === c.owner))
  );
  return {
    at,
    directors,
    instances,
    services,
    ok: directors.every((d) => d.reachable && d.keepalived?.running) &&
      instances.every((i) => i.ok),
  };
}

/** The directors of an inventory (LB members of its clusters), optionally limited. */
export function directorsOf(inv: Inventory, limit?: string): string[] {
  const chosen = limit ? new Set(selectHosts(inv, limit)) : undefined;
  const out: string[] = [];
  for (const c of allClusters(inv.hosts)) {
    for (const m of c.members) if (!chosen || chosen.has(m.name)) out.push(m.name);
  }
  return [...new Set(out)];
}

/**
 * Reads the directors: one exec each, on connectors kept open in `open` between looks (a
 * `--watch` loop reuses them; a failed one is reopened on the next look).
 */
export async function readDirectors(
  inv: Inventory,
  hosts: string[],
  connect: ConnectorFactory,
  open: Map<string, Connector> = new Map(),
): Promise<Map<string, DirectorFacts | string>> {
  const script = statusScript();
  const res = await Promise.all(hosts.map(async (h): Promise<DirectorFacts | string> => {
    try {
      let c = open.get(h);
      if (!c) {
        c = await connect(inv.hosts.get(h)!);
        open.set(h, c);
      }
      const r = await c.runScript(script);
      if (r.code !== 0) throw new Error(`status script exited ${r.code}: ${r.stderr.trim()}`);
      return parseStatus(r.stdout);
    } catch (e) {
      open.get(h)?.close();
      open.delete(h);
      return (e as Error).message;
    }
  }));
  return new Map(hosts.map((h, i) => [h, res[i]]));
}
