/**
 * The execution model. Per host: connect, ONE exec running every probe, pure planning on the
 * controller, ONE exec applying every change (journaled on the host first), handlers at its
 * end. Hosts run in parallel (forks) within `serial` batches.
 * @module
 */
import type { Inventory, InventoryHost } from "./inventory.ts";
import { selectHosts } from "./patterns.ts";
import { redactor } from "./secrets.ts";
import { SshSession, type SshTarget } from "./ssh.ts";
import {
  type ApplyItem,
  applyScript,
  newNonce,
  parseApply,
  parseProbe,
  probeScript,
} from "./script.ts";
import { batches, mapPool } from "./pool.ts";
import { Progress } from "./progress.ts";
import type { HostReport, RunReport, TaskReport } from "./report.ts";
import type { Handler, HookContext, HostContext, Plan, Play, Task } from "./types.ts";
import { parseRollback, rollbackScript } from "./journal.ts";

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
}

/** A fresh sortable run id. */
export function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${t}-${crypto.randomUUID().slice(0, 6)}`;
}

/** The SSH target of an inventory host. */
export function targetOf(h: InventoryHost): SshTarget {
  const v = h.vars;
  const has = (...k: string[]) => k.some((x) => x in v);
  return {
    name: h.name,
    ...h.connection,
    explicit: {
      user: has("ansible_user", "haplay_user"),
      port: has("ansible_port", "haplay_port"),
      keyFile: has("ansible_ssh_private_key_file", "haplay_ssh_key"),
    },
  };
}

function contextOf(inv: Inventory, h: InventoryHost): HostContext {
  return { name: h.name, vars: h.vars, groups: h.groups, all: inv.hosts };
}

function selectTasks(tasks: Task[], opts: RunOptions): Task[] {
  return tasks.filter((t) => {
    const tags = t.tags ?? [];
    if (opts.skipTags?.some((s) => tags.includes(s))) return false;
    if (opts.tags?.length) {
      return tags.includes("always") || opts.tags.some((s) => tags.includes(s));
    }
    return true;
  });
}

function safePlan(t: Task, facts: string): Plan | Error {
  try {
    return t.plan(facts);
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** Per-host work prepared before any host is contacted. */
interface Prepared {
  host: InventoryHost;
  ctx: HostContext;
  tasks: Task[];
  handlers: Handler[];
}

/** Build every host's task list; throws before any host is contacted. */
export function prepare(inv: Inventory, play: Play, names: string[], opts: RunOptions): Prepared[] {
  const problems: string[] = [];
  const out = names.map((n) => {
    const host = inv.hosts.get(n)!;
    const ctx = contextOf(inv, host);
    let tasks: Task[] = [];
    let handlers: Handler[] = [];
    try {
      tasks = selectTasks(play.tasks(ctx), opts);
      handlers = play.handlers?.(ctx) ?? [];
    } catch (e) {
      problems.push(`${n}: ${(e as Error).message}`);
    }
    const seen = new Set<string>();
    for (const t of tasks) {
      if (seen.has(t.resource)) problems.push(`${n}: two tasks own ${t.resource}`);
      seen.add(t.resource);
      for (const h of t.notify ?? []) {
        if (!handlers.some((x) => x.name === h)) {
          problems.push(`${n}: task "${t.name}" notifies unknown handler "${h}"`);
        }
      }
    }
    return { host, ctx, tasks, handlers };
  });
  if (problems.length) {
    throw new Error(`play "${play.name}" cannot be planned:\n  ${problems.join("\n  ")}`);
  }
  return out;
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
  const runId = opts.runId ?? newRunId();
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const sessions = new Map<string, Promise<SshSession>>();
  const connected = new Map<string, SshSession>();
  // Execs of sessions already closed (a host done with the run is disconnected early).
  const closedExecs = new Map<string, number>();
  const pendingCloses: Promise<void>[] = [];
  const execsOf = (host: string) =>
    (closedExecs.get(host) ?? 0) + (connected.get(host)?.execs ?? 0);
  const failedHosts = new Set<string>();
  const reports: HostReport[] = [];
  const owner = `${
    Deno.env.get("SUDO_USER") ?? Deno.env.get("USER") ?? "root"
  }@${Deno.hostname()} pid ${Deno.pid}`;

  // Plan every play's task lists first: a bad role argument stops the run before any contact.
  const prepared = plays.map((play) => {
    let names = selectHosts(inv, play.hosts);
    if (opts.limit) {
      const lim = new Set(selectHosts(inv, opts.limit));
      names = names.filter((n) => lim.has(n));
    }
    return { play, items: prepare(inv, play, names, opts) };
  });

  const sessionOf = (host: InventoryHost) => {
    let s = sessions.get(host.name);
    if (!s) {
      s = SshSession.open(targetOf(host), {
        acceptNewHostKeys: opts.acceptNewHostKeys,
        sshConfigFile: opts.sshConfigFile,
        timeoutMs: opts.timeoutMs,
      });
      s.then((x) => connected.set(host.name, x), () => {});
      sessions.set(host.name, s);
    }
    return s;
  };
  const closeSession = (host: string) => {
    const s = sessions.get(host);
    if (!s) return;
    sessions.delete(host);
    pendingCloses.push(s.then((x) => {
      closedExecs.set(host, (closedExecs.get(host) ?? 0) + x.execs);
      connected.delete(host);
      x.close();
    }, () => {}));
  };
  const run = async (host: string, script: string) => {
    const h = inv.hosts.get(host);
    if (!h) throw new Error(`unknown host ${host}`);
    return await (await sessionOf(h)).runScript(script);
  };
  // Hosts changed by an earlier play of this run: their first-probe facts are stale.
  const touched = new Set<string>();
  // Journal entries are numbered per host across the run's plays.
  const offsets = new Map<string, number>();
  const env = (p: Prepared): HostRunEnv => ({
    opts,
    runId,
    owner,
    log,
    progress,
    session: () => sessionOf(p.host),
    execs: () => execsOf(p.host.name),
    journalOffset: offsets.get(p.host.name) ?? 0,
  });

  // The last play in which a host has tasks (or runs pending handlers, in its first play):
  // after it, its connection is closed, which keeps a big run's memory down.
  const lastUse = new Map<string, number>();
  prepared.forEach(({ items }, pi) => {
    for (const p of items) {
      if (!lastUse.has(p.host.name)) lastUse.set(p.host.name, -1);
      if (p.tasks.length) lastUse.set(p.host.name, pi);
    }
  });
  const itemsOf = new Map<string, Array<Prepared | undefined>>();
  prepared.forEach(({ items }, pi) => {
    for (const p of items) {
      const row = itemsOf.get(p.host.name) ?? [];
      row[pi] = p;
      itemsOf.set(p.host.name, row);
    }
  });
  const idleIn = (host: string, f: FirstProbeAll) =>
    (itemsOf.get(host) ?? []).every((p, pi) =>
      !p || p.tasks.every((t, i) => {
        const pl = safePlan(t, f.facts[pi]?.[i]);
        return !(pl instanceof Error) && pl.kind === "ok";
      })
    );
  const closeDone = (after: number, first: Map<string, FirstProbeAll>) => {
    for (const [host, last] of lastUse) {
      const f = first.get(host);
      const firstPlay = prepared.findIndex(({ items }) => items.some((x) => x.host.name === host));
      const use = f?.pending.length ? Math.max(last, firstPlay) : last;
      if (use <= after) closeSession(host);
    }
  };

  try {
    // Round trip 1 for every host of every play: all probes (and order probes) at once.
    const first = await firstProbe(prepared, inv, env, opts, (host, f) => {
      // nothing to do on this host in any play: disconnect now, not at the end of the run
      if (!f.pending.length && f.orderOut.every((o) => o === undefined) && idleIn(host, f)) {
        closeSession(host);
      }
    });
    closeDone(-1, first);
    for (const [pi, { play, items: planned }] of prepared.entries()) {
      if (pi > 0) {
        for (const p of prepared[pi - 1].items) {
          offsets.set(p.host.name, (offsets.get(p.host.name) ?? 0) + p.tasks.length);
        }
      }
      log(`PLAY [${play.name}] ${opts.check ? "(check mode) " : ""}hosts: ${planned.length}`);
      let live = planned.filter((p) => !failedHosts.has(p.host.name));
      // Hosts an earlier play changed: probe them again for this play, all in one exec each
      // (those without tasks in it have nothing to probe).
      const stale = live.filter((p) => touched.has(p.host.name) && p.tasks.length);
      const fresh = stale.length
        ? await firstProbe([{ play, items: stale }], inv, env, opts)
        : new Map<string, FirstProbeAll>();
      const factsOf = (host: string) => {
        const f = fresh.get(host);
        if (f) return { f, i: 0 };
        const g = first.get(host);
        return g && !touched.has(host) ? { f: g, i: pi } : undefined;
      };
      const hooks: HookContext = {
        run,
        log,
        probed: async (host) => {
          const x = factsOf(host);
          if (x && x.f.orderOut[x.i] !== undefined) return x.f.orderOut[x.i]!;
          const h = inv.hosts.get(host);
          const snippet = h && play.orderProbe?.(contextOf(inv, h));
          return snippet ? (await run(host, snippet)).stdout : "";
        },
      };
      const pre = (p: Prepared): FirstProbe | undefined => {
        const g = first.get(p.host.name);
        if (!p.tasks.length && g && !g.error && !fresh.has(p.host.name)) {
          // nothing to probe: an earlier play's changes do not matter here
          return { ...g, facts: [], rcs: [], pending: g.pendingFor(pi) ? g.pending : [] };
        }
        const x = factsOf(p.host.name);
        if (!x || x.f.error) return undefined;
        // connect and probe times belong to the play whose probe it was
        const own = x.i === 0 && fresh.has(p.host.name) || x.f.firstPlay === pi;
        return {
          ...x.f,
          facts: x.f.facts[x.i],
          rcs: x.f.rcs[x.i],
          pending: x.f.pendingFor(x.i) ? x.f.pending : [],
          connectMs: own ? x.f.connectMs : 0,
          probeMs: own ? x.f.probeMs : 0,
        };
      };
      for (const p of live.filter((p) => factsOf(p.host.name)?.f.error)) {
        const f = factsOf(p.host.name)!.f;
        log(`${p.host.name}: ${f.unreachable ? "unreachable" : "failed"} - ${f.error}`);
        reports.push(
          failedReport(p, play.name, f.unreachable ? "unreachable" : "failed", f.error!),
        );
        failedHosts.add(p.host.name);
      }
      live = live.filter((p) => !failedHosts.has(p.host.name));
      // Nothing to do for this play anywhere (known from the first probe): no more round trips.
      const idle = live.every((p) => {
        const f = pre(p);
        return f && !f.pending.length &&
          p.tasks.every((t, i) => {
            const pl = safePlan(t, f.facts[i]);
            return !(pl instanceof Error) && pl.kind === "ok";
          });
      });
      if (idle) {
        for (const p of live) reports.push(await runHost(p, play, env(p), pre(p)));
        continue;
      }
      if (play.order && live.length > 1) live = await ordered(play, live, inv, hooks, log);
      let aborted = false;
      let serial = play.serial;
      if (serial !== undefined && play.rollingIf && live.length > 1) {
        const rolling = await Promise.resolve(
          play.rollingIf(live.map((p) => contextOf(inv, p.host)), hooks),
        ).catch(() => true);
        if (!rolling) {
          log(`PLAY [${play.name}] nothing to keep serving: all ${live.length} hosts at once`);
          serial = undefined;
        }
      }
      for (const batch of batches(live, serial)) {
        if (aborted) {
          for (const p of batch) reports.push(skippedReport(p, play.name, "play aborted"));
          continue;
        }
        const forks = Math.max(1, opts.forks ?? Math.min(50, batch.length));
        const res = await mapPool(batch, forks, (p) => runHost(p, play, env(p), pre(p)));
        for (const r of res) {
          if (r.status === "changed" || r.handlers.length || r.status === "failed") {
            touched.add(r.host);
          }
        }
        if ((play.gate || play.gateScript) && !opts.check) {
          // A rolling play never leaves a host half-changed: a failed apply is rolled back too.
          for (const r of res.filter((x) => x.status === "failed" && x.applied)) {
            const p = batch.find((b) => b.host.name === r.host)!;
            log(`${r.host}: apply failed in a rolling play; rolling this host back`);
            await rollbackHost(p, r, sessionOf, runId, owner, log);
            r.error = `${r.error}; ${r.rolledBack ? "rolled back" : "rollback FAILED"}`;
            aborted = true;
          }
          for (const r of res.filter((x) => x.status === "changed")) {
            const p = batch.find((b) => b.host.name === r.host)!;
            if (!(await gated(play, p, r, hooks, sessionOf, runId, owner, log))) {
              aborted = true;
            }
          }
        }
        for (const r of res) delete r.gateOutput;
        for (const r of res) r.execs = execsOf(r.host);
        reports.push(...res);
        const bad = res.filter((r) => r.status === "failed" || r.status === "unreachable");
        bad.forEach((r) => failedHosts.add(r.host));
        const pct = batch.length ? (100 * bad.length) / batch.length : 0;
        if (aborted) {
          log(`PLAY [${play.name}] stopped: a host failed its gate; later hosts are untouched`);
        } else if (
          bad.length &&
          (play.maxFailPercentage !== undefined
            ? pct > play.maxFailPercentage
            : bad.length === batch.length && serial !== undefined)
        ) {
          log(`PLAY [${play.name}] aborted: ${bad.length}/${batch.length} hosts of a batch failed`);
          aborted = true;
        }
      }
      closeDone(pi, first);
    }
  } finally {
    progress.end();
    for (const host of [...sessions.keys()]) closeSession(host);
  }
  await Promise.all([...pendingCloses]);
  // a host's last report carries its total (gates and hooks run execs after a host's finish)
  const lastOf = new Map(reports.map((r) => [r.host, r]));
  for (const [host, r] of lastOf) r.execs = Math.max(r.execs, execsOf(host));
  const durationMs = Math.round(performance.now() - started);
  const report: RunReport = {
    runId,
    check: !!opts.check,
    startedAt,
    durationMs,
    hosts: reports,
    ok: reports.every((r) => r.status !== "failed" && r.status !== "unreachable"),
    changed: reports.some((r) =>
      r.status === "changed" || r.tasks.some((t) => t.status === "would-change")
    ),
  };
  return JSON.parse(redactor.redact(JSON.stringify(report)));
}

async function ordered(
  play: Play,
  live: Prepared[],
  inv: Inventory,
  hooks: HookContext,
  log: (l: string) => void,
): Promise<Prepared[]> {
  try {
    const got: Array<string | { name: string }> = await play.order!(
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

/** Run the gate on a host that changed; on failure roll it back. Returns false to stop. */
async function gated(
  play: Play,
  p: Prepared,
  r: HostReport,
  hooks: HookContext,
  sessionOf: (h: InventoryHost) => Promise<SshSession>,
  runId: string,
  owner: string,
  log: (l: string) => void,
): Promise<boolean> {
  let g: { ok: boolean; detail: string };
  try {
    g = { ok: true, detail: "" };
    if (play.gateScript && r.gateOutput) g = play.gateScript.check(p.ctx, r.gateOutput);
    if (g.ok && play.gate) {
      const more = await play.gate(p.ctx, hooks, r.gateOutput);
      g = { ok: more.ok, detail: [g.detail, more.detail].filter(Boolean).join("; ") };
    }
    if (!g.detail) return true;
  } catch (e) {
    g = { ok: false, detail: `gate error: ${(e as Error).message}` };
  }
  delete r.gateOutput;
  r.gate = g;
  if (g.ok) {
    log(`${r.host}: [gate ok] ${g.detail}`);
    return true;
  }
  log(`${r.host}: [gate FAILED] ${g.detail}; rolling this host back`);
  await rollbackHost(p, r, sessionOf, runId, owner, log);
  r.status = "failed";
  r.error = `gate failed: ${g.detail}; ${r.rolledBack ? "rolled back" : "rollback FAILED"}`;
  return false;
}

/** Undo this run on one host from its journal (gate failure, or a failed apply when rolling). */
async function rollbackHost(
  p: Prepared,
  r: HostReport,
  sessionOf: (h: InventoryHost) => Promise<SshSession>,
  runId: string,
  owner: string,
  log: (l: string) => void,
): Promise<void> {
  const nonce = newNonce();
  try {
    const s = await sessionOf(p.host);
    const out = await s.runScript(rollbackScript({ nonce, runId, owner }));
    const rb = parseRollback(out.stdout, nonce);
    r.rolledBack = rb.finished && !rb.failed;
    r.execs = s.execs;
    log(
      `${r.host}: ${r.rolledBack ? "rolled back" : "ROLLBACK FAILED"} ` +
        `(${rb.restored.length} entries restored${rb.failed ? `; ${rb.failed.log.trim()}` : ""})`,
    );
  } catch (e) {
    r.rolledBack = false;
    log(`${r.host}: ROLLBACK FAILED: ${(e as Error).message}`);
  }
}

function skippedReport(p: Prepared, play: string, why: string): HostReport {
  return {
    host: p.host.name,
    play,
    status: "skipped",
    tasks: [],
    execs: 0,
    handlers: [],
    error: why,
    timings: { connectMs: 0, probeMs: 0, applyMs: 0, totalMs: 0 },
  };
}

interface HostRunEnv {
  opts: RunOptions;
  runId: string;
  owner: string;
  log: (line: string) => void;
  progress: Progress;
  session: () => Promise<SshSession>;
  /** SSH execs on this host so far in the run. */
  execs: () => number;
  /** Journal entries this host already got from earlier plays of the run. */
  journalOffset: number;
}

/** Facts of one host from the run's first probe, for one play. */
interface FirstProbe {
  facts: string[];
  rcs: number[];
  generation: string;
  pending: string[];
  /** Pending handlers belong to the first play the host is in. */
  pendingFor(play: number): boolean;
  /** Time to connect and to probe, reported with the play the probe was for. */
  connectMs: number;
  probeMs: number;
}

/** What the first probe found on a host, for every play. */
interface FirstProbeAll {
  facts: string[][];
  rcs: number[][];
  orderOut: Array<string | undefined>;
  generation: string;
  pending: string[];
  pendingFor(play: number): boolean;
  /** The first play the host is in. */
  firstPlay: number;
  connectMs: number;
  probeMs: number;
  error?: string;
  unreachable?: boolean;
}

/** What a host that could not be probed has. */
const NO_FACTS: FirstProbeAll = {
  facts: [],
  rcs: [],
  orderOut: [],
  generation: "0",
  pending: [],
  pendingFor: () => false,
  firstPlay: 0,
  connectMs: 0,
  probeMs: 0,
};

/** Round trip 1: per host, every task of every play and every order probe, in one exec. */
async function firstProbe(
  prepared: Array<{ play: Play; items: Prepared[] }>,
  inv: Inventory,
  env: (p: Prepared) => HostRunEnv,
  opts: RunOptions,
  onProbed?: (host: string, f: FirstProbeAll) => void,
): Promise<Map<string, FirstProbeAll>> {
  const hosts = new Map<string, Prepared>();
  for (const { items } of prepared) {
    for (const p of items) if (!hosts.has(p.host.name)) hosts.set(p.host.name, p);
  }
  const out = new Map<string, FirstProbeAll>();
  const list = [...hosts.values()];
  await mapPool(list, Math.max(1, opts.forks ?? Math.min(50, list.length)), async (p) => {
    const e = env(p);
    const name = p.host.name;
    const ctx = contextOf(inv, p.host);
    const firstPlay = prepared.findIndex(({ items }) => items.some((x) => x.host.name === name));
    const tasks: Task[] = [];
    const slices: Array<{ from: number; n: number; order?: number }> = [];
    for (const { play, items } of prepared) {
      const mine = items.find((x) => x.host.name === name);
      const from = tasks.length;
      if (mine) tasks.push(...mine.tasks);
      const snippet = mine ? play.orderProbe?.(ctx) : undefined;
      let order: number | undefined;
      if (snippet) {
        order = tasks.length;
        tasks.push({
          name: "order probe",
          module: "engine",
          resource: "",
          probe: snippet,
          plan: () => ({ kind: "ok", reason: "" }),
        });
      }
      slices.push({ from, n: mine ? mine.tasks.length : 0, order });
    }
    e.progress.set(name, "connecting");
    const t0 = performance.now();
    let session: SshSession;
    try {
      session = await e.session();
    } catch (err) {
      out.set(name, { ...NO_FACTS, error: (err as Error).message, unreachable: true });
      return;
    }
    const connectMs = Math.round(performance.now() - t0);
    e.progress.set(name, "probing");
    const nonce = newNonce();
    try {
      const res = await session.runScript(probeScript(tasks, nonce));
      const pr = parseProbe(res.stdout, tasks.length, nonce);
      if (opts.verbose && res.stderr) e.log(`${name}: probe stderr:\n${res.stderr}`);
      out.set(name, {
        facts: slices.map((s) => pr.facts.slice(s.from, s.from + s.n)),
        rcs: slices.map((s) => pr.rcs.slice(s.from, s.from + s.n)),
        orderOut: slices.map((s) => s.order === undefined ? undefined : pr.facts[s.order]),
        generation: pr.generation,
        pending: pr.pending,
        pendingFor: (i) => i === firstPlay && pr.pending.length > 0,
        firstPlay,
        connectMs,
        probeMs: Math.round(performance.now() - t0) - connectMs,
      });
      onProbed?.(name, out.get(name)!);
    } catch (err) {
      out.set(name, { ...NO_FACTS, error: `probe failed: ${(err as Error).message}` });
    }
  });
  return out;
}

function failedReport(
  p: Prepared,
  play: string,
  status: "failed" | "unreachable",
  why: string,
): HostReport {
  return { ...skippedReport(p, play, why), status };
}

async function runHost(
  p: Prepared,
  play: Play,
  env: HostRunEnv,
  pre?: FirstProbe,
): Promise<HostReport> {
  const { opts, log } = env;
  const name = p.host.name;
  const t0 = performance.now();
  const rep: HostReport = {
    host: name,
    play: play.name,
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
  // With the first probe's facts, the connection is needed only to apply (a host with nothing
  // to do may have been disconnected already).
  let session: SshSession | undefined;
  const connect = async (): Promise<SshSession | undefined> => {
    env.progress.set(name, "connecting");
    try {
      return await env.session();
    } catch (e) {
      rep.status = "unreachable";
      rep.error = (e as Error).message;
      return undefined;
    }
  };
  if (!pre) {
    if (!(session = await connect())) return finish();
    rep.timings.connectMs = Math.round(performance.now() - t0);
  } else rep.timings.connectMs = pre.connectMs;

  // Round trip 1: every probe (already done by the run's first probe when `pre` is given).
  const nonce = newNonce();
  const t1 = performance.now();
  let probe: { facts: string[]; generation: string; pending: string[] };
  if (pre) {
    probe = { facts: pre.facts, generation: pre.generation, pending: pre.pending };
  } else {
    env.progress.set(name, "probing");
    try {
      const res = await session!.runScript(probeScript(p.tasks, nonce));
      probe = parseProbe(res.stdout, p.tasks.length, nonce);
      if (opts.verbose && res.stderr) log(`${name}: probe stderr:\n${res.stderr}`);
    } catch (e) {
      rep.status = "failed";
      rep.error = `probe failed: ${(e as Error).message}`;
      return finish();
    }
  }
  rep.timings.probeMs = pre ? pre.probeMs : Math.round(performance.now() - t1);

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
  session ??= await connect();
  if (!session) return finish();

  // Round trip 2: every change, journaled first, handlers at the end.
  env.progress.set(name, "applying");
  if (opts.verbose) {
    for (const it of items) log(`${name}: [apply] ${it.task.name}:\n${it.change.apply.trim()}`);
  }
  const t2 = performance.now();
  const script = applyScript(items, {
    nonce,
    runId: env.runId,
    generation: probe.generation,
    owner: env.owner,
    handlers: p.handlers,
    pending: probe.pending,
    keepRuns: opts.keepRuns ?? 20,
    play: play.name,
    gate: play.gateScript?.script(p.ctx),
    journalOffset: env.journalOffset,
  });
  let res;
  try {
    res = await session.runScript(script);
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
