/**
 * What a role needs to know about the host it builds tasks for: the cluster it is a load
 * balancer of (if any) and its own member record. Throws readable errors for invalid variables
 * (the engine reports them before contacting any host).
 * @module
 */
import type { HostContext } from "../engine/types.ts";
import { type Cluster, lbClusterOf, type LbMember } from "./cluster.ts";
import { parseLbHostVars } from "./schema.ts";

/** A load balancer's view: its cluster and itself. */
export interface LbView {
  /** The cluster the host is a load balancer of. */
  cluster: Cluster;
  /** The host's member record. */
  member: LbMember;
}

/** Host variable objects already validated (a role asks for a host's view several times). */
const validVars = new WeakSet<object>();

/** The host's LB view, or undefined when it is not a load balancer. Throws on invalid vars. */
export function lbView(host: HostContext): LbView | undefined {
  if (!validVars.has(host.vars)) {
    parseLbHostVars(host.name, host.vars);
    validVars.add(host.vars);
  }
  const cluster = lbClusterOf(host.name, host.all);
  if (!cluster) return undefined;
  const errors = cluster.problems.filter((p) => p.severity === "error");
  if (errors.length) {
    throw new Error(`${host.name}: ${errors.map((p) => p.message).join("; ")}`);
  }
  return { cluster, member: cluster.members.find((m) => m.name === host.name)! };
}

/** The host's LB view; throws when it is not a load balancer. */
export function requireLb(host: HostContext): LbView {
  const v = lbView(host);
  if (!v) {
    throw new Error(`${host.name}: not a load balancer (no haplay_lb, or not in its lb_group)`);
  }
  return v;
}
