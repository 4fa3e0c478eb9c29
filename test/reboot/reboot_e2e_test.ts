/**
 * Reboot survival of a deployed load balancer, on systemd lab hosts (networkd, systemd-sysctl,
 * netfilter-persistent): a seed's example inventory is deployed, then (a) each BACKUP and then
 * each MASTER is power-cycled alone, (b) every host at once. After each reboot, with no haplay
 * command in between, the time from the last host's sshd accepting to "green" is measured:
 * verify passes (keepalived running, exactly one MASTER per VRID holding the VIP once, lo VIP or
 * REDIRECT, health-check targets answering), keepalived is enabled and active on every load
 * balancer, and every host's full snapshot (files, sysctls, iptables, ip rules and routes,
 * addresses, packages, enabled and failed units) is identical to the one taken after the deploy.
 * A deploy right after each reboot changes nothing in 1 exec per host (sshd's log). (c) After a
 * rollback with `--purge-packages` and a reboot of every host, each host's full snapshot equals
 * the one taken before the deploy after a reboot of the bare hosts: nothing haplay made comes
 * back at boot.
 *
 * Seeds 001 and 002 run in `deno task test` (about 6 min); `HAPLAY_REBOOT_SEEDS=all` (`deno task test:reboot`)
 * runs all five. Prints one line per reboot with the measured times (README "Reboots").
 * Labs s4r000 .. s4r004 on 198.19.130.0/24 .. 198.19.134.0/24.
 * @module
 */
import assert from "node:assert/strict";
import { loadInventory } from "../../engine/inventory.ts";
import { runPlaybook } from "../../engine/run.ts";
import { rollbackHosts } from "../../engine/rollback.ts";
import { type Lab, labExec, labReboot } from "../../lab/lab.ts";
import { writeLabInventory } from "../../lab/inventory.ts";
import { verifyLb } from "../../lb/verify.ts";
import { plays } from "../../playbooks/site.ts";
import { e2e, withLab } from "../lab_fixture.ts";
import { fullSnapshots, snapshotDiff, sshdSessions } from "../snapshot.ts";
import { examplePath } from "../roles/_fixtures.ts";
import { SEED_CASES } from "../roles/_seed_suite.ts";

const PASS = "Rb" + crypto.randomUUID().slice(0, 6);

/** Seconds from the last host's sshd up to green, per seed and scenario (asserted bound). */
const GREEN_BOUND_S = 15;

const SUBNET: Record<string, string> = {
  "000": "198.19.130.0/24",
  "001": "198.19.131.0/24",
  "002": "198.19.132.0/24",
  "003": "198.19.133.0/24",
  "004": "198.19.134.0/24",
};

const ALL = Deno.env.get("HAPLAY_REBOOT_SEEDS") === "all";
const SEEDS = ALL ? Object.keys(SUBNET) : ["001", "002"]; // the bar: 001 and 002 in CI

async function sh(lab: Lab, host: string, cmd: string): Promise<string> {
  return (await labExec(lab, host, ["sh", "-c", cmd])).stdout;
}

/**
 * The seed's apps as enabled systemd units (busybox httpd), so they are part of the hosts'
 * own boot like the real servers' web servers would be.
 */
async function installApps(lab: Lab, host: string, ports: number[], name: string) {
  const units = ports.map((p) =>
    `printf '%s\\n' '[Unit]' 'Description=seed app :${p}' '[Service]' ` +
    `'ExecStart=/bin/busybox httpd -f -p ${p} -h /srv/www' '[Install]' ` +
    `'WantedBy=multi-user.target' > /etc/systemd/system/s4app${p}.service`
  );
  const pages = ["index.html", "health", "check.html"].map((f) =>
    `echo "${name} ok" > /srv/www/${f}`
  );
  await sh(
    lab,
    host,
    ["set -e", "mkdir -p /srv/www", ...pages, ...units, "systemctl daemon-reload"].concat(
      ports.map((p) => `systemctl enable --now s4app${p}.service 2>/dev/null`),
    ).join("\n"),
  );
}

/** Waits until every host's systemd finished booting (`is-system-running --wait`). */
async function booted(lab: Lab, hosts: string[]) {
  for (const h of hosts) {
    const state = (await sh(lab, h, "timeout 60 systemctl is-system-running --wait")).trim();
    assert.equal(state, "running", `${h} after boot: ${await sh(lab, h, "systemctl --failed")}`);
  }
}

