/**
 * The import's mapper (pure): the parsed keepalived configs of the load balancers and what the
 * reader found on every host → a `haplay_lb` section (lb/schema.ts), per-host variables, the
 * VRRP passwords (kept apart: the writer puts them in a `!file` secret) and the list of what
 * could not be mapped and why. Nothing is dropped silently: every keyword is either mapped,
 * kept under `extra:` in its block, or named in {@link MapResult.notes}.
 * @module
 */
import { withoutHaplayOps } from "../drain_nodes.ts";
import { arg, child, children, type KaNode, num, rawLines, signature, where } from "./_ka.ts";
import type { HostFacts } from "./read.ts";
import { isIp, parseIpPrefix } from "../_net.ts";
import { sudoCommandProblem } from "../schema.ts";
import { isHaplayNotify, readSteps } from "./_haplay_notify.ts";

/** One host to import: its inventory name, merged vars, role, what the reader found. */
export interface ImportHost {
  name: string;
  /** Merged inventory vars (connection vars: ansible_host gives the address). */
  vars: Record<string, unknown>;
  role: "lb" | "real";
  facts: HostFacts;
  /** The parsed keepalived config (LB hosts). */
  nodes?: KaNode[];
}

/** Marks where the writer puts a `!file` secret: the VRRP password of `instance`. */
export class SecretSlot {
  constructor(readonly instance: string) {}
}

/** The mapping of a whole setup. */
export interface MapResult {
  /** The `haplay_lb` section (plain data; auth_pass values are {@link SecretSlot}s). */
  lb: Record<string, unknown>;
  /** Variables to add per host (vrrp_priority, data_address, ...). */
  hostVars: Map<string, Record<string, unknown>>;
  /** VRRP passwords by instance (never printed; the writer stores them 0600). */
  secrets: Map<string, string>;
  /** What could not be mapped (and why), or changes the first deploy will make. */
  notes: string[];
}

/** keepalived's own defaults for the checker keywords haplay always renders. */
const CHECK_DEFAULTS = { connect_timeout: 5, retry: 1, delay_before_retry: 1 };
/** keepalived's `delay_loop` default. */
const DELAY_LOOP_DEFAULT = 60;

const INSTANCE_MAPPED = new Set([
  "state",
  "interface",
  "virtual_router_id",
  "priority",
  "advert_int",
  "nopreempt",
  "preempt_delay",
  "garp_master_delay",
  "authentication",
  "unicast_src_ip",
  "unicast_peer",
  "virtual_ipaddress",
  "virtual_ipaddress_excluded",
  "track_script",
  "track_interface",
  "notify_master",
  "notify_backup",
  "notify_fault",
  "notify_stop",
]);
/** Instance keywords whose value is per host (not compared between the LBs). */
const PER_HOST = new Set(["state", "priority", "interface", "unicast_src_ip", "unicast_peer"]);
const SCRIPT_MAPPED = new Set(["script", "interval", "timeout", "weight", "fall", "rise", "user"]);
const VS_MAPPED = new Set([
  "delay_loop",
  "lb_algo",
  "lb_kind",
  "persistence_timeout",
  "protocol",
  "real_server",
]);
const CHECKERS = new Set(["HTTP_GET", "SSL_GET", "TCP_CHECK"]);
const CHECK_MAPPED = new Set([
  "url",
  "connect_port",
  "connect_timeout",
  "retry",
  "nb_get_retry",
  "delay_before_retry",
]);
const LB_ALGOS = new Set([
  "rr",
  "wrr",
  "lc",
  "wlc",
  "lblc",
  "lblcr",
  "dh",
  "sh",
  "sed",
  "nq",
  "fo",
  "ovf",
  "mh",
]);

/** The data-plane address (with prefix) and interface of a host, from `ip -o addr`. */
export function hostAddress(
  h: ImportHost,
): { address?: string; cidr?: string; dev?: string } {
  const want = [h.vars.haplay_host, h.vars.ansible_host, h.name].find((v) =>
    typeof v === "string" && isIp(v)
  ) as string | undefined;
  for (const l of (h.facts.cmds.get("addr") ?? "").split("\n")) {
    const m = /^\d+:\s+(\S+)\s+inet6?\s+(\S+)/.exec(l);
    if (!m) continue;
    const p = parseIpPrefix(m[2]);
    if (p && p.address === want) return { address: want, cidr: m[2], dev: m[1] };
  }
  return { address: want };
}

/** `extra` lines of the children of `n` whose key is not in `mapped`. */
function extras(n: KaNode | undefined, mapped: Set<string>): string[] {
  return (n?.children ?? []).filter((c) => !mapped.has(c.key)).flatMap(rawLines);
}

