/**
 * `file`: a regular file with exact content, owner, group and mode.
 *
 * Probe: `hp_stat` + base64 content (≤ 256 KiB, for diffs). Plan compares the sha256 of the
 * desired content with the file's, then owner/group/mode. Apply writes atomically with
 * `hp_put_file` (temp file in the same directory, `validate` on it, rename); an owner/mode-only
 * change is a chown/chmod. Backup is `hp_save_path`; restore `hp_restore_path` + `hp_rm_created`.
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { b64, q, unb64 } from "../engine/shell.ts";
import { absPath, common, fileMode, parseArgs, principal, withCommon } from "./_args.ts";
import { unifiedDiff } from "./_diff.ts";
import { isText, parseKv } from "./_facts.ts";
import { planFrom } from "./_fact_plan.ts";
import { FactsError, ok, refuse } from "./_plan.ts";
import { parseStat, type PathStat } from "./_stat_fact.ts";
import { contentProbe, END, PLAIN_DIR, statProbe } from "./_sh.ts";

/** Diff text shown instead of the content of sensitive files. */
export const HIDDEN = "content hidden (sensitive)";

/** Arguments of {@link file}. */
export const FileArgs = z.object({
  ...common,
  /** Absolute path of the file. */
  path: absPath,
  /** Desired content: text (UTF-8) or bytes. */
  content: z.union([z.string(), z.instanceof(Uint8Array)]),
  owner: principal.default("root"),
  group: principal.default("root"),
  mode: fileMode.default("0644"),
  /** Command run on the new content before it replaces the file; `%s` is its temp path. */
  validate: z.string().includes("%s", { message: "must contain %s" }).optional(),
  /** Hide content from diffs (passwords, keys). */
  sensitive: z.boolean().default(false),
}).strict().refine(
  (a) => !a.validate || PLAIN_DIR.test(a.path.slice(0, a.path.lastIndexOf("/")) || "/"),
  { message: "with validate, the parent directory may only contain [A-Za-z0-9_@%+=:,./-]" },
);

/** Input of {@link file}. */
export type FileInput = z.input<typeof FileArgs>;

/** Normalized arguments: what {@link planFile} works from. */
export interface FileSpec {
  path: string;
  bytes: Uint8Array;
  owner: string;
  group: string;
  mode: string;
  validate?: string;
  sensitive: boolean;
}

/** sha256 hex of bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** True when a desired owner/group (name or numeric id) matches the probed name and id. */
export function samePrincipal(want: string, name: string | undefined, id: string | undefined) {
  return /^[0-9]+$/.test(want) ? want === id : want === name;
}

/**
 * Probe of a file path (stat, uid/gid, content). With `want` (the desired file): the content
 * only when its hash differs (for the diff), and never for a sensitive file (its diff is hidden:
 * the old secret does not travel either).
 */
