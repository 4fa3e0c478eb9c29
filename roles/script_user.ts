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
import { requireLb } from "./_context.ts";
import { sudoCommands } from "./notify_plan.ts";
import { SUDOERS_NAME } from "./paths.ts";

/** The role's variables: `haplay_lb.script_user`. */
export const ScriptUserVars = z.object({
  haplay_lb: z.object({ script_user: z.string().default("keepalived_script") }).loose(),
});

/** Escapes a word for a sudoers command line (`,` `:` `=` `\` must be escaped). */
export function sudoersWord(w: string): string {
  return w.replace(/[\\,:=]/g, (c) => `\\${c}`);
}

/** The sudoers drop-in granting `user` exactly `commands` (empty string when none). */
export function sudoersContent(user: string, commands: string[]): string {
  if (!commands.length) return "";
  const lines = commands.map((c) => c.split(" ").map(sudoersWord).join(" "));
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
    tasks.push(sudoers({ name: SUDOERS_NAME, content: sudoersContent(name, cmds), tags }));
  } else {
    tasks.push(absent({ path: `/etc/sudoers.d/${SUDOERS_NAME}`, tags }));
  }
  return tasks;
}
