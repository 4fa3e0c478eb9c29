/**
 * The engine's public face: the task contract and play types, inventory loading, running,
 * rolling back and verifying. Everything else in `engine/` (scripts, shell quoting, the SSH
 * session, the redactor) is internal.
 * @module
 */
import type * as types from "./types.ts";
import * as inventory from "./inventory.ts";
import * as run from "./run.ts";
import type * as report from "./report.ts";
import * as recap from "./report.ts";
import * as rollback from "./rollback.ts";
import * as playbook from "./playbook.ts";
import type * as connector from "./connector.ts";
import * as local from "./connector_local.ts";

/**
 * One idempotent operation on one resource of a host: a side-effect-free `probe` (POSIX sh),
 * a pure `plan` from its output, and optional handlers to notify.
 * @example
 * ```ts
 * import type { Task } from "./mod.ts";
 * const hostname: Task = {
 *   name: "hostname is lb1",
 *   module: "custom",
 *   resource: "hostname",
 *   probe: "hostname",
 *   plan: (facts) =>
 *     facts.trim() === "lb1" ? { kind: "ok", reason: "already lb1" } : {
 *       kind: "change",
 *       summary: `hostname ${facts.trim()} -> lb1`,
 *       backup: 'hostname > "$J/hostname"',
 *       apply: "hostname lb1",
 *       restore: 'hostname "$(cat "$J/hostname")"',
 *     },
 * };
 * ```
 */
export type Task = types.Task;

/**
 * What a task's `plan` decided: {@link PlanOk} or {@link PlanChange}.
 * @example
 * ```ts
 * import type { Plan } from "./mod.ts";
 * const nothing: Plan = { kind: "ok", reason: "content matches" };
 * ```
 */
export type Plan = types.Plan;

/**
 * Nothing to do, and why.
 * @example
 * ```ts
 * import type { PlanOk } from "./mod.ts";
 * const ok: PlanOk = { kind: "ok", reason: "package installed" };
 * ```
 */
export type PlanOk = types.PlanOk;

/**
 * A change: `backup` saves the pre-state into `$J` (journaled before anything changes),
 * `apply` makes it, `restore` puts the pre-state back on rollback.
 * @example
 * ```ts
 * import type { PlanChange } from "./mod.ts";
 * const c: PlanChange = {
 *   kind: "change",
 *   summary: "create /etc/motd",
 *   backup: "hp_save_path /etc/motd",
 *   apply: "echo hello > /etc/motd",
 *   restore: "hp_restore_path /etc/motd",
 * };
 * ```
 */
export type PlanChange = types.PlanChange;

/**
 * A handler: runs once at the end of a host's apply when a task notified it.
 * @example
 * ```ts
 * import type { Handler } from "./mod.ts";
 * const h: Handler = { name: "reload keepalived", run: "kill -HUP $(cat /run/keepalived.pid)" };
 * ```
 */
export type Handler = types.Handler;

/**
 * What a play builds a host's tasks from: its name, merged variables, groups and every host.
 * @example
 * ```ts
 * import type { HostContext } from "./mod.ts";
 * const motd = (h: HostContext) => `${h.name} (${h.groups.join(", ")})\n`;
 * ```
 */
export type HostContext = types.HostContext;

/**
 * A play: a host pattern, each host's tasks and handlers, and how to roll over the hosts.
 * @example
 * ```ts
 * import type { Play } from "./mod.ts";
 * import { file } from "../tasks/mod.ts";
 * const play: Play = {
 *   name: "motd",
 *   hosts: "web:&prod",
 *   rolling: { serial: "50%" },
 *   tasks: (h) => [file({ path: "/etc/motd", content: `${h.name}\n` })],
 * };
 * ```
 */
export type Play = types.Play;

/**
 * A play's order, batches and gates: see {@link Play}'s `rolling`.
 * @example
 * ```ts
 * import type { Rolling } from "./mod.ts";
 * const oneByOne: Rolling = {
 *   serial: 1,
 *   order: (hosts) => hosts.map((h) => h.name).reverse(),
 *   gate: async (h, ctx) => {
 *     const r = await ctx.run(h.name, "pgrep -x keepalived");
 *     return { ok: r.code === 0, detail: r.code === 0 ? "running" : "not running" };
 *   },
 * };
 * ```
 */
export type Rolling = types.Rolling;

/**
 * Batches: a count, a percentage, or a list of them (the last repeats), as Ansible's `serial`.
 * @example
 * ```ts
 * import type { Serial } from "./mod.ts";
 * const canary: Serial = [1, "50%"];
 * ```
 */
export type Serial = types.Serial;

/**
 * What a gate found on a host.
 * @example
 * ```ts
 * import type { GateResult } from "./mod.ts";
 * const g: GateResult = { ok: false, detail: "VIP held by both LBs" };
 * ```
 */
export type GateResult = types.GateResult;

/**
 * What `order`, `when` and `gate` hooks may do: run a script on a host, log, read order probes.
 * @example
 * ```ts
 * import type { HookContext } from "./mod.ts";
 * const uptime = async (ctx: HookContext, host: string) =>
 *   (await ctx.run(host, "cat /proc/uptime")).stdout;
 * ```
 */
