/**
 * Verification after a deploy (or, with `absent`, after a rollback), through the engine's
 * connector (SSH by default): one exec per host (up to three more for load balancers only while
 * VRRP is still settling after a fresh start, or while a director's kernel IPVS table differs
 * from the rendered virtual servers), then the checks of `verify_script.ts`, `verify_ipvs.ts`
 * and `verify_persist.ts`.
 * @module
 */
import type { VerifyCheck, VerifyContext } from "../engine/playbook_types.ts";
import type { ConnectorFactory } from "../engine/connector.ts";
import { selectHosts } from "../engine/patterns.ts";
import { sshConnector } from "../engine/ssh_connector.ts";
import { allClusters } from "./cluster.ts";
import {
  absentVrrpChecks,
  type Facts,
  hostVerdicts,
  type HostVerifyPlan,
  ipvsChecks,
  parseFacts,
  type VerifyMode,
  verifyPlans,
  verifyScript,
  vrrpChecks,
} from "./verify_script.ts";

/** Options of {@link verifyLb} beyond the playbook's {@link VerifyContext}. */
export interface VerifyLbOptions extends VerifyMode {
  /** How hosts are reached (default: SSH with the context's config file and timeout). */
  connector?: ConnectorFactory;
}

/** Runs one plan's script; facts, or an error message. */
async function runOne(
  ctx: VerifyContext,
  connect: ConnectorFactory,
  p: HostVerifyPlan,
  mode: VerifyMode,
): Promise<Facts | string> {
  const h = ctx.inventory.hosts.get(p.host)!;
  let c;
  try {
    c = await connect(h);
    const r = await c.runScript(verifyScript(p, mode));
    return parseFacts(r.stdout);
  } catch (e) {
    return (e as Error).message;
  } finally {
    c?.close();
  }
}

/** Verifies the LB layer of an inventory (optionally limited to a host pattern). */
export async function verifyLb(
  ctx: VerifyContext,
  opts: VerifyLbOptions = {},
): Promise<VerifyCheck[]> {
  const mode: VerifyMode = { absent: opts.absent ?? ctx.absent };
  const connect = opts.connector ?? ctx.connector ??
    sshConnector({ sshConfigFile: ctx.sshConfigFile, timeoutMs: ctx.timeoutMs });
  const inv = ctx.inventory;
  const hosts = ctx.limit ? selectHosts(inv, ctx.limit) : [...inv.hosts.keys()];
  const plans = verifyPlans(inv.hosts, hosts);
  const facts = new Map<string, Facts>();
  const failed = new Map<string, string>();
  const collect = async (ps: HostVerifyPlan[]) => {
    const res = await Promise.all(ps.map((p) => runOne(ctx, connect, p, mode)));
    ps.forEach((p, i) => {
      const r = res[i];
      if (typeof r === "string") failed.set(p.host, r);
      else {
        failed.delete(p.host);
        facts.set(p.host, r);
      }
    });
  };
  ctx.log(`verify${mode.absent ? " --absent" : ""}: ${plans.length} host(s)`);
  await collect(plans);
  const clusters = allClusters(inv.hosts).filter((c) =>
    c.members.every((m) => hosts.includes(m.name))
  );
  // A VRRP election (and the same-box DR switch that follows it) may still be running when a
  // daemon was (re)started moments ago: look again, up to 3 times. keepalived's checker loads
  // the kernel's table after a reload on its own time: a table that differs is looked at again
  // too, whatever the daemon's age.
  for (let round = 0; round < 3 && !mode.absent; round++) {
    const unsettled = clusters.filter((c) =>
      (vrrpChecks(c, facts).some((x) => !x.ok) &&
        c.members.some((m) => Number(facts.get(m.name)?.get("age")?.[0] ?? 99) < 15 + 3 * round)) ||
      ipvsChecks(c, facts).some((x) => !x.ok)
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
    out.push(...hostVerdicts(p, f, mode));
  }
  for (const c of clusters) {
    if (c.members.some((m) => !facts.has(m.name))) continue;
    out.push(
      ...(mode.absent
        ? absentVrrpChecks(c, facts)
        : [...vrrpChecks(c, facts), ...ipvsChecks(c, facts)]),
    );
  }
  return out;
}
