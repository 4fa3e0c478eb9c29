/**
 * Lint of `connection_sync` (keepalived's `lvs_sync_daemon`, the kernel's IPVS sync daemons):
 * keepalived runs one sync daemon per director, so at most one instance carries it and no raw
 * `lvs_sync_daemon` line may compete with it; a sync without an LVS service has nothing to sync;
 * two pairs on one segment with the same sync id, port and group take each other's connection
 * tables; the sync interface must be one haplay knows carries the director's address; sync
 * messages must fit the interface's MTU (or they are fragmented, and a lost fragment loses every
 * connection in the message).
 * @module
 */
import { networkOf } from "./_net.ts";
import type { Finding } from "./_locate.ts";
import { type Cluster, interfaceOf } from "./cluster.ts";
import { syncOf } from "./keepalived_conf.ts";
import { extraLines } from "./schema.ts";
import { WRONG } from "./lint_vrrp.ts";

/** IPv4 + UDP headers of a sync datagram. */
export const SYNC_HEADERS = 28;
/** The kernel's sync message size without `maxlen` (1500 - headers, whatever the MTU). */
export const SYNC_DEFAULT_MESSAGE = 1500 - SYNC_HEADERS;
const DEFAULT_PORT = 8848;
const DEFAULT_GROUP = "224.0.0.81";

const syncPath = (i: number, ...rest: (string | number)[]) => [
  "haplay_lb",
  "vrrp_instances",
  i,
  "connection_sync",
  ...rest,
];

/** At most one instance syncs; no raw lvs_sync_daemon beside it; there must be IPVS to sync. */
export function ruleSyncShape(c: Cluster): Finding[] {
  const out: Finding[] = [];
  const carriers = c.cfg.vrrp_instances.map((inst, i) => ({ inst, i }))
    .filter((x) => x.inst.connection_sync);
  if (!carriers.length) return out;
  for (const x of carriers.slice(1)) {
    out.push({
      host: c.owner,
      path: syncPath(x.i),
      message: `connection_sync on ${x.inst.name} and on ${carriers[0].inst.name}: keepalived ` +
        `runs one sync daemon per director (one lvs_sync_daemon line); keep it on one instance ` +
        `(put the instances in a sync group: they then fail over together)`,
      severity: "error",
    });
  }
  const raw = extraLines(c.cfg.global_defs?.extra).findIndex((l) =>
    /^\s*lvs_sync_daemon(_interface)?\b/.test(l)
  );
  if (raw >= 0) {
    out.push({
      host: c.owner,
      path: ["haplay_lb", "global_defs", "extra"],
      message: `a raw lvs_sync_daemon line competes with connection_sync of ` +
        `${carriers[0].inst.name}: keepalived keeps only one; remove the raw line`,
      severity: "error",
    });
  }
  const lvs = c.cfg.ipvs !== false && c.services.some((s) => s.mode !== "vrrp-only");
  if (!lvs) {
    out.push({
      host: c.owner,
      path: syncPath(carriers[0].i),
      message:
        `${WRONG}connection_sync without an LVS virtual server (vrrp-only or ipvs: false): ` +
        `the kernel has no IPVS connections to sync`,
      severity: "warning",
    });
  }
  return out;
}

/**
 * The sync interface must be one of the director's VRRP interfaces (where haplay knows its
 * address lives): the kernel's master daemon sends from that interface's address and fails to
 * start without one. Sync messages must fit the interface MTU.
 */
export function ruleSyncInterface(c: Cluster): Finding[] {
  const out: Finding[] = [];
  const idx = c.cfg.vrrp_instances.findIndex((i) => i.connection_sync);
  if (idx < 0) return out;
  for (const m of c.members) {
    const s = syncOf(c, m)!;
    const vrrp = new Set(c.cfg.vrrp_instances.map((i) => interfaceOf(c.cfg, m, i)));
    if (!vrrp.has(s.ifname)) {
      out.push({
        host: c.owner,
        path: syncPath(idx, "interface"),
        message:
          `${m.name}: connection_sync interface ${s.ifname} is none of its VRRP interfaces ` +
          `(${[...vrrp].join(", ")}): haplay cannot tell that it exists and carries ${m.name}'s ` +
          `IPv4 address (the kernel's sync daemon does not start without one); sync over the ` +
          `VRRP interface, or check the host`,
        severity: "warning",
      });
    }
  }
  const size = s0(c.cfg.vrrp_instances[idx].connection_sync!.maxlen);
  const mtu = c.cfg.vrrp_instances[idx].connection_sync!.mtu;
  if (size + SYNC_HEADERS > mtu) {
    out.push({
      host: c.owner,
      path: syncPath(idx, c.cfg.vrrp_instances[idx].connection_sync!.maxlen ? "maxlen" : "mtu"),
      message:
        `${WRONG}sync messages of ${size} bytes (+${SYNC_HEADERS} header bytes) exceed the ` +
        `MTU ${mtu}: every message is fragmented, and a lost fragment loses every connection in ` +
        `it; set maxlen to ${mtu - SYNC_HEADERS} or less`,
      severity: "warning",
    });
  }
  return out;
}

/** The sync message size: maxlen, or the kernel's default. */
function s0(maxlen: number | undefined): number {
  return maxlen ?? SYNC_DEFAULT_MESSAGE;
}

/**
 * Two pairs on one segment syncing with the same id, port and group: each backup takes the
 * other pair's connections into its table (a director then forwards foreign connections).
 */
export function ruleSyncIdUnique(clusters: Cluster[]): Finding[] {
  const occ = clusters.flatMap((c) => {
    const idx = c.cfg.vrrp_instances.findIndex((i) => i.connection_sync);
    if (idx < 0 || !c.members.length) return [];
    const s = syncOf(c, c.members[0])!;
    const segs = new Set(
      c.members.map((m) =>
        m.address && m.prefix !== undefined
          ? networkOf(`${m.address}/${m.prefix}`) ?? m.address
          : `if:${syncOf(c, m)!.ifname}`
      ),
    );
    return [{
      c,
      idx,
      id: s.id,
      key: `${s.sync.port ?? DEFAULT_PORT}/${s.sync.group ?? DEFAULT_GROUP}`,
      segs,
    }];
  });
  const out: Finding[] = [];
  for (let a = 0; a < occ.length; a++) {
    for (let b = a + 1; b < occ.length; b++) {
      const A = occ[a], B = occ[b];
      if (A.id !== B.id || A.key !== B.key) continue;
      if (![...A.segs].some((x) => B.segs.has(x))) continue;
      out.push({
        host: B.c.owner,
        path: syncPath(B.idx, "id"),
        message: `connection_sync id ${B.id} is also the sync id of group ${A.c.cfg.lb_group} on ` +
          `the same segment (same port and multicast group): each pair's BACKUP would load the ` +
          `other pair's connections; give each pair its own id (default: the instance's ` +
          `virtual_router_id)`,
        severity: "error",
      });
    }
  }
  return out;
}
