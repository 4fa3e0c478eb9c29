/**
 * What `deno task drain` and `deno task maintenance` add to every rendered keepalived.conf
 * (the drain include of each real_server, the maintenance track file of each instance), taken
 * back out of a parsed configuration: the importer maps what the operator configured, not
 * haplay's own operational hooks (re-rendering adds them again). Pure.
 * @module
 */
import type { KaNode } from "./keepalived_parse.ts";
import { DRAIN_PREFIX, MAINTENANCE_TRACK } from "./paths.ts";

/** Whether a node is haplay's own: a drain include, or a statement read from a drain file. */
function isDrainNode(n: KaNode): boolean {
  return (n.key === "include" && (n.args[0] ?? "").startsWith(DRAIN_PREFIX)) ||
    n.file.startsWith(DRAIN_PREFIX);
}

/**
 * The nodes without haplay's drain and maintenance hooks. `drained` gets the address of every
 * real_server whose drain file was spliced in (it is drained now: its configured weight is the
 * one kept).
 */
export function withoutHaplayOps(nodes: KaNode[], drained: string[] = []): KaNode[] {
  const walk = (list: KaNode[], parent?: KaNode): KaNode[] => {
    const out: KaNode[] = [];
    for (const n of list) {
      if (isDrainNode(n)) {
        if (n.key !== "include" && parent?.key === "real_server" && parent.args[0]) {
          if (!drained.includes(parent.args[0])) drained.push(parent.args[0]);
        }
        continue;
      }
      if (n.key === "vrrp_track_file" && n.args[0] === MAINTENANCE_TRACK) continue;
      if (n.key === MAINTENANCE_TRACK && parent?.key === "track_file") continue;
      if (!n.children) {
        out.push(n);
        continue;
      }
      const children = walk(n.children, n);
      if (n.key === "track_file" && parent?.key === "vrrp_instance" && !children.length) continue;
      out.push({ ...n, children });
    }
    return out;
  };
  return walk(nodes);
}
