/**
 * The seed suite, shared by the seed test (every seed on Debian's keepalived) and the version
 * matrix (seeds 000 and 001 on each upstream keepalived): deploy an example inventory into a
 * namespace lab (keepalived installed from the lab's apt repository; no IPVS in this kernel, so
 * `ipvs: auto` runs it `--vrrp`), lint clean, verify (keepalived, VRRP ownership, real servers,
 * health-check targets answering small busybox httpd apps), a second run changes nothing, VRRP
 * fails over and back where the seed shows it, and rollback returns every host to its snapshot.
 * The VRRP password never shows in any output.
 * @module
 */
import assert from "node:assert/strict";
import { type Inventory, loadInventory } from "../../engine/inventory.ts";
import { runPlaybook } from "../../engine/run.ts";
import { rollbackHosts } from "../../engine/rollback.ts";
import { type Lab, labExec } from "../../lab/lab.ts";
import { plays } from "../../playbooks/site.ts";
import { lintLb } from "../../lb/lint.ts";
import { writeLabInventory } from "../../lab/inventory.ts";
import { verifyLb } from "../../lb/verify.ts";
import { withLab } from "../lab_fixture.ts";
import { fullSnapshots as snapshots, snapshotDiff, sshdSessions } from "../snapshot.ts";
import { examplePath } from "./_fixtures.ts";

const PASS = "Vr" + crypto.randomUUID().slice(0, 6);

/** One seed's lab run. */
export interface SeedCase {
  seed: string;
  hosts: number;
  /** Apps to start: inventory host -> [port, ...] served by busybox httpd (/, /health, ...). */
  apps: Record<string, number[]>;
  /** Failover check after the first verify; `p` is the lab's /24 prefix (`198.19.70`). */
  failover?: (t: Ctx, p: string) => Promise<void>;
}

/** What a seed's steps work with. */
export interface Ctx {
  lab: Lab;
  inv: Inventory;
  /** Lab host (h1..) of an inventory host. */
  labHost: (name: string) => string;
  sh: (host: string, cmd: string) => Promise<string>;
  /** PID 1 of the lab's hosts. */
  init: "lab" | "systemd";
}

/**
 * Stops or starts keepalived on an inventory host the way its init does: `systemctl` on systemd
 * hosts (stop waits for the daemon to exit), the init script on lab hosts (whose stop does not
 * wait: it returns once keepalived removed its VIPs).
 */
export async function keepalived(t: Ctx, host: string, verb: "stop" | "start"): Promise<void> {
  await t.sh(
    host,
    t.init === "systemd"
      ? `systemctl ${verb} keepalived`
      : `/etc/init.d/keepalived ${verb} >/dev/null 2>&1`,
  );
}

async function startApps(t: Ctx, apps: Record<string, number[]>) {
  for (const [host, ports] of Object.entries(apps)) {
    const files = ["index.html", "health", "check.html"].map((f) =>
      `echo "${host} ok" > /srv/www/${f}`
    );
    const serve = ports.map((p) =>
      `{ busybox httpd -f -p ${p} -h /srv/www </dev/null >/dev/null 2>&1 & echo $! >> /srv/pids; }`
    );
    await t.sh(host, ["mkdir -p /srv/www", ...files, ...serve].join(" && "));
  }
}

/** Waits until `pred` holds (polling every 250 ms, up to `ms`). */
export async function until(what: string, ms: number, pred: () => Promise<boolean>) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Inventory hosts holding `vip` on eth0. */
export async function holders(t: Ctx, names: string[], vip: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of names) {
    if ((await t.sh(n, "ip -o -4 addr show dev eth0")).includes(` ${vip}/`)) out.push(n);
  }
  return out;
}

