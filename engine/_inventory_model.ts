/**
 * The inventory model: hosts, groups and their variables as the front ends (YAML, INI, JSON)
 * declare them, the merge (precedence, membership, connections) and the positions of every
 * definition (which `_inventory_positions.ts` reads). Front ends call the {@link Loader}'s methods; the loader
 * checks names, connection variables and secrets the same way for every format.
 *
 * Variable precedence (lowest first): `all`, then groups by depth (parents before children;
 * groups at the same depth in alphabetical order), then host vars. At each level the inline vars
 * come first and `group_vars/<group>` / `host_vars/<host>` files override them. Merging is
 * shallow: a top-level key replaces the whole value.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import {
  asBool,
  type Connection,
  CONNECTION_VARS,
  connectionOf,
  KEY_FILE_VARS,
} from "./_inventory_connection.ts";
import type { z } from "zod";
import { type Redactor, redactor as defaultRedactor } from "./secrets.ts";
import { resolveSecretRef, SecretRefError } from "./secrets.ts";
import { joinPath, type Loc, parseYaml, toPlain, type YMap, type YNode } from "./yaml_pos.ts";
import { describe, describeIssue, type Issue, snippet } from "./_inventory_diagnostics.ts";
import {
  BECOME_PASSWORD_VARS,
  isInlineSecret,
  lookupText,
  refArg,
  secretRefOf,
  secretRefRule,
  shownValue,
} from "./_inventory_secrets.ts";
import { readInventoryText } from "./_inventory_format.ts";

/** Where a value was defined. */
export interface SourcePos {
  /** File path, as given to {@link loadInventory} (or beside it for group_vars/host_vars). */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
  /** Dotted path inside the file, e.g. "all.children.lvs.hosts.lb1.vrrp_priority". */
  path: string;
}

/** One host with its merged variables. */
export interface InventoryHost {
  /** Inventory name. */
  name: string;
  /** Merged variables, secrets resolved to plain strings (the redactor knows them). */
  vars: Record<string, unknown>;
  /** Groups, in precedence order: "all" first, then by depth and name; "ungrouped" if so. */
  groups: string[];
  /** Where each top-level variable's winning value was defined. */
  varSources: Record<string, SourcePos>;
  /** Connection settings derived from the vars. */
  connection: Connection;
  /** Where the host was first defined (its key under `hosts:`). */
  source?: SourcePos;
}

/** A group: its hosts (including through children), direct children and own vars. */
export interface InventoryGroup {
  /** Group name. */
  name: string;
  /** All hosts of the group, including those of its descendants, in inventory order. */
  hosts: string[];
  /** Direct child groups. */
  children: string[];
  /** The group's own vars (inline, then group_vars files), not inherited ones. */
  vars: Record<string, unknown>;
  /** Hosts listed in the group itself (not through children), in inventory order. */
  directHosts?: string[];
}

/** A loaded inventory. */
export interface Inventory {
  /** The inventory file, as given. */
  file: string;
  /** Its directory. */
  dir: string;
  /** Hosts in inventory order (first appearance). */
  hosts: Map<string, InventoryHost>;
  /** Groups: "all" first, then in order of first appearance, "ungrouped" included. */
  groups: Map<string, InventoryGroup>;
  /** Warnings found while loading (the load succeeded). */
  warnings?: Issue[];
}

