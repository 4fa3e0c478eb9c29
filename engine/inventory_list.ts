/**
 * The merged inventory in the JSON shape of `ansible-inventory --list` and `--host`: what
 * haplay understood, for a user to check. Secrets show as their lookup expression
 * (`{{ lookup('env', 'NAME') }}`), never their value, so the output also loads back as an
 * inventory with the same hosts and vars.
 * @module
 */

import { type Inventory, shownVars } from "./inventory.ts";

/** One group of the `--list` output: direct hosts and child groups (empty keys left out). */
export interface ListedGroup {
  /** Hosts listed in the group itself. */
  hosts?: string[];
  /** Child groups. */
  children?: string[];
}

/** The `--list` document: `_meta.hostvars` and one entry per non-empty group. */
export type InventoryList = { _meta: { hostvars: Record<string, Record<string, unknown>> } } & {
  [group: string]: ListedGroup | { hostvars: Record<string, Record<string, unknown>> };
};

/**
 * The inventory as `ansible-inventory --list` prints it: groups depth-first from `all` (each with
 * its direct `hosts` and its `children`, empty keys and empty groups left out), then `_meta`
 * with every host's merged vars.
 */
export function inventoryList(inv: Inventory): InventoryList {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const g = inv.groups.get(name);
    if (!g) return;
    const entry: ListedGroup = {};
    const hosts = name === "all" ? [] : g.directHosts ?? g.hosts;
    if (hosts.length > 0) entry.hosts = [...hosts];
    if (g.children.length > 0) entry.children = [...g.children];
    if (entry.hosts || entry.children) out[name] = entry;
    for (const c of g.children) visit(c);
  };
  visit("all");
  const hostvars: Record<string, Record<string, unknown>> = {};
  for (const name of inv.hosts.keys()) hostvars[name] = inventoryHost(inv, name)!;
  return { ...out, _meta: { hostvars } } as InventoryList;
}

/** One host's merged vars as `ansible-inventory --host` prints them; undefined if unknown. */
export function inventoryHost(inv: Inventory, name: string): Record<string, unknown> | undefined {
  const h = inv.hosts.get(name);
  return h ? shownVars(h) : undefined;
}
