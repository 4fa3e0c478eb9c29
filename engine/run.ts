/**
 * The execution model (ansible-core's playbook executor). Per host: connect, ONE exec running
 * every probe of every play, pure planning on the controller, ONE exec per play applying every
 * change (journaled on the host first), handlers at its end. Hosts run in parallel (forks)
 * within `serial` batches. The parts: `prepare.ts` (task lists, before any contact),
 * `host_facts.ts` (the probe round), `play_loop.ts` (one play: order, batches, gates),
 * `host_run.ts` (one host: plan, apply), `gate.ts` (gate, rollback on failure),
 * `session_pool.ts` (connections, through a `connector.ts` factory).
 * @module
 */
import type { Inventory } from "./inventory.ts";
import { selectHosts } from "./patterns.ts";
import { redactor } from "./secrets.ts";
import type { ConnectorFactory } from "./connector.ts";
import { sshConnector } from "./ssh_connector.ts";
import { type HostFacts, probeRound } from "./host_facts.ts";
import { probeEnv, runPlay, type RunState, runsWithPrevious } from "./play_loop.ts";
import { allOk, prepare, type PreparedPlay } from "./prepare.ts";
import { Progress } from "./progress.ts";
import type { HostReport, RunReport } from "./report.ts";
import { SessionPool } from "./session_pool.ts";
import type { Play } from "./types.ts";

export { targetOf } from "./ssh_connector.ts";
export { prepare } from "./prepare.ts";

/** Options of one run (the CLI flags). */
export interface RunOptions {
  /** Probe and plan only; touch nothing. */
  check?: boolean;
  /** Print unified diffs of changes. */
  diff?: boolean;
  /** Hosts in flight at once (default: all, capped at 50). */
  forks?: number;
  /** Extra host pattern every play is intersected with. */
  limit?: string;
  /** Only tasks with one of these tags (or "always"). */
  tags?: string[];
  /** Never tasks with one of these tags. */
  skipTags?: string[];
  /** Record unknown host keys instead of refusing. */
  acceptNewHostKeys?: boolean;
  /** Print the scripts' stderr and task logs. */
  verbose?: boolean;
  /** Run id (default: UTC timestamp + random suffix). */
  runId?: string;
  /** Where progress lines go (default: stdout). Every line is redacted first. */
  log?: (line: string) => void;
  /** Journals kept per host (default 20). */
  keepRuns?: number;
  /** ssh_config file to honour (default ~/.ssh/config). */
  sshConfigFile?: string;
  /** SSH connect + handshake timeout per host, in ms (default 15000). */
  timeoutMs?: number;
  /** Seconds to wait for a host lock held by another run, then re-probe (default 0). */
  waitS?: number;
  /**
   * How to reach a host (default: SSH with the options above). A local or scripted connector
   * runs the same loop without SSH (see `connector_local.ts`, `connector_fake.ts`).
   */
  connector?: ConnectorFactory;
}

/** A fresh sortable run id. */
export function newRunId(): string {
  // UTC to the millisecond: hosts order their runs by this name (newest = last in `sort`), and
  // two runs within one second (a quick re-deploy) must not sort by their random suffix
  const t = new Date().toISOString().replace(/[-:.]/g, "");
  return `${t}-${crypto.randomUUID().slice(0, 6)}`;
}

/** Who runs this (user@controller pid): the holder named by a host's lock. */
function ownerName(): string {
  const user = Deno.env.get("SUDO_USER") ?? Deno.env.get("USER") ?? "root";
  return `${user}@${Deno.hostname()} pid ${Deno.pid}`;
}