/** Options for {@link loadInventory}. */
export interface LoadOptions {
  /** Environment for `!env` (default: the process environment). */
  env?: Record<string, string | undefined>;
  /** Redactor resolved secrets are registered with (default: the process-wide one). */
  redactor?: Redactor;
  /**
   * false: do not read secrets; each reference's value is its lookup expression
   * (`{{ lookup('env', 'NAME') }}`), for showing an inventory without its secrets at hand.
   * Default true.
   */
  resolveSecrets?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Loader state

export interface VarDef {
  value: unknown;
  node: YNode;
  file: string;
  path: string;
}

export interface GroupRec {
  name: string;
  def?: SourcePos;
  hosts: string[];
  children: string[];
  childDefs: Map<string, SourcePos>;
  vars: Map<string, VarDef>;
  fileVars: Map<string, VarDef>;
}

export interface HostRec {
  name: string;
  def: SourcePos;
  groups: string[];
  vars: Map<string, VarDef>;
  fileVars: Map<string, VarDef>;
}

export const NAME_RE = /^[A-Za-z0-9_.-]+$/;
const VAR_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const NAME_RULE = "use letters, digits, '_', '.' and '-'";

/** Positions of each host var's definition, for {@link varDefsOf}. */
const hostVarDefs = new WeakMap<InventoryHost, Map<string, VarDef>>();
/** Where each of a host's merged vars was defined (undefined for hosts not made by the loader). */
export function varDefsOf(host: InventoryHost): ReadonlyMap<string, VarDef> | undefined {
  return hostVarDefs.get(host);
}

/** Positions of each group's own var definitions, for {@link shownVars}. */
const groupVarDefs = new WeakMap<InventoryGroup, Map<string, VarDef>>();

/**
 * A host's or group's vars as written, for display: each secret shows as its lookup expression
 * (`{{ lookup('env', 'NAME') }}`) instead of its value. Objects not made by the loader are
 * returned as they are.
 */
export function shownVars(of: InventoryHost | InventoryGroup): Record<string, unknown> {
  const defs = "connection" in of ? hostVarDefs.get(of) : groupVarDefs.get(of);
  if (!defs) return { ...of.vars };
  const out: Record<string, unknown> = {};
  for (const [k, d] of defs) out[k] = d.value === undefined ? undefined : shownValue(d.node);
  return out;
}

/** Collects what a front end declares, with every problem found on the way. */
export class Loader {
  issues: Issue[] = [];
  groups = new Map<string, GroupRec>();
  hosts = new Map<string, HostRec>();
  parents = new Map<string, Set<string>>();

  constructor(readonly file: string, readonly dir: string, readonly opts: LoadOptions) {
    this.group("all");
  }

  add(severity: Issue["severity"], file: string, loc: Loc, path: string, message: string): void {
    this.issues.push({ file, line: loc.line, col: loc.col, path, message, severity });
  }

  error(file: string, loc: Loc, path: string, message: string): void {
    this.add("error", file, loc, path, message);
  }

  group(name: string, def?: SourcePos): GroupRec {
    let g = this.groups.get(name);
    if (!g) {
      g = {
        name,
        hosts: [],
        children: [],
        childDefs: new Map(),
        vars: new Map(),
        fileVars: new Map(),
      };
      this.groups.set(name, g);
    }
    g.def ??= def;
    return g;
  }

  pos(loc: Loc, path: string, file = this.file): SourcePos {
    return { file, line: loc.line, col: loc.col, path };
  }

  addChild(parent: string, child: string, def: SourcePos): void {
    const p = this.group(parent);
    if (!p.children.includes(child)) {
      p.children.push(child);
      p.childDefs.set(child, def);
    }
    let ps = this.parents.get(child);
    if (!ps) this.parents.set(child, ps = new Set());
    ps.add(parent);
  }

  /** Resolves and checks a vars mapping, storing each definition into `into`. */
  async walkVars(node: YMap, file: string, path: string, into: Map<string, VarDef>) {
    for (const e of node.entries) {
      const p = joinPath(path, e.key);
      if (!VAR_NAME_RE.test(e.key)) {
        this.add(
          "warning",
          file,
          e.keyLoc,
          p,
          `'${
            snippet(e.key)
          }' is not a valid variable name (letters, digits and '_', not starting with a digit)`,
        );
      }
      const plain = toPlain(e.value);
      if (
        BECOME_PASSWORD_VARS.has(e.key) && !secretRefOf(e.value) && !isInlineSecret(e.key, plain)
      ) {
        // Not a reference and not caught as inline text below: a list, mapping or boolean.
        if (plain !== null) this.error(file, e.value.loc, p, secretRefRule(file));
        into.set(e.key, { value: undefined, node: e.value, file, path: p });
        continue;
      }
      const value = await this.resolveValue(e.value, file, p, e.key);
      const schema = CONNECTION_VARS[e.key];
      if (schema && value !== null && value !== undefined) {
        await this.checkConnectionVar(e.key, value, e.value, file, p, schema);
      }
      into.set(e.key, { value, node: e.value, file, path: p });
    }
  }

