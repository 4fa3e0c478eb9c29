/**
 * `netplan`: a netplan file `/etc/netplan/NAME.yaml` (root:root 0600) from data.
 *
 * Validation runs `netplan generate --root-dir TMP` on a copy of `/etc/netplan` in which the
 * new file replaces the old one, before the file lands. Where systemd-networkd runs and netplan
 * is installed, the file is made live by rendering only the netdefs it names (see
 * {@link netplanRenderSh}: `netplan generate` into a temp root, the `10-netplan-ID.network`
 * files of those netdefs copied to /run/systemd/network, `networkctl reload`), never by
 * `netplan apply`: measured on a networkd host, `netplan apply` (and a plain `netplan generate`
 * + `networkctl reload`, which rewrites every rendered file) reconfigures every interface and
 * drops the addresses networkd did not configure there, e.g. keepalived's VRRP VIP on eth0.
 * Elsewhere only the file is written (the plan summary says so). Where netplan is not
 * installed the file is written unvalidated (the YAML itself is generated, so it parses).
 * @module
 */
import { stringify } from "yaml";
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import { FactsError, need } from "./_plan.ts";
import { planFrom } from "./_fact_plan.ts";
import { parseStat, type PathStat } from "./_stat_fact.ts";
import { has, IS_SYSTEMD } from "./_sh.ts";
import { fileProbe, type FileSpec, planFile } from "./file.ts";

/** netplan file names: `NAME.yaml` in /etc/netplan. */
export const netplanName = z.string().regex(
  /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/,
  "must match [A-Za-z0-9_.-]+",
);

/** Arguments of {@link netplan}. */
export const NetplanArgs = z.object({
  ...common,
  /** File name without `.yaml`, e.g. `99-haplay-lo`. */
  name: netplanName,
  /** The netplan document as data (`{ network: { version: 2, ... } }`). */
  config: z.record(z.string(), z.unknown()),
  /** Make the file live where systemd-networkd runs (render its netdefs, reload; default true). */
  apply: z.boolean().default(true),
}).strict();

/** Input of {@link netplan}. */
export type NetplanInput = z.input<typeof NetplanArgs>;

/** YAML text of a netplan document (stable: key order as given). */
export function netplanYaml(config: Record<string, unknown>): string {
  return "# managed by haplay\n" + stringify(config, { lineWidth: 0 });
}

/**
 * Validate command for hp_put_file: `netplan generate` on a temp root holding the current
 * /etc/netplan with the new file (`%s`) in place of `NAME.yaml`; skipped where netplan is
 * not installed. Self-contained (runs under `sh -c`, without the prelude).
 */
export function netplanValidate(name: string): string {
  const script = [
    `command -v netplan >/dev/null 2>&1 || exit 0`,
    `T=$(mktemp -d)`,
    `trap 'rm -rf "$T"' EXIT`,
    `mkdir -p "$T/etc/netplan"`,
    `if [ -d /etc/netplan ]; then cp -a /etc/netplan/. "$T/etc/netplan/"; fi`,
    `cp "$1" "$T/etc/netplan/${name}.yaml"`,
    `chmod 600 "$T/etc/netplan/"*.yaml`,
    `netplan generate --root-dir "$T"`,
  ].join("\n");
  return `sh -ec ${q(script)} netplan-validate %s`;
}

/**
 * sh making the netplan config on disk live for the netdefs `ids` only: `netplan generate`
 * of /lib, /etc and /run/netplan into a temp root, each `10-netplan-ID.network` copied to (or,
 * when no longer rendered, removed from) /run/systemd/network, and `networkctl reload` when one
 * changed, so networkd reconfigures those links and no other. Does nothing unless netplan is
 * installed and systemd-networkd active. Fails (exit 1) when the config does not generate.
 */
