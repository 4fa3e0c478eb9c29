/**
 * Small constructors for {@link Plan} values and the guard that keeps `plan()` total.
 * @module
 */
import type { Plan, PlanChange, PlanOk } from "../engine/types.ts";
import { q } from "../engine/shell.ts";

/** Nothing to do. */
export function ok(reason: string): PlanOk {
  return { kind: "ok", reason };
}

/**
 * A change that cannot be made: the summary says why, and applying it fails with that message.
 * Used for malformed probe output and for states the task refuses to touch (e.g. a directory
 * where a file should be).
 */
export function refuse(summary: string): PlanChange {
  return { kind: "change", summary, backup: ":", apply: `hp_fail ${q(summary)}`, restore: ":" };
}

/** Run a planner; any exception (unexpected facts) becomes a {@link refuse} plan. */
export function guarded(what: string, planner: (facts: string) => Plan): (facts: string) => Plan {
  return (facts: string) => {
    try {
      return planner(facts);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      return refuse(`${what}: cannot read probe output (${msg})`);
    }
  };
}

/** Thrown by planners when the probe output lacks what they need; caught by {@link guarded}. */
export class FactsError extends Error {}

/** Require `key` in parsed facts. */
export function need(facts: Record<string, string>, key: string): string {
  const v = facts[key];
  if (v === undefined) throw new FactsError(`missing ${key}=`);
  return v;
}
