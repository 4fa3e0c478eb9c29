/**
 * The files a lab writes for its clients: `ssh_config` and the haplay inventory.
 * @module
 */

import type { LabRecord } from "./types.ts";

/** `ssh_config` text of a lab (`ssh -F`): every host by name and address, the lab key. */
export function sshConfigText(rec: LabRecord): string {
  const lines: string[] = [`# haplay lab ${rec.name} (ssh -F ${rec.sshConfig} h1)`];
  for (const h of rec.hosts) lines.push(`Host ${h.name} ${h.ip}`, `  HostName ${h.ip}`);
  lines.push(
    "Host *",
    "  User root",
    `  IdentityFile ${rec.keyFile}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${rec.knownHosts}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    "  ConnectTimeout 5",
    "  LogLevel ERROR",
    "",
  );
  return lines.join("\n");
}

function yamlScalar(s: string): string {
  return /^[A-Za-z0-9_./@+-]+$/.test(s) ? s : JSON.stringify(s);
}

/** The lab's own haplay inventory: every host with its address, root and the lab key. */
export function inventoryText(rec: LabRecord): string {
  const lines = [
    `# haplay lab ${rec.name}: inventory (made by lab up; removed by lab down)`,
    "all:",
    "  vars:",
    "    ansible_user: root",
    `    ansible_ssh_private_key_file: ${yamlScalar(rec.keyFile)}`,
    `    haplay_known_hosts: ${yamlScalar(rec.knownHosts)}`,
    "  hosts:",
  ];
  for (const h of rec.hosts) lines.push(`    ${h.name}:`, `      ansible_host: ${h.ip}`);
  return lines.join("\n") + "\n";
}
