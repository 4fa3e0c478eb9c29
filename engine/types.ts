/**
 * The task contract: every primitive in `tasks/` and every role builds on these types.
 *
 * A task owns exactly one resource on a host. Its `probe` is a side-effect-free POSIX sh
 * snippet printing the resource's current state; `plan` is a pure function from that output
 * to either "ok" or a {@link Change}. The engine batches all probes of a host into one SSH
 * round trip and all changes into one more.
 *
 * @module
 */

/** What a task decided after looking at the facts its probe printed. */
export type Plan = PlanOk | PlanChange;

/** Nothing to do. */
export interface PlanOk {
  kind: "ok";
  /** Why nothing needs doing, e.g. "content and mode match". */
  reason: string;
}

/**
 * A change to make. All snippets are POSIX sh run as root inside the apply script. They run
 * with `$J` set to this task's own journal directory (created, mode 0700) and may use the
 * helper functions of {@link ../engine/prelude.ts}. A snippet fails by exiting non-zero
 * (the script runs with `set -e` semantics per snippet).
 */
export interface PlanChange {
  kind: "change";
  /** One line for humans: "create /etc/foo (0644 root:root)". */
  summary: string;
  /** Optional unified diff (files) or before/after lines; secrets are redacted by the engine. */
  diff?: string;
  /** Saves the pre-state of the resource into `$J`. Runs before `apply`, journaled first. */
  backup: string;
  /** Makes the change. Must validate before anything lands (e.g. `validate` on a temp file). */
  apply: string;
  /** Restores the pre-state saved in `$J`. Idempotent: rollback may run it twice. */
  restore: string;
  /** Handlers to run after a rollback restored this resource (defaults to the task's notify). */
  restoreNotify?: string[];
  /**
   * Handlers this change notifies, instead of the task's `notify` (e.g. `[]` for a rewrite that
   * changes nothing the daemon reads).
   */
  notify?: string[];
  /**
   * Handlers this change makes redundant once it has run, when its apply created
   * `$J/satisfied` (e.g. a fresh start of a stopped daemon reads every file written before
   * it, so a reload or restart notified earlier has nothing left to do): their pending marks
   * are removed. Handlers notified after this change still run.
   */
  satisfies?: string[];
}

/** One idempotent operation on one resource of a host. */
export interface Task {
  /** Human name shown in progress output and reports. */
  name: string;
  /** The primitive that built it: "file", "apt", "sysctl", ... */
  module: string;
  /** Unique key of the owned resource on the host, e.g. "file:/etc/keepalived/keepalived.conf". */
  resource: string;
  /** Side-effect-free POSIX sh printing the current state; its stdout is handed to `plan`. */
  probe: string;
  /** Pure: probe output in, decision out. Must not throw on any probe output it can get. */
  plan(facts: string): Plan;
  /** Handler names notified when this task changes something. */
  notify?: string[];
  /** Tags for `--tags` / `--skip-tags`. */
  tags?: string[];
}

/** A handler runs at most once, at the end of the apply script, if a task notified it. */
export interface Handler {
  /** Name tasks notify, e.g. "reload keepalived". */
  name: string;
  /** POSIX sh snippet; non-zero exit fails the host. */
  run: string;
}

/** What a play builds its tasks from: one inventory host with its merged variables. */
export interface HostContext {
  /** Inventory name of the host. */
  name: string;
  /** Merged variables (group vars overridden by host vars); secrets already resolved. */
  vars: Record<string, unknown>;
  /** Groups the host belongs to (including "all"). */
  groups: string[];
  /** Every host of the inventory, for roles that need peers (e.g. unicast_peer). */
  all: ReadonlyMap<string, { name: string; vars: Record<string, unknown>; groups: string[] }>;
}

/** Batches: a count, a percentage ("30%"), or a list of them (Ansible's `serial`). */
export type Serial = number | string | Array<number | string>;

/**
 * How a play rolls over its hosts: in which order, in which batches, and what must hold on a
 * changed host before the next batch is touched. A play with a gate is "rolling": a host whose
 * gate fails, or whose apply fails, is rolled back from its journal at once and the play stops
 * (hosts not yet touched stay untouched).
 */
