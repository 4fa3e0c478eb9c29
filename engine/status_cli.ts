/**
 * `deno task status <inventory> [--limit PATTERN] [--watch S] [--json]`: the live state of the
 * load balancers, one exec per director per look (see lb/status.ts). On a terminal a table that
 * `--watch` redraws every S seconds over connections kept open; `--json` prints the report as
 * JSON (with `--watch`, one JSON object per line). Exit codes: 0 every director up and every
 * VRRP instance with exactly one MASTER holding its VIPs; 1 otherwise; 3 bad inventory; 4 usage.
 * @module
 */
import { parseArgs } from "node:util";
import { formatIssue, InventoryError, loadInventory } from "./inventory.ts";
import { runMain } from "./_cli_errors.ts";
import { redactor } from "./secrets.ts";
import { sshConnector } from "./ssh_connector.ts";
import type { Connector, ConnectorFactory } from "./connector.ts";
import { buildStatus, directorsOf, readDirectors } from "../lb/status.ts";
import { statusText } from "../lb/status_view.ts";

const USAGE = "usage: deno task status <inventory> [--limit PATTERN] [--watch SECONDS] [--json]\n" +
  "                          [--ssh-config FILE] [--timeout SECONDS]";

/** Runs the command; returns the exit code. `connect` is for tests (default: SSH). */
export async function statusMain(
  argv: string[],
  print: (s: string) => void = (s) => console.log(redactor.redact(s)),
  printErr: (s: string) => void = (s) => console.error(redactor.redact(s)),
  connect?: ConnectorFactory,
): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        limit: { type: "string" },
        watch: { type: "string" },
        json: { type: "boolean" },
        "ssh-config": { type: "string" },
        timeout: { type: "string" },
        rounds: { type: "string" }, // --watch: stop after N looks (tests)
      },
    });
  } catch (e) {
    printErr(`${(e as Error).message}\n${USAGE}`);
    return 4;
  }
  const [file, ...extra] = a.positionals;
  const watch = a.values.watch === undefined ? undefined : Number(a.values.watch);
  const timeout = a.values.timeout === undefined ? 15 : Number(a.values.timeout);
  if (!file || extra.length || (watch !== undefined && !(watch > 0)) || !(timeout > 0)) {
    printErr(USAGE);
    return 4;
  }
  let inv;
  try {
    inv = await loadInventory(file);
  } catch (e) {
    if (!(e instanceof InventoryError)) throw e;
    for (const i of e.issues) printErr(formatIssue(i));
    return 3;
  }
  const hosts = directorsOf(inv, a.values.limit);
  if (!hosts.length) {
    printErr(`${file}: no load balancers (hosts of an lb_group with haplay_lb) to look at`);
    return 3;
  }
  const factory = connect ??
    sshConnector({ sshConfigFile: a.values["ssh-config"], timeoutMs: timeout * 1000 });
  const open = new Map<string, Connector>();
  const tty = !a.values.json && Deno.stdout.isTerminal();
  const rounds = a.values.rounds ? Number(a.values.rounds) : Infinity;
  let ok = false;
  try {
    for (let k = 0; k < (watch ? rounds : 1); k++) {
      if (k > 0) await new Promise((r) => setTimeout(r, watch! * 1000));
      const report = buildStatus(inv.hosts, await readDirectors(inv, hosts, factory, open));
      ok = report.ok;
      if (a.values.json) print(JSON.stringify(report, null, watch ? undefined : 2));
      else print(`${tty && watch ? "\x1b[H\x1b[2J" : ""}${statusText(report)}`);
    }
  } finally {
    for (const c of open.values()) c.close();
  }
  return ok ? 0 : 1;
}

if (import.meta.main) await runMain("status", statusMain);
