/**
 * Roles of a YAML play: `- keepalived` or `- role: keepalived` with `vars:`, `tags:`, `when:`.
 *
 * A role's `vars:` are checked key by key against the role's own schema at load time, then
 * override the inventory's variables of every host for that role's tasks, its peers included
 * (roles read their peers' variables, e.g. the load balancers of a real server's VIP).
 * @module
 */
import { ROLE_NAMES, type RoleDef, ROLES } from "../roles/_registry.ts";
import { holds } from "./_yaml_fields.ts";
import { commonFields } from "./_yaml_tasks.ts";
import { describe, hint, type Problems } from "./_yaml_issues.ts";
import type { Handler, HostContext, Task } from "./types.ts";
import { joinPath, type Loc, toPlain, type YNode } from "./yaml_pos.ts";

type HostMap = HostContext["all"];
type HostEntry = HostMap extends ReadonlyMap<string, infer V> ? V : never;

/** One use of a role in a play. */
export interface RoleUse {
  /** The role. */
  def: RoleDef;
  /** Its `vars:` (empty when none). */
  vars: Record<string, unknown>;
  /** The host as the role sees it: the `vars:` applied to it and to its peers. */
  view(h: HostContext): HostContext;
  /** The role's tasks of a host (none when `when` is false there). */
  tasks(h: HostContext): Task[];
  /** The role's handlers of a host. */
  handlers(h: HostContext): Handler[];
}

const ROLE_KEYS = ["role", "name", "vars", "tags", "when"];

/** Overlays `vars` on every host of a map, once per map. */
function overlay(vars: Record<string, unknown>) {
  const memo = new WeakMap<HostMap, Map<string, HostEntry>>();
  return (all: HostMap): Map<string, HostEntry> => {
    let m = memo.get(all);
    if (!m) {
      m = new Map([...all].map(([n, h]) => [n, { ...h, vars: { ...h.vars, ...vars } }]));
      memo.set(all, m);
    }
    return m;
  };
}

function zodText(
  issues: readonly { path: PropertyKey[]; message: string; code?: string }[],
): string {
  return issues.slice(0, 5).map((i) => {
    const what = i.code === "invalid_type" && /received undefined/.test(i.message)
      ? "is required"
      : i.message;
    return `${i.path.map(String).join(".") || "(vars)"}: ${what}`;
  }).join("; ");
}

/** Reads one entry of `roles:`; undefined when it has errors (recorded). */
export function parseRole(
  p: Problems,
  src: string,
  node: YNode,
  path: string,
): RoleUse | undefined {
  let nameNode: YNode | undefined;
  let varsNode: YNode | undefined;
  let c: ReturnType<typeof commonFields> | undefined;
  const before = p.issues.length;
  if (node.kind === "scalar") nameNode = node;
  else if (node.kind === "map") {
    for (const e of node.entries) {
      if (!ROLE_KEYS.includes(e.key)) {
        p.add(
          e.keyLoc,
          joinPath(path, e.key),
          `unknown key '${e.key}' of a role${hint(e.key, ROLE_KEYS)}`,
        );
      }
    }
    // `- role: x` (or Ansible's older `- name: x`)
    nameNode = (node.entries.find((e) => e.key === "role") ??
      node.entries.find((e) => e.key === "name"))?.value;
    varsNode = node.entries.find((e) => e.key === "vars")?.value;
    const fields = { ...node, entries: node.entries.filter((e) => e.key !== "name") };
    c = commonFields(p, src, fields, path);
    if (!nameNode) {
      p.add(
        node.loc,
        joinPath(path, "role"),
        `role: NAME is required (roles: ${ROLE_NAMES.join(", ")})`,
      );
      return undefined;
    }
  } else {
    p.add(node.loc, path, `a role must be a name or a mapping with role:, got a list`);
    return undefined;
  }
  const namePath = node.kind !== "map"
    ? path
    : joinPath(path, node.entries.some((e) => e.key === "role") ? "role" : "name");
  if (nameNode.kind !== "scalar" || typeof nameNode.value !== "string") {
    p.add(nameNode.loc, namePath, `must be a role name, got ${describe(toPlain(nameNode))}`);
    return undefined;
  }
  const def = ROLES.get(nameNode.value);
  if (!def) {
    p.add(
      nameNode.loc,
      namePath,
      `unknown role '${nameNode.value}'${hint(nameNode.value, ROLE_NAMES)} (roles: ${
        ROLE_NAMES.join(", ")
      })`,
    );
    return undefined;
  }
  const vars = readVars(p, def, varsNode, joinPath(path, "vars"));
  if (p.issues.length > before || !vars) return undefined;
  const tags = c?.tags ?? [];
  const cond = c?.when;
  const where: Loc = nameNode.loc;
  const hasVars = Object.keys(vars).length > 0;
  const all = overlay(vars);
  const view = (h: HostContext): HostContext => {
    if (!hasVars) return h;
    const m = all(h.all);
    return {
      name: h.name,
      groups: h.groups,
      vars: m.get(h.name)?.vars ?? { ...h.vars, ...vars },
      all: m,
    };
  };
  const checked = (h: HostContext): HostContext => {
    const v = view(h);
    if (hasVars) {
      const r = def.vars.safeParse(v.vars);
      if (!r.success) {
        throw new Error(
          `${p.file}:${where.line}:${where.col} ${namePath}: role ${def.name}: ${
            zodText(r.error.issues as never)
          }`,
        );
      }
    }
    return v;
  };
  return {
    def,
    vars,
    view,
    tasks(h) {
      const v = checked(h);
      if (!holds(cond, v)) return [];
      let ts: Task[];
      try {
        ts = def.tasks(v);
      } catch (e) {
        const raw = (e as Error).message;
        const msg = raw.startsWith(`${h.name}: `) ? raw.slice(h.name.length + 2) : raw;
        throw new Error(
          `${p.file}:${where.line}:${where.col} ${namePath}: role ${def.name}: ${msg}`,
        );
      }
      return tags.length
        ? ts.map((t) => ({ ...t, tags: [...new Set([...(t.tags ?? []), ...tags])] }))
        : ts;
    },
    handlers: (h) => def.handlers(view(h)),
  };
}

/** Checks a role's `vars:` key by key against its schema. */
function readVars(
  p: Problems,
  def: RoleDef,
  node: YNode | undefined,
  path: string,
): Record<string, unknown> | undefined {
  if (!node || (node.kind === "scalar" && node.value === null)) return {};
  if (node.kind !== "map") {
    p.add(node.loc, path, `must be a mapping of variables, got ${describe(toPlain(node))}`);
    return undefined;
  }
  const shape = def.vars.shape as Record<
    string,
    { safeParse(v: unknown): { success: boolean; error?: { issues: never[] } } }
  >;
  const known = Object.keys(shape);
  for (const e of node.entries) {
    const s = shape[e.key];
    if (!s) {
      p.add(
        e.keyLoc,
        joinPath(path, e.key),
        `unknown variable '${e.key}' of role ${def.name}${hint(e.key, known)} (its variables: ${
          known.join(", ")
        })`,
      );
      continue;
    }
    const r = s.safeParse(toPlain(e.value));
    if (!r.success) p.addZod(e.value, joinPath(path, e.key), r.error!.issues, `role ${def.name}`);
  }
  return toPlain(node) as Record<string, unknown>;
}