  async checkConnectionVar(
    key: string,
    raw: unknown,
    node: YNode,
    file: string,
    path: string,
    schema: z.ZodType,
  ): Promise<void> {
    const value = typeof raw === "string" && /^\d+$/.test(raw) && key.endsWith("_port")
      ? Number(raw)
      : key.endsWith("_become")
      ? asBool(raw)
      : raw;
    const r = schema.safeParse(value);
    if (!r.success) {
      const msg = describeIssue(r.error.issues[0], value, schema);
      this.error(file, node.loc, path, this.redactor.redact(msg));
      return;
    }
    if (KEY_FILE_VARS.has(key) && typeof value === "string") {
      const full = isAbsolute(value) ? value : join(this.dir, value);
      try {
        const st = await Deno.stat(full);
        if (!st.isFile) {
          this.error(file, node.loc, path, `key file '${snippet(String(value))}' is not a file`);
        }
      } catch {
        this.error(file, node.loc, path, `key file '${snippet(String(value))}' not found`);
      }
    }
  }

  get redactor(): Redactor {
    return this.opts.redactor ?? defaultRedactor;
  }

  /** Converts a node to plain JS, resolving `!env`/`!file` and refusing inline secrets. */
  async resolveValue(node: YNode, file: string, path: string, key?: string): Promise<unknown> {
    const ref = secretRefOf(node);
    if (ref && this.opts.resolveSecrets === false) return lookupText(ref);
    if (ref) {
      try {
        const s = await resolveSecretRef(ref.kind, ref.arg, {
          env: this.opts.env,
          baseDir: this.dir,
          redactor: this.redactor,
        });
        return s.value;
      } catch (e) {
        if (!(e instanceof SecretRefError)) throw e;
        this.error(file, node.loc, path, e.message);
        return undefined;
      }
    }
    if ((node.tag === "!env" || node.tag === "!file") && node.kind !== "scalar") {
      this.error(
        file,
        node.loc,
        path,
        `${node.tag} takes a ${refArg(node.tag)}, not ${describe(toPlain(node))}`,
      );
      return undefined;
    }
    if (node.tag === "!vault") {
      this.error(
        file,
        node.loc,
        path,
        "Ansible Vault (!vault) is not supported: use !env NAME or !file PATH",
      );
      return undefined;
    }
    if (node.tag && node.tag !== "!unsafe") {
      this.error(
        file,
        node.loc,
        path,
        `unknown tag '${snippet(node.tag)}': haplay knows !env NAME and !file PATH`,
      );
      return toPlain(node);
    }
    switch (node.kind) {
      case "scalar": {
        const v = node.tag === "!unsafe" ? node.source : node.value;
        if (key !== undefined && isInlineSecret(key, v)) {
          this.error(file, node.loc, path, secretRefRule(file));
        }
        return v;
      }
      case "seq": {
        const out: unknown[] = [];
        for (const [i, it] of node.items.entries()) {
          out.push(await this.resolveValue(it, file, joinPath(path, i), key));
        }
        return out;
      }
      case "map": {
        const out: Record<string, unknown> = {};
        for (const e of node.entries) {
          out[e.key] = await this.resolveValue(e.value, file, joinPath(path, e.key), e.key);
        }
        return out;
      }
    }
  }

