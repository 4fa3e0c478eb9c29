/**
 * VRRP failover on a deployed pair (seed 003, VRRP only, advert_int 1): stop the MASTER's
 * keepalived, the VIP is on the BACKUP within 4 s; start it, the VIP is preempted back; the
 * notify hooks ran as `keepalived_script` (enable_script_security), not as root. On systemd lab
 * hosts: keepalived stopped and started through `systemctl`.
 * Lab fo1 on 198.18.212.0/24.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { e2e, withLab } from "./lab_fixture.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { plays } from "../playbooks/site.ts";
import { labInventoryText } from "../lab/inventory.ts";

const EXAMPLE = fileURLToPath(new URL("../inventory/examples/003-vrrp-only.yaml", import.meta.url));

async function sh(lab: Lab, host: string, cmd: string): Promise<string> {
  return (await labExec(lab, host, ["sh", "-c", cmd])).stdout.trim();
}

async function holder(lab: Lab, vip: string): Promise<string> {
  const out: string[] = [];
  for (const h of ["h1", "h2"]) {
    if ((await sh(lab, h, "ip -o -4 addr show dev eth0")).includes(` ${vip}/`)) out.push(h);
  }
  return out.join("+");
}

async function until(what: string, ms: number, pred: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (await pred()) return (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

e2e(
  "failover: VIP on the BACKUP within 4 s, preempted back, hooks ran as keepalived_script",
  async () => {
    Deno.env.set("HAPLAY_VRRP_PASS", "fo" + crypto.randomUUID().slice(0, 6));
    await withLab(
      { name: "fo1", subnet: "198.18.212.0/24", hosts: 2, aptRepo: true, init: "systemd" },
      async (lab) => {
        const vip = "198.18.212.10";
        const text = labInventoryText(await Deno.readTextFile(EXAMPLE), lab)
          .replace(/notify_master: \[.*\]/, `notify_master: ["id -un >> /tmp/hook-master"]`)
          .replace(/notify_backup: \[.*\]/, `notify_backup: ["id -un >> /tmp/hook-backup"]`);
        assert.match(text, /hook-master/);
        const path = `${lab.dir}/failover.yaml`;
        await Deno.writeTextFile(path, text);
        const log: string[] = [];
        const r = await runPlaybook(await loadInventory(path), plays, { log: (l) => log.push(l) });
        assert.equal(r.ok, true, log.join("\n"));
        await until(
          "h1 (priority 150) to hold the VIP",
          15000,
          async () => (await holder(lab, vip)) === "h1",
        );

        // systemd hosts: stop through systemctl, which returns once keepalived exited
        await sh(lab, "h1", "systemctl stop keepalived");
        const moved = await until(
          "the VIP on h2",
          4000,
          async () => (await holder(lab, vip)) === "h2",
        );
        console.log(`VIP moved to the BACKUP in ${moved.toFixed(2)} s`);
        await until(
          "h2's notify_master hook",
          4000,
          async () => (await sh(lab, "h2", "cat /tmp/hook-master 2>/dev/null")).length > 0,
        );
        assert.deepEqual(
          [...new Set((await sh(lab, "h2", "cat /tmp/hook-master")).split("\n"))],
          ["keepalived_script"],
        );
        assert.equal(await sh(lab, "h2", "stat -c %U /tmp/hook-master"), "keepalived_script");

        await until(
          "keepalived on h1 to exit",
          10000,
          async () =>
            (await sh(lab, "h1", "kill -0 $(cat /run/keepalived.pid) 2>/dev/null && echo up")) ===
              "",
        );
        assert.equal(await sh(lab, "h1", "systemctl is-active keepalived"), "inactive");
        await sh(lab, "h1", "systemctl start keepalived");
        assert.equal(await sh(lab, "h1", "systemctl is-active keepalived"), "active");
        const back = await until(
          "the VIP back on h1",
          10000,
          async () => (await holder(lab, vip)) === "h1",
        );
        console.log(`preempted back to the MASTER in ${back.toFixed(2)} s`);
        await until(
          "h2's notify_backup hook",
          4000,
          async () =>
            (await sh(lab, "h2", "cat /tmp/hook-backup 2>/dev/null")).includes("keepalived_script"),
        );
        assert.doesNotMatch(
          await sh(lab, "h2", "cat /tmp/hook-backup /tmp/hook-master"),
          /^root$/m,
        );
      },
    );
  },
);
