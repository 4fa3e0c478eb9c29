/**
 * The YAML front end of the inventory loader: walks a positioned YAML tree ({@link YNode}) of
 * Ansible's YAML inventory format (`all:`, groups with `hosts`, `children`, `vars`) into the
 * {@link Loader}. The INI and JSON front ends build the same tree and come through here too, so
 * every format gets the same checks and messages.
 * @module
 */

import { z } from "zod";
import { joinPath, locate, toPlain, type YMap, type YNode } from "./yaml_pos.ts";
import { describe, describeIssue, snippet, unknownGroupKey } from "./_inventory_diagnostics.ts";
import {
  expandHostRange,
  type GroupRec,
  type Loader,
  NAME_RE,
  NAME_RULE,
  type SourcePos,
} from "./_inventory_model.ts";

const nullable = <T extends z.ZodType>(t: T) => t.nullable().optional();
const mapping = z.record(z.string(), z.unknown());
const GroupShape = z.strictObject({
  hosts: nullable(z.record(z.string(), mapping.nullable())),
  children: nullable(mapping),
  vars: nullable(mapping),
});

/** Loads the top level of the inventory file. */
export async function loadRoot(L: Loader, root: YNode): Promise<void> {
  if (root.kind !== "map") {
    L.error(
      L.file,
      root.loc,
      "",
      `an inventory must be a mapping of groups (all:, children:, hosts:), got ${
        describe(toPlain(root))
      }`,
    );
    return;
  }
  for (const e of root.entries) {
    await walkGroup(L, e.key, e.value, L.pos(e.keyLoc, e.key), e.key === "all" ? null : undefined);
  }
}

/** parent: a group name, undefined for a top-level group, null for `all` itself. */
async function walkGroup(
  L: Loader,
  name: string,
  node: YNode,
  def: SourcePos,
  parent: string | null | undefined,
) {
  const { path } = def;
  if (!NAME_RE.test(name)) {
    L.error(L.file, def, path, `invalid group name '${snippet(name)}': ${NAME_RULE}`);
    return;
  }
  if (name === "all" && parent) {
    L.error(L.file, def, path, "'all' cannot be the child of another group");
    return;
  }
  const g = L.group(name, def);
  if (parent) L.addChild(parent, name, def);
  if (node.kind === "scalar" && node.value === null && !node.tag) return;
  if (node.kind !== "map") {
    const got = describe(toPlain(node));
    L.error(
      L.file,
      node.loc,
      path,
      `must be a mapping with hosts, children or vars, got ${got}`,
    );
    return;
  }
  checkGroupShape(L, node, path);
  for (const e of node.entries) {
    const p = joinPath(path, e.key);
    const v = e.value;
    if (e.key === "hosts" && v.kind === "map") await walkHosts(L, g, v, p);
    else if (e.key === "children" && v.kind === "map") {
      for (const c of v.entries) {
        await walkGroup(L, c.key, c.value, L.pos(c.keyLoc, joinPath(p, c.key)), name);
      }
    } else if (e.key === "vars" && v.kind === "map") await L.walkVars(v, L.file, p, g.vars);
  }
}

function checkGroupShape(L: Loader, node: YMap, path: string): void {
  const r = GroupShape.safeParse(toPlain(node));
  if (r.success) return;
  for (const issue of r.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const e = node.entries.find((x) => x.key === key)!;
        L.error(L.file, e.keyLoc, joinPath(path, key), unknownGroupKey(key));
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
    L.error(L.file, at.node.loc, p, msg);
  }
}

async function walkHosts(L: Loader, g: GroupRec, node: YMap, path: string): Promise<void> {
  for (const e of node.entries) {
    const p = joinPath(path, e.key);
    const names = expandHostRange(e.key);
    if (typeof names === "string") {
      L.error(L.file, e.keyLoc, p, names);
      continue;
    }
    for (const name of names) {
      if (name === "") {
        L.error(L.file, e.keyLoc, p, "empty host name");
        continue;
      }
      if (!NAME_RE.test(name)) {
        const hint = /[\s:/]/.test(name) ? " (set the address with ansible_host)" : "";
        L.error(L.file, e.keyLoc, p, `invalid host name '${snippet(name)}': ${NAME_RULE}${hint}`);
        continue;
      }
      let h = L.hosts.get(name);
      if (!h) {
        h = {
          name,
          def: L.pos(e.keyLoc, joinPath(path, name)),
          groups: [],
          vars: new Map(),
          fileVars: new Map(),
        };
        L.hosts.set(name, h);
      }
      if (!h.groups.includes(g.name)) h.groups.push(g.name);
      if (!g.hosts.includes(name)) g.hosts.push(name);
      if (e.value.kind === "map") await L.walkVars(e.value, L.file, p, h.vars);
    }
  }
}
