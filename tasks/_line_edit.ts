/**
 * The line edit behind `lineInFile` and `sysctl`, implemented twice with the same semantics:
 * in TypeScript (for `plan`: check mode and diffs, from probed content) and in awk (for
 * `apply`: re-run on the host's content at apply time, so that several tasks editing one
 * file in the same run compose instead of overwriting each other).
 *
 * Semantics (Ansible's lineinfile): `present` with `regexp` replaces the LAST matching line;
 * with no match (or no regexp) and `line` not already present, inserts `line` after the last
 * line matching `insertAfter` (or at EOF if none matches). `absent` removes every line
 * matching `regexp` (or equal to `line` without regexp). A written file always ends with "\n".
 * @module
 */
import { q } from "../engine/shell.ts";
import { matcher } from "./_regex.ts";

/** One line edit. Regexes must pass {@link portableRegexProblem}. */
export interface LineEdit {
  /** Portable regex selecting the line to replace/remove. */
  regexp?: string;
  /** The full line (no newline). */
  line: string;
  /** Ensure the line is there, or that no matching line is. */
  state: "present" | "absent";
  /** "EOF" or a portable regex: insert after its last match. */
  insertAfter: string;
}

/** Lines of a text as awk sees them (no terminators; a final "\n" ends the last line). */
export function textLines(content: string): string[] {
  if (content === "") return [];
  return (content.endsWith("\n") ? content.slice(0, -1) : content).split("\n");
}

/** Apply an edit to lines; returns the new lines (a new array). */
export function editLines(lines: string[], e: LineEdit): string[] {
  const re = e.regexp === undefined ? undefined : matcher(e.regexp);
  const hit = (l: string) => (re ? re(l) : l === e.line);
  if (e.state === "absent") return lines.filter((l) => !hit(l));
  let m = -1;
  if (re) lines.forEach((l, i) => re(l) && (m = i));
  if (m >= 0) return lines.map((l, i) => (i === m ? e.line : l));
  if (lines.includes(e.line)) return [...lines];
  let pos = lines.length;
  if (e.insertAfter !== "EOF") {
    const after = matcher(e.insertAfter);
    lines.forEach((l, i) => after(l) && (pos = i + 1));
  }
  return [...lines.slice(0, pos), e.line, ...lines.slice(pos)];
}

/** Content after the edit, and whether any line changed. */
export function editText(content: string, e: LineEdit): { content: string; changed: boolean } {
  const before = textLines(content);
  const after = editLines(before, e);
  const changed = after.length !== before.length || after.some((l, i) => l !== before[i]);
  return { content: after.length ? after.join("\n") + "\n" : "", changed };
}

/** The awk program: same algorithm as {@link editLines}; parameters come from ENVIRON. */
export const AWK_EDIT = `{ L[NR] = $0 }
END {
  n = NR; re = ENVIRON["HP_RE"]; line = ENVIRON["HP_LINE"]
  st = ENVIRON["HP_STATE"]; af = ENVIRON["HP_AFTER"]
  if (st == "absent") {
    for (i = 1; i <= n; i++) {
      if (re != "") { if (L[i] ~ re) continue } else if (L[i] == line) continue
      print L[i]
    }
    exit
  }
  m = 0
  if (re != "") for (i = 1; i <= n; i++) if (L[i] ~ re) m = i
  if (m > 0) { for (i = 1; i <= n; i++) print (i == m ? line : L[i]); exit }
  for (i = 1; i <= n; i++) if (L[i] == line) { for (j = 1; j <= n; j++) print L[j]; exit }
  pos = n
  if (af != "EOF") for (i = 1; i <= n; i++) if (L[i] ~ af) pos = i
  for (i = 1; i <= pos; i++) print L[i]
  print line
  for (i = pos + 1; i <= n; i++) print L[i]
}`;

/** sh running the awk edit: reads stdin, writes the edited lines to stdout. */
export function awkEditCmd(e: LineEdit): string {
  return `HP_RE=${q(e.regexp ?? "")} HP_LINE=${q(e.line)} HP_STATE=${e.state} ` +
    `HP_AFTER=${q(e.insertAfter)} awk ${q(AWK_EDIT)}`;
}

/** How a line-edited file is written when it has to be created. */
export interface EditWrite {
  /** Create the file (and parents) when missing; otherwise fail. */
  create: boolean;
  owner: string;
  group: string;
  mode: string;
  /** Command with %s run on the new content before it lands. */
  validate?: string;
}

/**
 * sh (for `apply`) performing the edit on the host's current content: existing files keep
 * owner/group/mode; the file is rewritten atomically (hp_put_file) only if a line changed.
 */
export function lineEditApply(path: string, e: LineEdit, w: EditWrite): string {
  const P = q(path);
  const missing = e.state === "absent"
    ? ":"
    : w.create
    ? `hp_mkparents ${P}; _own=${q(w.owner)}; _grp=${q(w.group)}; _mode=${
      q(w.mode)
    }; _src=/dev/null`
    : `hp_fail ${q(`${path} does not exist`)}`;
  const put = `hp_put_file ${P} "$_new" "$_own" "$_grp" "$_mode"` +
    (w.validate ? ` ${q(w.validate)}` : "");
  return [
    `_src=`,
    `if [ -e ${P} ] || [ -L ${P} ]; then`,
    `  if [ -L ${P} ] || [ ! -f ${P} ]; then hp_fail ${q(`${path} is not a regular file`)}; fi`,
    `  _own=$(stat -c %u -- ${P}); _grp=$(stat -c %g -- ${P}); _mode=$(stat -c %a -- ${P}); _src=${P}`,
    `else`,
    `  ${missing}`,
    `fi`,
    `if [ -n "$_src" ]; then`,
    `  _old=$(awk 1 < "$_src" | base64 -w0)`,
    `  _new=$(${awkEditCmd(e)} < "$_src" | base64 -w0)`,
    `  if [ "$_src" = /dev/null ] || [ "$_old" != "$_new" ]; then ${put}; fi`,
    `fi`,
  ].join("\n");
}
