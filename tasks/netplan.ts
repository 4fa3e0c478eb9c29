/**
 * `netplan`: a netplan file `/etc/netplan/NAME.yaml` (root:root 0600) from data.
 *
 * Validation runs `netplan generate --root-dir TMP` on a copy of `/etc/netplan` in which the
 * new file replaces the old one, before the file lands. Hosts whose PID 1 is systemd and where
 * systemd-networkd is active get `netplan apply`; elsewhere only the file is written (the plan
 * summary says so) and the live state is up to other tasks (see `loVip`). Where netplan is not
 * installed the file is written unvalidated (the YAML itself is generated, so it parses).
 * @module
 */
import { stringify } from "yaml";
import { z } from "zod";
import type { Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import { guarded, need } from "./_plan.ts";
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
  /** Run `netplan apply` where systemd-networkd runs (default true). */
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

/** Probe lines: `init=`, `networkd=`, `netplan_bin=`. */
export const NETPLAN_ENV_PROBE = [
  `if ${IS_SYSTEMD}; then echo init=systemd; else echo init=other; fi`,
  `if ${IS_SYSTEMD} && systemctl is-active --quiet systemd-networkd 2>/dev/null; then echo networkd=1; else echo networkd=0; fi`,
  `if ${has("netplan")}; then echo netplan_bin=1; else echo netplan_bin=0; fi`,
].join("\n");

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

/** Pure planner of {@link netplan}. */
export function planNetplan(a: z.output<typeof NetplanArgs>, facts: string): Plan {
  const f = parseKv(facts);
  const spec = netplanSpec(a.name, a.config);
  const p = planFile(spec, facts);
  if (p.kind === "ok") return p;
  const networkd = need(f, "networkd") === "1" && f.netplan_bin === "1";
  const notes: string[] = [];
  if (f.netplan_bin !== "1") notes.push("netplan not installed: file not validated, not applied");
  else if (!networkd) notes.push("no systemd-networkd: file only, live state not applied");
  const apply = networkd && a.apply ? `\nnetplan apply` : "";
  return {
    ...p,
    summary: p.summary +
      (notes.length ? ` (${notes.join("; ")})` : networkd && a.apply ? " + netplan apply" : ""),
    apply: p.apply + apply,
    restore: p.restore + (apply ? `\nif ${IS_SYSTEMD}; then netplan apply; fi` : ""),
  };
}

/**
 * A netplan file, validated and (where systemd-networkd runs) applied.
 *
 * @example
 * netplan({ name: "99-haplay-lo", config: { network: { version: 2,
 *   ethernets: { lo: { addresses: ["198.18.0.5/32"] } } } } })
 */
export function netplan(args: NetplanInput): Task {
  const a = parseArgs("netplan", NetplanArgs, args);
  const path = `/etc/netplan/${a.name}.yaml`;
  return withCommon({
    name: `netplan ${a.name}`,
    module: "netplan",
    resource: `file:${path}`,
    probe: [NETPLAN_ENV_PROBE, fileProbe(path)].join("\n"),
    plan: guarded(`netplan ${a.name}`, (facts) => planNetplan(a, facts)),
  }, a);
}
