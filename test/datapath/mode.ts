/**
 * One data-path scenario on a running VM lab: network set-up, deploy with haplay (site
 * playbook), verify, round robin, health-check removal and return, VRRP failover under load and
 * failback, then rollback and the snapshot comparison. Every phase fills its cell of the
 * results row; the first failure is rethrown after rollback and clean-up ran.
 * @module
 */
import assert from "node:assert/strict";
import { loadInventory } from "../../engine/inventory.ts";
import { rollbackHosts, type RollbackOptions } from "../../engine/rollback.ts";
import { newRunId, runPlaybook } from "../../engine/run.ts";
import { plays } from "../../playbooks/site.ts";
import { lintLb } from "../../lb/lint.ts";
import { verifyLb } from "../../lb/verify.ts";
import { vmSh } from "../../vmlab/exec.ts";
import { withVmConnection } from "../../vmlab/inventory.ts";
import type { VmLab } from "../../vmlab/types.ts";
import { holders, ipvsReals, runEach, snapshotChanges, snapshots, until } from "./fixture.ts";
import { alternates, type Answer, curls, outage, tallyText } from "./probe.ts";
import type { ModeResult } from "./results.ts";
import type { Scenario } from "./scenarios.ts";
import { statusMain } from "../../engine/status_cli.ts";
import type { StatusReport } from "../../lb/status.ts";
import { lbClusterOf } from "../../lb/cluster.ts";
import type { Inventory } from "../../engine/inventory.ts";
import { runDegradation } from "./degradation.ts";
import { runDrainAndMaintenance } from "./drain.ts";
import {
  curlsExplained,
  type Evidence,
  failuresText,
  ipvsConns,
  type Look,
  lookText,
  startEvidence,
} from "./evidence.ts";
import {
  cleanServices,
  installScripts,
  type LongLived,
  longLived,
  longLivedText,
  startServer,
} from "./services.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds since `t0`, one decimal. */
function since(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

function bodies(a: Answer[]): Set<string> {
  return new Set(a.map((x) => x.body ?? "FAIL"));
}

/** The data address of a guest (ipvsadm shows it with the real port, or `:0` for fwmark). */
function dataIp(lab: VmLab, host: string): string {
  return lab.hosts.find((x) => x.name === host)!.data.split("/")[0];
}

/** True when `reals` (`A.B.C.D:PORT` list) has address `ip`, any port. */
function hasIp(reals: Iterable<string>, ip: string): boolean {
  return [...reals].some((r) => r.startsWith(`${ip}:`));
}

/** The client's data address (the source of every request, the destination of every reply). */
function clientIp(lab: VmLab): string {
  return dataIp(lab, "client");
}

/**
 * What arrived at `host`'s data NIC (eth0) from elsewhere and was addressed to its own MAC
 * while `during` ran (tcpdump in the guest, inbound only): TCP packets from the client
 * (requests: proves the capture saw the traffic) and TCP packets to the client (replies the
 * director received, so forwarded or de-NATed). A director that replies are bypassing receives
 * none; its own replies (same-box) leave it and are not counted.
 */
async function capturedAt<T>(
  lab: VmLab,
  host: string,
  during: () => Promise<T>,
): Promise<{ requests: number; replies: number; result: T }> {
  const c = clientIp(lab);
  await vmSh(
    lab,
    host,
    "rm -f /tmp/dp.pcap /tmp/dp.err; " +
      `setsid tcpdump -p -n -U -i eth0 -Q in -w /tmp/dp.pcap 'tcp and host ${c}' ` +
      ">/dev/null 2>/tmp/dp.err </dev/null & echo $! >/tmp/dp.pid; " +
      "i=0; until grep -q listening /tmp/dp.err; do i=$((i+1)); [ $i -lt 150 ] || exit 1; " +
      "sleep 0.2; done",
  );
  let result: T;
  try {
    result = await during();
  } finally {
    await vmSh(lab, host, "kill -INT $(cat /tmp/dp.pid); sleep 1");
  }
  const out = await vmSh(
    lab,
    host,
    "mac=$(cat /sys/class/net/eth0/address); " +
      `echo $(tcpdump -n -r /tmp/dp.pcap "ether dst $mac and src host ${c}" 2>/dev/null | wc -l) ` +
      `$(tcpdump -n -r /tmp/dp.pcap "ether dst $mac and dst host ${c}" 2>/dev/null | wc -l); ` +
      "rm -f /tmp/dp.pcap /tmp/dp.err /tmp/dp.pid",
  );
  const [requests, replies] = out.trim().split(/\s+/).map(Number);
  assert.ok(
    Number.isFinite(requests) && Number.isFinite(replies),
    `capture on ${host}: ${out}`,
  );
  return { requests, replies, result: result! };
}

/** `deno task status <inventory> --json` in-process (the password through the env, as a user has it). */
async function statusJson(inventory: string, password: string): Promise<StatusReport> {
  const prev = Deno.env.get("HAPLAY_VRRP_PASS");
  Deno.env.set("HAPLAY_VRRP_PASS", password);
  try {
    const out: string[] = [];
    await statusMain([inventory, "--json", "--timeout", "60"], (l) => out.push(l), () => {});
    return JSON.parse(out.join("\n"));
  } finally {
    if (prev === undefined) Deno.env.delete("HAPLAY_VRRP_PASS");
    else Deno.env.set("HAPLAY_VRRP_PASS", prev);
  }
}

/** Failover under load: at most this many requests of the loop may fail... */
export const FAILOVER_MAX_FAILED = 2;
/** ...and the gap between the last answer before and the first after is at most this (s). */
export const FAILOVER_MAX_GAP_S = 4;

/** What runMode needs besides the lab and the scenario. */
export interface ModeContext {
  /** Directory of the scenario inventories. */
  inventoryDir: string;
  /** The guests' snapshots taken after boot. */
  baseline: Record<string, string>;
  /** VRRP password (env HAPLAY_VRRP_PASS of the inventories). */
  password: string;
  /** Progress lines. */
  log: (line: string) => void;
}

/**
 * Writes scenario inventory `file` for the lab (its management addresses, written for
 * 198.19.240.0/24, moved to the lab's subnet; connection variables added), loads and lints it.
 */
export async function labInventory(
  lab: VmLab,
  c: ModeContext,
  file: string,
): Promise<{ path: string; inv: Inventory }> {
  const path = `${lab.dir}/${file}`;
  const mgmt = lab.hosts[0].ip.split(".").slice(0, 3).join(".") + ".";
  const text = (await Deno.readTextFile(`${c.inventoryDir}/${file}`)).replaceAll(
    "198.19.240.",
    mgmt,
  );
  await Deno.writeTextFile(path, withVmConnection(text, lab));
  const inv = await loadInventory(path, { env: { HAPLAY_VRRP_PASS: c.password } });
  const errors = lintLb(inv).filter((i) => i.severity === "error");
  assert.deepEqual(errors.map((i) => `${i.path}: ${i.message}`), [], `lint of ${file}`);
  return { path, inv };
}

/** What the IPVS sync daemons of `host` are (`ipvsadm -L --daemon`), one line. */
async function syncDaemons(lab: VmLab, host: string): Promise<string> {
  return (await vmSh(lab, host, "ipvsadm -L --daemon 2>&1 || true")).trim().replace(/\n/g, "; ");
}

/**
 * Long-lived connections (4, a line every 100 ms for 20 s) through the VIP while the MASTER's
 * keepalived is stopped; `during` runs the rest of the failover step (it stops keepalived).
 */
async function throughFailover<T>(
  lab: VmLab,
  sc: Scenario,
  during: () => Promise<T>,
): Promise<{ conns: LongLived[]; result: T }> {
  const ll = longLived(lab, sc.longLived!.vip, sc.longLived!.port, 4, 20);
  await sleep(2000); // python's start and the 4 connects, before the loop and the stop
  const result = await during();
  return { conns: await ll, result };
}

/** Runs scenario `sc`, filling `row`; throws the first failure after cleaning up. */
export async function runMode(lab: VmLab, sc: Scenario, c: ModeContext, row: ModeResult) {
  const t0 = performance.now();
  const lines: string[] = [];
  const hlog = (l: string) => lines.push(l);
  const tail = () => lines.slice(-25).join("\n");
  const { path, inv } = await labInventory(lab, c, sc.inventory);
  /** The first deploy's run: the rollback undoes it and every later run (sync deploy, drains). */
  const firstRun = newRunId();
  const webHosts = [...new Set([...sc.servers, "web1", "web2"])];
  await runEach(lab, Object.fromEntries(webHosts.map((h) => [h, "/etc/init.d/vmlab-web start"])));
  await runEach(lab, sc.envUp);
  if (sc.longLived) {
    await Promise.all(["web1", "web2", "client"].map((h) => installScripts(lab, h)));
    await Promise.all(["web1", "web2"].map((h) => startServer(lab, h, "tcp", sc.longLived!.port)));
  }
  let failure: unknown;
  let phase = "deploy";
  try {
    const td = performance.now();
    const rep = await runPlaybook(inv, plays, { log: hlog, timeoutMs: 60_000, runId: firstRun });
    row.deployS = since(td);
    c.log(`${sc.mode}: deployed in ${row.deployS} s (ok=${rep.ok})`);
    assert.equal(rep.ok, true, `deploy failed:\n${tail()}`);
    phase = "verify";
    const checks = await verifyLb({ inventory: inv, log: hlog, timeoutMs: 60_000 });
    assert.deepEqual(checks.filter((x) => !x.ok), [], `verify after deploy:\n${tail()}`);

    phase = "balanced";
    let master = "";
    await until(`one MASTER holding ${sc.vrrpVip}`, 20_000, async () => {
      const h = await holders(lab, sc.directors, sc.vrrpVip);
      master = h[0];
      return h.length === 1;
    });
    const both = sc.servers.map((s) => dataIp(lab, s));
    await until(`${both.join(", ")} in ${master}'s IPVS table`, 60_000, async () => {
      const r = await ipvsReals(lab, master);
      return both.every((a) => hasIp(r, a));
    });
    // same-box: a BACKUP with virtual servers would send the MASTER's packets back (a loop)
    const selfServed = sc.servers.filter((s) => sc.directors.includes(s));
    if (selfServed.length) {
      const peers = sc.directors.filter((d) => d !== master);
      await until(
        `no virtual servers on the BACKUP ${peers.join(", ")}`,
        30_000,
        async () =>
          (await Promise.all(peers.map((p) => ipvsReals(lab, p)))).every((r) => r.length === 0),
      );
    }
    const cap = await capturedAt(lab, master, () => curls(lab, sc.url, 20));
    const a1 = cap.result;
    const via = sc.replies === "director"
      ? `replies via ${master} (${cap.replies} reply packets arrived at it, ` +
        `${cap.requests} request packets)`
      : `replies bypass ${master} (${cap.replies} reply packets arrived at it, ` +
        `${cap.requests} request packets)`;
    row.balanced = `${tallyText(a1)}, ${
      alternates(a1) ? "alternating" : "NOT alternating"
    }; ${via}`;
    c.log(`${sc.mode}: ${row.balanced}`);
    if (sc.replies === "director") {
      assert.ok(cap.replies >= 2 * a1.length, `NAT: replies must pass the director: ${via}`);
    } else assert.equal(cap.replies, 0, `replies must not pass the director: ${via}`);
    // at least SYN, ACK, request, FIN/ACK per request: the capture saw the traffic
    assert.ok(cap.requests >= 3 * a1.length, `capture on ${master} missed requests: ${via}`);
    assert.deepEqual([...bodies(a1)].sort(), [...sc.servers].sort(), `answers: ${tallyText(a1)}`);
    assert.ok(alternates(a1), `round robin: ${a1.map((x) => x.body).join(" ")}`);

    phase = "status";
    // deno task status --json, as an operator runs it: one MASTER per instance, the MASTER's
    // kernel table lists every real server with its weight and the 20 requests' connections
    const st = await statusJson(path, c.password);
    assert.deepEqual(
      st.instances.map((i) => i.masters),
      st.instances.map(() => [master]),
      "status: one MASTER per instance",
    );
    const resolved = lbClusterOf(master, inv.hosts)!.services.filter((x) => x.mode !== "vrrp-only");
    assert.deepEqual(
      st.services.map((x) => x.name).sort(),
      resolved.map((x) => x.cfg.name).sort(),
      "status: every virtual server",
    );
    const urlPort = Number(new URL(sc.url).port || 80);
    for (const svc of st.services) {
      const d = svc.directors.find((x) => x.host === master)!;
      assert.equal(
        d.realServers.length,
        resolved.find((x) => x.cfg.name === svc.name)!.realServers.length,
        `status: every real server of ${svc.name}`,
      );
      assert.equal(d.table, "present", `status: ${svc.name} in ${master}'s IPVS table`);
      for (const rs of d.realServers) {
        assert.equal(rs.state, "up", `status: ${svc.name} ${rs.address}`);
        assert.equal(rs.weight, rs.configuredWeight);
        assert.ok(rs.active !== undefined && rs.inactive !== undefined);
      }
      // the 20 requests went to the URL's service only
      if (svc.port !== undefined && svc.port !== urlPort) continue;
      const served = d.realServers.filter((r) => both.includes(r.address));
      assert.ok(
        served.every((r) => r.active! + r.inactive! > 0),
        `status: every real server counted connections: ${JSON.stringify(served)}`,
      );
    }
    c.log(
      `${sc.mode}: status: MASTER ${master}; ${
        st.services.map((svc) =>
          `${svc.name}: ${
            svc.directors.find((x) => x.host === master)!.realServers.map((r) =>
              `${r.address} w${r.weight} ${r.active}/${r.inactive}`
            ).join(", ")
          }`
        ).join("; ")
      }`,
    );

    phase = "health";
    const victim = sc.victim === master ? sc.servers.find((s) => s !== master)! : sc.victim;
    const other = sc.servers.find((s) => s !== victim)!;
    const vAddr = dataIp(lab, victim);
    // the web service's real servers only (the echo service keeps the victim in the table)
    const webReals = async (h: string) =>
      (await ipvsReals(lab, h)).filter((r) =>
        !sc.longLived || !r.endsWith(`:${sc.longLived.port}`)
      );
    // HAPLAY_DP_HEALTH_REPEAT=N repeats the step N times (to catch an intermittent failure)
    const repeat = Math.max(1, Number(Deno.env.get("HAPLAY_DP_HEALTH_REPEAT") || 1));
    for (let k = 1; k <= repeat; k++) {
      await vmSh(lab, victim, "/etc/init.d/vmlab-web stop");
      const outS = await until(
        `${vAddr} removed from ${master}'s IPVS`,
        45_000,
        async () => !hasIp(await webReals(master), vAddr),
      );
      const a2 = await curlsExplained(lab, sc.url, 10);
      // a failed request: curl's error and the MASTER's connection entries at that moment
      // (and who holds the VIP, the other director's table: a VRRP flap would load it there)
      const why = failuresText(a2)
        ? `; ${failuresText(a2)}; ${master}'s ipvsadm -Lnc: ${await ipvsConns(lab, master)}; ` +
          `VIP on ${(await holders(lab, sc.directors, sc.vrrpVip)).join(", ") || "nobody"}; ` +
          sc.directors.filter((d) => d !== master).map((d) => d).join(", ") + "'s reals: " +
          (await Promise.all(
            sc.directors.filter((d) => d !== master).map(async (d) =>
              (await ipvsReals(lab, d)).join(" ") || "none"
            ),
          )).join("; ")
        : "";
      await vmSh(lab, victim, "/etc/init.d/vmlab-web start");
      const backS = await until(
        `${vAddr} back in ${master}'s IPVS`,
        45_000,
        async () => hasIp(await webReals(master), vAddr),
      );
      const a3 = await curls(lab, sc.url, 6);
      row.health = `${victim} web stopped: out after ${outS} s, then ${tallyText(a2)}; ` +
        `started: back after ${backS} s, then ${tallyText(a3)}` +
        (repeat > 1 ? ` (round ${k} of ${repeat})` : "");
      c.log(`${sc.mode}: ${row.health}${why}`);
      assert.deepEqual([...bodies(a2)], [other], `with ${victim} down: ${tallyText(a2)}${why}`);
      assert.deepEqual(
        [...bodies(a3)].sort(),
        [...sc.servers].sort(),
        `${victim} back: ${tallyText(a3)}`,
      );
    }

    if (sc.drain) {
      // before any failover: a failover leaves the old MASTER's kernel with ESTABLISHED entries
      // for connections that ended through the other director (it never saw their FIN; 15 min
      // timeout), which count as active connections a drain then waits for
      phase = "drain";
      row.features ??= [];
      await runDrainAndMaintenance(
        lab,
        sc,
        path,
        c.password,
        master,
        FAILOVER_MAX_FAILED,
        row.features,
        c.log,
      );
    }

    phase = "failover";
    const peer = sc.directors.find((d) => d !== master)!;
    let ev: Evidence | undefined;
    const looks: string[] = [];
    let before: Look | undefined;
    const failover = async () => {
      const loop = curls(lab, sc.url, 0, 24, 0.1, 1);
      await sleep(6000);
      if (ev) {
        before = await ev.look();
        looks.push(`before the stop: ${lookText(before)}`);
      }
      await vmSh(lab, master, "/etc/init.d/keepalived stop");
      const movedS = await until(`${sc.vrrpVip} to move to ${peer}`, 20_000, async () => {
        const h = await holders(lab, sc.directors, sc.vrrpVip);
        return h.length === 1 && h[0] === peer;
      }); // counted from the moment the stop command returned
      if (ev) {
        await sleep(3000);
        looks.push(`3 s after the VIP moved: ${lookText(await ev.look())}`);
      }
      return { movedS, a4: await loop };
    };
    let noSync: LongLived[] = [];
    let movedS: number, a4: Answer[];
    // DR: who the client's packets reach around the failover (docs/datapath.md)
    if (sc.longLived && sc.replies === "direct") {
      ev = await startEvidence(
        lab,
        sc.directors,
        [...sc.directors, "web1", "web2"],
        sc.longLived.vip,
        sc.longLived.port,
      );
    }
    if (sc.longLived) {
      const r = await throughFailover(lab, sc, failover);
      const seen = ev ? await ev.stop() : undefined;
      ({ movedS, a4 } = r.result);
      noSync = r.conns;
      const b = before?.directors[peer];
      row.connections = `without sync${
        b ? ` (${peer} before the stop: sync daemons ${b.daemons}, ${b.conns} entries)` : ""
      }: ${longLivedText(noSync)}`;
      c.log(`${sc.mode}: long-lived ${row.connections}`);
      for (const l of looks) c.log(`${sc.mode}: no-sync evidence ${l}`);
      if (seen) {
        looks.push(
          `echo-port packets from the client's MAC / forwarded: ${
            Object.entries(seen).map(([h, x]) => `${h} ${x.fromClient}/${x.forwarded}`).join(", ")
          }`,
        );
        c.log(`${sc.mode}: no-sync evidence ${looks.at(-1)}`);
      }
    } else ({ movedS, a4 } = await failover());
    const o = outage(a4);
    // the loop measures the gap; service after the failover is checked on its own (a busy
    // machine may leave the loop few requests after the move)
    const after = await curls(lab, sc.url, 4);
    row.failover = `${master} → ${peer} (VIP moved ${movedS} s after the stop returned): ` +
      `${o.failed} of ${o.total} requests failed, gap ${o.gapS} s; then ${tallyText(after)}`;
    c.log(`${sc.mode}: ${row.failover}`);
    assert.ok(a4.length >= 3, `too few requests during failover (${a4.length})`);
    assert.ok(
      o.failed <= FAILOVER_MAX_FAILED && o.gapS <= FAILOVER_MAX_GAP_S,
      `failover under load: ${o.failed} requests failed (at most ${FAILOVER_MAX_FAILED}), ` +
        `gap ${o.gapS} s (at most ${FAILOVER_MAX_GAP_S} s)`,
    );
    assert.deepEqual(
      [...bodies(after)].sort(),
      [...sc.servers].sort(),
      `after failover every server answers: ${tallyText(after)}`,
    );

    phase = "failback";
    await vmSh(lab, master, "/etc/init.d/keepalived start");
    const backMs = await until(`${sc.vrrpVip} back on ${master}`, 30_000, async () => {
      const h = await holders(lab, sc.directors, sc.vrrpVip);
      return h.length === 1 && h[0] === master;
    });
    // same-box: the returning MASTER loads its virtual server from notify_master: let it settle
    await until(`${both.join(", ")} back in ${master}'s IPVS table`, 60_000, async () => {
      const r = await ipvsReals(lab, master);
      return both.every((a) => hasIp(r, a));
    });
    const a5 = await curls(lab, sc.url, 4);
    row.failover += `; failback to ${master} in ${backMs} s, then ${tallyText(a5)}`;
    assert.ok(a5.every((x) => x.body !== null), `after failback: ${tallyText(a5)}`);
    if (sc.longLived) {
      // the control: without sync the new MASTER has no entry for the connections, so every
      // one breaks; otherwise the run with sync below would prove nothing (see scenarios.ts)
      if (sc.longLived.control) {
        assert.ok(
          noSync.length > 0 && noSync.every((x) => x.broken),
          `without sync not every long-lived connection broke: ${longLivedText(noSync)}` +
            (looks.length ? `; ${looks.join("; ")}` : ""),
        );
      }

      phase = "sync";
      const ts = performance.now();
      const s2 = await labInventory(lab, c, sc.longLived.syncInventory);
      if (sc.degradation) {
        const d = sc.degradation;
        await Promise.all(["web1", "web2"].map((h) => startServer(lab, h, "udp", d.udpPort)));
        await startServer(lab, d.sorry.host, "tcp", d.sorry.port, "sorry");
      }
      const rep2 = await runPlaybook(s2.inv, plays, { log: hlog, timeoutMs: 60_000 });
      assert.equal(rep2.ok, true, `deploy of ${sc.longLived.syncInventory} failed:\n${tail()}`);
      const syncDeployS = since(ts);
      await until(`${master} MASTER again with every real server`, 60_000, async () => {
        const h = await holders(lab, sc.directors, sc.vrrpVip);
        const t = await ipvsReals(lab, master);
        return h.length === 1 && h[0] === master && both.every((a) => hasIp(t, a));
      });
      let daemons = "";
      await until(`sync daemons on ${master} (master) and ${peer} (backup)`, 30_000, async () => {
        const [m, p] = await Promise.all([syncDaemons(lab, master), syncDaemons(lab, peer)]);
        daemons = `${master}: ${m}; ${peer}: ${p}`;
        return /master sync daemon/.test(m) && /backup sync daemon/.test(p);
      });
      c.log(`${sc.mode}: sync deploy in ${syncDeployS} s; ${daemons}`);
      let synced = 0;
      const r = await throughFailover(lab, sc, async () => {
        await sleep(4000);
        // the BACKUP's kernel table holds the connections the MASTER's daemon sent
        const tbl = await vmSh(lab, peer, "ipvsadm -Lnc 2>/dev/null || true");
        synced = tbl.split("\n").filter((l) =>
          l.includes(`${sc.longLived!.vip}:${sc.longLived!.port}`) && /ESTABLISHED/.test(l)
        ).length;
        await vmSh(lab, master, "/etc/init.d/keepalived stop");
        return await until(`${sc.vrrpVip} to move to ${peer} (sync)`, 20_000, async () => {
          const h = await holders(lab, sc.directors, sc.vrrpVip);
          return h.length === 1 && h[0] === peer;
        });
      });
      row.connections += `; with sync (deploy ${syncDeployS} s, VIP moved ${r.result} s after ` +
        `the stop, ${synced} connections in ${peer}'s table before it): ${longLivedText(r.conns)}`;
      c.log(`${sc.mode}: long-lived ${row.connections}`);
      await vmSh(lab, master, "/etc/init.d/keepalived start");
      await until(`${sc.vrrpVip} back on ${master} (sync)`, 30_000, async () => {
        const h = await holders(lab, sc.directors, sc.vrrpVip);
        return h.length === 1 && h[0] === master;
      });
      await until(`${both.join(", ")} back in ${master}'s IPVS table (sync)`, 60_000, async () => {
        const t = await ipvsReals(lab, master);
        return both.every((a) => hasIp(t, a));
      });
      assert.deepEqual(
        r.conns.filter((x) => x.broken).map((x) => `${x.server}: ${x.broken}`),
        [],
        `with connection sync every long-lived connection survives: ${longLivedText(r.conns)}`,
      );
      row.features ??= [];
      if (sc.degradation) {
        phase = "degradation";
        await runDegradation(lab, sc, master, row.features, c.log);
      }
    }
  } catch (e) {
    failure = e;
    const msg = `FAILED (${phase}): ${(e as Error).message.split("\n")[0]}`;
    if (phase === "deploy" || phase === "verify") row.balanced = msg;
    else if (phase === "balanced") row.balanced = msg;
    else if (phase === "health") row.health = msg;
    else if (phase === "sync") row.connections = `${row.connections ?? ""}; ${msg}`;
    else if (phase === "degradation" || phase === "drain") {
      // a feature that failed has its row already; a failure around them gets one
      if (!(row.features ?? []).some((f) => !f.ok)) {
        row.features = [...(row.features ?? []), { name: phase, result: msg, ok: false }];
      }
    } else row.failover = msg;
  }

  // always: rollback, the scenario's network down, the snapshot comparison
  try {
    // a host the controller could not reach (SSH handshake timing out on a busy machine) is
    // tried again: rollback is idempotent, and it is what an operator would do
    // the first deploy's run and every later one (the sync deploy, drains, maintenance)
    const rbOpts: RollbackOptions = {
      log: hlog,
      timeoutMs: 60_000,
      runId: firstRun,
      missingRunOk: true,
    };
    let rb = await rollbackHosts(inv, rbOpts);
    for (let i = 0; i < 2 && rb.some((r) => !r.ok && !r.result); i++) {
      const again = rb.filter((r) => !r.ok && !r.result).map((r) => r.host);
      c.log(`${sc.mode}: rollback could not reach ${again.join(", ")}; again`);
      const more = await rollbackHosts(inv, { ...rbOpts, limit: again.join(":") });
      rb = rb.map((r) => more.find((m) => m.host === r.host) ?? r);
    }
    const bad = rb.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`);
    if (sc.longLived) {
      await Promise.all(
        [...sc.directors, "web1", "web2", "client"].map((h) => cleanServices(lab, h)),
      );
    }
    await runEach(lab, sc.envDown);
    const now = await snapshots(lab);
    const diffs = Object.keys(c.baseline).flatMap((h) =>
      snapshotChanges(c.baseline[h], now[h]).map((l) => `${h} ${l}`)
    );
    row.rollback = bad.length
      ? `FAILED: ${bad.join("; ")}`
      : diffs.length
      ? `FAILED: ${diffs.length} snapshot lines differ`
      : "all 5 guests equal to their snapshot";
    c.log(`${sc.mode}: rollback: ${row.rollback}`);
    assert.deepEqual(bad, [], "rollback failed");
    assert.deepEqual(diffs.slice(0, 40), [], "guests differ from their snapshot after rollback");
  } catch (e) {
    if (!row.rollback.startsWith("FAILED")) {
      row.rollback = `FAILED: ${(e as Error).message.split("\n")[0]}`;
    }
    failure ??= e;
  }
  row.totalS = since(t0);
  row.ok = failure === undefined;
  if (failure !== undefined) throw failure;
}
