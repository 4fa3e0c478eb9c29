/**
 * Secret references in inventories, the same rules for every format:
 *
 * - YAML: the tags `!env NAME` and `!file PATH`.
 * - Any format (INI and JSON have no tags): a value that is exactly Ansible's lookup expression
 *   `{{ lookup('env', 'NAME') }}` or `{{ lookup('file', 'PATH') }}` (either quote style). It
 *   means the same in Ansible, so the file stays valid for both tools.
 * - Inline text under a secret-like key (`*password*`, `*_pass`, `*secret*`, `*token*`) is an
 *   error, whatever the format.
 *
 * `--list` prints a resolved secret as its lookup expression, so the output shows no secret and
 * loads back to the same values.
 * @module
 */

import { isSecretLikeKey } from "./secrets.ts";
import type { YNode } from "./yaml_pos.ts";

/** sudo password variables: only a reference (or nothing) is accepted. */
export const BECOME_PASSWORD_VARS = new Set(["ansible_become_password", "haplay_become_password"]);

/** The rule an inline secret breaks, worded for the file's format. */
export function secretRefRule(file: string): string {
  const yaml = /\.ya?ml$/i.test(file);
  const refs = yaml
    ? "!env NAME or !file PATH"
    : "{{ lookup('env', 'NAME') }} or {{ lookup('file', 'PATH') }}";
  return `must be a secret reference (${refs}), not inline text`;
}

/** An inline value under a secret-like key: a non-empty string, or a number for `*pass`-like. */
export function isInlineSecret(key: string, v: unknown): boolean {
  if (!isSecretLikeKey(key)) return false;
  if (typeof v === "string") return v !== "";
  return typeof v === "number" && /(password|pass|secret|token)$/i.test(key);
}

/** What a `!env` or `!file` reference takes, for messages. */
export function refArg(tag: string): string {
  return tag === "!env" ? "variable name" : "path";
}

/** A secret reference: where the value comes from. */
export interface SecretRef {
  /** Environment variable or file. */
  kind: "env" | "file";
  /** The variable name or path, as written. */
  arg: string;
}

const LOOKUP_RE = /^\{\{-?\s*lookup\(\s*(['"])(env|file)\1\s*,\s*(['"])([^'"]*)\3\s*\)\s*-?\}\}$/;

/** The reference an Ansible lookup expression names, if `text` is exactly one. */
export function lookupRef(text: string): SecretRef | undefined {
  const m = LOOKUP_RE.exec(text.trim());
  return m ? { kind: m[2] as SecretRef["kind"], arg: m[4] } : undefined;
}

/** The lookup expression for a reference: how `--list` shows a secret. */
export function lookupText(ref: SecretRef): string {
  return `{{ lookup('${ref.kind}', '${ref.arg}') }}`;
}

/** The reference a node holds: a `!env`/`!file` scalar, or a lookup string. */
export function secretRefOf(node: YNode): SecretRef | undefined {
  if (node.kind !== "scalar") return undefined;
  if (node.tag === "!env" || node.tag === "!file") {
    return { kind: node.tag === "!env" ? "env" : "file", arg: node.source };
  }
  if (!node.tag && typeof node.value === "string") return lookupRef(node.value);
  return undefined;
}

/** A node as plain JS with each secret reference shown as its lookup expression. */
export function shownValue(node: YNode): unknown {
  const ref = secretRefOf(node);
  if (ref) return lookupText(ref);
  switch (node.kind) {
    case "scalar":
      return node.tag === "!unsafe" ? node.source : node.value;
    case "seq":
      return node.items.map(shownValue);
    case "map":
      return Object.fromEntries(node.entries.map((e) => [e.key, shownValue(e.value)]));
  }
}
