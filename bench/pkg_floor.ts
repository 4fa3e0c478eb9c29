/**
 * The package floor of a converge: only the apt work haplay's site playbook does, as fast as it
 * can be done. Per host one SSH connection and one exec (haplay's own client,
 * {@link SshSession}), all hosts in parallel, running the `apply` of every `apt` task the site
 * playbook's plays give that host, in play order: the same package names, the same
 * `DEBIAN_FRONTEND=noninteractive`, debconf preseeding and apt-get update decision, each guarded
 * like the planner decides (`state: present`: only when a named package is not installed). Not
 * counted: probes, journal, rollback backups, handlers, gates, serial batches. A converge cannot
 * do less. As a CLI (`deno run ... bench/pkg_floor.ts INV FORKS`) it includes Deno's startup,
 * like the haplay CLI it is compared with.
 * @module
 */
import { type Inventory, loadInventory } from "../engine/inventory.ts";
import { targetOf } from "../engine/run.ts";
import { selectHosts } from "../engine/patterns.ts";
import { q } from "../engine/shell.ts";
import { SshSession } from "../engine/ssh.ts";
import { mapPool } from "../engine/pool.ts";
import type { Play, Task } from "../engine/types.ts";
import { plays as sitePlays } from "../playbooks/site.ts";

/** The `apt` tasks of every host (hosts with none left out), in the order the plays run them. */
export function aptTasks(inv: Inventory, plays: Play[] = sitePlays): Map<string, Task[]> {
  const out = new Map<string, Task[]>();
  for (const play of plays) {
    for (const name of selectHosts(inv, play.hosts)) {
      const h = inv.hosts.get(name)!;
      const ctx = { name, vars: h.vars, groups: h.groups, all: inv.hosts };
      const apt = play.tasks(ctx).filter((t) => t.module === "apt");
      if (apt.length) out.set(name, [...(out.get(name) ?? []), ...apt]);
    }
  }
  return out;
}

/** Package names of an `apt` task (its resource is `apt:NAME,NAME`). */
export function aptNames(t: Task): string[] {
  return t.resource.replace(/^apt:/, "").split(",");
}

/**
 * The apply script of an `apt` task, from its own planner given the facts of a host where none
 * of its packages is installed and the apt cache is stale (the apply decides about
 * `apt-get update` on the host itself).
 */
export function aptApply(t: Task): string {
  const facts = [
    ...aptNames(t).map((n) => `pkg=${n}||1`),
    "cache_mtime=0",
    `now=${Math.floor(Date.now() / 1000)}`,
    "end=1",
  ].join("\n");
  const p = t.plan(facts);
  if (p.kind !== "change" || !p.apply.includes(" install --no-upgrade ")) {
    throw new Error(`${t.name}: the package floor handles state "present" installs only`);
  }
  // package work only: not the journal's record of what the install pulled in (dpkg's installed
  // list before and after, written to `$J/apt.*` for a purging rollback)
  return p.apply.split("\n").filter((l) => !l.includes('"$J/apt.')).join("\n");
}

/**
 * sh of one host: each task's apply (in a `set -e` subshell, as haplay's apply script runs it)
 * when one of its packages is missing; output to a temp log, its tail on stderr on failure.
 */
export function pkgFloorScript(tasks: Task[]): string {
  const steps = tasks.map((t) =>
    [
      `if hp_missing ${aptNames(t).map(q).join(" ")}; then`,
      `( set -e\n${aptApply(t)}\n) </dev/null >>"$_log" 2>&1`,
      `_rc=$?; if [ $_rc != 0 ]; then tail -n 20 "$_log" >&2; exit $_rc; fi`,
      `fi`,
    ].join("\n")
  );
  return [
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C",
    "hp_missing() {",
    "  for _p; do",
    `    case $(dpkg-query -W -f='\${db:Status-Abbrev}' "$_p" 2>/dev/null) in ?i*) ;; *) return 0 ;; esac`,
    "  done",
    "  return 1",
    "}",
    // the apply records dpkg's installed list before and after in its journal directory
    "_log=$(mktemp); J=$(mktemp -d)",
    ...steps,
    'rm -rf "$_log" "$J"',
    "",
  ].join("\n");
}

/** Install every host's packages of `inventory` (site playbook). Returns the wall time in ms. */
export async function pkgFloor(inventory: string, forks: number): Promise<number> {
  const t0 = performance.now();
  const inv = await loadInventory(inventory);
  const scripts = [...aptTasks(inv)].map(([name, tasks]) => ({
    h: inv.hosts.get(name)!,
    script: pkgFloorScript(tasks),
  }));
  await mapPool(scripts, forks, async ({ h, script }) => {
    const s = await SshSession.open(targetOf(h));
    try {
      const r = await s.runScript(script);
      if (r.code !== 0) throw new Error(`${h.name}: exit ${r.code}: ${r.stderr}`);
    } finally {
      s.close();
    }
  });
  return performance.now() - t0;
}

if (import.meta.main) {
  const [inventory, forks] = Deno.args;
  const ms = await pkgFloor(inventory, Number(forks ?? 50));
  console.log(JSON.stringify({ pkgFloorMs: Math.round(ms) }));
}
