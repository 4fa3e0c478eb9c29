/**
 * The connector seam: the one thing the engine needs from a host's transport. A run opens one
 * connector per host (through a {@link ConnectorFactory}), runs its probe and apply scripts on
 * it as root with the script on stdin, reads how many round trips it made, and closes it.
 * `ssh_connector.ts` (the default) opens an `SshSession`; `connector_local.ts` runs the
 * same scripts under `sh` in a temp root; `connector_fake.ts` answers from a script, for tests.
 * @module
 */
import type { InventoryHost } from "./inventory.ts";

/** Result of one exec: exit code (or signal), stdout and stderr kept apart, untrimmed. */
export interface ExecResult {
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** One open connection to a host. */
export interface Connector {
  /** Run a POSIX sh script as root on the host (the script is fed on stdin): one round trip. */
  runScript(script: string): Promise<ExecResult>;
  /** Round trips (execs) made on this connection so far. */
  readonly execs: number;
  /** Close the connection; no script runs on it after this. */
  close(): void;
}

/** Opens the connector of one inventory host; rejects when the host cannot be reached. */
export type ConnectorFactory = (host: InventoryHost) => Promise<Connector>;
