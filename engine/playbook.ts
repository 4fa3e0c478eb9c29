/**
 * Playbooks: TypeScript modules exporting plays (and optionally lint and verify hooks).
 * @module
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
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

/** Build a playbook from a module's exports. */
export function playbookFromModule(mod: Record<string, unknown>, where: string): Playbook {
  const pb = (mod.default ?? mod) as Partial<Playbook> & Record<string, unknown>;
  const plays = Array.isArray(pb) ? pb as Play[] : pb.plays;
  if (!Array.isArray(plays) || plays.length === 0) {
    throw new Error(`${where}: a playbook module must export "plays" (a non-empty array of plays)`);
  }
  plays.forEach((p, i) => {
    if (!p || typeof p.hosts !== "string" || typeof p.tasks !== "function") {
      throw new Error(`${where}: plays[${i}] needs "hosts" (a pattern) and "tasks" (a function)`);
    }
  });
  return {
    plays,
    lint: typeof pb.lint === "function" ? pb.lint as Playbook["lint"] : undefined,
    verify: typeof pb.verify === "function" ? pb.verify as Playbook["verify"] : undefined,
  };
}

/**
 * Load a playbook from a path: a YAML playbook (`.yaml`, `.yml`: see `yaml_playbook.ts`), else
 * a TypeScript module.
 */
export async function loadPlaybook(path: string): Promise<Playbook> {
  if (/\.ya?ml$/i.test(path)) {
    const { loadYamlPlaybook } = await import("./yaml_playbook.ts");
    return loadYamlPlaybook(path);
  }
  const mod = await import(pathToFileURL(resolve(path)).href);
  return playbookFromModule(mod, path);
}
