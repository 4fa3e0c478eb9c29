/**
 * The measured phases. Per size and run, each tool gets, on a freshly recreated lab:
 *
 * - direct: (1) the LB deployment of example 001, (2) the same again (no-op; if anything
 *   changed it is recorded as `rerun` and run once more), (3) 20 templated files changed on every
 *   host; for haplay also the in-process no-op and template runs and the floor (CLI and
 *   in-process);
 * - rtt50, on another fresh lab behind the delaying proxies: (1) and (2) again;
 * - pkg-floor, on another fresh lab: only the apt work of (1), all hosts at once
 *   (`bench/pkg_floor.ts`), recorded as tool `pkg-floor`, scenario `converge`.
 *
 * Every run's SSH execs and logins per host come from the hosts' own sshd logs (the delta).
 * @module
 */
import type { Lab } from "../lab/lab.ts";
import type { RunReport } from "../engine/report.ts";
import { type BenchHost, type Inventories, writeInventories } from "./inventories.ts";
import {
  freshLab,
  labSshd,
  labState,
  liveState,
  makeBaseline,
  type UpperState,
  upperState,
} from "./lab_env.ts";
import { startProxies } from "./proxies.ts";
import { hostCpuDelta, hostCpuMs } from "./host_cpu.ts";
import { type PerHost, perHost, type Sample, type Scenario, type Tool } from "./results.ts";
import {
  ansible,
  floorCli,
  floorInProcess,
  haplayCli,
  haplayInProcess,
  pkgFloorCli,
  REPO,
} from "./tools.ts";

/** The haplay playbook of scenario 3. */
export const TEMPLATES_PLAYBOOK = `${REPO}/bench/templates_playbook.ts`;
/** The haplay site playbook (the default of the CLI). */
export const SITE_PLAYBOOK = `${REPO}/playbooks/site.ts`;

/** Shared state of one benchmark. */
export interface Ctx {
  labName: string;
  subnet: string;
  logDir: string;
  samples: Sample[];
  /** Baseline digests per size (host name -> digest), from the first reset. */
  baselines: Map<number, Record<string, string>>;
  /** Resets done and those whose state differed from the first. */
  resets: { count: number; mismatches: string[] };
  /** Deployed state after the first converge of each tool, for the same-work check. */
  deployed: Map<string, Map<string, UpperState>>;
  log(msg: string): void;
}

/** Where a phase runs. */
interface Env {
  lab: Lab;
  inv: Inventories;
  size: number;
  run: number;
  /** Hosts in flight (both tools); undefined: haplay's default (memory mode, haplay only). */
  forks?: number;
}

/** Recreate the lab, give it the baseline, verify it matches the first baseline of this size. */
async function reset(ctx: Ctx, size: number, proxied: boolean) {
  const t0 = performance.now();
  const lab = await freshLab(ctx.labName, ctx.subnet, size);
  const proxies = proxied ? await startProxies(lab, 25) : undefined;
  try {
    const inv = await writeInventories(
      lab,
      ctx.logDir,
      proxied ? "rtt50" : "direct",
      proxies?.endpoints,
    );
    await makeBaseline(lab, inv.hosts);
    const state = await labState(lab, inv.hosts);
    const first = ctx.baselines.get(size);
    ctx.resets.count++;
    if (!first) ctx.baselines.set(size, state);
    else {
      const bad = Object.keys(state).filter((h) => state[h] !== first[h]);
      if (bad.length) ctx.resets.mismatches.push(`${size} hosts: ${bad.join(", ")}`);
    }
    ctx.log(`lab ${ctx.labName} reset: ${size} hosts in ${Math.round(performance.now() - t0)} ms`);
    return { lab, inv, proxies };
  } catch (e) {
    await proxies?.stop();
    throw e;
  }
}

