/**
 * Verification after a deploy, the pure part: what to look at on each host (one POSIX sh
 * script per host, printing `key=value` facts) and how to judge the facts of all hosts.
 *
 * Load balancers: keepalived and its VRRP child alive; the on-host validator passes on the live
 * keepalived.conf; addresses per interface (VRRP: exactly one holder of each instance's VIPs);
 * health-check targets answer from this LB (bash `/dev/tcp`, an HTTP status line for HTTP_GET).
 * The kernel's IPVS table of every director against the rendered virtual servers (read here,
 * judged by `verify_ipvs.ts`). Real servers: the VIP on lo (plus arp_ignore) or the REDIRECT
 * rule present. Every host: each
 * piece also persisted for boot, or (`absent`, after a rollback) nothing of haplay's left: see
 * `verify_persist.ts`, whose lines ride in the same script.
 * @module
 */
import { q } from "../engine/shell.ts";
import type { VerifyCheck } from "../engine/playbook_types.ts";
import {
  type Cluster,
  type HostMap,
  instanceVips,
  interfaceOf,
  lbClusterOf,
  realServerDuties,
  type RealServerDuty,
} from "./cluster.ts";
import { serviceMatch } from "./cluster.ts";
import { swapsVirtualServers } from "./notify_plan.ts";
import {
  CHECKER,
  KEEPALIVED_CONF,
  KEEPALIVED_PIDS,
  VS_EMPTY,
  vsActive,
  vsMaster,
} from "./paths.ts";
import { KEEPALIVED_ALIVE_FNS } from "./alive_sh.ts";
import { checkersOf, type HealthCheckConfig } from "./schema.ts";
import { absentChecks, liveExtraChecks, persistChecks, persistScript } from "./verify_persist.ts";
import { IPVS_TABLE_SH, ipvsTableChecks, wantedVirtualServers } from "./verify_ipvs.ts";
import { drainListSh } from "./_drain_files.ts";
import { parseIpVs } from "./status_script.ts";

/** One health-check target probed from a load balancer. */
export interface ProbeTarget {
  address: string;
  port: number;
  /** HTTP_GET probes send a request and read the status line; others only connect. */
  http?: { path: string; status: HealthCheckConfig["status_code"] };
  /** Why this target is not probed from the LB (MISC/UDP/DNS checkers): reported, not failed. */
  skip?: string;
  /** Service name, for messages. */
  service: string;
}

/** What verify does on one host. */
export interface HostVerifyPlan {
  host: string;
  /** Its cluster when it is a load balancer. */
  cluster?: Cluster;
  /** Targets probed from it (load balancers). */
  targets: ProbeTarget[];
  /** VIPs it must accept as a real server. */
  duties: RealServerDuty[];
}

/** Seconds keepalived must have run before its VRRP state counts (3 adverts + margin). */
export function settleSeconds(c: Cluster): number {
  const adv = Math.max(1, ...c.cfg.vrrp_instances.map((i) => i.advert_int));
  return Math.min(15, Math.ceil(3 * adv + 2));
}

/** Checker types verify cannot probe with bash `/dev/tcp`, and why. */
const NOT_PROBED: Record<string, string> = {
  MISC_CHECK: "MISC_CHECK runs a command, not probed",
  UDP_CHECK: "UDP, not probed",
  DNS_CHECK: "DNS over UDP, not probed",
};

/** Whether an HTTP status matches a checker's status_code (codes, "a-b" ranges). */
export function statusAccepted(code: number, want: HealthCheckConfig["status_code"]): boolean {
  return [want].flat().some((w) => {
    if (typeof w === "number") return code === w;
    const [lo, hi] = w.split("-").map(Number);
    return code >= lo && code <= hi;
  });
}

