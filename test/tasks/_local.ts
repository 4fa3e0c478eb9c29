/**
 * Test helpers: run task snippets locally with the engine prelude (probes are read-only;
 * apply/backup/restore only on temp paths), and assertions on plans.
 * @module
 */
import assert from "node:assert/strict";
import { PRELUDE } from "../../engine/prelude.ts";
import type { Plan, PlanChange, Task } from "../../engine/types.ts";

/** Result of a local sh run. */
export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run sh (dash) with the prelude loaded; stdin is /dev/null. */
export async function sh(script: string, env: Record<string, string> = {}): Promise<ShResult> {
  const out = await new Deno.Command("sh", {
    args: ["-c", PRELUDE + "\n" + script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    clearEnv: true,
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** `sh -n` syntax check of a snippet (with the prelude). */
export async function syntaxOk(snippet: string): Promise<void> {
  const out = await new Deno.Command("sh", {
    args: ["-n", "-c", PRELUDE + "\n" + snippet],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, `sh -n failed: ${new TextDecoder().decode(out.stderr)}\n${snippet}`);
}

/** Syntax-check every snippet of a task and of a plan. */
export async function allSyntaxOk(task: Task, plan?: Plan): Promise<void> {
  await syntaxOk(task.probe);
  if (plan?.kind === "change") {
    for (const s of [plan.backup, plan.apply, plan.restore]) await syntaxOk(s);
  }
}

/** Run a task's probe locally (framed like the engine: in a subshell). */
export async function probe(task: Task): Promise<string> {
  const r = await sh(`( ${task.probe}\n)`);
  assert.equal(r.code, 0, `probe failed: ${r.stderr}`);
  return r.stdout;
}

/** Probe + plan locally. */
export async function planLocal(task: Task): Promise<Plan> {
  return task.plan(await probe(task));
}

/** Assert a plan is a change and return it. */
export function change(p: Plan): PlanChange {
  assert.equal(p.kind, "change", `expected a change, got ${JSON.stringify(p)}`);
  return p as PlanChange;
}

/** Assert a plan is ok. */
export function isOk(p: Plan): void {
  assert.equal(p.kind, "ok", `expected ok, got ${JSON.stringify(p)}`);
}

/** Journal dir + apply like the engine: backup, then apply in a `set -e` subshell. */
export async function applyLocal(p: PlanChange, env: Record<string, string> = {}) {
  const J = await Deno.makeTempDir({ prefix: "haplay-j-" });
  await Deno.chmod(J, 0o700);
  const b = await sh(`J=${J}\n( set -e\n${p.backup}\n)`, env);
  assert.equal(b.code, 0, `backup failed: ${b.stderr}`);
  const a = await sh(`J=${J}\n( set -e\n${p.apply}\n)`, env);
  return { J, apply: a };
}

/** Run a plan's restore snippet against journal J. */
export async function restoreLocal(p: PlanChange, J: string, env: Record<string, string> = {}) {
  const r = await sh(`J=${J}\n( set -e\n${p.restore}\n)`, env);
  assert.equal(r.code, 0, `restore failed: ${r.stderr}`);
}

/** Nasty strings for quoting tests. */
export const NASTY = [
  "a b",
  "it's",
  'say "hi"',
  "$(touch /tmp/haplay-pwned)",
  "`id`",
  "a;b|c&d",
  "back\\slash",
  "*?[x]",
  "$HOME ${PATH}",
];
