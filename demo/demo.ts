/**
 * `deno task demo`: the whole story on one machine, narrated, in about a minute.
 *
 * A lab of 2 load balancers + 2 real servers (systemd + networkd hosts like an Ubuntu server;
 * `--init lab` for the bash init; with a local apt repository) gets the seed 001
 * setup (keepalived MASTER/BACKUP pair, LVS-DR, real servers accepting the VIP by iptables
 * REDIRECT); the VIP is shown on the MASTER; the MASTER's keepalived is stopped and the VIP
 * moves; it is started again and takes the VIP back; everything is rolled back and compared to
 * a snapshot; the lab is torn down. Needs root (network namespaces).
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Lab, labDown, labExec, labUp } from "../lab/lab.ts";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { recapTable } from "../engine/report.ts";
import { lint, plays, verify } from "../playbooks/site.ts";
import { writeLabInventory } from "../lab/inventory.ts";
import { formatIssue } from "../engine/inventory.ts";
import { SNAPSHOT_SH, snapshotDiff } from "../lab/snapshot.ts";
import { runMain } from "../engine/_cli_errors.ts";
import { preflight } from "../engine/preflight.ts";

const EXAMPLE = fileURLToPath(
  new URL("../inventory/examples/001-dr-pair-redirect.yaml", import.meta.url),
);
const NAME = "demo";
const SUBNET = "198.18.99.0/24";
const t0 = performance.now();
const bold = (s: string) => Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s;
const secs = () => ((performance.now() - t0) / 1000).toFixed(1).padStart(5) + "s";
let step = 0;
const say = (s: string) => console.log(`\n${secs()}  ${bold(`[${++step}/8] ${s}`)}`);
const note = (s: string) => console.log(`${secs()}    ${s}`);

async function sh(lab: Lab, host: string, cmd: string): Promise<string> {
  return (await labExec(lab, host, ["sh", "-c", cmd])).stdout;
}

async function vipHolders(lab: Lab, vip: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of ["h1", "h2"]) {
    if ((await sh(lab, h, "ip -o -4 addr show dev eth0")).includes(` ${vip}/`)) out.push(h);
  }
  return out;
}

async function waitFor(what: string, ms: number, pred: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (await pred()) return (performance.now() - start) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { "no-install": { type: "boolean" }, init: { type: "string", default: "systemd" } },
    }).values;
  } catch (e) {
    console.error(
      `demo: ${(e as Error).message} (usage: demo [--no-install] [--init systemd|lab])`,
    );
    return 1;
  }
  const noInstall = !!args["no-install"] || !!Deno.env.get("HAPLAY_NO_INSTALL");
  // hosts like the users' (systemd + networkd) unless `--init lab` asks for the fast bash init
  const init = args.init;
  if (init !== "systemd" && init !== "lab") {
    console.error(`demo: --init must be systemd or lab, got '${init}'`);
    return 1;
  }
  const ready = await preflight({ for: "demo", install: !noInstall });
  if (ready !== 0) return ready;
  if (Deno.uid() !== 0) {
    console.error("deno task demo needs root (it builds network namespaces); run it as root");
    return 1;
  }
  if (!Deno.env.get("HAPLAY_VRRP_PASS")) {
    Deno.env.set("HAPLAY_VRRP_PASS", "demo" + crypto.randomUUID().slice(0, 4));
  }
  say(
    `Lab: 4 simulated Debian hosts (${
      init === "systemd" ? "systemd + networkd" : "bash init"
    }, own netns, overlay root, real sshd) + a local apt repo`,
  );
  await labDown(NAME).catch(() => {});
  const lab = await labUp({ name: NAME, hosts: 4, subnet: SUBNET, aptRepo: true, init });
  try {
    note(
      `h1 ${lab.hosts[0].ip} = lb1 (MASTER, priority 100), h2 ${lab.hosts[1].ip} = lb2 (BACKUP)`,
    );
    note(`h3, h4 = web1, web2 (real servers; busybox httpd stands in for nginx)`);
    for (const h of ["h3", "h4"]) {
      await sh(
        lab,
        h,
        `mkdir -p /srv/www && echo "$(hostname) ok" > /srv/www/index.html && ` +
          `{ busybox httpd -p 80 -h /srv/www </dev/null >/dev/null 2>&1 & }`,
      );
    }
    const before: Record<string, string> = {};
    for (const h of lab.hosts) before[h.name] = await sh(lab, h.name, SNAPSHOT_SH);

    say("Inventory: inventory/examples/001-dr-pair-redirect.yaml moved onto the lab, then lint");
    const invPath = await writeLabInventory(EXAMPLE, lab);
    const inv = await loadInventory(invPath);
    const issues = lint(inv);
    for (const i of issues) note(formatIssue(i));
    if (issues.some((i) => i.severity === "error")) return 1;
    note(`lint: ${issues.length ? `${issues.length} warning(s)` : "clean"}; no host contacted yet`);

    say("Deploy: real servers first, then the LBs one at a time (BACKUP first, MASTER last)");
    const report = await runPlaybook(inv, plays, { log: (l) => note(l) });
    console.log(recapTable(report.hosts).replace(/^/gm, "          "));
    if (!report.ok) return 1;
    const checks = await verify({ inventory: inv, log: note });
    for (const c of checks) note(`verify ${c.host}: [${c.ok ? "ok" : "FAILED"}] ${c.check}`);
    if (!checks.every((c) => c.ok)) return 1;

    say("Again: nothing to change, one SSH round trip per host");
    const again = await runPlaybook(inv, plays, { log: () => {} });
    note(
      `changed: ${again.hosts.filter((h) => h.status === "changed").length}, execs per host: ` +
        [...new Set(again.hosts.map((h) => h.execs))].join("/") + `, ${again.durationMs} ms`,
    );

    const vip = SUBNET.replace(/0\/24$/, "100");
    say(`VRRP: who holds the VIP ${vip}?`);
    await waitFor(
      "a single VIP holder",
      10000,
      async () => (await vipHolders(lab, vip)).length === 1,
    );
    note(`VIP on ${(await vipHolders(lab, vip)).join(", ")} (lb1, the MASTER)`);
    note((await sh(lab, "h3", "iptables -t nat -S PREROUTING | grep REDIRECT")).trim());

    say("Failover: stop keepalived on the MASTER");
    await sh(lab, "h1", "systemctl stop keepalived >/dev/null 2>&1");
    const moved = await waitFor("the VIP on lb2", 10000, async () => {
      const h = await vipHolders(lab, vip);
      return h.length === 1 && h[0] === "h2";
    });
    note(`VIP moved to lb2 (h2) in ${moved.toFixed(1)} s`);
    await waitFor(
      "keepalived on h1 to exit",
      10000,
      async () =>
        (await sh(lab, "h1", "kill -0 $(cat /run/keepalived.pid) 2>/dev/null && echo up")) === "",
    );
    await sh(lab, "h1", "systemctl start keepalived >/dev/null 2>&1");
    const back = await waitFor("the VIP back on lb1", 15000, async () => {
      const h = await vipHolders(lab, vip);
      return h.length === 1 && h[0] === "h1";
    });
    note(`keepalived started again on lb1: it preempted the VIP back in ${back.toFixed(1)} s`);

    say("Rollback: every host back to its snapshot");
    const rb = await rollbackHosts(inv, { purgePackages: true, log: () => {} });
    if (!rb.every((r) => r.ok)) {
      for (const r of rb.filter((x) => !x.ok)) note(`${r.host}: ${r.error}`);
      return 1;
    }
    let same = 0;
    for (const h of lab.hosts) {
      const now = await sh(lab, h.name, SNAPSHOT_SH);
      if (now === before[h.name]) same++;
      else note(`${h.name}: differs from its snapshot:\n${snapshotDiff(before[h.name], now)}`);
    }
    note(
      `restored ${rb.reduce((n, r) => n + (r.result?.restored.length ?? 0), 0)} journal entries; ` +
        `${same}/${lab.hosts.length} hosts identical to their snapshot ` +
        `(/etc, /usr/local, sysctls, iptables, routes, addresses, users)`,
    );
    if (same !== lab.hosts.length) return 1;
  } finally {
    say("Teardown");
    await labDown(NAME);
    note("lab removed: namespaces, mounts, links and processes");
  }
  console.log(`\n${secs()}  done`);
  return 0;
}

if (import.meta.main) await runMain("demo", main);
