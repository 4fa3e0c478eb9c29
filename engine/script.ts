/**
 * The two scripts of a run on one host, and the parsers of what they print.
 *
 * - Probe script: every task's probe, each framed by `@@<nonce>:begin:<i>` /
 *   `@@<nonce>:end:<i>:<rc>` lines, plus the engine's own facts (pending handlers, journal
 *   generation). Read-only.
 * - Apply script: takes the host lock, checks nobody changed the host since the probe, then per
 *   changed task: journal entry (summary, restore script), backup, `saved` mark, pending
 *   handlers recorded, apply, `done` mark; stops at the first failure; runs notified (and
 *   previously pending) handlers once at the end.
 * Session loss (sshd gone: the next marker write fails with EPIPE, or a SIGHUP) stops the
 * apply script at the next task boundary: the entry in flight completes (`done`), the run's
 * `state` becomes `interrupted`, handlers stay pending for the next run, the lock is released;
 * rollback treats an interrupted run like any run not rolled back yet.
 * The whole body is one sh function, so a syntax error anywhere means nothing runs. Every
 * snippet runs with the host lock's fd closed (`9>&-`), so a daemon it starts cannot hold the
 * lock after the run.
 * @module
 */
import { PRELUDE, PROBE_PRELUDE } from "./prelude.ts";
import { b64, q } from "./shell.ts";
import type { Handler, PlanChange, Task } from "./types.ts";
import { LOCK_SH } from "./lock_wait.ts";

/** Where haplay keeps its state on a host. */
export const STATE_DIR = "/var/lib/haplay";

const PATH_LINE =
  "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C";
const HEADER = `${PATH_LINE}\n${PRELUDE}`;
/** The probe script's header: the probe helpers only (sent to every host on every run). */
export const PROBE_HEADER = `${PATH_LINE}\n${PROBE_PRELUDE}`;

