/**
 * Test helpers of the LB layer: load the example inventories (with a test secret), build
 * inventories from YAML text, and make HostContexts like the engine does.
 * @module
 */
import { fileURLToPath } from "node:url";
import { type Inventory, loadInventory } from "../../engine/inventory.ts";
import type { HostContext } from "../../engine/types.ts";

/** Environment given to the loader: `!env HAPLAY_VRRP_PASS` resolves to `t3stpass`. */
export const TEST_ENV = { HAPLAY_VRRP_PASS: "t3stpass" };

/** Path of an example inventory by seed number ("000".."004"). */
export function examplePath(seed: string): string {
  const dir = fileURLToPath(new URL("../../inventory/examples/", import.meta.url));
  const name = [...Deno.readDirSync(dir)].map((e) => e.name).find((n) => n.startsWith(seed + "-"));
  if (!name) throw new Error(`no example inventory ${seed}-*`);
  return dir + name;
}

/** Every example inventory's seed number. */
export const SEEDS = ["000", "001", "002", "003", "004"];

/** Path of the documented production inventory. */
export const PROD = fileURLToPath(new URL("../../inventory/prod.yaml", import.meta.url));

/** Loads an example inventory. */
export function loadExample(seed: string): Promise<Inventory> {
  return loadInventory(examplePath(seed), { env: TEST_ENV });
}

/** Loads an inventory from YAML text (written to a temp dir as `inv.yaml`). */
export async function inventoryFrom(
  yaml: string,
  env: Record<string, string> = TEST_ENV,
): Promise<Inventory> {
  const dir = await Deno.makeTempDir({ prefix: "haplay-lb-test-" });
  const file = `${dir}/inv.yaml`;
  await Deno.writeTextFile(file, yaml);
  try {
    return await loadInventory(file, { env });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The HostContext the engine would give a play for `name`. */
export function ctx(inv: Inventory, name: string): HostContext {
  const h = inv.hosts.get(name);
  if (!h) throw new Error(`no host ${name}`);
  return { name, vars: h.vars, groups: h.groups, all: inv.hosts };
}
