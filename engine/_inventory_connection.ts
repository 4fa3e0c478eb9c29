/**
 * Connection variables: the ones that say how to reach a host (Ansible's `ansible_*` names and
 * haplay's own), their schemas, and the {@link Connection} derived from a host's merged vars.
 * @module
 */

import { resolve } from "node:path";
import { z } from "zod";

/** How to reach a host. */
export interface Connection {
  /** Address (ansible_host / haplay_host; default: the inventory name). */
  host: string;
  /** SSH port (default 22). */
  port: number;
  /** SSH user (default "root"). */
  user: string;
  /** Run as root through sudo (default: true unless user is root). */
  become: boolean;
  /** sudo password, resolved from a secret reference. */
  becomePassword?: string;
  /** Absolute path of the private key. */
  keyFile?: string;
  /** Absolute path of the known_hosts file. */
  knownHosts?: string;
}

const port = z.number().int().min(1).max(65535);
const nonEmpty = z.string().min(1);
/** Schemas of the connection variables, checked where each is defined. */
export const CONNECTION_VARS: Record<string, z.ZodType> = {
  ansible_host: nonEmpty,
  haplay_host: nonEmpty,
  ansible_port: port,
  haplay_port: port,
  ansible_user: nonEmpty,
  haplay_user: nonEmpty,
  ansible_become: z.boolean(),
  haplay_become: z.boolean(),
  ansible_ssh_private_key_file: nonEmpty,
  haplay_ssh_key: nonEmpty,
  haplay_known_hosts: nonEmpty,
};
/** Variables naming a private key file (it must exist). */
export const KEY_FILE_VARS = new Set(["ansible_ssh_private_key_file", "haplay_ssh_key"]);

/**
 * A boolean as Ansible reads one from a string (INI's `ansible_become=yes`, `true`, `1`, ...);
 * other values are returned as they are.
 */
export function asBool(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const s = v.toLowerCase();
  if (["yes", "true", "on", "1", "y", "t"].includes(s)) return true;
  if (["no", "false", "off", "0", "n", "f"].includes(s)) return false;
  return v;
}

/** How to reach a host, from its merged vars (haplay_* names win over ansible_* ones). */
export function connectionOf(name: string, vars: Record<string, unknown>, dir: string): Connection {
  const pick = (ours: string, theirs: string): unknown => vars[ours] ?? vars[theirs] ?? undefined;
  const user = String(pick("haplay_user", "ansible_user") ?? "root");
  const become = pick("haplay_become", "ansible_become");
  const c: Connection = {
    host: String(pick("haplay_host", "ansible_host") ?? name),
    port: Number(pick("haplay_port", "ansible_port") ?? 22),
    user,
    become: typeof asBool(become) === "boolean" ? asBool(become) as boolean : user !== "root",
  };
  const pw = pick("haplay_become_password", "ansible_become_password");
  if (typeof pw === "string") c.becomePassword = pw;
  const key = pick("haplay_ssh_key", "ansible_ssh_private_key_file");
  if (typeof key === "string") c.keyFile = resolve(dir, key);
  const kh = vars["haplay_known_hosts"];
  if (typeof kh === "string") c.knownHosts = resolve(dir, kh);
  return c;
}