/** The record under `o[k]`, created when absent. */
function sub(o: Record<string, unknown>, k: string): Record<string, unknown> {
  return (o[k] ??= {}) as Record<string, unknown>;
}

function setExtra(o: Record<string, unknown>, lines: string[]): void {
  if (lines.length) o.extra = lines;
}

/** A name for haplay from a keepalived one (instance and script names are kept when valid). */
function ident(s: string): string {
  const t = s.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[.-]/, "_").slice(0, 64);
  return t || "x";
}

/** Maps the notify lines of an instance: haplay's own scripts, seed 001's bypass helper, hooks. */
function mapNotify(
  inst: KaNode,
  o: Record<string, unknown>,
  rootScripts: boolean,
  facts: HostFacts,
  notes: string[],
): void {
  const hooks: Record<string, unknown> = {};
  let bypass = 0;
  for (const s of ["master", "backup", "fault", "stop"]) {
    const n = child(inst, `notify_${s}`);
    if (!n) continue;
    const line = n.args.join(" ");
    const path = line.split(/\s+/)[0];
    if (isHaplayNotify(path)) {
      const text = facts.files.get(path);
      if (text === undefined) {
        notes.push(`${where(n)}: haplay's notify script ${path} is missing: its steps are lost`);
        continue;
      }
      for (const st of readSteps(text)) {
        if (st.helper === "bypass_ipvs") bypass++;
        else if (st.helper === "vs_switch") continue; // same-box DR: from the real servers
        else if (st.what === "cloud VIP move") {
          hooks.cloud_vip = {
            command: st.command,
            ...(st.timeout !== undefined && st.timeout !== 60 ? { timeout: st.timeout } : {}),
            ...(st.sudo ? { sudo: true } : {}),
          };
        } else {
          const h = st.sudo || st.timeout !== undefined
            ? {
              command: st.command,
              ...(st.sudo ? { sudo: true } : {}),
              ...(st.timeout !== undefined ? { timeout: st.timeout } : {}),
            }
            : st.command;
          ((hooks[`notify_${s}`] ??= []) as unknown[]).push(h);
        }
        if (st.env) {
          notes.push(
            `${where(n)}: a notify_${s} hook has an environment (haplay's env file, maybe ` +
              `secrets): not read back; give its env again`,
          );
        }
      }
      continue;
    }
    if (/\bsed\b.*\binclude\b.*keepalived\.conf/.test(facts.files.get(path) ?? "")) {
      // seed 000: a notify script that swaps keepalived.conf's virtual_server include (and
      // reloads): haplay's same-box DR switch does that job (the mode comes from the real servers)
      notes.push(
        `${where(n)}: notify_${s} ${path} swaps keepalived.conf's virtual_server include: ` +
          `haplay's own same-box DR switch (haplay-vs-switch) does that (not a hook)`,
      );
      continue;
    }
    if (/\/bypass_ipvs(\.sh)?\s+(add|del)\s/.test(line)) {
      bypass++;
      continue;
    }
    const sudo = rootScripts && sudoCommandProblem(line) === undefined;
    hooks[`notify_${s}`] = [sudo ? { command: line, sudo: true } : line];
    if (rootScripts) {
      notes.push(
        `${where(n)}: notify_${s} "${line}" ran as root; haplay runs hooks as the script user` +
          (sudo
            ? ` and this one through an exact sudoers entry (sudo: true)`
            : ` and cannot grant it through sudo (${
              sudoCommandProblem(line)
            }): it runs unprivileged`),
      );
    }
  }
  if (bypass) {
    o.bypass_ipvs = true;
    if (!child(inst, "notify_master")?.args[0]?.startsWith("/etc/keepalived/haplay/")) {
      notes.push(
        `${inst.args[0]}: notify_* bypass_ipvs.sh → bypass_ipvs: true (haplay's own root ` +
          `helper adds/removes the same REDIRECT rule; the notify lines will name haplay's ` +
          `notify scripts)`,
      );
    }
  }
  if (Object.keys(hooks).length) o.hooks = hooks;
}

/** A VIP entry: `addr[/p]` or `{address, dev, label}`; other options are named in notes. */
function vipEntry(n: KaNode, notes: string[]): unknown {
  const opts: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < n.args.length; i++) {
    const k = n.args[i];
    if ((k === "dev" || k === "label") && n.args[i + 1] !== undefined) opts[k] = n.args[++i];
    else rest.push(k);
  }
  if (rest.length) {
    notes.push(
      `${where(n)}: virtual_ipaddress ${n.key}: '${rest.join(" ")}' not modelled (dropped)`,
    );
  }
  return Object.keys(opts).length ? { address: n.key, ...opts } : n.key;
}

