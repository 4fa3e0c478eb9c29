/**
 * Ansible host patterns: select hosts of an inventory by group or host names, globs, regexes,
 * unions, intersections, exclusions and subscripts.
 *
 * | pattern          | meaning                                              |
 * | ---------------- | ---------------------------------------------------- |
 * | `all`, `*`       | every host                                           |
 * | `lvs`, `lb1`     | a group's hosts, or one host                         |
 * | `lb*`, `lb?`     | globs over group and host names                      |
 * | `~lb[0-9]+`      | a regex (searched) over group and host names         |
 * | `a:b`, `a,b`     | union                                                |
 * | `a:&b`           | intersection                                         |
 * | `a:!b`           | exclusion                                            |
 * | `lvs[0]`, `lvs[0:1]`, `lvs[-1]` | subscripts into a term's hosts (end inclusive) |
 *
 * Like Ansible, plain terms are applied first, then intersections, then exclusions; a pattern with
 * only `&`/`!` terms starts from `all`.
 *
 * @module
 */

import type { Inventory } from "./inventory.ts";

/**
 * Returns the names of the hosts `pattern` selects, in inventory order, without duplicates.
 * Unknown names match nothing.
 */
export function selectHosts(inv: Inventory, pattern: string): string[] {
  const terms = splitPattern(pattern);
  const plain = terms.filter((t) => !t.startsWith("&") && !t.startsWith("!"));
  const and = terms.filter((t) => t.startsWith("&")).map((t) => t.slice(1));
  const not = terms.filter((t) => t.startsWith("!")).map((t) => t.slice(1));
  if (plain.length === 0 && (and.length > 0 || not.length > 0)) plain.push("all");
  const selected = new Set<string>();
  for (const t of plain) for (const h of matchTerm(inv, t)) selected.add(h);
  for (const t of and) {
    const keep = new Set(matchTerm(inv, t));
    for (const h of [...selected]) if (!keep.has(h)) selected.delete(h);
  }
  for (const t of not) for (const h of matchTerm(inv, t)) selected.delete(h);
  return [...inv.hosts.keys()].filter((h) => selected.has(h));
}

/** Splits a pattern on `,` and `:` (but not inside `[...]`); trims and drops empty terms. */
export function splitPattern(pattern: string): string[] {
  const out: string[] = [];
  let cur = "";
  let depth = 0;
  for (const ch of pattern) {
    if (ch === "[") depth++;
    if (ch === "]") depth = Math.max(0, depth - 1);
    if ((ch === "," || ch === ":") && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== "");
}

/** Hosts matched by one term (without its `&`/`!` prefix), in inventory order. */
function matchTerm(inv: Inventory, term: string): string[] {
  const sub = /^(.+?)\[(-?\d+)?(?:(:)(-?\d+)?)?\]$/.exec(term);
  if (sub && !term.startsWith("~") && (sub[2] !== undefined || sub[3] !== undefined)) {
    const hosts = matchName(inv, sub[1]);
    return subscript(hosts, sub[2], sub[3] !== undefined, sub[4]);
  }
  return matchName(inv, term);
}

function subscript(hosts: string[], from?: string, range?: boolean, to?: string): string[] {
  const n = hosts.length;
  const idx = (s: string | undefined, dflt: number) => {
    if (s === undefined) return dflt;
    const i = Number(s);
    return i < 0 ? n + i : i;
  };
  if (!range) {
    const i = idx(from, 0);
    return i >= 0 && i < n ? [hosts[i]] : [];
  }
  const a = Math.max(0, idx(from, 0));
  const b = Math.min(n - 1, idx(to, n - 1));
  return a <= b ? hosts.slice(a, b + 1) : [];
}

function matchName(inv: Inventory, name: string): string[] {
  if (name === "all" || name === "*") return [...inv.hosts.keys()];
  const re = toRegExp(name);
  const found = new Set<string>();
  const group = inv.groups.get(name);
  if (group) { for (const h of group.hosts) found.add(h); }
  if (inv.hosts.has(name)) found.add(name);
  if (re) {
    for (const g of inv.groups.values()) {
      if (re.test(g.name)) { for (const h of g.hosts) found.add(h); }
    }
    for (const h of inv.hosts.keys()) if (re.test(h)) found.add(h);
  }
  return [...inv.hosts.keys()].filter((h) => found.has(h));
}

/** A regex for `~regex` or a glob term; null for a plain name. */
function toRegExp(term: string): RegExp | null {
  if (term.startsWith("~")) {
    try {
      return new RegExp(term.slice(1));
    } catch {
      return /(?!)/;
    }
  }
  if (!/[*?[]/.test(term)) return null;
  let src = "";
  for (let i = 0; i < term.length; i++) {
    const ch = term[i];
    if (ch === "*") src += ".*";
    else if (ch === "?") src += ".";
    else if (ch === "[") {
      const end = term.indexOf("]", i + 1);
      if (end < 0) {
        src += "\\[";
        continue;
      }
      let cls = term.slice(i + 1, end).replace(/\\/g, "\\\\");
      if (cls.startsWith("!")) cls = "^" + cls.slice(1);
      src += `[${cls}]`;
      i = end;
    } else src += ch.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^${src}$`);
}
