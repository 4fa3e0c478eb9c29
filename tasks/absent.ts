/**
 * `absent`: a path (file, symlink or directory tree) that must not exist.
 *
 * Backup keeps what is removed: a file or symlink with `hp_save_path`, a directory as a tar
 * archive (numeric owners, permissions) in the journal.
 * @module
 */
import { z } from "zod";
import type { Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, parseArgs, withCommon } from "./_args.ts";
import { ok } from "./_plan.ts";
import { planFrom } from "./_fact_plan.ts";
import { parseStat, type PathStat, statFact } from "./_stat_fact.ts";

/** Paths `absent` refuses to remove. */
export const PROTECTED = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/lib64",
  "/opt",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/srv",
  "/sys",
  "/tmp",
  "/usr",
  "/var",
];

/** Arguments of {@link absent}. */
export const AbsentArgs = z.object({
  ...common,
  path: absPath.refine((p) => !PROTECTED.includes(p), "refusing to remove a top-level system path"),
}).strict();

/** Input of {@link absent}. */
export type AbsentInput = z.input<typeof AbsentArgs>;

/** sh saving a path before removal (tar for a directory). */
export function absentBackup(path: string): string {
  const P = q(path);
  const dir = q(path.slice(0, path.lastIndexOf("/")) || "/");
  const base = q(path.slice(path.lastIndexOf("/") + 1));
  return [
    `if [ -d ${P} ] && [ ! -L ${P} ]; then`,
    `  tar -C ${dir} --format=posix --numeric-owner -cpf "$J/absent.tar" -- ${base}`,
    `  echo tree > "$J/absent.kind"`,
    `else`,
    `  hp_save_path ${P}`,
    `  echo path > "$J/absent.kind"`,
    `fi`,
  ].join("\n");
}

/** sh restoring a path saved by {@link absentBackup}. */
export function absentRestore(path: string): string {
  const P = q(path);
  const dir = q(path.slice(0, path.lastIndexOf("/")) || "/");
  return [
    `case $(cat "$J/absent.kind" 2>/dev/null) in`,
    `  tree) rm -rf -- ${P}; mkdir -p -- ${dir}; tar -C ${dir} --numeric-owner -xpf "$J/absent.tar" ;;`,
    `  path) hp_restore_path ${P} ;;`,
    `esac`,
  ].join("\n");
}

/** Pure planner of {@link absent}, from the path's {@link PathStat}. */
export function planAbsentStat(path: string, st: PathStat): Plan {
  if (!st.exists) return ok(`${path} is absent`);
  return {
    kind: "change",
    summary: `remove ${st.type === "dir" ? "directory tree" : st.type} ${path}`,
    backup: absentBackup(path),
    apply: `rm -rf -- ${q(path)}`,
    restore: absentRestore(path),
  };
}

/** {@link planAbsentStat} from the stat probe's raw output (throws on unreadable output). */
export function planAbsent(path: string, facts: string): Plan {
  return planAbsentStat(path, parseStat(facts));
}

/**
 * Make sure a path does not exist (a directory is removed with its content).
 *
 * @example
 * absent({ path: "/etc/keepalived/old.conf" })
 */
export function absent(args: AbsentInput): Task {
  const a = parseArgs("absent", AbsentArgs, args);
  return withCommon({
    name: a.name ?? `absent ${a.path}`,
    module: "absent",
    resource: `file:${a.path}`,
    probe: statFact(a.path).sh,
    plan: planFrom(`absent ${a.path}`, statFact(a.path), (st) => planAbsentStat(a.path, st)),
  }, a);
}
