/**
 * haplay vs Ansible, on the namespace lab (issue 9).
 *
 * ```sh
 * deno task bench [--hosts 10,50] [--runs 3] [--phases direct,rtt50] [--hosts 200]
 * ```
 *
 * For each size and run, in alternation (haplay first on even runs, Ansible first on odd ones),
 * each tool deploys example 001 on a freshly recreated lab (scenarios: converge, no-op re-run,
 * 20 templated files), then again behind 25 ms-per-direction proxies (converge and no-op over a
 * 50 ms round trip); then, on one more fresh lab, the package floor of the converge (only the
 * apt work, `bench/pkg_floor.ts`). Sizes above 50 run the memory-only mode (haplay converge and
 * no-op).
 * Writes `bench/results.json` and the table to stdout, and with `--docs` into `docs/bench.md`.
 * Logs of every run stay in `--log-dir` (default a temp dir, printed).
 * @module
 */
import { parseArgs } from "node:util";
import { labDown, MAX_HOSTS } from "../lab/lab.ts";
import { hostCapacity, parseSubnet } from "../lab/_addr.ts";
import { onPath } from "../labkit/sys.ts";
import {
  type Ctx,
  deployedDiff,
  directPhase,
  firstInstallPhase,
  memoryPhase,
  pkgFloorPhase,
  rttPhase,
} from "./scenarios.ts";
import { publish, rerender } from "./report.ts";
import { REPO } from "./tools.ts";
import { knownError, runMain } from "../engine/_cli_errors.ts";
import { machineInfo } from "./machine.ts";

/** A lab subnet larger than a /24 (sizes above 244 hosts need one). */
function bigSubnet(subnet: string): boolean {
  try {
    return parseSubnet(subnet).bits < 24;
  } catch {
    return false;
  }
}

/** `m` of the run indices 0..n-1, spread out (m = 1: the middle one). */
export function spread(n: number, m: number): Set<number> {
  return new Set(Array.from({ length: m }, (_, k) => Math.round(((k + 0.5) * n) / m - 0.5)));
}

/** The first of 198.19.249.0/24 .. 198.19.240.0/24 with no address on this machine. */
async function freeSubnet(): Promise<string> {
  const r = await new Deno.Command("ip", { args: ["-4", "-o", "addr", "show"], stdout: "piped" })
    .output();
  const used = new TextDecoder().decode(r.stdout);
  for (let x = 249; x >= 240; x--) {
    if (!used.includes(` 198.19.${x}.`)) return `198.19.${x}.0/24`;
  }
  throw new Error("no free subnet in 198.19.240.0/24 .. 198.19.249.0/24");
}

const USAGE =
  `usage: deno task bench [--hosts 10,50] [--runs 3] [--ansible-runs 1] [--phases direct,rtt50]
  [--tools haplay,ansible,pkg-floor]
  [--render RESULTS.json] [--lab bn1] [--keep-lab] [--subnet 198.19.24X.0/24 (default: a free one) | a /20../23 such as 198.18.32.0/22] [--out bench/results.json] [--log-dir DIR] [--docs]
  --phases converge: the first install only (converge on a fresh lab, both tools, pkg-floor)
  --ansible-runs 0: no Ansible; pkg-floor: the converge's apt work alone (direct phase, fresh lab)
  sizes above 50 hosts (max 1000; above 244 a --subnet larger than a /24) run the memory-only
  mode once: haplay converge + no-op, peak RSS, and the one-connect-one-exec floor`;