  /** Reads group_vars/ or host_vars/ beside the inventory file. */
  async loadVarsDir(kind: "group_vars" | "host_vars"): Promise<void> {
    const base = join(this.dir, kind);
    for (const { target, files } of await varsFiles(base)) {
      const known = kind === "group_vars" ? this.groups.get(target) : this.hosts.get(target);
      for (const rel of files) {
        const file = join(base, rel);
        const root = await this.parseFile(file);
        if (!root) continue;
        if (root.kind !== "map") {
          this.error(
            file,
            root.loc,
            "",
            `must be a mapping of variables, got ${describe(toPlain(root))}`,
          );
          continue;
        }
        if (!known) {
          const what = kind === "group_vars" ? "group" : "host";
          this.add(
            "warning",
            file,
            { line: 1, col: 1 },
            "",
            `no ${what} '${target}' in the inventory`,
          );
          await this.walkVars(root, file, "", new Map());
          continue;
        }
        await this.walkVars(root, file, "", known.fileVars);
      }
    }
  }

  /** Reads a file as text, recording why not (unreadable, binary); null then. */
  async readText(file: string): Promise<string | null> {
    const r = await readInventoryText(file);
    if (typeof r === "string") return r;
    this.error(file, r.loc, "", r.message);
    return null;
  }

  /** Parses a YAML file, recording its problems; null when empty or unusable. */
  async parseFile(file: string): Promise<YNode | null> {
    const text = await this.readText(file);
    if (text === null) return null;
    const { root, problems } = parseYaml(text);
    for (const p of problems) this.error(file, p.loc, p.path, p.message);
    return root;
  }

