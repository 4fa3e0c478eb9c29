/**
 * haplay's command line: deploy, plan, rollback, history, verify.
 *
 * Exit codes: 0 success (nothing would change in check mode); 1 a host failed or was
 * unreachable, or verification failed; 2 check mode: changes pending; 3 bad input (inventory,
 * playbook, lint errors) - no host was contacted; 4 usage error.
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { formatIssue, type Inventory, InventoryError, loadInventory } from "./inventory.ts";
import { loadPlaybook, type Playbook } from "./playbook.ts";
import { newRunId, runPlaybook } from "./run.ts";
import { FALLBACK_INVENTORY, type LastRun, lastRun, recordRun, when } from "./last_run.ts";
import { knownError, runMain } from "./_cli_errors.ts";
import { DEFAULT_WAIT_S } from "./lock_wait.ts";
import { historyHosts, purgeSecretsHosts, rollbackHosts } from "./rollback.ts";
import { recapTable } from "./report.ts";
import { redactor } from "./secrets.ts";

/** Default playbook: the load balancer site playbook. */
export const DEFAULT_PLAYBOOK = fileURLToPath(new URL("../playbooks/site.ts", import.meta.url));

const USAGE = `usage:
  deno task deploy   <inventory> [playbook] [--check] [--diff] [--forks N] [--limit PATTERN]
                     [--tags a,b] [--skip-tags a,b] [--accept-new-host-keys] [--report FILE]
                     [--keep-runs N] [--no-verify] [--timeout SECONDS] [--wait SECONDS] [-v]
  deno task plan     <inventory> [playbook]           (deploy --check --diff)
  deno task rollback [inventory] [--run ID] [--limit PATTERN] [--check] [--purge-packages]
                     [--wait SECONDS]
  deno task history  [inventory] [--limit PATTERN] [--purge-secrets]
  deno task verify   [inventory] [playbook] [--limit PATTERN] [--absent]
without an inventory, rollback/history/verify act on the last deploy from this checkout
(.haplay/last-run.json), else on inventory/prod.yaml; --wait: seconds to wait for a host
lock held by another run (default 60)
every command also takes --ssh-config FILE and --timeout SECONDS (SSH connect, default 15)`;

const out = (l: string) => console.log(redactor.redact(l));
const err = (l: string) => console.error(redactor.redact(l));

