/**
 * `deno task drain <inventory> <real-server> [--wait S]`, `deno task undrain <inventory>
 * <real-server>` and `deno task maintenance <inventory> <director> on|off [--wait S]`: the
 * operational changes of a load-balancer fleet, each a journaled run of haplay's own task
 * primitives (so `--check`, `--diff`, the journal and `deno task rollback` work as for a
 * deploy), followed by a wait on the live state read like `deno task status` does (one exec
 * per director per look).
 *
 * Exit codes: 0 done; 1 a host failed, a wait timed out, or maintenance was refused because no
 * peer is healthy (nothing changed then); 2 check mode: changes pending; 3 bad input (inventory,
 * unknown real server or director): no host changed; 4 usage.
 * @module
 */
import { parseArgs } from "node:util";
import { formatIssue, type Inventory, InventoryError, loadInventory } from "./inventory.ts";
import { newRunId, runPlaybook } from "./run.ts";
import { recordRun } from "./last_run.ts";
import { knownError, runMain } from "./_cli_errors.ts";
import { DEFAULT_WAIT_S } from "./lock_wait.ts";
import { rollbackHosts } from "./rollback.ts";
import { recapTable } from "./report.ts";
import { redactor } from "./secrets.ts";
import { sshConnector } from "./ssh_connector.ts";
import type { Connector, ConnectorFactory } from "./connector.ts";
import type { Play } from "./types.ts";
import { lintLb } from "../lb/lint.ts";
import { keepalivedHandlers, RELOAD } from "../roles/keepalived.ts";
import { buildStatus, readDirectors, type StatusReport } from "../lb/status.ts";
import {
  type DrainCounts,
  drainCounts,
  drainLine,
  drainPlay,
  drainProblem,
  lbClusters,
  resolveRealServer,
} from "../lb/drain.ts";
import {
  awayLook,
  backLook,
  maintenancePlay,
  maintenanceProblem,
  type MaintenanceTarget,
  peerProblem,
  resolveDirector,
} from "../lb/maintenance.ts";

const USAGE = `usage:
  deno task drain       <inventory> <real-server> [--wait SECONDS] [--check] [--diff] [--json]
  deno task undrain     <inventory> <real-server> [--check] [--diff] [--json]
  deno task maintenance <inventory> <director> on|off [--wait SECONDS] [--check] [--diff] [--json]
<real-server>: an inventory host balanced to by some service, or its address; <director>: a
load balancer. drain --wait: seconds to wait for its active connections to reach 0 (default
60; 0: do not wait); maintenance --wait: seconds for the VIPs to move (default 30).
every command also takes --ssh-config FILE and --timeout SECONDS (SSH connect, default 15)`;

/** Default seconds a drain waits for active connections to end. */
export const DRAIN_WAIT_S = 60;
/** Default seconds maintenance waits for the VIPs to move. */
export const MAINTENANCE_WAIT_S = 30;

/** What the command did, as printed by `--json`. */
export interface OpsResult {
  command: string;
  inventory: string;
  target: string;
  runId?: string;
  check: boolean;
  changed: boolean;
  ok: boolean;
  message: string;
  waitedS?: number;
  connections?: DrainCounts;
  vips?: string;
}

/** Parsed command line, or the usage error. */
export interface OpsArgs {
  cmd: "drain" | "undrain" | "maintenance";
  inventory: string;
  target: string;
  on?: boolean;
  waitS: number;
  check: boolean;
  diff: boolean;
  json: boolean;
  verbose: boolean;
  sshConfig?: string;
  timeoutMs?: number;
  acceptNewHostKeys: boolean;
}

