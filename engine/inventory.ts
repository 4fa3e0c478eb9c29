/**
 * The inventory loader: Ansible's YAML inventory format, with `group_vars/` and `host_vars/`
 * beside the file, secrets by reference (`!env`, `!file`), and precise errors that point to
 * `file:line:col` and the dotted path of the offending node.
 *
 * Variable precedence (lowest first): `all`, then groups by depth (parents before children;
 * groups at the same depth in alphabetical order), then host vars. At each level the inline vars
 * come first and `group_vars/<group>` / `host_vars/<host>` files override them. Merging is
 * shallow: a top-level key replaces the whole value.
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { isSecretLikeKey, type Redactor, redactor as defaultRedactor } from "./secrets.ts";
import { resolveSecretRef, SecretRefError } from "./secrets.ts";
import {
  joinPath,
  type Loc,
  locate,
  parseYaml,
  toPlain,
  type YMap,
  type YNode,
} from "./yaml_pos.ts";

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

/** One problem found in an inventory. */
export interface Issue {
  /** File path. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
  /** Dotted path of the offending node ("" when there is none, e.g. a YAML syntax error). */
  path: string;
  /** Plain-words message: "must be 1..254, got 300". */
  message: string;
  /** Errors stop the load; warnings do not. */
  severity: "error" | "warning";
}

/** Formats an issue: `file:line:col path: message` (warnings say so after the path). */
export function formatIssue(i: Issue): string {
  const where = `${i.file}:${i.line}:${i.col}`;
  const msg = i.severity === "warning" ? `warning: ${i.message}` : i.message;
  return i.path === "" ? `${where}: ${msg}` : `${where} ${i.path}: ${msg}`;
}

/** Thrown by {@link loadInventory}: every issue found, errors and warnings, in file order. */
export class InventoryError extends Error {
  /** All issues; at least one is an error. */
  issues: Issue[];

  /**
   * Creates the error from its issues.
   * @param issues the issues; the message lists them, one per line
   */
  constructor(issues: Issue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "InventoryError";
    this.issues = issues;
  }
}

/** How to reach a host. */
export interface Connection {
  /** Address (ansible_host / haplay_host; default: the inventory name). */
  host: string;
  /** SSH port (default 22). */
  port: number;
  /** SSH user (default "root"). */
  user: string;
  /** Run as root through sudo (default: true unless user is root). */
  become: boolean;
  /** sudo password, resolved from a secret reference. */
  becomePassword?: string;
  /** Absolute path of the private key. */
  keyFile?: string;
  /** Absolute path of the known_hosts file. */
  knownHosts?: string;
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
}

// ---------------------------------------------------------------------------------------------
// Loader state

interface VarDef {
  value: unknown;
  node: YNode;
  file: string;
  path: string;
}

interface GroupRec {
  name: string;
  def?: SourcePos;
  hosts: string[];
  children: string[];
  childDefs: Map<string, SourcePos>;
  vars: Map<string, VarDef>;
  fileVars: Map<string, VarDef>;
}

interface HostRec {
  name: string;
  def: SourcePos;
  groups: string[];
  vars: Map<string, VarDef>;
  fileVars: Map<string, VarDef>;
}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;
const VAR_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const GROUP_KEYS = ["hosts", "children", "vars"];
const NAME_RULE = "use letters, digits, '_', '.' and '-'";

/** Positions of each host var's definition, for {@link checkHostVars}. */
const hostVarDefs = new WeakMap<InventoryHost, Map<string, VarDef>>();

const nullable = <T extends z.ZodType>(t: T) => t.nullable().optional();
const mapping = z.record(z.string(), z.unknown());
const GroupShape = z.strictObject({
  hosts: nullable(z.record(z.string(), mapping.nullable())),
  children: nullable(mapping),
  vars: nullable(mapping),
});

const port = z.number().int().min(1).max(65535);
const nonEmpty = z.string().min(1);
const CONNECTION_VARS: Record<string, z.ZodType> = {
  ansible_host: nonEmpty,
  haplay_host: nonEmpty,
  ansible_port: port,
  haplay_port: port,
  ansible_user: nonEmpty,
  haplay_user: nonEmpty,
  ansible_become: z.boolean(),
  haplay_become: z.boolean(),
  ansible_ssh_private_key_file: nonEmpty,
  haplay_ssh_key: nonEmpty,
  haplay_known_hosts: nonEmpty,
};
const KEY_FILE_VARS = new Set(["ansible_ssh_private_key_file", "haplay_ssh_key"]);
const BECOME_PASSWORD_VARS = new Set(["ansible_become_password", "haplay_become_password"]);
const SECRET_REF_RULE = "must be a secret reference (!env NAME or !file PATH), not inline text";

