/**
 * Benchmark results: the samples, their medians per size/scenario/tool, the goals of issue 9,
 * and their rendering as a Markdown table.
 * @module
 */

/** The scenarios. */
export type Scenario =
  | "converge"
  | "rerun"
  | "noop"
  | "templates"
  | "converge-rtt50"
  | "rerun-rtt50"
  | "noop-rtt50";

/** What was measured (`pkg-floor`: the converge's apt work alone, `bench/pkg_floor.ts`). */
export type Tool =
  | "haplay"
  | "haplay-inproc"
  | "ansible"
  | "floor"
  | "floor-inproc"
  | "pkg-floor";

/** Min / median / max of a per-host count. */
export interface PerHost {
  min: number;
  max: number;
  mean: number;
}

/** One measured run. */
export interface Sample {
  size: number;
  run: number;
  scenario: Scenario;
  tool: Tool;
  wallMs: number;
  peakRssKb?: number;
  peakPssKb?: number;
  /** Controller CPU (the tool's reaped process tree). */
  cpuMs?: number;
  /** CPU spent inside the lab hosts during the run (sshd sessions and all they ran). */
  hostCpuMs?: number;
  /** Share of this machine's CPU busy during the run, all processes (0..1). */
  machineBusy?: number;
  /** 1-minute load average when the run started (other users' work included). */
  load1?: number;
  /** Exec channels per host, from each host's sshd log. */
  sshdExecs?: PerHost;
  /** The same, host by host. */
  execsByHost?: Record<string, number>;
  /** SSH logins per host, from each host's sshd log. */
  sshdLogins?: PerHost;
  /** haplay only: execs per host from its report (the gate's exec is not counted there). */
  reportExecs?: PerHost;
  /** Tasks (haplay) or task results (Ansible) reported changed. */
  changed?: number;
  ok: boolean;
  note?: string;
}

/** Medians of one size and scenario. */
export interface Row {
  size: number;
  scenario: Scenario;
  runs: number;
  haplayMs?: number;
  haplayInprocMs?: number;
  ansibleMs?: number;
  ratio?: number;
  floorMs?: number;
  floorInprocMs?: number;
  haplayVsFloor?: number;
  haplayInprocVsFloor?: number;
  /** CPU (controller + hosts) of the haplay CLI no-op / of the floor CLI. */
  haplayCpuVsFloor?: number;
  /** converge: the package floor (the site playbook's apt work alone, all hosts at once). */
  pkgFloorMs?: number;
  /** Its CPU, controller and hosts. */
  pkgFloorCpuS?: number;
  pkgFloorHostCpuS?: number;
  /** haplay CLI / package floor, Ansible / package floor (wall time). */
  haplayVsPkgFloor?: number;
  ansibleVsPkgFloor?: number;
  haplayExecs?: PerHost;
  haplayReportExecs?: PerHost;
  ansibleExecs?: PerHost;
  haplayLogins?: PerHost;
  ansibleLogins?: PerHost;
  haplayRssMb?: number;
  ansibleRssMb?: number;
  haplayPssMb?: number;
  ansiblePssMb?: number;
  haplayCpuS?: number;
  ansibleCpuS?: number;
  haplayHostCpuS?: number;
  ansibleHostCpuS?: number;
  /** Ratio of total CPU (controller + hosts), haplay / Ansible. */
  cpuRatio?: number;
  /** Median load average at the start of the runs. */
  load1?: number;
  notes: string[];
}

/** Median of numbers (undefined when empty). */
export function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** min/max/mean of per-host values. */
export function perHost(values: number[]): PerHost {
  if (!values.length) return { min: 0, max: 0, mean: 0 };
  return {
    min: Math.min(...values),
    max: Math.max(...values),
    mean: Math.round(10 * values.reduce((a, b) => a + b, 0) / values.length) / 10,
  };
}

const SCENARIOS: Scenario[] = [
  "converge",
  "rerun",
  "noop",
  "templates",
  "converge-rtt50",
  "rerun-rtt50",
  "noop-rtt50",
];