interface LbView {
  h: ImportHost;
  nodes: KaNode[];
  addr: { address?: string; cidr?: string; dev?: string };
}

function topLevel(v: LbView, key: string): KaNode[] {
  return v.nodes.filter((n) => n.key === key);
}

/** Maps a whole setup. Never throws for a config it can parse: problems become notes. */
export function mapSetup(hosts: ImportHost[]): MapResult {
  const notes: string[] = [];
  const hostVars = new Map<string, Record<string, unknown>>(hosts.map((h) => [h.name, {}]));
  const secrets = new Map<string, string>();
  const lbs: LbView[] = hosts.filter((h) => h.role === "lb").map((h) => {
    const drained: string[] = [];
    const nodes = withoutHaplayOps(h.nodes ?? [], drained);
    for (const a of drained) {
      notes.push(
        `${h.name}: real server ${a} is drained (deno task drain): imported with its configured ` +
          `weight; deno task undrain puts it back`,
      );
    }
    return { h, nodes, addr: hostAddress(h) };
  });
  const reals = hosts.filter((h) => h.role === "real");
  const lb: Record<string, unknown> = {};
  const ref = lbs[0];
  if (!ref) return { lb, hostVars, secrets, notes: ["no load balancer to import"] };
  for (const v of lbs) {
    if (!v.nodes.length) notes.push(`${v.h.name}: no keepalived configuration found`);
    if (v.addr.cidr) hostVars.get(v.h.name)!.data_address = v.addr.cidr;
  }

  // top-level blocks haplay has no place for
  const KNOWN_TOP = new Set([
    "global_defs",
    "vrrp_script",
    "vrrp_instance",
    "vrrp_sync_group",
    "virtual_server",
    "include",
  ]);
  // top-level blocks haplay does not model stay raw at the top level (rendered after global_defs)
  const topExtra = ref.nodes.filter((n) => !KNOWN_TOP.has(n.key)).flatMap(rawLines);
  for (const v of lbs.slice(1)) {
    const mine = v.nodes.filter((n) => !KNOWN_TOP.has(n.key)).flatMap(rawLines);
    if (mine.join("\n") !== topExtra.join("\n")) {
      notes.push(
        `${v.h.name}: its top-level blocks outside haplay's model differ from ${ref.h.name}'s: ` +
          `${ref.h.name}'s are kept (haplay_lb.extra)`,
      );
    }
  }
  for (const v of lbs) {
    for (const n of v.nodes.filter((n) => n.key === "include")) {
      notes.push(`${v.h.name}: ${where(n)}: include ${n.args.join(" ")} matched no file`);
    }
  }

  // global_defs
  const gd = (v: LbView) => topLevel(v, "global_defs")[0];
  const rootScripts = !arg(gd(ref), "script_user");
  const routerIds = lbs.map((v) => arg(gd(v), "router_id"));
  if (routerIds.every((r, i) => r === lbs[i].h.name)) {
    // haplay's default: the inventory host name
  } else if (routerIds.every((r) => r !== undefined && r === routerIds[0])) {
    lb.router_id = routerIds[0];
  } else {
    notes.push(
      `router_id differs between the LBs (${
        lbs.map((v, i) => `${v.h.name}: ${routerIds[i] ?? "(none)"}`).join(", ")
      }): haplay writes one router_id for all or each host's inventory name; ` +
        `the hosts' names are used`,
    );
  }
  lb.script_security = child(gd(ref), "enable_script_security") !== undefined;
  const usesScripts = lbs.some((v) =>
    v.nodes.some((n) =>
      n.key === "vrrp_script" ||
      (n.key === "vrrp_instance" && (n.children ?? []).some((c) => c.key.startsWith("notify")))
    )
  );
  if (!lb.script_security && usesScripts) {
    lb.script_security = true;
    notes.push(
      "global_defs has no enable_script_security: haplay writes it (its notify and track " +
        "scripts run as the script user, and keepalived's config test fails without it)",
    );
  }
  const su = arg(gd(ref), "script_user");
  if (su === "keepalived_script") {
    // haplay's default
  } else if (su && su !== "root") lb.script_user = su;
  else if (su === "root") {
    notes.push(
      "global_defs script_user root: haplay never runs scripts as root (keepalived_script)",
    );
  } else {
    notes.push(
      "global_defs has no script_user: keepalived ran the scripts as keepalived_script when " +
        "that user exists, else as root; haplay writes script_user keepalived_script",
    );
  }
  const gdExtra = extras(gd(ref), new Set(["router_id", "enable_script_security", "script_user"]));
  if (gdExtra.length) lb.global_defs = { extra: gdExtra };
  for (const v of lbs.slice(1)) {
    const mine = extras(gd(v), new Set(["router_id", "enable_script_security", "script_user"]));
    if (mine.join("\n") !== gdExtra.join("\n")) {
      notes.push(
        `${v.h.name}: global_defs differs from ${ref.h.name}'s (${
          mine.filter((l) => !gdExtra.includes(l)).join("; ") || "fewer lines"
        }): ${ref.h.name}'s is kept for every LB`,
      );
    }
  }

  // vrrp_script
  const scripts = topLevel(ref, "vrrp_script").map((n) => {
    const o: Record<string, unknown> = { name: ident(n.args[0] ?? "script") };
    const s = arg(n, "script");
    if (s !== undefined) o.script = s;
    for (const k of ["interval", "timeout", "weight", "fall", "rise"]) {
      const x = num(n, k);
      if (x !== undefined) o[k] = x;
    }
    if (o.interval === undefined) o.interval = 1; // keepalived's default (haplay's is 2)
    const user = child(n, "user");
    if (user) {
      if (user.args.length === 1) o.user = user.args[0];
      else notes.push(`${where(user)}: vrrp_script user with a group is not modelled (dropped)`);
    }
    setExtra(o, extras(n, SCRIPT_MAPPED));
    return o;
  });
  if (scripts.length) lb.vrrp_scripts = scripts;

  // vrrp_instance
  const instances: Record<string, unknown>[] = [];
  const ifaces = new Set<string>();
  for (const n of topLevel(ref, "vrrp_instance")) {
    const name = n.args[0] ?? "VI_1";
    const o: Record<string, unknown> = { name: ident(name) };
    o.virtual_router_id = num(n, "virtual_router_id");
    o.advert_int = num(n, "advert_int") ?? 1;
    if (child(n, "nopreempt")) o.nopreempt = true;
    for (const k of ["preempt_delay", "garp_master_delay"]) {
      const x = num(n, k);
      if (x !== undefined) o[k] = x;
    }
    const auth = child(n, "authentication");
    if (auth) {
      const pass = arg(auth, "auth_pass");
      o.authentication = {
        type: arg(auth, "auth_type") ?? "PASS",
        auth_pass: new SecretSlot(name),
      };
      if (pass !== undefined) secrets.set(name, pass);
    }
    o.virtual_ipaddress = children(n, "virtual_ipaddress").flatMap((b) =>
      (b.children ?? []).map((e) => vipEntry(e, notes))
    );
    const excl = children(n, "virtual_ipaddress_excluded").flatMap((b) =>
      (b.children ?? []).map((e) => vipEntry(e, notes))
    );
    if (excl.length) o.virtual_ipaddress_excluded = excl;
    const ts = (child(n, "track_script")?.children ?? []).map((t) => {
      const w = t.args[0] === "weight" ? Number(t.args[1]) : undefined;
      return w === undefined ? t.key : { name: t.key, weight: w };
    });
    if (ts.length) o.track_scripts = ts;
    const ti = (child(n, "track_interface")?.children ?? []).map((t) => {
      if (t.args.length) {
        notes.push(
          `${where(t)}: track_interface ${t.key} ${
            t.args.join(" ")
          }: weight not modelled (dropped)`,
        );
      }
      return t.key;
    });
    if (ti.length) o.track_interfaces = ti;
    if (child(n, "unicast_peer")) o.unicast = true;
    mapNotify(n, o, rootScripts, ref.h.facts, notes);
    setExtra(o, extras(n, INSTANCE_MAPPED));
    instances.push(o);

    // per host: state, priority, interface, unicast, and whether the rest agrees
    const sameRest = (x: KaNode) =>
      (x.children ?? []).filter((c) => !PER_HOST.has(c.key) && c.key !== "authentication")
        .map(signature).join("\n");
    for (const v of lbs) {
      const mine = topLevel(v, "vrrp_instance").find((x) => x.args[0] === name);
      if (!mine) {
        notes.push(`${v.h.name}: has no vrrp_instance ${name} (${ref.h.name} has)`);
        continue;
      }
      if (v !== ref && sameRest(mine) !== sameRest(n)) {
        notes.push(
          `${v.h.name}: vrrp_instance ${name} differs from ${ref.h.name}'s beyond state, ` +
            `priority, interface and unicast addresses: ${ref.h.name}'s is kept`,
        );
      }
      const hv = hostVars.get(v.h.name)!;
      const pass = arg(child(mine, "authentication"), "auth_pass");
      if (v !== ref && pass !== secrets.get(name)) {
        notes.push(
          `${v.h.name}: vrrp_instance ${name} has another auth_pass: ${ref.h.name}'s kept`,
        );
      }
      const prio = num(mine, "priority") ?? 100;
      sub(hv, "vrrp_priority")[name] = prio;
      const state = arg(mine, "state") ?? "BACKUP";
      sub(hv, "vrrp_state")[name] = state;
      const ifn = arg(mine, "interface");
      if (ifn) {
        ifaces.add(ifn);
        sub(hv, "vrrp_interface_by")[name] = ifn;
      }
      const src = arg(mine, "unicast_src_ip");
      if (src && src !== v.addr.address) hv.unicast_src_ip = src;
      const peers = child(mine, "unicast_peer")?.children?.map((p) => p.key);
      if (peers) hv.unicast_peers_seen = peers;
    }
  }
  lb.vrrp_instances = instances;

  // sync groups
  const groups = topLevel(ref, "vrrp_sync_group").map((n) => {
    const o: Record<string, unknown> = {
      name: ident(n.args[0] ?? "G"),
      instances: (child(n, "group")?.children ?? []).map((c) => c.key),
    };
    setExtra(o, extras(n, new Set(["group"])));
    return o;
  });
  if (groups.length) lb.sync_groups = groups;

  finishHostVars(lb, lbs, hostVars, notes);
  mapServices(lb, ref, lbs, reals, notes, topExtra);
  setExtra(lb, topExtra);
  daemonArgs(lbs, notes);
  return { lb, hostVars, secrets, notes };
}

