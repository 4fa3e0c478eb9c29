/**
 * One play over its hosts (ansible-core's strategy): hosts an earlier play changed are probed
 * again, unreachable ones reported, the rest ordered (`rolling.order`), cut into batches
 * (`rolling.serial`, unless `rolling.when` says nothing is serving), each batch run in parallel
 * (forks), then gated; a failed gate (or a failed apply in a gated play) rolls that host back
 * and stops the play, as does a batch failing past `maxFailPercentage`.
 * @module
 */
import type { Inventory } from "./inventory.ts";
import { type HostFacts, type ProbeRound, probeRound } from "./host_facts.ts";
import { type HostEnv, type HostOptions, runHost, skippedReport } from "./host_run.ts";
import { type GateContext, gateHost, rollbackHost } from "./gate.ts";
import { batches, mapPool } from "./pool.ts";
import { allOk, contextOf, type Prepared, type PreparedPlay } from "./prepare.ts";
import type { Progress } from "./progress.ts";
import type { HostReport } from "./report.ts";
import { isGated, rollingOf } from "./rolling.ts";
import type { SessionPool } from "./session_pool.ts";
import type { HookContext, Play } from "./types.ts";

/** The run's state the plays share. */
export interface RunState {
  inv: Inventory;
  opts: HostOptions & { forks?: number };
  runId: string;
  owner: string;
  log(line: string): void;
  progress: Progress;
  pool: SessionPool;
  /** The run's first probe round, over every play. */
  first: ProbeRound;
  /** Hosts changed by an earlier play of this run: their first-probe facts are stale. */
  touched: Set<string>;
  /** Hosts that failed: later plays skip them. */
  failed: Set<string>;
  /** Journal entries each host got from earlier plays (entries are numbered across plays). */
  offsets: Map<string, number>;
  reports: HostReport[];
}

/** The probe-round environment of a run. */
export function probeEnv(st: RunState) {
  return {
    connect: (host: string) => st.pool.get(st.inv.hosts.get(host)!),
    progress: st.progress,
    log: st.log,
    verbose: st.opts.verbose,
    forks: st.opts.forks,
  };
}

/** Run play number `pi` of the run; its reports go into `st.reports`. */
export async function runPlay(pi: number, { play, items }: PreparedPlay, st: RunState) {
  const { inv, opts, log, pool, reports } = st;
  const rolling = rollingOf(play);
  log(`PLAY [${play.name}] ${opts.check ? "(check mode) " : ""}hosts: ${items.length}`);
  let live = items.filter((p) => !st.failed.has(p.host.name));
  // Hosts an earlier play changed: probe them again for this play, all in one exec each
  // (those without tasks in it have nothing to probe).
  const stale = live.filter((p) => st.touched.has(p.host.name) && p.tasks.length);
  const fresh: ProbeRound = stale.length
    ? await probeRound([{ play, items: stale }], probeEnv(st))
    : new Map();
  const factsOf = (host: string): HostFacts | undefined =>
    fresh.get(host)?.[0] ?? (st.touched.has(host) ? undefined : st.first.get(host)?.[pi]);
  const factsFor = (p: Prepared): HostFacts | undefined => {
    const g = st.first.get(p.host.name)?.[pi];
    // nothing to probe: an earlier play's changes do not matter here
    if (!p.tasks.length && g && !g.error && !fresh.has(p.host.name)) return g;
    const f = factsOf(p.host.name);
    return f && !f.error ? f : undefined;
  };
  const hooks = playHooks(play, st, factsOf);
  const env = (p: Prepared): HostEnv => ({
    opts,
    runId: st.runId,
    owner: st.owner,
    log,
    progress: st.progress,
    connect: () => pool.get(p.host),
    execs: () => pool.execs(p.host.name),
  });
  const run = (p: Prepared) =>
    runHost({
      p,
      play: play.name,
      gate: rolling.gateScript?.script(p.ctx),
      journalOffset: st.offsets.get(p.host.name) ?? 0,
      facts: factsFor(p),
    }, env(p));

  for (const p of live) {
    const f = factsOf(p.host.name);
    if (!f?.error) continue;
    st.log(`${p.host.name}: ${f.unreachable ? "unreachable" : "failed"} - ${f.error}`);
    reports.push(skippedReport(p, play.name, f.error, f.unreachable ? "unreachable" : "failed"));
    st.failed.add(p.host.name);
  }
  live = live.filter((p) => !st.failed.has(p.host.name));
  // Nothing to do for this play anywhere (known from the first probe): no more round trips.
  const idle = live.every((p) => {
    const f = factsFor(p);
    return f && !f.pending.length && allOk(p.tasks, f.facts);
  });
  if (idle) {
    for (const p of live) reports.push(await run(p));
    return;
  }
  if (rolling.order && live.length > 1) live = await ordered(play, live, inv, hooks, log);
  let serial = rolling.serial;
  if (serial !== undefined && rolling.when && live.length > 1) {
    const needed = await Promise.resolve(
      rolling.when(live.map((p) => contextOf(inv, p.host)), hooks),
    ).catch(() => true);
    if (!needed) {
      log(`PLAY [${play.name}] nothing to keep serving: all ${live.length} hosts at once`);
      serial = undefined;
    }
  }
  const gates: GateContext = {
    rolling,
    hooks,
    connect: (p) => pool.get(p.host),
    runId: st.runId,
    owner: st.owner,
    log,
  };
  let aborted = false;
  for (const batch of batches(live, serial)) {
    if (aborted) {
      for (const p of batch) reports.push(skippedReport(p, play.name, "play aborted"));
      continue;
    }
    const forks = Math.max(1, opts.forks ?? Math.min(50, batch.length));
    const res = await mapPool(batch, forks, run);
    for (const r of res) {
      if (r.status === "changed" || r.handlers.length || r.status === "failed") {
        st.touched.add(r.host);
      }
    }
    if (isGated(rolling) && !opts.check) {
      const prepOf = (r: HostReport) => batch.find((b) => b.host.name === r.host)!;
      // A rolling play never leaves a host half-changed: a failed apply is rolled back too.
      for (const r of res.filter((x) => x.status === "failed" && x.applied)) {
        log(`${r.host}: apply failed in a rolling play; rolling this host back`);
        await rollbackHost(gates, prepOf(r), r);
        r.error = `${r.error}; ${r.rolledBack ? "rolled back" : "rollback FAILED"}`;
        aborted = true;
      }
      // the changed hosts of one batch are gated at the same time (each gate samples its
      // peers; a batch of one is the usual rolling case)
      const passed = await Promise.all(
        res.filter((x) => x.status === "changed").map((r) => gateHost(gates, prepOf(r), r)),
      );
      if (passed.includes(false)) aborted = true;
    }
    for (const r of res) delete r.gateOutput;
    for (const r of res) r.execs = pool.execs(r.host);
    reports.push(...res);
    const bad = res.filter((r) => r.status === "failed" || r.status === "unreachable");
    bad.forEach((r) => st.failed.add(r.host));
    const pct = batch.length ? (100 * bad.length) / batch.length : 0;
    if (aborted) {
      log(`PLAY [${play.name}] stopped: a host failed its gate; later hosts are untouched`);
    } else if (
      bad.length &&
      (rolling.maxFailPercentage !== undefined
        ? pct > rolling.maxFailPercentage
        : bad.length === batch.length && serial !== undefined)
    ) {
      log(`PLAY [${play.name}] aborted: ${bad.length}/${batch.length} hosts of a batch failed`);
      aborted = true;
    }
  }
}