/** Stop keepalived on the MASTER, see the VIP move, start it again, see it come back. */
function failover(
  names: string[],
  vip: string,
  after?: (t: Ctx, master: string, backup: string) => Promise<void>,
) {
  return async (t: Ctx) => {
    const [master] = await holders(t, names, vip);
    assert.ok(master, "a MASTER holds the VIP");
    await keepalived(t, master, "stop");
    let backup = "";
    await until(`${vip} to move off ${master}`, 10000, async () => {
      const h = await holders(t, names, vip);
      backup = h[0];
      return h.length === 1 && h[0] !== master;
    });
    await after?.(t, master, backup);
    // init.d stop does not wait for keepalived to exit (it removes its VIPs first); systemctl does
    await until(
      `keepalived on ${master} to exit`,
      10000,
      async () =>
        (await t.sh(master, "kill -0 $(cat /run/keepalived.pid) 2>/dev/null && echo up")) === "",
    );
    if (t.init === "systemd") {
      assert.equal(
        await t.sh(master, "systemctl is-active keepalived"),
        "inactive\n",
        `${master}: keepalived after systemctl stop`,
      );
    }
    await keepalived(t, master, "start");
    await until(`${vip} back on ${master}`, 15000, async () => {
      const h = await holders(t, names, vip);
      return h.length === 1 && h[0] === master;
    });
  };
}

/** The seeds' cases, by seed number. */
export const SEED_CASES: SeedCase[] = [
  {
    seed: "000",
    hosts: 3,
    apps: { node1: [8000], node2: [8000], node3: [8000] },
    failover: (t, p) =>
      failover(["node1", "node2", "node3"], `${p}.5`, async (t, master, backup) => {
        // only the MASTER runs the virtual servers: the notify scripts swapped the includes
        const link = (h: string) =>
          t.sh(h, "readlink /etc/keepalived/haplay/vs-LVS_SETTINGS.active.conf");
        await until(
          `${backup}'s notify_master to switch its include`,
          10000,
          async () => (await link(backup)).includes("master.conf"),
        );
        assert.match(await link(master), /vs-empty\.conf/);
      })(t),
  },
  {
    seed: "001",
    hosts: 4,
    apps: { web1: [80], web2: [80] },
    failover: (t, p) =>
      failover(["lb1", "lb2"], `${p}.100`, async (t, master, backup) => {
        // bypass_ipvs: the old MASTER's notify_fault/backup never ran (stopped), the new one's
        // notify_master removes its REDIRECT (through sudo: it may land a moment after the VIP);
        // on start the old MASTER comes back as MASTER.
        const redirect = new RegExp(`${p.replaceAll(".", "\\.")}\\.100/32 -p tcp -j REDIRECT`);
        await until(
          `${backup}'s notify_master to remove its REDIRECT (it is MASTER now)`,
          10000,
          async () => !redirect.test(await t.sh(backup, "iptables -t nat -S PREROUTING")),
        );
        void master;
      })(t),
  },
  {
    seed: "002",
    hosts: 4,
    apps: { w101: [80], w102: [80] },
  },
  {
    seed: "003",
    hosts: 2,
    apps: {},
    failover: (t, p) => failover(["ha1", "ha2"], `${p}.10`)(t),
  },
  {
    seed: "004",
    hosts: 6,
    apps: { web1: [80, 443], web2: [80, 443], db1: [3306], db2: [3306] },
  },
];

/** Where a seed case runs: the lab's name and /24, and the keepalived it installs. */
export interface SeedLab {
  name: string;
  subnet: string;
  /** An upstream keepalived version (see lab/keepalived_build.ts); Debian's when absent. */
  keepalived?: string;
  /** PID 1 of the hosts: `lab` (the tiny bash init, default) or `systemd`. */
  init?: "lab" | "systemd";
  /**
   * Extra checks after the failover, before the rollback (which undoes the first deploy and
   * every later run, so runs made here are rolled back too).
   */
  beforeRollback?: (t: Ctx) => Promise<void>;
}