export type HookContext = types.HookContext;

/**
 * Outcome of one task on one host.
 * @example
 * ```ts
 * import type { TaskStatus } from "./mod.ts";
 * const done = (s: TaskStatus) => s === "ok" || s === "changed";
 * ```
 */
export type TaskStatus = types.TaskStatus;

/**
 * Load and validate an Ansible YAML inventory (group_vars/host_vars, `!env`/`!file` secrets);
 * throws an `InventoryError` listing every problem with file, line, column and field.
 * @example
 * ```ts
 * import { loadInventory } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hosts.yaml`, "all:\n  hosts:\n    lb1: { ansible_host: 198.18.0.11 }\n");
 * const inv = await loadInventory(`${dir}/hosts.yaml`);
 * console.assert(inv.hosts.get("lb1")?.connection.host === "198.18.0.11");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export const loadInventory: typeof inventory.loadInventory = inventory.loadInventory;

/**
 * A loaded inventory: hosts (in order) and groups.
 * @example
 * ```ts
 * import type { Inventory } from "./mod.ts";
 * const names = (inv: Inventory) => [...inv.hosts.keys()];
 * ```
 */
export type Inventory = inventory.Inventory;

/**
 * One inventory host: merged vars, groups and connection settings.
 * @example
 * ```ts
 * import type { InventoryHost } from "./mod.ts";
 * const where = (h: InventoryHost) => `${h.connection.user}@${h.connection.host}`;
 * ```
 */
export type InventoryHost = inventory.InventoryHost;

/**
 * One problem found in an inventory (or by a playbook's lint), positioned.
 * @example
 * ```ts
 * import { formatIssue, type Issue } from "./mod.ts";
 * const show = (issues: Issue[]) => issues.map(formatIssue).join("\n");
 * ```
 */
export type Issue = inventory.Issue;

/**
 * `file:line:col path: message`, as every inventory and lint error is printed.
 * @example
 * ```ts
 * import { formatIssue } from "./mod.ts";
 * const line = formatIssue({
 *   file: "prod.yaml", line: 3, col: 7, path: "all.vars.x", severity: "error", message: "bad",
 * });
 * console.assert(line === "prod.yaml:3:7 all.vars.x: bad");
 * ```
 */
export const formatIssue: typeof inventory.formatIssue = inventory.formatIssue;

/**
 * Run plays against an inventory: per host one probe exec, pure planning, one apply exec;
 * never throws for host failures (see the report). `connector` replaces SSH, e.g. with
 * {@link LocalConnectors} to try a playbook on this machine.
 * @example
 * ```ts
 * import { LocalConnectors, loadInventory, runPlaybook } from "./mod.ts";
 * import { command } from "../tasks/mod.ts";
 * const local = await LocalConnectors.create();
 * await Deno.writeTextFile(`${local.root}/hosts.yaml`, "all:\n  hosts:\n    h1: {}\n");
 * const inv = await loadInventory(`${local.root}/hosts.yaml`);
 * const marker = `${local.rootOf("h1")}/ran`;
 * const report = await runPlaybook(inv, [{
 *   name: "demo",
 *   hosts: "all",
 *   tasks: () => [command({ cmd: `touch ${marker}`, creates: marker })],
 * }], { connector: local.factory, log: () => {} });
 * console.assert(report.ok && report.hosts[0].status === "changed");
 * await local.remove();
 * ```
 */
export const runPlaybook: typeof run.runPlaybook = run.runPlaybook;

/**
 * Options of {@link runPlaybook} (the CLI flags, plus `log` and `connector`).
 * @example
 * ```ts
 * import type { RunOptions } from "./mod.ts";
 * const dryRun: RunOptions = { check: true, diff: true, limit: "lb1", forks: 10 };
 * ```
 */
export type RunOptions = run.RunOptions;

/**
 * What a run did, per host and task (secrets redacted).
 * @example
 * ```ts
 * import type { RunReport } from "./mod.ts";
 * const failed = (r: RunReport) => r.hosts.filter((h) => h.status === "failed").map((h) => h.host);
 * ```
 */
export type RunReport = report.RunReport;

/**
 * One host in one play of a run.
 * @example
 * ```ts
 * import type { HostReport } from "./mod.ts";
 * const line = (h: HostReport) => `${h.host} ${h.status} in ${h.execs} execs`;
 * ```
 */
export type HostReport = report.HostReport;

/**
 * Final state of a host in a play.
 * @example
 * ```ts
 * import type { HostStatus } from "./mod.ts";
 * const bad = (s: HostStatus) => s === "failed" || s === "unreachable";
 * ```
 */
export type HostStatus = report.HostStatus;

/**
 * One task on one host.
 * @example
 * ```ts
 * import type { TaskReport } from "./mod.ts";
 * const changed = (ts: TaskReport[]) => ts.filter((t) => t.status === "changed").length;
 * ```
 */
export type TaskReport = report.TaskReport;

