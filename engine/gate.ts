/**
 * After a rolling play's batch: the gate of each changed host, and the rollback of a host whose
 * gate (or, in a rolling play, whose apply) failed, from the journal it wrote on the host.
 * @module
 */
import type { Connector } from "./connector.ts";
import { parseRollback, rollbackScript } from "./journal.ts";
import type { Prepared } from "./prepare.ts";
import type { HostReport } from "./report.ts";
import { newNonce } from "./script.ts";
import type { GateResult, HookContext, Rolling } from "./types.ts";

/** What gating and rolling back a host need of the run. */
export interface GateContext {
  rolling: Rolling;
  /** The hooks' view of the run (run a script on a host, log, read order probes). */
  hooks: HookContext;
  /** A host's connection. */
  connect(p: Prepared): Promise<Connector>;
  runId: string;
  owner: string;
  log(line: string): void;
}

/** Run the gate on a host that changed; on failure roll it back. False means: stop the play. */
export async function gateHost(cx: GateContext, p: Prepared, r: HostReport): Promise<boolean> {
  const { gateScript, gate } = cx.rolling;
  let g: GateResult;
  try {
    g = { ok: true, detail: "" };
    if (gateScript && r.gateOutput) g = gateScript.check(p.ctx, r.gateOutput);
    if (g.ok && gate) {
      const more = await gate(p.ctx, cx.hooks, r.gateOutput);
      g = { ok: more.ok, detail: [g.detail, more.detail].filter(Boolean).join("; ") };
    }
    if (!g.detail) return true;
  } catch (e) {
    g = { ok: false, detail: `gate error: ${(e as Error).message}` };
  }
  delete r.gateOutput;
  r.gate = g;
  if (g.ok) {
    cx.log(`${r.host}: [gate ok] ${g.detail}`);
    return true;
  }
  cx.log(`${r.host}: [gate FAILED] ${g.detail}; rolling this host back`);
  await rollbackHost(cx, p, r);
  r.status = "failed";
  r.error = `gate failed: ${g.detail}; ${r.rolledBack ? "rolled back" : "rollback FAILED"}`;
  return false;
}

/** Undo this run on one host from its journal (one exec); the outcome goes into `r`. */
export async function rollbackHost(cx: GateContext, p: Prepared, r: HostReport): Promise<void> {
  const nonce = newNonce();
  try {
    const s = await cx.connect(p);
    const out = await s.runScript(rollbackScript({ nonce, runId: cx.runId, owner: cx.owner }));
    const rb = parseRollback(out.stdout, nonce);
    r.rolledBack = rb.finished && !rb.failed;
    cx.log(
      `${r.host}: ${r.rolledBack ? "rolled back" : "ROLLBACK FAILED"} ` +
        `(${rb.restored.length} entries restored${rb.failed ? `; ${rb.failed.log.trim()}` : ""})`,
    );
  } catch (e) {
    r.rolledBack = false;
    cx.log(`${r.host}: ROLLBACK FAILED: ${(e as Error).message}`);
  }
}