/** The medians of every (size, scenario) measured. */
export function summarize(samples: Sample[]): Row[] {
  const rows: Row[] = [];
  const sizes = [...new Set(samples.map((s) => s.size))].sort((a, b) => a - b);
  for (const size of sizes) {
    for (const scenario of SCENARIOS) {
      const of = (t: Tool) =>
        samples.filter((s) => s.size === size && s.scenario === scenario && s.tool === t);
      const med = (t: Tool, f: (s: Sample) => number | undefined) =>
        median(of(t).map(f).filter((x): x is number => x !== undefined));
      if (!of("haplay").length && !of("ansible").length) continue;
      const mb = (kb?: number) => kb === undefined ? undefined : Math.round(kb / 1024);
      const s = (ms?: number) => ms === undefined ? undefined : Math.round(ms / 100) / 10;
      const r: Row = {
        size,
        scenario,
        runs: Math.max(of("haplay").length, of("ansible").length),
        haplayMs: med("haplay", (x) => x.wallMs),
        haplayInprocMs: med("haplay-inproc", (x) => x.wallMs),
        ansibleMs: med("ansible", (x) => x.wallMs),
        floorMs: med("floor", (x) => x.wallMs),
        floorInprocMs: med("floor-inproc", (x) => x.wallMs),
        pkgFloorMs: med("pkg-floor", (x) => x.wallMs),
        pkgFloorCpuS: s(med("pkg-floor", (x) => x.cpuMs)),
        pkgFloorHostCpuS: s(med("pkg-floor", (x) => x.hostCpuMs)),
        haplayExecs: maxPerHost(of("haplay").map((x) => x.sshdExecs)),
        haplayReportExecs: maxPerHost(of("haplay").map((x) => x.reportExecs)),
        ansibleExecs: maxPerHost(of("ansible").map((x) => x.sshdExecs)),
        haplayLogins: maxPerHost(of("haplay").map((x) => x.sshdLogins)),
        ansibleLogins: maxPerHost(of("ansible").map((x) => x.sshdLogins)),
        haplayRssMb: mb(maxOf(of("haplay").map((x) => x.peakRssKb))),
        ansibleRssMb: mb(maxOf(of("ansible").map((x) => x.peakRssKb))),
        haplayPssMb: mb(maxOf(of("haplay").map((x) => x.peakPssKb))),
        ansiblePssMb: mb(maxOf(of("ansible").map((x) => x.peakPssKb))),
        haplayCpuS: s(med("haplay", (x) => x.cpuMs)),
        ansibleCpuS: s(med("ansible", (x) => x.cpuMs)),
        haplayHostCpuS: s(med("haplay", (x) => x.hostCpuMs)),
        ansibleHostCpuS: s(med("ansible", (x) => x.hostCpuMs)),
        load1: round2(median(
          samples.filter((x) => x.size === size && x.scenario === scenario && x.load1 !== undefined)
            .map((x) => x.load1!),
        )),
        notes: [
          ...new Set(
            samples.filter((x) => x.size === size && x.scenario === scenario && x.note).map((x) =>
              `${x.tool}: ${x.note}`
            ),
          ),
        ],
      };
      if (r.haplayMs !== undefined && r.ansibleMs) r.ratio = round3(r.haplayMs / r.ansibleMs);
      const tot = (a?: number, b?: number) =>
        a === undefined || b === undefined ? undefined : a + b;
      const hc = tot(r.haplayCpuS, r.haplayHostCpuS), ac = tot(r.ansibleCpuS, r.ansibleHostCpuS);
      if (hc !== undefined && ac) r.cpuRatio = round3(hc / ac);
      const fc = tot(s(med("floor", (x) => x.cpuMs)), s(med("floor", (x) => x.hostCpuMs)));
      if (hc !== undefined && fc) r.haplayCpuVsFloor = round3(hc / fc);
      if (r.haplayMs !== undefined && r.floorMs) r.haplayVsFloor = round3(r.haplayMs / r.floorMs);
      if (r.haplayInprocMs !== undefined && r.floorInprocMs) {
        r.haplayInprocVsFloor = round3(r.haplayInprocMs / r.floorInprocMs);
      }
      if (r.pkgFloorMs) {
        if (r.haplayMs !== undefined) r.haplayVsPkgFloor = round3(r.haplayMs / r.pkgFloorMs);
        if (r.ansibleMs !== undefined) r.ansibleVsPkgFloor = round3(r.ansibleMs / r.pkgFloorMs);
      }
      rows.push(r);
    }
  }
  return rows;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function round2(x?: number): number | undefined {
  return x === undefined ? undefined : Math.round(x * 100) / 100;
}

function maxOf(xs: Array<number | undefined>): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
}

/** Worst case over runs: min of mins, max of maxes, mean of means. */
function maxPerHost(xs: Array<PerHost | undefined>): PerHost | undefined {
  const v = xs.filter((x): x is PerHost => !!x);
  if (!v.length) return undefined;
  return {
    min: Math.min(...v.map((x) => x.min)),
    max: Math.max(...v.map((x) => x.max)),
    mean: Math.round(10 * v.reduce((a, x) => a + x.mean, 0) / v.length) / 10,
  };
}

/** One goal of issue 9 and whether the measurement meets it. */
export interface Goal {
  goal: string;
  met: boolean | undefined;
  measured: string;
}

