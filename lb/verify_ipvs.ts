/**
 * Verify, the kernel's half of the virtual servers: does each director's IPVS table (read from
 * `/proc/net/ip_vs`, parsed by {@link parseIpVs}) hold what haplay rendered into keepalived.conf?
 * Pure: the sh lines the verify script adds (in the same exec), the virtual servers an inventory
 * renders ({@link wantedVirtualServers}), and the judgement of one director's table
 * ({@link ipvsTableChecks}).
 *
 * Why `/proc/net/ip_vs` and not `ipvsadm -Ln --exact`: the same table (services, scheduler,
 * persistence, real servers with forwarding method, weight and connection counts), but reading
 * it changes nothing, while ipvsadm loads the ip_vs module when it is not loaded (a verify
 * must not change a host); and it needs no package (a director adopted but not yet deployed
 * has no ipvsadm). Deploys still install ipvsadm, for operators.
 *
 * keepalived's checker process loads every virtual server whatever the VRRP state, so the table
 * is checked on every director, BACKUPs too; except same-box DR, whose virtual servers haplay
 * loads on the MASTER only (a BACKUP with them would send the MASTER's packets back: a loop).
 *
 * What is not a mismatch: a real server missing from the table, or at weight 0 with
 * inhibit_on_failure, is `down` (keepalived's health check took it out: keepalived adds every
 * real server at start); weight 0 with a drain file (`deno task drain`) is `drained`; a sorry
 * server in the table means every real server is down. A missing virtual server, another
 * scheduler, forwarding method, persistence or weight, and virtual servers or real servers the
 * inventory does not render are mismatches.
 * @module
 */
import type { VerifyCheck } from "../engine/playbook_types.ts";
import type { Cluster, RealServer, ResolvedService } from "./cluster.ts";
import { checkersOf } from "./schema.ts";
import { canonicalIpv6, type IpvsService } from "./status_script.ts";
import { isDrained } from "./_drain_files.ts";

/** sh printing `/proc/net/ip_vs` as `ipvs=LINE` lines, or `ipvs_none=1` without IPVS. */
export const IPVS_TABLE_SH =
  `if [ -r /proc/net/ip_vs ]; then sed 's/^/ipvs=/' /proc/net/ip_vs; else echo ipvs_none=1; fi`;

/** A real server as rendered. */
export interface WantedDest {
  address: string;
  /** Undefined when rendered without a port (fwmark, DR groups): any port in the table. */
  port?: number;
  weight: number;
  host?: string;
  /** inhibit_on_failure: a failed check leaves it at weight 0 instead of removing it. */
  inhibit: boolean;
}

/** One IPVS virtual service as keepalived loads it from haplay's keepalived.conf. */
export interface WantedVs {
  service: string;
  mode: string;
  protocol: "TCP" | "UDP" | "FWM";
  /** Address, or the mark (decimal) of a fwmark service. */
  address: string;
  port?: number;
  scheduler: string;
  /** The table's forwarding word: Masq (NAT), Route (DR), Tunnel (TUN). */
  forward: string;
  persistent?: number;
  dests: WantedDest[];
  sorry?: { address: string; port?: number };
  /** A MISC_CHECK with misc_dynamic sets the weights: they are not compared. */
  dynamicWeight: boolean;
  /** same-box DR: loaded only while the director is MASTER of this instance. */
  masterOnly?: string;
}

const FORWARD: Record<string, string> = { NAT: "Masq", DR: "Route", TUN: "Tunnel" };

const norm = (a: string) => a.includes(":") ? canonicalIpv6(a) : a;

/** The last `KEY VALUE` of raw extra lines (keepalived takes the last one). */
function lastRaw(extra: readonly string[] | undefined, keys: string[]): string | undefined {
  let got: string | undefined;
  for (const l of (extra ?? []).flatMap((x) => x.split("\n"))) {
    const m = /^\s*(\S+)\s+(\S+)/.exec(l);
    if (m && keys.includes(m[1])) got = m[2];
  }
  return got;
}

/** inhibit_on_failure of one real server (its entry's, else the service's). */
export function inhibitOf(s: ResolvedService, r: RealServer): boolean {
  const entry = r.ref >= 0 ? s.cfg.real_servers?.[r.ref] : undefined;
  return (typeof entry === "object" ? entry.inhibit_on_failure : undefined) ??
    s.cfg.inhibit_on_failure;
}

