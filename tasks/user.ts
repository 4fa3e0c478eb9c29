/**
 * `user`: a local user account (useradd / usermod / userdel).
 *
 * Without `home`, no home directory is created and the account's home is `/nonexistent`
 * (Debian's convention for system accounts). `groups` is the exact list of supplementary
 * groups (or, with `append`, groups the user must at least be in).
 *
 * Backup saves the passwd/shadow lines, the supplementary groups and the primary group's
 * line (or "absent"); restore removes a user the run created (`userdel`, plus the home it
 * created) or puts the saved account back with usermod/useradd (uid, gid, comment, home,
 * shell, password hash, supplementary groups).
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import { planFrom } from "./_fact_plan.ts";
import { FactsError, need, ok } from "./_plan.ts";
import { END } from "./_sh.ts";
import { ACCOUNT_FILES_BACKUP, ACCOUNT_FILES_RESTORE, accountName } from "./group.ts";

/** Arguments of {@link user}. */
export const UserArgs = z.object({
  ...common,
  name: accountName,
  system: z.boolean().default(false),
  uid: z.number().int().min(0).max(2 ** 31).optional(),
  shell: absPath.default("/usr/sbin/nologin"),
  /** Home directory, created when the user is created. Default: none (`/nonexistent`). */
  home: absPath.optional(),
  /** Supplementary groups (must exist by the time the task applies). */
  groups: z.array(accountName).optional(),
  /** Only add `groups`, never remove other supplementary groups. */
  append: z.boolean().default(false),
  state: z.enum(["present", "absent"]).default("present"),
}).strict();

/** Input of {@link user}. */
export type UserInput = z.input<typeof UserArgs>;

/** Probe: `exists=`, the passwd line, primary group name and all group names. */
export function userProbe(name: string): string {
  const N = q(name);
  return [
    `if _l=$(getent passwd ${N}); then`,
    `  echo exists=1; printf 'passwd=%s\\n' "$_l"`,
    `  printf 'primary=%s\\n' "$(id -gn ${N} 2>/dev/null)"`,
    `  printf 'groups=%s\\n' "$(id -Gn ${N} 2>/dev/null)"`,
    `else echo exists=0; fi`,
    END,
  ].join("\n");
}

/** sh saving the account's pre-state into $J. */
export function userBackup(name: string): string {
  const N = q(name);
  return [
    `if getent passwd ${N} > "$J/passwd.line"; then`,
    `  getent shadow ${N} > "$J/shadow.line" || :`,
    `  _pg=$(id -gn ${N}); id -Gn ${N} | tr ' ' '\\n' | grep -vxF -- "$_pg" | paste -sd, > "$J/supp" || :`,
    `  getent group "$(cut -d: -f4 "$J/passwd.line")" > "$J/primary.line" || :`,
    `else`,
    `  rm -f "$J/passwd.line"; : > "$J/user.absent"`,
    `  getent group ${N} > "$J/samegroup.line" || :`,
    `fi`,
    ACCOUNT_FILES_BACKUP,
  ].join("\n");
}

/** sh restoring the account saved by {@link userBackup}; `home` is the home the run may create. */
export function userRestore(name: string, home: string | undefined): string {
  const N = q(name);
  const rmHome = home ? `if [ -f "$J/home.created" ]; then rm -rf -- ${q(home)}; fi` : ":";
  return [
    `if [ -f "$J/user.absent" ]; then`,
    `  if getent passwd ${N} >/dev/null; then userdel ${N}; fi`,
    `  ${rmHome}`,
    // userdel removes a same-named primary group even when it existed before: put it back.
    `  if [ -s "$J/samegroup.line" ] && ! getent group ${N} >/dev/null; then`,
    `    IFS=: read -r _n _x _gid _mem < "$J/samegroup.line"; groupadd -g "$_gid" ${N}`,
    `    [ -z "$_mem" ] || gpasswd -M "$_mem" ${N} >/dev/null`,
    `  fi`,
    `elif [ -f "$J/passwd.line" ]; then`,
    `  IFS=: read -r _n _x _uid _gid _gecos _home _shell < "$J/passwd.line"`,
    `  if [ -s "$J/primary.line" ] && ! getent group "$_gid" >/dev/null; then`,
    `    IFS=: read -r _gn _x _x2 _x3 < "$J/primary.line"; groupadd -g "$_gid" "$_gn"`,
    `  fi`,
    `  if getent passwd ${N} >/dev/null; then`,
    `    usermod -u "$_uid" -g "$_gid" -c "$_gecos" -d "$_home" -s "$_shell" ${N}`,
    `  else`,
    `    useradd -M -u "$_uid" -g "$_gid" -c "$_gecos" -d "$_home" -s "$_shell" ${N}`,
    `  fi`,
    `  usermod -G "$(cat "$J/supp" 2>/dev/null)" ${N}`,
    `  if [ -s "$J/shadow.line" ]; then usermod -p "$(cut -d: -f2 "$J/shadow.line")" ${N}; fi`,
    `fi`,
    ACCOUNT_FILES_RESTORE,
  ].join("\n");
}

