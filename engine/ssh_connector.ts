/**
 * The default connector: an SSH session per inventory host (known_hosts checked, sudo when the
 * login user is not root).
 * @module
 */
import type { ConnectorFactory } from "./connector.ts";
import type { InventoryHost } from "./inventory.ts";
import { type SshOptions, SshSession, type SshTarget } from "./ssh.ts";

/** The SSH target of an inventory host. */
export function targetOf(h: InventoryHost): SshTarget {
  const v = h.vars;
  const has = (...k: string[]) => k.some((x) => x in v);
  return {
    name: h.name,
    ...h.connection,
    explicit: {
      user: has("ansible_user", "haplay_user"),
      port: has("ansible_port", "haplay_port"),
      keyFile: has("ansible_ssh_private_key_file", "haplay_ssh_key"),
    },
  };
}

/** The default factory: an SSH session per host (known_hosts checked, sudo when needed). */
export function sshConnector(opts: SshOptions = {}): ConnectorFactory {
  return (h) => SshSession.open(targetOf(h), opts);
}
