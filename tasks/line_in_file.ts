/**
 * `lineInFile`: one line of a file, regex-anchored (Ansible's lineinfile).
 *
 * `plan` computes the new content from the probed content (for check mode and the diff);
 * `apply` re-runs the same edit in awk on the host's content at apply time, so several
 * tasks editing one file in the same run compose. Regexes are a portable subset of POSIX ERE
 * (see `_regex.ts`) so both implementations agree.
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, fileMode, oneLine, parseArgs, principal, withCommon } from "./_args.ts";
import { unifiedDiff } from "./_diff.ts";
import { b64Text, parseKv } from "./_facts.ts";
import { editText, type LineEdit, lineEditApply } from "./_line_edit.ts";
import { planFrom } from "./_fact_plan.ts";
import { FactsError, need, ok, refuse } from "./_plan.ts";
import { parseStat, type PathStat } from "./_stat_fact.ts";
import { portableRegexProblem } from "./_regex.ts";
import { END, PLAIN_DIR, statProbe } from "./_sh.ts";
import { HIDDEN } from "./file.ts";

/** Largest file lineInFile will edit (its content is shipped back by the probe). */
export const EDIT_LIMIT = 4 * 1024 * 1024;

const portable = z.string().superRefine((re, ctx) => {
  const p = portableRegexProblem(re);
  if (p) ctx.addIssue({ code: "custom", message: `unsupported regex: ${p}` });
});

/** Arguments of {@link lineInFile}. */
export const LineInFileArgs = z.object({
  ...common,
  path: absPath,
  /** Portable regex of the line to replace (last match) or remove (all matches). */
  regexp: portable.optional(),
  /** The full line. Required for `present`; for `absent` without regexp, the line to remove. */
  line: oneLine.optional(),
  state: z.enum(["present", "absent"]).default("present"),
  /** Where to insert when nothing matches: "EOF" or a portable regex (after its last match). */
  insertAfter: z.union([z.literal("EOF"), portable]).default("EOF"),
  /** Create the file when missing (with owner/group/mode below). */
  create: z.boolean().default(true),
  owner: principal.default("root"),
  group: principal.default("root"),
  mode: fileMode.default("0644"),
  validate: z.string().includes("%s", { message: "must contain %s" }).optional(),
  sensitive: z.boolean().default(false),
}).strict()
  .refine((a) => a.state === "absent" || a.line !== undefined, {
    message: "line is required with state present",
    path: ["line"],
  })
  .refine((a) => a.state === "present" || a.regexp !== undefined || a.line !== undefined, {
    message: "state absent needs regexp or line",
    path: ["regexp"],
  })
  .refine(
    (a) => !a.validate || PLAIN_DIR.test(a.path.slice(0, a.path.lastIndexOf("/")) || "/"),
    { message: "with validate, the parent directory may only contain [A-Za-z0-9_@%+=:,./-]" },
  );

/** Input of {@link lineInFile}. */
export type LineInFileInput = z.input<typeof LineInFileArgs>;

/** Normalized edit + write settings of a line task. */
export interface LineSpec {
  path: string;
  edit: LineEdit;
  create: boolean;
  owner: string;
  group: string;
  mode: string;
  validate?: string;
  sensitive: boolean;
}

/** Probe of a line-edited file: stat + full content (up to {@link EDIT_LIMIT}). */
export function lineProbe(path: string): string {
  const P = q(path);
  return [
    statProbe(path),
    `if [ -f ${P} ] && [ ! -L ${P} ]; then`,
    `  if [ "$(stat -c %s -- ${P})" -le ${EDIT_LIMIT} ]; then printf content_b64=; base64 -w0 < ${P}; echo`,
    `  else echo too_large=1; fi`,
    `fi`,
    END,
  ].join("\n");
}

