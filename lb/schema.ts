/**
 * The `haplay_lb` inventory section and the per-host variables of the load-balancer layer, as
 * zod schemas with defaults. Every field is documented in `docs/lb.md`.
 *
 * ```yaml
 * all:
 *   vars:
 *     haplay_lb:
 *       mode: dr
 *       vrrp_instances:
 *         - { name: VI_1, virtual_router_id: 51, virtual_ipaddress: [198.18.0.100/24] }
 *       services:
 *         - { name: web, vip: 198.18.0.100, port: 80, health_check: { type: HTTP_GET } }
 *   children:
 *     lb:   { hosts: { lb1: { vrrp_priority: 150 }, lb2: { vrrp_priority: 100 } } }
 *     real: { hosts: { web1: {}, web2: {} } }
 * ```
 * @module
 */
import { z } from "zod";
import { redactor } from "../engine/secrets.ts";
import { isIp, parseIpPrefix } from "./_net.ts";
import { parseKeepalivedConf } from "./keepalived_parse.ts";

/** A name keepalived accepts as an instance/script/group name and haplay as a file name part. */
const Ident = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, {
  message: "must be 1-64 letters, digits, '_', '.' or '-' (not starting with '.' or '-')",
});

const Port = z.number().int().min(1).max(65535);
const Seconds = z.number().positive().max(86400);

/** An IPv4/IPv6 address without prefix. */
export const IpAddress = z.string().refine(isIp, { message: "must be an IP address" });

/** An address with an optional `/prefix`. */
export const IpWithPrefix = z.string().refine((s) => parseIpPrefix(s) !== null, {
  message: "must be an IP address, optionally with /prefix (198.18.0.100/24)",
});

/** A network `a.b.c.d/n`. */
const Cidr = z.string().refine((s) => parseIpPrefix(s)?.prefix !== undefined, {
  message: "must be a network like 198.18.0.0/24",
});

/** Text keepalived reads inside double quotes: one line, no `"`. */
const Quotable = z.string().min(1).refine((s) => !/["\n\r\0]/.test(s), {
  message: "must be one line without double quotes",
});

/**
 * The lines of an `extra` list: each entry is one line, or several (a YAML block scalar `|`,
 * its final newline dropped).
 */
export function extraLines(extra: readonly string[] | undefined): string[] {
  return (extra ?? []).flatMap((e) => e.replace(/\n$/, "").split("\n"));
}

/**
 * `extra`: raw keepalived lines for keywords haplay does not model, rendered as written at the
 * end of their block (indented inside it). A line may open a sub-block that later lines close
 * (`track_file chk {`, `  file /etc/x`, `}`), or one entry may hold the whole block as a YAML
 * block scalar. Checked here: one line per line (no NUL/CR), quotes closed, braces balanced
 * (by the keepalived parser); the keywords themselves are checked only by `keepalived -t` on the
 * host before the file lands (lint lists each as "not checked by haplay").
 */
export const Extra = z.array(
  z.string().refine((l) => !/[\0\r]/.test(l), { message: "must not contain NUL or CR" }),
).superRefine((items, ctx) => {
  const owner: { item: number; line: number }[] = [];
  items.forEach((it, item) =>
    extraLines([it]).forEach((_, line) => owner.push({ item, line: line + 1 }))
  );
  const r = parseKeepalivedConf(extraLines(items).join("\n"), { file: "extra" });
  for (const e of r.errors) {
    const at = owner[Math.min(e.line, owner.length) - 1] ?? { item: 0, line: 1 };
    const multi = extraLines([items[at.item] ?? ""]).length > 1;
    ctx.addIssue({
      code: "custom",
      path: [at.item],
      message: `raw keepalived line${multi ? ` ${at.line} of this entry` : ""}: ${e.message}`,
    });
  }
});

/** Characters of one argument of a sudo hook (sudoers specials are escaped when written). */
const SUDO_ARG = /^[A-Za-z0-9_.\/@%+=:,-]+$/;
/** Characters of one path segment of a sudo hook's program. */
const SUDO_SEGMENT = /^[A-Za-z0-9_.+-]+$/;

