/**
 * Positions of values inside hosts' merged vars: {@link positionOf} for one path (lint and the
 * roles use it), {@link checkHostVars} for a zod schema's issues.
 * @module
 */

import type { z } from "zod";
import { redactor as defaultRedactor } from "./secrets.ts";
import { joinPath, locate } from "./yaml_pos.ts";
import {
  describeIssue,
  formatIssue,
  type Issue,
  subSchema,
  valueAt,
} from "./_inventory_diagnostics.ts";
import {
  type Inventory,
  type InventoryHost,
  type SourcePos,
  varDefsOf,
} from "./_inventory_model.ts";

/**
 * Validates hosts' merged vars against a zod object schema. Each zod issue is mapped back to
 * where the offending value was defined (the nested node when the path goes inside a value; the
 * host's entry for a missing key) with a plain-words message. Unknown keys are ignored; the same
 * issue found through several hosts (a group var) is reported once.
 */
export function checkHostVars(
  inv: Inventory,
  hostNames: string[],
  schema: z.ZodType,
  opts: { only?: string[] } = {},
): Issue[] {
  const out: Issue[] = [];
  const seen = new Set<string>();
  for (const name of hostNames) {
    const host = inv.hosts.get(name);
    if (!host) {
      push(out, seen, {
        file: inv.file,
        line: 1,
        col: 1,
        path: name,
        message: "no such host in the inventory",
      });
      continue;
    }
    const input = opts.only
      ? Object.fromEntries(opts.only.filter((k) => k in host.vars).map((k) => [k, host.vars[k]]))
      : host.vars;
    const r = schema.safeParse(input);
    if (r.success) continue;
    for (const issue of r.error.issues) {
      if (issue.code === "unrecognized_keys") continue;
      const value = valueAt(input, issue.path);
      const message = defaultRedactor.redact(
        describeIssue(issue, value, subSchema(schema, issue.path)),
      );
      const where = issuePos(inv, host, issue.path, input);
      push(out, seen, { ...where, message });
    }
  }
  return out;
}

function push(out: Issue[], seen: Set<string>, i: Omit<Issue, "severity">): void {
  const issue: Issue = { ...i, severity: "error" };
  const key = formatIssue(issue);
  if (seen.has(key)) return;
  seen.add(key);
  out.push(issue);
}

/**
 * Where the value at `path` inside a host's merged vars was written: the node itself when it
 * exists, the deepest existing parent when a nested key is missing, the host's own entry when
 * the top-level key is missing. `path` is a list of keys and indices (`["haplay_lb",
 * "vrrp_instances", 0, "virtual_router_id"]`) or a dotted string (`haplay_lb.mode`). An unknown
 * host gives line 1 of the inventory file.
 */
export function positionOf(
  inv: Inventory,
  host: string | InventoryHost,
  path: readonly PropertyKey[] | string,
): SourcePos {
  const segs = typeof path === "string" ? (path === "" ? [] : path.split(".")) : path;
  const h = typeof host === "string" ? inv.hosts.get(host) : host;
  if (!h) {
    const name = typeof host === "string" ? host : host.name;
    return { file: inv.file, line: 1, col: 1, path: segs.reduce<string>(joinSeg, name) };
  }
  return issuePos(inv, h, segs, h.vars);
}

function joinSeg(base: string, s: PropertyKey): string {
  return joinPath(base, typeof s === "number" ? s : String(s));
}

function issuePos(
  inv: Inventory,
  host: InventoryHost,
  path: readonly PropertyKey[],
  input: unknown,
): SourcePos {
  const segs = path.map((s) => (typeof s === "number" ? s : String(s)));
  const full = (base: string, ss: (string | number)[]) => ss.reduce<string>(joinPath, base);
  const hostPos = host.source ?? { file: inv.file, line: 1, col: 1, path: host.name };
  const [key, ...rest] = segs;
  if (key === undefined) return { ...hostPos };
  const src = host.varSources[key];
  if (!src || valueAt(input, [key]) === undefined) {
    return { ...hostPos, path: full(hostPos.path, segs) };
  }
  const def = varDefsOf(host)?.get(String(key));
  if (!def) return { ...src, path: full(src.path, rest) };
  // The deepest node that exists: the value itself, or the parent of a missing nested key.
  const at = locate(def.node, rest);
  return {
    file: def.file,
    line: at.node.loc.line,
    col: at.node.loc.col,
    path: full(def.path, rest),
  };
}
