/**
 * The probe script's size and helpers (issue 18): it carries only the probe prelude, every
 * probe of every example inventory calls only what that prelude defines, and the bench's
 * strace summary parser counts forks and execs.
 * @module
 */
import assert from "node:assert/strict";
import { loadInventory } from "../engine/inventory.ts";
import { PRELUDE, PROBE_PRELUDE } from "../engine/prelude.ts";
import { newNonce, probeScript } from "../engine/script.ts";
import { plays } from "../playbooks/site.ts";
import { allTasks } from "../bench/profile.ts";
import { straceCounts } from "../bench/probe_cost.ts";

const EXAMPLES = new URL("../inventory/examples/", import.meta.url).pathname;

/** Helpers of the full prelude a probe must not call (they write, or read `$HP_UMASK`). */
const APPLY_ONLY = /\bhp_(save_path|restore_path|mkparents|rm_created|put_file)\b|\$HP_UMASK/;

Deno.test("probe script: the probe prelude only, and no probe calls an apply-side helper", async () => {
  Deno.env.set("HAPLAY_VRRP_PASS", Deno.env.get("HAPLAY_VRRP_PASS") ?? "probe-cost-test");
  let probes = 0;
  for await (const f of Deno.readDir(EXAMPLES)) {
    if (!f.name.endsWith(".yaml")) continue;
    const inv = await loadInventory(`${EXAMPLES}${f.name}`);
    for (const [host, tasks] of allTasks(inv, plays)) {
      for (const t of tasks) {
        probes++;
        assert.doesNotMatch(t.probe, APPLY_ONLY, `${f.name} ${host} ${t.name}`);
      }
      const s = probeScript(tasks, newNonce());
      assert.ok(s.includes(PROBE_PRELUDE), `${f.name} ${host}: the probe prelude`);
      assert.ok(!s.includes("hp_save_path()"), `${f.name} ${host}: not the apply prelude`);
    }
  }
  assert.ok(probes > 50, `probes of the examples: ${probes}`);
  assert.ok(PRELUDE.length - PROBE_PRELUDE.length > 1500, "the probe saves the apply helpers");
});

Deno.test("probe cost: strace -c summary counts forks and execs", () => {
  const summary = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 62.50    0.000500          10        50           clone
  0.00    0.000000           0         3           vfork
 37.50    0.000300           5        57         2 execve
------ ----------- ----------- --------- --------- ----------------
100.00    0.000800           7       110         2 total`;
  assert.deepEqual(straceCounts(summary), { forks: 53, execs: 57 });
});