/**
 * Why a command line cannot be granted to the script user through sudo, or undefined when it
 * can: words separated by single spaces, the first a normalised absolute path to a file (no
 * `.`/`..` segment, no `//`, no trailing `/`: sudo reads a trailing `/` as "every program in
 * that directory"), no glob or escape characters (`*?[]\\`), no quotes, no shell syntax.
 */
export function sudoCommandProblem(line: string): string | undefined {
  if (line !== line.trim() || /\s\s|[^\S ]/.test(line)) {
    return "with sudo: words separated by single spaces (no tabs, no leading or trailing space)";
  }
  const [path, ...args] = line.split(" ");
  if (!path.startsWith("/")) {
    return `with sudo: the program must be an absolute path, got '${path}'`;
  }
  if (path.endsWith("/")) {
    return `with sudo: '${path}' ends in '/' (sudo would grant every program in that directory)`;
  }
  const segs = path.slice(1).split("/");
  for (const seg of segs) {
    if (seg === "") return `with sudo: '${path}' is not normalised (empty segment '//')`;
    if (seg === "." || seg === "..") {
      return `with sudo: '${path}' is not normalised ('${seg}' segment); give the real path`;
    }
    if (/[*?[\]\\]/.test(seg)) {
      return `with sudo: '${path}' contains a glob or escape character (*?[]\\)`;
    }
    if (!SUDO_SEGMENT.test(seg)) {
      return `with sudo: '${path}' may only contain letters, digits and _.+- between '/'`;
    }
  }
  for (const a of args) {
    if (/[*?[\]\\]/.test(a)) {
      return `with sudo: argument '${a}' contains a glob or escape character (*?[]\\)`;
    }
    if (!SUDO_ARG.test(a)) {
      return `with sudo: argument '${a}' is not a plain word (no shell syntax, quotes or globs)`;
    }
  }
  return undefined;
}

/** Adds the sudo rule to a hook object schema: the issue lands on its `command` field. */
function sudoChecked<T extends { sudo: boolean; command: string; env?: Record<string, string> }>(
  h: T,
  ctx: z.core.$RefinementCtx<T>,
): void {
  if (!h.sudo) return;
  const problem = sudoCommandProblem(h.command);
  if (problem) ctx.addIssue({ code: "custom", message: problem, path: ["command"] });
  if (h.env && Object.keys(h.env).length) {
    ctx.addIssue({
      code: "custom",
      message: "env cannot go through sudo (sudo resets the environment): run this hook " +
        "without sudo, or let the root command read its own root-only file",
      path: ["env"],
    });
  }
}

/** Environment variable names a hook may be given (not the ones that change how programs run). */
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, {
  message: "must be an environment variable name",
}).refine(
  (n) =>
    !/^(PATH|HOME|IFS|ENV|BASH_ENV|SHELL|SHELLOPTS|BASHOPTS|PS4|CDPATH|GLOBIGNORE|LD_.*)$/
      .test(n),
  {
    message:
      "must not be PATH, HOME, IFS, ENV, BASH_ENV, SHELL, SHELLOPTS, BASHOPTS, PS4, CDPATH, " +
      "GLOBIGNORE or LD_*",
  },
);

/**
 * Variables a hook gets in its environment (secrets as `!env NAME` / `!file PATH`). They are
 * written to a root:keepalived_script 0640 file beside the notify script, never onto a command
 * line.
 */
const HookEnv = z.record(
  EnvName,
  z.string().refine((v) => !v.includes("\0"), {
    message: "must not contain NUL",
  }),
);

/**
 * A hook's command line: one line, and no resolved secret inside (a command line shows in the
 * process list of every local user while it runs; secrets go through `env`).
 */
const HookLine = Quotable.refine((s) => redactor.redact(s) === s, {
  message: "contains a secret: a command line shows in every local user's process list; " +
    "give the secret as env: { NAME: !env VAR } and use $NAME in the command",
});

/** A shell command run by a hook: one line; `sudo: true` runs it as root via an exact sudoers entry. */
export const HookCommand = z.union([
  HookLine,
  z.strictObject({
    /** The command line. With `sudo`, an absolute path and plain arguments only. */
    command: HookLine,
    /** Run as root through `sudo -n` (the exact line is granted in sudoers). */
    sudo: z.boolean().default(false),
    /** Seconds before the command is killed (default: none; cloud hooks: 60). */
    timeout: Seconds.optional(),
    /** Environment of the command (not with sudo): how a hook gets its secrets. */
    env: HookEnv.optional(),
  }).superRefine(sudoChecked),
]);