class Loader {
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

  /** Loads the top level of the inventory file. */
  async loadRoot(root: YNode): Promise<void> {
    if (root.kind !== "map") {
      this.error(
        this.file,
        root.loc,
        "",
        `an inventory must be a mapping of groups (all:, children:, hosts:), got ${
          describe(toPlain(root))
        }`,
      );
      return;
    }
    for (const e of root.entries) {
      await this.walkGroup(
        e.key,
        e.value,
        this.pos(e.keyLoc, e.key),
        e.key === "all" ? null : undefined,
      );
    }
  }

  pos(loc: Loc, path: string, file = this.file): SourcePos {
    return { file, line: loc.line, col: loc.col, path };
  }

  /** parent: a group name, undefined for a top-level group, null for `all` itself. */
  async walkGroup(name: string, node: YNode, def: SourcePos, parent: string | null | undefined) {
    const { path } = def;
    if (!NAME_RE.test(name)) {
      this.error(this.file, def, path, `invalid group name '${name}': ${NAME_RULE}`);
      return;
    }
    if (name === "all" && parent) {
      this.error(this.file, def, path, "'all' cannot be the child of another group");
      return;
    }
    const g = this.group(name, def);
    if (parent) this.addChild(parent, name, def);
    if (node.kind === "scalar" && node.value === null && !node.tag) return;
    if (node.kind !== "map") {
      const got = describe(toPlain(node));
      this.error(
        this.file,
        node.loc,
        path,
        `must be a mapping with hosts, children or vars, got ${got}`,
      );
      return;
    }
    this.checkGroupShape(node, path);
    for (const e of node.entries) {
      const p = joinPath(path, e.key);
      const v = e.value;
      if (e.key === "hosts" && v.kind === "map") await this.walkHosts(g, v, p);
      else if (e.key === "children" && v.kind === "map") {
        for (const c of v.entries) {
          await this.walkGroup(c.key, c.value, this.pos(c.keyLoc, joinPath(p, c.key)), name);
        }
      } else if (e.key === "vars" && v.kind === "map") await this.walkVars(v, this.file, p, g.vars);
    }
  }

