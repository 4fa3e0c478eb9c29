/**
 * How tests run haplay's own entry points as subprocesses: with the permissions the deno.json
 * tasks declare (so a test sees what a user's `deno task` sees), not `-A`.
 * @module
 */

/** The permissions of the CLI tasks (deploy, rollback, lab, ...). */
export const CLI_PERMS = [
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
];

/** The `deno` arguments that run `entry` (a path) with {@link CLI_PERMS} and `args`. */
export function denoRun(entry: string, ...args: string[]): string[] {
  return ["run", ...CLI_PERMS, entry, ...args];
}