/**
 * The hooks' view of the run for one play: run a script on a host (one exec), log, and the
 * play's `orderProbe` output per host (from `factsOf`, else one exec now).
 */
export function playHooks(
  play: Play,
  st: RunState,
  factsOf: (host: string) => HostFacts | undefined,
): HookContext {
  const { inv, pool, log } = st;
  const hooks: HookContext = {
    run: async (host, script) => {
      const h = inv.hosts.get(host);
      if (!h) throw new Error(`unknown host ${host}`);
      return await (await pool.get(h)).runScript(script);
    },
    log,
    probed: async (host) => {
      const f = factsOf(host);
      if (f?.order !== undefined) return f.order;
      const h = inv.hosts.get(host);
      const snippet = h && rollingOf(play).orderProbe?.(contextOf(inv, h));
      return snippet ? (await hooks.run(host, snippet)).stdout : "";
    },
  };
  return hooks;
}

/**
 * Whether play `pi` may start together with play `pi - 1` (its `withPrevious` hook, from the
 * first probe's facts): only when no host has work in both (tasks or pending handlers), none
 * failed its first probe, and `--forks` leaves room for both plays' hosts at once.
 */
export async function runsWithPrevious(
  prepared: PreparedPlay[],
  pi: number,
  st: RunState,
): Promise<boolean> {
  const play = prepared[pi]?.play;
  if (pi < 1 || !play?.withPrevious) return false;
  const busy = (i: number) =>
    new Set(
      prepared[i].items.filter((p) => {
        const f = st.first.get(p.host.name)?.[i];
        return p.tasks.length || f?.pending.length || f?.error;
      }).map((p) => p.host.name),
    );
  const before = busy(pi - 1);
  const now = busy(pi);
  if ([...now].some((h) => before.has(h))) return false;
  if (st.opts.forks !== undefined && st.opts.forks < before.size + now.size) return false;
  const hooks = playHooks(play, st, (h) => st.first.get(h)?.[pi]);
  const hosts = prepared[pi].items.map((p) => contextOf(st.inv, p.host));
  return await Promise.resolve(play.withPrevious(hosts, hooks)).catch(() => false);
}

async function ordered(
  play: Play,
  live: Prepared[],
  inv: Inventory,
  hooks: HookContext,
  log: (l: string) => void,
): Promise<Prepared[]> {
  try {
    const got: Array<string | { name: string }> = await rollingOf(play).order!(
      live.map((p) => contextOf(inv, p.host)),
      hooks,
    );
    const names = got.map((x) => typeof x === "string" ? x : x.name);
    const rank = new Map(names.map((n, i) => [n, i]));
    const out = [...live].sort((a, b) =>
      (rank.get(a.host.name) ?? 1e9) - (rank.get(b.host.name) ?? 1e9)
    );
    log(`PLAY [${play.name}] order: ${out.map((p) => p.host.name).join(", ")}`);
    return out;
  } catch (e) {
    log(`PLAY [${play.name}] order hook failed (${(e as Error).message}); inventory order kept`);
    return live;
  }
}
