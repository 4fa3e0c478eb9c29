/**
 * What each VRRP instance's notify scripts do, as data: the steps of notify_master,
 * notify_backup and notify_fault, and which of them need root (so the sudoers drop-in can grant
 * exactly those command lines and nothing else). Pure; used by the renderer (which notify
 * lines to write), the `notify` role (script content) and the `script_user` role (sudoers).
 * @module
 */
import { isIpv4 } from "./_net.ts";
import { type Cluster, instanceVips } from "./cluster.ts";
import type { HookCommandConfig, VrrpInstanceConfig } from "./schema.ts";
import { BYPASS_IPVS, VS_SWITCH } from "./paths.ts";

/** A VRRP state (or keepalived stopping) with a notify script. */
export type NotifyState = "master" | "backup" | "fault" | "stop";

/** All notify states, in rendering order. */
export const NOTIFY_STATES: readonly NotifyState[] = ["master", "backup", "fault", "stop"];

/** One command of a notify script. */
export interface NotifyStep {
  /** Why, for the script's comment. */
  what: string;
  /** Words of the command (run directly, or through `sudo -n` when {@link NotifyStep.sudo}). */
  argv?: string[];
  /** A shell command line (user hooks without sudo), run with `sh -c`. */
  shell?: string;
  /** Run as root through an exact sudoers entry. */
  sudo: boolean;
  /** Kill it after this many seconds. */
  timeout?: number;
  /** Environment of the command (secrets): from the notify script's env file, never argv. */
  env?: Record<string, string>;
}

/** The steps of every notify script of one instance. */
export type NotifySteps = Record<NotifyState, NotifyStep[]>;

/** True when the instance carries the VIP of a same-box-dr service (its IPVS is swapped). */
export function swapsVirtualServers(c: Cluster, instance: string): boolean {
  return c.services.some((s) => s.mode === "same-box-dr" && s.instance === instance);
}

/**
 * The address whose holder is MASTER for the same-box switch of an instance: the VIP of its
 * first same-box-dr service (keepalived adds it before notify_master, removes it before
 * notify_backup).
 */
export function switchVip(c: Cluster, instance: string): string {
  const s = c.services.find((x) => x.mode === "same-box-dr" && x.instance === instance);
  const vip = s?.cfg.vip;
  if (!vip) throw new Error(`vrrp_instance ${instance}: no same-box-dr service VIP`);
  return vip;
}

/** Splits a command line into words (plain words only: used for sudo hooks). */
export function words(line: string): string[] {
  return line.trim().split(/\s+/);
}

function hookStep(h: HookCommandConfig, what: string, timeout?: number): NotifyStep {
  if (typeof h === "string") return { what, shell: h, sudo: false, timeout };
  if (h.sudo) return { what, argv: words(h.command), sudo: true, timeout: h.timeout ?? timeout };
  return withEnv({ what, shell: h.command, sudo: false, timeout: h.timeout ?? timeout }, h.env);
}

function withEnv(s: NotifyStep, env?: Record<string, string>): NotifyStep {
  return env && Object.keys(env).length ? { ...s, env } : s;
}

/** The notify steps of an instance of a cluster. */
export function notifySteps(c: Cluster, inst: VrrpInstanceConfig): NotifySteps {
  const out: NotifySteps = { master: [], backup: [], fault: [], stop: [] };
  if (swapsVirtualServers(c, inst.name)) {
    const vip = switchVip(c, inst.name);
    const sw = (arg: string): NotifyStep => ({
      what: `same-box DR: virtual servers ${arg === "master" ? "on" : "off"}`,
      argv: [VS_SWITCH, inst.name, arg, vip],
      sudo: true,
    });
    out.master.push(sw("master"));
    out.backup.push(sw("backup"));
    out.fault.push(sw("backup"));
    // stopping: not MASTER any more, so no virtual servers on the next start (no reload: the
    // daemon is going away)
    out.stop.push(sw("stop"));
  }
  if (inst.bypass_ipvs) {
    for (const v of instanceVips(inst).filter((v) => isIpv4(v.address))) {
      const st = (op: "add" | "del"): NotifyStep => ({
        what: `bypass_ipvs: ${op === "add" ? "accept" : "stop accepting"} ${v.address} locally`,
        argv: [BYPASS_IPVS, op, v.address],
        sudo: true,
      });
      out.master.push(st("del"));
      out.backup.push(st("add"));
      out.fault.push(st("add"));
    }
  }
  const hooks = inst.hooks ?? c.cfg.hooks;
  if (hooks?.cloud_vip) {
    const cv = hooks.cloud_vip;
    out.master.push(
      cv.sudo
        ? { what: "cloud VIP move", argv: words(cv.command), sudo: true, timeout: cv.timeout }
        : withEnv(
          { what: "cloud VIP move", shell: cv.command, sudo: false, timeout: cv.timeout },
          cv.env,
        ),
    );
  }
  for (const state of NOTIFY_STATES) {
    for (const h of hooks?.[`notify_${state}`] ?? []) out[state].push(hookStep(h, "user hook"));
  }
  return out;
}

/** Every command line (argv joined by spaces) the script user may run as root. */
export function sudoCommands(c: Cluster): string[] {
  const out = new Set<string>();
  for (const inst of c.cfg.vrrp_instances) {
    const steps = notifySteps(c, inst);
    for (const s of NOTIFY_STATES) {
      for (const st of steps[s]) if (st.sudo) out.add(st.argv!.join(" "));
    }
  }
  return [...out];
}
