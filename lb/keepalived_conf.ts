/**
 * keepalived.conf rendering: pure, from the cluster model and a host name.
 *
 * The output is what keepalived itself would end up running: where keepalived 2.2.7 would
 * print a warning and silently change the configuration (auth_pass longer than 8 characters,
 * `nopreempt` with initial state MASTER or priority 255, tracking the instance's own interface),
 * the renderer writes the effective value instead, so `keepalived -t` stays quiet and the
 * validator can treat any output as an error. Lint reports each of those cases.
 * @module
 */
import { isIpv4 } from "./_net.ts";
import {
  type Cluster,
  instanceVips,
  interfaceOf,
  type LbMember,
  priorityOf,
  type ResolvedService,
  stateOf,
  type Vip,
} from "./cluster.ts";
import {
  checkersOf,
  type ConnectionSyncConfig,
  extraLines,
  type HealthCheckConfig,
  type VrrpInstanceConfig,
} from "./schema.ts";
import { redactor } from "../engine/secrets.ts";
import { NOTIFY_STATES, notifySteps } from "./notify_plan.ts";
import {
  drainInclude,
  MAINTENANCE_FILE,
  MAINTENANCE_TRACK,
  MAINTENANCE_WEIGHT,
  notifyScript,
  vsActive,
  vsMaster,
} from "./paths.ts";

/** keepalived carries at most this many addresses in adverts; the rest go to excluded. */
export const MAX_ADVERTISED_VIPS = 20;
/** keepalived uses only this many characters of a PASS/AH auth_pass. */
export const AUTH_PASS_MAX = 8;

/** A rendered configuration: the main file plus the includes it needs. */
export interface RenderedKeepalived {
  /** Content of keepalived.conf. */
  main: string;
  /** same-box-dr virtual_server files (MASTER content), by path. */
  includes: { path: string; content: string }[];
  /** True when `main` contains a secret (auth_pass): hide it from diffs. */
  sensitive: boolean;
}

const HEADER = "# Managed by haplay: edits are overwritten by the next deploy.\n";
const I = "    ";

/** Indents every non-empty line of a block by `n` levels. */
function indent(lines: string[], n = 1): string[] {
  return lines.map((l) => (l === "" ? l : I.repeat(n) + l));
}

/** `name {` + body + `}`. */
function block(head: string, body: string[]): string[] {
  return [`${head} {`, ...indent(body), "}"];
}

/** The raw `extra` lines of a block, as written (trailing blanks dropped). */
export function raw(extra: readonly string[] | undefined): string[] {
  return extraLines(extra).map((l) => l.trimEnd());
}

/** The instance carrying `connection_sync` (lint: at most one), with its sync settings. */
export function syncInstance(
  c: Cluster,
): { inst: VrrpInstanceConfig; sync: ConnectionSyncConfig } | undefined {
  const inst = c.cfg.vrrp_instances.find((i) => i.connection_sync);
  return inst ? { inst, sync: inst.connection_sync! } : undefined;
}

/** The sync interface and id of a member (defaults: the instance's interface, its router id). */
export function syncOf(
  c: Cluster,
  m: LbMember,
):
  | { ifname: string; id: number; inst: VrrpInstanceConfig; sync: ConnectionSyncConfig }
  | undefined {
  const s = syncInstance(c);
  if (!s) return undefined;
  return {
    ...s,
    ifname: s.sync.interface ?? interfaceOf(c.cfg, m, s.inst),
    id: s.sync.id ?? s.inst.virtual_router_id,
  };
}

/** `lvs_sync_daemon IFACE INSTANCE id N [maxlen ..] [port ..] [ttl ..] [group ..]`, or none. */
export function lvsSyncDaemonLine(c: Cluster, m: LbMember): string | undefined {
  const s = syncOf(c, m);
  if (!s) return undefined;
  const opt = (k: string, v: number | string | undefined) => (v === undefined ? "" : ` ${k} ${v}`);
  return `lvs_sync_daemon ${s.ifname} ${s.inst.name} id ${s.id}` + opt("maxlen", s.sync.maxlen) +
    opt("port", s.sync.port) + opt("ttl", s.sync.ttl) + opt("group", s.sync.group);
}

/** The global_defs block. */
export function renderGlobalDefs(c: Cluster, host: string): string[] {
  const body = [`router_id ${c.cfg.router_id ?? host}`];
  if (c.cfg.script_security) body.push("enable_script_security");
  body.push(`script_user ${c.cfg.script_user}`);
  const m = c.members.find((x) => x.name === host);
  const sync = m && lvsSyncDaemonLine(c, m);
  if (sync) body.push(sync);
  body.push(...raw(c.cfg.global_defs?.extra));
  return block("global_defs", body);
}

