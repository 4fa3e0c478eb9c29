/**
 * `directory`: a directory with owner, group and mode (parents created as needed).
 * @module
 */
import { z } from "zod";
import type { Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, fileMode, parseArgs, principal, withCommon } from "./_args.ts";
import { FactsError, ok, refuse } from "./_plan.ts";
import { planFrom } from "./_fact_plan.ts";
import { type PathStat, statFact } from "./_stat_fact.ts";
import { samePrincipal } from "./file.ts";

/** Arguments of {@link directory}. */
export const DirectoryArgs = z.object({
  ...common,
  path: absPath,
  owner: principal.default("root"),
  group: principal.default("root"),
  mode: fileMode.default("0755"),
}).strict();

/** Input of {@link directory}. */
export type DirectoryInput = z.input<typeof DirectoryArgs>;

/** Pure planner of a directory, from the path's {@link PathStat}. */
export function planDirectory(a: z.output<typeof DirectoryArgs>, st: PathStat): Plan {
  const P = q(a.path);
  const chown = `chown ${q(`${a.owner}:${a.group}`)} -- ${P}\nchmod ${a.mode} -- ${P}`;
  const backup = `hp_save_path ${P}`;
  // Restore of a created directory removes it with everything put in it since.
  const restore = `hp_restore_path ${P}\nhp_rm_created`;
  if (!st.exists) {
    return {
      kind: "change",
      summary: `create directory ${a.path} (${a.mode} ${a.owner}:${a.group})`,
      backup,
      apply: `hp_mkparents ${P}\nmkdir -p -- ${P}\n${chown}`,
      restore,
    };
  }
  if (st.type !== "dir") return refuse(`${a.path} exists and is a ${st.type}, not a directory`);
  if (st.mode === undefined) throw new FactsError("missing mode=");
  const mode = parseInt(st.mode, 8);
  const diffs: string[] = [];
  if (!samePrincipal(a.owner, st.owner, st.uid) || !samePrincipal(a.group, st.group, st.gid)) {
    diffs.push(`owner ${st.owner}:${st.group} → ${a.owner}:${a.group}`);
  }
  if (mode !== parseInt(a.mode, 8)) {
    diffs.push(`mode ${mode.toString(8).padStart(4, "0")} → ${a.mode}`);
  }
  if (!diffs.length) return ok(`${a.path}: owner and mode match`);
  return {
    kind: "change",
    summary: `set ${a.path} ${diffs.join(", ")}`,
    backup,
    apply: chown,
    restore,
  };
}

/**
 * A directory with owner, group and mode; missing parents are created (and removed again on
 * rollback).
 *
 * @example
 * directory({ path: "/etc/keepalived", mode: "0750" })
 */
export function directory(args: DirectoryInput): Task {
  const a = parseArgs("directory", DirectoryArgs, args);
  return withCommon({
    name: a.name ?? `directory ${a.path}`,
    module: "directory",
    resource: `file:${a.path}`,
    probe: statFact(a.path).sh,
    plan: planFrom(`directory ${a.path}`, statFact(a.path), (st) => planDirectory(a, st)),
  }, a);
}
