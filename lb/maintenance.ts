/**
 * `deno task maintenance DIRECTOR on|off`, the pure part: which director and peers, whether
 * moving its VIPs away can work at all, the play that writes (removes) its maintenance file,
 * and the judgement of the live state the command waits for.
 *
 * Every rendered instance tracks `/etc/keepalived/haplay-maintenance` (`vrrp_track_file`, see
 * `keepalived_conf.ts`): `1` in it lowers the director's priority by 253 (to keepalived's floor
 * of 1), so each peer preempts and takes the VIPs; a sync group's instances track it with
 * weight 0, so the group goes to FAULT and its peer takes over. keepalived watches the file
 * itself (inotify): no reload. The file stays through reloads, reboots and deploys until `off`
 * (or `deno task rollback`) removes it.
 * @module
 */
import { type Cluster, instanceVips, priorityOf, stateOf } from "./cluster.ts";
import type { Play } from "../engine/types.ts";
import { absent, file } from "../tasks/mod.ts";
import { MAINTENANCE_FILE } from "./paths.ts";
import type { Resolved } from "./drain.ts";
import type { StatusReport } from "./status.ts";

/** A director a maintenance acts on. */
export interface MaintenanceTarget {
  director: string;
  cluster: Cluster;
  /** The other directors of its cluster. */
  peers: string[];
}

/** The director `arg` names, or the one-line error naming the field. Pure. */
export function resolveDirector(clusters: Cluster[], arg: string): Resolved<MaintenanceTarget> {
  const c = clusters.find((x) => x.members.some((m) => m.name === arg));
  if (!c) {
    const all = clusters.flatMap((x) => x.members.map((m) => m.name));
    return {
      ok: false,
      error: `director: '${arg}' is not a load balancer of this inventory (directors: ${
        all.join(", ")
      })`,
    };
  }
  const peers = c.members.filter((m) => m.name !== arg).map((m) => m.name);
  return { ok: true, value: { director: arg, cluster: c, peers } };
}

/**
 * Why taking `t` out cannot move its VIPs (static reasons), or undefined: no peer; an instance
 * where it is the address owner (priority 255: keepalived ignores tracked weights there); an
 * instance with nopreempt outside a sync group (its peers would not preempt a lowered MASTER).
 */
export function maintenanceProblem(t: MaintenanceTarget): string | undefined {
  if (!t.peers.length) {
    return `director: ${t.director} has no peer director: its VIPs have nowhere to go`;
  }
  const m = t.cluster.members.find((x) => x.name === t.director)!;
  for (const inst of t.cluster.cfg.vrrp_instances) {
    const synced = t.cluster.cfg.sync_groups.some((g) => g.instances.includes(inst.name));
    if (synced) continue;
    if (priorityOf(m, inst.name) === 255) {
      return `director: ${t.director} has priority 255 in ${inst.name} (address owner): ` +
        `keepalived does not lower it, so maintenance cannot move its VIPs`;
    }
    if (inst.nopreempt) {
      return `director: ${inst.name} has nopreempt: its peers would not take the VIPs over ` +
        `from a lowered MASTER; stop keepalived on ${t.director} instead`;
    }
  }
  return undefined;
}

/** The play writing (on) or removing (off) the maintenance file on the director. */
export function maintenancePlay(t: MaintenanceTarget, on: boolean): Play {
  const name = `maintenance ${on ? "on" : "off"} ${t.director}`;
  return {
    name,
    hosts: t.director,
    tasks: () => [
      on
        ? file({
          name,
          path: MAINTENANCE_FILE,
          content: "1\n",
          mode: "0644",
        })
        : absent({ name, path: MAINTENANCE_FILE }),
    ],
  };
}

/** What the live state says, for one look. */
export interface MaintenanceLook {
  /** The wait is over. */
  done: boolean;
  /** One line: who holds what. */
  detail: string;
}

/** Directors whose keepalived runs with its VRRP process, from a status report. */
function healthy(r: StatusReport, host: string): boolean {
  const d = r.directors.find((x) => x.host === host);
  return !!d?.reachable && !!d.keepalived?.running && (d.keepalived.children ?? 0) >= 1;
}

