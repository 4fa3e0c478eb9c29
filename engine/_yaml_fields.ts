/**
 * Fields shared by tasks and roles of a YAML playbook: `name`, `notify`, `tags` and `when`,
 * read from positioned YAML with their errors recorded.
 * @module
 */
import type { Problems } from "./_yaml_issues.ts";
import { describe } from "./_yaml_issues.ts";
import { evalWhen, parseWhen, WhenEvalError, type WhenExpr, WhenSyntaxError } from "./_when.ts";
import type { HostContext } from "./types.ts";
import { joinPath, type Loc, toPlain, type YNode, type YScalar } from "./yaml_pos.ts";

/** Reads a text; records an error and returns undefined otherwise. */
export function text(p: Problems, node: YNode, path: string): string | undefined {
  if (node.kind === "scalar" && typeof node.value === "string" && node.value !== "") {
    return node.value;
  }
  p.add(node.loc, path, `must be a text, got ${describe(toPlain(node))}`);
  return undefined;
}

/** Reads one name or a list of names (`notify: x` or `notify: [x, y]`), with their positions. */
export function names(
  p: Problems,
  node: YNode,
  path: string,
): Array<{ name: string; loc: Loc; path: string }> {
  const items = node.kind === "seq" ? node.items : [node];
  const out: Array<{ name: string; loc: Loc; path: string }> = [];
  items.forEach((it, i) => {
    const ip = node.kind === "seq" ? joinPath(path, i) : path;
    const v = text(p, it, ip);
    if (v !== undefined) out.push({ name: v, loc: it.loc, path: ip });
  });
  return out;
}

/** A parsed `when:` with where it was written, for errors found while evaluating it. */
export interface When {
  /** Every condition must hold (a list is an "and", as in Ansible). */
  exprs: WhenExpr[];
  /** `file:line:col path` of the `when:` value. */
  where: string;
}

/** The variables a condition sees: the host's, plus `inventory_hostname` and `group_names`. */
export function whenVars(h: HostContext): Record<string, unknown> {
  return {
    inventory_hostname: h.name,
    group_names: h.groups.filter((g) => g !== "all"),
    ...h.vars,
  };
}

/** Column of the first character of a scalar's text (after an opening quote). */
function textCol(src: string, s: YScalar): number {
  const line = src.split("\n")[s.loc.line - 1] ?? "";
  const ch = line[s.loc.col - 1];
  return s.loc.col + (ch === "'" || ch === '"' ? 1 : 0);
}

/** Reads `when:` (a condition, a list of them, or true/false); records syntax errors. */
export function when(p: Problems, src: string, node: YNode, path: string): When | undefined {
  const items = node.kind === "seq" ? node.items : [node];
  const exprs: WhenExpr[] = [];
  let bad = false;
  items.forEach((it, i) => {
    const ip = node.kind === "seq" ? joinPath(path, i) : path;
    if (it.kind === "scalar" && typeof it.value === "boolean") {
      exprs.push({ op: "lit", value: it.value });
      return;
    }
    if (it.kind !== "scalar" || typeof it.value !== "string" || it.value.trim() === "") {
      p.add(it.loc, ip, `must be a condition (text) or true/false, got ${describe(toPlain(it))}`);
      bad = true;
      return;
    }
    if (/\{\{|\}\}/.test(it.value)) {
      p.add(it.loc, ip, "write the condition without {{ }} (it is an expression already)");
      bad = true;
      return;
    }
    try {
      exprs.push(parseWhen(it.value));
    } catch (e) {
      if (!(e instanceof WhenSyntaxError)) throw e;
      const singleLine = !it.value.includes("\n");
      const loc = singleLine ? { line: it.loc.line, col: textCol(src, it) + e.offset } : it.loc;
      p.add(loc, ip, `bad condition: ${e.message}`);
      bad = true;
    }
  });
  if (bad) return undefined;
  return { exprs, where: `${p.file}:${node.loc.line}:${node.loc.col} ${path}` };
}

/** True when every condition holds on the host; throws a positioned error otherwise. */
export function holds(w: When | undefined, h: HostContext): boolean {
  if (!w) return true;
  const vars = whenVars(h);
  try {
    return w.exprs.every((e) => evalWhen(e, vars));
  } catch (e) {
    if (e instanceof WhenEvalError) throw new Error(`${w.where}: ${e.message}`);
    throw e;
  }
}
