/**
 * Lint of health checks and degradation (pure, on the cluster model): checkers that cannot
 * work for the service's protocol, MISC_CHECK and quorum commands that keepalived's script
 * security rejects, a quorum the real servers can never reach, and a sorry server of the other
 * address family.
 * @module
 */
import { isIpv4 } from "./_net.ts";
import type { Finding } from "./_locate.ts";
import { type Cluster, instanceVips, type ResolvedService } from "./cluster.ts";
import { MERGED } from "./lint_versions.ts";
import { checkersOf } from "./schema.ts";

const svcPath = (s: ResolvedService, ...rest: (string | number)[]) => [
  "haplay_lb",
  "services",
  s.index,
  ...rest,
];

/** Checkers that open a TCP connection (they can never pass against a UDP-only service). */
const TCP_CHECKERS = new Set(["TCP_CHECK", "HTTP_GET", "SSL_GET"]);

/** Why a command cannot run under script security, or undefined: it needs an absolute path. */
function commandProblem(cmd: string): string | undefined {
  const prog = cmd.trim().split(/\s+/)[0] ?? "";
  return prog.startsWith("/") ? undefined : `the program must be an absolute path, got '${prog}' ` +
    `(keepalived runs it as the script user without a shell search path)`;
}

/** A UDP service checked by a TCP checker: every real server would be marked down. */
export function ruleUdpChecks(c: Cluster): Finding[] {
  const out: Finding[] = [];
  for (const s of c.services) {
    if (s.mode === "vrrp-only" || s.cfg.protocol !== "UDP" || s.cfg.fwmark !== undefined) continue;
    for (const { check, path } of checkersOf(s.cfg.health_check)) {
      if (!TCP_CHECKERS.has(check.type)) continue;
      out.push({
        host: c.owner,
        path: svcPath(s, "health_check", ...path, "type"),
        message: `a UDP service with a TCP check (${check.type}): it fails on every real server; ` +
          `use UDP_CHECK, DNS_CHECK (a DNS service) or MISC_CHECK (a command that asks the service)`,
        severity: "error",
      });
    }
  }
  return out;
}

/** The MISC_CHECK and quorum commands of a cluster, with their paths. */
function commands(c: Cluster): { path: (string | number)[]; what: string; cmd: string }[] {
  const out: { path: (string | number)[]; what: string; cmd: string }[] = [];
  for (const s of c.services) {
    if (s.mode === "vrrp-only") continue;
    for (const { check, path } of checkersOf(s.cfg.health_check)) {
      if (check.type !== "MISC_CHECK" || check.misc_path === undefined) continue;
      out.push({
        path: svcPath(s, "health_check", ...path, "misc_path"),
        what: "misc_path",
        cmd: check.misc_path,
      });
    }
    for (const k of ["quorum_up", "quorum_down"] as const) {
      const cmd = s.cfg[k];
      if (cmd !== undefined) out.push({ path: svcPath(s, k), what: k, cmd });
    }
  }
  return out;
}

/**
 * MISC_CHECK paths and quorum hooks: absolute programs, not through a usr-merged `/bin`
 * symlink (keepalived 2.3 refuses those as insecure), and script security on.
 */
export function ruleCheckCommands(c: Cluster): Finding[] {
  const out: Finding[] = [];
  const cmds = commands(c);
  for (const { path, what, cmd } of cmds) {
    const problem = commandProblem(cmd);
    if (problem) {
      out.push({ host: c.owner, path, message: `${what}: ${problem}`, severity: "error" });
      continue;
    }
    const prog = cmd.trim().split(/\s+/)[0];
    const m = MERGED.exec(prog);
    if (m) {
      out.push({
        host: c.owner,
        path,
        message: `${what}: '${prog}' goes through the /${m[1]} symlink of a usr-merged system: ` +
          `keepalived 2.3 and later refuse it as insecure; use '/usr${prog}'`,
        severity: "warning",
      });
    }
  }
  if (cmds.length && !c.cfg.script_security) {
    out.push({
      host: c.owner,
      path: ["haplay_lb", "script_security"],
      message: `${cmds[0].what} runs a command without enable_script_security: keepalived ` +
        `reports a SECURITY VIOLATION and its config test fails`,
      severity: "error",
    });
  }
  return out;
}