async function sshdDelta(
  lab: Lab,
  hosts: BenchHost[],
  before: Record<string, { execs: number; logins: number }>,
): Promise<{ execs: PerHost; logins: PerHost; byHost: Record<string, number> }> {
  const after = await labSshd(lab, hosts);
  const names = hosts.map((h) => h.name);
  const byHost = Object.fromEntries(names.map((n) => [n, after[n].execs - before[n].execs]));
  return {
    execs: perHost(Object.values(byHost)),
    logins: perHost(names.map((n) => after[n].logins - before[n].logins)),
    byHost,
  };
}

function reportFacts(rep: RunReport | undefined) {
  if (!rep) return { changed: 0, names: [] as string[], execs: undefined, ok: false };
  const changed = rep.hosts.flatMap((h) => h.tasks.filter((t) => t.status === "changed"));
  const byHost = new Map<string, number>();
  for (const h of rep.hosts) byHost.set(h.host, Math.max(byHost.get(h.host) ?? 0, h.execs));
  return {
    changed: changed.length,
    names: [...new Set(changed.map((t) => t.name))],
    execs: perHost([...byHost.values()]),
    ok: rep.ok,
  };
}

/** Names of the Ansible tasks that reported "changed" in a log. */
export function ansibleChangedTasks(text: string): string[] {
  const out = new Set<string>();
  let task = "";
  for (const l of text.split("\n")) {
    const m = /^(?:TASK|RUNNING HANDLER) \[(.+?)\]/.exec(l);
    if (m) task = m[1];
    else if (l.startsWith("changed:")) out.add(task);
  }
  return [...out];
}

type Kind = "site" | "templates";

/** Run one tool once and record the sample. */
async function runOne(
  ctx: Ctx,
  env: Env,
  tool: Tool,
  scenario: Scenario,
  kind: Kind,
  gen = "1",
): Promise<Sample> {
  const { lab, inv, size, run } = env;
  const forks = env.forks ?? Math.min(50, size);
  const base = `${ctx.logDir}/${size}-${run}-${scenario}-${tool}`;
  const before = await labSshd(lab, inv.hosts);
  const cpu0 = await hostCpuMs(lab);
  const s: Sample = {
    size,
    run,
    scenario,
    tool,
    wallMs: 0,
    ok: false,
    load1: Math.round(Deno.loadavg()[0] * 10) / 10,
  };
  if (tool === "haplay") {
    const r = await haplayCli(inv.haplay, env.forks, base, {
      playbook: kind === "templates" ? TEMPLATES_PLAYBOOK : undefined,
      env: { BENCH_GEN: gen },
    });
    const f = reportFacts(r.report);
    Object.assign(s, {
      wallMs: r.m.wallMs,
      peakRssKb: r.m.peakRssKb,
      peakPssKb: r.m.peakPssKb,
      cpuMs: r.m.cpuMs,
      machineBusy: r.m.machineBusy,
      reportExecs: f.execs,
      changed: f.changed,
      ok: r.m.code === 0 && f.ok,
    });
    if (!s.ok) s.note = `failed (exit ${r.m.code}), see ${r.log}`;
    else if (scenario.startsWith("rerun")) s.note = `changed again: ${f.names.join("; ")}`;
  } else if (tool === "haplay-inproc") {
    const r = await haplayInProcess(
      inv.haplay,
      forks,
      kind === "templates" ? TEMPLATES_PLAYBOOK : SITE_PLAYBOOK,
      { BENCH_GEN: gen },
    );
    const f = reportFacts(r.report);
    Object.assign(s, { wallMs: r.wallMs, reportExecs: f.execs, changed: f.changed, ok: f.ok });
  } else if (tool === "ansible") {
    const r = await ansible(
      inv.ansible,
      kind === "templates" ? "templates.yml" : "site.yml",
      forks,
      base,
      kind === "templates" ? { bench_gen: gen } : {},
    );
    Object.assign(s, {
      wallMs: r.m.wallMs,
      peakRssKb: r.m.peakRssKb,
      peakPssKb: r.m.peakPssKb,
      cpuMs: r.m.cpuMs,
      machineBusy: r.m.machineBusy,
      changed: r.recap.changed,
      ok: r.m.code === 0 && r.recap.failed === 0 && r.recap.unreachable === 0,
    });
    if (!s.ok) s.note = `failed (exit ${r.m.code}), see ${r.log}`;
    else if (scenario.startsWith("rerun")) {
      s.note = `changed again: ${ansibleChangedTasks(await Deno.readTextFile(r.log)).join("; ")}`;
    }
  } else if (tool === "floor" || tool === "pkg-floor") {
    const m = await (tool === "floor" ? floorCli : pkgFloorCli)(inv.haplay, forks, base);
    Object.assign(s, {
      wallMs: m.wallMs,
      peakRssKb: m.peakRssKb,
      cpuMs: m.cpuMs,
      machineBusy: m.machineBusy,
      ok: m.code === 0,
    });
    if (!s.ok) s.note = `failed (exit ${m.code}), see ${base}.log`;
  } else {
    s.wallMs = await floorInProcess(inv.haplay, forks);
    s.ok = true;
  }
  s.hostCpuMs = hostCpuDelta(cpu0, await hostCpuMs(lab));
  const d = await sshdDelta(lab, inv.hosts, before);
  s.sshdExecs = d.execs;
  s.sshdLogins = d.logins;
  s.execsByHost = d.byHost;
  ctx.samples.push(s);
  ctx.log(
    `${size} hosts run ${run} ${scenario.padEnd(14)} ${tool.padEnd(13)} ${
      (s.wallMs / 1000).toFixed(2).padStart(7)
    } s  execs/host ${s.sshdExecs.max}  changed ${s.changed ?? "-"}${
      s.peakRssKb ? `  rss ${Math.round(s.peakRssKb / 1024)} MB` : ""
    }  cpu ${((s.cpuMs ?? 0) / 1000).toFixed(1)}+${
      (s.hostCpuMs / 1000).toFixed(1)
    } s  load ${s.load1}${s.ok ? "" : "  FAILED"}`,
  );
  return s;
}

