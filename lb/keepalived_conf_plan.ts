/**
 * The keepalived.conf task's plan in words: the live file (its auth_pass values redacted on the
 * host: no secret travels) and the new content are compared with {@link semanticDiff}, and the
 * words go above the text diff. A rewrite that changes only the form (same parsed tree, same
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

/** The heading of the words in a plan's diff. */
export const WORDS_HEADING = "keepalived.conf in words:";

function sha256(text: string): string {
  return createHash("sha256").update(new TextEncoder().encode(text)).digest("hex");
}

/**
 * Probe lines `ka_live_b64=` (the redacted live file) and `ka_secrets=` (sha256 of its auth_pass
 * values), only when the file is a regular file whose sha256 differs from `sha` (the file probe
 * before it leaves the live hash in `_hp_h`).
 */
function liveProbe(path: string, sha: string): string {
  const P = q(path);
  return [
    `if [ -f ${P} ] && [ ! -L ${P} ] && [ "\${_hp_h%% *}" != ${sha} ] && [ "$(stat -c %s -- ${P})" -le ${CONTENT_LIMIT} ]; then`,
    `  printf ka_live_b64=; sed -E ${q(REDACT_SED)} ${P} | base64 -w0; echo`,
    `  printf ka_secrets=; sed -nE ${q(SECRETS_SED)} ${P} | sha256sum | cut -d' ' -f1`,
    `fi`,
    `echo ka_end=1`,
  ].join("\n");
}

/** The words for a live text against new content; `same` when nothing keepalived reads changes. */
export function confWords(
  liveRedacted: string,
  liveSecretsSha: string,
  content: string,
  opts: SemanticDiffOptions = {},
): { same: boolean; lines: string[] } {
  const d = semanticDiff(liveRedacted, redactSecrets(content), opts);
  const secretsChanged = liveSecretsSha !== sha256(secretValues(content));
  if (!secretsChanged) return d;
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
  const sha = createHash("sha256").update(new TextEncoder().encode(content)).digest("hex");
  return {
    ...task,
    probe: `${task.probe}\n${liveProbe(path, sha)}`,
    plan: (facts: string): Plan => {
      const p = task.plan(facts);
      if (p.kind !== "change") return p;
      let f: Record<string, string>;
      let live: string;
      try {
        f = parseKv(facts);
        if (f.ka_live_b64 === undefined || f.ka_secrets === undefined) return p;
        live = b64Text(f.ka_live_b64);
      } catch {
        return p;
      }
      const w = confWords(live, f.ka_secrets, content, opts);
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