/** Entry point; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      options: {
        hosts: { type: "string", default: "10,50" },
        runs: { type: "string", default: "3" },
        "ansible-runs": { type: "string", default: "1" },
        tools: { type: "string", default: "haplay,ansible,pkg-floor" },
        phases: { type: "string", default: "direct,rtt50" },
        lab: { type: "string", default: "bn1" },
        subnet: { type: "string", default: "auto" },
        out: { type: "string", default: `${REPO}/bench/results.json` },
        "log-dir": { type: "string" },
        docs: { type: "boolean", default: false },
        "keep-lab": { type: "boolean", default: false },
        render: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 4;
  }
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  if (a.render) {
    await rerender(a.render, a.out, a.docs);
    return 0;
  }
  const sizes = a.hosts.split(",").map(Number);
  const runs = Number(a.runs);
  const phases = a.phases.split(",");
  const tools = a.tools.split(",");
  const ansibleRuns = Math.min(runs, Number(a["ansible-runs"]));
  const ansibleAt = spread(runs, ansibleRuns);
  if (sizes.some((n) => !Number.isInteger(n) || n < 4 || n > MAX_HOSTS) || !(runs >= 1)) {
    console.error(`--hosts: 4..${MAX_HOSTS} each; --runs >= 1\n${USAGE}`);
    return 4;
  }
  if (a.subnet === "auto") a.subnet = await freeSubnet();
  const subnetOk = /^198\.19\.24\d\.0\/24$/.test(a.subnet) || bigSubnet(a.subnet);
  if (!/^[a-z][a-z0-9]{0,6}$/.test(a.lab) || !subnetOk) {
    console.error(
      `--lab: a lab name; --subnet: 198.19.240.0/24 .. 198.19.249.0/24, or a /20../23 ` +
        `inside 198.18.0.0/15 (e.g. 198.18.32.0/22 for 1,000 hosts)\n${USAGE}`,
    );
    return 4;
  }
  const cap = hostCapacity(parseSubnet(a.subnet));
  if (sizes.some((n) => n > cap)) {
    console.error(`--hosts: ${a.subnet} holds ${cap} lab hosts; use a larger --subnet\n${USAGE}`);
    return 4;
  }
  if (tools.includes("ansible") && ansibleAt.size > 0 && !await onPath("ansible-playbook")) {
    console.error(
      "ansible-playbook not found: install Debian's ansible package (apt-get install ansible), " +
        "or run with --ansible-runs 0",
    );
    return 4;
  }
  const logDir = a["log-dir"] ?? await Deno.makeTempDir({ prefix: "haplay-bench-" });
  await Deno.mkdir(logDir, { recursive: true });
  const t0 = performance.now();
  const ctx: Ctx = {
    labName: a.lab,
    subnet: a.subnet,
    logDir,
    samples: [],
    baselines: new Map(),
    resets: { count: 0, mismatches: [] },
    deployed: new Map(),
    log: (m) =>
      console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}`),
  };
  ctx.log(`logs in ${logDir}`);
  const info = await machineInfo();
  let failed = false;
  try {
    for (const size of sizes) {
      for (let run = 0; run < runs; run++) {
        if (size > 50) {
          if (run === 0) await memoryPhase(ctx, size, run); // once: it is about memory
          continue;
        }
        const order =
          (run % 2 === 0 ? ["haplay", "ansible"] as const : ["ansible", "haplay"] as const)
            .filter((t) => tools.includes(t) && (t !== "ansible" || ansibleAt.has(run)));
        for (const phase of phases) {
          for (const tool of order) {
            if (phase === "direct") await directPhase(ctx, size, run, tool);
            else if (phase === "rtt50") await rttPhase(ctx, size, run, tool);
            else if (phase === "converge") await firstInstallPhase(ctx, size, run, tool);
            else throw new Error(`unknown phase ${phase}`);
          }
          if ((phase === "direct" || phase === "converge") && tools.includes("pkg-floor")) {
            await pkgFloorPhase(ctx, size, run);
          }
        }
      }
    }
  } catch (e) {
    failed = true;
    const v = Deno.args.includes("-v") || !!Deno.env.get("HAPLAY_DEBUG");
    ctx.log(
      `ERROR: ${
        knownError(e) ?? `${(e as Error).message?.split("\n")[0] ?? e}` +
            (v ? `\n${(e as Error).stack}` : " (re-run with -v for the stack)")
      }`,
    );
    if (!ctx.samples.length) {
      return 1; // nothing measured, nothing to publish (the lab is taken down below)
    }
  } finally {
    if (a["keep-lab"]) {
      ctx.log(`lab ${ctx.labName} kept up: deno task lab down --name ${ctx.labName}`);
    } else await labDown(ctx.labName).catch((e) => ctx.log(`lab down failed: ${e}`));
  }
  const sameWork = Object.fromEntries(
    sizes.map((s) => [s, deployedDiff(ctx, s)]).filter(([, d]) => d),
  );
  await publish(
    {
      date: new Date().toISOString(),
      machine: info,
      config: {
        sizes,
        runs,
        ansibleRuns,
        phases,
        tools,
        lab: ctx.labName,
        subnet: ctx.subnet,
        logDir,
      },
      durationS: Math.round((performance.now() - t0) / 1000),
      resets: ctx.resets,
      sameWork,
      samples: ctx.samples,
    },
    a.out,
    a.docs,
  );
  console.log(`logs: ${logDir}`);
  return failed ? 1 : 0;
}

if (import.meta.main) await runMain("bench", main);