/** ` (package floor 0.30x Ansible's, haplay 1.23x it)`, or "" without a package floor. */
function pkgFloorNote(r: Row): string {
  if (!r.pkgFloorMs || !r.ansibleMs) return "";
  return ` (package floor ${(r.pkgFloorMs / r.ansibleMs).toFixed(3)}x Ansible's` +
    (r.haplayVsPkgFloor !== undefined ? `, haplay ${r.haplayVsPkgFloor.toFixed(2)}x it)` : ")");
}

/** The goals of issue 9 against the rows. */
export function goals(rows: Row[], memory: Row[]): Goal[] {
  const out: Goal[] = [];
  const at50 = rows.filter((r) => r.size === 50 && r.ratio !== undefined);
  if (at50.length) {
    out.push({
      goal: "50 hosts: haplay wall time <= 0.1x Ansible's in every scenario",
      met: at50.every((r) => r.ratio! <= 0.1),
      measured: at50.map((r) => `${r.scenario} ${r.ratio!.toFixed(3)}x${pkgFloorNote(r)}`)
        .join(", "),
    });
  }
  for (const [scn, limit] of [["noop", 1.3], ["noop-rtt50", 1.5]] as const) {
    const rs = rows.filter((r) => r.scenario === scn && r.haplayVsFloor !== undefined);
    if (!rs.length) continue;
    out.push({
      goal: `${scn}: haplay <= ${limit}x the floor (CLI vs floor CLI and in-process vs in-process)`,
      // both ways must hold: the CLI ratio alone swings with the machine's load
      met: rs.every((r) =>
        r.haplayVsFloor! <= limit &&
        (r.haplayInprocVsFloor === undefined || r.haplayInprocVsFloor <= limit)
      ),
      measured: rs.map((r) =>
        `${r.size} hosts: ${r.haplayVsFloor!.toFixed(2)}x CLI` +
        (r.haplayInprocVsFloor !== undefined
          ? `, ${r.haplayInprocVsFloor.toFixed(2)}x in-process`
          : "") +
        (r.haplayCpuVsFloor !== undefined ? `, ${r.haplayCpuVsFloor.toFixed(2)}x in CPU` : "")
      ).join("; "),
    });
  }
  const noop = rows.filter((r) => r.scenario.startsWith("noop") && r.haplayExecs);
  if (noop.length) {
    out.push({
      goal: "no-op run: 1 exec per host (sshd log)",
      met: noop.every((r) => r.haplayExecs!.max <= 1),
      measured: noop.map((r) =>
        `${r.size}/${r.scenario}: max ${r.haplayExecs!.max}, mean ${r.haplayExecs!.mean}`
      ).join("; "),
    });
  }
  const conv = rows.filter((r) => !r.scenario.startsWith("noop") && r.haplayExecs);
  if (conv.length) {
    out.push({
      goal: "converge: <= 3 execs per host (sshd log)",
      met: conv.every((r) => r.haplayExecs!.max <= 3),
      measured: conv.map((r) =>
        `${r.size}/${r.scenario}: max ${r.haplayExecs!.max}, mean ${r.haplayExecs!.mean}`
      ).join("; "),
    });
  }
  const m200 = memory.filter((r) => r.size >= 200 && r.haplayRssMb !== undefined);
  if (m200.length) {
    out.push({
      goal: "200 hosts: haplay controller peak RSS <= 150 MB",
      met: m200.every((r) => r.haplayRssMb! <= 150),
      measured: m200.map((r) => `${r.scenario} ${r.haplayRssMb} MB`).join(", "),
    });
  }
  return out;
}

const sec = (ms?: number) => ms === undefined ? "–" : (ms / 1000).toFixed(2);
const ph = (p?: PerHost) =>
  p === undefined ? "–" : p.min === p.max ? `${p.max}` : `${p.min}–${p.max}`;
const n = (x?: number, suffix = "") => x === undefined ? "–" : `${x}${suffix}`;

/** Per size and host: paths whose deployed state differs between the tools. */
export type SameWork = Record<
  string,
  Record<string, { onlyHaplay: string[]; onlyAnsible: string[]; differ: string[] }> | undefined
>;

/**
 * Package floor cells of the time table (`package floor s`, `haplay, Ansible / package floor`)
 * and the resources table (its CPU); none at all when no row has a package floor (older results).
 */