/** Cloud VIP move on becoming MASTER (seed 004: secondary private IP / EIP via the cloud API). */
export const CloudVip = z.strictObject({
  /** Command that moves the address to this host (run on notify_master). */
  command: HookLine,
  /** Seconds before it is killed: cloud APIs are slow, keep it generous. */
  timeout: Seconds.default(60),
  /** Run as root through an exact sudoers entry. */
  sudo: z.boolean().default(false),
  /** Environment of the command (not with sudo): API tokens as `!env NAME`. */
  env: HookEnv.optional(),
}).superRefine(sudoChecked);

/** User commands run on VRRP state changes (as `keepalived_script`). */
export const Hooks = z.strictObject({
  notify_master: z.array(HookCommand).default([]),
  notify_backup: z.array(HookCommand).default([]),
  notify_fault: z.array(HookCommand).default([]),
  /** Run when keepalived stops (keepalived's notify_stop). */
  notify_stop: z.array(HookCommand).default([]),
  cloud_vip: CloudVip.optional(),
});

/** One `virtual_ipaddress` entry: `addr[/prefix]` or `{address, dev, label}`. */
export const VipEntry = z.union([
  IpWithPrefix,
  z.strictObject({
    address: IpWithPrefix,
    dev: z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, { message: "must be an interface name" })
      .optional(),
    label: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, { message: "must be a label like eth0:1" })
      .optional(),
  }),
]);

/** VRRP authentication (deprecated by RFC 3768, still used by the seeds). */
export const Authentication = z.strictObject({
  /** PASS (clear text, first 8 characters used) or AH. */
  type: z.enum(["PASS", "AH"]).default("PASS"),
  /** The password: give it as `!env NAME` or `!file PATH`. */
  auth_pass: z.string().min(1).refine((s) => /^[!-~]+$/.test(s) && !/[#!"]/.test(s), {
    message: "must be printable ASCII without spaces, '#', '!' or '\"'",
  }),
});

/**
 * `connection_sync` of a VRRP instance: keepalived's `lvs_sync_daemon` (global_defs), the
 * kernel's IPVS sync daemons. While this instance is MASTER on a director, its kernel sends its
 * connection table (multicast UDP) out of `interface`; while BACKUP, it receives the peer's and
 * keeps the entries, so the connections survive a failover. keepalived runs ONE sync daemon pair
 * per director: at most one instance carries it (lint); in a sync group, the group's state drives it.
 */
export const ConnectionSync = z.strictObject({
  /** Interface the sync messages leave and arrive on (default: the instance's VRRP interface). */
  interface: z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/, { message: "must be an interface name" })
    .optional(),
  /** Sync id 0-255 (the backup keeps only messages with its id; default: virtual_router_id). */
  id: z.number().int().min(0).max(255).optional(),
  /** Largest sync message in bytes (kernel default: the interface MTU 1500 - 28; Linux >= 4.3). */
  maxlen: z.number().int().min(1).max(65507).optional(),
  /** UDP port of the sync messages (kernel default 8848; Linux >= 4.3). */
  port: Port.optional(),
  /** Multicast TTL (kernel default 1: the segment only; Linux >= 4.3). */
  ttl: z.number().int().min(1).max(255).optional(),
  /** Multicast group (kernel default 224.0.0.81; Linux >= 4.3). */
  group: IpAddress.optional(),
  /** MTU of `interface` on the directors, for lint (sync messages must fit it): default 1500. */
  mtu: z.number().int().min(576).max(65535).default(1500),
});

