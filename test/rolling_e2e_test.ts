/**
 * Rolling deploys of a live LB pair (seed 001 on a lab): a probe loop hits a service bound on
 * the VIP every 100 ms while the pair is redeployed with a real config change, while
 * mastership moves, and while two kinds of broken change are stopped on the first host.
 * Lab ro1 on 198.18.210.0/24.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { e2e, withLab } from "./lab_fixture.ts";
import { probeLoop } from "./_vip_probe.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { plays } from "../playbooks/site.ts";
import { labInventoryText } from "../lab/inventory.ts";
import { fullSnapshot as snapshot, snapshotDiff, sshdSessions } from "./snapshot.ts";

const EXAMPLE = fileURLToPath(
  new URL("../inventory/examples/001-dr-pair-redirect.yaml", import.meta.url),
);

async function sh(lab: Lab, host: string, cmd: string): Promise<string> {
  return (await labExec(lab, host, ["sh", "-c", cmd])).stdout.trim();
}

async function holders(lab: Lab, vip: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of ["h1", "h2"]) {
    if ((await sh(lab, h, "ip -o -4 addr show dev eth0")).includes(` ${vip}/`)) out.push(h);
  }
  return out;
}

async function until(what: string, ms: number, pred: () => Promise<boolean>) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Samples the VIP holder every 100 ms; counts how often the (single) holder changed. */
function holderWatch(lab: Lab, vip: string) {
  const seen: string[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      seen.push((await holders(lab, vip)).join("+") || "none");
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      const changes = seen.filter((s, i) => i > 0 && s !== seen[i - 1]);
      return { seen, changes };
    },
  };
}

/** keepalived's PID from its pidfile when that process is alive (`kill -0`), else "". */
const pid = (lab: Lab, h: string) =>
  sh(lab, h, 'p=$(cat /run/keepalived.pid 2>/dev/null) && kill -0 "$p" 2>/dev/null && echo "$p"');

/**
 * What the running keepalived has loaded: its data dump (SIGUSR1 writes /tmp/keepalived.data),
 * reduced to the VRRP values the steps change.
 */
async function loaded(lab: Lab, h: string) {
  const dump = await sh(
    lab,
    h,
    `rm -f /tmp/keepalived.data; kill -USR1 "$(cat /run/keepalived.pid)" || exit 1
     i=0; until grep -q 'VRRP Topology' /tmp/keepalived.data 2>/dev/null; do
       i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done; sleep 0.3; cat /tmp/keepalived.data`,
  );
  const value = (re: RegExp) => re.exec(dump)?.[1] ?? "";
  const v = {
    // the instance's lines (indented), not global_defs'
    vrid: value(/^ {2,}Virtual Router ID = (\d+)$/m),
    priority: value(/^ {2,}Priority = (\d+)$/m),
    garpDelay: value(/^ {2,}Gratuitous ARP delay = (\d+)$/m),
  };
  assert.ok(v.vrid && v.priority && v.garpDelay, `${h}: keepalived's data dump:\n${dump}`);
  return v;
}

/** Paths (or whole lines, outside the file list) that differ between two snapshots. */
function changed(a: string, b: string): string[] {
  const out = new Set<string>();
  for (const l of snapshotDiff(a, b).split("\n").filter(Boolean)) {
    const line = l.slice(2);
    const m = /^(\/\S+) /.exec(line) ?? /^[0-9a-f]{64}\s+(\/\S+)$/.exec(line);
    out.add(m ? m[1] : line);
  }
  return [...out].sort();
}

const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";

