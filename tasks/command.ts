/**
 * `command`: run a shell command, made idempotent by guards (Ansible's command/shell with
 * creates/removes, plus unless/onlyIf checks).
 *
 * Guards are evaluated by the probe, so `unless` and `onlyIf` must be read-only checks.
 * `creates`/`removes` are checked again right before the command runs. There is no
 * `changedWhen`: haplay decides "changed" from the probe, before anything runs, so a command
 * whose guards say "run" is reported changed.
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import { planFrom } from "./_fact_plan.ts";
import { FactsError, need, ok } from "./_plan.ts";
import { CLOSE_FDS, END } from "./_sh.ts";

/** Arguments of {@link command}. */
export const CommandArgs = z.object({
  ...common,
  /** sh command line (run with `sh -c`, as root). */
  cmd: z.string().min(1),
  /** Skip when this path exists. */
  creates: absPath.optional(),
  /** Skip when this path does not exist. */
  removes: absPath.optional(),
  /** Read-only sh check: skip when it exits 0. */
  unless: z.string().min(1).optional(),
  /** Read-only sh check: run only when it exits 0. */
  onlyIf: z.string().min(1).optional(),
  /** Working directory. */
  chdir: absPath.optional(),
  /** sh run on rollback (with `$J` and the prelude), e.g. undoing the command. */
  restore: z.string().optional(),
  /** Hide the command line from summaries (it carries a secret). */
  sensitive: z.boolean().default(false),
}).strict();

/** Input of {@link command}. */
export type CommandInput = z.input<typeof CommandArgs>;

/** Probe: one line per guard. */
export function commandProbe(a: z.output<typeof CommandArgs>): string {
  const lines: string[] = [];
  if (a.creates) {
    lines.push(`if [ -e ${q(a.creates)} ]; then echo creates=1; else echo creates=0; fi`);
  }
  if (a.removes) {
    lines.push(`if [ -e ${q(a.removes)} ]; then echo removes=1; else echo removes=0; fi`);
  }
  if (a.unless) {
    lines.push(
      `if sh -c ${
        q(a.unless)
      } >/dev/null 2>&1 </dev/null; then echo unless=0; else echo unless=1; fi`,
    );
  }
  if (a.onlyIf) {
    lines.push(
      `if sh -c ${
        q(a.onlyIf)
      } >/dev/null 2>&1 </dev/null; then echo onlyif=0; else echo onlyif=1; fi`,
    );
  }
  lines.push(END);
  return lines.join("\n");
}

/** What the command probe found: one answer per guard the task has (absent: no such guard). */
export interface CommandFact {
  /** The `creates` path exists. */
  createsExists?: boolean;
  /** The `removes` path exists. */
  removesExists?: boolean;
  /** The `unless` check exited 0. */
  unlessPassed?: boolean;
  /** The `onlyIf` check exited 0. */
  onlyIfPassed?: boolean;
}

/** Parse the command probe's output (throws on output it cannot read). */
export function parseCommand(stdout: string): CommandFact {
  const f = parseKv(stdout);
  need(f, "end");
  const fact: CommandFact = {};
  if (f.creates !== undefined) fact.createsExists = f.creates === "1";
  if (f.removes !== undefined) fact.removesExists = f.removes !== "0";
  if (f.unless !== undefined) fact.unlessPassed = f.unless === "0";
  if (f.onlyif !== undefined) fact.onlyIfPassed = f.onlyif === "0";
  return fact;
}

/** The guards fact of a command. */
export function commandFact(a: z.output<typeof CommandArgs>): Fact<CommandFact> {
  return { sh: commandProbe(a), parse: parseCommand };
}

/** Pure planner of {@link command} from the probe's raw output (throws on unreadable output). */
export function planCommand(a: z.output<typeof CommandArgs>, facts: string): Plan {
  return planCommandFact(a, parseCommand(facts));
}

function guard<T>(v: T | undefined, key: string): T {
  if (v === undefined) throw new FactsError(`missing ${key}=`);
  return v;
}

/** Pure planner of {@link command} from its {@link CommandFact}. */
export function planCommandFact(a: z.output<typeof CommandArgs>, f: CommandFact): Plan {
  if (a.creates && guard(f.createsExists, "creates")) return ok(`${a.creates} exists`);
  if (a.removes && !guard(f.removesExists, "removes")) return ok(`${a.removes} does not exist`);
  if (a.unless && guard(f.unlessPassed, "unless")) return ok("unless check succeeded");
  if (a.onlyIf && !guard(f.onlyIfPassed, "onlyif")) return ok("onlyIf check failed");
  const guards = [
    a.creates ? `[ ! -e ${q(a.creates)} ]` : "",
    a.removes ? `[ -e ${q(a.removes)} ]` : "",
  ].filter(Boolean);
  const run = `${a.chdir ? `cd ${q(a.chdir)} && ` : ""}sh -c ${q(a.cmd)} ${CLOSE_FDS}`;
  return {
    kind: "change",
    summary: a.sensitive ? "run command (hidden)" : `run: ${a.cmd}`,
    backup: ":",
    apply: guards.length ? `if ${guards.join(" && ")}; then ${run}; fi` : run,
    restore: a.restore?.trim() ? a.restore : ":",
  };
}

/**
 * A guarded shell command.
 *
 * @example
 * command({ cmd: "ipvsadm --save > /etc/ipvsadm.rules", creates: "/etc/ipvsadm.rules" })
 */
export function command(args: CommandInput): Task {
  const a = parseArgs("command", CommandArgs, args);
  const label = a.sensitive ? "(hidden)" : a.cmd;
  return withCommon({
    name: a.name ?? `command ${label}`,
    module: "command",
    resource: `command:${a.name ?? a.cmd}`,
    probe: commandFact(a).sh,
    plan: planFrom(`command ${label}`, commandFact(a), (f) => planCommandFact(a, f)),
  }, a);
}