/** One `vrrp_instance`. */
export const VrrpInstance = z.strictObject({
  name: Ident,
  /** 1..255, unique on the segment. */
  virtual_router_id: z.number().int(),
  /** Interface VRRP runs on (default: host var `vrrp_interface`, then the section's). */
  interface: z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/).optional(),
  advert_int: z.number().positive().max(255).default(1),
  /** `auto`: the highest priority starts MASTER, the others BACKUP; `BACKUP`: every host. */
  state: z.enum(["auto", "BACKUP"]).default("auto"),
  nopreempt: z.boolean().default(false),
  preempt_delay: z.number().int().min(0).max(1000).optional(),
  garp_master_delay: z.number().int().min(0).max(255).optional(),
  authentication: Authentication.optional(),
  /** Unicast VRRP (clouds, no multicast): peers are the other LB hosts' addresses. */
  unicast: z.boolean().default(false),
  virtual_ipaddress: z.array(VipEntry).min(1),
  /** Addresses not carried in adverts; entries past the 20th of virtual_ipaddress move here. */
  virtual_ipaddress_excluded: z.array(VipEntry).default([]),
  track_scripts: z.array(
    z.union([Ident, z.strictObject({ name: Ident, weight: z.number().int() })]),
  )
    .default([]),
  track_interfaces: z.array(z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/)).default([]),
  /** Seed 001: on BACKUP/FAULT redirect the VIPs locally (iptables), on MASTER remove that. */
  bypass_ipvs: z.boolean().default(false),
  /** State-change hooks (default: the section's `hooks`). */
  hooks: Hooks.optional(),
  /** IPVS connection sync between the directors, driven by this instance (see {@link ConnectionSync}). */
  connection_sync: ConnectionSync.optional(),
  /** Raw keepalived lines at the end of the vrrp_instance block (see {@link Extra}). */
  extra: Extra.optional(),
});

/** One `vrrp_script` (used by `track_scripts`). */
export const VrrpScript = z.strictObject({
  name: Ident,
  script: Quotable,
  interval: z.number().positive().default(2),
  timeout: z.number().positive().optional(),
  weight: z.number().int().min(-253).max(253).optional(),
  fall: z.number().int().min(1).optional(),
  rise: z.number().int().min(1).optional(),
  user: z.string().regex(/^[a-z_][a-z0-9_-]*$/).optional(),
  /** Raw keepalived lines at the end of the vrrp_script block (see {@link Extra}). */
  extra: Extra.optional(),
});

/** One `vrrp_sync_group`. */
export const SyncGroup = z.strictObject({
  name: Ident,
  instances: z.array(Ident).min(2),
  /** Raw keepalived lines at the end of the vrrp_sync_group block (see {@link Extra}). */
  extra: Extra.optional(),
});

/** How the LVS forwards a service, or no LVS at all. */
export const Mode = z.enum(["nat", "dr", "dsr-fwmark", "same-box-dr", "vrrp-only"]);

/** How a DR real server accepts packets for the VIP: a /32 on `lo`, or an iptables REDIRECT. */
export const VipMethod = z.enum(["lo", "redirect"]);

/** A real server: inventory host or group name (string), or an explicit mapping. */
export const RealServerRef = z.union([
  z.string().min(1),
  z.strictObject({
    host: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
    /** An address outside the inventory (nothing is deployed there). */
    address: IpAddress.optional(),
    port: Port.optional(),
    weight: z.number().int().min(0).max(65535).optional(),
    /** Overrides the service's inhibit_on_failure for this real server. */
    inhibit_on_failure: z.boolean().optional(),
    /** Raw keepalived lines at the end of its real_server block(s) (see {@link Extra}). */
    extra: Extra.optional(),
  }).refine((r) => [r.host, r.group, r.address].filter((x) => x !== undefined).length === 1, {
    message: "give exactly one of host, group or address",
  }),
]);

/** One accepted HTTP status: a code (200) or a range ("200-299"). */
const StatusCode = z.union([
  z.number().int().min(100).max(599),
  z.string().refine((c) => /^[1-5][0-9][0-9](-[1-5][0-9][0-9])?$/.test(c), {
    message: 'must be a status code (200) or a range like "200-299"',
  }),
]);

/** The checker types haplay renders (`none`: no checker, the real server is always up). */
export const CHECKER_TYPES = [
  "HTTP_GET",
  "SSL_GET",
  "TCP_CHECK",
  "MISC_CHECK",
  "UDP_CHECK",
  "DNS_CHECK",
  "none",
] as const;

