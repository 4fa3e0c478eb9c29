/**
 * Lint, part 2: VRRP rules (pure, on the cluster model). Each rule returns findings; severities
 * follow keepalived: `error` when it (or haplay's `keepalived -t` validator) refuses the config,
 * "will run but wrong:" warnings when keepalived runs but not as the operator meant, plain
 * warnings otherwise.
 * @module
 */
import { networkOf } from "./_net.ts";
import type { Finding } from "./_locate.ts";
import {
  type Cluster,
  instanceVips,
  interfaceOf,
  type LbMember,
  priorityOf,
  stateOf,
} from "./cluster.ts";
import { AUTH_PASS_MAX, MAX_ADVERTISED_VIPS } from "./keepalived_conf.ts";
import type { VrrpInstanceConfig } from "./schema.ts";
import { NOTIFY_STATES, notifySteps } from "./notify_plan.ts";

/** Prefix of warnings about configurations keepalived runs, but not as intended. */
export const WRONG = "will run but wrong: ";

const instPath = (
  i: number,
  ...rest: (string | number)[]
) => ["haplay_lb", "vrrp_instances", i, ...rest];

/** A member of an LB group without its own LB section, or no LB host at all. */
export function ruleMembers(c: Cluster): Finding[] {
  if (c.members.length > 0) return [];
  return [{
    host: c.owner,
    path: ["haplay_lb", "lb_group"],
    message:
      `no host of group '${c.cfg.lb_group}' has a haplay_lb section: there is no load balancer`,
    severity: "error",
  }];
}

/** virtual_router_id must be 1..255. */
export function ruleVridRange(c: Cluster): Finding[] {
  return c.cfg.vrrp_instances.flatMap((inst, i) =>
    inst.virtual_router_id >= 1 && inst.virtual_router_id <= 255 ? [] : [{
      host: c.owner,
      path: instPath(i, "virtual_router_id"),
      message: `must be 1..255, got ${inst.virtual_router_id} (keepalived drops the instance)`,
      severity: "error" as const,
    }]
  );
}

/** The segment keys an instance runs on (one per member): subnet, else interface name. */
function segments(c: Cluster, inst: VrrpInstanceConfig): Set<string> {
  const vipNet = instanceVips(inst).find((v) => v.prefix !== undefined);
  return new Set(c.members.map((m) => {
    if (m.address && m.prefix !== undefined) {
      return networkOf(`${m.address}/${m.prefix}`) ?? m.address;
    }
    if (c.cfg.subnet) return networkOf(c.cfg.subnet) ?? c.cfg.subnet;
    if (vipNet) {
      return networkOf(`${vipNet.address}/${vipNet.prefix}`) ?? `if:${interfaceOf(c.cfg, m, inst)}`;
    }
    return `if:${interfaceOf(c.cfg, m, inst)}`;
  }));
}

/** virtual_router_id unique per segment (unless both are unicast with disjoint peers). */
export function ruleVridUnique(clusters: Cluster[]): Finding[] {
  const occ = clusters.flatMap((c) =>
    c.cfg.vrrp_instances.map((inst, i) => ({
      c,
      inst,
      i,
      segs: segments(c, inst),
      family: instanceVips(inst)[0]?.family ?? 4,
      addrs: new Set(c.members.map((m) => m.address ?? m.name)),
    }))
  );
  const out: Finding[] = [];
  for (let a = 0; a < occ.length; a++) {
    for (let b = a + 1; b < occ.length; b++) {
      const A = occ[a], B = occ[b];
      if (A.inst.virtual_router_id !== B.inst.virtual_router_id || A.family !== B.family) continue;
      if (![...A.segs].some((s) => B.segs.has(s))) continue;
      const disjoint = [...A.addrs].every((x) => !B.addrs.has(x));
      if (A.inst.unicast && B.inst.unicast && disjoint) continue;
      out.push({
        host: B.c.owner,
        path: instPath(B.i, "virtual_router_id"),
        message:
          `${WRONG}virtual_router_id ${B.inst.virtual_router_id} of ${B.inst.name} is also used by ` +
          `${A.inst.name} (group ${A.c.cfg.lb_group}) on the same segment: the routers fight ` +
          `(both MASTER, or adverts rejected)`,
        severity: "warning",
      });
    }
  }
  return out;
}

