/**
 * Records the kernel IPVS tables that `test/verify_ipvs_test.ts` judges, on real IPVS: boots a VM
 * lab (`kt2`, management 198.19.155.0/24), and for each data-path inventory deploys the site
 * playbook, saves `/proc/net/ip_vs` and `ipvsadm -Ln --exact` of both directors (and, for NAT,
 * again with web2's server stopped until keepalived removed it), runs verify and prints its IPVS
 * checks, then rolls back. Slow (boot ~2–5 min under load, ~1 min per mode); run by hand:
 *
 *   HAPLAY_VMLAB_CACHE=/var/cache/haplay/vmlab-kt deno run --allow-run --allow-read \
 *     --allow-write --allow-env --allow-net --allow-sys test/verify_ipvs_record.ts [OUTDIR]
 *
 * OUTDIR (default test/fixtures/ipvs) gets `<inventory>-<host>.proc` / `.ipvsadm` files and
 * `verify.txt`.
 * @module
 */
import { loadInventory } from "../engine/inventory.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { runPlaybook } from "../engine/run.ts";
import { plays } from "../playbooks/site.ts";
import { verifyLb } from "../lb/verify.ts";
import { vmSh } from "../vmlab/exec.ts";
import { withVmConnection } from "../vmlab/inventory.ts";
import type { VmLab } from "../vmlab/types.ts";
import { runEach, withVmLab } from "./datapath/fixture.ts";
import { SCENARIOS } from "./datapath/scenarios.ts";

const here = new URL(".", import.meta.url).pathname;
const out = Deno.args[0] ?? `${here}fixtures/ipvs`;
const only = Deno.env.get("HAPLAY_DATAPATH_MODES")?.split(",").map((m) => m.trim());
const log = (l: string) => console.log(`[record ${new Date().toISOString().slice(11, 19)}] ${l}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await Deno.mkdir(out, { recursive: true });
const report: string[] = [];

async function save(lab: VmLab, name: string, hosts: string[]) {
  for (const h of hosts) {
    await Deno.writeTextFile(`${out}/${name}-${h}.proc`, await vmSh(lab, h, "cat /proc/net/ip_vs"));
    await Deno.writeTextFile(
      `${out}/${name}-${h}.ipvsadm`,
      await vmSh(lab, h, "ipvsadm -Ln --exact"),
    );
  }
}

async function verifyIpvs(inv: Awaited<ReturnType<typeof loadInventory>>, what: string) {
  const checks = await verifyLb({ inventory: inv, log: () => {}, timeoutMs: 60_000 });
  report.push(`## ${what}`);
  for (const c of checks.filter((c) => c.check === "IPVS table" || !c.ok)) {
    report.push(`${c.host} [${c.ok ? "ok" : "FAILED"}] ${c.check}: ${c.detail}`);
  }
  log(`${what}: ${checks.filter((c) => !c.ok).length} failed check(s)`);
}

await withVmLab(
  { name: "kt2", mgmtSubnet: "198.19.155.0/24", log, bootTimeout: 900 },
  async (lab) => {
    const password = "Vr" + crypto.randomUUID().slice(0, 6);
    for (const sc of SCENARIOS.filter((x) => !only || only.includes(x.mode))) {
      const name = sc.inventory.replace(/\.yaml$/, "");
      const path = `${lab.dir}/${sc.inventory}`;
      await Deno.writeTextFile(
        path,
        withVmConnection(
          await Deno.readTextFile(`${here}datapath/inventories/${sc.inventory}`),
          lab,
        ),
      );
      const inv = await loadInventory(path, { env: { HAPLAY_VRRP_PASS: password } });
      const webHosts = [...new Set([...sc.servers, "web1", "web2"])];
      await runEach(
        lab,
        Object.fromEntries(webHosts.map((h) => [h, "/etc/init.d/vmlab-web start"])),
      );
      await runEach(lab, sc.envUp);
      try {
        const rep = await runPlaybook(inv, plays, { log: () => {}, timeoutMs: 60_000 });
        log(`${sc.mode}: deployed (ok=${rep.ok})`);
        await verifyIpvs(inv, `${sc.mode}: after deploy`);
        await save(lab, name, sc.directors);
        if (sc.inventory === "nat.yaml") {
          await vmSh(lab, "web2", "/etc/init.d/vmlab-web stop");
          for (let i = 0; i < 60; i++) {
            if (!(await vmSh(lab, "lb1", "ipvsadm -Ln")).includes("198.18.10.14:")) break;
            await sleep(1000);
          }
          await verifyIpvs(inv, `${sc.mode}: web2 stopped`);
          await save(lab, `${name}-web2-down`, sc.directors);
          await vmSh(lab, "web2", "/etc/init.d/vmlab-web start");
        }
      } catch (e) {
        report.push(`## ${sc.mode}: ERROR ${(e as Error).message}`);
        log(`${sc.mode}: ${(e as Error).message}`);
      } finally {
        await rollbackHosts(inv, { log: () => {}, timeoutMs: 60_000 });
        await runEach(lab, sc.envDown);
        await runEach(
          lab,
          Object.fromEntries(webHosts.map((h) => [h, "/etc/init.d/vmlab-web stop"])),
        );
      }
    }
    report.unshift(`# verify's IPVS checks on kernel ${lab.kernelVersion} (${lab.accel})`);
  },
);
await Deno.writeTextFile(`${out}/verify.txt`, report.join("\n") + "\n");
console.log(report.join("\n"));