async function loadInputs(
  invPath: string,
  pbPath: string | undefined,
): Promise<{ inv: Inventory; pb: Playbook }> {
  const inv = await loadInventory(invPath);
  for (const w of inv.warnings ?? []) err(formatIssue(w));
  const pb = await loadPlaybook(pbPath ?? DEFAULT_PLAYBOOK);
  if (pb.lint) {
    const issues = await pb.lint(inv);
    for (const i of issues.filter((x) => x.severity !== "error")) err(formatIssue(i));
    const errors = issues.filter((x) => x.severity === "error");
    if (errors.length) {
      throw new InventoryError(errors);
    }
  }
  return { inv, pb };
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  let a;
  try {
    a = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        check: { type: "boolean" },
        diff: { type: "boolean" },
        forks: { type: "string" },
        limit: { type: "string" },
        tags: { type: "string" },
        "skip-tags": { type: "string" },
        "accept-new-host-keys": { type: "boolean" },
        report: { type: "string" },
        "keep-runs": { type: "string" },
        "no-verify": { type: "boolean" },
        absent: { type: "boolean" },
        run: { type: "string" },
        "purge-packages": { type: "boolean" },
        "purge-secrets": { type: "boolean" },
        "ssh-config": { type: "string" },
        timeout: { type: "string" },
        wait: { type: "string" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    err(`${(e as Error).message}\n${USAGE}`);
    return 4;
  }
  const o = a.values;
  let [invPath, pbPath]: Array<string | undefined> = a.positionals;
  const bare = !invPath && ["rollback", "history", "verify"].includes(cmd);
  if (o.help || !cmd || (!invPath && !bare)) {
    (o.help ? out : err)(USAGE);
    return o.help ? 0 : 4;
  }
  let recorded: LastRun | undefined;
  if (bare) {
    recorded = await lastRun();
    if (recorded) {
      invPath = recorded.inventory;
      pbPath = recorded.playbook;
      const what = cmd === "rollback" ? (o.check ? "would undo" : "undoing") : `${cmd} of`;
      out(
        `${what} the last deploy from this checkout: run ${recorded.runId} of ${invPath} ` +
          `(started ${when(recorded.startedAt)})`,
      );
    } else if (await exists(FALLBACK_INVENTORY)) {
      invPath = FALLBACK_INVENTORY;
      out(`no deploy recorded in this checkout (.haplay/last-run.json): using ${invPath}`);
    } else {
      err(
        `no deploy recorded in this checkout (.haplay/last-run.json) and no ${FALLBACK_INVENTORY}: ` +
          `give the inventory: deno task ${cmd} <inventory>`,
      );
      return 4;
    }
  }
  if (!invPath) return 4;
  const waitS = o.wait === undefined ? undefined : Number(o.wait);
  if (waitS !== undefined && !(waitS >= 0)) {
    err(`--wait: expected a number of seconds, got "${o.wait}"`);
    return 4;
  }
  const timeoutMs = o.timeout ? Math.round(Number(o.timeout) * 1000) : undefined;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) {
    err(`--timeout: expected a number of seconds, got "${o.timeout}"`);
    return 4;
  }
  const list = (s?: string) => s ? s.split(",").map((x) => x.trim()).filter(Boolean) : undefined;
  try {
    if (cmd === "deploy" || cmd === "plan") {
      const check = cmd === "plan" || !!o.check;
      const { inv, pb } = await loadInputs(invPath, pbPath);
      const runId = newRunId();
      // recorded before any host is contacted: a controller killed mid-run still leaves it
      if (!check) {
        await recordRun({
          inventory: invPath,
          playbook: pbPath,
          runId,
          startedAt: new Date().toISOString(),
        });
      }
      const report = await runPlaybook(inv, pb.plays, {
        runId,
        waitS: waitS ?? DEFAULT_WAIT_S,
        check,
        diff: cmd === "plan" || !!o.diff,
        forks: o.forks ? Number(o.forks) : undefined,
        limit: o.limit,
        tags: list(o.tags),
        skipTags: list(o["skip-tags"]),
        acceptNewHostKeys: o["accept-new-host-keys"],
        verbose: o.verbose,
        keepRuns: o["keep-runs"] ? Number(o["keep-runs"]) : undefined,
        sshConfigFile: o["ssh-config"],
        timeoutMs,
        log: out,
      });
      let verified = true;
      const full = report as typeof report & { verify?: unknown };
      if (!check && report.ok && pb.verify && !o["no-verify"]) {
        const checks = await pb.verify({
          inventory: inv,
          limit: o.limit,
          log: out,
          sshConfigFile: o["ssh-config"],
          timeoutMs,
        });
        full.verify = checks;
        for (const c of checks) {
          out(`verify ${c.host}: [${c.ok ? "ok" : "FAILED"}] ${c.check}: ${c.detail}`);
        }
        verified = checks.every((c) => c.ok);
      }
      out("\nRECAP");
      out(recapTable(report.hosts));
      out(
        `run ${report.runId}: ${report.durationMs} ms${
          check ? " (check mode: nothing changed)" : ""
        }`,
      );
      if (o.report) {
        await Deno.writeTextFile(o.report, redactor.redact(JSON.stringify(full, null, 2)) + "\n");
      }
      if (!report.ok || !verified) return 1;
      return check && report.changed ? 2 : 0;
    }
    if (cmd === "verify") {
      const { inv, pb } = await loadInputs(invPath, pbPath);
      if (!pb.verify) {
        err("this playbook has no verify step");
        return 4;
      }
      const checks = await pb.verify({
        inventory: inv,
        limit: o.limit,
        log: out,
        sshConfigFile: o["ssh-config"],
        timeoutMs,
        absent: o.absent,
      });
      for (const c of checks) out(`${c.host}: [${c.ok ? "ok" : "FAILED"}] ${c.check}: ${c.detail}`);
      return checks.every((c) => c.ok) ? 0 : 1;
    }
    if (cmd === "rollback") {
      const inv = await loadInventory(invPath);
      const res = await rollbackHosts(inv, {
        runId: o.run ?? recorded?.runId,
        missingRunOk: !o.run && !!recorded,
        waitS,
        limit: o.limit,
        check: o.check,
        purgePackages: o["purge-packages"],
        forks: o.forks ? Number(o.forks) : undefined,
        sshConfigFile: o["ssh-config"],
        timeoutMs,
        log: out,
      });
      if (o.report) {
        await Deno.writeTextFile(o.report, redactor.redact(JSON.stringify(res, null, 2)));
      }
      return res.every((r) => r.ok) ? 0 : 1;
    }
    if (cmd === "history") {
      const inv = await loadInventory(invPath);
      if (o["purge-secrets"]) {
        const p = await purgeSecretsHosts(inv, {
          limit: o.limit,
          sshConfigFile: o["ssh-config"],
          timeoutMs,
          log: out,
        });
        return p.every((h) => !h.error) ? 0 : 1;
      }
      const res = await historyHosts(inv, {
        limit: o.limit,
        sshConfigFile: o["ssh-config"],
        timeoutMs,
      });
      for (const h of res) {
        if (h.error) {
          out(`${h.host}: unreachable - ${h.error}`);
          continue;
        }
        out(`${h.host}:${h.runs!.length ? "" : " no runs"}`);
        for (const r of h.runs!) {
          out(
            `  ${r.id}  ${r.state.padEnd(11)} ${r.done}/${r.tasks} changed` +
              `${r.restored ? `, ${r.restored} restored` : ""}  ${r.owner ?? ""}  ${r.play ?? ""}`,
          );
        }
      }
      return res.every((h) => !h.error) ? 0 : 1;
    }
    err(`unknown command "${cmd}"\n${USAGE}`);
    return 4;
  } catch (e) {
    if (e instanceof InventoryError) {
      err(e.message);
      err("nothing was changed: no host was contacted");
      return 3;
    }
    const known = knownError(e);
    const v = o.verbose || !!Deno.env.get("HAPLAY_DEBUG");
    err(
      `haplay: ${known ?? (e as Error).message}${
        known || v ? "" : " (re-run with -v for the stack)"
      }`,
    );
    if (v && e instanceof Error && e.stack) err(e.stack);
    return 3;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

if (import.meta.main) await runMain("haplay", main, { keepVerbose: true });