/** One vrrp_script block. */
export function renderVrrpScript(s: Cluster["cfg"]["vrrp_scripts"][number]): string[] {
  const body = [`script "${s.script}"`, `interval ${s.interval}`];
  if (s.timeout !== undefined) body.push(`timeout ${s.timeout}`);
  if (s.weight !== undefined) body.push(`weight ${s.weight}`);
  if (s.fall !== undefined) body.push(`fall ${s.fall}`);
  if (s.rise !== undefined) body.push(`rise ${s.rise}`);
  if (s.user !== undefined) body.push(`user ${s.user}`);
  body.push(...raw(s.extra));
  return block(`vrrp_script ${s.name}`, body);
}

function vipLine(v: Vip): string {
  return [v.text, v.dev ? `dev ${v.dev}` : "", v.label ? `label ${v.label}` : ""].filter(Boolean)
    .join(" ");
}

/** The unicast source and peers of a member for an instance (undefined when not unicast). */
export function unicastOf(
  c: Cluster,
  m: LbMember,
  inst: VrrpInstanceConfig,
): { src: string; peers: string[] } | undefined {
  if (!inst.unicast) return undefined;
  const src = m.vars.unicast_src_ip ?? m.address;
  if (!src) {
    throw new Error(
      `${m.name}: unicast VRRP needs its address: set data_address or ansible_host to an IP`,
    );
  }
  const peers = m.vars.vrrp_unicast_peers ??
    c.members.filter((x) => x.name !== m.name).map((x) => {
      if (!x.address) {
        throw new Error(`${x.name}: unicast VRRP needs its address (data_address or ansible_host)`);
      }
      return x.vars.unicast_src_ip ?? x.address;
    });
  return { src, peers };
}

/** Whether keepalived keeps `nopreempt` for this member (it clears it for MASTER / priority 255). */
export function effectiveNopreempt(
  state: string,
  priority: number,
  inst: VrrpInstanceConfig,
): boolean {
  return inst.nopreempt && state === "BACKUP" && priority < 255;
}

/** One vrrp_instance block for a member. */
export function renderInstance(c: Cluster, m: LbMember, inst: VrrpInstanceConfig): string[] {
  const priority = priorityOf(m, inst.name);
  if (priority === undefined) {
    throw new Error(`${m.name}: no vrrp_priority for instance ${inst.name}`);
  }
  const state = stateOf(c, m, inst);
  const ifname = interfaceOf(c.cfg, m, inst);
  const body = [
    `state ${state}`,
    `interface ${ifname}`,
    `virtual_router_id ${inst.virtual_router_id}`,
    `priority ${priority}`,
    `advert_int ${inst.advert_int}`,
  ];
  if (effectiveNopreempt(state, priority, inst)) body.push("nopreempt");
  if (inst.preempt_delay !== undefined) body.push(`preempt_delay ${inst.preempt_delay}`);
  if (inst.garp_master_delay !== undefined) {
    body.push(`garp_master_delay ${inst.garp_master_delay}`);
  }
  const uni = unicastOf(c, m, inst);
  if (uni) {
    body.push(`unicast_src_ip ${uni.src}`);
    body.push(...block("unicast_peer", uni.peers));
  }
  if (inst.authentication) {
    const a = inst.authentication;
    body.push(...block("authentication", [
      `auth_type ${a.type}`,
      `auth_pass ${a.auth_pass.slice(0, AUTH_PASS_MAX)}`,
    ]));
  }
  const listed = inst.virtual_ipaddress.length;
  const all = instanceVips(inst);
  const advertised = all.slice(0, Math.min(listed, MAX_ADVERTISED_VIPS));
  const excluded = all.slice(advertised.length);
  body.push(...block("virtual_ipaddress", advertised.map(vipLine)));
  if (excluded.length) body.push(...block("virtual_ipaddress_excluded", excluded.map(vipLine)));
  const tracked = inst.track_interfaces.filter((t) => t !== ifname);
  if (tracked.length) body.push(...block("track_interface", tracked));
  if (inst.track_scripts.length) {
    body.push(...block(
      "track_script",
      inst.track_scripts.map((t) => (typeof t === "string" ? t : `${t.name} weight ${t.weight}`)),
    ));
  }
  // maintenance (deno task maintenance): keepalived ignores a tracked weight on an address
  // owner (priority 255) and in a sync group, warning; a sync group's members track the file
  // with weight 0 instead (a non-zero value puts the group in FAULT: its peer takes over)
  const synced = c.cfg.sync_groups.some((g) => g.instances.includes(inst.name));
  if (synced) body.push(...block("track_file", [`${MAINTENANCE_TRACK} weight 0`]));
  else if (priority < 255) body.push(...block("track_file", [MAINTENANCE_TRACK]));
  const steps = notifySteps(c, inst);
  for (const s of NOTIFY_STATES) {
    if (steps[s].length) body.push(`notify_${s} "${notifyScript(inst.name, s)}"`);
  }
  body.push(...raw(inst.extra));
  return block(`vrrp_instance ${inst.name}`, body);
}

