/**
 * The data path with real IPVS: five QEMU guests (vmlab) booted ONCE, then for each mode — NAT,
 * DR with the VIP on lo, DR with REDIRECT real servers, DSR via fwmark, same-box DR — haplay
 * deploys the site playbook from `inventories/`, the client checks round robin, keepalived's
 * health check removing and re-adding a stopped web server, and VRRP failover under load (the
 * MASTER's keepalived stopped; failed requests and the gap counted), then haplay rolls back and
 * every guest must equal its snapshot from before the first mode. Prints the results table and
 * writes it to `results.md`.
 *
 * Lab `dp`, management subnet 198.19.240.0/24 (env HAPLAY_DP_SUBNET: another /24, e.g. while
 * the bench uses that one; the inventories' 198.19.240.x addresses follow it). Needs root, qemu-system-x86, qemu-utils,
 * debootstrap (the image is built once into /var/cache/haplay/vmlab).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { snapshots, vmTest, withVmLab } from "./fixture.ts";
import { runMode } from "./mode.ts";
import { type ModeResult, resultsMarkdown, writeResultsSection } from "./results.ts";
import { SCENARIOS } from "./scenarios.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
/** HAPLAY_DATAPATH_MODES="same-box DR,NAT" runs only those modes (results.md is left alone). */
const only = Deno.env.get("HAPLAY_DATAPATH_MODES")?.split(",").map((m) => m.trim());
const log = (l: string) => console.log(`[datapath ${new Date().toISOString().slice(11, 19)}] ${l}`);

vmTest("data path: NAT, DR lo, DR REDIRECT, DSR fwmark, same-box DR with real IPVS", async (t) => {
  const t0 = performance.now();
  const rows: ModeResult[] = [];
  let about = "";
  const mgmtSubnet = Deno.env.get("HAPLAY_DP_SUBNET") || "198.19.240.0/24";
  // a machine loaded by other labs boots TCG guests slowly: HAPLAY_DP_BOOT_TIMEOUT (s, default 300)
  const bootTimeout = Number(Deno.env.get("HAPLAY_DP_BOOT_TIMEOUT") || 300);
  await withVmLab({ name: "dp", mgmtSubnet, bootTimeout, log }, async (lab) => {
    log(`5 guests up in ${lab.bootSeconds} s (${lab.accel}, kernel ${lab.kernelVersion})`);
    const baseline = await snapshots(lab);
    const password = "Vr" + crypto.randomUUID().slice(0, 6);
    for (const sc of SCENARIOS.filter((x) => !only || only.includes(x.mode))) {
      const row: ModeResult = {
        mode: sc.mode,
        balanced: "not reached",
        health: "not reached",
        failover: "not reached",
        rollback: "not reached",
        deployS: 0,
        totalS: 0,
        ok: false,
      };
      rows.push(row);
      await t.step({
        name: sc.mode,
        sanitizeOps: false,
        sanitizeResources: false,
        fn: () =>
          runMode(lab, sc, { inventoryDir: `${here}inventories`, baseline, password, log }, row),
      });
    }
    about =
      `Run ${new Date().toISOString().slice(0, 16)}Z: QEMU ${lab.accel.toUpperCase()}, Debian ` +
      `kernel ${lab.kernelVersion}, 5 guests (256 MiB, 1 vCPU each) on a ${navigator.hardwareConcurrency}-core ` +
      `machine; boot ${lab.bootSeconds} s; whole test ${
        Math.round((performance.now() - t0) / 1000)
      } s.`;
  });
  const md = resultsMarkdown(rows, about);
  console.log("\n" + md);
  if (!only) {
    await writeResultsSection(`${here}results.md`, "modes", md);
  }
  assert.ok(rows.length > 0, `HAPLAY_DATAPATH_MODES=${only} matches no mode`);
  assert.deepEqual(rows.filter((r) => !r.ok).map((r) => r.mode), [], "modes that failed");
});
