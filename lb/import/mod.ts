/**
 * `importInventory`: read hand-built keepalived/LVS hosts (one read-only exec each), map what
 * was found to `haplay_lb` and write an inventory haplay can plan and deploy, with the VRRP
 * password in a 0600 `!file` secret beside it.
 *
 * ```ts
 * const r = await importInventory({ inventory: "hosts.yaml", output: "imported.yaml" });
 * for (const n of r.notes) console.log(n); // what could not be mapped, and why
 * ```
 * @module
 */
import { basename, dirname, extname, join, resolve } from "node:path";
import type { ConnectorFactory } from "../../engine/connector.ts";
import { type InventoryHost, loadInventory, shownVars } from "../../engine/inventory.ts";
import { selectHosts } from "../../engine/patterns.ts";
import { redactor } from "../../engine/secrets.ts";
import { sshConnector } from "../../engine/ssh_connector.ts";
import { parseKeepalivedConf } from "../keepalived_parse.ts";
import { type ImportHost, mapSetup } from "./map.ts";
import { type HostFacts, readHost } from "./read.ts";
import { writeInventory } from "./write.ts";

export { type HostFacts, parseReadOutput, readHost, readScript } from "./read.ts";
export { type ImportHost, type MapResult, mapSetup, SecretSlot } from "./map.ts";
export { inventoryYaml, secretPath, writeInventory } from "./write.ts";

/** A host that could not be read, or an output that cannot be written: one line each. */
export class ImportError extends Error {
  override name = "ImportError";
}

/** Options of {@link importInventory}. */
export interface ImportOptions {
  /** The inventory listing the hosts and their connection variables. */
  inventory: string;
  /** Output inventory (default: `<inventory>.imported.yaml` beside the input). */
  output?: string;
  /** Host pattern of the load balancers (default: group `lb`). */
  lb?: string;
  /** Host pattern of the real servers (default: group `real`; none when the group is absent). */
  real?: string;
  /** How hosts are reached (default: SSH as the inventory says, become as configured). */
  connect?: ConnectorFactory;
  /** SSH connect timeout (ms) of the default connector. */
  timeoutMs?: number;
}

/** What an import did. */
export interface ImportResult {
  /** The inventory written. */
  output: string;
  /** The secret files written (0600), one per VRRP instance with a password. */
  secretFiles: string[];
  /** What could not be mapped and why, and what the first deploy will change. */
  notes: string[];
  /** The LB and real hosts read (one exec each). */
  lbHosts: string[];
  realHosts: string[];
}

/** Glob (`*`, `?`, `[...]`) over the paths a host's read returned. */
function globOver(facts: HostFacts): (pattern: string) => string[] {
  return (pattern) => {
    const re = new RegExp(
      "^" +
        pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]") +
        "$",
    );
    return [...facts.files.keys()].filter((p) => re.test(p)).sort();
  };
}

/**
 * A same-box DR include link haplay installed points at the instance's virtual servers only
 * while MASTER: read the MASTER content on every LB (its path), so all LBs map alike.
 */
function haplayActiveLink(path: string): string | undefined {
  const m = /^(\/etc\/keepalived\/haplay\/vs-.+)\.active\.conf$/.exec(path);
  return m ? `${m[1]}.master.conf` : undefined;
}

/** The default output path: `<dir>/<name>.imported.yaml`. */
export function defaultOutput(inventory: string): string {
  return join(dirname(inventory), `${basename(inventory, extname(inventory))}.imported.yaml`);
}

/**
 * Imports hand-built load balancers: reads every LB and real host once, maps, writes the
 * inventory and its secrets. Throws an `InventoryError` for a bad input inventory and an
 * {@link ImportError} naming each host that cannot be read; writes nothing then.
 */
export async function importInventory(opts: ImportOptions): Promise<ImportResult> {
  const inv = await loadInventory(opts.inventory);
  const pick = (pattern: string | undefined, group: string) =>
    pattern ? selectHosts(inv, pattern) : inv.groups.has(group) ? inv.groups.get(group)!.hosts : [];
  const lbNames = pick(opts.lb, "lb");
  if (!lbNames.length) {
    throw new ImportError(
      `${opts.inventory}: no load balancer to import: put them in group 'lb' or give --lb PATTERN`,
    );
  }
  const realNames = pick(opts.real, "real").filter((h) => !lbNames.includes(h));
  const connect = opts.connect ?? sshConnector({ timeoutMs: opts.timeoutMs });
  const host = (n: string) => inv.hosts.get(n)!;
  const names = [...lbNames, ...realNames];
  const output = opts.output ?? defaultOutput(opts.inventory);
  if (resolve(output) === resolve(opts.inventory)) {
    throw new ImportError(
      `${output}: the output would overwrite the input inventory: give -o FILE`,
    );
  }
  const read = await Promise.allSettled(names.map((n) => readHost(host(n), connect)));
  const failed = read.flatMap((r, i) =>
    r.status === "rejected"
      ? [`${names[i]}: cannot read: ${(r.reason as Error)?.message ?? String(r.reason)}`]
      : []
  );
  if (failed.length) {
    throw new ImportError(`${failed.join("\n")}\nnothing was written`);
  }
  const facts = read.map((r) => (r as PromiseFulfilledResult<HostFacts>).value);
  const notes: string[] = [];
  const hosts: ImportHost[] = names.map((n, i) => {
    const f = facts[i];
    const h: ImportHost = {
      name: n,
      vars: host(n).vars,
      role: lbNames.includes(n) ? "lb" : "real",
      facts: f,
    };
    if (h.role === "lb") {
      const text = f.files.get(f.mainConf);
      if (text === undefined) notes.push(`${n}: ${f.mainConf} not found`);
      else {
        const r = parseKeepalivedConf(text, {
          file: f.mainConf,
          read: (p) => f.files.get(haplayActiveLink(p) ?? p) ?? f.files.get(p),
          glob: globOver(f),
        });
        for (const e of r.errors) notes.push(`${n}: ${e.file}:${e.line}: ${e.message}`);
        h.nodes = r.nodes;
      }
    }
    return h;
  });
  const m = mapSetup(hosts);
  for (const s of m.secrets.values()) redactor.register(s);
  const shown = (h: InventoryHost) => ({ name: h.name, vars: shownVars(h) });
  const w = await writeInventory({
    output,
    allVars: inv.groups.has("all") ? shownVars(inv.groups.get("all")!) : {},
    lbHosts: lbNames.map((n) => shown(host(n))),
    realHosts: realNames.map((n) => shown(host(n))),
    lb: m.lb,
    hostVars: m.hostVars,
    secrets: m.secrets,
    // a fixed header: importing a setup haplay deployed gives back the same text
    header: [
      "Imported by haplay (deno task import) from the hosts' live keepalived configuration.",
      "What it could not map is printed by the import. Check: deno task plan THIS_FILE",
    ],
  });
  return {
    output: w.inventory,
    secretFiles: w.secrets,
    notes: [...notes, ...m.notes].map((n) => redactor.redact(n)),
    lbHosts: lbNames,
    realHosts: realNames,
  };
}
