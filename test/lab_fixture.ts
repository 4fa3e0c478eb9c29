/**
 * Test fixture for end-to-end tests on the namespace lab (see `lab/lab.ts`).
 *
 * ```ts
 * e2e("deploy keepalived to 2 hosts", async () => {
 *   await withLab({ name: "ex1", subnet: "198.19.230.0/24", hosts: 2 }, async (lab) => {
 *     // lab.inventory, lab.keyFile, lab.knownHosts ...; labExec(lab, "h1", [...]) to observe
 *   });
 * });
 * ```
 * Every test file must use its own lab names and subnets so files can run concurrently.
 * @module
 */

import { type Lab, labDown, type LabOptions, labOwner, labUp } from "../lab/lab.ts";
import { isRoot, requires } from "./_requires.ts";

export type { Lab, LabOptions };

/** True when the tests run as root (the lab needs root: namespaces, mounts, links). */
export { isRoot };

/**
 * Register an end-to-end test that needs the lab. Without root it is ignored with a printed
 * reason, except when env `CI` is set: then it is registered and FAILS (a CI that silently
 * skips every e2e test proves nothing). Resource/op sanitizers are off (the lab starts
 * detached processes).
 */
export function e2e(name: string, fn: () => Promise<void>): void {
  Deno.test(requires({ "root (network/mount/pid namespaces)": isRoot }, {
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn,
  }));
}

/**
 * Bring a lab up (default 3 hosts and, unlike `labUp`, the fast `lab` init: pass
 * `init: "systemd"` for hosts like the users'), run `fn` with it and ALWAYS tear it down after,
 * whether `fn` passed or threw. A stale lab of the same name and state directory left by a
 * finished or killed run is torn down first; a lab of that name still owned by another running
 * process (e.g. a concurrent test run) is never touched: withLab fails instead.
 */
export async function withLab(
  opts: Partial<LabOptions> & { name: string; subnet: string },
  fn: (lab: Lab) => Promise<void>,
): Promise<void> {
  const owner = await labOwner(opts.name, opts.stateDir);
  if (owner !== undefined && owner !== Deno.pid) {
    throw new Error(
      `lab ${opts.name} is in use by running process ${owner} (another test run?); ` +
        "every test file must use its own lab names",
    );
  }
  await labDown(opts.name, opts.stateDir); // stale lab of a finished/killed run
  const lab = await labUp({ hosts: 3, init: "lab", ...opts });
  let failure: unknown;
  try {
    await fn(lab);
  } catch (e) {
    failure = e;
  }
  try {
    await labDown(opts.name, opts.stateDir);
  } catch (e) {
    if (failure === undefined) throw e;
    console.error(`(lab ${opts.name} teardown also failed: ${(e as Error).message})`);
  }
  if (failure !== undefined) throw failure;
}