e2e("reboot: lab hosts are systemd hosts whose state survives a power cycle", async () => {
  // the lab's own part, once: what this file's checks rely on
  await withLab(
    { name: "s4rx", subnet: "198.19.135.0/24", hosts: 1, init: "systemd" },
    async (lab) => {
      assert.equal((await sh(lab, "h1", "cat /proc/1/comm")).trim(), "systemd");
      assert.equal(
        (await sh(lab, "h1", "systemctl is-active systemd-networkd")).trim(),
        "active",
      );
      await sh(lab, "h1", "echo kept > /etc/s4-kept; echo lost > /run/s4-lost");
      await labReboot(lab, ["h1"]);
      assert.equal(await sh(lab, "h1", "cat /etc/s4-kept /run/s4-lost 2>/dev/null"), "kept\n");
    },
  );
});

for (const seed of SEEDS) {
  const c = SEED_CASES.find((x) => x.seed === seed)!;
  e2e(
    `reboot seed ${seed}: BACKUP then MASTER, then all hosts: green within ${GREEN_BOUND_S} s, ` +
      `no-op deploy; after rollback nothing comes back (lab s4r${seed})`,
    () => rebootSuite(seed, c.hosts, c.apps),
  );
}

/** One measured reboot: who, how long sshd took to come back, how long until green. */
interface Reboot {
  what: string;
  sshUpMs: number;
  greenMs: number;
}

