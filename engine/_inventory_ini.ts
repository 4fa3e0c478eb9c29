/**
 * The INI front end: Ansible's INI inventory (`hosts` files) turned into the positioned tree the
 * YAML front end walks, so both formats share every check and message.
 *
 * Read as ansible-core's `ini` plugin reads it: lines starting with `#` or `;` are comments;
 * hosts before the first section are `ungrouped`; `[g]` lists hosts (`name`, `name:port`,
 * ranges `web[01:20]`, `db-[a:c]`), each optionally followed by `key=value` pairs split like a
 * shell would (quotes, backslashes, `#` starts a comment); `[g:vars]` holds `key = value` lines
 * (the whole rest of the line is the value); `[g:children]` lists group names. Every value is
 * typed like Python's `ast.literal_eval` (see {@link pyLiteral}). As in Ansible, `[g:vars]` and
 * `[p:children]` may only name groups that a `[g]` or `[g:children]` section declares.
 * @module
 */

import type { Loc, YamlProblem, YEntry, YMap, YNode } from "./yaml_pos.ts";
import { joinPath } from "./yaml_pos.ts";
import { closest } from "./distance.ts";
import { snippet } from "./_inventory_diagnostics.ts";
import { pyLiteral } from "./_py_literal.ts";

/** Result of {@link iniToTree}. */
export interface IniTree {
  /** The inventory as a YAML-shaped tree (null when the file declares nothing). */
  tree: YMap | null;
  /** Problems of the INI syntax itself. */
  problems: YamlProblem[];
}

interface GroupAcc {
  keyLoc: Loc;
  hosts: YEntry[];
  children: YEntry[];
  vars: YEntry[];
  /** Where the group was declared by `[g]` or `[g:children]` (or as a child, pending). */
  declared: boolean;
}

