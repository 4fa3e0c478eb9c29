/**
 * Positioned problems of a YAML playbook: a collector, zod issues turned into located plain
 * words, and "did you mean".
 * @module
 */
import type { z } from "zod";
import type { Issue } from "./inventory.ts";
import { joinPath, type Loc, locate, toPlain, type YNode } from "./yaml_pos.ts";
import { editDistance } from "./distance.ts";

/** Collects errors of one file. */
export class Problems {
  /** Every error so far. */
  readonly issues: Issue[] = [];

  /** @param file the file, as the user named it */
  constructor(readonly file: string) {}

  /** Records an error. */
  add(loc: Loc, path: string, message: string): void {
    this.issues.push({
      file: this.file,
      line: loc.line,
      col: loc.col,
      path,
      message,
      severity: "error",
    });
  }

  /** The errors in file order. */
  sorted(): Issue[] {
    return [...this.issues].sort((a, b) => a.line - b.line || a.col - b.col);
  }

  /**
   * Records zod issues of `node` (validated as `plain`), each at the deepest node its path
   * reaches, with the full dotted path. `argNames` serve "did you mean" for unknown keys.
   */
  addZod(
    node: YNode,
    path: string,
    issues: readonly z.core.$ZodIssue[],
    what: string,
    argNames: readonly string[] = [],
  ): void {
    for (const i of issues) {
      const at = locate(node, i.path as PropertyKey[]);
      const p = (i.path as PropertyKey[]).reduce<string>(
        (acc, s) => joinPath(acc, typeof s === "number" ? s : String(s)),
        path,
      );
      if (i.code === "unrecognized_keys") {
        for (const k of i.keys) {
          const e = at.node.kind === "map" ? at.node.entries.find((x) => x.key === k) : undefined;
          this.add(
            e?.keyLoc ?? at.node.loc,
            joinPath(p, k),
            `unknown argument '${k}' of ${what}${hint(k, argNames)}`,
          );
        }
        continue;
      }
      const reached = at.depth === i.path.length;
      const missing = !reached && (i.code === "invalid_type" || i.code === "invalid_union");
      const value = reached ? toPlain(at.node) : undefined;
      this.add(at.node.loc, p, missing ? "is required" : describeIssue(i, value));
    }
  }
}

/** "a list", "'text'", 300, ... for "got ...". */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `'${v.length > 40 ? v.slice(0, 40) + "..." : v}'`;
  return String(v);
}

const TYPE_WORDS: Record<string, string> = {
  string: "a text",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
};

/** One zod issue in plain words. */
export function describeIssue(i: z.core.$ZodIssue, value: unknown): string {
  switch (i.code) {
    case "invalid_type":
      if (value === undefined) return "is required";
      return `must be ${TYPE_WORDS[i.expected] ?? i.expected}, got ${describe(value)}`;
    case "invalid_value":
      return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}, got ${
        describe(value)
      }`;
    case "invalid_union":
      return `invalid value ${describe(value)}`;
    default: {
      const m = i.message;
      return m.charAt(0).toLowerCase() + m.slice(1);
    }
  }
}

/** The closest candidate within 3 edits (and less than half the word), if any. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best !== undefined && bestD <= Math.min(3, Math.ceil(word.length / 2))) return best;
  // a shortened name: vrrp_prio for vrrp_priority
  const w = word.toLowerCase();
  return w.length >= 4 ? candidates.find((c) => c.toLowerCase().startsWith(w)) : undefined;
}

/** " (did you mean 'x'?)" or "". */
export function hint(word: string, candidates: readonly string[]): string {
  const n = nearest(word, candidates);
  return n ? ` (did you mean '${n}'?)` : "";
}

/** Ansible keys haplay does not take, with what to do instead. */
export const ANSIBLE_ONLY: Readonly<Record<string, string>> = {
  become: "set ansible_become (or haplay_become) in the inventory",
  become_user: "haplay runs tasks as root; set ansible_become in the inventory",
  gather_facts: "haplay gathers no facts: each task's probe reads its own resource; remove it",
  vars: "put variables in the inventory (group_vars/, host_vars/) or in a role's vars:",
  vars_files: "put variables in the inventory (group_vars/, host_vars/)",
  loop: "write one task per item",
  with_items: "write one task per item",
  register: "haplay decides from probes before anything runs: there is nothing to register",
  changed_when: "haplay decides 'changed' from the probe: use command's creates/unless/onlyIf",
  ignore_errors: "a failed task stops the host and its run is rolled back with deno task rollback",
  include_tasks: "list the tasks in the play, or use a role",
  import_tasks: "list the tasks in the play, or use a role",
  import_playbook: "list the plays in one file",
};

/** "unknown key 'x' ... " with Ansible's keys explained. */
export function ansibleOnly(key: string): string | undefined {
  const why = ANSIBLE_ONLY[key];
  return why ? `'${key}' is not supported: ${why}` : undefined;
}
