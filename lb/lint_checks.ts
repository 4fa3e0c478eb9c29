/**
 * Lint of health checks and degradation (pure, on the cluster model): checkers that cannot
 * work for the service's protocol, MISC_CHECK and quorum commands that keepalived's script
 * security rejects, a quorum the real servers can never reach, and a sorry server of the other
 * address family.
 * @module
 */
import { isIpv4 } from "./_net.ts";
import type { Finding } from "./_locate.ts";
import type { Cluster, ResolvedService } from "./cluster.ts";
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
