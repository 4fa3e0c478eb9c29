/**
 * Host CPU of a converge's apply, per task: on fresh lab hosts (nothing deployed), every task of
 * the site playbook's plays for each named host, in play order, probed and planned alone, and a
 * change applied alone through the engine's own apply script (journal entry, backup, apply, the
 * handlers it notified), each exec's host CPU read before and after (the host's process-tree
 * CPU). Also the exec of an apply script with no change (lock, generation, run directory: the
 * engine's fixed cost per apply) and, per host, the sum by task kind. Shows what a converge
 * spends beyond its package work.
 *
 * ```sh
 * deno run -A bench/apply_cpu.ts INVENTORY LAB_NAME [HOST...]
 * deno run -A bench/apply_cpu.ts --fresh LAB_NAME SUBNET [HOST...]  # a 4-host bench lab (left up)
 * ```
 * @module
 */
import { loadInventory } from "../engine/inventory.ts";
import { loadPlaybook } from "../engine/playbook.ts";
import { selectHosts } from "../engine/patterns.ts";
import { prepare } from "../engine/run.ts";
import { newRunId } from "../engine/run.ts";
import { applyScript, newNonce, parseApply, parseProbe, probeScript } from "../engine/script.ts";
import { labLoad } from "../lab/lab.ts";
import { hostCpuMs } from "./host_cpu.ts";
import { writeInventories } from "./inventories.ts";
import { freshLab, makeBaseline } from "./lab_env.ts";
import { REPO, VRRP_PASS } from "./tools.ts";
import { openLabHost } from "./_lab_host.ts";

const HANDLER_LOOP = `for _f in "$HP"/pending/*; do`;
const NO_LOOP = "for _f in; do";

/** Host CPU of one task's probe and (when it planned a change) its apply. */
export interface TaskApplyCpu {
  host: string;
  task: string;
  module: string;
  changed: boolean;
  probeCpuMs: number;
  applyCpuMs: number;
}

/** Sum of `applyCpuMs` by module over `rows`. */
export function byModule(rows: TaskApplyCpu[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.module] = (out[r.module] ?? 0) + r.applyCpuMs;
  return out;
}

/** Apply every task of `hosts` alone, in play order, measuring each exec's host CPU. */
export async function applyCpu(inventory: string, labName: string, hosts: string[]) {
  Deno.env.set("HAPLAY_VRRP_PASS", Deno.env.get("HAPLAY_VRRP_PASS") ?? VRRP_PASS);
  const lab = await labLoad(labName);
  if (!lab) throw new Error(`lab ${labName} is not up`);
  const inv = await loadInventory(inventory);
  const pb = await loadPlaybook(`${REPO}/playbooks/site.ts`);
  const rows: TaskApplyCpu[] = [];
  for (const name of hosts) {
    const { labHost, session: s } = await openLabHost(lab, inv, name);
    const cpu = async (script: string) => {
      const a = (await hostCpuMs(lab))[labHost];
      const r = await s.runScript(script);
      return { r, ms: (await hostCpuMs(lab))[labHost] - a };
    };
    for (const play of pb.plays) {
      if (!selectHosts(inv, play.hosts).includes(name)) continue;
      const [p] = prepare(inv, play, [name], {});
      const ctx = (generation: string) => ({
        nonce: newNonce(),
        runId: newRunId(),
        generation,
        owner: "apply_cpu",
        handlers: p.handlers,
        pending: [],
        keepRuns: 20,
        play: play.name,
      });
      const nonce0 = newNonce();
      const empty = await cpu(probeScript([], nonce0));
      const gen0 = parseProbe(empty.r.stdout, 0, nonce0).generation;
      const c0 = ctx(gen0);
      const none = await cpu(applyScript([], c0));
      rows.push({
        host: name,
        task: `(apply with no change, play ${play.name})`,
        module: "-",
        changed: parseApply(none.r.stdout, c0.nonce).finished,
        probeCpuMs: empty.ms,
        applyCpuMs: none.ms,
      });
      for (const [index, task] of p.tasks.entries()) {
        const nonce = newNonce();
        const pr = await cpu(probeScript([task], nonce));
        const facts = parseProbe(pr.r.stdout, 1, nonce);
        const plan = task.plan(facts.facts[0]);
        let applyMs = 0;
        if (plan.kind === "change") {
          const c = ctx(facts.generation);
          // notified handlers stay pending until the play's end, as in one apply of the play
          const script = applyScript([{ index, task, change: plan }], c).replace(
            HANDLER_LOOP,
            NO_LOOP,
          );
          const ap = await cpu(script);
          const res = parseApply(ap.r.stdout, c.nonce);
          if (!res.finished) {
            throw new Error(`${name}: ${task.name}: apply failed: ${JSON.stringify(res.failed)}`);
          }
          applyMs = ap.ms;
        }
        rows.push({
          host: name,
          task: task.name,
          module: task.module,
          changed: plan.kind === "change",
          probeCpuMs: pr.ms,
          applyCpuMs: applyMs,
        });
      }
      const c = ctx(
        parseProbe((await s.runScript(probeScript([], nonce0))).stdout, 0, nonce0)
          .generation,
      );
      const hs = await cpu(applyScript([], c));
      const res = parseApply(hs.r.stdout, c.nonce);
      if (!res.finished) {
        throw new Error(`${name}: handlers failed: ${JSON.stringify(res.handlerFailed)}`);
      }
      rows.push({
        host: name,
        task: `(handlers: ${res.handlersRun.join(", ") || "none"})`,
        module: "handlers",
        changed: res.handlersRun.length > 0,
        probeCpuMs: 0,
        applyCpuMs: hs.ms,
      });
    }
    s.close();
  }
  return rows;
}

/** A fresh 4-host bench lab (baseline made): returns its haplay inventory. */
export async function freshBenchLab(name: string, subnet: string): Promise<string> {
  const lab = await freshLab(name, subnet, 4);
  const inv = await writeInventories(
    lab,
    await Deno.makeTempDir({ prefix: "apply-cpu-" }),
    "direct",
  );
  await makeBaseline(lab, inv.hosts);
  return inv.haplay;
}

if (import.meta.main) {
  let [inventory, labName, ...hosts] = Deno.args;
  if (inventory === "--fresh" && hosts.length) {
    const subnet = hosts.shift()!;
    inventory = await freshBenchLab(labName, subnet);
    console.error(`lab ${labName} up (4 hosts), inventory ${inventory}`);
  }
  if (!inventory || !labName) {
    console.error("usage: deno run -A bench/apply_cpu.ts INVENTORY LAB_NAME [HOST...]");
    Deno.exit(4);
  }
  const rows = await applyCpu(inventory, labName, hosts.length ? hosts : ["lb1", "web1"]);
  console.log(JSON.stringify(rows));
  for (const r of rows) {
    console.log(
      `${r.host.padEnd(6)} apply ${String(r.applyCpuMs).padStart(5)} ms  probe ${
        String(r.probeCpuMs).padStart(4)
      } ms  ${r.module.padEnd(12)} ${r.task}`,
    );
  }
  for (const host of new Set(rows.map((r) => r.host))) {
    console.log(host, JSON.stringify(byModule(rows.filter((r) => r.host === host))));
  }
}