function dests(s: ResolvedService, portless: boolean): WantedDest[] {
  return s.realServers.filter((r) => r.address).map((r) => {
    const inhibit = inhibitOf(s, r);
    return {
      address: norm(r.address!),
      ...(!portless && r.port !== undefined ? { port: r.port } : {}),
      weight: r.weight,
      ...(r.host ? { host: r.host } : {}),
      inhibit,
    };
  });
}

/** The IPVS virtual services a cluster's keepalived.conf renders (groups: one per member). */
export function wantedVirtualServers(c: Cluster): WantedVs[] {
  const out: WantedVs[] = [];
  for (const s of c.services) {
    if (s.mode === "vrrp-only") continue;
    const kind = lastRaw(s.cfg.extra, ["lb_kind", "lvs_method"]) ??
      (s.mode === "nat" ? "NAT" : "DR");
    const persist = lastRaw(s.cfg.extra, ["persistence_timeout"]);
    const group = s.cfg.virtual_server_group !== undefined
      ? c.cfg.virtual_server_groups.find((g) => g.name === s.cfg.virtual_server_group)
      : undefined;
    const fw = s.cfg.fwmark !== undefined && !group;
    const portless = fw || (group !== undefined && s.mode !== "nat");
    const base = {
      service: s.cfg.name,
      mode: s.mode,
      scheduler: lastRaw(s.cfg.extra, ["lb_algo", "lvs_sched"]) ?? s.cfg.lb_algo,
      forward: FORWARD[kind.toUpperCase()] ?? kind,
      ...(persist !== undefined
        ? { persistent: Number(persist) }
        : s.cfg.persistence_timeout !== undefined
        ? { persistent: s.cfg.persistence_timeout }
        : {}),
      dests: dests(s, portless),
      ...(s.cfg.sorry_server
        ? {
          sorry: {
            address: norm(s.cfg.sorry_server.address),
            ...(s.cfg.sorry_server.port !== undefined ? { port: s.cfg.sorry_server.port } : {}),
          },
        }
        : {}),
      dynamicWeight: checkersOf(s.cfg.health_check).some((x) =>
        x.check.type === "MISC_CHECK" && x.check.misc_dynamic
      ),
      ...(s.mode === "same-box-dr" && s.instance ? { masterOnly: s.instance } : {}),
    };
    if (group) {
      for (const m of group.members) {
        out.push({ ...base, protocol: s.cfg.protocol, address: norm(m.vip), port: m.port });
      }
    } else if (fw) {
      out.push({ ...base, protocol: "FWM", address: String(s.cfg.fwmark) });
    } else if (s.cfg.vip && s.cfg.port !== undefined) {
      out.push({ ...base, protocol: s.cfg.protocol, address: norm(s.cfg.vip), port: s.cfg.port });
    }
  }
  return out;
}

/** `TCP 198.18.0.100:80`, `FWM 1`. */
export function vsLabel(v: { protocol: string; address: string; port?: number }): string {
  if (v.protocol === "FWM") return `fwmark ${v.address}`;
  const a = v.address.includes(":") ? `[${v.address}]` : v.address;
  return `${v.protocol} ${a}${v.port !== undefined ? `:${v.port}` : ""}`;
}

const sameVs = (w: WantedVs, k: IpvsService) =>
  k.protocol === w.protocol && k.address === w.address &&
  (w.protocol === "FWM" || k.port === w.port);

const destLabel = (d: { address: string; port?: number }) =>
  `${d.address.includes(":") ? `[${d.address}]` : d.address}${
    d.port !== undefined ? `:${d.port}` : ""
  }`;

