/**
 * An inventory host of a bench lab: its lab host name (for per-host CPU) and an SSH session.
 * @module
 */
import type { Inventory } from "../engine/_inventory_model.ts";
import { targetOf } from "../engine/run.ts";
import { SshSession } from "../engine/ssh.ts";
import type { Lab } from "../lab/types.ts";

/** Finds `name` in `inv` and in `lab` (by address) and opens a session to it. */
export async function openLabHost(
  lab: Lab,
  inv: Inventory,
  name: string,
): Promise<{ labHost: string; session: SshSession }> {
  const h = inv.hosts.get(name);
  const ip = String(h?.vars.ansible_host ?? "");
  const labHost = lab.hosts.find((x) => x.ip === ip)?.name;
  if (!h || !labHost) throw new Error(`${name}: not a host of lab ${lab.name}`);
  return { labHost, session: await SshSession.open(targetOf(h)) };
}