/** Converge then no-op; a re-run that changed something is recorded as `rerun*` and repeated. */
async function convergeAndNoop(ctx: Ctx, env: Env, tool: "haplay" | "ansible", rtt: boolean) {
  const sfx = rtt ? "-rtt50" : "";
  const conv = await runOne(ctx, env, tool, `converge${sfx}` as Scenario, "site");
  if (!conv.ok) return false;
  let noop = await runOne(ctx, env, tool, `noop${sfx}` as Scenario, "site");
  if (noop.ok && noop.changed) {
    noop = ctx.samples.pop()!;
    noop.scenario = `rerun${sfx}` as Scenario;
    noop.note = noop.note ?? "changed again";
    ctx.samples.push(noop);
    ctx.log(`  ${tool} re-run was not a no-op (${noop.changed} changed): running once more`);
    noop = await runOne(ctx, env, tool, `noop${sfx}` as Scenario, "site");
  }
  return noop.ok;
}

/** Same-work check: deployed state of the first hosts, as both tools left it (first converge). */
const COMPARE_SKIP = [
  /^var\/lib\/haplay\//,
  /^root\/\.ansible\//,
  /^var\/cache\//,
  /^var\/lib\/apt\//,
  /^var\/lib\/dpkg\/(?!status$)/,
  /^var\/backups\//,
  /^tmp\//,
];

function normalize(path: string, text: string): string {
  if (/^etc\/iptables\/rules\.v[46]$/.test(path)) {
    return text.split("\n").filter((l) => !l.startsWith("#")).join("\n");
  }
  return text;
}

async function recordDeployed(ctx: Ctx, env: Env, tool: string) {
  if (ctx.deployed.has(`${env.size}/${tool}`)) return;
  const m = new Map<string, UpperState>();
  for (const h of env.inv.hosts.slice(0, 3)) {
    const st = await upperState(env.lab, h.labHost, COMPARE_SKIP, normalize);
    st.set(
      "(live: iptables, ip_forward, addresses, keepalived)",
      await liveState(env.lab, h.labHost),
    );
    m.set(h.name, st);
  }
  ctx.deployed.set(`${env.size}/${tool}`, m);
}

