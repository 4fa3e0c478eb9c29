/**
 * `sysctl`: a kernel parameter, live (`sysctl -w`) and persisted as its own `key = value` line
 * in a sysctl.d file (several sysctl tasks share one file; each owns its line). Never runs
 * `sysctl --system`.
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import type { LineEdit } from "./_line_edit.ts";
import { planFrom } from "./_fact_plan.ts";
import { escapeRegex } from "./_regex.ts";
import {
  type LineFileFact,
  lineProbe,
  type LineSpec,
  parseLineFile,
  planLineFact,
} from "./line_in_file.ts";

/** Arguments of {@link sysctl}. */
export const SysctlArgs = z.object({
  ...common,
  /** Dotted key, e.g. `net.ipv4.ip_forward` or `net.ipv4.conf.eth0.arp_ignore` (`/` in VLAN names). */
  key: z.string().regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.\/-]*$/,
    "must be a sysctl key like net.ipv4.ip_forward",
  ),
  value: z.union([
    z.string().refine((v) => !/[\n\r\0]/.test(v), "must be a single line"),
    z.number(),
  ])
    .transform((v) => normValue(String(v)))
    .refine((v) => v !== "", "must not be empty"),
  file: absPath.default("/etc/sysctl.d/60-haplay.conf"),
}).strict();

/** Input of {@link sysctl}. */
export type SysctlInput = z.input<typeof SysctlArgs>;

/** Whitespace-normalized value (sysctl prints multi-value keys with tabs). */
export function normValue(v: string): string {
  return v.trim().split(/\s+/).join(" ");
}

/** The line edit owning `key` in the file. */
export function sysctlEdit(key: string, value: string): LineEdit {
  return {
    regexp: `^[ \t]*-?${escapeRegex(key)}[ \t]*=`,
    line: `${key} = ${value}`,
    state: "present",
    insertAfter: "EOF",
  };
}

/** Probe: live value (or `live_missing=1`) then the file probe. */
export function sysctlProbe(key: string, file: string): string {
  return [
    `if _v=$(sysctl -n ${
      q(key)
    } 2>/dev/null); then printf 'live=%s\\n' "$(printf '%s' "$_v" | tr '\\t\\n' '  ')"; else echo live_missing=1; fi`,
    lineProbe(file),
  ].join("\n");
}

/** What the sysctl probe found: the live value (absent: no such key now) and the file. */
export interface SysctlFact {
  /** The live value, whitespace-normalized; absent when the key does not exist on the host. */
  live?: string;
  file: LineFileFact;
}

/** Parse the sysctl probe's output (throws on output it cannot read). */
export function parseSysctl(stdout: string): SysctlFact {
  const file = parseLineFile(stdout);
  const live = parseKv(stdout).live;
  return live === undefined ? { file } : { live: normValue(live), file };
}

/** The sysctl fact of `key`, persisted in `file`. */
export function sysctlFact(key: string, file: string): Fact<SysctlFact> {
  return { sh: sysctlProbe(key, file), parse: parseSysctl };
}

/** Pure planner of a sysctl task from its probe's raw output (throws on unreadable output). */
export function planSysctl(a: z.output<typeof SysctlArgs>, facts: string): Plan {
  return planSysctlFact(a, parseSysctl(facts));
}

/** Pure planner of a sysctl task from its {@link SysctlFact}. */
export function planSysctlFact(a: z.output<typeof SysctlArgs>, fact: SysctlFact): Plan {
  const spec: LineSpec = {
    path: a.file,
    edit: sysctlEdit(a.key, a.value),
    create: true,
    owner: "root",
    group: "root",
    mode: "0644",
    sensitive: false,
  };
  const filePlan = planLineFact(spec, fact.file);
  const live = fact.live;
  const liveOk = live === a.value;
  if (liveOk && filePlan.kind === "ok") {
    return { kind: "ok", reason: `${a.key} = ${a.value} (live and persisted)` };
  }
  const parts: string[] = [];
  let diff = "";
  if (!liveOk) {
    parts.push(
      live === undefined
        ? `set ${a.key} = ${a.value} (key does not exist on the host now)`
        : `set ${a.key} ${live} → ${a.value}`,
    );
    diff += `live ${a.key}: ${live ?? "(missing)"} → ${a.value}\n`;
  }
  if (filePlan.kind === "change") {
    parts.push(`persist in ${a.file}`);
    diff += filePlan.diff ?? "";
  }
  const K = q(a.key);
  const F = q(a.file);
  return {
    kind: "change",
    summary: parts.join(", "),
    diff,
    backup: [
      `if _v=$(sysctl -n ${K} 2>/dev/null); then printf '%s\\n' "$_v" > "$J/sysctl.live"; fi`,
      `hp_save_path ${F}`,
    ].join("\n"),
    apply: [
      `sysctl -w ${q(`${a.key}=${a.value}`)} >/dev/null`,
      filePlan.kind === "change" ? filePlan.apply : filePlan.kind === "ok" ? ":" : ":",
    ].join("\n"),
    restore: [
      `if [ -f "$J/sysctl.live" ]; then sysctl -w "${
        a.key.replace(/[^A-Za-z0-9_.\/-]/g, "")
      }=$(cat "$J/sysctl.live")" >/dev/null; fi`,
      `hp_restore_path ${F}`,
      `hp_rm_created`,
    ].join("\n"),
  };
}

/**
 * A kernel parameter, set live and persisted.
 *
 * @example
 * sysctl({ key: "net.ipv4.conf.all.arp_ignore", value: 1 })
 */
export function sysctl(args: SysctlInput): Task {
  const a = parseArgs("sysctl", SysctlArgs, args);
  return withCommon({
    name: a.name ?? `sysctl ${a.key} = ${a.value}`,
    module: "sysctl",
    resource: `sysctl:${a.key}`,
    probe: sysctlFact(a.key, a.file).sh,
    plan: planFrom(`sysctl ${a.key}`, sysctlFact(a.key, a.file), (f) => planSysctlFact(a, f)),
  }, a);
}