export function netplanRenderSh(ids: string[]): string {
  const files = ids.map((id) => q(`10-netplan-${id}.network`)).join(" ");
  // networkd answers reload over D-Bus; one that lost its bus name still gets the rendered files
  // at its next reload or start, so a reload nobody answers warns instead of failing the run
  const reload = `_n=0; until networkctl reload; do _n=$((_n + 1)); if [ $_n -ge 3 ]; then ` +
    `echo "haplay: networkctl reload failed (systemd-networkd not on D-Bus?): the rendering in /run/systemd/network takes effect at networkd's next reload or start" >&2; break; fi; sleep 1; done`;
  // networkd reconfigures the links asynchronously and, measured on Debian 12 (systemd 252),
  // takes every address it did not configure off a link it (un)manages, ::1 and 127.0.0.1/8 of
  // lo included: wait for the links to settle, then put lo's loopback addresses back
  const settle =
    ids.map((id) =>
      `for _i in 1 2 3 4 5 6 7 8 9 10; do case $(networkctl list --no-legend ${
        q(id)
      } 2>/dev/null | awk '{ print $NF }') in configuring|pending|initialized) sleep 0.3 ;; *) break ;; esac; done`
    ).join("; ") + (ids.includes("lo")
      ? `; ip addr replace 127.0.0.1/8 dev lo scope host; if [ -e /proc/sys/net/ipv6/conf/lo ]; then ip -6 addr replace ::1/128 dev lo 2>/dev/null || :; fi`
      : "");
  return [
    `if ${
      has("netplan")
    } && ${IS_SYSTEMD} && systemctl is-active --quiet systemd-networkd 2>/dev/null; then`,
    `  _T=$(mktemp -d)`,
    `  for _d in lib etc run; do mkdir -p "$_T/$_d/netplan"; if [ -d "/$_d/netplan" ]; then cp -a "/$_d/netplan/." "$_T/$_d/netplan/"; fi; done`,
    `  if ! netplan generate --root-dir "$_T" >&2; then rm -rf "$_T"; echo "haplay: netplan generate failed" >&2; exit 1; fi`,
    `  _chg=0; mkdir -p /run/systemd/network`,
    `  for _f in ${files}; do`,
    `    if [ -f "$_T/run/systemd/network/$_f" ]; then`,
    `      if ! cmp -s "$_T/run/systemd/network/$_f" "/run/systemd/network/$_f"; then cp "$_T/run/systemd/network/$_f" "/run/systemd/network/$_f"; _chg=1; fi`,
    `    elif [ -e "/run/systemd/network/$_f" ]; then rm -f "/run/systemd/network/$_f"; _chg=1; fi`,
    `  done`,
    `  rm -rf "$_T"`,
    `  if [ $_chg = 1 ]; then`,
    // networkd reloads every link whose .network file is newer than its last load; netplan's
    // generator rewrites all of them at each `systemctl daemon-reload` (package installs do
    // one), so after one a reload would reconfigure eth0 too: dropping its foreign addresses
    // (the VRRP VIP) and, measured, stalling the SSH session for minutes. Then skip the reload.
    `    _t=$(date -d "$(systemctl show -p ActiveEnterTimestamp --value systemd-networkd)" +%s 2>/dev/null || echo 0)`,
    `    _s=$(stat -c %Y ${STAMP} 2>/dev/null || echo 0); [ "$_s" -gt "$_t" ] && _t=$_s`,
    `    _newer=; for _f in /etc/systemd/network/*.network /run/systemd/network/*.network; do [ -f "$_f" ] || continue; case \${_f##*/} in ${
      ids.map((id) => q(`10-netplan-${id}.network`)).join("|")
    }) continue ;; esac; if [ "$(stat -c %Y "$_f")" -gt "$_t" ]; then _newer="$_newer \${_f##*/}"; fi; done`,
    `    if [ -n "$_newer" ]; then echo "haplay: networkctl reload skipped: changed since networkd loaded them:$_newer (a reload would reconfigure those links too); the rendering takes effect at networkd's next reload or start" >&2`,
    `    else ${reload}; : > ${STAMP}; fi`,
    `    ${settle}`,
    `  fi`,
    `fi`,
  ].join("\n");
}

/** Touched after each reload haplay makes (the last time networkd loaded its files, as far as we know). */
const STAMP = "/run/haplay-networkd-reload.stamp";

/** Probe lines: `init=`, `networkd=`, `netplan_bin=`. */
export const NETPLAN_ENV_PROBE = [
  `if ${IS_SYSTEMD}; then echo init=systemd; else echo init=other; fi`,
  `if ${IS_SYSTEMD} && systemctl is-active --quiet systemd-networkd 2>/dev/null; then echo networkd=1; else echo networkd=0; fi`,
  `if ${has("netplan")}; then echo netplan_bin=1; else echo netplan_bin=0; fi`,
].join("\n");

/** The host's network stack as the netplan tasks see it. */
export interface NetplanEnv {
  init: "systemd" | "other";
  /** systemd-networkd active. */
  networkd: boolean;
  /** `netplan` installed. */
  netplan: boolean;
}

/** A netplan file on the host: its stat, and its bytes (base64) when the plan needs a diff. */
export interface NetplanFileFacts {
  file: PathStat;
  contentB64?: string;
}

