/**
 * Lint, part 1: the shape of the LB-layer variables (zod), with positions. Type and range errors
 * go through the loader's {@link checkHostVars}; unknown keys inside `haplay_lb` (which
 * checkHostVars ignores, since host vars are open) are reported here with a "did you mean".
 * @module
 */
import type { z } from "zod";
import { checkHostVars, type Inventory } from "../engine/inventory.ts";
import { closest } from "../engine/distance.ts";
import type { Finding } from "./_locate.ts";
import { LbHostVars } from "./schema.ts";

/** The LB-layer keys of a host's vars (what the schema checks). */
export const LB_VAR_KEYS = [
  "haplay_lb",
  "vrrp_priority",
  "vrrp_state",
  "vrrp_interface",
  "data_address",
  "unicast_src_ip",
  "vrrp_unicast_peers",
  "default_gateway",
];

/** Hosts whose LB-layer variables are checked: every host with any of {@link LB_VAR_KEYS}. */
export function hostsWithLbVars(inv: Inventory): string[] {
  return [...inv.hosts.values()].filter((h) => LB_VAR_KEYS.some((k) => k in h.vars)).map((h) =>
    h.name
  );
}

/** Schema errors of the LB-layer variables of `hosts`, positioned. */
export function schemaIssues(inv: Inventory, hosts: string[]) {
  return checkHostVars(inv, hosts, LbHostVars, { only: LB_VAR_KEYS });
}

/** Unknown keys inside the LB-layer variables (typos), as findings. */
export function unknownKeyFindings(inv: Inventory, hosts: string[]): Finding[] {
  const out: Finding[] = [];
  for (const name of hosts) {
    const vars = inv.hosts.get(name)!.vars;
    const input = Object.fromEntries(LB_VAR_KEYS.filter((k) => k in vars).map((k) => [k, vars[k]]));
    const r = LbHostVars.safeParse(input);
    if (r.success) continue;
    for (const issue of r.error.issues) {
      for (const u of unrecognized(issue)) {
        const path = [...u.path, u.key].map((s) => (typeof s === "symbol" ? String(s) : s));
        const near = suggest(u.key, knownKeysAt(u.path));
        out.push({
          host: name,
          path,
          message: `unknown key '${u.key}'${near ? ` (did you mean '${near}'?)` : ""}`,
          severity: "error",
        });
      }
    }
  }
  return out;
}

type ZIssue = z.core.$ZodIssue;

/** Unrecognized keys of an issue, including inside union branches. */
function unrecognized(
  issue: ZIssue,
  prefix: PropertyKey[] = [],
): { path: PropertyKey[]; key: string }[] {
  const base = [...prefix, ...issue.path];
  if (issue.code === "unrecognized_keys") return issue.keys.map((key) => ({ path: base, key }));
  if (issue.code === "invalid_union") {
    // A union of a string and a mapping: report keys of the mapping branch only.
    return issue.errors.flatMap((branch) =>
      branch.some((b) => b.code === "invalid_type")
        ? []
        : branch.flatMap((b) => unrecognized(b, base))
    );
  }
  return [];
}

/** Keys the schema knows at a path (for suggestions), by the nearest named parent. */
function knownKeysAt(path: PropertyKey[]): string[] {
  const names = path.filter((p) => typeof p === "string") as string[];
  const last = names[names.length - 1] ?? "";
  return KNOWN[last] ?? [];
}

/** Known keys by parent key, for "did you mean". */
const KNOWN: Record<string, string[]> = {
  haplay_lb: [
    "lb_group",
    "real_group",
    "ipvs",
    "interface",
    "mode",
    "subnet",
    "script_security",
    "script_user",
    "router_id",
    "vip_method",
    "fwmark_table",
    "fwmark_rule_priority",
    "rp_filter_off",
    "hooks",
    "vrrp_scripts",
    "vrrp_instances",
    "sync_groups",
    "services",
    "global_defs",
    "extra",
  ],
  vrrp_instances: [
    "name",
    "virtual_router_id",
    "interface",
    "advert_int",
    "state",
    "nopreempt",
    "preempt_delay",
    "garp_master_delay",
    "authentication",
    "unicast",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "track_scripts",
    "track_interfaces",
    "bypass_ipvs",
    "hooks",
    "extra",
  ],
  services: [
    "name",
    "vip",
    "fwmark",
    "port",
    "protocol",
    "mode",
    "lb_algo",
    "persistence_timeout",
    "delay_loop",
    "real_servers",
    "real_port",
    "weight",
    "health_check",
    "vip_method",
    "extra",
  ],
  health_check: [
    "type",
    "path",
    "status_code",
    "connect_port",
    "connect_timeout",
    "retry",
    "delay_before_retry",
    "extra",
  ],
  authentication: ["type", "auth_pass"],
  hooks: ["notify_master", "notify_backup", "notify_fault", "cloud_vip"],
  vrrp_scripts: [
    "name",
    "script",
    "interval",
    "timeout",
    "weight",
    "fall",
    "rise",
    "user",
    "extra",
  ],
  sync_groups: ["name", "instances", "extra"],
  real_servers: ["host", "group", "address", "port", "weight", "extra"],
  global_defs: ["extra"],
  cloud_vip: ["command", "timeout", "sudo"],
};

function suggest(key: string, known: string[]): string | undefined {
  return closest(key.toLowerCase(), known);
}