  /** Reports cycles in the children graph; true when there is none. */
  checkCycles(): boolean {
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    let ok = true;
    const visit = (name: string) => {
      state.set(name, "open");
      stack.push(name);
      for (const c of this.groups.get(name)?.children ?? []) {
        const s = state.get(c);
        if (s === "open") {
          ok = false;
          const cycle = [...stack.slice(stack.indexOf(c)), c].join(" -> ");
          const def = this.groups.get(name)!.childDefs.get(c)!;
          this.error(def.file, def, def.path, `group cycle: ${cycle}`);
        } else if (!s) visit(c);
      }
      stack.pop();
      state.set(name, "done");
    };
    for (const name of this.groups.keys()) if (!state.has(name)) visit(name);
    return ok;
  }
}
export function build(L: Loader): Inventory {
  const depth = new Map<string, number>();
  const depthOf = (g: string): number => {
    if (g === "all") return 0;
    let d = depth.get(g);
    if (d === undefined) {
      d = Math.max(0, ...[...(L.parents.get(g) ?? [])].map((p) => depthOf(p) + 1));
      depth.set(g, d);
    }
    return d;
  };
  const ancestors = (g: string, acc: Set<string>): Set<string> => {
    acc.add(g);
    for (const p of L.parents.get(g) ?? []) if (!acc.has(p)) ancestors(p, acc);
    return acc;
  };
  const ungrouped = L.group("ungrouped");
  if (!L.groups.get("all")!.children.includes("ungrouped")) {
    L.addChild("all", "ungrouped", L.pos({ line: 1, col: 1 }, "ungrouped"));
  }
  const hosts = new Map<string, InventoryHost>();
  for (const h of L.hosts.values()) {
    if (
      h.groups.every((g) => g === "all" || g === "ungrouped") && !ungrouped.hosts.includes(h.name)
    ) {
      ungrouped.hosts.push(h.name);
      h.groups.push("ungrouped");
    }
    const set = new Set<string>(["all"]);
    for (const g of h.groups) ancestors(g, set);
    const groups = [...set].sort((a, b) => depthOf(a) - depthOf(b) || cmp(a, b));
    const defs = new Map<string, VarDef>();
    for (const g of groups) {
      const rec = L.groups.get(g)!;
      for (const m of [rec.vars, rec.fileVars]) for (const [k, d] of m) defs.set(k, d);
    }
    for (const m of [h.vars, h.fileVars]) for (const [k, d] of m) defs.set(k, d);
    const vars: Record<string, unknown> = {};
    const varSources: Record<string, SourcePos> = {};
    for (const [k, d] of defs) {
      vars[k] = d.value;
      varSources[k] = { file: d.file, line: d.node.loc.line, col: d.node.loc.col, path: d.path };
    }
    const host: InventoryHost = {
      name: h.name,
      vars,
      groups,
      varSources,
      connection: connectionOf(h.name, vars, L.dir),
      source: h.def,
    };
    hostVarDefs.set(host, defs);
    hosts.set(h.name, host);
  }
  const order = [...L.hosts.keys()];
  const groups = new Map<string, InventoryGroup>();
  for (const g of L.groups.values()) {
    const members = new Set<string>();
    const collect = (name: string, seen: Set<string>) => {
      if (seen.has(name)) return;
      seen.add(name);
      const rec = L.groups.get(name)!;
      for (const h of rec.hosts) members.add(h);
      for (const c of rec.children) collect(c, seen);
    };
    collect(g.name, new Set());
    const vars: Record<string, unknown> = {};
    const defs = new Map<string, VarDef>();
    for (const m of [g.vars, g.fileVars]) {
      for (const [k, d] of m) {
        vars[k] = d.value;
        defs.set(k, d);
      }
    }
    const group: InventoryGroup = {
      name: g.name,
      hosts: order.filter((h) => g.name === "all" || members.has(h)),
      children: [...g.children],
      vars,
      directHosts: order.filter((h) => g.hosts.includes(h)),
    };
    groupVarDefs.set(group, defs);
    groups.set(g.name, group);
  }
  return { file: L.file, dir: L.dir, hosts, groups };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Expands Ansible host ranges: `web[01:03]` → web01, web02, web03; `db-[a:c]` → db-a..db-c;
 * `[1:10:2]` steps. Returns the names, or an error message.
 */
export function expandHostRange(name: string): string[] | string {
  const m = /^(.*?)\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\](.*)$/.exec(name);
  if (!m) return [name];
  const [, pre, from, to, stepText, rest] = m;
  const step = stepText ? Number(stepText) : 1;
  const numeric = /^\d+$/.test(from);
  if (numeric !== /^\d+$/.test(to) || step < 1) return `bad host range in '${snippet(name)}'`;
  const a = numeric ? Number(from) : from.charCodeAt(0);
  const b = numeric ? Number(to) : to.charCodeAt(0);
  if (a > b) return `bad host range in '${snippet(name)}': start is after end`;
  const tails = expandHostRange(rest);
  if (typeof tails === "string") return tails;
  const width = numeric && from.startsWith("0") ? from.length : 0;
  const out: string[] = [];
  for (let i = a; i <= b; i += step) {
    const mid = numeric ? String(i).padStart(width, "0") : String.fromCharCode(i);
    for (const t of tails) out.push(`${pre}${mid}${t}`);
  }
  return out;
}

/** Files of group_vars/ or host_vars/: `<name>.yaml|.yml`, or `<name>/*.yaml|.yml`. */
async function varsFiles(base: string): Promise<{ target: string; files: string[] }[]> {
  const out: { target: string; files: string[] }[] = [];
  const isYaml = (n: string) => /\.ya?ml$/.test(n) && !n.startsWith(".");
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(base)].sort((a, b) => cmp(a.name, b.name));
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.isFile && isYaml(e.name)) {
      out.push({ target: e.name.replace(/\.ya?ml$/, ""), files: [e.name] });
    } else if (e.isDirectory) {
      const files: string[] = [];
      for await (const f of Deno.readDir(join(base, e.name))) {
        if (f.isFile && isYaml(f.name)) files.push(join(e.name, f.name));
      }
      out.push({ target: e.name, files: files.sort(cmp) });
    }
  }
  return out;
}
