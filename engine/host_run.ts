/**
 * One host in one play (ansible-core's task executor, for a whole task list at once): its
 * facts (from the run's probe round, or one probe exec now), the pure plan of every task,
 * then ONE exec applying every change (journaled on the host first) and the handlers.
 * @module
 */
import type { Connector } from "./connector.ts";
import { probeHost } from "./host_facts.ts";
import type { HostFacts } from "./host_facts.ts";
import { type Prepared, safePlan } from "./prepare.ts";
import type { Progress } from "./progress.ts";
import type { HostReport, TaskReport } from "./report.ts";
import { type ApplyItem, applyScript, newNonce, parseApply } from "./script.ts";
import { waitedForLock } from "./lock_wait.ts";

/** The run's options a host's work reads. */
export interface HostOptions {
  check?: boolean;
  diff?: boolean;
  verbose?: boolean;
  keepRuns?: number;
  /** Seconds to wait for a host lock held by another run, then re-probe (default 0). */
  waitS?: number;
}

/** What the run gives one host's work. */
export interface HostEnv {
  opts: HostOptions;
  runId: string;
  /** Who runs this (user@controller pid), written into the host's lock. */
  owner: string;
  log(line: string): void;
  progress: Progress;
  /** The host's connection (opened on first use). */
  connect(): Promise<Connector>;
  /** Round trips on this host so far in the run. */
  execs(): number;
}

/** One host's work in one play. */
export interface HostJob {
  p: Prepared;
  /** Play name (reports, journal). */
  play: string;
  /** The play's gate script for this host, run at the end of its apply script. */
  gate?: string;
  /** Journal entries this host already got from earlier plays of the run. */
  journalOffset: number;
  /** Facts from the run's probe round; without them the host is probed now (one exec). */
  facts?: HostFacts;
}

/** A report of a host that did not run (a skipped batch, an unreachable host). */
export function skippedReport(
  p: Prepared,
  play: string,
  why: string,
  status: "skipped" | "failed" | "unreachable" = "skipped",
): HostReport {
  return {
    host: p.host.name,
    play,
    status,
    tasks: [],
    execs: 0,
    handlers: [],
    error: why,
    timings: { connectMs: 0, probeMs: 0, applyMs: 0, totalMs: 0 },
  };
}

