/**
 * Rollback and history over SSH: one exec per host, driven by the host's own journal.
 * @module
 */
import type { Inventory } from "./inventory.ts";
import { selectHosts } from "./patterns.ts";
import { redactor } from "./secrets.ts";
import type { Connector, ConnectorFactory } from "./connector.ts";
import { sshConnector } from "./ssh_connector.ts";
import { mapPool } from "./pool.ts";
import { newNonce } from "./script.ts";
import { DEFAULT_WAIT_S, waitForLock } from "./lock_wait.ts";
import {
  type HistoryEntry,
  historyScript,
  parseHistory,
  parsePurge,
  parseRollback,
  purgeSecretsScript,
  type RestoredEntry,
  type RollbackResult,
  rollbackScript,
} from "./journal.ts";

/** Options of `deno task rollback`. */
export interface RollbackOptions {
  runId?: string;
  limit?: string;
  check?: boolean;
  purgePackages?: boolean;
  forks?: number;
  acceptNewHostKeys?: boolean;
  sshConfigFile?: string;
  /** SSH connect + handshake timeout per host, in ms (default 15000). */
  timeoutMs?: number;
  /** Seconds to wait for a host lock held by another run (default 60; 0: fail at once). */
  waitS?: number;
  /** A host whose journal lacks `runId` has nothing to roll back (bare rollback: the recorded
   * run may not have changed every host). */
  missingRunOk?: boolean;
  log?: (line: string) => void;
  /** How to reach a host (default: SSH with the options above). */
  connector?: ConnectorFactory;
}

/** Per-host rollback outcome. */
export interface HostRollback {
  host: string;
  ok: boolean;
  error?: string;
  result?: RollbackResult;
}

/** Which hosts a journal command reaches, and how (history, purge). */
export interface HostsOptions {
  /** Host pattern (default all). */
  limit?: string;
  /** Hosts in flight at once. */
  forks?: number;
  /** ssh_config file to honour. */
  sshConfigFile?: string;
  /** SSH connect + handshake timeout per host, in ms. */
  timeoutMs?: number;
  /** How to reach a host (default: SSH). */
  connector?: ConnectorFactory;
}

async function eachHost<T>(
  inv: Inventory,
  o: HostsOptions & { acceptNewHostKeys?: boolean },
  fn: (s: Connector, host: string) => Promise<T>,
): Promise<Array<{ host: string; value?: T; error?: string }>> {
  const names = selectHosts(inv, o.limit ?? "all");
  const connect = o.connector ?? sshConnector(o);
  return await mapPool(names, o.forks ?? 50, async (host) => {
    let s: Connector | undefined;
    try {
      s = await connect(inv.hosts.get(host)!);
      return { host, value: await fn(s, host) };
    } catch (e) {
      return { host, error: (e as Error).message };
    } finally {
      s?.close();
    }
  });
}

