/**
 * How the benchmark runs each tool. Every subprocess run goes through `bench/measure.ts`
 * (wall time, process-tree RSS) with the same clean environment: system PATH (no pyenv shims),
 * HOME, LANG and the tool's own variables.
 *
 * - haplay CLI: `deno run <the deploy task's flags> engine/cli.ts deploy INV [PLAYBOOK]
 *   --no-verify --forks N --report F` (what `deno task deploy` runs, without the task runner);
 * - haplay in-process: `loadInventory` + `loadPlaybook` + lint + `runPlaybook` in this process;
 * - Ansible: `ansible-playbook -i INV -f N PLAYBOOK` with `bench/ansible/ansible.cfg`, a fresh
 *   ControlPath directory per run (its ControlPersist masters are stopped after the run);
 * - floor: `bench/floor.ts` (CLI) or {@link floor} in-process;
 * - package floor: `bench/pkg_floor.ts` (CLI): only the site playbook's apt work.
 * @module
 */
import { fileURLToPath } from "node:url";
import { loadInventory } from "../engine/inventory.ts";
import { loadPlaybook } from "../engine/playbook.ts";
import { runPlaybook } from "../engine/run.ts";
import type { RunReport } from "../engine/report.ts";
import type { Measured, MeasureSpec } from "./measure.ts";
import { floor } from "./floor.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
/** Repository root. */
export const REPO = ROOT;
/** The flags of the project's deno tasks. */
export const DENO_FLAGS = [
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
];
/**
 * The flags of `deno task deploy`: the permissions, a 2 MB V8 young generation (ssh2's
 * handshakes otherwise grow it to tens of MB per run with hundreds of hosts) and V8's
 * optimize-for-size mode (200-host no-op: peak RSS ~157 → ~123 MB).
 */
export const CLI_FLAGS = [
  "--v8-flags=--max-semi-space-size=2,--optimize-for-size",
  ...DENO_FLAGS,
];
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** The VRRP password of the benchmark's deployments (lab only). */
export const VRRP_PASS = "bench-vrrp-pass";