/** What one director's table says about one wanted virtual server (pure). */
function judgeVs(w: WantedVs, k: IpvsService, drains: readonly string[]) {
  const wrong: string[] = [];
  const notes: string[] = [];
  if (k.scheduler !== w.scheduler) wrong.push(`scheduler ${k.scheduler}, rendered ${w.scheduler}`);
  if (k.persistent !== w.persistent) {
    wrong.push(
      `persistence ${k.persistent ?? "off"}, rendered ${
        w.persistent === undefined ? "off" : `${w.persistent} s`
      }`,
    );
  }
  const used = new Set<number>();
  for (const d of w.dests) {
    const i = k.dests.findIndex((x, j) =>
      !used.has(j) && x.address === d.address && (d.port === undefined || x.port === d.port)
    );
    const name = `${d.host ?? destLabel(d)}`;
    if (i < 0) {
      notes.push(`${name} down (not in the table: removed by its health check)`);
      continue;
    }
    used.add(i);
    const x = k.dests[i];
    // same-box DR: the MASTER's own address may be shown as Local
    const fwdOk = x.forward === w.forward ||
      (x.forward === "Local" && w.forward === "Route" && w.mode === "same-box-dr");
    if (!fwdOk) wrong.push(`${name} forwarding ${x.forward}, rendered ${w.forward}`);
    const conns = `${x.active}/${x.inactive} conns`;
    if (x.weight === d.weight) notes.push(`${name} up (weight ${x.weight}, ${conns})`);
    else if (x.weight === 0 && isDrained(drains, d.address)) {
      notes.push(`${name} drained (weight 0, configured ${d.weight}: drain file; ${conns})`);
    } else if (x.weight === 0 && d.inhibit) {
      notes.push(`${name} down (weight 0: inhibit_on_failure, its health check failed)`);
    } else if (w.dynamicWeight) {
      notes.push(`${name} up (weight ${x.weight} set by its MISC_CHECK, configured ${d.weight})`);
    } else {
      wrong.push(
        `${name} weight ${x.weight}, configured ${d.weight}${
          x.weight === 0 ? " (no drain file: set by hand? deno task undrain, or a deploy)" : ""
        }`,
      );
    }
  }
  k.dests.forEach((x, j) => {
    if (used.has(j)) return;
    if (w.sorry && x.address === w.sorry.address && (!w.sorry.port || x.port === w.sorry.port)) {
      notes.push(`sorry server ${destLabel(x)} in the table (every real server down)`);
    } else {
      wrong.push(`${destLabel(x)} (weight ${x.weight}) in the table but not in the inventory`);
    }
  });
  return { wrong, notes };
}

/** How a director's table is judged: its host and which instances it is MASTER of. */
export interface IpvsJudge {
  host: string;
  /** MASTER of an instance: true/false; undefined when no single MASTER is known. */
  isMaster: (instance: string) => boolean | undefined;
}

/**
 * The checks of one director's kernel table: one per wanted virtual server, one for virtual
 * servers nobody rendered. `kernel` undefined: the kernel has no IPVS (a note, not a failure).
 */
export function ipvsTableChecks(
  c: Cluster,
  j: IpvsJudge,
  kernel: IpvsService[] | undefined,
  drains: readonly string[] = [],
): VerifyCheck[] {
  const wanted = wantedVirtualServers(c);
  if (!wanted.length) return [];
  const check = (ok: boolean, detail: string): VerifyCheck => ({
    host: j.host,
    check: "IPVS table",
    ok,
    detail,
  });
  if (c.cfg.ipvs === false) {
    return [check(true, "ipvs: false (keepalived --vrrp): table not checked")];
  }
  if (!kernel) return [check(true, "kernel has no IPVS: table not checked")];
  const out: VerifyCheck[] = [];
  const seen = new Set<IpvsService>();
  for (const w of wanted) {
    const what = `${w.service} (${vsLabel(w)})`;
    const k = kernel.find((x) => sameVs(w, x));
    if (k) seen.add(k);
    if (w.masterOnly) {
      const master = j.isMaster(w.masterOnly);
      if (master === undefined) {
        out.push(check(true, `${what}: no single MASTER of ${w.masterOnly}: not judged`));
        continue;
      }
      if (!master) {
        out.push(
          check(
            !k,
            k
              ? `${what}: loaded on this BACKUP of ${w.masterOnly} (same-box DR: packets would loop back to the MASTER)`
              : `${what}: not loaded on this BACKUP of ${w.masterOnly} (same-box DR: MASTER only)`,
          ),
        );
        continue;
      }
    }
    if (!k) {
      out.push(
        check(false, `${what}: missing from the kernel's table (keepalived did not load it)`),
      );
      continue;
    }
    const { wrong, notes } = judgeVs(w, k, drains);
    const head = `${what}, ${k.scheduler}, ${w.forward}`;
    out.push(
      check(
        wrong.length === 0,
        wrong.length
          ? `${head}: differs from keepalived.conf: ${wrong.join("; ")}${
            notes.length ? ` (${notes.join("; ")})` : ""
          }`
          : `${head}: as rendered; ${notes.join("; ") || "no real servers"}`,
      ),
    );
  }
  const extra = kernel.filter((k) => !seen.has(k));
  out.push(
    check(
      extra.length === 0,
      extra.length
        ? `virtual servers in the kernel's table that the inventory does not render: ${
          extra.map(vsLabel).join(", ")
        }`
        : `no virtual servers beyond the inventory's (${kernel.length} in the table)`,
    ),
  );
  return out;
}
