/**
 * The shape of a loaded playbook and of its verify hook, apart from the loader so that what a
 * playbook module and the YAML playbook loader build on imports no loader (no import cycle).
 * @module
 */
import type { Inventory, Issue } from "./inventory.ts";
import type { Play } from "./types.ts";
import type { ConnectorFactory } from "./connector.ts";

/** What `verify` found on the hosts after a deploy. */
export interface VerifyCheck {
  host: string;
  check: string;
  ok: boolean;
  detail: string;
}

/** Hooks the engine calls around a deploy. */
export interface VerifyContext {
  inventory: Inventory;
  limit?: string;
  log: (line: string) => void;
  sshConfigFile?: string;
  /** SSH connect + handshake timeout per host, in ms (default 15000). */
  timeoutMs?: number;
  /** How hosts are reached (default: SSH with {@link sshConfigFile} and {@link timeoutMs}). */
  connector?: ConnectorFactory;
  /** Check that nothing of the playbook's is left, live or persisted (after a rollback). */
  absent?: boolean;
}

/** A loaded playbook. */
export interface Playbook {
  /** The plays, in order. */
  plays: Play[];
  /** Static checks on the inventory, before any host is contacted. */
  lint?: (inv: Inventory) => Issue[] | Promise<Issue[]>;
  /** Live checks after the deploy (one more round trip per host). */
  verify?: (ctx: VerifyContext) => Promise<VerifyCheck[]>;
}
