/**
 * The keepalived version of a host, read in the first probe, and what haplay renders for it.
 *
 * The probe prints the installed keepalived's version (`keepalived --version`), or, before the
 * package is installed (a first deploy installs it in the same run), the version apt would
 * install (its candidate). The keepalived.conf task refuses, before anything changes, a version
 * older than any keyword it renders needs; every keyword the renderer writes is known to every
 * tested release (checked against the release trees' parsers by test/versions/).
 * Differences between versions: docs/keepalived-versions.md.
 * @module
 */
import type { Plan, Task } from "../engine/types.ts";
import { parseKv } from "../tasks/_facts.ts";
import { guarded, refuse } from "../tasks/_plan.ts";

/** Releases the project tests end to end: Ubuntu 20.04, 22.04, Debian 12, Ubuntu 24.04, upstream. */
export const TESTED_VERSIONS: readonly string[] = ["2.0.19", "2.2.4", "2.2.7", "2.2.8", "2.3.4"];

/**
 * Keywords the renderer can write, with the oldest tested release whose parser knows them (all
 * of them: 2.0.19). A keyword that needs a newer release goes here with that release; the plan
 * then refuses an older host, naming the keyword.
 */
export const KEYWORD_SINCE: Readonly<Record<string, string>> = Object.fromEntries(
  [
    "router_id",
    "enable_script_security",
    "script_user",
    "vrrp_script",
    "script",
    "interval",
    "timeout",
    "weight",
    "fall",
    "rise",
    "user",
    "vrrp_instance",
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "nopreempt",
    "preempt_delay",
    "garp_master_delay",
    "unicast_src_ip",
    "unicast_peer",
    "authentication",
    "auth_type",
    "auth_pass",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "track_interface",
    "track_script",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "vrrp_sync_group",
    "group",
    "virtual_server",
    "delay_loop",
    "lb_algo",
    "lb_kind",
    "persistence_timeout",
    "protocol",
    "real_server",
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "url",
    "path",
    "status_code",
    "connect_port",
    "connect_timeout",
    "retry",
    "delay_before_retry",
    "include",
  ].map((k) => [k, "2.0.19"]),
);

/** The oldest release haplay renders for. */
export const MIN_VERSION = "2.0.19";

/**
 * Probe lines `keepalived_version=X.Y.Z` (empty when unknown) and
 * `keepalived_version_from=installed|candidate|none`.
 */
export const KEEPALIVED_VERSION_PROBE = [
  `_kv=$(PATH="$PATH:/usr/sbin:/usr/local/sbin" keepalived --version 2>&1 </dev/null | sed -n '1s/^Keepalived v\\([0-9][0-9.]*\\).*/\\1/p')`,
  `_kf=installed`,
  `if [ -z "$_kv" ]; then`,
  `  _kf=candidate`,
  `  _kv=$(apt-cache policy keepalived 2>/dev/null | sed -n 's/^ *Candidate: *\\([0-9]*:\\)\\{0,1\\}\\([0-9][0-9.]*[0-9]\\).*/\\2/p' | head -n 1)`,
  `  [ -n "$_kv" ] || _kf=none`,
  `fi`,
  `echo "keepalived_version=$_kv"`,
  `echo "keepalived_version_from=$_kf"`,
].join("\n");

/** The probed version: `version` undefined when keepalived is neither installed nor known to apt. */
export interface KeepalivedVersion {
  version?: string;
  from: "installed" | "candidate" | "none";
}

/** Reads the probe's version lines (undefined when the probe did not run). */
export function keepalivedVersionFact(facts: string): KeepalivedVersion | undefined {
  const f = parseKv(facts);
  const from = f.keepalived_version_from;
  if (from !== "installed" && from !== "candidate" && from !== "none") return undefined;
  const v = f.keepalived_version ?? "";
  return /^\d+(\.\d+)+$/.test(v) ? { version: v, from } : { from: "none" };
}

/** Compares dotted versions numerically: <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const x = a.split(".").map(Number), y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** The keywords of a rendered keepalived.conf (first word of each line, blocks included). */
export function keywordsOf(conf: string): string[] {
  const out = new Set<string>();
  for (const line of conf.split("\n")) {
    const w = line.trim().split(/\s+/)[0];
    if (w && !w.startsWith("#") && w !== "}" && /^[A-Za-z_]+$/.test(w)) out.add(w);
  }
  return [...out];
}

/**
 * Why `conf` cannot be given to keepalived `version` (a keyword it does not know yet), or
 * undefined when it can. Keywords absent from {@link KEYWORD_SINCE} are names inside blocks
 * (unicast peers, addresses, script names) and are ignored.
 */
export function versionProblem(conf: string, version: string): string | undefined {
  const needs = keywordsOf(conf)
    .filter((k) => KEYWORD_SINCE[k] && compareVersions(version, KEYWORD_SINCE[k]) < 0)
    .map((k) => `${k} (needs ${KEYWORD_SINCE[k]})`);
  if (!needs.length) return undefined;
  return `keepalived ${version} on the host does not know ${needs.join(", ")}; ` +
    `haplay renders for keepalived ${MIN_VERSION} and later (tested: ${
      TESTED_VERSIONS.join(", ")
    })`;
}

/**
 * The keepalived.conf task with the host's keepalived version in its probe: its plan refuses a
 * version too old for the rendered `content` (before anything changes), else plans the file and
 * names the version in its summary (`update ... (keepalived 2.0.19)`), so `deno task plan`
 * shows each host's version.
 */
export function versionedConf(task: Task, content: string): Task {
  return {
    ...task,
    probe: `${KEEPALIVED_VERSION_PROBE}\n${task.probe}`,
    plan: guarded(task.resource, (facts): Plan => {
      const v = keepalivedVersionFact(facts);
      const why = v?.version ? versionProblem(content, v.version) : undefined;
      if (why) return refuse(why);
      const p = task.plan(facts);
      if (!v?.version) return p;
      const tag = ` (keepalived ${v.version}${v.from === "candidate" ? ", to be installed" : ""})`;
      return p.kind === "ok"
        ? { ...p, reason: p.reason + tag }
        : { ...p, summary: p.summary + tag };
    }),
  };
}
