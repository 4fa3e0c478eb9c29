/**
 * Role `redirect`: real servers that accept a VIP without owning it (seed 001, seed 002):
 * `iptables -t nat -A PREROUTING -d VIP -p tcp --dport PORT -j REDIRECT` (without `--dport` for
 * portless fwmark services, like the seed's `-d VIP -j REDIRECT`), persisted with
 * netfilter-persistent (iptables-persistent, its debconf questions preseeded).
 * @module
 */
import { z } from "zod";
import type { Handler, HostContext, Task } from "../engine/types.ts";
import { apt, iptablesRule } from "../tasks/mod.ts";
import { realServerDuties, serviceMatch } from "../lb/cluster.ts";

/** The role's variables: none of its own (the rules come from the services it serves). */
export const RedirectVars = z.object({});

/** debconf answers of iptables-persistent (otherwise it asks whether to save the rules). */
export const IPTABLES_PERSISTENT_PRESEED = [
  "iptables-persistent iptables-persistent/autosave_v4 boolean false",
  "iptables-persistent iptables-persistent/autosave_v6 boolean false",
  "",
].join("\n");

/** Handler saving the live rules with netfilter-persistent (when it is installed). */
export const SAVE_IPTABLES = "save iptables rules";

/**
 * The handler {@link SAVE_IPTABLES}. A run that installs iptables-persistent probed its rules
 * before the package existed, so those rules planned "not persisted": the package task notifies
 * this handler, which saves them at the end of the same run.
 */
export function saveIptablesHandler(): Handler {
  return {
    name: SAVE_IPTABLES,
    run:
      "if command -v netfilter-persistent >/dev/null 2>&1; then netfilter-persistent save >&2; fi",
  };
}

/** The iptables-persistent package task (shared by redirect and dsr_fwmark). */
export function iptablesPersistentTask(tags: string[]): Task {
  return apt({
    // netfilter-persistent named too (not only pulled in): a rollback with --purge-packages
    // then removes it along with iptables-persistent
    name: ["iptables", "netfilter-persistent", "iptables-persistent"],
    state: "present",
    preseed: IPTABLES_PERSISTENT_PRESEED,
    notify: [SAVE_IPTABLES],
    tags,
  });
}

/** The REDIRECT rules (as argument lists) of a host. */
export function redirectRules(host: HostContext): { rule: string[]; family: "ipv4" | "ipv6" }[] {
  const seen = new Set<string>();
  const out: { rule: string[]; family: "ipv4" | "ipv6" }[] = [];
  for (const d of realServerDuties(host.name, host.all)) {
    if (d.method !== "redirect" || d.service.cfg.vip === undefined) continue;
    const rule = [...serviceMatch(d.service), "-j", "REDIRECT"];
    const key = rule.join(" ");
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ rule, family: d.service.cfg.vip.includes(":") ? "ipv6" : "ipv4" });
  }
  return out;
}

/** Handlers of the role (when it has tasks). */
export function redirectHandlers(host: HostContext): Handler[] {
  return redirectRules(host).length ? [saveIptablesHandler()] : [];
}

/** iptables-persistent and the REDIRECT rules (none when the host serves no REDIRECT VIP). */
export function redirectTasks(host: HostContext): Task[] {
  const rules = redirectRules(host);
  if (!rules.length) return [];
  const tags = ["redirect"];
  return [
    iptablesPersistentTask(tags),
    ...rules.map((r) =>
      iptablesRule({
        table: "nat",
        chain: "PREROUTING",
        rule: r.rule,
        family: r.family,
        state: "present",
        persist: true,
        tags,
      })
    ),
  ];
}