async function rebootSuite(seed: string, n: number, apps: Record<string, number[]>) {
  await withLab(
    { name: `s4r${seed}`, subnet: SUBNET[seed], hosts: n, aptRepo: true, init: "systemd" },
    async (lab) => {
      const path = await writeLabInventory(examplePath(seed), lab);
      const inv = await loadInventory(path, { env: { HAPLAY_VRRP_PASS: PASS } });
      const byIp = new Map(lab.hosts.map((h) => [h.ip, h.name]));
      const labHost = (name: string) => byIp.get(inv.hosts.get(name)!.connection.host)!;
      const names = [...inv.hosts.keys()];
      const hosts = names.map(labHost);
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);
      for (const [name, ports] of Object.entries(apps)) {
        await installApps(lab, labHost(name), ports, name);
      }

      // the bare hosts' state as their own boot makes it
      await labReboot(lab, "all");
      await booted(lab, hosts);
      const bare = await fullSnapshots(lab, hosts);

      const first = await runPlaybook(inv, plays, { log });
      assert.equal(first.ok, true, lines.join("\n"));
      const lbs: string[] = [];
      for (const h of hosts) {
        if ((await sh(lab, h, "test -f /etc/keepalived/keepalived.conf && echo y")).trim()) {
          lbs.push(h);
        }
      }
      assert.ok(lbs.length >= 2, `load balancers: ${lbs}`);

      /** Failed checks of verify and of systemd's view of keepalived (empty: green). */
      const problems = async (): Promise<string[]> => {
        const out = (await verifyLb({ inventory: inv, log: () => {} }))
          .filter((x) => !x.ok).map((x) => `${x.host}: ${x.check}: ${x.detail}`);
        for (const h of lbs) {
          const u = await sh(
            lab,
            h,
            "systemctl is-enabled keepalived; systemctl is-active keepalived",
          );
          if (u !== "enabled\nactive\n") out.push(`${h}: keepalived unit ${u.replace("\n", " ")}`);
        }
        return out;
      };
      /** VRRP MASTER lab hosts, from verify's ownership checks. */
      const masters = async () => {
        const checks = await verifyLb({ inventory: inv, log: () => {} });
        return [
          ...new Set(
            checks.filter((x) => x.check.startsWith("VRRP ") && x.ok).map((x) => labHost(x.host)),
          ),
        ];
      };
      const waitGreen = async (what: string) => {
        const end = Date.now() + 60000;
        let last: string[] = [];
        while (Date.now() < end) {
          last = await problems();
          if (!last.length) return;
          await new Promise((r) => setTimeout(r, 250));
        }
        assert.fail(`${what}: not green after 60 s:\n${last.join("\n")}`);
      };
      await waitGreen("after the deploy");

      /**
       * A host's full snapshot without what systemd-networkd sets on every link it configures:
       * at boot it brings up `lo` from haplay's netplan file (the lo VIP) and sets lo's
       * promote_secondaries=1 and addr_gen_mode=1, which the live `ip addr add` of the deploy
       * does not (found by this test on seeds 000 and 004; harmless for the data path).
       */
      const NETWORKD_LO =
        /^net\.ipv(4\.conf\.lo\.promote_secondaries|6\.conf\.lo\.addr_gen_mode) = /;
      /**
       * Same-box DR (seed 000): keepalived's notify scripts re-point the active include at each
       * state change, so after a MASTER's reboot the symlink is new (same target, new mtime).
       */
      const ACTIVE_INCLUDE =
        /^(\/etc\/keepalived\/haplay\/\S+\.active\.conf \S+ \S+ \d+ l \d+) \S+ (.*)$/;
      const snap = async () => {
        const all = await fullSnapshots(lab, hosts);
        for (const h of hosts) {
          all[h] = all[h].split("\n").filter((l) => !NETWORKD_LO.test(l))
            .map((l) => l.replace(ACTIVE_INCLUDE, "$1 (mtime) $2")).join("\n");
        }
        return all;
      };
      const deployedSnap = await snap();
      /** Every host back to its deployed state (VRRP may still move back to its MASTER). */
      const sameAsDeployed = async (what: string) => {
        const deployed = deployedSnap;
        const end = Date.now() + 20000;
        let now = await snap();
        while (Date.now() < end && hosts.some((h) => now[h] !== deployed[h])) {
          await new Promise((r) => setTimeout(r, 500));
          now = await snap();
        }
        for (const h of hosts) {
          assert.equal(now[h], deployed[h], `${what}: ${h}:\n${snapshotDiff(deployed[h], now[h])}`);
        }
      };
      const noopDeploy = async (what: string) => {
        const s0 = await Promise.all(hosts.map((h) => sshdSessions(lab, h)));
        const r = await runPlaybook(inv, plays, { log });
        const s1 = await Promise.all(hosts.map((h) => sshdSessions(lab, h)));
        assert.equal(r.ok, true, `${what}: deploy`);
        assert.equal(r.changed, false, `${what}: the deploy changed something`);
        assert.deepEqual(
          Object.fromEntries(hosts.map((h, i) => [h, s1[i] - s0[i]])),
          Object.fromEntries(hosts.map((h) => [h, 1])),
          `${what}: SSH execs per host (sshd's log)`,
        );
      };

      const measured: Reboot[] = [];
      const reboot = async (what: string, which: string[] | "all") => {
        const rebooted = which === "all" ? hosts : which;
        for (const h of rebooted) await sh(lab, h, "touch /run/s4-before-reboot");
        const up = await labReboot(lab, which);
        const t0 = performance.now();
        for (const h of rebooted) {
          // /run is a tmpfs of the host's boot: gone when it really rebooted
          assert.equal(
            await sh(lab, h, "ls /run/s4-before-reboot 2>/dev/null"),
            "",
            `${h} rebooted`,
          );
        }
        await waitGreen(what);
        const greenMs = Math.round(performance.now() - t0);
        measured.push({ what, sshUpMs: Math.max(...up.map((u) => u.sshUpMs)), greenMs });
        await sameAsDeployed(what);
        await noopDeploy(what);
      };

      // (a) the BACKUP(s), then the MASTER(s), one host at a time
      const m = await masters();
      assert.ok(m.length >= 1, "a MASTER");
      for (const h of lbs.filter((x) => !m.includes(x))) await reboot(`BACKUP ${h}`, [h]);
      for (const h of m) await reboot(`MASTER ${h}`, [h]);
      // (b) every host at once
      await reboot(`all ${hosts.length} hosts`, "all");

      for (const r of measured) {
        console.log(
          `seed ${seed}: reboot ${r.what}: sshd up ${(r.sshUpMs / 1000).toFixed(1)} s after ` +
            `power-off, green ${(r.greenMs / 1000).toFixed(1)} s after that`,
        );
        assert.ok(
          r.greenMs <= GREEN_BOUND_S * 1000,
          `${r.what}: green ${r.greenMs} ms after sshd up (bound ${GREEN_BOUND_S} s)`,
        );
      }

      // (c) rollback, reboot: nothing haplay made comes back
      const rb = await rollbackHosts(inv, { log, purgePackages: true, runId: first.runId });
      assert.deepEqual(rb.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`), []);
      await labReboot(lab, "all");
      await booted(lab, hosts);
      const after = await fullSnapshots(lab, hosts);
      for (const h of hosts) {
        assert.equal(
          after[h],
          bare[h],
          `${h} rolled back and rebooted:\n${snapshotDiff(bare[h], after[h])}`,
        );
      }
      assert.ok(!lines.join("\n").includes(PASS), "the VRRP password leaked into the output");
    },
  );
}