/** A health checker keepalived runs against every real server of a service. */
export const HealthCheck = z.strictObject({
  type: z.enum(CHECKER_TYPES).default("TCP_CHECK"),
  /** HTTP(S) path. */
  path: z.string().regex(/^\/[^\s"]*$/, { message: "must be a path like /health" }).default("/"),
  /** Accepted HTTP status(es): a code, a range "200-299", or a list of them. */
  status_code: z.union([StatusCode, z.array(StatusCode).min(1)]).default(200),
  /** HTTP(S): the Host header (and, with enable_sni, the TLS server name). */
  virtualhost: z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/, { message: "must be a host name" })
    .optional(),
  /** SSL_GET: send virtualhost as TLS SNI. */
  enable_sni: z.boolean().default(false),
  /** Port to check (default: the real server's port). */
  connect_port: Port.optional(),
  connect_timeout: z.number().positive().default(3),
  /** Retries before the real server is removed (keepalived 2.x `retry`, formerly nb_get_retry). */
  retry: z.number().int().min(0).default(3),
  delay_before_retry: z.number().positive().default(2),
  /** MISC_CHECK: the command (absolute path + arguments), run as haplay_lb.script_user. */
  misc_path: Quotable.optional(),
  /** MISC_CHECK: seconds before the command is killed. */
  misc_timeout: z.number().int().min(1).max(86400).optional(),
  /** MISC_CHECK: exit status 2-255 sets the weight (exit - 2). */
  misc_dynamic: z.boolean().default(false),
  /** DNS_CHECK: the query type (keepalived's `type`, default SOA). */
  dns_type: z.enum(["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"]).optional(),
  /** DNS_CHECK: the name queried (keepalived's `name`, default "."). */
  dns_name: z.string().regex(/^[A-Za-z0-9._-]{1,253}$/, { message: "must be a DNS name" })
    .optional(),
  /** Raw keepalived lines at the end of the checker block (see {@link Extra}; not with `none`). */
  extra: Extra.optional(),
}).superRefine((h, ctx) => {
  const only = (field: keyof typeof h, types: string[], set: boolean) => {
    if (set && !types.includes(h.type)) {
      ctx.addIssue({
        code: "custom",
        path: [field],
        message: `${field} is for ${types.join(" / ")} checkers, not ${h.type}`,
      });
    }
  };
  if (h.type === "none" && h.extra?.length) {
    ctx.addIssue({
      code: "custom",
      path: ["extra"],
      message: "extra needs a checker block: give a type other than none",
    });
  }
  only("virtualhost", ["HTTP_GET", "SSL_GET"], h.virtualhost !== undefined);
  only("enable_sni", ["SSL_GET"], h.enable_sni);
  only("misc_path", ["MISC_CHECK"], h.misc_path !== undefined);
  only("misc_timeout", ["MISC_CHECK"], h.misc_timeout !== undefined);
  only("misc_dynamic", ["MISC_CHECK"], h.misc_dynamic);
  only("dns_type", ["DNS_CHECK"], h.dns_type !== undefined);
  only("dns_name", ["DNS_CHECK"], h.dns_name !== undefined);
  if (h.type === "MISC_CHECK" && h.misc_path === undefined) {
    ctx.addIssue({ code: "custom", path: ["misc_path"], message: "MISC_CHECK needs misc_path" });
  }
});

/**
 * `health_check`: one checker, or a list of them (keepalived 2.x: a real server is up while
 * every one of its checkers passes). The value keeps its written shape (so lint positions stay
 * right); read it through {@link checkersOf}.
 */
export const HealthChecks = z.unknown().transform((v, ctx) => {
  if (v === null || typeof v !== "object") {
    ctx.addIssue({ code: "custom", message: "must be a checker mapping or a list of them" });
    return z.NEVER;
  }
  const r = (Array.isArray(v) ? z.array(HealthCheck).min(1) : HealthCheck).safeParse(v);
  if (r.success) return r.data as HealthCheckConfig | HealthCheckConfig[];
  for (const i of r.error.issues) ctx.addIssue(i as z.core.$ZodRawIssue);
  return z.NEVER;
}).prefault({});

/** The checkers of a `health_check` value, each with its path below `health_check`. */
export function checkersOf(
  hc: HealthCheckConfig | HealthCheckConfig[],
): { check: HealthCheckConfig; path: number[] }[] {
  return Array.isArray(hc)
    ? hc.map((check, i) => ({ check, path: [i] }))
    : [{ check: hc, path: [] }];
}

/** Where traffic goes while no real server is up (`sorry_server ADDR [PORT]`). */
export const SorryServer = z.strictObject({ address: IpAddress, port: Port.optional() });

/** One `virtual_server_group`: several VIP:port pairs served by one virtual_server. */
export const VirtualServerGroup = z.strictObject({
  name: Ident,
  members: z.array(z.strictObject({ vip: IpAddress, port: Port })).min(1),
});

/** One load-balanced service: a `virtual_server` (unless vrrp-only). */
export const Service = z.strictObject({
  name: Ident,
  /** The service address (not for pure fwmark services without a VIP). */
  vip: IpAddress.optional(),
  /** Firewall mark: `virtual_server fwmark N` (required for dsr-fwmark). */
  fwmark: z.number().int().min(1).max(0xffffffff).optional(),
  port: Port.optional(),
  protocol: z.enum(["TCP", "UDP"]).default("TCP"),
  /** Default: the section's `mode`. */
  mode: Mode.optional(),
  lb_algo: z.enum([
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
  ])
    .default("rr"),
  persistence_timeout: z.number().int().min(1).optional(),
  delay_loop: z.number().positive().default(6),
  /** Default: the `real_group` hosts (`same-box-dr`: the LB hosts; `vrrp-only`: none). */
  real_servers: z.array(RealServerRef).optional(),
  /** Real servers' port (default: `port`; DR modes cannot change it). */
  real_port: Port.optional(),
  weight: z.number().int().min(0).max(65535).default(1),
  health_check: HealthChecks,
  /** Where traffic goes while every real server is down. */
  sorry_server: SorryServer.optional(),
  /** A failed real server keeps its entry at weight 0 (default of every real server). */
  inhibit_on_failure: z.boolean().default(false),
  /** Sum of live real servers' weights below which the service is "down" (quorum_down runs). */
  quorum: z.number().int().min(1).optional(),
  /** Margin around quorum: up at quorum + hysteresis, down below quorum - hysteresis. */
  hysteresis: z.number().int().min(0).optional(),
  /** Command run (as script_user) when the quorum is gained: absolute path + arguments. */
  quorum_up: HookLine.optional(),
  /** Command run (as script_user) when the quorum is lost. */
  quorum_down: HookLine.optional(),
  /** Serve every member of this `virtual_server_groups` entry (`virtual_server group NAME`). */
  virtual_server_group: Ident.optional(),
  /** DR real servers: `lo` or `redirect` (default: the section's; dsr-fwmark: always redirect). */
  vip_method: VipMethod.optional(),
  /** Raw keepalived lines of the virtual_server block, before its real servers (see {@link Extra}). */
  extra: Extra.optional(),
}).refine((s) => s.vip !== undefined || s.fwmark !== undefined, {
  message: "give vip, fwmark, or both",
});

/** The whole `haplay_lb` section. */
export const LbSection = z.strictObject({
  /** Inventory group of the load balancers. */
  lb_group: z.string().min(1).default("lb"),
  /** Inventory group of the real servers (the default real servers of every service). */
  real_group: z.string().min(1).default("real"),
  /** IPVS in the kernel: `auto` detects it on the host; `false` runs keepalived `--vrrp`. */
  ipvs: z.union([z.enum(["auto"]), z.boolean()]).default("auto"),
  /** Default VRRP interface. */
  interface: z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/).default("eth0"),
  /** Default mode of services. */
  mode: Mode.default("dr"),
  /** The LB segment, for lint (default: from addresses with a prefix). */
  subnet: Cidr.optional(),
  /** `enable_script_security` in global_defs. */
  script_security: z.boolean().default(true),
  /** User keepalived runs scripts as. */
  script_user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/).refine((u) => u !== "root", {
    message: "must not be root (scripts run unprivileged; root commands go through sudo)",
  }).default("keepalived_script"),
  /** `router_id` (default: the inventory host name). */
  router_id: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  /** Default `vip_method` of DR real servers. */
  vip_method: VipMethod.default("lo"),
  /** Policy routing table for dsr-fwmark (`ip route add local 0/0 dev lo table N`). */
  fwmark_table: z.number().int().min(1).max(252).default(100),
  /** Priority of the first `ip rule ... fwmark` (one per mark, counting up). */
  fwmark_rule_priority: z.number().int().min(1).max(32765).default(100),
  /** Interfaces whose rp_filter is set to 0 on the LBs (default dsr-fwmark: the VRRP interfaces). */
  rp_filter_off: z.array(z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/)).optional(),
  /** Hooks of every instance that has none of its own. */
  hooks: Hooks.optional(),
  /** Raw keepalived lines at the end of global_defs (see {@link Extra}). */
  global_defs: z.strictObject({ extra: Extra.optional() }).optional(),
  /**
   * Raw top-level keepalived blocks and lines haplay does not model (track_file,
   * virtual_server_group, static_ipaddress, ...), rendered after global_defs (see {@link Extra}).
   */
  extra: Extra.optional(),
  vrrp_scripts: z.array(VrrpScript).default([]),
  vrrp_instances: z.array(VrrpInstance).min(1),
  sync_groups: z.array(SyncGroup).default([]),
  /** Address groups a service serves at once (its `virtual_server_group`). */
  virtual_server_groups: z.array(VirtualServerGroup).default([]),
  services: z.array(Service).default([]),
});