/** Collapses the per-instance host values into the schema's vars (one value when uniform). */
function finishHostVars(
  lb: Record<string, unknown>,
  lbs: LbView[],
  hostVars: Map<string, Record<string, unknown>>,
  notes: string[],
): void {
  const instances = lb.vrrp_instances as Record<string, unknown>[];
  const names = instances.map((i) => String(i.name));
  // interface: one for all when uniform, else per host when uniform on the host, else per instance
  const all = lbs.flatMap((v) =>
    Object.values(hostVars.get(v.h.name)!.vrrp_interface_by as Record<string, string> ?? {})
  );
  if (all.length && all.every((x) => x === all[0])) lb.interface = all[0];
  for (const v of lbs) {
    const hv = hostVars.get(v.h.name)!;
    const by = hv.vrrp_interface_by as Record<string, string> | undefined;
    delete hv.vrrp_interface_by;
    if (by && lb.interface === undefined) {
      const vals = Object.values(by);
      if (vals.every((x) => x === vals[0])) hv.vrrp_interface = vals[0];
      else {
        notes.push(
          `${v.h.name}: instances on several interfaces (${vals.join(", ")}): ` +
            `haplay sets one per host; ${vals[0]} used`,
        );
        hv.vrrp_interface = vals[0];
      }
    }
    const prio = hv.vrrp_priority as Record<string, number> | undefined;
    if (prio) {
      const vals = Object.values(prio);
      hv.vrrp_priority = vals.every((x) => x === vals[0]) && vals.length === names.length
        ? vals[0]
        : prio;
    }
  }
  // states: haplay's "auto" gives the single highest priority MASTER, the rest BACKUP
  for (const inst of instances) {
    const name = String(inst.name);
    const prios = lbs.map((v) => {
      const p = hostVars.get(v.h.name)!.vrrp_priority;
      return typeof p === "number" ? p : (p as Record<string, number> | undefined)?.[name] ?? 0;
    });
    const states = lbs.map((v) =>
      (hostVars.get(v.h.name)!.vrrp_state as Record<string, string> | undefined)?.[name]
    );
    const auto = prios.map((p, i) =>
      inst.nopreempt ? "BACKUP" : prios.every((q, j) => j === i || q < p) ? "MASTER" : "BACKUP"
    );
    // every LB BACKUP (priority decides, as several seeds write it) is haplay's state: BACKUP
    const allBackup = states.every((s) => s === "BACKUP");
    if (allBackup) inst.state = "BACKUP";
    if (allBackup || states.every((s, i) => s === auto[i] || s === undefined)) {
      for (const v of lbs) {
        delete (hostVars.get(v.h.name)!.vrrp_state as Record<string, string> | undefined)?.[name];
      }
    }
  }
  for (const v of lbs) {
    const hv = hostVars.get(v.h.name)!;
    const st = hv.vrrp_state as Record<string, string> | undefined;
    if (st && !Object.keys(st).length) delete hv.vrrp_state;
    else if (st && names.length === 1) hv.vrrp_state = st[names[0]];
    // unicast peers: only when they are not the other LBs' addresses (haplay's default)
    const seen = hv.unicast_peers_seen as string[] | undefined;
    delete hv.unicast_peers_seen;
    if (seen) {
      const dflt = lbs.filter((x) => x !== v).map((x) =>
        (hostVars.get(x.h.name)!.unicast_src_ip as string | undefined) ?? x.addr.address
      );
      if (seen.join(",") !== dflt.join(",")) hv.vrrp_unicast_peers = seen;
    }
  }
}

