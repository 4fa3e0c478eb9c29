/**
 * The VM lab as a haplay (Ansible YAML) inventory: groups `lb` (directors), `real` (real
 * servers) and `client`; `ansible_host` is the management address, `data_address` the data
 * one. {@link withVmConnection} adds the lab's connection variables to an inventory written
 * for the lab's topology (the test inventories of `test/datapath/inventories/`).
 * @module
 */
import type { VmLab } from "./types.ts";

function yamlScalar(s: string): string {
  return /^[A-Za-z0-9_./@+-]+$/.test(s) ? s : JSON.stringify(s);
}

/** Connection variables (root, lab key, lab known_hosts), as `all: vars:` lines. */
export function connectionVars(lab: Pick<VmLab, "name" | "keyFile" | "knownHosts">): string[] {
  return [
    `    # vmlab ${lab.name} connection`,
    "    ansible_user: root",
    `    ansible_ssh_private_key_file: ${yamlScalar(lab.keyFile)}`,
    `    haplay_known_hosts: ${yamlScalar(lab.knownHosts)}`,
  ];
}

const GROUPS: Array<[string, string]> = [["lb", "director"], ["real", "real"], [
  "client",
  "client",
]];

/** The lab's own inventory (written to `<dir>/inventory.yaml` by `vmUp`). */
export function vmInventoryText(lab: VmLab): string {
  const lines = [
    `# haplay vmlab ${lab.name}: inventory (made by vmlab up; removed by vmlab down)`,
    "all:",
    "  vars:",
    ...connectionVars(lab),
    "  children:",
  ];
  for (const [group, role] of GROUPS) {
    lines.push(`    ${group}:`, "      hosts:");
    for (const h of lab.hosts.filter((x) => x.role === role)) {
      lines.push(`        ${h.name}: { ansible_host: ${h.ip}, data_address: ${h.data} }`);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * `text` (an inventory for the lab's topology, with a top-level `all:`) with the lab's
 * connection variables added first under `all: vars:`. Throws when an `ansible_host` of it is
 * not a guest of the lab.
 */
export function withVmConnection(text: string, lab: VmLab): string {
  const ips = new Set(lab.hosts.map((h) => h.ip));
  const unknown = [...text.matchAll(/ansible_host:\s*"?([\d.]+)/g)].map((m) => m[1])
    .filter((a) => !ips.has(a));
  if (unknown.length) {
    throw new Error(`vmlab ${lab.name} has no guest at ${unknown.join(", ")} (other --mgmt?)`);
  }
  const conn = connectionVars(lab).join("\n");
  if (/^all:\n {2}vars:\n/m.test(text)) {
    return text.replace(/^all:\n {2}vars:\n/m, `all:\n  vars:\n${conn}\n`);
  }
  if (/^all:\n/m.test(text)) return text.replace(/^all:\n/m, `all:\n  vars:\n${conn}\n`);
  throw new Error("the inventory has no top-level 'all:' group");
}
