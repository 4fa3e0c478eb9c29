/**
 * Host CPU of each task's probe: on a converged lab, runs every task's probe of `lb1` and
 * `web1` alone (with the engine's prelude) five times over one SSH connection and prints the
 * CPU it cost inside the host (the growth of the host's process-tree CPU time, minus an exec
 * of the prelude alone). Shows which probes make a no-op run cost more than the floor.
 *
 * ```sh
 * deno run -A bench/probe_cpu.ts INVENTORY LAB_NAME
 * ```
 * @module
 */
import { loadInventory } from "../engine/inventory.ts";
import { loadPlaybook } from "../engine/playbook.ts";
import { selectHosts } from "../engine/patterns.ts";
import { PRELUDE } from "../engine/prelude.ts";
import { prepare, targetOf } from "../engine/run.ts";
import { SshSession } from "../engine/ssh.ts";
import { labLoad } from "../lab/lab.ts";
import { hostCpuMs } from "./host_cpu.ts";
import { REPO, VRRP_PASS } from "./tools.ts";

const HEADER =
  `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C\n${PRELUDE}`;
const REPEAT = 5;

/** CPU ms per probe of the first load balancer and the first real server. */
export async function probeCpu(inventory: string, labName: string) {
  Deno.env.set("HAPLAY_VRRP_PASS", Deno.env.get("HAPLAY_VRRP_PASS") ?? VRRP_PASS);
  const lab = await labLoad(labName);
  if (!lab) throw new Error(`lab ${labName} is not up`);
  const inv = await loadInventory(inventory);
  const pb = await loadPlaybook(`${REPO}/playbooks/site.ts`);
  const out: Array<{ host: string; task: string; module: string; cpuMs: number }> = [];
  for (const name of ["lb1", "web1"]) {
    const h = inv.hosts.get(name);
    const ip = String(h?.vars.data_address ?? "").replace(/\/\d+$/, "");
    const labHost = lab.hosts.find((x) => x.ip === ip)?.name;
    if (!h || !labHost) continue;
    const s = await SshSession.open(targetOf(h));
    const cpu = async (script: string) => {
      const a = (await hostCpuMs(lab))[labHost];
      for (let i = 0; i < REPEAT; i++) await s.runScript(script);
      return ((await hostCpuMs(lab))[labHost] - a) / REPEAT;
    };
    out.push({ host: name, task: "exec of ':'", module: "-", cpuMs: await cpu(":\n") });
    const base = await cpu(`${HEADER}\n:\n`);
    out.push({ host: name, task: "exec of the prelude", module: "-", cpuMs: base });
    for (const play of pb.plays) {
      if (!selectHosts(inv, play.hosts).includes(name)) continue;
      const [p] = prepare(inv, play, [name], {});
      for (const t of p.tasks) {
        const c = await cpu(`${HEADER}\n(\n${t.probe}\n) >/dev/null\n`);
        out.push({ host: name, task: t.name, module: t.module, cpuMs: Math.max(0, c - base) });
      }
    }
    s.close();
  }
  return out;
}

if (import.meta.main) {
  const [inventory, labName] = Deno.args;
  if (!inventory || !labName) {
    console.error("usage: deno run -A bench/probe_cpu.ts INVENTORY LAB_NAME");
    Deno.exit(4);
  }
  for (const r of await probeCpu(inventory, labName)) {
    console.log(
      `${r.host.padEnd(5)} ${String(r.cpuMs).padStart(5)} ms  ${r.module.padEnd(12)} ${r.task}`,
    );
  }
}
