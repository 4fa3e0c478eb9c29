/**
 * `directory`: a directory with owner, group and mode (parents created as needed).
 * @module
 */
import { z } from "zod";
import type { Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, fileMode, parseArgs, principal, withCommon } from "./_args.ts";
import { octal, parseKv } from "./_facts.ts";
import { guarded, need, ok, refuse } from "./_plan.ts";
import { END, statProbe } from "./_sh.ts";
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

/** Pure planner of a directory. */
export function planDirectory(a: z.output<typeof DirectoryArgs>, facts: string): Plan {
  const f = parseKv(facts);
  need(f, "end");
  const P = q(a.path);
  const chown = `chown ${q(`${a.owner}:${a.group}`)} -- ${P}\nchmod ${a.mode} -- ${P}`;
  const backup = `hp_save_path ${P}`;
  // Restore of a created directory removes it with everything put in it since.
  const restore = `hp_restore_path ${P}\nhp_rm_created`;
  if (need(f, "exists") === "0") {
    return {
      kind: "change",
      summary: `create directory ${a.path} (${a.mode} ${a.owner}:${a.group})`,
      backup,
      apply: `hp_mkparents ${P}\nmkdir -p -- ${P}\n${chown}`,
      restore,
    };
  }
  const type = need(f, "type");
  if (type !== "dir") return refuse(`${a.path} exists and is a ${type}, not a directory`);
  const mode = octal(need(f, "mode"));
  const diffs: string[] = [];
  if (!samePrincipal(a.owner, f.owner, f.uid) || !samePrincipal(a.group, f.group, f.gid)) {
    diffs.push(`owner ${f.owner}:${f.group} → ${a.owner}:${a.group}`);
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
    probe: [statProbe(a.path), END].join("\n"),
    plan: guarded(`directory ${a.path}`, (facts) => planDirectory(a, facts)),
  }, a);
}