/** The real server a `real_server` address is: an inventory host (by address) or an address. */
function realHost(addr: string, hosts: ImportHost[]): ImportHost | undefined {
  return hosts.find((h) =>
    hostAddress(h).address === addr ||
    (h.facts.cmds.get("addr") ?? "").split("\n").some((l) =>
      /^\d+:\s+(?!lo\s)\S+\s+inet6?\s+(\S+)/.exec(l)?.[1].split("/")[0] === addr
    )
  );
}

/** How a DR real server accepts the VIP, from its facts; with a note when it is not persisted. */
function vipMethodOf(
  h: ImportHost,
  vip: string,
  port: number | undefined,
  notes: string[],
): "lo" | "redirect" | undefined {
  const nat = h.facts.cmds.get("nat") ?? "";
  const rules = nat.split("\n").filter((l) =>
    /^-A PREROUTING\b/.test(l) && l.includes(`-d ${vip}/32`) && /-j REDIRECT\b/.test(l)
  );
  const redirect = rules.length > 0;
  const exact = `--dport ${port} `;
  if (redirect && port !== undefined && !rules.some((l) => l.includes(exact))) {
    notes.push(
      `${h.name}: its REDIRECT rule for ${vip} is '${rules[0].slice(3)}'; haplay writes one per ` +
        `service port (-p tcp --dport ${port}) beside it and leaves the hand-written rule in place`,
    );
  }
  const lo = (h.facts.cmds.get("addr") ?? "").split("\n").some((l) =>
    new RegExp(`^\\d+:\\s+lo\\s+inet6?\\s+${vip.replaceAll(".", "\\.")}/`).test(l)
  );
  const persisted = (paths: RegExp) =>
    [...h.facts.files].some(([p, text]) => paths.test(p) && text.includes(vip));
  if (redirect) {
    if (!persisted(/^\/etc\/iptables\/rules\.v[46]$/)) {
      notes.push(`${h.name}: the REDIRECT rule for ${vip} is not persisted: haplay persists it`);
    }
    return "redirect";
  }
  if (lo) {
    if (!persisted(/^\/etc\/(netplan\/.*\.yaml|network\/interfaces.*)$/)) {
      notes.push(`${h.name}: ${vip} on lo is not persisted: haplay persists it with netplan`);
    }
    return "lo";
  }
  return undefined;
}

