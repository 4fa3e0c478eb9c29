/**
 * Run one command and measure it: wall time, peak RSS and PSS of its whole process tree
 * (sampled every 50 ms / 200 ms from /proc, plus processes carrying `marker` in their command
 * line, such as OpenSSH ControlPersist masters that daemonized), its CPU time (reaped children)
 * and how busy the machine was meanwhile. Started by the benchmark with `-A` (Deno grants
 * /proc only to --allow-all); prints one JSON {@link Measured} line on stdout.
 *
 * ```sh
 * deno run -A bench/measure.ts '{"cmd":"ansible-playbook","args":[...],"env":{...},"out":"f.log"}'
 * ```
 * @module
 */
import { childCpuMs, findByMarker, machineCpu, pssKb, rssKb, treeOf } from "./rss.ts";

/** What to run. */
export interface MeasureSpec {
  cmd: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** File receiving stdout and stderr. */
  out: string;
  /** Command-line marker of detached helpers to count too (e.g. the ControlPath dir). */
  marker?: string;
  /** RSS sampling interval in ms (default 50). */
  intervalMs?: number;
}

/** The measurement. */
export interface Measured {
  code: number;
  wallMs: number;
  peakRssKb: number;
  peakPssKb: number;
  peakProcs: number;
  samples: number;
  cpuMs: number;
  /** Share of the machine's CPU busy during the run (all processes, 0..1). */
  machineBusy: number;
}

/** Run `spec` and measure it. */
export async function measure(spec: MeasureSpec): Promise<Measured> {
  const interval = spec.intervalMs ?? 50;
  const out = await Deno.open(spec.out, { write: true, create: true, truncate: true });
  const cpu0 = childCpuMs();
  const m0 = machineCpu();
  const t0 = performance.now();
  const child = new Deno.Command(spec.cmd, {
    args: spec.args,
    env: spec.env,
    clearEnv: true,
    cwd: spec.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = (s: ReadableStream<Uint8Array>) =>
    s.pipeTo(new WritableStream({ write: (c) => void out.writeSync(c) }));
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const extra = new Set<number>();
  let peakRss = 0, peakPss = 0, peakProcs = 0, samples = 0;
  const sample = () => {
    samples++;
    if (spec.marker && samples % 5 === 1) {
      for (const p of findByMarker(spec.marker)) {
        extra.add(p);
      }
    }
    const pids = treeOf([child.pid, ...extra]);
    let rss = 0;
    for (const p of pids) rss += rssKb(p);
    if (rss > peakRss) peakRss = rss;
    if (pids.length > peakProcs) peakProcs = pids.length;
    if (samples % 4 === 1) {
      let pss = 0;
      for (const p of pids) pss += pssKb(p);
      if (pss > peakPss) peakPss = pss;
    }
  };
  sample();
  const timer = setInterval(sample, interval);
  const status = await child.status;
  const wallMs = performance.now() - t0;
  clearInterval(timer);
  await pumps;
  out.close();
  const m1 = machineCpu();
  return {
    code: status.code,
    wallMs: Math.round(wallMs),
    peakRssKb: peakRss,
    peakPssKb: peakPss,
    peakProcs,
    samples,
    cpuMs: childCpuMs() - cpu0,
    machineBusy: m1.total > m0.total ? (m1.busy - m0.busy) / (m1.total - m0.total) : 0,
  };
}

if (import.meta.main) {
  const spec = JSON.parse(Deno.args[0]) as MeasureSpec;
  console.log(JSON.stringify(await measure(spec)));
}