/** Runs the seed suite of `c` on a fresh lab (torn down after, pass or fail). */
export async function runSeedSuite(c: SeedCase, where: SeedLab): Promise<void> {
  await withLab(
    {
      name: where.name,
      subnet: where.subnet,
      hosts: c.hosts,
      aptRepo: true,
      keepalived: where.keepalived,
      init: where.init ?? "lab",
    },
    async (lab) => {
      const path = await writeLabInventory(examplePath(c.seed), lab);
      const inv = await loadInventory(path, { env: { HAPLAY_VRRP_PASS: PASS } });
      const byIp = new Map(lab.hosts.map((h) => [h.ip, h.name]));
      const labHost = (n: string) => byIp.get(inv.hosts.get(n)!.connection.host)!;
      const t: Ctx = {
        lab,
        inv,
        labHost,
        sh: async (host, cmd) => (await labExec(lab, labHost(host), ["sh", "-c", cmd])).stdout,
        init: where.init ?? "lab",
      };
      const names = [...inv.hosts.keys()];
      const labNames = names.map(labHost);
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);

      assert.deepEqual(lintLb(inv).filter((i) => i.severity === "error"), []);
      const before = await snapshots(lab, labNames);
      await startApps(t, c.apps);

      const first = await runPlaybook(inv, plays, { log });
      assert.equal(first.ok, true, lines.join("\n"));
      const checks = await verifyLb({ inventory: inv, log });
      const failed = checks.filter((x) => !x.ok);
      assert.deepEqual(failed, [], lines.join("\n"));
      assert.ok(checks.some((x) => x.check.startsWith("VRRP ")), "VRRP was checked");
      if (t.init === "systemd") {
        // what systemd says of the deployed unit on every load balancer: enabled for boot, active
        const lbs: string[] = [];
        for (const n of names) {
          const unit = await t.sh(
            n,
            "[ -f /etc/keepalived/keepalived.conf ] || exit 0; " +
              "systemctl is-enabled keepalived; systemctl is-active keepalived",
          );
          if (!unit) continue;
          lbs.push(n);
          assert.equal(unit, "enabled\nactive\n", `${n}: keepalived's unit after the deploy`);
        }
        assert.ok(lbs.length >= 1, "no load balancer found");
      }

      const sessions = () => Promise.all(labNames.map((h) => sshdSessions(lab, h)));
      const s0 = await sessions();
      const second = await runPlaybook(inv, plays, { log });
      const s1 = await sessions();
      assert.equal(second.ok, true);
      // per host, counted by its sshd: one exec for all probes of all plays (the live-order
      // look at the load balancers rides on it), and nothing to apply
      const execs = Object.fromEntries(names.map((n, i) => [n, s1[i] - s0[i]]));
      const one = Object.fromEntries(names.map((n) => [n, 1]));
      assert.deepEqual(execs, one, "SSH execs per host on a no-op run (sshd's log)");
      for (const h of second.hosts) {
        assert.deepEqual(
          h.tasks.filter((x) => x.status !== "ok").map((x) => `${x.name}: ${x.summary}`),
          [],
          `${h.host} re-run`,
        );
        assert.deepEqual(h.handlers, [], `${h.host} re-run handlers`);
      }
      assert.equal(second.changed, false);

      await c.failover?.(t, lab.subnet.split(".").slice(0, 3).join("."));
      assert.deepEqual(
        (await verifyLb({ inventory: inv, log })).filter((x) => !x.ok),
        [],
        "after failback",
      );

      await where.beforeRollback?.(t);
      const rb = await rollbackHosts(inv, { log, purgePackages: true, runId: first.runId });
      assert.deepEqual(rb.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`), []);
      for (const n of Object.keys(c.apps)) await t.sh(n, "kill $(cat /srv/pids)");
      // The lab's systemctl shim records enablement in /etc/lab/enabled; the package's maintainer
      // scripts enable keepalived through it and its purge does not disable it again (lab only).
      const labOnly = (snap: string) =>
        snap.split("\n").filter((l) => !l.includes("/etc/lab/enabled")).join("\n");
      const after = await snapshots(lab, labNames);
      for (const h of labNames) after[h] = labOnly(after[h]);
      for (const h of labNames) before[h] = labOnly(before[h]);
      for (const h of labNames) {
        assert.equal(
          after[h],
          before[h],
          `${h} after rollback:\n${snapshotDiff(before[h], after[h])}`,
        );
      }

      assert.ok(!lines.join("\n").includes(PASS), "the VRRP password leaked into the output");
    },
  );
}