/** Every LB has a priority for every instance, and priorities differ. */
export function rulePriorities(c: Cluster): Finding[] {
  const out: Finding[] = [];
  c.cfg.vrrp_instances.forEach((inst) => {
    const seen = new Map<number, LbMember>();
    for (const m of c.members) {
      const p = priorityOf(m, inst.name);
      if (p === undefined) {
        out.push({
          host: m.name,
          path: ["vrrp_priority"],
          message: `no VRRP priority for instance ${inst.name}: set vrrp_priority on ${m.name}`,
          severity: "error",
        });
        continue;
      }
      const other = seen.get(p);
      if (other) {
        out.push({
          host: m.name,
          path: ["vrrp_priority"],
          message: `${WRONG}${m.name} and ${other.name} both have priority ${p} in ${inst.name}: ` +
            `the higher address wins ties, so which host is MASTER depends on addresses`,
          severity: "warning",
        });
      } else seen.set(p, m);
    }
  });
  return out;
}

/** nopreempt only works with initial state BACKUP and priority below 255. */
export function ruleNopreempt(c: Cluster): Finding[] {
  const out: Finding[] = [];
  c.cfg.vrrp_instances.forEach((inst) => {
    if (!inst.nopreempt) return;
    for (const m of c.members) {
      const p = priorityOf(m, inst.name);
      if (stateOf(c, m, inst) === "MASTER") {
        out.push({
          host: m.name,
          path: ["vrrp_state"],
          message: `${WRONG}nopreempt needs initial state BACKUP, but ${m.name} starts MASTER in ` +
            `${inst.name}: keepalived clears nopreempt there (haplay renders it without)`,
          severity: "warning",
        });
      }
      if (p === 255) {
        out.push({
          host: m.name,
          path: ["vrrp_priority"],
          message:
            `${WRONG}nopreempt is incompatible with priority 255 (${m.name} in ${inst.name}): ` +
            `the address owner always preempts; use 254 or less`,
          severity: "warning",
        });
      }
    }
  });
  return out;
}

/** auth_pass: only 8 characters are used; PASS in clear text on multicast. */
export function ruleAuth(c: Cluster): Finding[] {
  const out: Finding[] = [];
  c.cfg.vrrp_instances.forEach((inst, i) => {
    const a = inst.authentication;
    if (!a) return;
    if (a.auth_pass.length > AUTH_PASS_MAX) {
      out.push({
        host: c.owner,
        path: instPath(i, "authentication", "auth_pass"),
        message:
          `auth_pass is ${a.auth_pass.length} characters long; keepalived uses only the first ` +
          `${AUTH_PASS_MAX} (haplay writes those ${AUTH_PASS_MAX})`,
        severity: "warning",
      });
    }
    if (a.type === "PASS" && !inst.unicast) {
      out.push({
        host: c.owner,
        path: instPath(i, "authentication", "type"),
        message:
          `PASS authentication sends the password in clear text to a multicast group every ` +
          `advert; it only guards against misconfiguration (prefer unicast: true, or no authentication)`,
        severity: "warning",
      });
    }
  });
  return out;
}

/** More than 20 VIPs: the rest go to virtual_ipaddress_excluded. */
export function ruleManyVips(c: Cluster): Finding[] {
  return c.cfg.vrrp_instances.flatMap((inst, i) =>
    inst.virtual_ipaddress.length <= MAX_ADVERTISED_VIPS ? [] : [{
      host: c.owner,
      path: instPath(i, "virtual_ipaddress"),
      message:
        `note: ${inst.virtual_ipaddress.length} addresses; the first ${MAX_ADVERTISED_VIPS} are ` +
        `advertised, the other ${
          inst.virtual_ipaddress.length - MAX_ADVERTISED_VIPS
        } are rendered under ` +
        `virtual_ipaddress_excluded (they still move with the instance)`,
      severity: "warning" as const,
    }]
  );
}

/** Unicast: every member needs an address; explicit peer lists are complete and exclude self. */
export function ruleUnicast(c: Cluster): Finding[] {
  const out: Finding[] = [];
  if (!c.cfg.vrrp_instances.some((i) => i.unicast)) return out;
  for (const m of c.members) {
    const src = m.vars.unicast_src_ip ?? m.address;
    if (!src) {
      out.push({
        host: m.name,
        path: ["data_address"],
        message:
          `unicast VRRP needs ${m.name}'s address: set data_address (or ansible_host) to an IP`,
        severity: "error",
      });
      continue;
    }
    const peers = m.vars.vrrp_unicast_peers;
    if (!peers) continue;
    if (peers.includes(src)) {
      out.push({
        host: m.name,
        path: ["vrrp_unicast_peers"],
        message: `${WRONG}unicast peer list of ${m.name} contains its own address ${src}`,
        severity: "warning",
      });
    }
    for (const o of c.members) {
      const addr = o.vars.unicast_src_ip ?? o.address;
      if (o.name === m.name || !addr || peers.includes(addr)) continue;
      out.push({
        host: m.name,
        path: ["vrrp_unicast_peers"],
        message: `${WRONG}unicast peer list of ${m.name} misses ${o.name} (${addr}): they cannot ` +
          `hear each other and both become MASTER`,
        severity: "warning",
      });
    }
  }
  return out;
}