function mapServices(
  lb: Record<string, unknown>,
  ref: LbView,
  lbs: LbView[],
  reals: ImportHost[],
  notes: string[],
  topExtra: string[],
): void {
  const services: Record<string, unknown>[] = [];
  const used = new Set<string>();
  const methods: string[] = [];
  const vss = topLevel(ref, "virtual_server");
  for (const v of lbs.slice(1)) {
    const a = topLevel(v, "virtual_server").map(signature).join("\n");
    if (a !== vss.map(signature).join("\n")) {
      notes.push(
        `${v.h.name}: virtual_server blocks differ from ${ref.h.name}'s: ${ref.h.name}'s kept`,
      );
    }
  }
  const modes = new Set<string>();
  for (const n of vss) {
    const o: Record<string, unknown> = {};
    if (n.args[0] === "group") {
      topExtra.push(...rawLines(n));
      notes.push(
        `${where(n)}: virtual_server group ${n.args[1]}: kept raw under haplay_lb.extra ` +
          `(haplay does not model virtual_server_group: it renders it as written, no lint)`,
      );
      continue;
    }
    const fw = n.args[0] === "fwmark";
    const base = fw ? `fwmark_${n.args[1]}` : `vs_${n.args[1] ?? "any"}`;
    let name = ident(base);
    for (let i = 2; used.has(name); i++) name = ident(`${base}_${i}`);
    used.add(name);
    o.name = name;
    if (fw) o.fwmark = Number(n.args[1]);
    else {
      o.vip = n.args[0];
      if (n.args[1] !== undefined) o.port = Number(n.args[1]);
    }
    const kind = (arg(n, "lb_kind") ?? "NAT").toUpperCase();
    if (kind === "TUN") {
      topExtra.push(...rawLines(n));
      notes.push(
        `${where(n)}: virtual_server ${n.args.join(" ")}: lb_kind TUN (IP tunnelling) has no ` +
          `haplay mode: kept raw under haplay_lb.extra (its real servers get nothing deployed)`,
      );
      continue;
    }
    let mode = kind === "NAT" ? "nat" : fw ? "dsr-fwmark" : "dr";
    const protocol = arg(n, "protocol");
    if (protocol && protocol !== "TCP") o.protocol = protocol;
    const algo = arg(n, "lb_algo");
    if (algo && LB_ALGOS.has(algo)) o.lb_algo = algo;
    else if (algo) notes.push(`${where(n)}: lb_algo ${algo} unknown to haplay (rr used)`);
    else o.lb_algo = "wlc"; // keepalived's default scheduler
    const pt = num(n, "persistence_timeout");
    if (pt !== undefined) o.persistence_timeout = pt;
    o.delay_loop = num(n, "delay_loop") ?? DELAY_LOOP_DEFAULT;
    if (fw) {
      // the VIP the mark is set for, from the LBs' mangle rules
      const mangle = lbs.map((v) => v.h.facts.cmds.get("mangle") ?? "").join("\n");
      const mark = Number(n.args[1]);
      const m = new RegExp(
        `^-A PREROUTING .*-d (\\S+?)(?:/32)? .*-j MARK --set-x?mark (0x[0-9a-f]+|\\d+)`,
        "m",
      );
      for (const l of mangle.split("\n")) {
        const x = m.exec(l);
        if (x && Number(x[2]) === mark) o.vip = x[1];
      }
      if (o.vip === undefined) {
        notes.push(`${where(n)}: fwmark ${mark}: no mangle MARK rule found on the LBs`);
      }
    }
    // real servers
    const rss = children(n, "real_server");
    let statusNoted = false;
    const refs: Record<string, unknown>[] = [];
    const weights: number[] = [];
    const ports: (number | undefined)[] = [];
    let hc: Record<string, unknown> | undefined;
    let hcSig: string | undefined;
    const lbAddrs = lbs.map((v) => v.addr.address);
    for (const r of rss) {
      const addr = r.args[0];
      const port = r.args[1] !== undefined ? Number(r.args[1]) : undefined;
      const host = realHost(addr, reals) ??
        (lbAddrs.includes(addr) ? lbs.find((v) => v.addr.address === addr)!.h : undefined);
      if (host && lbs.some((v) => v.h === host)) mode = mode === "dr" ? "same-box-dr" : mode;
      const ro: Record<string, unknown> = host ? { host: host.name } : { address: addr };
      if (port !== undefined && port !== o.port) ro.port = port;
      const w = num(r, "weight") ?? 1;
      weights.push(w);
      ports.push(port);
      const checker = (r.children ?? []).find((c) => CHECKERS.has(c.key));
      const otherChecks = (r.children ?? []).filter((c) =>
        /_CHECK$/.test(c.key) && !CHECKERS.has(c.key)
      );
      const rest = (r.children ?? []).filter((c) => c.key !== "weight" && !CHECKERS.has(c.key));
      setExtra(ro, rest.flatMap(rawLines));
      if (otherChecks.length) {
        notes.push(
          `${where(r)}: ${
            otherChecks.map((c) => c.key).join(", ")
          } kept raw under the real server's extra`,
        );
      }
      if (
        checker && /^(HTTP|SSL)_GET$/.test(checker.key) &&
        !children(checker, "url").some((u) => child(u, "status_code"))
      ) {
        if (!statusNoted) {
          notes.push(
            `${where(checker)}: ${checker.key} without status_code: keepalived accepted any 2xx ` +
              `answer; haplay checks for status_code 200 (set health_check.status_code otherwise)`,
          );
        }
        statusNoted = true;
      }
      const mine = checker
        ? mapCheck(checker, fw && port !== undefined ? port : undefined)
        : { type: "none" };
      const sig = JSON.stringify(mine);
      if (hcSig === undefined) {
        hcSig = sig;
        hc = mine;
      } else if (sig !== hcSig) {
        notes.push(
          `${
            where(r)
          }: health check differs from the service's first real server's (haplay has one per service): the first is kept`,
        );
      }
      if (host && mode === "dr" && o.vip) {
        const m = vipMethodOf(host, String(o.vip), port ?? (o.port as number | undefined), notes);
        if (m) methods.push(m);
        else {notes.push(
            `${host.name}: accepts ${o.vip} neither on lo nor by REDIRECT: haplay sets lo`,
          );}
      }
      refs.push(ro);
    }
    if (weights.length && weights.every((w) => w === weights[0])) {
      if (weights[0] !== 1) o.weight = weights[0];
    } else refs.forEach((r, i) => (r.weight = weights[i]));
    const portsSet = new Set(ports.filter((p) => p !== undefined && p !== o.port));
    if (portsSet.size === 1 && refs.every((r) => r.port !== undefined)) {
      o.real_port = [...portsSet][0];
      for (const r of refs) delete r.port;
    }
    if (
      fw && hc && o.real_port === undefined && ports.every((p) => p === undefined) &&
      typeof hc.connect_port === "number"
    ) {
      // keepalived clears a fwmark service's real-server ports, so haplay renders its real_port
      // as the checks' connect_port: map that form back to real_port (re-imports stay equal)
      o.real_port = hc.connect_port;
      delete hc.connect_port;
    }
    const realNames = reals.map((h) => h.name);
    const plain = refs.every((r) => Object.keys(r).length === 1 && r.host);
    if (plain && mode !== "same-box-dr" && refs.map((r) => r.host).join() === realNames.join()) {
      // haplay's default: every host of the real group
    } else {
      o.real_servers = refs.map((r) => (Object.keys(r).length === 1 && r.host ? r.host : r));
    }
    if (hc) o.health_check = hc;
    o.mode = mode;
    modes.add(mode);
    setExtra(o, extras(n, VS_MAPPED));
    services.push(o);
  }
  if (!vss.length) lb.mode = "vrrp-only";
  else if (modes.size === 1) {
    lb.mode = [...modes][0];
    for (const s of services) delete s.mode;
  }
  if (methods.length) {
    const redirect = methods.filter((m) => m === "redirect").length;
    lb.vip_method = redirect * 2 >= methods.length ? "redirect" : "lo";
    if (redirect && redirect !== methods.length) {
      notes.push("real servers mix lo and REDIRECT: haplay sets one method per service");
    }
  }
  if (services.length) lb.services = services;
}