/**
 * The track file of `deno task maintenance`: absent or `0` changes nothing; `1` lowers every
 * instance's priority by 253 (keepalived keeps it at 1 at least), so each peer preempts. The
 * `vrrp_track_file` spelling is the one every supported release (2.0.19 to 2.3.4) reads
 * silently; a missing file reads as 0 on each (measured with `keepalived -t`).
 */
export function renderMaintenanceTrack(): string[] {
  return block(`vrrp_track_file ${MAINTENANCE_TRACK}`, [
    `file ${MAINTENANCE_FILE}`,
    `weight ${MAINTENANCE_WEIGHT}`,
  ]);
}

/** One vrrp_sync_group block. */
export function renderSyncGroup(g: Cluster["cfg"]["sync_groups"][number]): string[] {
  return block(`vrrp_sync_group ${g.name}`, [...block("group", g.instances), ...raw(g.extra)]);
}

/** The checker block of a real server (empty for `none`). */
export function renderHealthCheck(h: HealthCheckConfig): string[] {
  if (h.type === "none") return [];
  const tries = [`retry ${h.retry}`, `delay_before_retry ${h.delay_before_retry}`];
  if (h.type === "MISC_CHECK") {
    // no connection options: the command runs as the global script_user
    return block("MISC_CHECK", [
      `misc_path "${h.misc_path}"`,
      ...(h.misc_timeout !== undefined ? [`misc_timeout ${h.misc_timeout}`] : []),
      ...(h.misc_dynamic ? ["misc_dynamic"] : []),
      ...tries,
      ...raw(h.extra),
    ]);
  }
  const common = [
    ...(h.connect_port !== undefined ? [`connect_port ${h.connect_port}`] : []),
    `connect_timeout ${h.connect_timeout}`,
    ...tries,
  ];
  if (h.type === "TCP_CHECK" || h.type === "UDP_CHECK") {
    return block(h.type, [...common, ...raw(h.extra)]);
  }
  if (h.type === "DNS_CHECK") {
    return block("DNS_CHECK", [
      ...common,
      ...(h.dns_type !== undefined ? [`type ${h.dns_type}`] : []),
      ...(h.dns_name !== undefined ? [`name ${h.dns_name}`] : []),
      ...raw(h.extra),
    ]);
  }
  const codes = [h.status_code].flat().join(" ");
  return block(h.type, [
    ...block("url", [
      `path ${h.path}`,
      `status_code ${codes}`,
      ...(h.virtualhost !== undefined ? [`virtualhost ${h.virtualhost}`] : []),
    ]),
    ...common,
    ...(h.enable_sni ? ["enable_sni"] : []),
    ...raw(h.extra),
  ]);
}

/** The `virtual_server` head: `VIP PORT`, `fwmark N` or `group NAME`. */
export function virtualServerHead(s: ResolvedService): string {
  if (s.cfg.virtual_server_group !== undefined) return `group ${s.cfg.virtual_server_group}`;
  if (s.cfg.fwmark !== undefined) return `fwmark ${s.cfg.fwmark}`;
  if (s.cfg.port === undefined) {
    throw new Error(`service ${s.cfg.name}: needs a port (or a fwmark)`);
  }
  return `${s.cfg.vip} ${s.cfg.port}`;
}

/** The `real_servers` mapping a real server came from (none for names and the default list). */
function realServerEntry(s: ResolvedService, ref: number) {
  const entry = ref >= 0 ? s.cfg.real_servers?.[ref] : undefined;
  return typeof entry === "object" ? entry : undefined;
}

/** The degradation lines of a virtual_server: sorry server, quorum and its hooks. */
function degradation(s: ResolvedService): string[] {
  const c = s.cfg;
  const out: string[] = [];
  if (c.sorry_server) {
    out.push(
      `sorry_server ${c.sorry_server.address}${
        c.sorry_server.port !== undefined ? ` ${c.sorry_server.port}` : ""
      }`,
    );
  }
  if (c.quorum !== undefined) out.push(`quorum ${c.quorum}`);
  if (c.hysteresis !== undefined) out.push(`hysteresis ${c.hysteresis}`);
  if (c.quorum_up !== undefined) out.push(`quorum_up "${c.quorum_up}"`);
  if (c.quorum_down !== undefined) out.push(`quorum_down "${c.quorum_down}"`);
  return out;
}