/** Per-instance value or one value for every instance. */
const PerInstance = <T extends z.ZodType>(t: T) => z.union([t, z.record(z.string(), t)]);

/** Host variables of the load-balancer layer (on LB hosts and real servers). */
export const LbHostVars = z.object({
  haplay_lb: LbSection.optional(),
  /** VRRP priority of this LB host: one number, or `{instance: number}`. */
  vrrp_priority: PerInstance(z.number().int().min(1).max(255)).optional(),
  /** Force this host's initial state (`nopreempt` needs BACKUP). */
  vrrp_state: PerInstance(z.enum(["MASTER", "BACKUP"])).optional(),
  /** This host's VRRP interface (overrides the section's). */
  vrrp_interface: z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/).optional(),
  /** Data-plane address (default: ansible_host when it is an IP); may carry a /prefix. */
  data_address: IpWithPrefix.optional(),
  /** unicast_src_ip of this host (default: its data address). */
  unicast_src_ip: IpAddress.optional(),
  /** Exact unicast_peer list of this host (default: every other LB host's address). */
  vrrp_unicast_peers: z.array(IpAddress).optional(),
  /** Real servers: their default gateway, so lint can check NAT return paths. */
  default_gateway: IpAddress.optional(),
});

/** A parsed `haplay_lb` section (defaults applied). */
export type LbConfig = z.output<typeof LbSection>;
/** A parsed VRRP instance. */
export type VrrpInstanceConfig = z.output<typeof VrrpInstance>;
/** A parsed connection_sync. */
export type ConnectionSyncConfig = z.output<typeof ConnectionSync>;
/** A parsed service. */
export type ServiceConfig = z.output<typeof Service>;
/** A parsed health check. */
export type HealthCheckConfig = z.output<typeof HealthCheck>;
/** A parsed `health_check`: one checker or a list (see {@link checkersOf}). */
export type HealthChecksConfig = HealthCheckConfig | HealthCheckConfig[];
/** A parsed hook set. */
export type HooksConfig = z.output<typeof Hooks>;
/** A hook command as written. */
export type HookCommandConfig = z.output<typeof HookCommand>;
/** A parsed virtual_ipaddress entry. */
export type VipEntryConfig = z.output<typeof VipEntry>;
/** A service mode. */
export type ModeName = z.output<typeof Mode>;
/** The LB-layer variables of one host. */
export type LbHostVarsConfig = z.output<typeof LbHostVars>;

/** Parses the LB-layer variables of a host; throws a readable error on invalid input. */
export function parseLbHostVars(hostName: string, vars: Record<string, unknown>): LbHostVarsConfig {
  const r = LbHostVars.safeParse(vars);
  if (r.success) return r.data;
  const first = r.error.issues.slice(0, 5).map((i) =>
    `${i.path.join(".") || "(vars)"}: ${i.message}`
  );
  throw new Error(`${hostName}: invalid load-balancer variables: ${first.join("; ")}`);
}