/** Run plays against an inventory. Never throws for host failures: see the report. */
export async function runPlaybook(
  inv: Inventory,
  plays: Play[],
  opts: RunOptions = {},
): Promise<RunReport> {
  const progress = new Progress(!opts.log && Deno.stdout.isTerminal());
  const log = (line: string) => {
    const l = redactor.redact(line);
    if (progress.active) progress.line(l);
    else (opts.log ?? console.log)(l);
  };
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const pool = new SessionPool(
    opts.connector ?? sshConnector({
      acceptNewHostKeys: opts.acceptNewHostKeys,
      sshConfigFile: opts.sshConfigFile,
      timeoutMs: opts.timeoutMs,
    }),
  );
  // Plan every play's task lists first: a bad role argument stops the run before any contact.
  const prepared: PreparedPlay[] = plays.map((play) => {
    let names = selectHosts(inv, play.hosts);
    if (opts.limit) {
      const lim = new Set(selectHosts(inv, opts.limit));
      names = names.filter((n) => lim.has(n));
    }
    return { play, items: prepare(inv, play, names, opts) };
  });
  const st: RunState = {
    inv,
    opts,
    runId: opts.runId ?? newRunId(),
    owner: ownerName(),
    log,
    progress,
    pool,
    first: new Map(),
    touched: new Set(),
    failed: new Set(),
    offsets: new Map(),
    reports: [],
  };
  const closeAfter = lastUses(prepared);

  try {
    // Round trip 1 for every host of every play: all probes (and order probes) at once.
    st.first = await probeRound(prepared, probeEnv(st), (host, facts) => {
      // nothing to do on this host in any play: disconnect now, not at the end of the run
      if (idleEverywhere(prepared, host, facts)) pool.close(host);
    });
    const closeDone = (after: number) => {
      for (const [host, last] of closeAfter(st.first)) if (last <= after) pool.close(host);
    };
    closeDone(-1);
    // Journal offsets of every play, before any runs (plays may run two at a time).
    const offsets = prepared.map((_, pi) => {
      if (pi > 0) {
        for (const p of prepared[pi - 1].items) {
          st.offsets.set(p.host.name, (st.offsets.get(p.host.name) ?? 0) + p.tasks.length);
        }
      }
      return new Map(st.offsets);
    });
    const reports: HostReport[][] = prepared.map(() => []);
    const playAt = (pi: number) =>
      runPlay(pi, prepared[pi], { ...st, offsets: offsets[pi], reports: reports[pi] });
    for (let pi = 0; pi < prepared.length; pi++) {
      if (await runsWithPrevious(prepared, pi + 1, st)) {
        log(
          `PLAY [${prepared[pi + 1].play.name}] runs together with [${prepared[pi].play.name}]` +
            ` (nothing serving yet; no host has work in both)`,
        );
        await Promise.all([playAt(pi), playAt(pi + 1)]);
        pi++;
      } else await playAt(pi);
      closeDone(pi);
    }
    st.reports.push(...reports.flat());
  } finally {
    progress.end();
    await pool.closeAll();
  }
  const reports = st.reports;
  // a host's last report carries its total (gates and hooks run execs after a host's finish)
  const lastOf = new Map(reports.map((r) => [r.host, r]));
  for (const [host, r] of lastOf) r.execs = Math.max(r.execs, pool.execs(host));
  const report: RunReport = {
    runId: st.runId,
    check: !!opts.check,
    startedAt,
    durationMs: Math.round(performance.now() - started),
    hosts: reports,
    ok: reports.every((r) => r.status !== "failed" && r.status !== "unreachable"),
    changed: reports.some((r) =>
      r.status === "changed" || r.tasks.some((t) => t.status === "would-change")
    ),
  };
  return JSON.parse(redactor.redact(JSON.stringify(report)));
}

/** True when the first probe found nothing to do on the host in any play (no order probe). */
function idleEverywhere(
  prepared: PreparedPlay[],
  host: string,
  facts: Array<HostFacts | undefined>,
): boolean {
  return facts.every((f, pi) => {
    if (!f) return true;
    const p = prepared[pi].items.find((x) => x.host.name === host)!;
    return !f.pending.length && f.order === undefined && allOk(p.tasks, f.facts);
  });
}

/**
 * The last play in which each host has tasks (or runs pending handlers, in its first play):
 * after it, its connection is closed, which keeps a big run's memory down.
 */
function lastUses(prepared: PreparedPlay[]) {
  const last = new Map<string, number>();
  const firstPlay = new Map<string, number>();
  prepared.forEach(({ items }, pi) => {
    for (const p of items) {
      if (!last.has(p.host.name)) last.set(p.host.name, -1);
      if (!firstPlay.has(p.host.name)) firstPlay.set(p.host.name, pi);
      if (p.tasks.length) last.set(p.host.name, pi);
    }
  });
  return (first: Map<string, Array<HostFacts | undefined>>) =>
    [...last].map(([host, l]): [string, number] => {
      const fp = firstPlay.get(host)!;
      const pending = first.get(host)?.[fp]?.pending.length;
      return [host, pending ? Math.max(l, fp) : l];
    });
}