/**
 * Why the peers cannot take over now (live), or undefined: some peer must be reachable, run
 * keepalived with its VRRP process and be in BACKUP or MASTER (not FAULT) for every instance.
 */
export function peerProblem(r: StatusReport, t: MaintenanceTarget): string | undefined {
  const bad: string[] = [];
  for (const p of t.peers) {
    const d = r.directors.find((x) => x.host === p);
    if (!d?.reachable) {
      bad.push(`${p} unreachable${d?.error ? ` (${d.error.split("\n")[0]})` : ""}`);
      continue;
    }
    if (!healthy(r, p)) {
      bad.push(`${p} keepalived not running`);
      continue;
    }
    const states = r.instances.filter((i) => i.cluster === t.cluster.owner).map((i) => ({
      i: i.name,
      m: i.members.find((x) => x.host === p),
    }));
    const off = states.filter((s) => !s.m || !/^(MASTER|BACKUP)$/.test(s.m.state));
    if (off.length) {
      bad.push(`${p} is ${off.map((s) => `${s.m?.state ?? "absent"} in ${s.i}`).join(", ")}`);
      continue;
    }
    // a peer already in maintenance sits at priority 1: it would not take anything over
    const low = states.filter((s) => s.m!.effectivePriority === 1 && s.m!.configuredPriority! > 1);
    if (low.length) {
      bad.push(`${p} is in maintenance itself (effective priority 1 in ${low[0].i})`);
      continue;
    }
    return undefined;
  }
  return `refused: no healthy peer to take ${t.director}'s VIPs (${bad.join("; ")}): ` +
    `taking the only healthy director down would leave no one serving; nothing changed`;
}

/** Every VIP of the cluster's instances, per instance. */
function vipsOf(t: MaintenanceTarget): { inst: string; vips: string[] }[] {
  return t.cluster.cfg.vrrp_instances.map((i) => ({
    inst: i.name,
    vips: instanceVips(i).map((v) => v.address),
  }));
}

/**
 * `on`: done when the director holds none of its cluster's VIPs and, per instance, one healthy
 * peer holds all of them. Pure.
 */
export function awayLook(r: StatusReport, t: MaintenanceTarget): MaintenanceLook {
  const parts: string[] = [];
  let done = true;
  for (const { inst, vips } of vipsOf(t)) {
    const s = r.instances.find((i) => i.cluster === t.cluster.owner && i.name === inst);
    const holders = new Set(vips.flatMap((v) => s?.holders[v] ?? []));
    const peer = t.peers.find((p) => vips.every((v) => s?.holders[v]?.includes(p)));
    const ok = !holders.has(t.director) && !!peer && healthy(r, peer);
    if (!ok) done = false;
    parts.push(`${inst}: ${[...holders].join("+") || "nobody"}`);
  }
  return { done, detail: parts.join(", ") };
}

/**
 * `off`: done when, per instance, the director holds every VIP again where its configuration
 * makes it MASTER (preemption back), and otherwise exactly one director holds them all. Pure.
 */
export function backLook(r: StatusReport, t: MaintenanceTarget): MaintenanceLook {
  const m = t.cluster.members.find((x) => x.name === t.director)!;
  const parts: string[] = [];
  let done = true;
  for (const inst of t.cluster.cfg.vrrp_instances) {
    const vips = instanceVips(inst).map((v) => v.address);
    const s = r.instances.find((i) => i.cluster === t.cluster.owner && i.name === inst.name);
    const holders = [...new Set(vips.flatMap((v) => s?.holders[v] ?? []))];
    const master = stateOf(t.cluster, m, inst) === "MASTER";
    const ok = master
      ? vips.every((v) => (s?.holders[v] ?? []).join() === t.director)
      : holders.length === 1 && vips.every((v) => s?.holders[v]?.length === 1);
    const back = s?.members.find((x) => x.host === t.director);
    if (!ok || !back || !/^(MASTER|BACKUP)$/.test(back.state)) done = false;
    parts.push(`${inst.name}: ${holders.join("+") || "nobody"}`);
  }
  return { done, detail: parts.join(", ") };
}
