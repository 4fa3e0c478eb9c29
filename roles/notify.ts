/**
 * Role `notify`: keepalived's notify scripts and what they use.
 *
 * (a) same-box DR (seed 000): per instance, the MASTER virtual_server include, the empty
 *     include and the active link, and the root helper `haplay-vs-switch` (reload-loop guard);
 * (b) bypass_ipvs (seed 001): the root helper `haplay-bypass-ipvs` and iptables;
 * (c) cloud VIP move (seed 004): a notify_master step with a timeout;
 * (d) user hooks.
 * Every notify script is root:keepalived_script 0750 (readable and runnable by the script user
 * only, not writable by it, as `enable_script_security` demands) in root-owned directories; the
 * hooks' `env` (secrets) sits beside it in a root:keepalived_script 0640 file it sources. The
 * root helpers are root 0755 (no secrets). Scripts of instances/states without steps are
 * removed.
 * @module
 */
import { z } from "zod";
import type { HostContext, Task } from "../engine/types.ts";
import { absent, apt, directory, file } from "../tasks/mod.ts";
import { q } from "../engine/shell.ts";
import { isIpv4 } from "../lb/_net.ts";
import { requireLb } from "../lb/context.ts";
import { type Cluster, instanceVips } from "../lb/cluster.ts";
import { vsLinkTask } from "./_vs_link.ts";
import { RELOAD } from "./keepalived.ts";
import { renderKeepalived } from "../lb/keepalived_conf.ts";
import { Hooks } from "../lb/schema.ts";
import { NOTIFY_STATES, notifySteps, swapsVirtualServers, switchVip } from "../lb/notify_plan.ts";
import {
  BYPASS_IPVS_SCRIPT,
  needsEnvFile,
  notifyEnvText,
  notifyScriptText,
  VS_SWITCH_SCRIPT,
} from "../lb/notify_scripts.ts";
import {
  BYPASS_IPVS,
  HAPLAY_KEEPALIVED_DIR,
  notifyEnvFile,
  notifyScript,
  VS_EMPTY,
  VS_SWITCH,
} from "../lb/paths.ts";

/** The role's variables: hooks and bypass_ipvs of the instances (see `lb_schema.ts`). */
export const NotifyVars = z.object({
  haplay_lb: z.object({
    hooks: Hooks.optional(),
    vrrp_instances: z.array(
      z.object({ name: z.string(), bypass_ipvs: z.boolean().default(false) }).loose(),
    ),
  }).loose(),
});

const TAGS = ["keepalived", "notify"];

/** Notify scripts, helpers and same-box-dr includes of a load balancer. */
export function notifyTasks(host: HostContext): Task[] {
  const { cluster } = requireLb(host);
  const insts = cluster.cfg.vrrp_instances;
  const tasks: Task[] = [
    directory({
      path: HAPLAY_KEEPALIVED_DIR,
      owner: "root",
      group: "root",
      mode: "0755",
      tags: TAGS,
    }),
  ];
  const swapping = insts.filter((i) => swapsVirtualServers(cluster, i.name));
  const bypass = insts.some((i) => i.bypass_ipvs);
  tasks.push(helper(VS_SWITCH, VS_SWITCH_SCRIPT, swapping.length > 0));
  if (bypass) tasks.push(apt({ name: "iptables", state: "present", tags: TAGS }));
  tasks.push(
    withBypassCleanup(helper(BYPASS_IPVS, BYPASS_IPVS_SCRIPT, bypass), bypassVips(cluster)),
  );
  for (const inst of insts) {
    const steps = notifySteps(cluster, inst);
    for (const s of NOTIFY_STATES) {
      const path = notifyScript(inst.name, s);
      const envPath = notifyEnvFile(inst.name, s);
      const user = cluster.cfg.script_user;
      // the env file first: the new script sources it
      tasks.push(
        needsEnvFile(steps[s])
          ? file({
            name: `notify_${s} environment of ${inst.name}`,
            path: envPath,
            content: notifyEnvText(inst.name, s, steps[s]),
            group: user,
            mode: "0640",
            sensitive: true,
            tags: TAGS,
          })
          : absent({ path: envPath, tags: TAGS }),
      );
      tasks.push(
        steps[s].length
          ? file({
            name: `notify_${s} script of ${inst.name}`,
            path,
            content: notifyScriptText(inst.name, s, steps[s], user),
            group: user,
            mode: "0750",
            tags: TAGS,
          })
          : absent({ path, tags: TAGS }),
      );
    }
  }
  if (swapping.length) {
    tasks.push(
      file({
        name: "same-box DR empty include",
        path: VS_EMPTY,
        content: "",
        mode: "0644",
        tags: TAGS,
      }),
    );
    const includes = renderKeepalived(cluster, host.name).includes;
    for (const inc of includes) {
      tasks.push(file({
        name: `same-box DR virtual servers ${inc.path.split("/").pop()}`,
        path: inc.path,
        content: inc.content,
        mode: "0644",
        notify: [RELOAD],
        tags: TAGS,
      }));
    }
    for (const inst of swapping) {
      tasks.push(vsLinkTask(inst.name, switchVip(cluster, inst.name), [RELOAD]));
    }
  }
  return tasks;
}

/** Every IPv4 VIP of the instances with bypass_ipvs. */
function bypassVips(c: Cluster): string[] {
  return c.cfg.vrrp_instances.filter((i) => i.bypass_ipvs)
    .flatMap((i) => instanceVips(i).filter((v) => isIpv4(v.address)).map((v) => v.address));
}

/**
 * The REDIRECT rules bypass_ipvs adds at runtime are no task's resource: when a rollback removes
 * the helper (the run created it) it first removes them too (the helper's restore runs after
 * keepalived stopped, as rollback goes backwards). Rules that were there before the run (an
 * adopted hand-built setup whose own bypass script had added them) are counted in the journal
 * first and put back after the purge.
 */
export function withBypassCleanup(t: Task, vips: string[]): Task {
  if (!vips.length || t.module !== "file") return t;
  const rule = (v: string, op: string) =>
    `iptables -w -t nat ${op} PREROUTING -d ${q(`${v}/32`)} -p tcp -j REDIRECT`;
  const save = vips.map((v, i) =>
    `{ iptables-save -t nat 2>/dev/null || true; } | ` +
    `grep -c -x -e ${q(`-A PREROUTING -d ${v}/32 -p tcp -j REDIRECT`)} ` +
    `> "$J/bypass-before-${i}" || true`
  ).join("\n");
  const cleanup = vips.map((v, i) =>
    `if [ -x ${BYPASS_IPVS} ]; then ${BYPASS_IPVS} purge ${q(v)} || true; fi\n` +
    `_n=$(cat "$J/bypass-before-${i}" 2>/dev/null || echo 0); _i=0\n` +
    `while [ "$_i" -lt "$_n" ]; do ${rule(v, "-A")}; _i=$((_i + 1)); done`
  ).join("\n");
  return {
    ...t,
    plan: (facts) => {
      const p = t.plan(facts);
      const created = /^exists=0$/m.test(facts);
      return p.kind === "change" && created
        ? { ...p, backup: `${p.backup}\n${save}`, restore: `${cleanup}\n${p.restore}` }
        : p;
    },
  };
}

function helper(path: string, content: string, wanted: boolean): Task {
  return wanted
    ? file({ name: `helper ${path}`, path, content, mode: "0755", tags: TAGS })
    : absent({ path, tags: TAGS });
}
