/**
 * The JSON front end: the output of `ansible-inventory --list` (and of dynamic inventory
 * scripts), turned into the positioned tree the YAML front end walks.
 *
 * Shape: `{"_meta": {"hostvars": {HOST: {VAR: ...}}}, GROUP: {"hosts": [...], "children":
 * [...], "vars": {...}}}`, a group may also be a plain list of hosts. `hostvars` become host
 * vars (with `--list` they are already merged, which loads to the same result); hosts keep the
 * order of `hostvars`, then of first appearance.
 * @module
 */

import type { Loc, YamlProblem, YEntry, YMap, YNode } from "./yaml_pos.ts";
import { joinPath, toPlain } from "./yaml_pos.ts";
import { describe, snippet } from "./_inventory_diagnostics.ts";
import type { HostRec, Loader } from "./_inventory_model.ts";

/** Result of {@link jsonToTree}. */
export interface JsonTree {
  /** The inventory as a YAML-shaped tree, or null when the shape is wrong at the top. */
  tree: YMap | null;
  /** Shape problems. */
  problems: YamlProblem[];
  /** Puts the hosts in `hostvars` order once the tree is walked. */
  after: (L: Loader) => void;
}

const GROUP_KEYS = ["hosts", "children", "vars"];

/** Converts a parsed `ansible-inventory --list` document. Never throws. */
export function jsonToTree(root: YNode): JsonTree {
  const problems: YamlProblem[] = [];
  const order: string[] = [];
  /** Where each host's vars were placed in the tree → where they are in the JSON. */
  const moved = new Map<string, string>();
  const after = (L: Loader) => {
    reorderHosts(L, order);
    renamePaths(L, moved);
  };
  const fail = (loc: Loc, path: string, message: string) => problems.push({ loc, path, message });
  if (root.kind !== "map") {
    fail(root.loc, "", `must be an object of groups and _meta, got ${describe(toPlain(root))}`);
    return { tree: null, problems, after };
  }
  const hostvars = new Map<string, YNode>();
  for (const e of root.entries.filter((x) => x.key === "_meta")) {
    const hv = e.value.kind === "map" ? e.value.entries.find((x) => x.key === "hostvars") : null;
    if (e.value.kind !== "map" || (hv && hv.value.kind !== "map")) {
      fail(e.value.loc, "_meta", "must be an object with hostvars: {HOST: {VAR: value}}");
      continue;
    }
    if (!hv || hv.value.kind !== "map") continue;
    for (const h of hv.value.entries) {
      const p = joinPath("_meta.hostvars", h.key);
      if (h.value.kind !== "map") {
        fail(h.value.loc, p, `must be an object of variables, got ${describe(toPlain(h.value))}`);
        continue;
      }
      hostvars.set(h.key, h.value);
      order.push(h.key);
    }
  }
  const placed = new Set<string>();
  let group = "";
  const hostEntry = (name: string, loc: Loc): YEntry => {
    const vars = placed.has(name) ? undefined : hostvars.get(name);
    placed.add(name);
    if (vars) moved.set(joinPath(joinPath(group, "hosts"), name), joinPath("_meta.hostvars", name));
    return { key: name, keyLoc: loc, value: vars ?? nullAt(loc) };
  };
  const names = (node: YNode, path: string, what: string): { name: string; loc: Loc }[] => {
    if (node.kind === "scalar" && node.value === null) return [];
    if (node.kind !== "seq") {
      fail(node.loc, path, `must be a list of ${what}, got ${describe(toPlain(node))}`);
      return [];
    }
    const out: { name: string; loc: Loc }[] = [];
    for (const [i, it] of node.items.entries()) {
      if (it.kind !== "scalar" || typeof it.value !== "string") {
        fail(it.loc, joinPath(path, i), `must be a name, got ${describe(toPlain(it))}`);
      } else out.push({ name: it.value, loc: it.loc });
    }
    return out;
  };
  const entries: YEntry[] = [];
  for (const e of root.entries) {
    if (e.key === "_meta") continue;
    group = e.key;
    const parts: YEntry[] = [];
    const v = e.value;
    if (v.kind === "seq") {
      const hosts = names(v, e.key, "host names").map((h) => hostEntry(h.name, h.loc));
      parts.push({ key: "hosts", keyLoc: v.loc, value: mapAt(v.loc, hosts) });
    } else if (v.kind === "map") {
      for (const s of v.entries) {
        const p = joinPath(e.key, s.key);
        if (s.key === "hosts") {
          const hosts = names(s.value, p, "host names").map((h) => hostEntry(h.name, h.loc));
          parts.push({ key: "hosts", keyLoc: s.keyLoc, value: mapAt(s.value.loc, hosts) });
        } else if (s.key === "children") {
          const kids = names(s.value, p, "group names").map((c) => ({
            key: c.name,
            keyLoc: c.loc,
            value: nullAt(c.loc),
          }));
          parts.push({ key: "children", keyLoc: s.keyLoc, value: mapAt(s.value.loc, kids) });
        } else if (s.key === "vars") parts.push(s);
        else {
          fail(
            s.keyLoc,
            p,
            `unknown key '${snippet(s.key)}': a group has only ${GROUP_KEYS.join(", ")}`,
          );
        }
      }
    } else if (!(v.kind === "scalar" && v.value === null)) {
      fail(
        v.loc,
        e.key,
        `must be an object with hosts, children or vars, got ${describe(toPlain(v))}`,
      );
      continue;
    }
    entries.push({ key: e.key, keyLoc: e.keyLoc, value: mapAt(v.loc, parts) });
  }
  // Hosts with vars but in no group: Ansible lists them under ungrouped.
  const loose = order.filter((h) => !placed.has(h));
  if (loose.length > 0) {
    group = "ungrouped";
    const loc = hostvars.get(loose[0])!.loc;
    const hosts = loose.map((h) => hostEntry(h, hostvars.get(h)!.loc));
    entries.push({
      key: "ungrouped",
      keyLoc: loc,
      value: mapAt(loc, [{ key: "hosts", keyLoc: loc, value: mapAt(loc, hosts) }]),
    });
  }
  return { tree: mapAt(root.loc, entries), problems, after };
}

function reorderHosts(L: Loader, order: string[]): void {
  const sorted = new Map<string, HostRec>();
  for (const name of order) {
    const h = L.hosts.get(name);
    if (h) sorted.set(name, h);
  }
  for (const [name, h] of L.hosts) if (!sorted.has(name)) sorted.set(name, h);
  L.hosts.clear();
  for (const [name, h] of sorted) L.hosts.set(name, h);
  for (const g of L.groups.values()) {
    g.hosts.sort((a, b) => [...sorted.keys()].indexOf(a) - [...sorted.keys()].indexOf(b));
  }
}

/** Gives issues and var definitions of this file the JSON path of the hostvars they came from. */
function renamePaths(L: Loader, moved: Map<string, string>): void {
  const rename = (path: string): string => {
    for (const [from, to] of moved) {
      if (path === from || path.startsWith(`${from}.`) || path.startsWith(`${from}[`)) {
        return to + path.slice(from.length);
      }
    }
    return path;
  };
  for (const i of L.issues) if (i.file === L.file) i.path = rename(i.path);
  for (const h of L.hosts.values()) {
    for (const d of h.vars.values()) if (d.file === L.file) d.path = rename(d.path);
  }
}

function nullAt(loc: Loc): YNode {
  return { kind: "scalar", loc, value: null, source: "" };
}

function mapAt(loc: Loc, entries: YEntry[]): YMap {
  return { kind: "map", loc, entries };
}