/** Quorum and sorry server: reachable, and of the service's address family. */
export function ruleDegradation(c: Cluster): Finding[] {
  const out: Finding[] = [];
  for (const s of c.services) {
    if (s.mode === "vrrp-only") continue;
    const { quorum, hysteresis, sorry_server: sorry, vip } = s.cfg;
    if (quorum !== undefined) {
      const total = s.realServers.reduce((n, r) => n + r.weight, 0);
      const up = quorum + (hysteresis ?? 0);
      if (up > total) {
        out.push({
          host: c.owner,
          path: svcPath(s, "quorum"),
          message: `quorum ${quorum}${hysteresis ? ` + hysteresis ${hysteresis}` : ""} can ` +
            `never be reached: the real servers' weights add up to ${total}`,
          severity: "error",
        });
      }
    } else if (hysteresis !== undefined || s.cfg.quorum_up || s.cfg.quorum_down) {
      out.push({
        host: c.owner,
        path: svcPath(
          s,
          hysteresis !== undefined ? "hysteresis" : s.cfg.quorum_up ? "quorum_up" : "quorum_down",
        ),
        message: `no quorum set: keepalived uses quorum 1 (the hooks run when the last real ` +
          `server goes down / the first comes up)`,
        severity: "warning",
      });
    }
    if (sorry && vip !== undefined && isIpv4(sorry.address) !== isIpv4(vip)) {
      out.push({
        host: c.owner,
        path: svcPath(s, "sorry_server", "address"),
        message: `sorry_server ${sorry.address} is not of the VIP's address family (${vip})`,
        severity: "error",
      });
    }
  }
  return out;
}

/**
 * virtual_server_groups: a service's group exists and holds the service's own vip:port, DR
 * groups keep to the service's VIP (its real servers accept only that one), every member VIP is
 * carried by a vrrp_instance, and no member is also another service's virtual server.
 */
export function ruleServerGroups(c: Cluster): Finding[] {
  const out: Finding[] = [];
  const err = (path: (string | number)[], message: string) =>
    out.push({ host: c.owner, path, message, severity: "error" });
  const groups = new Map(c.cfg.virtual_server_groups.map((g, i) => [g.name, { g, i }]));
  const carried = new Set(
    c.cfg.vrrp_instances.flatMap((i) => instanceVips(i).map((v) => v.address)),
  );
  const plain = new Map(
    c.services.filter((s) => s.mode !== "vrrp-only" && !s.cfg.virtual_server_group).map((s) => [
      `${s.cfg.vip} ${s.cfg.port}`,
      s.cfg.name,
    ]),
  );
  const used = new Set<string>();
  for (const s of c.services) {
    const name = s.cfg.virtual_server_group;
    if (name === undefined || s.mode === "vrrp-only") continue;
    const at = groups.get(name);
    if (!at) {
      err(svcPath(s, "virtual_server_group"), `no virtual_server_groups entry named ${name}`);
      continue;
    }
    if (used.has(name)) {
      err(svcPath(s, "virtual_server_group"), `group ${name} is served by another service too`);
    }
    used.add(name);
    const { g, i } = at;
    const gPath = ["haplay_lb", "virtual_server_groups", i, "members"];
    if (!g.members.some((m) => m.vip === s.cfg.vip && m.port === s.cfg.port)) {
      err(
        svcPath(s, "virtual_server_group"),
        `group ${name} does not hold the service's own ${s.cfg.vip} ${s.cfg.port}: add it as a member`,
      );
    }
    g.members.forEach((m, j) => {
      if (s.mode !== "nat" && m.vip !== s.cfg.vip) {
        err(
          [...gPath, j, "vip"],
          `${s.mode} real servers accept only the service's vip ` +
            `${s.cfg.vip}: a group with another VIP (${m.vip}) needs mode nat`,
        );
      } else if (!carried.has(m.vip)) {
        err([...gPath, j, "vip"], `${m.vip} is in no vrrp_instance's virtual_ipaddress`);
      }
      const other = plain.get(`${m.vip} ${m.port}`);
      if (other) err([...gPath, j], `${m.vip} ${m.port} is also service ${other}'s virtual server`);
    });
  }
  c.cfg.virtual_server_groups.forEach((g, i) => {
    if (!used.has(g.name)) {
      out.push({
        host: c.owner,
        path: ["haplay_lb", "virtual_server_groups", i, "name"],
        message: `group ${g.name} is not used by any service (it renders, and serves nothing)`,
        severity: "warning",
      });
    }
  });
  return out;
}
