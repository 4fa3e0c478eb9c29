/**
 * Positions for lint findings: maps a path inside a host's variables
 * (`["haplay_lb", "vrrp_instances", 0, "virtual_router_id"]`) to the `file:line:col` where that
 * value was written, through the inventory loader's {@link positionOf}.
 * @module
 */
import { type Inventory, type Issue, positionOf } from "../engine/inventory.ts";

/** A finding before it has a position. */
export interface Finding {
  /** Host whose variables hold the value. */
  host: string;
  /** Path inside the host's vars. */
  path: (string | number)[];
  /** Plain words (warnings that will run but wrong start with "will run but wrong:"). */
  message: string;
  /** Issue severity. */
  severity: Issue["severity"];
}

/** Turns a finding into an Issue with the position of the value it is about. */
export function locate(inv: Inventory, f: Finding): Issue {
  const at = positionOf(inv, f.host, f.path);
  return { ...at, message: f.message, severity: f.severity };
}

/** Locates findings, drops duplicates (same position and message), keeps file order. */
export function locateAll(inv: Inventory, findings: Finding[]): Issue[] {
  const seen = new Set<string>();
  const out: Issue[] = [];
  for (const f of findings) {
    const i = locate(inv, f);
    const key = `${i.file}:${i.line}:${i.col}:${i.severity}:${i.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(i);
  }
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}