e2e(
  "rolling: redeploys keep the VIP answering; broken changes stop on the first host",
  async () => {
    Deno.env.set("HAPLAY_VRRP_PASS", "ro" + crypto.randomUUID().slice(0, 6));
    await withLab(
      { name: "ro1", subnet: "198.18.210.0/24", hosts: 4, aptRepo: true, init: "systemd" },
      async (lab) => {
        const vip = "198.18.210.100";
        const base = labInventoryText(await Deno.readTextFile(EXAMPLE), lab);
        const inventory = async (name: string, text: string) => {
          const path = `${lab.dir}/${name}.yaml`;
          await Deno.writeTextFile(path, text);
          return await loadInventory(path);
        };
        // The service on the VIP: each LB answers its own name on :8080 (any address).
        for (const h of ["h1", "h2"]) {
          await sh(
            lab,
            h,
            "mkdir -p /srv/vip && hostname > /srv/vip/index.html && " +
              "{ busybox httpd -p 8080 -h /srv/vip </dev/null >/dev/null 2>&1 & }",
          );
        }
        const log: string[] = [];
        const r0 = await runPlaybook(await inventory("v0", base), plays, {
          log: (l) => log.push(l),
        });
        assert.equal(r0.ok, true, log.join("\n"));
        // a first install: nothing serves yet, so both LBs converge at once (gates still run)
        assert.ok(
          log.includes("PLAY [load balancers] nothing to keep serving: all 4 hosts at once"),
          log.join("\n"),
        );
        assert.ok(
          r0.hosts.filter((h) => h.host.startsWith("lb") && h.play === "load balancers")
            .every((h) => h.gate?.ok),
          "gates of the first install",
        );
        await until(
          "one VIP holder (h1)",
          15000,
          async () => (await holders(lab, vip)).join() === "h1",
        );

        // 1. A real config change on both LBs, rolled one at a time: reload, not restart; 0 failures.
        //    The change: persistence_timeout (the LVS part) and garp_master_delay (read back from
        //    the running VRRP daemon, proving the reload loaded it).
        const pids = [await pid(lab, "h1"), await pid(lab, "h2")];
        assert.ok(pids.every(Boolean), `keepalived running on both LBs: ${pids}`);
        const snap0 = { h1: await snapshot(lab, "h1"), h2: await snapshot(lab, "h2") };
        for (const h of ["h1", "h2"]) {
          assert.notEqual((await loaded(lab, h)).garpDelay, "7", `${h}: garp delay before`);
        }
        let probe = probeLoop(`http://${vip}:8080/`);
        await new Promise((r) => setTimeout(r, 500));
        const v1 = base.replace("persistence_timeout: 50", "persistence_timeout: 60")
          .replace(
            "          advert_int: 1\n",
            "          advert_int: 1\n          garp_master_delay: 7\n",
          );
        assert.equal(v1.match(/garp_master_delay: 7/g)?.length, 1, "v1 has the garp change");
        const hosts = lab.hosts.map((h) => h.name);
        const s0 = await Promise.all(hosts.map((h) => sshdSessions(lab, h)));
        const r1 = await runPlaybook(await inventory("v1", v1), plays, { log: (l) => log.push(l) });
        const s1 = await Promise.all(hosts.map((h) => sshdSessions(lab, h)));
        // a gated LB converge, counted by sshd: probe, apply (with the gate and this host's VIP
        // window), the peer's VIP window; the real servers had nothing to do: probe only
        assert.deepEqual(
          Object.fromEntries(hosts.map((h, i) => [h, s1[i] - s0[i]])),
          { h1: 3, h2: 3, h3: 1, h4: 1 },
          "SSH execs per host",
        );
        await new Promise((r) => setTimeout(r, 1500));
        let stats = await probe.stop();
        assert.equal(r1.ok, true, log.join("\n"));
        const lbRuns = r1.hosts.filter((h) =>
          h.play === "load balancers" && h.status === "changed"
        );
        assert.deepEqual(lbRuns.map((h) => h.host).sort(), ["lb1", "lb2"]);
        assert.ok(lbRuns.every((h) => h.handlers.includes("reload keepalived")));
        assert.ok(lbRuns.every((h) => h.gate?.ok), JSON.stringify(lbRuns.map((h) => h.gate)));
        assert.deepEqual(
          r1.hosts.filter((h) => h.play === "load balancers" && h.host.startsWith("lb")).map((h) =>
            h.host
          ),
          ["lb2", "lb1"],
          "BACKUP first, MASTER last",
        );
        assert.deepEqual(
          [await pid(lab, "h1"), await pid(lab, "h2")],
          pids,
          "reloaded, not restarted",
        );
        for (const h of ["h1", "h2"] as const) {
          assert.equal((await loaded(lab, h)).garpDelay, "7", `${h}: the reload loaded v1`);
          // what the rolling change touched on each LB: keepalived.conf, nothing else
          assert.deepEqual(changed(snap0[h], await snapshot(lab, h)), [KEEPALIVED_CONF], h);
        }
        assert.equal(
          stats.failed,
          0,
          `failed probes during the rolling redeploy: ${stats.failures}`,
        );
        assert.ok(stats.ok >= 20, `only ${stats.ok} probes`);
        console.log(
          `rolling config change: ${stats.ok} probes, ${stats.failed} failed, slowest ${stats.slowestMs} ms`,
        );

        // 2. Mastership moves (lb2's priority 50 -> 150): the VIP moves exactly once.
        const v2 = v1.replace(/(lb2: \{[^}]*vrrp_priority: )50/, "$1150");
        assert.notEqual(v2, v1);
        probe = probeLoop(`http://${vip}:8080/`);
        const watch = holderWatch(lab, vip);
        const r2 = await runPlaybook(await inventory("v2", v2), plays, { log: (l) => log.push(l) });
        await until("the VIP on h2", 10000, async () => (await holders(lab, vip)).join() === "h2");
        await new Promise((r) => setTimeout(r, 1000));
        const moves = await watch.stop();
        stats = await probe.stop();
        assert.equal(r2.ok, true, log.join("\n"));
        assert.deepEqual(moves.changes.filter((c) => c !== "h1+h2"), ["h2"], moves.seen.join(" "));
        assert.ok(stats.failed <= 1, `failed probes while mastership moved: ${stats.failures}`);
        assert.equal((await loaded(lab, "h2")).priority, "150", "lb2 runs with priority 150");
        assert.equal(await pid(lab, "h2"), pids[1], "lb2 reloaded, not restarted");
        console.log(
          `mastership move: VIP moved once, ${stats.ok} probes, ${stats.failed} failed, slowest ${stats.slowestMs} ms`,
        );

        // 3. Broken change (lint bypassed): ipvs forced on a kernel without IPVS - keepalived dies
        //    on restart. The first LB (lb1, not the VIP holder) fails, is rolled back and runs
        //    again; lb2 is never touched; the VIP keeps answering.
        const lb1Before = await snapshot(lab, "h1");
        const lb2Before = await snapshot(lab, "h2");
        const h2Pid = await pid(lab, "h2");
        const h1Loaded = await loaded(lab, "h1");
        const v3 = v2.replace("      mode: dr\n", "      mode: dr\n      ipvs: true\n");
        assert.notEqual(v3, v2);
        probe = probeLoop(`http://${vip}:8080/`);
        const r3 = await runPlaybook(await inventory("v3", v3), plays, { log: (l) => log.push(l) });
        stats = await probe.stop();
        const by3 = Object.fromEntries(
          r3.hosts.filter((h) => h.play === "load balancers").map((h) => [h.host, h]),
        );
        assert.equal(r3.ok, false);
        assert.equal(by3.lb1.status, "failed");
        assert.equal(by3.lb1.rolledBack, true, by3.lb1.error);
        // systemd: the error carries the unit's state and journal, where keepalived said why
        assert.match(
          by3.lb1.error ?? "",
          /systemctl start keepalived failed\.\s+\|\s+journalctl -u keepalived \(unit failed\): \|.* Keepalived\S*\[\d+\]: /,
        );
        assert.equal(by3.lb2.status, "skipped");
        assert.equal(await pid(lab, "h2"), h2Pid, "lb2's keepalived was restarted");
        const lb2After = await snapshot(lab, "h2");
        assert.equal(lb2After, lb2Before, `lb2 was touched:\n${snapshotDiff(lb2Before, lb2After)}`);
        assert.ok(await pid(lab, "h1"), "keepalived runs again on lb1 after the rollback");
        assert.deepEqual(await loaded(lab, "h1"), h1Loaded, "lb1 runs its old config again");
        const lb1After = await snapshot(lab, "h1");
        assert.equal(lb1After, lb1Before, snapshotDiff(lb1Before, lb1After));
        assert.equal(stats.failed, 0, `failed probes: ${stats.failures}`);
        console.log(
          `broken DAEMON_ARGS: lb1 rolled back, lb2 untouched, ${stats.failed} failed probes, slowest ${stats.slowestMs} ms`,
        );

        // 4. A change that splits the pair midway (virtual_router_id 1 -> 2): the first LB's gate
        //    sees the VIP on both and rolls it back; the second is never touched.
        const v4 = v2.replace("virtual_router_id: 1\n", "virtual_router_id: 2\n");
        assert.notEqual(v4, v2);
        const before4 = { h1: await snapshot(lab, "h1"), h2: await snapshot(lab, "h2") };
        const pids4 = [await pid(lab, "h1"), await pid(lab, "h2")];
        probe = probeLoop(`http://${vip}:8080/`);
        const r4 = await runPlaybook(await inventory("v4", v4), plays, { log: (l) => log.push(l) });
        stats = await probe.stop();
        const by4 = Object.fromEntries(
          r4.hosts.filter((h) => h.play === "load balancers").map((h) => [h.host, h]),
        );
        assert.equal(by4.lb1.status, "failed");
        assert.equal(by4.lb1.gate?.ok, false);
        assert.match(by4.lb1.gate?.detail ?? "", /held by (lb1 and lb2|lb2 and lb1)/);
        assert.equal(by4.lb1.rolledBack, true);
        assert.equal(by4.lb2.status, "skipped");
        await until(
          "a single VIP holder again",
          10000,
          async () => (await holders(lab, vip)).length === 1,
        );
        for (const h of ["h1", "h2"] as const) {
          const after = await snapshot(lab, h);
          assert.equal(after, before4[h], `${h}:\n${snapshotDiff(before4[h], after)}`);
        }
        assert.equal(await pid(lab, "h2"), pids4[1], "lb2's keepalived was restarted");
        assert.ok(await pid(lab, "h1"), "keepalived runs again on lb1 after the rollback");
        assert.equal((await loaded(lab, "h1")).vrid, "1", "lb1 runs virtual_router_id 1 again");
        assert.equal(stats.failed, 0, `failed probes: ${stats.failures}`);
        console.log(
          `split-brain change: gate failed on lb1, rolled back, ${stats.failed} failed probes, slowest ${stats.slowestMs} ms`,
        );
      },
    );
  },
);