/** The checker of a real server → haplay's health_check (extra lines kept). */
function mapCheck(c: KaNode, fwPort: number | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = { type: c.key };
  const urls = children(c, "url");
  if (urls[0]) {
    const path = arg(urls[0], "path");
    if (path) o.path = path;
    const sc = num(urls[0], "status_code");
    // 200 is the schema's default, and haplay always renders it: omitting it keeps re-imports equal
    if (sc !== undefined && sc !== 200) o.status_code = sc;
  }
  const cp = num(c, "connect_port");
  if (cp !== undefined && cp !== fwPort) o.connect_port = cp;
  o.connect_timeout = num(c, "connect_timeout") ?? CHECK_DEFAULTS.connect_timeout;
  o.retry = num(c, "retry") ?? num(c, "nb_get_retry") ?? CHECK_DEFAULTS.retry;
  o.delay_before_retry = num(c, "delay_before_retry") ?? CHECK_DEFAULTS.delay_before_retry;
  // the checker's other keywords and further url blocks stay raw in its extra; url keywords
  // beside path/status_code (digest, virtualhost) cannot be split from the url block: the
  // whole first url goes raw too, and haplay's path is left at its default
  const urlRest = urls[0] ? extras(urls[0], new Set(["path", "status_code"])) : [];
  const raw = [...extras(c, CHECK_MAPPED), ...urls.slice(urlRest.length ? 0 : 1).flatMap(rawLines)];
  if (urlRest.length) {
    delete o.path;
    delete o.status_code;
  }
  setExtra(o, raw);
  return o;
}

/** DAEMON_ARGS: `--vrrp` (no IPVS) maps to `ipvs: false`; other options are named in notes. */
function daemonArgs(lbs: LbView[], notes: string[]): void {
  for (const v of lbs) {
    const text = v.h.facts.files.get("/etc/default/keepalived") ?? "";
    const m = /^\s*DAEMON_ARGS=["']?([^"'\n]*)["']?\s*$/m.exec(text);
    const args = (m?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
    const other = args.filter((a) => a !== "--vrrp" && a !== "-P");
    if (other.length) {
      notes.push(
        `${v.h.name}: DAEMON_ARGS ${
          other.join(" ")
        } not modelled (haplay writes only --vrrp when the kernel has no IPVS)`,
      );
    }
  }
}
