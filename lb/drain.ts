/**
 * `deno task drain` / `undrain`, the pure part: which real server an argument names, which
 * directors carry it, the plays that write (or remove) its drain file on each of them, and the
 * reading of its connection counts from the directors' IPVS tables.
 *
 * A drain is one file per real-server address on every director
 * (`/etc/keepalived/haplay-drain-ADDR.conf`, holding `weight 0`), included by each of its
 * real_server blocks (see `keepalived_conf.ts`): keepalived reads it on every reload, restart
 * and boot, deploys never write it, and it is a journaled file change like any other, so
 * `deno task rollback` undoes it. Setting the weight to 0 is IPVS's quiescent state: the
 * scheduler sends it no new connection, established ones go on until they end.
 * @module
 */
import type { HostMap } from "./cluster.ts";
import { allClusters, type Cluster } from "./cluster.ts";
import type { Handler, HostContext, Play } from "../engine/types.ts";
import { absent, file } from "../tasks/mod.ts";
import { drainFile } from "./paths.ts";
import { GATE_SCRIPT, gateResult } from "./gate.ts";
import type { StatusReport } from "./status.ts";

/** A real server a drain acts on. */
export interface DrainTarget {
  /** As given on the command line. */
  arg: string;
  /** Its address (the drain file is per address: every service and port of it). */
  address: string;
  /** Inventory host, when it is one. */
  host?: string;
  /** Services balancing to it, with the port and configured weight of its entry. */
  services: { cluster: string; name: string; port?: number; weight: number }[];
  /** Directors of the clusters balancing to it, in inventory order. */
  directors: string[];
}

/** The outcome of resolving an argument: the target, or the one-line error naming the field. */
export type Resolved<T> = { ok: true; value: T } | { ok: false; error: string };

/** The clusters of an inventory, or the error saying it is not an LB inventory. */
export function lbClusters(all: HostMap, file: string): Resolved<Cluster[]> {
  const cs = allClusters(all).filter((c) => c.members.length);
  return cs.length ? { ok: true, value: cs } : {
    ok: false,
    error: `${file}: not a load-balancer inventory (no host of an lb_group has a haplay_lb ` +
      `section)`,
  };
}

/**
 * The real server `arg` names: an inventory host that is a real server of some service, or a
 * real-server address. Pure; the error names the field and the known real servers.
 */
export function resolveRealServer(
  clusters: Cluster[],
  arg: string,
): Resolved<DrainTarget> {
  let address: string | undefined;
  let host: string | undefined;
  const services: DrainTarget["services"] = [];
  const directors: string[] = [];
  const known: string[] = [];
  for (const c of clusters) {
    let used = false;
    for (const s of c.services) {
      if (s.mode === "vrrp-only") continue;
      for (const r of s.realServers) {
        const label = r.host ?? r.address;
        if (label && !known.includes(label)) known.push(label);
        if (!r.address || (r.host !== arg && r.address !== arg)) continue;
        if (address !== undefined && address !== r.address) continue;
        address = r.address;
        host ??= r.host;
        used = true;
        services.push({ cluster: c.owner, name: s.cfg.name, port: r.port, weight: r.weight });
      }
    }
    if (used) {
      for (const m of c.members) if (!directors.includes(m.name)) directors.push(m.name);
    }
  }
  if (!address) {
    return {
      ok: false,
      error: `real-server: '${arg}' is not a real server of any service (real servers: ${
        known.join(", ") || "none"
      })`,
    };
  }
  return { ok: true, value: { arg, address, host, services, directors } };
}

/**
 * Why draining `t` is refused, or undefined: a service whose every other real server has
 * weight 0 would have no weight left, and keepalived then fails its own config test ("quorum 1
 * exceeds total weight of real servers 0", measured on all five releases).
 */