/** Direct phase of one tool (scenarios 1-3). */
export async function directPhase(ctx: Ctx, size: number, run: number, tool: "haplay" | "ansible") {
  const { lab, inv } = await reset(ctx, size, false);
  const env: Env = { lab, inv, size, run, forks: size };
  if (!(await convergeAndNoop(ctx, env, tool, false))) return;
  await recordDeployed(ctx, env, tool);
  if (tool === "haplay") {
    await runOne(ctx, env, "haplay-inproc", "noop", "site");
    await runOne(ctx, env, "floor", "noop", "site");
    await runOne(ctx, env, "floor-inproc", "noop", "site");
  }
  await runOne(ctx, env, tool, "templates", "templates", "1");
  if (tool === "haplay") await runOne(ctx, env, "haplay-inproc", "templates", "templates", "2");
}

/** 50 ms RTT phase of one tool (scenarios 1 and 2 through the delaying proxies). */
export async function rttPhase(ctx: Ctx, size: number, run: number, tool: "haplay" | "ansible") {
  const { lab, inv, proxies } = await reset(ctx, size, true);
  try {
    const env: Env = { lab, inv, size, run, forks: size };
    if (!(await convergeAndNoop(ctx, env, tool, true))) return;
    if (tool === "haplay") {
      await runOne(ctx, env, "haplay-inproc", "noop-rtt50", "site");
      await runOne(ctx, env, "floor", "noop-rtt50", "site");
      await runOne(ctx, env, "floor-inproc", "noop-rtt50", "site");
    }
  } finally {
    await proxies!.stop();
  }
}

/**
 * First install only (phase `converge`): the converge of example 001 on a fresh lab, nothing
 * else (issue 18: first-install wall time against Ansible's).
 */
export async function firstInstallPhase(
  ctx: Ctx,
  size: number,
  run: number,
  tool: "haplay" | "ansible",
) {
  const { lab, inv } = await reset(ctx, size, false);
  await runOne(ctx, { lab, inv, size, run, forks: size }, tool, "converge", "site");
}

/** Package floor of the converge (direct, on a fresh lab): the site playbook's apt work only. */
export async function pkgFloorPhase(ctx: Ctx, size: number, run: number) {
  const { lab, inv } = await reset(ctx, size, false);
  await runOne(ctx, { lab, inv, size, run, forks: size }, "pkg-floor", "converge", "site");
}

/**
 * Memory-only mode (large sizes): haplay converge and no-op, peak RSS, with haplay's default
 * forks (all hosts up to 50 in flight), then the floor CLI with the same forks.
 */
export async function memoryPhase(ctx: Ctx, size: number, run: number) {
  const { lab, inv } = await reset(ctx, size, false);
  const env: Env = { lab, inv, size, run };
  if (!(await convergeAndNoop(ctx, env, "haplay", false))) return;
  // the one-connect-one-exec floor on the same hosts, same forks (issue 18: no-op vs floor at
  // every size)
  await runOne(ctx, env, "floor", "noop", "site");
}

/** Paths that differ between the tools' deployed states (same-work check). */
export function deployedDiff(ctx: Ctx, size: number) {
  const a = ctx.deployed.get(`${size}/haplay`);
  const b = ctx.deployed.get(`${size}/ansible`);
  if (!a || !b) return undefined;
  const out: Record<string, { onlyHaplay: string[]; onlyAnsible: string[]; differ: string[] }> = {};
  for (const [host, ha] of a) {
    const an = b.get(host) ?? new Map();
    out[host] = {
      onlyHaplay: [...ha.keys()].filter((p) => !an.has(p)).sort(),
      onlyAnsible: [...an.keys()].filter((p) => !ha.has(p)).sort(),
      differ: [...ha.keys()].filter((p) => an.has(p) && an.get(p) !== ha.get(p)).sort(),
    };
  }
  return out;
}
