/**
 * Tests that need something of this machine (root, a program): without it they are ignored
 * with a printed reason, except under CI (env `CI` set), where they run and FAIL naming what
 * is missing (a CI that silently skips proves nothing; `.ci/run` also fails on any ignored
 * test).
 *
 * ```ts
 * Deno.test(requires({ keepalived: have("keepalived") }, { name: "...", fn: async () => {} }));
 * ```
 * @module
 */

function detectRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false; // no --allow-sys: cannot tell, treat as not root
  }
}

/** True when the tests run as root. */
export const isRoot: boolean = detectRoot();

/** True when env `CI` is set (then missing requirements fail instead of skipping). */
export const inCI: boolean = !!Deno.env.get("CI");

/** True when `cmd` is on PATH. */
export function have(cmd: string): boolean {
  return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .outputSync().success;
}

/**
 * `def` with its requirements (`{ what: met }`, e.g. `{ root: isRoot, visudo: have("visudo") }`)
 * applied: all met, `def` unchanged; one unmet outside CI, ignored with a printed reason;
 * one unmet under CI, a test that fails naming it.
 */
export function requires(
  needs: Record<string, boolean>,
  def: Deno.TestDefinition,
): Deno.TestDefinition {
  const missing = Object.keys(needs).filter((k) => !needs[k]);
  if (!missing.length) return def;
  const what = missing.join(", ");
  if (!inCI) {
    console.log(`SKIP "${def.name}": needs ${what} (CI fails instead of skipping)`);
    return { ...def, ignore: true };
  }
  return {
    ...def,
    fn: () => {
      throw new Error(`"${def.name}" needs ${what}; CI is set, so failing instead of skipping`);
    },
  };
}
