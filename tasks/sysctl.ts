/**
 * `sysctl`: a kernel parameter, live (`sysctl -w`) and persisted as its own `key = value` line
 * in a sysctl.d file (several sysctl tasks share one file; each owns its line). Never runs
 * `sysctl --system`.
 * @module
 */
import { z } from "zod";
import type { Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import type { LineEdit } from "./_line_edit.ts";
import { guarded, need } from "./_plan.ts";
import { escapeRegex } from "./_regex.ts";
import { lineProbe, type LineSpec, planLine } from "./line_in_file.ts";

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

/** Pure planner of a sysctl task. */
export function planSysctl(a: z.output<typeof SysctlArgs>, facts: string): Plan {
  const f = parseKv(facts);
  need(f, "end");
  const spec: LineSpec = {
    path: a.file,
    edit: sysctlEdit(a.key, a.value),
    create: true,
    owner: "root",
    group: "root",
    mode: "0644",
    sensitive: false,
  };
  const filePlan = planLine(spec, facts);
  const live = f.live === undefined ? undefined : normValue(f.live);
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
    probe: sysctlProbe(a.key, a.file),
    plan: guarded(`sysctl ${a.key}`, (facts) => planSysctl(a, facts)),
  }, a);
}