export function fileProbe(path: string, want?: FileSpec): string {
  const content = !want
    ? contentProbe(path)
    : want.sensitive
    ? ""
    : contentProbe(path, undefined, sha256(want.bytes));
  return [`_hp_h=`, statProbe(path), content, END].filter(Boolean).join("\n");
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** The diff shown for a content change. */
export function contentDiff(s: FileSpec, oldB64: string | undefined, oldSha: string): string {
  if (s.sensitive) return HIDDEN;
  const old = oldB64 === undefined ? undefined : unb64(oldB64);
  if (old === undefined) {
    return `content differs (sha256 ${oldSha} → ${sha256(s.bytes)}; too large to diff)`;
  }
  if (!isText(old) || !isText(s.bytes)) {
    return `binary content differs (sha256 ${oldSha} → ${sha256(s.bytes)})`;
  }
  return unifiedDiff(decode(old), decode(s.bytes), { path: s.path });
}

/** What the file probe found: the path's stat and, when shipped, the old content (base64). */
export interface FileFact {
  stat: PathStat;
  /** The file's current bytes, base64; only when they differ and are small enough to diff. */
  content_b64?: string;
}

/** Parse the file probe's output (throws on output it cannot read). */
export function parseFileFact(stdout: string): FileFact {
  const stat = parseStat(stdout);
  const content = parseKv(stdout).content_b64;
  return content === undefined ? { stat } : { stat, content_b64: content };
}

/** The file fact of `path` (see {@link fileProbe} for what `want` changes). */
export function fileFact(path: string, want?: FileSpec): Fact<FileFact> {
  return { sh: fileProbe(path, want), parse: parseFileFact };
}

/** Pure planner of a file from its probe output (throws on output it cannot read). */
export function planFile(s: FileSpec, facts: string): Plan {
  return planFileFact(s, parseFileFact(facts));
}

/** Pure planner of a file from its {@link FileFact}. */
export function planFileFact(s: FileSpec, fact: FileFact): Plan {
  const st = fact.stat;
  const P = q(s.path);
  const want = `${s.mode} ${s.owner}:${s.group}`;
  const backup = `hp_save_path ${P}`;
  const restore = `hp_restore_path ${P}\nhp_rm_created`;
  const write =
    `hp_mkparents ${P}\nhp_put_file ${P} ${q(b64(s.bytes))} ${q(s.owner)} ${q(s.group)} ` +
    `${s.mode}${s.validate ? " " + q(s.validate) : ""}`;
  if (!st.exists) {
    const diff = s.sensitive
      ? HIDDEN
      : isText(s.bytes)
      ? unifiedDiff("", decode(s.bytes), { path: s.path })
      : `binary content (${s.bytes.length} bytes, sha256 ${sha256(s.bytes)})`;
    return {
      kind: "change",
      summary: `create ${s.path} (${want})`,
      diff,
      backup,
      apply: write,
      restore,
    };
  }
  if (st.type !== "file") {
    return refuse(
      `${s.path} is a ${
        st.type === "link" ? "symlink" : st.type
      }, not a regular file; remove it first`,
    );
  }
  if (st.sha256 === undefined) throw new FactsError("missing sha256=");
  if (st.mode === undefined) throw new FactsError("missing mode=");
  const sha = st.sha256;
  const mode = parseInt(st.mode, 8);
  const ownerOk = samePrincipal(s.owner, st.owner, st.uid);
  const groupOk = samePrincipal(s.group, st.group, st.gid);
  const modeOk = mode === parseInt(s.mode, 8);
  const attrs: string[] = [];
  if (!ownerOk || !groupOk) attrs.push(`owner ${st.owner}:${st.group} → ${s.owner}:${s.group}`);
  if (!modeOk) attrs.push(`mode ${mode.toString(8).padStart(4, "0")} → ${s.mode}`);
  if (sha !== sha256(s.bytes)) {
    return {
      kind: "change",
      summary: `update ${s.path}` + (attrs.length ? ` (${attrs.join(", ")})` : ""),
      diff: contentDiff(s, fact.content_b64, sha),
      backup,
      apply: write,
      restore,
    };
  }
  if (!attrs.length) return ok(`${s.path}: content, owner and mode match`);
  const apply = [
    !ownerOk || !groupOk ? `chown ${q(`${s.owner}:${s.group}`)} -- ${P}` : "",
    `chmod ${s.mode} -- ${P}`, // after chown, which may clear setuid bits
  ].filter(Boolean).join("\n");
  return { kind: "change", summary: `set ${s.path} ${attrs.join(", ")}`, backup, apply, restore };
}

/** The {@link FileSpec} of validated file arguments. */
export function fileSpec(a: z.output<typeof FileArgs>): FileSpec {
  return {
    path: a.path,
    bytes: typeof a.content === "string" ? new TextEncoder().encode(a.content) : a.content,
    owner: a.owner,
    group: a.group,
    mode: a.mode,
    validate: a.validate,
    sensitive: a.sensitive,
  };
}

/** Build a file-like task (shared by file, template, sudoers). */
export function fileTask(module: string, a: z.output<typeof FileArgs>): Task {
  const spec = fileSpec(a);
  const fact = fileFact(a.path, spec);
  return withCommon({
    name: a.name ?? `${module} ${a.path}`,
    module,
    resource: `file:${a.path}`,
    probe: fact.sh,
    plan: planFrom(`${module} ${a.path}`, fact, (f) => planFileFact(spec, f)),
  }, a);
}

/**
 * A regular file with exact content, owner, group and mode.
 *
 * @example
 * file({ path: "/etc/keepalived/keepalived.conf", content: conf, mode: "0640",
 *        validate: "keepalived -t -f %s", notify: ["reload keepalived"] })
 */
export function file(args: FileInput): Task {
  return fileTask("file", parseArgs("file", FileArgs, args));
}