/** What the line probe found: the path's stat and a regular file's text. */
export interface LineFileFact {
  stat: PathStat;
  /** The file's text (a regular file within {@link EDIT_LIMIT}). */
  content?: string;
  /** A regular file larger than {@link EDIT_LIMIT} (its content was not shipped). */
  tooLarge?: true;
}

/** Parse the line probe's output (throws on output it cannot read). */
export function parseLineFile(stdout: string): LineFileFact {
  const stat = parseStat(stdout);
  const f = parseKv(stdout);
  if (f.too_large) return { stat, tooLarge: true };
  if (!stat.exists || stat.type !== "file") return { stat };
  return { stat, content: b64Text(need(f, "content_b64")) };
}

/** The line fact of `path`. */
export function lineFileFact(path: string): Fact<LineFileFact> {
  return { sh: lineProbe(path), parse: parseLineFile };
}

/** Pure planner from the probe's raw output (throws on output it cannot read). */
export function planLine(s: LineSpec, facts: string): Plan {
  return planLineFact(s, parseLineFile(facts));
}

/** Pure planner: the change (if any) the edit makes to the file of the {@link LineFileFact}. */
export function planLineFact(s: LineSpec, fact: LineFileFact): Plan {
  const st = fact.stat;
  const what = s.edit.state === "present"
    ? `line ${JSON.stringify(s.edit.line)}`
    : "matching lines";
  let current: string;
  if (!st.exists) {
    if (s.edit.state === "absent") return ok(`${s.path} does not exist`);
    if (!s.create) return refuse(`${s.path} does not exist (create is false)`);
    current = "";
  } else {
    if (st.type !== "file") return refuse(`${s.path} is a ${st.type}, not a regular file`);
    if (fact.tooLarge) return refuse(`${s.path} is larger than ${EDIT_LIMIT} bytes`);
    if (fact.content === undefined) throw new FactsError("missing content_b64=");
    current = fact.content;
  }
  const r = editText(current, s.edit);
  if (!r.changed && st.exists) {
    return ok(`${s.path}: ${s.edit.state === "present" ? "line present" : "no matching line"}`);
  }
  const verb = !st.exists ? `create ${s.path} with` : s.edit.state === "present" ? "set" : "remove";
  const P = q(s.path);
  return {
    kind: "change",
    summary: `${verb} ${what}${!st.exists ? "" : ` in ${s.path}`}`,
    diff: s.sensitive ? HIDDEN : unifiedDiff(current, r.content, { path: s.path }),
    backup: `hp_save_path ${P}`,
    apply: lineEditApply(s.path, s.edit, s),
    restore: `hp_restore_path ${P}\nhp_rm_created`,
  };
}

/** Build a line task from a normalized spec (shared with sysctl-like primitives). */
export function lineTask(module: string, name: string, resource: string, s: LineSpec): Task {
  return {
    name,
    module,
    resource,
    probe: lineFileFact(s.path).sh,
    plan: planFrom(name, lineFileFact(s.path), (f) => planLineFact(s, f)),
  };
}

/** The line edit of validated lineInFile arguments. */
export function lineEditOf(a: z.output<typeof LineInFileArgs>): LineEdit {
  return { regexp: a.regexp, line: a.line ?? "", state: a.state, insertAfter: a.insertAfter };
}

/**
 * Ensure one line is in (or out of) a file.
 *
 * @example
 * lineInFile({ path: "/etc/default/keepalived", regexp: "^DAEMON_ARGS=",
 *              line: 'DAEMON_ARGS="-D"' })
 */
export function lineInFile(args: LineInFileInput): Task {
  const a = parseArgs("lineInFile", LineInFileArgs, args);
  const edit = lineEditOf(a);
  const key = a.regexp ?? a.line ?? "";
  const name = a.name ?? `lineInFile ${a.path} ${a.state === "present" ? a.line : "-" + key}`;
  return withCommon(
    lineTask("lineInFile", name, `line:${a.path}:${key}`, { ...a, edit }),
    a,
  );
}
