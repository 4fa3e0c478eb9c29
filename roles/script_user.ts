/**
 * Role `script_user`: the unprivileged user keepalived runs scripts as (`keepalived_script`,
 * with `enable_script_security`) and a sudoers drop-in granting it exactly the root command
 * lines the notify scripts run (the seeds grant `ALL`; haplay does not). The drop-in is checked
 * by `visudo -cf` before it lands, and removed when no notify step needs root.
 * @module
 */
import { z } from "zod";
import type { HostContext, Task } from "../engine/types.ts";
import { absent, apt, sudoers, user } from "../tasks/mod.ts";
import { requireLb } from "../lb/context.ts";
import { sudoCommands } from "../lb/notify_plan.ts";
import { SUDOERS_NAME } from "../lb/paths.ts";
import { sudoTargetGuard, sudoTargetProbe, sudoTargetProblems } from "./_sudo_targets.ts";
import { refuse } from "../tasks/_plan.ts";

/** The role's variables: `haplay_lb.script_user`. */
export const ScriptUserVars = z.object({
  haplay_lb: z.object({ script_user: z.string().default("keepalived_script") }).loose(),
});

/** Escapes a word for a sudoers command line (`,` `:` `=` `\` must be escaped). */
export function sudoersWord(w: string): string {
  return w.replace(/[\\,:=]/g, (c) => `\\${c}`);
}

/**
 * One command line as a sudoers Cmnd: words escaped, and `""` after a program without arguments
 * (a bare path in sudoers means "with any arguments"; `""` means "with none").
 */
export function sudoersCommand(line: string): string {
  const words = line.split(" ").map(sudoersWord);
  return words.length === 1 ? `${words[0]} ""` : words.join(" ");
}

/** The sudoers drop-in granting `user` exactly `commands` (empty string when none). */
export function sudoersContent(user: string, commands: string[]): string {
  if (!commands.length) return "";
  const lines = commands.map(sudoersCommand);
  return [
    "# Managed by haplay: the exact command lines keepalived's notify scripts run as root.",
    `Defaults:${user} !requiretty`,
    `${user} ALL=(root) NOPASSWD: ${lines.join(", \\\n    ")}`,
    "",
  ].join("\n");
}

/** The script user, and its sudoers drop-in (or its absence). */
export function scriptUserTasks(host: HostContext): Task[] {
  const { cluster } = requireLb(host);
  const name = cluster.cfg.script_user;
  const cmds = sudoCommands(cluster);
  const tags = ["keepalived", "script_user"];
  const tasks: Task[] = [user({ name, system: true, shell: "/usr/sbin/nologin", tags })];
  if (cmds.length) {
    tasks.push(apt({ name: "sudo", state: "present", tags }));
    tasks.push(
      guardedSudoers(
        sudoers({ name: SUDOERS_NAME, content: sudoersContent(name, cmds), tags }),
        cmds,
      ),
    );
  } else {
    tasks.push(absent({ path: `/etc/sudoers.d/${SUDOERS_NAME}`, tags }));
  }
  return tasks;
}

/** The programs (first words) of sudo command lines, each once. */
export function sudoPrograms(commands: string[]): string[] {
  return [...new Set(commands.map((c) => c.split(" ")[0]))];
}

/**
 * The drop-in task with the ownership check of every program it grants (see
 * `_sudo_targets.ts`): probed on every run (an unsafe program fails the host even when the file
 * is unchanged), and checked again in the apply right before the file is written.
 */
export function guardedSudoers(t: Task, commands: string[]): Task {
  const programs = sudoPrograms(commands);
  return {
    ...t,
    probe: `${t.probe}\n${sudoTargetProbe(programs)}`,
    plan: (facts) => {
      const problems = sudoTargetProblems(facts, programs);
      if (problems.length) return refuse(problems.join("; "));
      const p = t.plan(facts);
      if (p.kind !== "change") return p;
      return { ...p, apply: `${sudoTargetGuard(programs)}\n${p.apply}` };
    },
  };
}
