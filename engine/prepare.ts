/**
 * Before any host is contacted: each host's task list and handlers for a play (a bad role
 * argument, two tasks owning one resource or an unknown handler stop the run here), and the
 * pure planning of tasks from facts.
 * @module
 */
import type { Inventory, InventoryHost } from "./inventory.ts";
import type { Handler, HostContext, Plan, Play, Task } from "./types.ts";
import { setTwice } from "./rolling.ts";

/** Which tasks a run selects (`--tags`, `--skip-tags`). */
export interface TaskFilter {
  /** Only tasks with one of these tags (or "always"). */
  tags?: string[];
  /** Never tasks with one of these tags. */
  skipTags?: string[];
}

/** Per-host work prepared before any host is contacted. */
export interface Prepared {
  host: InventoryHost;
  ctx: HostContext;
  tasks: Task[];
  handlers: Handler[];
}

/** A play with the work of each of its hosts. */
export interface PreparedPlay {
  play: Play;
  items: Prepared[];
}

/** What a play's functions receive for an inventory host. */
export function contextOf(inv: Inventory, h: InventoryHost): HostContext {
  return { name: h.name, vars: h.vars, groups: h.groups, all: inv.hosts };
}

function selectTasks(tasks: Task[], f: TaskFilter): Task[] {
  return tasks.filter((t) => {
    const tags = t.tags ?? [];
    if (f.skipTags?.some((s) => tags.includes(s))) return false;
    if (f.tags?.length) {
      return tags.includes("always") || f.tags.some((s) => tags.includes(s));
    }
    return true;
  });
}

/** Build every host's task list; throws before any host is contacted. */
export function prepare(inv: Inventory, play: Play, names: string[], f: TaskFilter): Prepared[] {
  const problems: string[] = setTwice(play).map((k) =>
    `rolling.${k} and the play's own ${k === "when" ? "rollingIf" : k} are both set; keep one`
  );
  const out = names.map((n) => {
    const host = inv.hosts.get(n)!;
    const ctx = contextOf(inv, host);
    let tasks: Task[] = [];
    let handlers: Handler[] = [];
    try {
      tasks = selectTasks(play.tasks(ctx), f);
      handlers = play.handlers?.(ctx) ?? [];
    } catch (e) {
      problems.push(`${n}: ${(e as Error).message}`);
    }
    const seen = new Set<string>();
    for (const t of tasks) {
      if (seen.has(t.resource)) problems.push(`${n}: two tasks own ${t.resource}`);
      seen.add(t.resource);
      for (const h of t.notify ?? []) {
        if (!handlers.some((x) => x.name === h)) {
          problems.push(`${n}: task "${t.name}" notifies unknown handler "${h}"`);
        }
      }
    }
    return { host, ctx, tasks, handlers };
  });
  if (problems.length) {
    throw new Error(`play "${play.name}" cannot be planned:\n  ${problems.join("\n  ")}`);
  }
  return out;
}

/** A task's plan, or the error its `plan` threw (a planner bug must not stop the run). */
export function safePlan(t: Task, facts: string): Plan | Error {
  try {
    return t.plan(facts);
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** True when every task plans "ok" on these facts (nothing to apply). */
export function allOk(tasks: Task[], facts: string[]): boolean {
  return tasks.every((t, i) => {
    const pl = safePlan(t, facts[i]);
    return !(pl instanceof Error) && pl.kind === "ok";
  });
}
