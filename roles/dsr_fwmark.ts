/**
 * Role `dsr_fwmark`: a load balancer that routes a VIP to IPVS without owning it (seed 002,
 * KLab DSAS): `iptables -t mangle -A PREROUTING -d VIP [-p tcp --dport P] -j MARK --set-mark N`,
 * `ip rule add prio P fwmark N table T`, `ip route add local 0/0 dev lo table T`, all persisted;
 * `virtual_server fwmark N` in keepalived.conf; rp_filter off via the `sysctl` role.
 * @module
 */
import { z } from "zod";
import type { Handler, HostContext, Task } from "../engine/types.ts";
import { ipRoute, ipRule, iptablesRule } from "../tasks/mod.ts";
import { lbView } from "../lb/context.ts";
import { iptablesPersistentTask, saveIptablesHandler } from "./redirect.ts";
import { serviceMatch } from "../lb/cluster.ts";

/** The role's variables: the section's table and rule priority. */
export const DsrFwmarkVars = z.object({
  haplay_lb: z.object({
    fwmark_table: z.number().int().default(100),
    fwmark_rule_priority: z.number().int().default(100),
  }).loose(),
});

/** The dsr-fwmark services of a load balancer (empty when it is none). */
function fwmarkServices(host: HostContext) {
  const v = lbView(host);
  return v
    ? v.cluster.services.filter((s) =>
      s.mode === "dsr-fwmark" && s.cfg.vip && s.cfg.fwmark !== undefined
    )
    : [];
}

/** Handlers of the role (when it has tasks). */
export function dsrFwmarkHandlers(host: HostContext): Handler[] {
  return fwmarkServices(host).length ? [saveIptablesHandler()] : [];
}

/** MARK rules, ip rules and the local route of a load balancer (none without dsr-fwmark). */
export function dsrFwmarkTasks(host: HostContext): Task[] {
  const v = lbView(host);
  if (!v) return [];
  const c = v.cluster;
  const svcs = c.services.filter((s) =>
    s.mode === "dsr-fwmark" && s.cfg.vip && s.cfg.fwmark !== undefined
  );
  if (!svcs.length) return [];
  const tags = ["dsr_fwmark"];
  const table = c.cfg.fwmark_table;
  const tasks: Task[] = [iptablesPersistentTask(tags)];
  const marks = [...new Set(svcs.map((s) => s.cfg.fwmark!))];
  for (const s of svcs) {
    tasks.push(iptablesRule({
      table: "mangle",
      chain: "PREROUTING",
      rule: [...serviceMatch(s), "-j", "MARK", "--set-mark", String(s.cfg.fwmark)],
      state: "present",
      persist: true,
      tags,
    }));
  }
  marks.forEach((mark, i) =>
    tasks.push(
      ipRule({
        priority: c.cfg.fwmark_rule_priority + i,
        fwmark: mark,
        table,
        state: "present",
        tags,
      }),
    )
  );
  tasks.push(ipRoute({ dest: "local 0.0.0.0/0", dev: "lo", table, state: "present", tags }));
  return tasks;
}
