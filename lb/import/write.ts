/**
 * The import's writer: the inventory YAML (groups `lb` and `real`, every host with the
 * variables it was given, connection variables included, plus what the mapper found) and the
 * VRRP password of each instance in a 0600 file beside it, referenced as `!file` (never inline).
 * @module
 */
import { basename, dirname, extname, join } from "node:path";
import { Document, Scalar } from "yaml";
import { SecretSlot } from "./map.ts";

/** Variables the import writes itself (taken out of what the hosts were given). */
const IMPORTED_VARS = new Set([
  "haplay_lb",
  "vrrp_priority",
  "vrrp_state",
  "vrrp_interface",
  "data_address",
  "unicast_src_ip",
  "vrrp_unicast_peers",
]);

/** What to write. */
export interface WriteInput {
  /** Output path of the inventory. */
  output: string;
  /** The LB and real hosts, in order, with the vars they were given (secrets as lookups). */
  lbHosts: { name: string; vars: Record<string, unknown> }[];
  realHosts: { name: string; vars: Record<string, unknown> }[];
  /** The vars of group `all` as given (secrets as lookups). */
  allVars: Record<string, unknown>;
  /** The mapped section and per-host vars. */
  lb: Record<string, unknown>;
  hostVars: Map<string, Record<string, unknown>>;
  /** VRRP passwords by instance. */
  secrets: Map<string, string>;
  /** Header comment lines (without `#`). */
  header: string[];
}

/** The secret file of an instance's password, beside the output. */
export function secretPath(output: string, instance: string): string {
  const base = basename(output, extname(output));
  return join(dirname(output), `${base}.${instance}.auth_pass`);
}

/** Replaces each {@link SecretSlot} by a `!file` scalar naming its file (relative to output). */
function withSecretRefs(v: unknown, output: string): unknown {
  if (v instanceof SecretSlot) {
    const s = new Scalar(basename(secretPath(output, v.instance)));
    s.tag = "!file";
    return s;
  }
  if (Array.isArray(v)) return v.map((x) => withSecretRefs(x, output));
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withSecretRefs(x, output)]));
  }
  return v;
}

/** The inventory text (no secret in it: only `!file` references). */
export function inventoryYaml(w: WriteInput): string {
  const all = [...w.lbHosts, ...w.realHosts];
  const common = Object.fromEntries(
    Object.entries(w.allVars).filter(([k, v]) => !IMPORTED_VARS.has(k) && v !== undefined),
  );
  // each host keeps what it was given beyond all's vars (its own, and its groups')
  const own = (i: number) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(all[i].vars)) {
      if (IMPORTED_VARS.has(k) || v === undefined) continue;
      if (k in common && JSON.stringify(common[k]) === JSON.stringify(v)) continue;
      o[k] = v;
    }
    return { ...o, ...(w.hostVars.get(all[i].name) ?? {}) };
  };
  const hostsOf = (list: { name: string }[], offset: number) =>
    Object.fromEntries(list.map((h, i) => [h.name, own(offset + i)]));
  const tree = {
    all: {
      vars: { ...common, haplay_lb: withSecretRefs(w.lb, w.output) },
      children: {
        lb: { hosts: hostsOf(w.lbHosts, 0) },
        ...(w.realHosts.length ? { real: { hosts: hostsOf(w.realHosts, w.lbHosts.length) } } : {}),
      },
    },
  };
  const doc = new Document(tree);
  return w.header.map((l) => `# ${l}`.trimEnd()).join("\n") + "\n" +
    doc.toString({ lineWidth: 100 });
}

/** Writes the inventory and its secret files (0600, created or replaced). Returns their paths. */
export async function writeInventory(
  w: WriteInput,
): Promise<{ inventory: string; secrets: string[] }> {
  const secrets: string[] = [];
  for (const [inst, pass] of w.secrets) {
    const p = secretPath(w.output, inst);
    await Deno.writeTextFile(p, pass + "\n", { mode: 0o600 });
    await Deno.chmod(p, 0o600);
    secrets.push(p);
  }
  await Deno.writeTextFile(w.output, inventoryYaml(w));
  return { inventory: w.output, secrets };
}