/** A random marker prefix that task output cannot collide with. */
export function newNonce(): string {
  return "HP" + crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

/** File name for a handler name (hex, so any name is safe). */
export function handlerKey(name: string): string {
  return [...new TextEncoder().encode(name)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Inverse of {@link handlerKey}. */
export function handlerName(key: string): string {
  const bytes = new Uint8Array((key.match(/../g) ?? []).map((h) => parseInt(h, 16)));
  return new TextDecoder().decode(bytes);
}

/** Build the probe script for `tasks`. */
export function probeScript(tasks: Task[], nonce: string): string {
  const parts = [PROBE_HEADER, "hp_main() {"];
  parts.push(`printf '@@${nonce}:engine\\n'`);
  // shell builtins only: this runs on every host of every run (no-op runs included)
  parts.push(
    `if [ -r ${STATE_DIR}/generation ]; then while IFS= read -r _g || [ -n "$_g" ]; do ` +
      `echo "generation=$_g"; done < ${STATE_DIR}/generation; fi`,
  );
  parts.push(
    `for _f in ${STATE_DIR}/pending/*; do ` +
      `[ -e "$_f" ] && echo "pending=\${_f##*/}"; done`,
  );
  tasks.forEach((t, i) => {
    parts.push(`printf '\\n@@${nonce}:begin:${i}\\n'`);
    parts.push(`(\n${t.probe}\n)`);
    parts.push(`printf '\\n@@${nonce}:end:${i}:%s\\n' "$?"`);
  });
  parts.push("}", "hp_main </dev/null");
  return parts.join("\n") + "\n";
}

/** What the probe script reported. */
export interface ProbeResult {
  facts: string[];
  rcs: number[];
  generation: string;
  pending: string[];
}

/** Split the probe script's stdout into per-task facts. */
export function parseProbe(stdout: string, count: number, nonce: string): ProbeResult {
  const facts: string[] = [];
  const rcs: number[] = [];
  const engineStart = stdout.indexOf(`@@${nonce}:engine\n`);
  const firstBegin = stdout.indexOf(`\n@@${nonce}:begin:0\n`);
  const engine = stdout.slice(
    engineStart + nonce.length + 10,
    firstBegin >= 0 ? firstBegin : undefined,
  );
  let generation = "0";
  const pending: string[] = [];
  for (const line of engine.split("\n")) {
    if (line.startsWith("generation=")) generation = line.slice(11).trim();
    if (line.startsWith("pending=")) pending.push(handlerName(line.slice(8).trim()));
  }
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const begin = `\n@@${nonce}:begin:${i}\n`;
    const b = stdout.indexOf(begin, pos);
    const endRe = new RegExp(`\\n@@${nonce}:end:${i}:(\\d+)\\n`, "g");
    endRe.lastIndex = b < 0 ? pos : b;
    const m = b < 0 ? null : endRe.exec(stdout);
    if (b < 0 || !m) {
      throw new Error(`probe output incomplete at task ${i + 1} of ${count}`);
    }
    facts.push(stdout.slice(b + begin.length, m.index));
    rcs.push(Number(m[1]));
    pos = m.index + 1;
  }
  return { facts, rcs, generation, pending };
}

/** One change in the apply script. */
export interface ApplyItem {
  index: number;
  task: Task;
  change: PlanChange;
}

/** Everything the apply script needs besides the changes. */
export interface ApplyContext {
  nonce: string;
  runId: string;
  /** Generation seen by the probe; the apply refuses to run if it moved. */
  generation: string;
  /** Who runs this (user@controller pid). */
  owner: string;
  /** Handlers defined for this host (saved in the journal so rollback can run them). */
  handlers: Handler[];
  /** Handler names pending from earlier runs that should run now. */
  pending: string[];
  /** How many runs to keep on the host. */
  keepRuns: number;
  /** Play name, for the journal. */
  play: string;
  /** Read-only check run after the handlers, its output framed for the controller. */
  gate?: string;
  /** Added to task indexes to name journal entries: entries of a run's plays never collide. */
  journalOffset?: number;
}

/**
 * sh writing `text` to `dest` byte for byte: `hp_write` (builtin printf, no fork; an apply
 * writes 3-4 journal files per task), base64 only for text with a NUL (which sh strings cannot
 * hold).
 */
function writeText(dest: string, text: string): string {
  if (text.includes("\0")) return `printf '%s' ${q(b64(text))} | base64 -d > ${dest}`;
  return `hp_write ${dest} ${q(text)}`;
}

/** Build the apply script. */
export function applyScript(items: ApplyItem[], ctx: ApplyContext): string {
  const n = ctx.nonce;
  const hp = STATE_DIR;
  const meta = JSON.stringify({
    id: ctx.runId,
    started: new Date().toISOString(),
    owner: ctx.owner,
    play: ctx.play,
    tasks: items.length,
  });
  const out: string[] = [HEADER, "hp_main() {"];
  out.push(`HP=${hp}; mkdir -p "$HP/runs" "$HP/pending"; chmod 700 "$HP"`);
  out.push(
    `if ! hp_lock; then printf '@@${n}:locked:%s\\n' "$(cat "$HP/lock.owner" 2>/dev/null)"; exit 75; fi`,
  );
  out.push(
    `printf '%s host-pid %s\\n' ${q(ctx.owner + " run " + ctx.runId)} "$$" > "$HP/lock.owner"`,
  );
  // Session loss: sshd gone means our stdout pipe is closed (EPIPE on the next marker) or a
  // SIGHUP; either way stop at the next task boundary with the journal consistent.
  out.push(`HP_LOST=; trap 'HP_LOST=1' HUP PIPE`);
  out.push(`_gen=0; if [ -r "$HP/generation" ]; then read -r _gen < "$HP/generation" || :; fi`);
  out.push(
    `if [ "$_gen" != ${
      q(ctx.generation)
    } ]; then printf '@@${n}:moved:%s\\n' "$(cat "$HP/last-run" 2>/dev/null)"; exit 76; fi`,
  );
  out.push(`echo $((_gen + 1)) > "$HP/generation"; echo ${q(ctx.runId)} > "$HP/last-run"`);
  out.push(`R="$HP/runs/${ctx.runId}"; mkdir -p "$R/tasks" "$R/handlers"; chmod 700 "$R"`);
  out.push(writeText(`"$R/meta.json"`, meta));
  out.push(`echo running > "$R/state"`);
  for (const h of ctx.handlers) {
    out.push(writeText(`"$R/handlers/${handlerKey(h.name)}"`, h.run));
  }
  out.push(`printf '@@${n}:started\\n' || HP_LOST=1; hp_boundary`);
  for (const { index, task, change } of items) {
    const id = String(index + (ctx.journalOffset ?? 0)).padStart(4, "0");
    const notify = change.restoreNotify ?? change.notify ?? task.notify ?? [];
    out.push(`J="$R/tasks/${id}"; mkdir -m 700 "$J"`);
    out.push(writeText(`"$J/summary"`, `${task.name}: ${change.summary}\n`));
    out.push(writeText(`"$J/resource"`, task.resource + "\n"));
    out.push(writeText(`"$J/restore.sh"`, change.restore + "\n"));
    if (notify.length) {
      out.push(writeText(`"$J/notify"`, notify.map(handlerKey).join("\n") + "\n"));
    }
    out.push(`( set -e\n${change.backup}\n) > "$J/log" 2>&1 9>&-; _rc=$?`);
    out.push(`if [ $_rc != 0 ]; then hp_task_failed ${index} backup $_rc; return 1; fi`);
    out.push(`: > "$J/saved"`);
    for (const h of change.notify ?? task.notify ?? []) {
      out.push(`cp "$R/handlers/${handlerKey(h)}" "$HP/pending/${handlerKey(h)}"`);
    }
    out.push(`( set -e; umask "$HP_UMASK"\n${change.apply}\n) >> "$J/log" 2>&1 9>&-; _rc=$?`);
    out.push(`if [ $_rc != 0 ]; then hp_task_failed ${index} apply $_rc; return 1; fi`);
    if (change.satisfies?.length) {
      const marks = change.satisfies.map((h) => `"$HP/pending/${handlerKey(h)}"`).join(" ");
      out.push(`if [ -e "$J/satisfied" ]; then rm -f ${marks}; fi`);
    }
    out.push(`: > "$J/done"; printf '@@${n}:done:${index}\\n' || HP_LOST=1; hp_boundary`);
  }
  // Handlers: every pending one (this run's notifications and earlier runs' leftovers).
  // builtins only (a glob sorts like ls under LC_ALL=C): this runs in every apply
  out.push(`for _f in "$HP"/pending/*; do [ -e "$_f" ] || continue; _h=\${_f##*/}`);
  out.push(
    `  ( set -e; umask "$HP_UMASK"; . "$HP/pending/$_h" ) > "$R/handler.$_h.log" 2>&1 9>&-; _rc=$?`,
  );
  out.push(
    `  if [ $_rc != 0 ]; then printf '@@${n}:hfail:%s:%s\\n' "$_h" "$_rc"; tail -c 2000 "$R/handler.$_h.log" | base64 | tr -d '\\n'; echo; echo failed > "$R/state"; return 1; fi`,
  );
  out.push(`  rm -f "$HP/pending/$_h"; printf '@@${n}:handler:%s\\n' "$_h"`);
  out.push(`done`);
  out.push(`echo done > "$R/state"`);
  out.push(
    `set -- "$HP"/runs/*; if [ $# -gt ${ctx.keepRuns} ]; then ` +
      `ls -1 "$HP/runs" | sort | head -n -${ctx.keepRuns} | while read -r _old; do rm -rf "$HP/runs/$_old"; done; fi`,
  );
  out.push(`printf '@@${n}:finished\\n'`);
  if (ctx.gate !== undefined) {
    out.push(`printf '@@${n}:gate-begin\\n'`);
    out.push(`(\n${ctx.gate}\n) 2>&1 9>&-; _rc=$?`);
    out.push(`printf '\\n@@${n}:gate-end:%s\\n' "$_rc"`);
  }
  out.push("}");
  out.push(`hp_boundary() {
  [ -z "$HP_LOST" ] && return 0
  echo interrupted > "$R/state"; echo "session lost" > "$R/interrupted"; exit 0
}`);
  out.push(LOCK_SH);
  out.push(`hp_task_failed() {
  printf '@@${n}:failed:%s:%s:%s\\n' "$1" "$2" "$3"
  tail -c 2000 "$J/log" | base64 | tr -d '\\n'; echo
  echo failed > "$R/state"
}`);
  out.push("hp_main </dev/null");
  return out.join("\n") + "\n";
}

/** What the apply script reported. */
export interface ApplyResult {
  started: boolean;
  finished: boolean;
  done: number[];
  failed?: { index: number; phase: string; rc: number; log: string };
  handlersRun: string[];
  handlerFailed?: { name: string; rc: number; log: string };
  locked?: string;
  moved?: string;
  gate?: { code: number; stdout: string };
}

function decodeTail(s: string | undefined): string {
  if (!s) return "";
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(s.trim()), (c) => c.charCodeAt(0)));
  } catch {
    return s;
  }
}