export function drainProblem(clusters: Cluster[], t: DrainTarget): string | undefined {
  for (const c of clusters) {
    for (const s of c.services) {
      if (!t.services.some((x) => x.cluster === c.owner && x.name === s.cfg.name)) continue;
      const rest = s.realServers.filter((r) => r.address !== t.address && r.weight > 0);
      if (!rest.length) {
        return `real-server: draining '${t.arg}' would leave service ${s.cfg.name} with no ` +
          `real server of weight > 0 (keepalived refuses such a config): nothing changed`;
      }
    }
  }
  return undefined;
}

/** Content of a drain file. */
export function drainContent(t: DrainTarget): string {
  return `# haplay: ${t.host ?? t.address} drained by deno task drain (undo: deno task undrain)\n` +
    `weight 0\n`;
}

/**
 * The play of a drain (or undrain) on every director of `t`: the drain file written (removed),
 * keepalived reloaded by its handler (alive-checked). One director at a time, each gated on
 * keepalived running with a clean config test: one that fails is rolled back from its journal
 * at once and the rest stay untouched. `keepalived`: the keepalived role's reload handler (its
 * name and handlers: lb/ does not import roles/).
 */
export function drainPlay(
  t: DrainTarget,
  drain: boolean,
  keepalived: { reload: string; handlers: (host: HostContext) => Handler[] },
): Play {
  const path = drainFile(t.address);
  const name = `${drain ? "drain" : "undrain"} ${t.host ?? t.address}`;
  return {
    name,
    hosts: t.directors.join(":"),
    rolling: {
      serial: 1,
      gateScript: { script: () => GATE_SCRIPT, check: (_h, out) => gateResult(out.stdout) },
    },
    tasks: () => [
      drain
        ? file({ name, path, content: drainContent(t), mode: "0644", notify: [keepalived.reload] })
        : absent({ name, path, notify: [keepalived.reload] }),
    ],
    handlers: keepalived.handlers,
  };
}

/** Connection counts of a real server summed over the directors' IPVS tables. */
export interface DrainCounts {
  active: number;
  inactive: number;
  /** Per director: its counts, or why none were read. */
  directors: { host: string; active?: number; inactive?: number; note?: string }[];
  /** Whether any director's kernel table was read. */
  counted: boolean;
}

/**
 * The real server's active and inactive connections on every director of a status report
 * (`lb/status.ts`: the kernel's `/proc/net/ip_vs`). A director without kernel IPVS, or
 * unreachable, counts nothing and says why. Pure.
 */
export function drainCounts(r: StatusReport, t: DrainTarget): DrainCounts {
  const per = new Map<string, { active: number; inactive: number; note?: string }>();
  for (const s of r.services) {
    if (!t.services.some((x) => x.name === s.name)) continue;
    for (const d of s.directors) {
      const cur = per.get(d.host) ?? { active: 0, inactive: 0 };
      if (d.table === "no kernel ipvs") cur.note = "kernel has no IPVS: connections not counted";
      else if (d.table === "unreachable") cur.note = "unreachable";
      for (const rs of d.realServers) {
        if (rs.address !== t.address) continue;
        cur.active += rs.active ?? 0;
        cur.inactive += rs.inactive ?? 0;
      }
      per.set(d.host, cur);
    }
  }
  const directors = t.directors.map((host) => {
    const c = per.get(host);
    if (!c) return { host, note: "no table read" };
    return c.note ? { host, note: c.note } : { host, active: c.active, inactive: c.inactive };
  });
  const counted = directors.filter((d) => d.active !== undefined);
  return {
    active: counted.reduce((a, d) => a + d.active!, 0),
    inactive: counted.reduce((a, d) => a + d.inactive!, 0),
    directors,
    counted: counted.length > 0,
  };
}

/** The live line of a drain's wait. */
export function drainLine(t: DrainTarget, c: DrainCounts, elapsedS: number): string {
  const per = c.directors.map((d) =>
    d.active !== undefined ? `${d.host} ${d.active}/${d.inactive}` : `${d.host} (${d.note})`
  ).join(", ");
  return `drain ${t.host ?? t.address}: ${c.active} active, ${c.inactive} inactive ` +
    `connections (${per}) after ${elapsedS.toFixed(0)} s`;
}
