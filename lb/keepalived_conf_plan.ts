/**
 * The keepalived.conf task's plan in words: the live file (its auth_pass values redacted on the
 * host: no secret travels) and the new content are compared with {@link semanticDiff}, and the
 * words go above the text diff. Whether the passwords changed is decided on the host: the probe
 * carries a salted hash of the new values and prints only whether the live ones hash the same
 * (no hash of a password comes back, where an 8-character one could be searched for). A rewrite that changes only the form (same parsed tree, same
 * secrets) still writes the file but notifies no handler: keepalived is not reloaded.
 * @module
 */
import { createHash } from "node:crypto";
import type { Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { b64Text, parseKv } from "../tasks/_facts.ts";
import { CONTENT_LIMIT } from "../tasks/_sh.ts";
import {
  CANONICAL_ONLY,
  REDACT_SED,
  redactSecrets,
  SECRETS_SED,
  secretValues,
  semanticDiff,
  type SemanticDiffOptions,
} from "./keepalived_diff.ts";

/**
 * The salt of the probe's password hash: random per controller process (a hash seen in one run
 * says nothing in another), the same for every task of the process, so building a host's tasks
 * twice (the YAML playbook loader and the TypeScript API) gives equal tasks.
 */
const SALT = crypto.randomUUID();

/** The heading of the words in a plan's diff. */
export const WORDS_HEADING = "keepalived.conf in words:";

function sha256(text: string): string {
  return createHash("sha256").update(new TextEncoder().encode(text)).digest("hex");
}

/** sha256 hex of the salt followed by the auth_pass values of a text (as the probe computes it). */
export function secretsHash(salt: string, text: string): string {
  return sha256(salt + secretValues(text));
}

/**
 * Probe lines `ka_live_b64=` (the redacted live file) and `ka_secrets_same=1|0` (whether the live
 * auth_pass values hash to `secrets` with `salt`), only when the file is a regular file whose
 * sha256 differs from `sha` (the file probe before it leaves the live hash in `_hp_h`).
 */
export function liveProbe(path: string, sha: string, salt: string, secrets: string): string {
  const P = q(path);
  return [
    `if [ -f ${P} ] && [ ! -L ${P} ] && [ "\${_hp_h%% *}" != ${sha} ] && [ "$(stat -c %s -- ${P})" -le ${CONTENT_LIMIT} ]; then`,
    `  printf ka_live_b64=; sed -E ${q(REDACT_SED)} ${P} | base64 -w0; echo`,
    `  _ks=$( { printf %s ${q(salt)}; sed -nE ${
      q(SECRETS_SED)
    } ${P}; } | sha256sum | cut -d' ' -f1)`,
    `  if [ "$_ks" = ${secrets} ]; then echo ka_secrets_same=1; else echo ka_secrets_same=0; fi`,
    `fi`,
    `echo ka_end=1`,
  ].join("\n");
}

/** The words for a live text against new content; `same` when nothing keepalived reads changes. */
export function confWords(
  liveRedacted: string,
  secretsSame: boolean,
  content: string,
  opts: SemanticDiffOptions = {},
): { same: boolean; lines: string[] } {
  const d = semanticDiff(liveRedacted, redactSecrets(content), opts);
  if (secretsSame) return d;
  const lines = d.lines.filter((l) => l !== CANONICAL_ONLY);
  return { same: false, lines: [...lines, "auth_pass changed (hidden)"] };
}

/**
 * Wraps the keepalived.conf file task: its probe also reads the redacted live file when it
 * differs, and its plan puts the semantic words above the diff; a formatting-only change
 * notifies nothing (`notify: []`, also on rollback).
 */
export function semanticConf(task: Task, content: string, opts: SemanticDiffOptions = {}): Task {
  const path = task.resource.replace(/^file:/, "");
  const salt = SALT;
  return {
    ...task,
    probe: `${task.probe}\n${liveProbe(path, sha256(content), salt, secretsHash(salt, content))}`,
    plan: (facts: string): Plan => {
      const p = task.plan(facts);
      if (p.kind !== "change") return p;
      let f: Record<string, string>;
      let live: string;
      try {
        f = parseKv(facts);
        if (f.ka_live_b64 === undefined || f.ka_secrets_same === undefined) return p;
        live = b64Text(f.ka_live_b64);
      } catch {
        return p;
      }
      const w = confWords(live, f.ka_secrets_same === "1", content, opts);
      if (!w.lines.length) return p;
      const words = [WORDS_HEADING, ...w.lines.map((l) => `  ${l}`)].join("\n") + "\n";
      const diff = words + (p.diff ?? "");
      if (!w.same) return { ...p, diff };
      return {
        ...p,
        summary: `${p.summary} (${CANONICAL_ONLY}: no reload)`,
        diff,
        notify: [],
        restoreNotify: [],
      };
    },
  };
}