function pkgCells(pkg: boolean, r?: Row): { time: string; cpu: string } {
  if (!pkg) return { time: "", cpu: "" };
  if (!r) {
    return {
      time: " package floor s | haplay, Ansible / package floor |",
      cpu: " CPU s controller+hosts package floor |",
    };
  }
  const x = (v?: number) => v?.toFixed(2) ?? "–";
  return {
    time: r.pkgFloorMs === undefined
      ? " – | – |"
      : ` ${sec(r.pkgFloorMs)} | ${x(r.haplayVsPkgFloor)}, ${x(r.ansibleVsPkgFloor)} |`,
    cpu: r.pkgFloorMs === undefined ? " – |" : ` ${n(r.pkgFloorCpuS)}+${n(r.pkgFloorHostCpuS)} |`,
  };
}

/** The results as Markdown: the time table, the resources table, the goals. */
export function markdown(rows: Row[], memory: Row[], gs: Goal[], same: SameWork = {}): string {
  const pkg = rows.some((r) => r.pkgFloorMs !== undefined);
  const head = pkgCells(pkg);
  const lines = [
    "| hosts | scenario | haplay CLI s | haplay in-process s | Ansible s | haplay/Ansible | floor CLI s | floor in-process s | haplay/floor (CLI, in-process) |" +
    head.time,
    "| ----: | -------- | -----------: | ------------------: | --------: | -------------: | ----------: | -----------------: | -----------------------------: |" +
    (pkg ? " ---: | ---: |" : ""),
  ];
  for (const r of rows) {
    const vs = r.haplayVsFloor === undefined
      ? "–"
      : `${r.haplayVsFloor.toFixed(2)}, ${r.haplayInprocVsFloor?.toFixed(2) ?? "–"}`;
    lines.push(
      `| ${r.size} | ${r.scenario} | ${sec(r.haplayMs)} | ${sec(r.haplayInprocMs)} | ${
        sec(r.ansibleMs)
      } | ` +
        `${r.ratio?.toFixed(3) ?? "–"} | ${sec(r.floorMs)} | ${sec(r.floorInprocMs)} | ${vs} |` +
        pkgCells(pkg, r).time,
    );
  }
  lines.push(
    "",
    "| hosts | scenario | SSH execs/host haplay (sshd; report) | SSH execs/host Ansible | logins/host haplay, Ansible | peak RSS MB haplay, Ansible | peak PSS MB haplay, Ansible | CPU s controller+hosts haplay | CPU s controller+hosts Ansible | CPU haplay/Ansible | load |" +
      head.cpu,
    "| ----: | -------- | -----------------------------------: | ---------------------: | --------------------------: | --------------------------: | --------------------------: | ----------------------------: | -----------------------------: | -----------------: | ---: |" +
      (pkg ? " ---: |" : ""),
  );
  for (const r of [...rows, ...memory]) {
    lines.push(
      `| ${r.size} | ${r.scenario} | ${ph(r.haplayExecs)}; ${ph(r.haplayReportExecs)} | ${
        ph(r.ansibleExecs)
      } | ` +
        `${ph(r.haplayLogins)}, ${ph(r.ansibleLogins)} | ${n(r.haplayRssMb)}, ${
          n(r.ansibleRssMb)
        } | ` +
        `${n(r.haplayPssMb)}, ${n(r.ansiblePssMb)} | ${n(r.haplayCpuS)}+${n(r.haplayHostCpuS)} | ` +
        `${n(r.ansibleCpuS)}+${n(r.ansibleHostCpuS)} | ${r.cpuRatio?.toFixed(3) ?? "–"} | ${
          n(r.load1)
        } |` + pkgCells(pkg, r).cpu,
    );
  }
  const notes = [...rows, ...memory].flatMap((r) =>
    r.notes.map((x) => `- ${r.size}/${r.scenario}: ${x}`)
  );
  if (notes.length) lines.push("", "Notes:", "", ...notes);
  for (const [size, hosts] of Object.entries(same)) {
    if (!hosts) continue;
    lines.push(
      "",
      `Same work (${size} hosts, deployed state after the first converge of each tool):`,
      "",
    );
    for (const [h, d] of Object.entries(hosts)) {
      const parts = [
        d.differ.length ? `differ: ${d.differ.map((p) => `\`${p}\``).join(", ")}` : "",
        d.onlyHaplay.length ? `only haplay: ${d.onlyHaplay.map((p) => `\`${p}\``).join(", ")}` : "",
        d.onlyAnsible.length
          ? `only Ansible: ${d.onlyAnsible.map((p) => `\`${p}\``).join(", ")}`
          : "",
      ].filter(Boolean);
      lines.push(`- ${h}: ${parts.length ? parts.join("; ") : "identical"}`);
    }
  }
  lines.push("", "| goal (issue 9) | met | measured |", "| --- | --- | --- |");
  for (const g of gs) {
    lines.push(
      `| ${g.goal} | ${g.met === undefined ? "–" : g.met ? "yes" : "**no**"} | ${g.measured} |`,
    );
  }
  return lines.join("\n") + "\n";
}
