/**
 * Where a haplay no-op run's time goes, next to the floor (connect + one trivial exec):
 * Deno startup and module load, inventory/playbook/lint, and per host the SSH connect, a
 * trivial exec, the probe exec (all plays' probes in one script, as the engine sends it) and
 * that script's run time on the host. Hosts are measured one at a time (no contention) and all
 * at once (as a run does).
 *
 * ```sh
 * deno run --allow-run --allow-read --allow-write --allow-env --allow-net --allow-sys \
 *   bench/profile.ts INVENTORY [PLAYBOOK]
 * ```
 * @module
 */
import { loadInventory } from "../engine/inventory.ts";
import { loadPlaybook } from "../engine/playbook.ts";
import { prepare, targetOf } from "../engine/run.ts";
import { newNonce, probeScript } from "../engine/script.ts";
import { selectHosts } from "../engine/patterns.ts";
import { SshSession } from "../engine/ssh.ts";
import type { Task } from "../engine/types.ts";
import { median } from "./results.ts";
import { DENO_FLAGS, REPO, VRRP_PASS } from "./tools.ts";

/** Timings of one host, in ms. */
export interface HostProfile {
  host: string;
  connectMs: number;
  trivialExecMs: number;
  probeExecMs: number;
  /** Run time of the probe script on the host itself. */
  probeHostMs: number;
  probeBytes: number;
  tasks: number;
}

async function wall(args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
    .output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  return Math.round(performance.now() - t0);
}

/** Deno startup alone, with the floor's modules, with the CLI's modules (median of 3). */
export async function startup() {
  const m = async (args: string[]) =>
    median([await wall(args), await wall(args), await wall(args)])!;
  const imp = (mods: string[]) =>
    mods.map((x) => `import ${JSON.stringify(`${REPO}/${x}`)};`).join(" ");
  return {
    denoBareMs: await m(["eval", "0"]),
    floorModulesMs: await m([
      "eval",
      imp(["engine/inventory.ts", "engine/ssh.ts", "engine/run.ts"]),
    ]),
    cliModulesMs: await m(["eval", imp(["engine/cli.ts", "playbooks/site.ts"])]),
  };
}

/** Every task of a host over all plays (what the engine's first probe covers). */
export function allTasks(
  inv: Awaited<ReturnType<typeof loadInventory>>,
  plays: Awaited<ReturnType<typeof loadPlaybook>>["plays"],
) {
  const per = new Map<string, Task[]>();
  for (const play of plays) {
    for (const p of prepare(inv, play, selectHosts(inv, play.hosts), {})) {
      per.set(p.host.name, [...(per.get(p.host.name) ?? []), ...p.tasks]);
    }
  }
  return per;
}

async function profileHost(
  h: Parameters<typeof targetOf>[0],
  tasks: Task[],
): Promise<HostProfile> {
  const t0 = performance.now();
  const s = await SshSession.open(targetOf(h));
  const t1 = performance.now();
  await s.runScript(":\n");
  const t2 = performance.now();
  const script = probeScript(tasks, newNonce());
  const wrapped = await s.exec(
    `/bin/sh -c 'a=$(date +%s%N); /bin/sh -s; b=$(date +%s%N); echo "@@ns=$((b - a))" >&2'`,
    script,
  );
  const t3 = performance.now();
  s.close();
  const ns = Number(/@@ns=(\d+)/.exec(wrapped.stderr)?.[1] ?? 0);
  return {
    host: h.name,
    connectMs: Math.round(t1 - t0),
    trivialExecMs: Math.round(t2 - t1),
    probeExecMs: Math.round(t3 - t2),
    probeHostMs: Math.round(ns / 1e6),
    probeBytes: script.length,
    tasks: tasks.length,
  };
}

/** Profile a no-op run of `playbook` on `inventory`. */
export async function profile(inventory: string, playbook = `${REPO}/playbooks/site.ts`) {
  Deno.env.set("HAPLAY_VRRP_PASS", Deno.env.get("HAPLAY_VRRP_PASS") ?? VRRP_PASS);
  const t0 = performance.now();
  const inv = await loadInventory(inventory);
  const t1 = performance.now();
  const pb = await loadPlaybook(playbook);
  const t2 = performance.now();
  if (pb.lint) await pb.lint(inv);
  const t3 = performance.now();
  const tasks = allTasks(inv, pb.plays);
  const t4 = performance.now();
  const hosts = [...inv.hosts.values()];
  const one: HostProfile[] = [];
  for (const h of hosts.slice(0, 4)) one.push(await profileHost(h, tasks.get(h.name) ?? []));
  const t5 = performance.now();
  const all = await Promise.all(hosts.map((h) => profileHost(h, tasks.get(h.name) ?? [])));
  const allMs = performance.now() - t5;
  const med = (xs: HostProfile[], k: keyof HostProfile) => median(xs.map((x) => x[k] as number));
  const max = (xs: HostProfile[], k: keyof HostProfile) =>
    Math.max(...xs.map((x) => x[k] as number));
  const summary = (xs: HostProfile[]) => ({
    connectMs: { median: med(xs, "connectMs"), max: max(xs, "connectMs") },
    trivialExecMs: { median: med(xs, "trivialExecMs"), max: max(xs, "trivialExecMs") },
    probeExecMs: { median: med(xs, "probeExecMs"), max: max(xs, "probeExecMs") },
    probeHostMs: { median: med(xs, "probeHostMs"), max: max(xs, "probeHostMs") },
    probeBytes: { median: med(xs, "probeBytes"), max: max(xs, "probeBytes") },
    tasks: { median: med(xs, "tasks"), max: max(xs, "tasks") },
  });
  return {
    hosts: hosts.length,
    startup: await startup(),
    inProcess: {
      loadInventoryMs: Math.round(t1 - t0),
      loadPlaybookMs: Math.round(t2 - t1),
      lintMs: Math.round(t3 - t2),
      prepareMs: Math.round(t4 - t3),
    },
    oneAtATime: summary(one),
    allAtOnce: { wallMs: Math.round(allMs), ...summary(all) },
  };
}

if (import.meta.main) {
  const [inventory, playbook] = Deno.args;
  if (!inventory) {
    console.error(`usage: deno run ${DENO_FLAGS.join(" ")} bench/profile.ts INVENTORY [PLAYBOOK]`);
    Deno.exit(4);
  }
  console.log(JSON.stringify(await profile(inventory, playbook), null, 2));
}
