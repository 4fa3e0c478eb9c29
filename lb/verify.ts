/**
 * Verification after a deploy, over SSH: one exec per host (up to three more for load balancers
 * only while VRRP is still settling after a fresh start), then the checks of
 * `verify_script.ts`.
 * @module
 */
import type { VerifyCheck, VerifyContext } from "../engine/playbook_types.ts";
import { selectHosts } from "../engine/patterns.ts";
import { targetOf } from "../engine/run.ts";
import { SshSession } from "../engine/ssh.ts";
import { allClusters } from "./cluster.ts";
import {
  type Facts,
  hostChecks,
  type HostVerifyPlan,
  parseFacts,
  verifyPlans,
  verifyScript,
  vrrpChecks,
} from "./verify_script.ts";

/** Runs one plan's script; facts, or an error message. */
async function runOne(ctx: VerifyContext, p: HostVerifyPlan): Promise<Facts | string> {
  const h = ctx.inventory.hosts.get(p.host)!;
  let s: SshSession | undefined;
  try {
    s = await SshSession.open(targetOf(h), {
      sshConfigFile: ctx.sshConfigFile,
      timeoutMs: ctx.timeoutMs,
    });
    const r = await s.runScript(verifyScript(p));
    return parseFacts(r.stdout);
  } catch (e) {
    return (e as Error).message;
  } finally {
    s?.close();
  }
}

/** Verifies the LB layer of an inventory (optionally limited to a host pattern). */
export async function verifyLb(ctx: VerifyContext): Promise<VerifyCheck[]> {
  const inv = ctx.inventory;
  const hosts = ctx.limit ? selectHosts(inv, ctx.limit) : [...inv.hosts.keys()];
  const plans = verifyPlans(inv.hosts, hosts);
  const facts = new Map<string, Facts>();
  const failed = new Map<string, string>();
  const collect = async (ps: HostVerifyPlan[]) => {
    const res = await Promise.all(ps.map((p) => runOne(ctx, p)));
    ps.forEach((p, i) => {
      const r = res[i];
      if (typeof r === "string") failed.set(p.host, r);
      else {
        failed.delete(p.host);
        facts.set(p.host, r);
      }
    });
  };
  ctx.log(`verify: ${plans.length} host(s)`);
  await collect(plans);
  const clusters = allClusters(inv.hosts).filter((c) =>
    c.members.every((m) => hosts.includes(m.name))
  );
  // A VRRP election (and the same-box DR switch that follows it) may still be running when a
  // daemon was (re)started moments ago: look again, up to 3 times.
  for (let round = 0; round < 3; round++) {
    const unsettled = clusters.filter((c) =>
      vrrpChecks(c, facts).some((x) => !x.ok) &&
      c.members.some((m) => Number(facts.get(m.name)?.get("age")?.[0] ?? 99) < 15 + 3 * round)
    );
    if (!unsettled.length) break;
    ctx.log("verify: VRRP still settling, looking again in 3 s");
    await new Promise((r) => setTimeout(r, 3000));
    await collect(
      plans.filter((p) => unsettled.some((c) => c.members.some((m) => m.name === p.host))),
    );
  }
  const out: VerifyCheck[] = [];
  for (const p of plans) {
    const f = facts.get(p.host);
    if (!f) {
      out.push({
        host: p.host,
        check: "reachable",
        ok: false,
        detail: failed.get(p.host) ?? "no output",
      });
      continue;
    }
    out.push(...hostChecks(p, f));
  }
  for (const c of clusters) {
    if (c.members.some((m) => !facts.has(m.name))) continue;
    out.push(...vrrpChecks(c, facts));
  }
  return out;
}
