/**
 * Run an example inventory against the namespace lab: the lab hosts are `P.11`, `P.12`, ... of
 * the lab's (first) /24 and every example puts its hosts at `.11`, `.12`, ... of its own /24, in
 * order. {@link labInventoryText} moves the example to the lab's first /24 (every address of it, VIPs
 * included) and adds the lab's connection variables (root, the lab key, its known_hosts).
 *
 * ```sh
 * deno task lab up --name s1 --hosts 4 --subnet 198.18.1.0/24 --apt-repo
 * deno run -A lab/inventory.ts inventory/examples/001-dr-pair-redirect.yaml s1
 * # -> prints the path of the merged inventory in the lab's state directory
 * HAPLAY_VRRP_PASS=... deno task deploy <that path>
 * ```
 * @module
 */
import { basename } from "node:path";
import type { Lab } from "./types.ts";
import { parseSubnet, slash24s } from "./_addr.ts";

/** The `/24` prefix (`198.18.1.`) of the first `ansible_host` of an inventory text. */
export function seedPrefix(text: string): string {
  const m = /ansible_host:\s*"?(\d+\.\d+\.\d+\.)\d+/.exec(text);
  if (!m) throw new Error("no ansible_host address in the inventory");
  return m[1];
}

/** Every `ansible_host` address of an inventory text, in order. */
export function hostAddresses(text: string): string[] {
  return [...text.matchAll(/ansible_host:\s*"?(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]);
}

/**
 * The example inventory `text` moved onto `lab`: addresses of its /24 rewritten to the lab's,
 * connection variables added under `all: vars:`. Throws when a host has no lab host at its
 * address (the lab is too small, or the example's hosts do not start at .11).
 */
export function labInventoryText(
  text: string,
  lab: Pick<Lab, "name" | "subnet" | "hosts" | "keyFile" | "knownHosts">,
): string {
  const from = seedPrefix(text);
  // the lab's first /24 (a larger lab's first 244 hosts are in it, in the same order)
  const to = `${slash24s(parseSubnet(lab.subnet))[0]}.`;
  const esc = from.replace(/\./g, "\\.");
  let out = text.replace(new RegExp(`(?<![\\d.])${esc}(?=\\d)`, "g"), to);
  const labIps = new Set(lab.hosts.map((h) => h.ip));
  const missing = hostAddresses(out).filter((a) => !labIps.has(a));
  if (missing.length) {
    throw new Error(
      `lab ${lab.name} has no host at ${missing.join(", ")} (it has ${lab.hosts.length} hosts)`,
    );
  }
  const conn = [
    `    # lab ${lab.name} connection (added by lab/inventory.ts)`,
    `    ansible_user: root`,
    `    ansible_ssh_private_key_file: ${JSON.stringify(lab.keyFile)}`,
    `    haplay_known_hosts: ${JSON.stringify(lab.knownHosts)}`,
  ].join("\n");
  if (/^all:\n {2}vars:\n/m.test(out)) {
    out = out.replace(/^all:\n {2}vars:\n/m, `all:\n  vars:\n${conn}\n`);
  } else if (/^all:\n/m.test(out)) out = out.replace(/^all:\n/m, `all:\n  vars:\n${conn}\n`);
  else throw new Error("the inventory has no top-level 'all:' group");
  return `# moved to ${lab.subnet} for lab ${lab.name} by lab/inventory.ts\n${out}`;
}

/** Writes the lab variant of an example into the lab's state directory; returns its path. */
export async function writeLabInventory(example: string, lab: Lab): Promise<string> {
  const path = `${lab.dir}/${basename(example)}`;
  await Deno.writeTextFile(path, labInventoryText(await Deno.readTextFile(example), lab));
  return path;
}

if (import.meta.main) {
  const [example, name] = Deno.args;
  if (!example || !name) {
    console.error("usage: deno run -A lab/inventory.ts <example.yaml> <lab-name>");
    Deno.exit(4);
  }
  const { labLoad } = await import("../lab/lab.ts");
  const lab = await labLoad(name);
  if (!lab) {
    console.error(`no lab named ${name} is up (deno task lab up ...)`);
    Deno.exit(1);
  }
  console.log(await writeLabInventory(example, lab));
}