/**
 * The recap table printed at the end of a run.
 * @example
 * ```ts
 * import { recapTable } from "./mod.ts";
 * console.log(recapTable([]));
 * ```
 */
export const recapTable: typeof recap.recapTable = recap.recapTable;

/**
 * Undo the last run (or `runId` and everything after it) on every host, from each host's own
 * journal: one exec per host.
 * @example
 * ```ts
 * import { loadInventory, rollbackHosts } from "./mod.ts";
 * async function undo(file: string, runId?: string) {
 *   const res = await rollbackHosts(await loadInventory(file), { runId });
 *   return res.every((h) => h.ok);
 * }
 * ```
 */
export const rollbackHosts: typeof rollback.rollbackHosts = rollback.rollbackHosts;

/**
 * Options of {@link rollbackHosts}.
 * @example
 * ```ts
 * import type { RollbackOptions } from "./mod.ts";
 * const preview: RollbackOptions = { check: true, limit: "lb1" };
 * ```
 */
export type RollbackOptions = rollback.RollbackOptions;

/**
 * One host's rollback outcome.
 * @example
 * ```ts
 * import type { HostRollback } from "./mod.ts";
 * const why = (h: HostRollback) => h.ok ? "ok" : h.error ?? "failed";
 * ```
 */
export type HostRollback = rollback.HostRollback;

/**
 * The journal history (runs, tasks, state) of each host.
 * @example
 * ```ts
 * import { historyHosts, type Inventory } from "./mod.ts";
 * const lastRun = async (inv: Inventory) => (await historyHosts(inv)).map((h) => h.runs?.[0]?.id);
 * ```
 */
export const historyHosts: typeof rollback.historyHosts = rollback.historyHosts;

/**
 * Load a playbook module (its `plays`, and optional `lint` and `verify`).
 * @example
 * ```ts
 * import { loadPlaybook } from "./mod.ts";
 * const pb = await loadPlaybook(new URL("../playbooks/site.ts", import.meta.url).pathname);
 * console.assert(pb.plays.length === 2 && typeof pb.verify === "function");
 * ```
 */
export const loadPlaybook: typeof playbook.loadPlaybook = playbook.loadPlaybook;

/**
 * A loaded playbook.
 * @example
 * ```ts
 * import type { Playbook } from "./mod.ts";
 * const pb: Playbook = { plays: [], lint: () => [] };
 * ```
 */
export type Playbook = playbook.Playbook;

/**
 * What a playbook's `verify` receives.
 * @example
 * ```ts
 * import type { VerifyCheck, VerifyContext } from "./mod.ts";
 * async function verify(ctx: VerifyContext): Promise<VerifyCheck[]> {
 *   return [...ctx.inventory.hosts.keys()].map((host) => ({ host, check: "listed", ok: true, detail: "" }));
 * }
 * ```
 */
export type VerifyContext = playbook.VerifyContext;

/**
 * One live check on one host after a deploy.
 * @example
 * ```ts
 * import type { VerifyCheck } from "./mod.ts";
 * const c: VerifyCheck = { host: "lb1", check: "keepalived running", ok: true, detail: "pid 42" };
 * ```
 */
export type VerifyCheck = playbook.VerifyCheck;

/**
 * A host's transport as the engine sees it: run a script as root, count round trips, close.
 * @example
 * ```ts
 * import type { Connector } from "./mod.ts";
 * const echo: Connector = {
 *   execs: 0,
 *   runScript: (script) => Promise.resolve({ code: 0, stdout: script, stderr: "" }),
 *   close: () => {},
 * };
 * ```
 */
export type Connector = connector.Connector;

/**
 * Opens a host's {@link Connector}; `RunOptions.connector` and `RollbackOptions.connector`.
 * @example
 * ```ts
 * import type { ConnectorFactory } from "./mod.ts";
 * const down: ConnectorFactory = (h) => Promise.reject(new Error(`${h.name}: no route`));
 * ```
 */
export type ConnectorFactory = connector.ConnectorFactory;

/**
 * One exec's exit code, stdout and stderr.
 * @example
 * ```ts
 * import type { ExecResult } from "./mod.ts";
 * const r: ExecResult = { code: 0, stdout: "ok\n", stderr: "" };
 * ```
 */
export type ExecResult = connector.ExecResult;

/**
 * Hosts as directories under a temp root on this machine: the same scripts run under `sh`
 * (journal, lock and rollback included), no SSH, no root. Give tasks paths under `rootOf(host)`.
 * @example
 * ```ts
 * import { LocalConnectors } from "./mod.ts";
 * const local = await LocalConnectors.create();
 * console.assert(local.rootOf("h1") === `${local.root}/h1`);
 * await local.remove();
 * ```
 */
export const LocalConnectors: typeof local.LocalConnectors = local.LocalConnectors;

/**
 * The type of a {@link LocalConnectors} instance.
 * @example
 * ```ts
 * import { LocalConnectors } from "./mod.ts";
 * const make = (): Promise<LocalConnectors> => LocalConnectors.create();
 * ```
 */
export type LocalConnectors = local.LocalConnectors;
