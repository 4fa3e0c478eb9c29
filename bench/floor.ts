/**
 * The floor of a run: per host one SSH connection (known_hosts checked) and one exec of a
 * trivial script, with haplay's own client ({@link SshSession}, node-ssh/ssh2), all hosts in
 * parallel. A no-op run cannot do less. As a CLI (`deno run ... bench/floor.ts INV FORKS`) it
 * includes Deno's startup, like the haplay CLI it is compared with.
 * @module
 */
import { loadInventory } from "../engine/inventory.ts";
import { targetOf } from "../engine/run.ts";
import { SshSession } from "../engine/ssh.ts";
import { mapPool } from "../engine/pool.ts";

/** Connect to every host of `inventory`, run `:` once, close. Returns the wall time in ms. */
export async function floor(inventory: string, forks: number): Promise<number> {
  const t0 = performance.now();
  const inv = await loadInventory(inventory);
  await mapPool([...inv.hosts.values()], forks, async (h) => {
    const s = await SshSession.open(targetOf(h));
    try {
      const r = await s.runScript(":\n");
      if (r.code !== 0) throw new Error(`${h.name}: exit ${r.code}`);
    } finally {
      s.close();
    }
  });
  return performance.now() - t0;
}

if (import.meta.main) {
  const [inventory, forks] = Deno.args;
  const ms = await floor(inventory, Number(forks ?? 50));
  console.log(JSON.stringify({ floorMs: Math.round(ms) }));
}