const SECTION_RE = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME_RE = /^([^:\]\s]+)\s*(?:#.*)?$/;
const SECTION_KINDS = ["hosts", "vars", "children"];

/** Parses INI inventory text. Never throws. */
export function iniToTree(text: string): IniTree {
  const problems: YamlProblem[] = [];
  const groups = new Map<string, GroupAcc>();
  const pendingVars = new Map<string, { loc: Loc; header: string }>();
  const pendingChildren = new Map<string, { loc: Loc; parent: string }>();
  const acc = (name: string, loc: Loc): GroupAcc => {
    let g = groups.get(name);
    if (!g) {
      groups.set(name, g = { keyLoc: loc, hosts: [], children: [], vars: [], declared: false });
    }
    return g;
  };
  const declare = (name: string, loc: Loc) => {
    const g = acc(name, loc);
    g.declared = true;
    pendingVars.delete(name);
    pendingChildren.delete(name);
    return g;
  };
  let group = "ungrouped";
  let kind = "hosts";
  const lines = text.split(/\r?\n/);
  for (const [n, raw] of lines.entries()) {
    const line = n + 1;
    const indent = raw.length - raw.trimStart().length;
    const body = raw.trim();
    if (body === "" || body[0] === "#" || body[0] === ";") continue;
    const at = (col: number): Loc => ({ line, col });
    const sec = SECTION_RE.exec(body);
    if (sec) {
      const [, name, type] = sec;
      const loc = at(indent + 2);
      if (type !== undefined && !SECTION_KINDS.includes(type)) {
        const near = closest(type.toLowerCase(), SECTION_KINDS);
        const [n, t] = [snippet(name), snippet(type)];
        const hint = near ? ` (did you mean [${n}:${near}]?)` : "";
        problems.push({
          loc: at(indent + 3 + name.length),
          path: name,
          message: `section [${n}:${t}] has unknown type '${t}': ` +
            `use [${n}], [${n}:vars] or [${n}:children]${hint}`,
        });
        group = name;
        kind = "skip";
        continue;
      }
      group = name;
      kind = type ?? "hosts";
      if (kind === "vars") {
        const g = acc(name, loc);
        if (!g.declared && name !== "all" && name !== "ungrouped" && !pendingVars.has(name)) {
          pendingVars.set(name, { loc, header: `[${snippet(name)}:vars]` });
        }
      } else declare(name, loc);
      continue;
    }
    if (body.startsWith("[")) {
      problems.push({
        loc: at(indent + 1),
        path: "",
        message: `invalid section header '${snippet(body)}': write [group], [group:vars] or ` +
          `[group:children], with no spaces`,
      });
      kind = "skip";
      continue;
    }
    if (kind === "skip") continue;
    if (kind === "vars") {
      const eq = body.indexOf("=");
      if (eq < 0) {
        problems.push({
          loc: at(indent + 1),
          path: joinPath(group, "vars"),
          message: `expected key=value in [${snippet(group)}:vars], got '${snippet(body)}'`,
        });
        continue;
      }
      const key = body.slice(0, eq).trim();
      const valueText = body.slice(eq + 1).trim();
      const valueCol = indent + 1 + eq + 1 + (body.slice(eq + 1).length -
        body.slice(eq + 1).trimStart().length);
      acc(group, at(indent + 1)).vars.push({
        key,
        keyLoc: at(indent + 1),
        value: valueNode(valueText, at(valueCol)),
      });
      continue;
    }
    if (kind === "children") {
      const m = GROUP_NAME_RE.exec(body);
      if (!m) {
        problems.push({
          loc: at(indent + 1),
          path: joinPath(group, "children"),
          message: `expected a group name in [${snippet(group)}:children], got '${snippet(body)}'`,
        });
        continue;
      }
      const child = m[1];
      const loc = at(indent + 1);
      acc(group, loc).children.push({ key: child, keyLoc: loc, value: nullAt(loc) });
      const c = acc(child, loc);
      if (!c.declared && !pendingChildren.has(child)) {
        pendingChildren.set(child, { loc, parent: group });
      }
      continue;
    }
    hostLine(raw, line, group, acc(group, at(indent + 1)), problems);
  }
  for (const [name, p] of pendingVars) {
    if (pendingChildren.has(name)) continue;
    const n = snippet(name);
    problems.push({
      loc: p.loc,
      path: name,
      message: `section ${p.header} is for group '${n}', which no [${n}] or [${n}:children] ` +
        `section defines`,
    });
  }
  for (const [name, p] of pendingChildren) {
    const n = snippet(name);
    problems.push({
      loc: p.loc,
      path: joinPath(joinPath(p.parent, "children"), name),
      message: `[${snippet(p.parent)}:children] names group '${n}', which no [${n}] or ` +
        `[${n}:children] section defines`,
    });
  }
  if (groups.size === 0) return { tree: null, problems };
  const entries: YEntry[] = [];
  for (const [name, g] of groups) {
    const parts: YEntry[] = [];
    const section = (key: string, items: YEntry[]) => {
      if (items.length > 0) {
        parts.push({ key, keyLoc: items[0].keyLoc, value: mapAt(items[0].keyLoc, items) });
      }
    };
    section("hosts", g.hosts);
    section("children", g.children);
    section("vars", g.vars);
    entries.push({ key: name, keyLoc: g.keyLoc, value: mapAt(g.keyLoc, parts) });
  }
  return { tree: mapAt({ line: 1, col: 1 }, entries), problems };
}

/** One host line: `name[:port] [key=value ...]`. */
function hostLine(raw: string, line: number, group: string, g: GroupAcc, problems: YamlProblem[]) {
  const where = joinPath(group, "hosts");
  const r = shellSplit(raw);
  if (typeof r === "object" && "error" in r) {
    problems.push({ loc: { line, col: r.col }, path: where, message: r.error });
    return;
  }
  const tokens = r as Token[];
  if (tokens.length === 0) return;
  const [first, ...rest] = tokens;
  const hostLoc: Loc = { line, col: first.col };
  let name = first.text;
  const vars: YEntry[] = [];
  const port = /^([^:]+):([0-9]+)$/.exec(name);
  if (port) {
    name = port[1];
    const loc: Loc = { line, col: first.col + name.length + 1 };
    vars.push({ key: "ansible_port", keyLoc: loc, value: scalar(Number(port[2]), port[2], loc) });
  } else if (name.endsWith(":")) {
    problems.push({
      loc: hostLoc,
      path: joinPath(where, name),
      message: `invalid host '${snippet(name)}': a ':' after the name must be followed by a port`,
    });
    return;
  }
  for (const t of rest) {
    const eq = t.text.indexOf("=");
    if (eq <= 0) {
      problems.push({
        loc: { line, col: t.col },
        path: joinPath(where, name),
        message: `expected key=value after host '${snippet(name)}', got '${snippet(t.text)}'`,
      });
      continue;
    }
    const key = t.text.slice(0, eq);
    const valueLoc: Loc = { line, col: t.valueCol ?? t.col + eq + 1 };
    vars.push({
      key,
      keyLoc: { line, col: t.col },
      value: valueNode(t.text.slice(eq + 1), valueLoc),
    });
  }
  g.hosts.push({
    key: name,
    keyLoc: hostLoc,
    value: vars.length > 0 ? mapAt(hostLoc, vars) : nullAt(hostLoc),
  });
}

interface Token {
  text: string;
  /** 1-based column where the token starts. */
  col: number;
  /** 1-based column just after the token's first unquoted '='. */
  valueCol?: number;
}

/**
 * Splits a line like Python's `shlex.split(line, comments=True)`: blanks separate words, `'...'`
 * is literal, `"..."` honours only `\"` and `\\`, a backslash outside quotes escapes the next
 * character, and an unquoted `#` ends the line (even inside a word).
 */
function shellSplit(line: string): Token[] | { error: string; col: number } {
  const out: Token[] = [];
  let cur: Token | null = null;
  let i = 0;
  const start = () => cur ??= { text: "", col: i + 1 };
  while (i < line.length) {
    const c = line[i];
    if (c === " " || c === "\t") {
      if (cur) out.push(cur);
      cur = null;
      i++;
    } else if (c === "#") break;
    else if (c === "'" || c === '"') {
      const tok = start();
      const open = i;
      i++;
      for (;;) {
        if (i >= line.length) {
          return {
            error: `unclosed ${c} quote: opened at column ${open + 1}, the line ends at column ${
              line.length + 1
            } without closing it`,
            col: open + 1,
          };
        }
        const d = line[i];
        if (d === c) {
          i++;
          break;
        }
        if (c === '"' && d === "\\" && i + 1 < line.length && '"\\'.includes(line[i + 1])) {
          tok.text += line[i + 1];
          i += 2;
          continue;
        }
        tok.text += d;
        i++;
      }
    } else if (c === "\\") {
      const tok = start();
      if (i + 1 >= line.length) {
        return { error: "a '\\' ends the line: nothing to escape", col: i + 1 };
      }
      tok.text += line[i + 1];
      i += 2;
    } else {
      const tok = start();
      if (c === "=" && tok.valueCol === undefined) tok.valueCol = i + 2;
      tok.text += c;
      i++;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** A value's node: Python-literal typing, structures expanded with the value's position. */
function valueNode(text: string, loc: Loc): YNode {
  return toNode(pyLiteral(text), text, loc);
}

function toNode(v: unknown, source: string, loc: Loc): YNode {
  if (Array.isArray(v)) return { kind: "seq", loc, items: v.map((x) => toNode(x, String(x), loc)) };
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v).map(([key, x]) => ({
      key,
      keyLoc: loc,
      value: toNode(x, String(x), loc),
    }));
    return mapAt(loc, entries);
  }
  return scalar(v, typeof v === "string" ? v : source, loc);
}

function scalar(value: unknown, source: string, loc: Loc): YNode {
  return { kind: "scalar", loc, value, source };
}

function nullAt(loc: Loc): YNode {
  return { kind: "scalar", loc, value: null, source: "" };
}

function mapAt(loc: Loc, entries: YEntry[]): YMap {
  return { kind: "map", loc, entries };
}