  checkGroupShape(node: YMap, path: string): void {
    const r = GroupShape.safeParse(toPlain(node));
    if (r.success) return;
    for (const issue of r.error.issues) {
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          const e = node.entries.find((x) => x.key === key)!;
          this.error(this.file, e.keyLoc, joinPath(path, key), unknownGroupKey(key));
        }
        continue;
      }
      const at = locate(node, issue.path);
      const p = issue.path.reduce<string>((acc, s) => joinPath(acc, s as string), path);
      const input = toPlain(at.node);
      let msg = describeIssue(issue, input);
      const [section] = issue.path;
      if (issue.path.length === 1) {
        const what = { hosts: "host names", children: "group names", vars: "variables" }[
          section as string
        ];
        msg = msg.replace("must be a mapping", `must be a mapping of ${what}`);
        if (section === "hosts" && Array.isArray(input)) {
          msg += " (write 'lb1:' under hosts:, not '- lb1')";
        }
      } else if (section === "hosts") {
        msg = msg.replace("must be a mapping", "must be a mapping of host variables or empty");
        if (typeof input === "string") msg += ` (set the address with ansible_host: ${input})`;
      }
      this.error(this.file, at.node.loc, p, msg);
    }
  }

  async walkHosts(g: GroupRec, node: YMap, path: string): Promise<void> {
    for (const e of node.entries) {
      const p = joinPath(path, e.key);
      const names = expandHostRange(e.key);
      if (typeof names === "string") {
        this.error(this.file, e.keyLoc, p, names);
        continue;
      }
      for (const name of names) {
        if (name === "") {
          this.error(this.file, e.keyLoc, p, "empty host name");
          continue;
        }
        if (!NAME_RE.test(name)) {
          const hint = /[\s:/]/.test(name) ? " (set the address with ansible_host)" : "";
          this.error(this.file, e.keyLoc, p, `invalid host name '${name}': ${NAME_RULE}${hint}`);
          continue;
        }
        let h = this.hosts.get(name);
        if (!h) {
          h = {
            name,
            def: this.pos(e.keyLoc, joinPath(path, name)),
            groups: [],
            vars: new Map(),
            fileVars: new Map(),
          };
          this.hosts.set(name, h);
        }
        if (!h.groups.includes(g.name)) h.groups.push(g.name);
        if (!g.hosts.includes(name)) g.hosts.push(name);
        if (e.value.kind === "map") await this.walkVars(e.value, this.file, p, h.vars);
      }
    }
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
          `'${e.key}' is not a valid variable name (letters, digits and '_', not starting with a digit)`,
        );
      }
      const plain = toPlain(e.value);
      if (BECOME_PASSWORD_VARS.has(e.key) && !e.value.tag && !isInlineSecret(e.key, plain)) {
        // Not a reference and not caught as inline text below: a list, mapping or boolean.
        if (plain !== null) this.error(file, e.value.loc, p, SECRET_REF_RULE);
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
        if (!st.isFile) this.error(file, node.loc, path, `key file '${value}' is not a file`);
      } catch {
        this.error(file, node.loc, path, `key file '${value}' not found`);
      }
    }
  }

  get redactor(): Redactor {
    return this.opts.redactor ?? defaultRedactor;
  }

  /** Converts a node to plain JS, resolving `!env`/`!file` and refusing inline secrets. */
  async resolveValue(node: YNode, file: string, path: string, key?: string): Promise<unknown> {
    if (node.tag === "!env" || node.tag === "!file") {
      if (node.kind !== "scalar") {
        this.error(
          file,
          node.loc,
          path,
          `${node.tag} takes a ${refArg(node.tag)}, not ${describe(toPlain(node))}`,
        );
        return undefined;
      }
      const kind = node.tag === "!env" ? "env" : "file";
      try {
        const s = await resolveSecretRef(kind, node.source, {
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
        `unknown tag '${node.tag}': haplay knows !env NAME and !file PATH`,
      );
      return toPlain(node);
    }
    switch (node.kind) {
      case "scalar": {
        const v = node.tag === "!unsafe" ? node.source : node.value;
        if (key !== undefined && isInlineSecret(key, v)) {
          this.error(file, node.loc, path, SECRET_REF_RULE);
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

  /** Parses a YAML file, recording its problems; null when empty or unusable. */
  async parseFile(file: string): Promise<YNode | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      this.error(file, { line: 1, col: 1 }, "", `cannot read: ${(e as Error).message}`);
      return null;
    }
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

// ---------------------------------------------------------------------------------------------
// Public entry points

/**
 * Loads an inventory file. Throws {@link InventoryError} listing every issue found (syntax,
 * structure, connection vars, secrets) when there is at least one error.
 */
export async function loadInventory(file: string, opts: LoadOptions = {}): Promise<Inventory> {
  const dir = dirname(file);
  const L = new Loader(file, dir, opts);
  const root = await L.parseFile(file);
  if (root) await L.loadRoot(root);
  else if (L.issues.length === 0) {
    L.add("warning", file, { line: 1, col: 1 }, "", "inventory is empty");
  }
  // Ansible: groups without a parent are children of all.
  for (const name of L.groups.keys()) {
    if (name !== "all" && !L.parents.has(name)) {
      L.addChild("all", name, L.groups.get(name)!.def ?? L.pos({ line: 1, col: 1 }, name));
    }
  }
  await L.loadVarsDir("group_vars");
  await L.loadVarsDir("host_vars");
  const acyclic = L.checkCycles();
  const sorted = () => [...L.issues].sort(compareIssues);
  if (!acyclic || L.issues.some((i) => i.severity === "error")) throw new InventoryError(sorted());
  const inv = build(L);
  inv.warnings = sorted();
  return inv;
}

function compareIssues(a: Issue, b: Issue): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col;
}

/** Assembles the result: membership, precedence, merged vars, connections. */
function build(L: Loader): Inventory {
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
    for (const m of [g.vars, g.fileVars]) for (const [k, d] of m) vars[k] = d.value;
    groups.set(g.name, {
      name: g.name,
      hosts: order.filter((h) => g.name === "all" || members.has(h)),
      children: [...g.children],
      vars,
    });
  }
  return { file: L.file, dir: L.dir, hosts, groups };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function connectionOf(name: string, vars: Record<string, unknown>, dir: string): Connection {
  const pick = (ours: string, theirs: string): unknown => vars[ours] ?? vars[theirs] ?? undefined;
  const user = String(pick("haplay_user", "ansible_user") ?? "root");
  const become = pick("haplay_become", "ansible_become");
  const c: Connection = {
    host: String(pick("haplay_host", "ansible_host") ?? name),
    port: Number(pick("haplay_port", "ansible_port") ?? 22),
    user,
    become: typeof become === "boolean" ? become : user !== "root",
  };
  const pw = pick("haplay_become_password", "ansible_become_password");
  if (typeof pw === "string") c.becomePassword = pw;
  const key = pick("haplay_ssh_key", "ansible_ssh_private_key_file");
  if (typeof key === "string") c.keyFile = resolve(dir, key);
  const kh = vars["haplay_known_hosts"];
  if (typeof kh === "string") c.knownHosts = resolve(dir, kh);
  return c;
}

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
  const def = hostVarDefs.get(host)?.get(String(key));
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

// ---------------------------------------------------------------------------------------------
// Messages

/** Describes a value for "got ...": 'text', 300, true, a list, a mapping, nothing. */
function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `'${v}'`;
  return String(v);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur = input;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

const TYPE_NAMES: Record<string, string> = {
  record: "a mapping",
  object: "a mapping",
  map: "a mapping",
  array: "a list",
  tuple: "a list",
  set: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  bigint: "an integer",
  boolean: "true or false",
  null: "empty",
};

type ZIssue = z.core.$ZodIssue;

/** Plain-words message for a zod issue, given the offending value and (if known) its schema. */
function describeIssue(issue: ZIssue, value: unknown, schema?: z.ZodType): string {
  if (issue.code === "custom") return issue.message;
  if (value === undefined) return "required";
  const want = expectation(issue, value, schema);
  if (want === null) return issue.message;
  const sized = (issue.code === "too_big" || issue.code === "too_small") && Array.isArray(value);
  return `${want}, got ${sized ? plural(value.length, "item") : describe(value)}`;
}

/** "must be ..." for an issue, or null to fall back to zod's own message. */
function expectation(issue: ZIssue, value: unknown, schema?: z.ZodType): string | null {
  switch (issue.code) {
    case "invalid_type": {
      const exp = String(issue.expected);
      return `must be ${TYPE_NAMES[exp] ?? `a ${exp}`}`;
    }
    case "too_big":
    case "too_small":
      return sizeExpectation(issue, schema);
    case "invalid_value": {
      const vals = issue.values.map((v) => String(v));
      return vals.length === 1 ? `must be ${vals[0]}` : `must be one of ${vals.join(", ")}`;
    }
    case "invalid_format":
      return formatExpectation(issue.format, value, "pattern" in issue ? issue.pattern : undefined);
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    case "invalid_union": {
      const firsts = issue.errors.map((branch) => branch[0]).filter((b) => b !== undefined);
      if (
        firsts.length > 0 &&
        firsts.every((b) => b.code === "invalid_format" && /^ipv[46]$/.test(b.format))
      ) {
        return "must be an IP address";
      }
      const wants = [
        ...new Set(firsts.map((b) => expectation(b, value)).filter((w) => w !== null)),
      ];
      return wants.length > 0 ? wants.join(" or ") : null;
    }
    default:
      return null;
  }
}

function sizeExpectation(issue: ZIssue, schema?: z.ZodType): string | null {
  if (issue.code !== "too_big" && issue.code !== "too_small") return null;
  const big = issue.code === "too_big";
  const limit = Number(big ? issue.maximum : issue.minimum);
  const incl = issue.inclusive !== false;
  switch (issue.origin) {
    case "number":
    case "bigint": {
      const b = numberBounds(schema);
      if (b.min !== undefined && b.max !== undefined && b.minIncl && b.maxIncl) {
        return `must be ${b.min}..${b.max}`;
      }
      if (big) return incl ? `must be at most ${limit}` : `must be less than ${limit}`;
      return incl ? `must be at least ${limit}` : `must be greater than ${limit}`;
    }
    case "string":
      if (!big && limit === 1) return "must not be empty";
      return `must be at ${big ? "most" : "least"} ${limit} characters long`;
    case "array":
    case "set":
      if (!big && limit === 1) return "must not be empty";
      return `must have at ${big ? "most" : "least"} ${plural(limit, "item")}`;
    default:
      return null;
  }
}

function formatExpectation(format: string, value: unknown, pattern?: string): string {
  switch (format) {
    case "ipv4":
      return typeof value === "string" && value.includes(":")
        ? "must be an IPv4 address"
        : "must be an IP address";
    case "ipv6":
      return "must be an IPv6 address";
    case "cidrv4":
      return "must be an IPv4 network like 198.18.0.0/24";
    case "cidrv6":
      return "must be an IPv6 network like fd00::/64";
    case "regex":
      return `must match ${pattern}`;
    case "email":
      return "must be an email address";
    case "url":
      return "must be a URL";
    default:
      return `must be a valid ${format}`;
  }
}

interface Bounds {
  min?: number;
  max?: number;
  minIncl: boolean;
  maxIncl: boolean;
}

function numberBounds(schema?: z.ZodType): Bounds {
  const b: Bounds = { minIncl: true, maxIncl: true };
  const checks = (schema as unknown as { _zod?: { def?: { checks?: unknown[] } } })?._zod?.def
    ?.checks ?? [];
  for (const c of checks) {
    const d = (c as { _zod: { def: { check: string; value: unknown; inclusive?: boolean } } })._zod
      .def;
    if (d.check === "greater_than") {
      b.min = Number(d.value);
      b.minIncl = d.inclusive !== false;
    } else if (d.check === "less_than") {
      b.max = Number(d.value);
      b.maxIncl = d.inclusive !== false;
    }
  }
  return b;
}

/** The schema at `path` inside an object/array/record schema (wrappers unwrapped). */
function subSchema(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let cur: z.ZodType | undefined = unwrap(schema);
  for (const seg of path) {
    if (!cur) return undefined;
    // deno-lint-ignore no-explicit-any
    const def: any = (cur as any)._zod.def;
    if (def.type === "object") cur = def.shape[seg];
    else if (def.type === "array") cur = def.element;
    else if (def.type === "record") cur = def.valueType;
    else if (def.type === "tuple") cur = def.items[seg as number];
    else return undefined;
    cur = cur && unwrap(cur);
  }
  return cur;
}

const WRAPPERS = new Set([
  "optional",
  "nullable",
  "default",
  "prefault",
  "readonly",
  "catch",
  "nonoptional",
  "lazy",
]);

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let i = 0; i < 16; i++) {
    // deno-lint-ignore no-explicit-any
    const def: any = (cur as any)._zod.def;
    if (def.type === "pipe") cur = def.in;
    else if (def.type === "lazy") cur = def.getter();
    else if (WRAPPERS.has(def.type)) cur = def.innerType;
    else break;
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function refArg(tag: string): string {
  return tag === "!env" ? "variable name" : "path";
}

/** An inline value under a secret-like key: a non-empty string, or a number for `*pass`-like. */
function isInlineSecret(key: string, v: unknown): boolean {
  if (!isSecretLikeKey(key)) return false;
  if (typeof v === "string") return v !== "";
  return typeof v === "number" && /(password|pass|secret|token)$/i.test(key);
}

function unknownGroupKey(key: string): string {
  const near = GROUP_KEYS.find((k) => isNear(key.toLowerCase(), k));
  if (near) return `unknown key '${key}' (did you mean '${near}'?)`;
  return `unknown key '${key}': a group has only hosts, children and vars (put variables under vars:)`;
}

function isNear(a: string, b: string): boolean {
  if (a.length >= 3 && (b.startsWith(a) || a.startsWith(b))) return true;
  return levenshtein(a, b) <= 2;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Expands Ansible host ranges: `web[01:03]` → web01, web02, web03; `db-[a:c]` → db-a..db-c;
 * `[1:10:2]` steps. Returns the names, or an error message.
 */
function expandHostRange(name: string): string[] | string {
  const m = /^(.*?)\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\](.*)$/.exec(name);
  if (!m) return [name];
  const [, pre, from, to, stepText, rest] = m;
  const step = stepText ? Number(stepText) : 1;
  const numeric = /^\d+$/.test(from);
  if (numeric !== /^\d+$/.test(to) || step < 1) return `bad host range in '${name}'`;
  const a = numeric ? Number(from) : from.charCodeAt(0);
  const b = numeric ? Number(to) : to.charCodeAt(0);
  if (a > b) return `bad host range in '${name}': start is after end`;
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