/** Roll hosts back from their journals. */
export async function rollbackHosts(
  inv: Inventory,
  o: RollbackOptions = {},
): Promise<HostRollback[]> {
  const log = (l: string) => (o.log ?? console.log)(redactor.redact(l));
  const owner = `${Deno.env.get("SUDO_USER") ?? Deno.env.get("USER") ?? "root"}@${Deno.hostname()}`;
  const res = await eachHost(inv, o, async (s, host) => {
    const deadline = Date.now() + (o.waitS ?? DEFAULT_WAIT_S) * 1000;
    while (true) {
      const nonce = newNonce();
      const out = await s.runScript(rollbackScript({ nonce, ...o, owner }));
      const r = parseRollback(out.stdout, nonce);
      if (r.locked === undefined) return r;
      const waitS = Math.round((deadline - Date.now()) / 1000);
      if (waitS <= 0) return r;
      if (!(await waitForLock((x) => s.runScript(x), host, r.locked, { waitS, log }))) {
        return r;
      }
    }
  });
  return res.map(({ host, value: r, error }) => {
    if (!r) {
      log(`${host}: unreachable - ${error}`);
      return { host, ok: false, error };
    }
    if (r.locked !== undefined) {
      const e = `host is locked by another run (${r.locked.trim()}); nothing restored`;
      log(`${host}: failed - ${e}`);
      return { host, ok: false, error: e, result: r };
    }
    if (r.noRun && o.missingRunOk) {
      log(`${host}: run ${r.noRun} did not change this host: nothing to roll back`);
      return { host, ok: true, result: r };
    }
    if (r.noRun) {
      const e = `run ${r.noRun} is not in this host's journal`;
      log(`${host}: failed - ${e}`);
      return { host, ok: false, error: e, result: r };
    }
    if (r.none || (r.finished && !r.runs.length)) {
      log(`${host}: nothing to roll back`);
      return { host, ok: true, result: r };
    }
    for (const e of r.would) log(`${host}: [would restore] ${e.summary} (run ${e.run})`);
    for (const e of r.restored) log(`${host}: [restored] ${e.summary} (run ${e.run})`);
    for (const e of r.purged) {
      log(
        `${host}: [CANNOT RESTORE] ${e.summary} (run ${e.run}, entry ${e.task}): its saved ` +
          `pre-state was deleted by history --purge-secrets`,
      );
    }
    for (const h of r.handlers) log(`${host}: [handler] ${h}`);
    for (const h of r.handlerFailures) {
      log(`${host}: [handler failed] ${h.name} (exit ${h.rc}): ${h.log.trim().split("\n").pop()}`);
    }
    if (r.failed || !r.finished) {
      const e = r.failed
        ? `restoring entry ${r.failed.task} of run ${r.failed.run} failed (exit ${r.failed.rc}): ${
          r.failed.log.trim().split("\n").slice(-3).join(" | ")
        }`
        : "rollback script ended early";
      log(`${host}: failed - ${e}`);
      return { host, ok: false, error: e, result: r };
    }
    if (r.purged.length) {
      const e = `${r.purged.length} entries not restored (pre-state purged); the rest rolled back`;
      log(`${host}: failed - ${e}`);
      return { host, ok: false, error: e, result: r };
    }
    log(`${host}: ${o.check ? "would roll back" : "rolled back"} run ${r.runs.join(", ")}`);
    return { host, ok: true, result: r };
  });
}

/** The journal history of each host. */
export async function historyHosts(
  inv: Inventory,
  o: HostsOptions = {},
): Promise<Array<{ host: string; runs?: HistoryEntry[]; error?: string }>> {
  const res = await eachHost(inv, o, async (s) => {
    const nonce = newNonce();
    const out = await s.runScript(historyScript(nonce));
    return parseHistory(out.stdout, nonce);
  });
  return res.map(({ host, value, error }) => ({ host, runs: value, error }));
}

/**
 * `history --purge-secrets`: on each host, delete the saved pre-states of files that were not
 * world-readable (old VRRP passwords in keepalived.conf, secret files) from every run, keeping
 * the run list; prints one line per purged entry and per host.
 */
export async function purgeSecretsHosts(
  inv: Inventory,
  o: HostsOptions & { log?: (line: string) => void } = {},
): Promise<Array<{ host: string; purged?: RestoredEntry[]; error?: string }>> {
  const log = (l: string) => (o.log ?? console.log)(redactor.redact(l));
  const res = await eachHost(inv, o, async (s) => {
    const nonce = newNonce();
    const out = await s.runScript(purgeSecretsScript(nonce));
    return parsePurge(out.stdout, nonce);
  });
  return res.map(({ host, value: v, error }) => {
    for (const e of v?.purged ?? []) {
      log(`${host}: [purged] ${e.summary} (run ${e.run}, entry ${e.task})`);
    }
    const e = !v
      ? `unreachable - ${error}`
      : v.locked !== undefined
      ? `host is locked by another run (${v.locked.trim()}); nothing purged`
      : !v.finished
      ? "purge script ended early"
      : undefined;
    if (e) log(`${host}: failed - ${e}`);
    else log(`${host}: ${v!.purged.length} saved pre-states purged; run list kept`);
    return { host, purged: v?.purged, error: e };
  });
}
