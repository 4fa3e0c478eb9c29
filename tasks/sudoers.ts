/**
 * `sudoers`: a drop-in `/etc/sudoers.d/NAME`, root:root 0440, checked with `visudo -cf` on the
 * temp file before it lands — a broken sudoers file never reaches the directory (and if sudo
 * is not installed, visudo is missing and nothing lands either).
 * @module
 */
import { z } from "zod";
import type { Task } from "../engine/types.ts";
import { common, parseArgs } from "./_args.ts";
import { FileArgs, fileTask } from "./file.ts";

/** Arguments of {@link sudoers}. */
export const SudoersArgs = z.object({
  ...common,
  /** File name in /etc/sudoers.d: sudo ignores names containing "." or ending in "~". */
  name: z.string().regex(
    /^[A-Za-z0-9_-]+$/,
    "must match [A-Za-z0-9_-]+ (sudo skips names with . or ~)",
  ),
  /** sudoers rules; a final newline is added when missing. */
  content: z.string(),
}).strict();

/** Input of {@link sudoers}. */
export type SudoersInput = z.input<typeof SudoersArgs>;

/**
 * A validated sudoers drop-in.
 *
 * @example
 * sudoers({ name: "haplay-deploy", content: "deploy ALL=(root) NOPASSWD: /usr/sbin/ipvsadm -Ln\n" })
 */
export function sudoers(args: SudoersInput): Task {
  return fileTask("sudoers", sudoersFileArgs(parseArgs("sudoers", SudoersArgs, args)));
}

/** The file arguments of a sudoers drop-in (0440 root:root, validated with visudo). */
export function sudoersFileArgs(a: z.output<typeof SudoersArgs>): z.output<typeof FileArgs> {
  const content = a.content.endsWith("\n") || a.content === "" ? a.content : a.content + "\n";
  return parseArgs("sudoers", FileArgs, {
    name: `sudoers ${a.name}`,
    notify: a.notify,
    tags: a.tags,
    path: `/etc/sudoers.d/${a.name}`,
    content,
    owner: "root",
    group: "root",
    mode: "0440",
    validate: "visudo -cf %s",
  });
}
