/**
 * The inventory loader: Ansible's YAML, INI and `ansible-inventory --list` JSON formats, with
 * `group_vars/` and `host_vars/` beside the file, secrets by reference, and precise errors that
 * point to `file:line:col` and the dotted path of the offending node.
 *
 * The work is split by job: `_inventory_format.ts` reads the file and tells its format,
 * `_inventory_ini.ts` and `_inventory_json.ts` turn INI and JSON into the positioned tree that
 * `_inventory_yaml.ts` walks, `_inventory_model.ts` merges (precedence, membership),
 * `_inventory_connection.ts` derives how to reach each host, `_inventory_positions.ts` finds where
 * a value was written, `_inventory_secrets.ts` holds the secret-reference rules and
 * `_inventory_diagnostics.ts` the messages. This module is the public face.
 *
 * @module
 */

import { dirname } from "node:path";
import { detectFormat, type InventoryFormat } from "./_inventory_format.ts";
import { compareIssues, InventoryError } from "./_inventory_diagnostics.ts";
import { build, type Inventory, Loader, type LoadOptions } from "./_inventory_model.ts";
import { loadRoot } from "./_inventory_yaml.ts";
import { iniToTree } from "./_inventory_ini.ts";
import { jsonToTree } from "./_inventory_json.ts";
import { parseYaml, type YNode } from "./yaml_pos.ts";

export { formatIssue, InventoryError, type Issue } from "./_inventory_diagnostics.ts";
export {
  type Inventory,
  type InventoryGroup,
  type InventoryHost,
  type LoadOptions,
  shownVars,
  type SourcePos,
} from "./_inventory_model.ts";
export { checkHostVars, positionOf } from "./_inventory_positions.ts";
export type { Connection } from "./_inventory_connection.ts";
export { detectFormat, type InventoryFormat } from "./_inventory_format.ts";

/**
 * Loads an inventory file (YAML, INI or JSON: see {@link detectFormat}). Throws
 * {@link InventoryError} listing every issue found (syntax, structure, connection vars, secrets)
 * when there is at least one error.
 */
export async function loadInventory(file: string, opts: LoadOptions = {}): Promise<Inventory> {
  const dir = dirname(file);
  const L = new Loader(file, dir, opts);
  const text = await L.readText(file);
  const root = text === null ? null : parseAs(L, detectFormat(file, text), text);
  if (root) await loadRoot(L, root.tree);
  else if (L.issues.length === 0) {
    L.add("warning", file, { line: 1, col: 1 }, "", "inventory is empty");
  }
  // Ansible: groups without a parent are children of all.
  for (const name of L.groups.keys()) {
    if (name !== "all" && !L.parents.has(name)) {
      L.addChild("all", name, L.groups.get(name)!.def ?? L.pos({ line: 1, col: 1 }, name));
    }
  }
  root?.after?.(L);
  await L.loadVarsDir("group_vars");
  await L.loadVarsDir("host_vars");
  const acyclic = L.checkCycles();
  const sorted = () => [...L.issues].sort(compareIssues);
  if (!acyclic || L.issues.some((i) => i.severity === "error")) throw new InventoryError(sorted());
  const inv = build(L);
  inv.warnings = sorted();
  return inv;
}

interface Parsed {
  tree: YNode;
  /** Runs once the tree is walked (the JSON front end restores host order). */
  after?: (L: Loader) => void;
}

function parseAs(L: Loader, format: InventoryFormat, text: string): Parsed | null {
  if (format === "ini") {
    const r = iniToTree(text);
    for (const p of r.problems) L.error(L.file, p.loc, p.path, p.message);
    return r.tree ? { tree: r.tree } : null;
  }
  const { root, problems } = parseYaml(text);
  for (const p of problems) {
    const message = format === "json"
      ? p.message.replace(/^YAML syntax/, "JSON syntax")
      : p.message;
    L.error(L.file, p.loc, p.path, message);
  }
  if (!root || format === "yaml") return root ? { tree: root } : null;
  const r = jsonToTree(root);
  for (const p of r.problems) L.error(L.file, p.loc, p.path, p.message);
  return r.tree ? { tree: r.tree, after: r.after } : null;
}