/** What the user probe found: no account, or the account's uid, home, shell and groups. */
export type UserFact =
  | { exists: false }
  | {
    exists: true;
    uid: string;
    home: string;
    shell: string;
    /** Supplementary groups (the primary group left out), sorted, unique. */
    supp: string[];
  };

/** Parse the user probe's output (throws on output it cannot read). */
export function parseUser(stdout: string): UserFact {
  const f = parseKv(stdout);
  need(f, "end");
  if (need(f, "exists") !== "1") return { exists: false };
  const p = need(f, "passwd").split(":");
  if (p.length < 7) throw new FactsError("bad passwd line");
  const primary = f.primary ?? "";
  const supp = (f.groups ?? "").split(/\s+/).filter((g) => g && g !== primary);
  return { exists: true, uid: p[2], home: p[5], shell: p[6], supp: [...new Set(supp)].sort() };
}

/** The user fact of an account name. */
export function userFact(name: string): Fact<UserFact> {
  return { sh: userProbe(name), parse: parseUser };
}

/** Pure planner of {@link user} from the probe's raw output (throws on unreadable output). */
export function planUser(a: z.output<typeof UserArgs>, facts: string): Plan {
  return planUserFact(a, parseUser(facts));
}

/** Pure planner of {@link user} from its {@link UserFact}. */
export function planUserFact(a: z.output<typeof UserArgs>, c: UserFact): Plan {
  const N = q(a.name);
  const base = { backup: userBackup(a.name), restore: userRestore(a.name, a.home) };
  if (a.state === "absent") {
    if (!c.exists) return ok(`user ${a.name} is absent`);
    return {
      kind: "change",
      summary: `remove user ${a.name} (home kept)`,
      ...base,
      apply: `if getent passwd ${N} >/dev/null; then userdel ${N}; fi`,
    };
  }
  const groupsCsv = a.groups?.length ? a.groups.join(",") : "";
  if (!c.exists) {
    const opts = [
      a.system ? "-r" : "",
      a.uid !== undefined ? `-u ${a.uid}` : "",
      `-s ${q(a.shell)}`,
      a.home ? `-m -d ${q(a.home)}` : "-M -d /nonexistent",
      groupsCsv ? `-G ${q(groupsCsv)}` : "",
    ].filter(Boolean).join(" ");
    const homeMark = a.home ? `[ -e ${q(a.home)} ] || : > "$J/home.created"; ` : "";
    return {
      kind: "change",
      summary: `create ${a.system ? "system " : ""}user ${a.name} (shell ${a.shell}, ` +
        `${a.home ? `home ${a.home}` : "no home"}${groupsCsv ? `, groups ${groupsCsv}` : ""})`,
      ...base,
      apply: [
        `if ! getent passwd ${N} >/dev/null; then`,
        // An existing group of the same name becomes the primary group (useradd refuses otherwise).
        `  _g=; if getent group ${N} >/dev/null; then _g="-g ${a.name}"; fi`,
        `  ${homeMark}useradd ${opts} $_g ${N}`,
        `fi`,
      ].join("\n"),
    };
  }
  const changes: string[] = [];
  const mods: string[] = [];
  if (c.shell !== a.shell) {
    changes.push(`shell ${c.shell} → ${a.shell}`);
    mods.push(`-s ${q(a.shell)}`);
  }
  if (a.home && c.home !== a.home) {
    changes.push(`home ${c.home} → ${a.home}`);
    mods.push(`-d ${q(a.home)}`);
  }
  if (a.uid !== undefined && c.uid !== String(a.uid)) {
    changes.push(`uid ${c.uid} → ${a.uid}`);
    mods.push(`-u ${a.uid}`);
  }
  if (a.groups) {
    const want = [...new Set(a.groups)].sort();
    const missing = want.filter((g) => !c.supp.includes(g));
    const extra = a.append ? [] : c.supp.filter((g) => !want.includes(g));
    if (missing.length || extra.length) {
      changes.push(
        `groups ${c.supp.join(",") || "(none)"} → ${
          a.append ? "+" + missing.join(",") : want.join(",") || "(none)"
        }`,
      );
      mods.push(a.append ? `-a -G ${q(missing.join(","))}` : `-G ${q(want.join(","))}`);
    }
  }
  if (!changes.length) return ok(`user ${a.name} matches`);
  return {
    kind: "change",
    summary: `modify user ${a.name}: ${changes.join(", ")}`,
    diff: changes.map((c) => `${c}\n`).join(""),
    ...base,
    apply: `usermod ${mods.join(" ")} ${N}`,
  };
}

/**
 * A local user.
 *
 * @example
 * user({ name: "keepalived_script", system: true }) // no login shell, no home
 */
export function user(args: UserInput): Task {
  const a = parseArgs("user", UserArgs, args);
  return withCommon({
    name: `user ${a.name}${a.state === "absent" ? " absent" : ""}`,
    module: "user",
    resource: `user:${a.name}`,
    probe: userFact(a.name).sh,
    plan: planFrom(`user ${a.name}`, userFact(a.name), (f) => planUserFact(a, f)),
  }, a);
}
