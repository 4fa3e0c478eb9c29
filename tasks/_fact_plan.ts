/**
 * A task's `plan` from a typed fact: parse, then plan from the parsed value; output the parser
 * cannot read becomes a refusal (plan() stays total).
 * @module
 */
import type { Fact, Plan } from "../engine/types.ts";
import { guarded } from "./_plan.ts";

/** `(stdout) => plan(fact.parse(stdout))`, guarded. */
export function planFrom<T>(
  what: string,
  fact: Fact<T>,
  plan: (facts: T) => Plan,
): (stdout: string) => Plan {
  return guarded(what, (stdout) => plan(fact.parse(stdout)));
}
