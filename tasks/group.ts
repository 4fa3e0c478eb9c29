/**
 * `group`: a local group (groupadd / groupmod / groupdel).
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import { planFrom } from "./_fact_plan.ts";
import { FactsError, need, ok } from "./_plan.ts";
import { END } from "./_sh.ts";

/** Valid user/group name (shadow-utils' default rule). */
export const accountName = z.string().regex(
  /^[a-z_][a-z0-9_-]{0,30}\$?$/,
  "must be a lowercase user/group name ([a-z_][a-z0-9_-]*, max 32)",
);

/**
 * Files shadow-utils rewrites besides the account's own lines (backup copies, subordinate ids,
 * the lock file). Saved and put back whole, so a rollback is byte-exact.
 */
export const ACCOUNT_FILES = [
  "/etc/passwd-",
  "/etc/shadow-",
  "/etc/group-",
  "/etc/gshadow-",
  "/etc/subuid",
  "/etc/subuid-",
  "/etc/subgid",
  "/etc/subgid-",
  "/etc/.pwd.lock",
];

/** The account databases themselves: rewritten by the tools, their mtime put back when equal. */
export const ACCOUNT_DBS = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"];

/** sh saving {@link ACCOUNT_FILES} and copies of {@link ACCOUNT_DBS} into $J. */
export const ACCOUNT_FILES_BACKUP = [
  ...ACCOUNT_FILES.map((f, i) => `hp_save_path ${f} acct${i}`),
  ...ACCOUNT_DBS.map((f, i) => `cp -p ${f} "$J/db${i}" 2>/dev/null || :`),
].join("\n");

/**
 * sh restoring {@link ACCOUNT_FILES} (after userdel/groupdel/usermod rewrote them), and the
 * mtime of each account database whose content is back to the saved one.
 */
export const ACCOUNT_FILES_RESTORE = [
  ...ACCOUNT_FILES.map((f, i) => `hp_restore_path ${f} acct${i}`),
  ...ACCOUNT_DBS.map((f, i) => `if cmp -s "$J/db${i}" ${f}; then touch -r "$J/db${i}" ${f}; fi`),
].join("\n");

/** Arguments of {@link group}. */
export const GroupArgs = z.object({
  ...common,
  name: accountName,
  system: z.boolean().default(false),
  gid: z.number().int().min(0).max(2 ** 31).optional(),
  state: z.enum(["present", "absent"]).default("present"),
}).strict();

/** Input of {@link group}. */
export type GroupInput = z.input<typeof GroupArgs>;

/** Probe: `exists=` and the `getent group` line. */
export function groupProbe(name: string): string {
  return `if _l=$(getent group ${q(name)}); then echo exists=1; printf 'line=%s\\n' "$_l"; ` +
    `else echo exists=0; fi\n${END}`;
}

/** sh saving the group's pre-state into $J (group.line / gshadow.line, or group.absent). */
export function groupBackup(name: string): string {
  const N = q(name);
  return `if getent group ${N} > "$J/group.line"; then getent gshadow ${N} > "$J/gshadow.line" || :; ` +
    `else rm -f "$J/group.line"; : > "$J/group.absent"; fi\n${ACCOUNT_FILES_BACKUP}`;
}

/** sh restoring the group saved by {@link groupBackup}. */
export function groupRestore(name: string): string {
  const N = q(name);
  return [
    `if [ -f "$J/group.absent" ]; then`,
    `  if getent group ${N} >/dev/null; then groupdel ${N}; fi`,
    `elif [ -f "$J/group.line" ]; then`,
    `  IFS=: read -r _n _x _gid _mem < "$J/group.line"`,
    `  if ! getent group ${N} >/dev/null; then groupadd -g "$_gid" ${N}; fi`,
    `  [ "$(getent group ${N} | cut -d: -f3)" = "$_gid" ] || groupmod -g "$_gid" ${N}`,
    `  gpasswd -M "$_mem" ${N} >/dev/null`,
    `  if [ -s "$J/gshadow.line" ]; then IFS=: read -r _n _pw _rest < "$J/gshadow.line"; ` +
    `groupmod -p "$_pw" ${N}; fi`,
    `fi`,
    ACCOUNT_FILES_RESTORE,
  ].join("\n");
}

/** What the group probe found: no group, or the group's gid. */
export type GroupFact = { exists: false } | { exists: true; gid: string };

/** Parse the group probe's output (throws on output it cannot read). */
export function parseGroup(stdout: string): GroupFact {
  const f = parseKv(stdout);
  need(f, "end");
  if (need(f, "exists") !== "1") return { exists: false };
  const gid = need(f, "line").split(":")[2];
  if (gid === undefined) throw new FactsError("bad group line");
  return { exists: true, gid };
}

/** The group fact of a group name. */
export function groupFact(name: string): Fact<GroupFact> {
  return { sh: groupProbe(name), parse: parseGroup };
}

/** Pure planner of {@link group} from the probe's raw output (throws on unreadable output). */
export function planGroup(a: z.output<typeof GroupArgs>, facts: string): Plan {
  return planGroupFact(a, parseGroup(facts));
}

/** Pure planner of {@link group} from its {@link GroupFact}. */
export function planGroupFact(a: z.output<typeof GroupArgs>, f: GroupFact): Plan {
  const N = q(a.name);
  const base = { backup: groupBackup(a.name), restore: groupRestore(a.name) };
  if (a.state === "absent") {
    if (!f.exists) return ok(`group ${a.name} is absent`);
    return {
      kind: "change",
      summary: `remove group ${a.name}`,
      ...base,
      apply: `if getent group ${N} >/dev/null; then groupdel ${N}; fi`,
    };
  }
  const gidOpt = a.gid === undefined ? "" : ` -g ${a.gid}`;
  if (!f.exists) {
    return {
      kind: "change",
      summary: `create ${a.system ? "system " : ""}group ${a.name}${
        gidOpt ? ` (gid ${a.gid})` : ""
      }`,
      ...base,
      apply:
        `if ! getent group ${N} >/dev/null; then groupadd${
          a.system ? " -r" : ""
        }${gidOpt} ${N}; fi` +
        (a.gid === undefined
          ? ""
          : `\n[ "$(getent group ${N} | cut -d: -f3)" = ${a.gid} ] || groupmod${gidOpt} ${N}`),
    };
  }
  const gid = f.gid;
  if (a.gid !== undefined && String(a.gid) !== gid) {
    return {
      kind: "change",
      summary: `change gid of group ${a.name} ${gid} → ${a.gid}`,
      ...base,
      apply: `groupmod${gidOpt} ${N}`,
    };
  }
  return ok(`group ${a.name} exists${a.gid === undefined ? "" : ` with gid ${a.gid}`}`);
}

/**
 * A local group.
 *
 * @example
 * group({ name: "haproxy", system: true })
 */
export function group(args: GroupInput): Task {
  const a = parseArgs("group", GroupArgs, args);
  return withCommon({
    name: `group ${a.name}${a.state === "absent" ? " absent" : ""}`,
    module: "group",
    resource: `group:${a.name}`,
    probe: groupFact(a.name).sh,
    plan: planFrom(`group ${a.name}`, groupFact(a.name), (f) => planGroupFact(a, f)),
  }, a);
}
