/**
 * What one no-op probe costs per host, against the floor's exec of `:`: the bytes the
 * controller sends (the probe script the engine builds, all plays' tasks in one exec) and
 * receives (its stdout), the processes the host forks for it (`strace -f -c` around the probe's
 * `sh`, counted from its clone/fork/vfork calls) and the host CPU it costs (the growth of the
 * host's process-tree CPU time, 20 probes per reading, minus the same number of execs of `:`).
 * With `--before`, the same probes framed as the engine did before the probe prelude (the
 * whole helper prelude, `$(umask)` included), measured alternately in the same minutes.
 *
 * ```sh
 * deno run -A bench/probe_cost.ts INVENTORY LAB_NAME [HOST...]
 * ```
 * @module
 */
import { loadInventory } from "../engine/inventory.ts";
import { loadPlaybook } from "../engine/playbook.ts";
import { PRELUDE, PROBE_PRELUDE } from "../engine/prelude.ts";
import { newNonce, probeScript } from "../engine/script.ts";
import { labLoad } from "../lab/lab.ts";
import { hostCpuMs } from "./host_cpu.ts";
import { allTasks } from "./profile.ts";
import { REPO, VRRP_PASS } from "./tools.ts";
import { openLabHost } from "./_lab_host.ts";
import type { SshSession } from "../engine/ssh.ts";

const REPEAT = 20;

/** Cost of one script on one host. */
export interface ScriptCost {
  bytesSent: number;
  bytesReceived: number;
  /** Processes forked on the host while the script ran (the `sh` that runs it excluded). */
  forks: number;
  /** execve calls (programs run). */
  execs: number;
  /** Host CPU ms per run. */
  cpuMs: number;
}

/** The fork and exec counts of an `strace -f -c` summary. */
export function straceCounts(summary: string): { forks: number; execs: number } {
  let forks = 0, execs = 0;
  for (const line of summary.split("\n")) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)(?:\s+\d+)?\s+(\w+)\s*$/.exec(line);
    if (!m) continue;
    if (["clone", "clone3", "fork", "vfork"].includes(m[2])) forks += Number(m[1]);
    if (m[2] === "execve") execs += Number(m[1]);
  }
  return { forks, execs };
}

async function cost(s: SshSession, script: string, cpuOf: () => Promise<number>) {
  const out = await s.runScript(script);
  const traced = await s.exec(
    "strace -f -c -qq -e trace=clone,clone3,fork,vfork,execve -o /dev/fd/3 /bin/sh -s 3>&2 2>/dev/null",
    script,
  );
  const { forks, execs } = straceCounts(traced.stderr);
  const a = await cpuOf();
  for (let i = 0; i < REPEAT; i++) await s.runScript(script);
  const cpuMs = (await cpuOf() - a) / REPEAT;
  return {
    bytesSent: new TextEncoder().encode(script).length,
    bytesReceived: new TextEncoder().encode(out.stdout).length,
    forks,
    // strace's own execve of sh
    execs: Math.max(0, execs - 1),
    cpuMs,
  };
}

/** Probe cost of `hosts` (inventory names) next to the floor's `:`. */
export async function probeCost(
  inventory: string,
  labName: string,
  hosts: string[],
  before: boolean,
) {
  Deno.env.set("HAPLAY_VRRP_PASS", Deno.env.get("HAPLAY_VRRP_PASS") ?? VRRP_PASS);
  const lab = await labLoad(labName);
  if (!lab) throw new Error(`lab ${labName} is not up`);
  const inv = await loadInventory(inventory);
  const pb = await loadPlaybook(`${REPO}/playbooks/site.ts`);
  const tasks = allTasks(inv, pb.plays);
  const out: Array<{ host: string; tasks: number; variant: string } & ScriptCost> = [];
  for (const name of hosts) {
    const { labHost, session: s } = await openLabHost(lab, inv, name);
    const cpuOf = async () => (await hostCpuMs(lab))[labHost];
    const ts = tasks.get(name) ?? [];
    const after = probeScript(ts, newNonce());
    const variants: Array<[string, string]> = [["floor ':'", ":\n"], ["probe", after]];
    if (before) {
      variants.push(["probe (before)", after.replace(PROBE_PRELUDE, PRELUDE)]);
    }
    for (const [variant, script] of variants) {
      out.push({ host: name, tasks: ts.length, variant, ...await cost(s, script, cpuOf) });
    }
    s.close();
  }
  return out;
}

if (import.meta.main) {
  const args = Deno.args.filter((a) => a !== "--before");
  const [inventory, labName, ...hosts] = args;
  if (!inventory || !labName) {
    console.error("usage: deno run -A bench/probe_cost.ts INVENTORY LAB_NAME [--before] [HOST...]");
    Deno.exit(4);
  }
  const rows = await probeCost(
    inventory,
    labName,
    hosts.length ? hosts : ["lb1", "web1"],
    Deno.args.includes("--before"),
  );
  console.log(JSON.stringify(rows));
  for (const r of rows) {
    console.log(
      `${r.host.padEnd(6)} ${r.variant.padEnd(15)} sent ${String(r.bytesSent).padStart(6)} B  ` +
        `received ${String(r.bytesReceived).padStart(6)} B  forks ${
          String(r.forks).padStart(3)
        }  execs ${String(r.execs).padStart(3)}  host cpu ${r.cpuMs.toFixed(1)} ms`,
    );
  }
}