/** All addresses of one instance in one family. */
export function ruleVipFamilies(c: Cluster): Finding[] {
  return c.cfg.vrrp_instances.flatMap((inst, i) => {
    const fams = new Set(instanceVips(inst).map((v) => v.family));
    return fams.size < 2 ? [] : [{
      host: c.owner,
      path: instPath(i, "virtual_ipaddress"),
      message: `IPv4 and IPv6 addresses mixed in ${inst.name}: keepalived ignores the ones whose ` +
        `family differs from the first; use one instance per family`,
      severity: "error" as const,
    }];
  });
}

/** Scripts (notify hooks, vrrp_script) need enable_script_security. */
export function ruleScriptSecurity(c: Cluster): Finding[] {
  if (c.cfg.script_security) return [];
  const notify = c.cfg.vrrp_instances.some((inst) => {
    const s = notifySteps(c, inst);
    return NOTIFY_STATES.some((st) => s[st].length > 0);
  });
  if (!notify && c.cfg.vrrp_scripts.length === 0) return [];
  return [{
    host: c.owner,
    path: ["haplay_lb", "script_security"],
    message: `scripts are used (notify hooks or vrrp_scripts) without enable_script_security: ` +
      `keepalived reports a SECURITY VIOLATION and its config test fails`,
    severity: "error",
  }];
}

/** track_scripts / sync_groups refer to things that exist; tracking the own interface. */
export function ruleReferences(c: Cluster): Finding[] {
  const out: Finding[] = [];
  const scripts = new Set(c.cfg.vrrp_scripts.map((s) => s.name));
  const insts = new Set(c.cfg.vrrp_instances.map((s) => s.name));
  c.cfg.vrrp_instances.forEach((inst, i) => {
    inst.track_scripts.forEach((t, j) => {
      const name = typeof t === "string" ? t : t.name;
      if (!scripts.has(name)) {
        out.push({
          host: c.owner,
          path: instPath(i, "track_scripts", j),
          message: `no vrrp_script named '${name}' (define it under haplay_lb.vrrp_scripts)`,
          severity: "error",
        });
      }
    });
    inst.track_interfaces.forEach((t, j) => {
      if (c.members.some((m) => interfaceOf(c.cfg, m, inst) === t)) {
        out.push({
          host: c.owner,
          path: instPath(i, "track_interfaces", j),
          message: `${inst.name} runs on ${t} already (it is always tracked); haplay leaves it out`,
          severity: "warning",
        });
      }
    });
  });
  c.cfg.sync_groups.forEach((g, i) =>
    g.instances.forEach((n, j) => {
      if (!insts.has(n)) {
        out.push({
          host: c.owner,
          path: ["haplay_lb", "sync_groups", i, "instances", j],
          message: `no vrrp_instance named '${n}'`,
          severity: "error",
        });
      }
    })
  );
  return out;
}

/** Every LB host deploys the same section (the seeds: identical except priority). */
export function ruleSameSection(c: Cluster, sections: Map<string, unknown>): Finding[] {
  const ref = JSON.stringify(sections.get(c.owner));
  return c.members.filter((m) => m.name !== c.owner && JSON.stringify(sections.get(m.name)) !== ref)
    .map((m) => ({
      host: m.name,
      path: ["haplay_lb"],
      message:
        `${WRONG}${m.name}'s haplay_lb differs from ${c.owner}'s: keep vrrp_instance settings ` +
        `identical on every LB (only vrrp_priority differs), or VRRP misbehaves`,
      severity: "warning" as const,
    }));
}

/** keepalived ignores weighted track scripts of instances in a sync group (and -t says so). */
export function ruleSyncWeights(c: Cluster): Finding[] {
  const synced = new Set(c.cfg.sync_groups.flatMap((g) => g.instances));
  const weight = new Map(c.cfg.vrrp_scripts.map((s) => [s.name, s.weight ?? 0]));
  const out: Finding[] = [];
  c.cfg.vrrp_instances.forEach((inst, i) => {
    if (!synced.has(inst.name)) return;
    inst.track_scripts.forEach((t, j) => {
      const name = typeof t === "string" ? t : t.name;
      const w = typeof t === "string" ? weight.get(name) ?? 0 : t.weight;
      if (w === 0) return;
      out.push({
        host: c.owner,
        path: instPath(i, "track_scripts", j),
        message: `${inst.name} is in a sync group, where keepalived ignores track scripts with a ` +
          `weight (${name}: ${w}); track it with weight 0 ({ name: ${name}, weight: 0 }): a failure ` +
          `then puts the whole group in FAULT`,
        severity: "error",
      });
    });
  });
  return out;
}