/** The health-check targets of a cluster (TCP/HTTP; SSL_GET is probed as TCP). */
export function probeTargets(c: Cluster): ProbeTarget[] {
  const out: ProbeTarget[] = [];
  const seen = new Set<string>();
  for (const s of c.services) {
    if (s.mode === "vrrp-only") {
      if (s.cfg.vip && s.cfg.port) {
        out.push({ address: s.cfg.vip, port: s.cfg.port, service: s.cfg.name });
      }
      continue;
    }
    for (const { check: hc } of checkersOf(s.cfg.health_check)) {
      if (hc.type === "none") continue;
      for (const r of s.realServers) {
        const port = hc.connect_port ?? r.port;
        if (!r.address || (port === undefined && !NOT_PROBED[hc.type])) continue;
        const key = `${r.address}|${port}|${hc.type}|${hc.path}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({
          address: r.address,
          port: port ?? 0,
          service: s.cfg.name,
          http: hc.type === "HTTP_GET" ? { path: hc.path, status: hc.status_code } : undefined,
          ...(NOT_PROBED[hc.type] ? { skip: NOT_PROBED[hc.type] } : {}),
        });
      }
    }
  }
  return out;
}

/** The verify plan of every host that is a load balancer or a DR real server. */
export function verifyPlans(all: HostMap, hosts: string[]): HostVerifyPlan[] {
  return hosts.map((host) => {
    const cluster = lbClusterOf(host, all);
    return {
      host,
      cluster,
      targets: cluster ? probeTargets(cluster) : [],
      duties: realServerDuties(host, all),
    };
  }).filter((p) => p.cluster || p.duties.length);
}

const PROBE_FN = `hp_probe() {
  if [ -n "$3" ]; then
    _r=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 97; printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n" "$2" "$0" >&3; IFS= read -r l <&3; printf "%s" "$l"' "$1" "$2" "$3" 2>/dev/null)
    _rc=$?
  else
    _r=; timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; _rc=$?
  fi
  printf 'probe=%s|%s|%s|%s\\n' "$1" "$2" "$_rc" "$(printf '%s' "$_r" | tr -d '\\r\\n|' | cut -c1-80)"
}`;

/** How verify looks: a deploy's state (default), or nothing of haplay's left (`absent`). */
export interface VerifyMode {
  absent?: boolean;
}

/** The verify script of one host (one exec). */
export function verifyScript(p: HostVerifyPlan, mode: VerifyMode = {}): string {
  const lines = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "export PATH",
  ];
  if (p.cluster && mode.absent) {
    lines.push(
      KEEPALIVED_ALIVE_FNS,
      `if hp_ka_main; then echo running=1; else echo running=0; fi`,
      `ip -o addr show 2>/dev/null | awk '{ print "addr=" $2 " " $4 }'`,
    );
  } else if (p.cluster) {
    const main = q(KEEPALIVED_PIDS[0]);
    const settle = settleSeconds(p.cluster);
    lines.push(
      KEEPALIVED_ALIVE_FNS,
      `if hp_ka_main; then echo running=1; else echo running=0; fi`,
      `_age=$(ps -o etimes= -p "$(cat ${main} 2>/dev/null)" 2>/dev/null | tr -d ' ')`,
      `echo "age=$_age"`,
      `if [ -n "$_age" ] && [ "$_age" -lt ${settle} ]; then sleep $((${settle} - _age)); fi`,
      `if [ "$(hp_ka_children)" -ge 1 ]; then echo vrrp=1; else echo vrrp=0; fi`,
      `_out=$(${CHECKER} ${KEEPALIVED_CONF} 2>&1); echo "conftest=$?"`,
      `printf 'conftest_out=%s\\n' "$(printf '%s' "$_out" | tail -n 5 | tr '\\n' ' ' | cut -c1-300)"`,
      `ip -o addr show 2>/dev/null | awk '{ print "addr=" $2 " " $4 }'`,
      ...p.cluster.cfg.vrrp_instances.filter((i) => swapsVirtualServers(p.cluster!, i.name))
        .map((i) => `echo "vs_active=${i.name} $(readlink -- ${q(vsActive(i.name))})"`),
      ...(p.cluster.cfg.vrrp_instances.some((i) => i.bypass_ipvs)
        ? [`iptables -w -t nat -S PREROUTING 2>/dev/null | sed 's/^/lb_nat=/'`]
        : []),
      ...(wantedVirtualServers(p.cluster).length ? [IPVS_TABLE_SH, drainListSh("drain")] : []),
      PROBE_FN,
      ...p.targets.filter((t) => !t.skip).map((t) =>
        `hp_probe ${q(t.address)} ${t.port} ${t.http ? q(t.http.path) : "''"}`
      ),
    );
  }
  if (p.duties.length) {
    lines.push(
      `ip -o -4 addr show dev lo 2>/dev/null | awk '{ print "lo=" $4 }'`,
      `echo "arp_ignore=$(sysctl -n net.ipv4.conf.all.arp_ignore 2>/dev/null)"`,
      `iptables -w -t nat -S PREROUTING 2>/dev/null | sed 's/^/nat=/'`,
      `ip6tables -w -t nat -S PREROUTING 2>/dev/null | sed 's/^/nat=/'`,
    );
  }
  lines.push(persistScript(p), "echo end=1");
  return lines.join("\n") + "\n";
}

/** Facts of one host: every `key=value` line, repeated keys kept in order. */
export type Facts = Map<string, string[]>;

/** Parses a verify script's output. */
export function parseFacts(stdout: string): Facts {
  const out: Facts = new Map();
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i <= 0) continue;
    const k = line.slice(0, i);
    out.set(k, [...(out.get(k) ?? []), line.slice(i + 1)]);
  }
  return out;
}

const one = (f: Facts, k: string) => f.get(k)?.[0];

/** Checks of one host from its facts (VRRP ownership is judged across hosts: {@link vrrpChecks}). */
export function hostChecks(p: HostVerifyPlan, f: Facts): VerifyCheck[] {
  const out: VerifyCheck[] = [];
  const check = (check: string, ok: boolean, detail: string) =>
    out.push({ host: p.host, check, ok, detail });
  if (one(f, "end") !== "1") {
    check("verify script", false, "output incomplete");
    return out;
  }
  if (p.cluster) {
    const running = one(f, "running") === "1" && one(f, "vrrp") === "1";
    check(
      "keepalived running",
      running,
      running ? `up ${one(f, "age") || "?"} s` : "keepalived or its VRRP process is not running",
    );
    const rc = one(f, "conftest");
    check(
      "keepalived config test",
      rc === "0",
      rc === "0" ? "clean" : `exit ${rc}: ${one(f, "conftest_out") ?? ""}`,
    );
    const probes = (f.get("probe") ?? []).map((l) => l.split("|"));
    for (const t of p.targets) {
      const r = probes.find((x) => x[0] === t.address && x[1] === String(t.port));
      const what = `${t.service}: ${t.address}:${t.port}${t.http ? ` GET ${t.http.path}` : ""}`;
      if (t.skip) {
        check("health-check target", true, `${t.service}: ${t.address}: ${t.skip}`);
        continue;
      }
      if (!r) {
        check("health-check target", false, `${what}: not probed`);
        continue;
      }
      const [, , rcs, status] = r;
      if (rcs !== "0") {
        check("health-check target", false, `${what}: no answer (exit ${rcs})`);
      } else if (t.http) {
        const code = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(status)?.[1];
        check(
          "health-check target",
          code !== undefined && statusAccepted(Number(code), t.http.status),
          `${what}: ${status || "no status line"}`,
        );
      } else check("health-check target", true, `${what}: connected`);
    }
  }
  const lo = new Set(f.get("lo") ?? []);
  const nat = f.get("nat") ?? [];
  for (const d of p.duties) {
    const vip = d.service.cfg.vip!;
    if (d.method === "lo") {
      const has = lo.has(`${vip}/32`);
      check(
        "VIP on lo",
        has,
        `${d.service.cfg.name}: ${vip}/32 ${has ? "present" : "missing"} on lo`,
      );
      const ai = one(f, "arp_ignore");
      check(
        "ARP suppressed",
        ai === "1" || ai === "2",
        `net.ipv4.conf.all.arp_ignore=${ai ?? "?"}`,
      );
    } else {
      const want = serviceMatch(d.service);
      const has = nat.some((l) =>
        l.startsWith("-A PREROUTING") && l.includes("-j REDIRECT") &&
        want.every((w, i) => i % 2 === 1 ? l.includes(`${want[i - 1]} ${w}`) : true)
      );
      check(
        "REDIRECT rule",
        has,
        `${d.service.cfg.name}: ${[...want, "-j", "REDIRECT"].join(" ")} ${
          has ? "present" : "missing"
        }`,
      );
    }
  }
  return out;
}

/**
 * Every check of one host: live state and persistence, or (`absent`) what is left of haplay's.
 * Cross-host VRRP checks: {@link vrrpChecks} / {@link absentVrrpChecks}.
 */
export function hostVerdicts(p: HostVerifyPlan, f: Facts, mode: VerifyMode = {}): VerifyCheck[] {
  if (one(f, "end") !== "1") {
    return [{ host: p.host, check: "verify script", ok: false, detail: "output incomplete" }];
  }
  if (mode.absent) return absentChecks(p, f);
  return [...hostChecks(p, f), ...liveExtraChecks(p, f), ...persistChecks(p, f)];
}

/** After a rollback: no member of the cluster holds any address of any VRRP instance. */
export function absentVrrpChecks(c: Cluster, facts: Map<string, Facts>): VerifyCheck[] {
  return c.cfg.vrrp_instances.map((inst) => {
    const vips = instanceVips(inst).map((v) => v.address);
    const held = c.members.flatMap((m) =>
      (facts.get(m.name)?.get("addr") ?? [])
        .map((l) => l.split(" ")[1]?.split("/")[0])
        .filter((a) => a !== undefined && vips.includes(a))
        .map((a) => `${m.name} holds ${a}`)
    );
    return {
      host: c.cfg.lb_group,
      check: `VRRP ${inst.name} absent`,
      ok: held.length === 0,
      detail: held.length ? `left: ${held.join("; ")}` : `no host holds ${vips.join(", ")}`,
    };
  });
}

/**
 * Per VRRP instance: exactly one LB holds all its addresses (on the instance's interface); for
 * a same-box-dr instance also: only that MASTER has its virtual servers active (a BACKUP with
 * them would bounce requests back to the MASTER: an IPVS loop).
 */
export function vrrpChecks(c: Cluster, facts: Map<string, Facts>): VerifyCheck[] {
  return c.cfg.vrrp_instances.flatMap((inst) => {
    const own = holderCheck(c, inst, facts);
    const master = own.ok ? own.host : undefined;
    const out = [own];
    if (swapsVirtualServers(c, inst.name)) out.push(swapCheck(c, inst.name, master, facts));
    if (inst.bypass_ipvs && master) out.push(bypassCheck(inst, master, facts));
    return out;
  });
}

/**
 * bypass_ipvs: the VIP holder has no REDIRECT for its VIPs (one would take the traffic meant for
 * IPVS; the BACKUPs keep theirs, that is what bypass_ipvs is for).
 */
function bypassCheck(
  inst: Cluster["cfg"]["vrrp_instances"][number],
  master: string,
  facts: Map<string, Facts>,
): VerifyCheck {
  const rules = facts.get(master)?.get("lb_nat") ?? [];
  const vips = instanceVips(inst).map((v) => v.address).filter((a) => !a.includes(":"));
  const bad = rules.filter((l) =>
    l.startsWith("-A PREROUTING") && /-j REDIRECT\b/.test(l) &&
    vips.some((v) => l.includes(`-d ${v}/32 `))
  );
  return {
    host: master,
    check: `bypass_ipvs ${inst.name}`,
    ok: bad.length === 0,
    detail: bad.length
      ? `MASTER ${master} redirects its VIP locally (IPVS bypassed): ${bad.join("; ")}`
      : `MASTER ${master} has no REDIRECT for ${vips.join(", ")}`,
  };
}

/** Same-box DR: the active include of every LB points at the file its VRRP state calls for. */
function swapCheck(
  c: Cluster,
  inst: string,
  master: string | undefined,
  facts: Map<string, Facts>,
): VerifyCheck {
  const check = `same-box DR ${inst}`;
  if (!master) {
    return { host: c.cfg.lb_group, check, ok: false, detail: "no single MASTER to judge by" };
  }
  const wrong: string[] = [];
  for (const m of c.members) {
    const line = (facts.get(m.name)?.get("vs_active") ?? []).find((l) => l.startsWith(`${inst} `));
    const target = line?.slice(inst.length + 1) ?? "";
    const want = m.name === master ? vsMaster(inst) : VS_EMPTY;
    if (target !== want) {
      wrong.push(
        `${m.name} (${m.name === master ? "MASTER" : "BACKUP"}) has virtual servers ${
          target === vsMaster(inst) ? "on" : target === VS_EMPTY ? "off" : `-> '${target}'`
        }`,
      );
    }
  }
  return {
    host: master,
    check,
    ok: wrong.length === 0,
    detail: wrong.length
      ? wrong.join("; ")
      : `virtual servers only on MASTER ${master} (${c.members.length - 1} BACKUP(s) off)`,
  };
}

/**
 * Per director of a cluster: its kernel's IPVS table against the rendered virtual servers (see
 * `verify_ipvs.ts`); same-box DR instances judged by who holds their addresses.
 */
export function ipvsChecks(c: Cluster, facts: Map<string, Facts>): VerifyCheck[] {
  const masters = new Map(c.cfg.vrrp_instances.map((inst) => {
    const own = holderCheck(c, inst, facts);
    return [inst.name, own.ok ? own.host : undefined];
  }));
  return c.members.flatMap((m) => {
    const f = facts.get(m.name);
    if (!f || one(f, "end") !== "1") return [];
    const kernel = one(f, "ipvs_none") === "1" ? undefined : parseIpVs(f.get("ipvs") ?? []);
    return ipvsTableChecks(
      c,
      {
        host: m.name,
        isMaster: (inst) => {
          const master = masters.get(inst);
          return master === undefined ? undefined : master === m.name;
        },
      },
      kernel,
      f.get("drain") ?? [],
    );
  });
}

/** Exactly one LB holds all addresses of `inst`. */
function holderCheck(
  c: Cluster,
  inst: Cluster["cfg"]["vrrp_instances"][number],
  facts: Map<string, Facts>,
): VerifyCheck {
  const vips = instanceVips(inst);
  const holders = c.members.filter((m) => {
    const addrs = new Set((facts.get(m.name)?.get("addr") ?? []).map((l) => {
      const [ifname, cidr] = l.split(" ");
      return `${ifname} ${cidr?.split("/")[0]}`;
    }));
    return vips.some((v) => addrs.has(`${v.dev ?? interfaceOf(c.cfg, m, inst)} ${v.address}`));
  });
  const complete = holders.length === 1 && vips.every((v) => {
    const m = holders[0];
    return (facts.get(m.name)?.get("addr") ?? []).some((l) => {
      const [ifname, cidr] = l.split(" ");
      return ifname === (v.dev ?? interfaceOf(c.cfg, m, inst)) &&
        cidr?.split("/")[0] === v.address;
    });
  });
  const ok = holders.length === 1 && complete;
  const detail = holders.length === 0
    ? `no host holds ${vips[0].address} (no MASTER)`
    : holders.length > 1
    ? `${holders.map((h) => h.name).join(" and ")} all hold ${
      vips[0].address
    } (more than one MASTER)`
    : complete
    ? `MASTER ${holders[0].name} holds all ${vips.length} address(es)`
    : `MASTER ${holders[0].name} lacks some of the ${vips.length} addresses`;
  return {
    host: holders.length === 1 ? holders[0].name : c.cfg.lb_group,
    check: `VRRP ${inst.name}`,
    ok,
    detail,
  };
}