/** Parse the apply script's stdout. */
export function parseApply(stdout: string, nonce: string): ApplyResult {
  const r: ApplyResult = { started: false, finished: false, done: [], handlersRun: [] };
  const gb = stdout.indexOf(`@@${nonce}:gate-begin\n`);
  const ge = new RegExp(`\\n@@${nonce}:gate-end:(\\d+)\\n`).exec(stdout);
  if (gb >= 0 && ge && ge.index >= gb) {
    r.gate = {
      code: Number(ge[1]),
      stdout: stdout.slice(gb + nonce.length + 14, ge.index),
    };
    stdout = stdout.slice(0, gb);
  }
  const lines = stdout.split("\n");
  const p = `@@${nonce}:`;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (!l.startsWith(p)) continue;
    const [kind, ...rest] = l.slice(p.length).split(":");
    if (kind === "started") r.started = true;
    else if (kind === "finished") r.finished = true;
    else if (kind === "done") r.done.push(Number(rest[0]));
    else if (kind === "handler") r.handlersRun.push(handlerName(rest[0]));
    else if (kind === "locked") r.locked = rest.join(":");
    else if (kind === "moved") r.moved = rest.join(":");
    else if (kind === "failed") {
      r.failed = {
        index: Number(rest[0]),
        phase: rest[1],
        rc: Number(rest[2]),
        log: decodeTail(lines[i + 1]),
      };
    } else if (kind === "hfail") {
      r.handlerFailed = {
        name: handlerName(rest[0]),
        rc: Number(rest[1]),
        log: decodeTail(lines[i + 1]),
      };
    }
  }
  return r;
}