/** Parses the command line (pure): the arguments, or a one-line usage error. */
export function parseOpsArgs(argv: string[]): { ok: true; args: OpsArgs } | {
  ok: false;
  error: string;
  help?: boolean;
} {
  const [cmd, ...rest] = argv;
  if (cmd !== "drain" && cmd !== "undrain" && cmd !== "maintenance") {
    return { ok: false, error: `unknown command "${cmd ?? ""}"` };
  }
  let a;
  try {
    a = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        check: { type: "boolean" },
        diff: { type: "boolean" },
        json: { type: "boolean" },
        wait: { type: "string" },
        "ssh-config": { type: "string" },
        timeout: { type: "string" },
        "accept-new-host-keys": { type: "boolean" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const o = a.values;
  if (o.help) return { ok: false, error: "", help: true };
  const p = a.positionals;
  const want = cmd === "maintenance" ? 3 : 2;
  if (p.length !== want) {
    const names = cmd === "maintenance"
      ? "<inventory> <director> on|off"
      : "<inventory> <real-server>";
    return {
      ok: false,
      error: `${cmd}: expected ${names}, got ${p.length} argument${p.length === 1 ? "" : "s"}`,
    };
  }
  if (cmd === "maintenance" && p[2] !== "on" && p[2] !== "off") {
    return { ok: false, error: `maintenance: the third argument must be on or off, got "${p[2]}"` };
  }
  if (cmd === "undrain" && o.wait !== undefined) {
    return { ok: false, error: "undrain: --wait is for drain and maintenance" };
  }
  const waitS = o.wait === undefined
    ? (cmd === "maintenance" ? MAINTENANCE_WAIT_S : DRAIN_WAIT_S)
    : Number(o.wait);
  if (!(waitS >= 0) || !Number.isFinite(waitS)) {
    return { ok: false, error: `--wait: expected a number of seconds, got "${o.wait}"` };
  }
  const timeoutMs = o.timeout === undefined ? undefined : Math.round(Number(o.timeout) * 1000);
  if (timeoutMs !== undefined && !(timeoutMs > 0)) {
    return { ok: false, error: `--timeout: expected a number of seconds, got "${o.timeout}"` };
  }
  return {
    ok: true,
    args: {
      cmd,
      inventory: p[0],
      target: p[1],
      on: cmd === "maintenance" ? p[2] === "on" : undefined,
      waitS,
      check: !!o.check,
      diff: !!o.diff,
      json: !!o.json,
      verbose: !!o.verbose,
      sshConfig: o["ssh-config"],
      timeoutMs,
      acceptNewHostKeys: !!o["accept-new-host-keys"],
    },
  };
}

/** Bad input found before any host is contacted (exit 3). */
class BadInput extends Error {}

/** Options for tests: how to reach hosts, where lines go, the look interval. */
export interface OpsIo {
  print?: (s: string) => void;
  printErr?: (s: string) => void;
  connect?: ConnectorFactory;
  /** Milliseconds between looks while waiting (default 1000). */
  lookMs?: number;
}

/** Runs a command; returns the exit code. */
export async function opsMain(argv: string[], io: OpsIo = {}): Promise<number> {
  const print = io.print ?? ((s: string) => console.log(redactor.redact(s)));
  const printErr = io.printErr ?? ((s: string) => console.error(redactor.redact(s)));
  const parsed = parseOpsArgs(argv);
  if (!parsed.ok) {
    if (parsed.help) {
      print(USAGE);
      return 0;
    }
    printErr(`${parsed.error}\n${USAGE}`);
    return 4;
  }
  const a = parsed.args;
  // with --json, stdout carries the result only
  const log = a.json ? printErr : print;
  const result: OpsResult = {
    command: a.cmd + (a.on === undefined ? "" : a.on ? " on" : " off"),
    inventory: a.inventory,
    target: a.target,
    check: a.check,
    changed: false,
    ok: false,
    message: "",
  };
  const finish = (code: number, message: string): number => {
    result.message = message;
    result.ok = code === 0 || (code === 2 && a.check);
    (code === 0 || code === 2 ? log : printErr)(message);
    if (a.json) print(JSON.stringify(result, null, 2));
    return code;
  };
  try {
    const inv = await loadChecked(a.inventory, log);
    const clusters = lbClusters(inv.hosts, a.inventory);
    if (!clusters.ok) throw new BadInput(clusters.error);
    const connect = io.connect ??
      sshConnector({ sshConfigFile: a.sshConfig, timeoutMs: a.timeoutMs });
    const open = new Map<string, Connector>();
    const look = async (hosts: string[]): Promise<StatusReport> =>
      buildStatus(inv.hosts, await readDirectors(inv, hosts, connect, open));
    const pause = () => new Promise((r) => setTimeout(r, io.lookMs ?? 1000));
    try {
      let play: Play;
      let mt: MaintenanceTarget | undefined;
      let dt;
      if (a.cmd === "maintenance") {
        const t = resolveDirector(clusters.value, a.target);
        if (!t.ok) throw new BadInput(t.error);
        mt = t.value;
        const problem = maintenanceProblem(mt);
        if (problem) throw new BadInput(problem);
        if (a.on) {
          const members = mt.cluster.members.map((m) => m.name);
          const refused = peerProblem(await look(members), mt);
          if (refused) return finish(1, refused);
        }
        play = maintenancePlay(mt, a.on!);
      } else {
        const t = resolveRealServer(clusters.value, a.target);
        if (!t.ok) throw new BadInput(t.error);
        dt = t.value;
        if (a.cmd === "drain") {
          const problem = drainProblem(clusters.value, dt);
          if (problem) throw new BadInput(problem);
        }
        play = drainPlay(dt, a.cmd === "drain", { reload: RELOAD, handlers: keepalivedHandlers });
      }
      const runId = newRunId();
      if (!a.check) {
        await recordRun({ inventory: a.inventory, runId, startedAt: new Date().toISOString() });
      }
      const report = await runPlaybook(inv, [play], {
        runId,
        check: a.check,
        diff: a.diff,
        verbose: a.verbose,
        acceptNewHostKeys: a.acceptNewHostKeys,
        sshConfigFile: a.sshConfig,
        timeoutMs: a.timeoutMs,
        waitS: DEFAULT_WAIT_S,
        connector: io.connect,
        log,
      });
      result.runId = runId;
      result.changed = report.changed;
      log(recapTable(report.hosts));
      if (a.check) {
        return finish(
          report.ok ? (report.changed ? 2 : 0) : 1,
          `${play.name}: check mode, nothing changed${report.changed ? " (changes pending)" : ""}`,
        );
      }
      if (!report.ok) {
        return finish(1, `${play.name}: failed on a director (see above); rolled back there`);
      }
      if (dt && a.cmd === "drain") {
        return await waitDrain(a, dt, look, pause, log, result, finish, play.name);
      }
      if (dt) return finish(0, `${play.name}: weight restored on ${dt.directors.join(", ")}`);
      return await waitMaintenance(a, mt!, look, pause, log, result, finish, inv, runId);
    } finally {
      for (const c of open.values()) c.close();
    }
  } catch (e) {
    if (e instanceof InventoryError) {
      for (const i of e.issues) printErr(formatIssue(i));
      return finish(3, "nothing was changed: no host was contacted");
    }
    if (e instanceof BadInput) return finish(3, `${e.message}\nnothing changed on any host`);
    const known = knownError(e);
    const msg = `haplay: ${known ?? (e as Error).message}${
      known || a.verbose ? "" : " (re-run with -v for the stack)"
    }`;
    if (a.verbose && e instanceof Error && e.stack) printErr(e.stack);
    return finish(3, msg);
  }
}

/** The inventory, with the LB lint's errors refused (as deploy does). */
async function loadChecked(file: string, log: (s: string) => void): Promise<Inventory> {
  const inv = await loadInventory(file);
  for (const w of inv.warnings ?? []) log(formatIssue(w));
  const errors = lintLb(inv).filter((i) => i.severity === "error");
  if (errors.length) throw new InventoryError(errors);
  return inv;
}

type Finish = (code: number, message: string) => number;

/** The live line: redrawn in place on a terminal, else printed when it changes. */
function liveLine(log: (s: string) => void, json: boolean) {
  const tty = !json && Deno.stdout.isTerminal();
  let last = "";
  return {
    show(line: string, key: string) {
      if (tty) Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[K${line}`));
      else if (key !== last) log(line);
      last = key;
    },
    end() {
      if (tty) Deno.stdout.writeSync(new TextEncoder().encode("\n"));
    },
  };
}

async function waitDrain(
  a: OpsArgs,
  t: NonNullable<ReturnType<typeof resolveRealServer> & { ok: true }>["value"],
  look: (h: string[]) => Promise<StatusReport>,
  pause: () => Promise<unknown>,
  log: (s: string) => void,
  result: OpsResult,
  finish: Finish,
  name: string,
): Promise<number> {
  const start = Date.now();
  const line = liveLine(log, a.json);
  while (true) {
    const c = drainCounts(await look(t.directors), t);
    const s = (Date.now() - start) / 1000;
    result.connections = c;
    result.waitedS = Math.round(s * 10) / 10;
    line.show(drainLine(t, c, s), `${c.active}/${c.inactive}`);
    if (!c.counted) {
      line.end();
      return finish(
        0,
        `${name}: weight 0 on ${t.directors.join(", ")}; no director's kernel has IPVS, ` +
          `so no connections were counted`,
      );
    }
    if (c.active === 0) {
      line.end();
      return finish(0, `${name}: weight 0 on ${t.directors.join(", ")}, 0 active connections`);
    }
    if (s >= a.waitS) {
      line.end();
      return finish(
        1,
        `${name}: timed out after ${a.waitS} s with ${c.active} active connection(s) left; ` +
          `the drain stays in place (deno task undrain puts it back)`,
      );
    }
    await pause();
  }
}

async function waitMaintenance(
  a: OpsArgs,
  t: MaintenanceTarget,
  look: (h: string[]) => Promise<StatusReport>,
  pause: () => Promise<unknown>,
  log: (s: string) => void,
  result: OpsResult,
  finish: Finish,
  inv: Inventory,
  runId: string,
): Promise<number> {
  const members = t.cluster.members.map((m) => m.name);
  const start = Date.now();
  const line = liveLine(log, a.json);
  const what = a.on ? "VIPs moving off" : "VIPs coming back to";
  while (true) {
    const r = await look(members);
    const l = a.on ? awayLook(r, t) : backLook(r, t);
    const s = (Date.now() - start) / 1000;
    result.vips = l.detail;
    result.waitedS = Math.round(s * 10) / 10;
    line.show(`${what} ${t.director}: ${l.detail} after ${s.toFixed(0)} s`, l.detail);
    if (l.done) {
      line.end();
      return finish(
        0,
        a.on
          ? `maintenance on ${t.director}: its VIPs are on its peer (${l.detail})`
          : `maintenance off ${t.director}: back in service (${l.detail})`,
      );
    }
    if (s >= a.waitS) {
      line.end();
      if (!a.on) {
        return finish(
          1,
          `maintenance off ${t.director}: the VIPs did not come back within ${a.waitS} s ` +
            `(${l.detail}); the maintenance file is removed`,
        );
      }
      // the gate failed: put the director back as it was, like a rolling deploy does
      const rb = await rollbackHosts(inv, {
        runId,
        limit: t.director,
        log,
        waitS: DEFAULT_WAIT_S,
        sshConfigFile: a.sshConfig,
        timeoutMs: a.timeoutMs,
      });
      const undone = rb.every((x) => x.ok) ? "rolled back" : "ROLLBACK FAILED";
      return finish(
        1,
        `maintenance on ${t.director}: its peer did not take every VIP within ${a.waitS} s ` +
          `(${l.detail}); ${undone}: ${t.director} keeps serving`,
      );
    }
    await pause();
  }
}

if (import.meta.main) {
  await runMain("haplay", (argv) => opsMain(argv), { keepVerbose: true });
}