/** The environment every measured tool gets. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: SYSTEM_PATH,
    HOME: Deno.env.get("HOME") ?? "/root",
    LANG: "C.UTF-8",
    NO_COLOR: "1",
    HAPLAY_VRRP_PASS: VRRP_PASS,
  };
  const dd = Deno.env.get("DENO_DIR");
  if (dd) env.DENO_DIR = dd;
  return { ...env, ...extra };
}

/** Run a command under `bench/measure.ts`. */
export async function measured(spec: MeasureSpec): Promise<Measured> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/bench/measure.ts`, JSON.stringify(spec)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success || !text.startsWith("{")) {
    throw new Error(`measure failed: ${new TextDecoder().decode(out.stderr).slice(-500)}`);
  }
  return JSON.parse(text) as Measured;
}

/** A haplay CLI run: the measurement and the run's JSON report. */
export interface HaplayCliRun {
  m: Measured;
  report?: RunReport;
  log: string;
}

/**
 * Run the haplay CLI (deploy) on `inventory` with `playbook` (default: the site playbook) and
 * `--forks` (omitted: the engine's default, all hosts up to 50 in flight).
 */
export async function haplayCli(
  inventory: string,
  forks: number | undefined,
  logBase: string,
  opts: { playbook?: string; env?: Record<string, string> } = {},
): Promise<HaplayCliRun> {
  const report = `${logBase}.report.json`;
  const log = `${logBase}.log`;
  const args = [
    "run",
    ...CLI_FLAGS,
    `${ROOT}/engine/cli.ts`,
    "deploy",
    inventory,
    ...(opts.playbook ? [opts.playbook] : []),
    "--no-verify",
    ...(forks ? ["--forks", String(forks)] : []),
    "--report",
    report,
  ];
  await Deno.remove(report).catch(() => {});
  const m = await measured({
    cmd: Deno.execPath(),
    args,
    env: baseEnv(opts.env),
    cwd: ROOT,
    out: log,
  });
  let rep: RunReport | undefined;
  try {
    rep = JSON.parse(await Deno.readTextFile(report));
  } catch {
    // no report: the run failed early (see the log)
  }
  return { m, report: rep, log };
}

/** An in-process haplay run: wall time (inventory + playbook load + lint + run) and report. */
export async function haplayInProcess(
  inventory: string,
  forks: number,
  playbook: string,
  env: Record<string, string> = {},
): Promise<{ wallMs: number; report: RunReport }> {
  for (const [k, v] of Object.entries({ HAPLAY_VRRP_PASS: VRRP_PASS, ...env })) Deno.env.set(k, v);
  const t0 = performance.now();
  const inv = await loadInventory(inventory);
  const pb = await loadPlaybook(playbook);
  if (pb.lint) {
    const errors = (await pb.lint(inv)).filter((i) => i.severity === "error");
    if (errors.length) throw new Error(`lint: ${errors.map((e) => e.message).join("; ")}`);
  }
  const report = await runPlaybook(inv, pb.plays, { forks, log: () => {} });
  return { wallMs: Math.round(performance.now() - t0), report };
}

/** An Ansible run. */
export interface AnsibleRun {
  m: Measured;
  log: string;
  /** PLAY RECAP counters summed over hosts. */
  recap: { ok: number; changed: number; failed: number; unreachable: number };
}

/** Sum the PLAY RECAP lines of an ansible-playbook log. */
export function parseRecap(text: string): AnsibleRun["recap"] {
  const r = { ok: 0, changed: 0, failed: 0, unreachable: 0 };
  for (
    const m of text.matchAll(
      /^\S+\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm,
    )
  ) {
    r.ok += Number(m[1]);
    r.changed += Number(m[2]);
    r.unreachable += Number(m[3]);
    r.failed += Number(m[4]);
  }
  return r;
}

/** Stop the ControlPersist masters of a ControlPath directory, then remove it. */
export async function stopMasters(dir: string): Promise<void> {
  const socks: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) socks.push(`${dir}/${e.name}`);
  } catch {
    return;
  }
  await Promise.all(socks.map((s) =>
    new Deno.Command("ssh", {
      args: ["-o", `ControlPath=${s}`, "-O", "exit", "bench-master"],
      stdout: "null",
      stderr: "null",
    }).output()
  ));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Run `ansible-playbook` from `bench/ansible`. */
export async function ansible(
  inventory: string,
  playbook: string,
  forks: number,
  logBase: string,
  extraVars: Record<string, string> = {},
): Promise<AnsibleRun> {
  const cp = await Deno.makeTempDir({ prefix: "bench-cp-" });
  const log = `${logBase}.log`;
  const args = ["-i", inventory, "-f", String(forks), playbook];
  for (const [k, v] of Object.entries(extraVars)) args.push("-e", `${k}=${v}`);
  try {
    const m = await measured({
      cmd: "ansible-playbook",
      args,
      env: baseEnv({
        ANSIBLE_CONFIG: `${ROOT}/bench/ansible/ansible.cfg`,
        ANSIBLE_HOST_KEY_CHECKING: "True",
        ANSIBLE_SSH_CONTROL_PATH_DIR: cp,
        ANSIBLE_NOCOLOR: "1",
      }),
      cwd: `${ROOT}/bench/ansible`,
      out: log,
      marker: cp,
    });
    return { m, log, recap: parseRecap(await Deno.readTextFile(log)) };
  } finally {
    await stopMasters(cp);
  }
}

/** The floor as a CLI (includes Deno startup). */
export async function floorCli(inventory: string, forks: number, logBase: string) {
  return await measured({
    cmd: Deno.execPath(),
    args: ["run", ...DENO_FLAGS, `${ROOT}/bench/floor.ts`, inventory, String(forks)],
    env: baseEnv(),
    cwd: ROOT,
    out: `${logBase}.log`,
  });
}

/** The package floor as a CLI (includes Deno startup, like the haplay CLI). */
export async function pkgFloorCli(inventory: string, forks: number, logBase: string) {
  return await measured({
    cmd: Deno.execPath(),
    args: ["run", ...DENO_FLAGS, `${ROOT}/bench/pkg_floor.ts`, inventory, String(forks)],
    env: baseEnv(),
    cwd: ROOT,
    out: `${logBase}.log`,
  });
}

/** The floor in this process. */
export async function floorInProcess(inventory: string, forks: number): Promise<number> {
  Deno.env.set("HAPLAY_VRRP_PASS", VRRP_PASS);
  return Math.round(await floor(inventory, forks));
}