/** Probe (unless facts are given), plan and apply one host; never throws. */
export async function runHost(job: HostJob, env: HostEnv): Promise<HostReport> {
  const { p } = job;
  const { opts, log } = env;
  const name = p.host.name;
  const t0 = performance.now();
  const rep: HostReport = {
    host: name,
    play: job.play,
    status: "ok",
    tasks: [],
    execs: 0,
    handlers: [],
    timings: { connectMs: 0, probeMs: 0, applyMs: 0, totalMs: 0 },
  };
  const finish = () => {
    env.progress.set(
      name,
      rep.status === "failed" || rep.status === "unreachable" ? "failed" : "done",
    );
    rep.execs = env.execs();
    rep.timings.totalMs = Math.round(performance.now() - t0);
    const c = rep.tasks.filter((t) => t.status === "changed" || t.status === "would-change").length;
    log(
      `${name}: ${rep.status}${c ? ` (${c} ${opts.check ? "would change" : "changed"})` : ""}` +
        (rep.error ? ` - ${rep.error}` : ""),
    );
    return rep;
  };
  // With the probe round's facts, the connection is needed only to apply (a host with nothing
  // to do may have been disconnected already).
  let conn: Connector | undefined;
  const connect = async (): Promise<Connector | undefined> => {
    env.progress.set(name, "connecting");
    try {
      return await env.connect();
    } catch (e) {
      rep.status = "unreachable";
      rep.error = (e as Error).message;
      return undefined;
    }
  };
  let probe: { facts: string[]; generation: string; pending: string[] };
  if (job.facts) {
    probe = job.facts;
    rep.timings.connectMs = job.facts.connectMs;
    rep.timings.probeMs = job.facts.probeMs;
  } else {
    if (!(conn = await connect())) return finish();
    rep.timings.connectMs = Math.round(performance.now() - t0);
    const t1 = performance.now();
    env.progress.set(name, "probing");
    try {
      probe = await probeHost(conn, p.tasks, name, { log, verbose: opts.verbose });
    } catch (e) {
      rep.status = "failed";
      rep.error = `probe failed: ${(e as Error).message}`;
      return finish();
    }
    rep.timings.probeMs = Math.round(performance.now() - t1);
  }

  // Plan, locally and purely.
  const items: ApplyItem[] = [];
  p.tasks.forEach((task, i) => {
    const plan = safePlan(task, probe.facts[i]);
    const base = { name: task.name, module: task.module, resource: task.resource };
    if (plan instanceof Error) {
      rep.tasks.push({ ...base, status: "failed", summary: "plan failed", error: plan.message });
      return;
    }
    if (plan.kind === "ok") {
      rep.tasks.push({ ...base, status: "ok", summary: plan.reason });
      return;
    }
    rep.tasks.push({
      ...base,
      status: opts.check ? "would-change" : "changed",
      summary: plan.summary,
      diff: plan.diff,
    });
    items.push({ index: i, task, change: plan });
  });
  for (const t of rep.tasks) {
    if (t.status === "ok" && !opts.verbose) continue;
    log(`${name}: [${t.status}] ${t.name}: ${t.summary}${t.error ? ` - ${t.error}` : ""}`);
    if (t.diff && opts.diff) log(t.diff.replace(/\n$/, ""));
  }
  if (rep.tasks.some((t) => t.status === "failed")) {
    rep.status = "failed";
    rep.error = "planning failed; nothing was changed";
    return finish();
  }
  if (opts.check) {
    if (probe.pending.length) {
      log(`${name}: pending handlers from an earlier run would run: ${probe.pending.join(", ")}`);
    }
    rep.status = items.length || probe.pending.length ? "changed" : "ok";
    return finish();
  }
  if (!items.length && !probe.pending.length) return finish();
  conn ??= await connect();
  if (!conn) return finish();

  // Round trip 2: every change, journaled first, handlers at the end.
  env.progress.set(name, "applying");
  if (opts.verbose) {
    for (const it of items) log(`${name}: [apply] ${it.task.name}:\n${it.change.apply.trim()}`);
  }
  const t2 = performance.now();
  const nonce = newNonce();
  const script = applyScript(items, {
    nonce,
    runId: env.runId,
    generation: probe.generation,
    owner: env.owner,
    handlers: p.handlers,
    pending: probe.pending,
    keepRuns: opts.keepRuns ?? 20,
    play: job.play,
    gate: job.gate,
    journalOffset: job.journalOffset,
  });
  let res;
  try {
    res = await conn.runScript(script);
  } catch (e) {
    rep.status = "failed";
    rep.applied = true;
    rep.error = `apply interrupted: ${(e as Error).message}; the host journal has run ${env.runId}`;
    markUnknown(rep, items);
    return finish();
  }
  rep.timings.applyMs = Math.round(performance.now() - t2);
  const r = parseApply(res.stdout, nonce);
  if (r.started) rep.applied = true;
  if (opts.verbose && res.stderr) log(`${name}: apply stderr:\n${res.stderr}`);
  rep.handlers = r.handlersRun;
  if (r.gate) rep.gateOutput = r.gate;
  if (r.locked !== undefined) {
    if (await waitedForLock(p, opts.waitS, conn, name, r.locked, log)) {
      return await runHost({ ...job, facts: undefined }, env);
    }
    rep.status = "failed";
    rep.error = `host is locked by another run (${r.locked.trim() || "unknown holder"}); ` +
      `nothing was changed`;
    markUnknown(rep, items, "not applied: host locked");
    return finish();
  }
  if (r.moved !== undefined) {
    rep.status = "failed";
    rep.error = `host changed since the probe (by run ${r.moved.trim()}); nothing was changed, ` +
      `run again`;
    markUnknown(rep, items, "not applied: host changed since probe");
    return finish();
  }
  for (const it of items) {
    const t = rep.tasks[it.index];
    if (r.done.includes(it.index)) continue;
    if (r.failed?.index === it.index) {
      t.status = "failed";
      // The task's own log, or (when even that could not be written, e.g. a full disk) what
      // the apply script itself printed on stderr.
      const why = r.failed.log.trim() || res.stderr.trim().split("\n").slice(-5).join("\n");
      t.error = `${r.failed.phase} failed (exit ${r.failed.rc})${why ? `:\n${why}` : ""}`;
      log(`${name}: [failed] ${t.name}: ${t.error}`);
    } else {
      t.status = "skipped";
      t.summary = `not applied (an earlier task failed): ${t.summary}`;
    }
  }
  if (r.handlerFailed) {
    rep.status = "failed";
    rep.error = `handler "${r.handlerFailed.name}" failed (exit ${r.handlerFailed.rc}): ` +
      r.handlerFailed.log.trim().split("\n").slice(-5).join(" | ") +
      ` - it stays pending and runs again on the next run`;
  } else if (r.failed) {
    rep.status = "failed";
    rep.error = `task "${p.tasks[r.failed.index].name}" failed; later tasks not applied; ` +
      `handlers notified so far stay pending; roll back with: deno task rollback --run ${env.runId}`;
  } else if (!r.finished) {
    rep.status = "failed";
    rep.error = `apply script ended early (exit ${res.code}${res.signal ? ` ${res.signal}` : ""})` +
      (res.stderr ? `: ${res.stderr.trim().split("\n").slice(-3).join(" | ")}` : "");
    markUnknown(rep, items.filter((it) => !r.done.includes(it.index)));
  } else {
    rep.status = items.length || r.handlersRun.length ? "changed" : "ok";
  }
  for (const h of r.handlersRun) log(`${name}: [handler] ${h}`);
  return finish();
}

function markUnknown(rep: HostReport, items: ApplyItem[], why = "state unknown") {
  for (const it of items) {
    const t: TaskReport = rep.tasks[it.index];
    if (t.status === "changed") {
      t.status = "failed";
      t.error = why;
    }
  }
}