/** The facts of {@link netplan}. */
export type NetplanFacts = NetplanEnv & NetplanFileFacts;

/** Parse {@link NETPLAN_ENV_PROBE}'s lines. */
export function parseNetplanEnv(stdout: string): NetplanEnv {
  const f = parseKv(stdout);
  const init = need(f, "init");
  if (init !== "systemd" && init !== "other") throw new FactsError(`bad init ${init}`);
  return { init, networkd: need(f, "networkd") === "1", netplan: need(f, "netplan_bin") === "1" };
}

/** Parse a file probe's lines (stat, optional `content_b64=`; last line `end=1`). */
export function parseNetplanFile(stdout: string): NetplanFileFacts {
  const st = parseStat(stdout);
  const b64 = parseKv(stdout).content_b64;
  return b64 === undefined ? { file: st } : { file: st, contentB64: b64 };
}

/** The typed fact of {@link netplan}: network stack plus the file (diffed against `spec`). */
export function netplanFact(spec: FileSpec): Fact<NetplanFacts> {
  return {
    sh: [NETPLAN_ENV_PROBE, fileProbe(spec.path, spec)].join("\n"),
    parse: (stdout) => ({ ...parseNetplanEnv(stdout), ...parseNetplanFile(stdout) }),
  };
}

/** The probe lines `planFile` reads, from typed file facts (file.ts still plans from text). */
export function fileFactsText(f: NetplanFileFacts): string {
  const st = f.file;
  const lines = [`exists=${st.exists ? 1 : 0}`];
  if (st.exists) {
    lines.push(`type=${st.type}`);
    for (const k of ["owner", "group", "uid", "gid", "mode", "sha256", "size"] as const) {
      if (st[k] !== undefined) lines.push(`${k}=${st[k]}`);
    }
  }
  if (f.contentB64 !== undefined) lines.push(`content_b64=${f.contentB64}`);
  return [...lines, "end=1"].join("\n");
}

/** The file spec of a netplan document. */
export function netplanSpec(name: string, config: Record<string, unknown>): FileSpec {
  return {
    path: `/etc/netplan/${name}.yaml`,
    bytes: new TextEncoder().encode(netplanYaml(config)),
    owner: "root",
    group: "root",
    mode: "0600",
    validate: netplanValidate(name),
    sensitive: false,
  };
}

/** The netdef ids a netplan document defines (`ethernets: { lo: ... }` → `lo`). */
export function netdefIds(config: Record<string, unknown>): string[] {
  const net = config.network;
  if (!net || typeof net !== "object") return [];
  return Object.entries(net as Record<string, unknown>)
    .filter(([k, v]) => k !== "version" && k !== "renderer" && v && typeof v === "object")
    .flatMap(([, v]) => Object.keys(v as Record<string, unknown>));
}

/** Pure planner of {@link netplan}. */
export function planNetplan(a: z.output<typeof NetplanArgs>, f: NetplanFacts): Plan {
  const spec = netplanSpec(a.name, a.config);
  const p = planFile(spec, fileFactsText(f));
  if (p.kind === "ok") return p;
  const live = f.networkd && f.netplan;
  const notes: string[] = [];
  if (!f.netplan) notes.push("netplan not installed: file not validated, not applied");
  else if (!f.networkd) notes.push("no systemd-networkd: file only, live state not applied");
  const ids = netdefIds(a.config);
  const render = live && a.apply && ids.length ? `\n${netplanRenderSh(ids)}` : "";
  return {
    ...p,
    summary: p.summary +
      (notes.length ? ` (${notes.join("; ")})` : render ? ` + networkctl reload (${ids})` : ""),
    apply: p.apply + render,
    restore: p.restore + render,
  };
}

/**
 * A netplan file, validated and (where systemd-networkd runs) made live for its netdefs.
 *
 * @example
 * netplan({ name: "99-haplay-lo", config: { network: { version: 2,
 *   ethernets: { lo: { addresses: ["198.18.0.5/32"] } } } } })
 */
export function netplan(args: NetplanInput): Task {
  const a = parseArgs("netplan", NetplanArgs, args);
  const fact = netplanFact(netplanSpec(a.name, a.config));
  return withCommon({
    name: `netplan ${a.name}`,
    module: "netplan",
    resource: `file:/etc/netplan/${a.name}.yaml`,
    probe: fact.sh,
    plan: planFrom(`netplan ${a.name}`, fact, (f) => planNetplan(a, f)),
  }, a);
}