export interface Rolling {
  /** Batches (Ansible's `serial`); default: every host of the play in one batch. */
  serial?: Serial;
  /** Abort the play when more than this percentage of a batch failed (default: all failed). */
  maxFailPercentage?: number;
  /**
   * Order the play's hosts from live facts before batching (e.g. BACKUPs first, the current
   * MASTER last). Returns hosts (or their names); hosts it leaves out go last, in inventory
   * order.
   */
  order?(
    hosts: HostContext[],
    ctx: HookContext,
  ): Promise<Array<string | HostContext>> | Array<string | HostContext>;
  /**
   * A read-only sh snippet per host whose output `order` and `when` read through
   * `ctx.probed(host)`. It runs inside the run's first probe round trip, so it costs no exec.
   */
  orderProbe?(host: HostContext): string | undefined;
  /**
   * Decides from live facts (after `order`) whether `serial` applies to this run; false runs
   * every host of the play in one batch (e.g. a first install: nothing is serving yet, so
   * there is nothing to keep up while rolling). Gates still run on every changed host.
   */
  when?(hosts: HostContext[], ctx: HookContext): Promise<boolean> | boolean;
  /**
   * A gate that costs no round trip: its sh script runs at the end of the host's apply script
   * (after the handlers) and `check` reads what it printed.
   */
  gateScript?: {
    script(host: HostContext): string | undefined;
    check(host: HostContext, out: { code: number; stdout: string }): GateResult;
  };
  /**
   * Checked on each host that changed, right after its apply (and after `gateScript` passed)
   * and before the next batch. `applied` is what `gateScript` printed on the host, so a gate
   * can start from on-host observations instead of another round trip.
   */
  gate?(
    host: HostContext,
    ctx: HookContext,
    applied?: { code: number; stdout: string },
  ): Promise<GateResult>;
}

/** A play: which hosts, which tasks for each, and how to roll over them. */
export interface Play {
  /** Human name. */
  name: string;
  /** Host pattern: group or host names, `a:b` union, `a:&b` intersection, `a:!b` exclusion. */
  hosts: string;
  /** The tasks of one host, in order. */
  tasks(host: HostContext): Task[];
  /** Handlers of one host. */
  handlers?(host: HostContext): Handler[];
  /** Order, batches and gates; see {@link Rolling}. Its fields win over the loose ones below. */
  rolling?: Rolling;
  /** Same as `rolling.serial` (Ansible's play keyword). */
  serial?: Serial;
  /** Same as `rolling.maxFailPercentage`. */
  maxFailPercentage?: number;
  /** Same as `rolling.when` (the name before `rolling` existed). */
  rollingIf?: Rolling["when"];
  /** Same as `rolling.order`. */
  order?: Rolling["order"];
  /** Same as `rolling.orderProbe`. */
  orderProbe?: Rolling["orderProbe"];
  /** Same as `rolling.gate`. */
  gate?: Rolling["gate"];
  /** Same as `rolling.gateScript`. */
  gateScript?: Rolling["gateScript"];
  /**
   * Decides from the first probe's facts (`ctx.probed`, answered by this play's `orderProbe`)
   * whether this play may run at the same time as the play before it, instead of after it
   * (e.g. a first install: nothing is serving yet, so nothing needs the previous play's work
   * done first). The engine honours it only when no host has work in both plays (tasks, or
   * pending handlers) and `--forks` does not limit the run below their hosts together.
   */
  withPrevious?(hosts: HostContext[], ctx: HookContext): Promise<boolean> | boolean;
}

/** What a play's `gate` found. */
export interface GateResult {
  ok: boolean;
  detail: string;
}

/** What `order` and `gate` hooks may do: run a script as root on a host of the run. */
export interface HookContext {
  /** Run a POSIX sh script as root on a host over the run's own connection. */
  run(host: string, script: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Print a progress line (redacted). */
  log(line: string): void;
  /**
   * Output of the play's `orderProbe` on a host: from the run's first probe when the host has
   * not changed since, otherwise run again now.
   */
  probed(host: string): Promise<string>;
}

/** Outcome of one task on one host. */
export type TaskStatus = "ok" | "changed" | "failed" | "skipped" | "would-change";

/**
 * A typed fact: a read-only sh snippet and the pure parser of what it prints. A task built on a
 * fact plans from the parsed value, so its planner is testable as data (args + fact in, plan
 * out) and the parser apart (recorded output in, fact out). The parser throws on output it
 * cannot read; the task's `plan` turns that into a refusal.
 */
export interface Fact<T> {
  /** POSIX sh printing the fact; no side effects. */
  sh: string;
  /** Pure: what `sh` printed in, the fact out. */
  parse(stdout: string): T;
}