/** One virtual_server block (services in vrrp-only mode have none: returns []). */
export function renderVirtualServer(s: ResolvedService): string[] {
  if (s.mode === "vrrp-only") return [];
  const fw = s.cfg.fwmark !== undefined;
  // a DR group may span ports: keepalived wants its real servers without one (as for fwmark)
  const portless = fw || (s.cfg.virtual_server_group !== undefined && s.mode !== "nat");
  const body = [
    `delay_loop ${s.cfg.delay_loop}`,
    `lb_algo ${s.cfg.lb_algo}`,
    `lb_kind ${s.mode === "nat" ? "NAT" : "DR"}`,
  ];
  if (s.cfg.persistence_timeout !== undefined) {
    body.push(`persistence_timeout ${s.cfg.persistence_timeout}`);
  }
  if (!fw) body.push(`protocol ${s.cfg.protocol}`);
  body.push(...degradation(s));
  body.push(...raw(s.cfg.extra));
  for (const r of s.realServers) {
    if (!r.address) {
      throw new Error(`service ${s.cfg.name}: real server ${r.host} has no IP address`);
    }
    body.push("");
    // fwmark real servers have no port (keepalived clears it, warning): the checks get it instead
    const checks = checkersOf(s.cfg.health_check).map(({ check }) =>
      portless && r.port !== undefined && check.type !== "MISC_CHECK"
        ? { ...check, connect_port: check.connect_port ?? r.port }
        : check
    );
    const entry = realServerEntry(s, r.ref);
    const inhibit = entry?.inhibit_on_failure ?? s.cfg.inhibit_on_failure;
    body.push(...block(
      `real_server ${r.address}${!portless && r.port !== undefined ? ` ${r.port}` : ""}`,
      [
        `weight ${r.weight}`,
        // deno task drain: `weight 0` from this file while drained, nothing otherwise
        `include ${drainInclude(r.address)}`,
        ...(inhibit ? ["inhibit_on_failure"] : []),
        ...checks.flatMap(renderHealthCheck),
        ...raw(entry?.extra),
      ],
    ));
  }
  return block(`virtual_server ${virtualServerHead(s)}`, body);
}

/** Renders keepalived.conf (and same-box-dr includes) for one load balancer of a cluster. */
export function renderKeepalived(c: Cluster, host: string): RenderedKeepalived {
  const m = c.members.find((x) => x.name === host);
  if (!m) throw new Error(`${host} is not a load balancer of group ${c.cfg.lb_group}`);
  const parts: string[][] = [renderGlobalDefs(c, host)];
  if (c.cfg.extra?.length) parts.push(raw(c.cfg.extra));
  for (const s of c.cfg.vrrp_scripts) parts.push(renderVrrpScript(s));
  parts.push(renderMaintenanceTrack());
  for (const inst of c.cfg.vrrp_instances) parts.push(renderInstance(c, m, inst));
  for (const g of c.cfg.sync_groups) parts.push(renderSyncGroup(g));
  for (const g of c.cfg.virtual_server_groups) {
    parts.push(block(`virtual_server_group ${g.name}`, g.members.map((m) => `${m.vip} ${m.port}`)));
  }
  const includes: RenderedKeepalived["includes"] = [];
  const swapped = new Map<string, string[][]>();
  for (const s of c.services) {
    if (s.mode === "vrrp-only") continue;
    if (s.mode === "same-box-dr") {
      if (!s.instance) {
        throw new Error(
          `service ${s.cfg.name}: same-box-dr needs its VIP in a vrrp_instance's virtual_ipaddress`,
        );
      }
      swapped.set(s.instance, [...(swapped.get(s.instance) ?? []), renderVirtualServer(s)]);
    } else parts.push(renderVirtualServer(s));
  }
  for (const [inst, blocks] of swapped) {
    includes.push({
      path: vsMaster(inst),
      content: HEADER +
        `# virtual servers of ${inst}: active only while ${inst} is MASTER (same-box DR)\n` +
        blocks.map((b) => b.join("\n") + "\n").join("\n"),
    });
    parts.push([
      `# same-box DR: the virtual servers of ${inst} are in ${vsMaster(inst)};`,
      `# the notify scripts point this link at it while MASTER, at an empty file otherwise`,
      `include ${vsActive(inst)}`,
    ]);
  }
  const main = HEADER + parts.map((p) => p.join("\n") + "\n").join("\n");
  // a raw line may carry a secret too (`auth_pass !env X` in an extra): hide the diff then
  const sensitive = c.cfg.vrrp_instances.some((i) => i.authentication) ||
    redactor.redact(main) !== main;
  return { main, includes, sensitive };
}

/** True when any VIP of the cluster's instances is IPv4 (helpers that use iptables need it). */
export function hasIpv4Vips(c: Cluster): boolean {
  return c.cfg.vrrp_instances.some((i) => instanceVips(i).some((v) => isIpv4(v.address)));
}
