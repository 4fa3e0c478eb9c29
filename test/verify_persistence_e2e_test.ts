/**
 * The lo VIP through netplan and a verify that reads persistence, on the lab's systemd hosts
 * (systemd-networkd running, eth0 from the installer-style netplan file, as on Ubuntu): seed 000
 * (same-box DR: every node carries the VIP on lo and runs keepalived) deployed with the site
 * playbook.
 *
 * Observed on the hosts: the VIP on lo live, haplay's netplan file, networkd's rendering of lo
 * carrying it and lo managed by networkd; an SSH session open across the deploy and eth0's
 * addresses (the VRRP VIP included: one holder) survive the apply; verify green including every
 * persistence check; a power cycle of every host brings it all back (verify green, no haplay
 * command in between); persistence broken by hand (netplan file removed, keepalived disabled, a
 * later sysctl.d file overriding) makes verify red naming each; rollback removes the VIP live
 * and at boot, lo keeps 127.0.0.1/8, `verify --absent` finds nothing of haplay's left, also
 * after another power cycle.
 * @module
 */
import assert from "node:assert/strict";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { type Lab, labExec, labReboot } from "../lab/lab.ts";
import { writeLabInventory } from "../lab/inventory.ts";
import { plays } from "../playbooks/site.ts";
import { verifyLb } from "../lb/verify.ts";
import type { VerifyCheck } from "../engine/playbook.ts";
import { e2e, withLab } from "./lab_fixture.ts";
import { examplePath } from "./roles/_fixtures.ts";

const PASS = "Vr" + crypto.randomUUID().slice(0, 6);

const sh = async (lab: Lab, host: string, cmd: string) => {
  const r = await labExec(lab, host, ["sh", "-c", cmd]);
  return r.stdout;
};

const failedOf = (checks: VerifyCheck[]) =>
  checks.filter((c) => !c.ok).map((c) => `${c.host} ${c.check}: ${c.detail}`);

/** The seed's app on :8000 (busybox httpd), the health-check target. */
const APP = "mkdir -p /srv/www && echo ok > /srv/www/health && " +
  "{ busybox httpd -f -p 8000 -h /srv/www </dev/null >/dev/null 2>&1 & echo $! > /srv/pid; }";

e2e(
  "lo VIP through netplan on networkd hosts; verify reads persistence; reboot; rollback leaves nothing",
  async () => {
    await withLab(
      { name: "s3dr", subnet: "198.19.120.0/24", hosts: 3, aptRepo: true, init: "systemd" },
      async (lab) => {
        const path = await writeLabInventory(examplePath("000"), lab);
        const inv = await loadInventory(path, { env: { HAPLAY_VRRP_PASS: PASS } });
        const byIp = new Map(lab.hosts.map((h) => [h.ip, h.name]));
        const labHost = (n: string) => byIp.get(inv.hosts.get(n)!.connection.host)!;
        const names = [...inv.hosts.keys()];
        const vip = `${lab.subnet.split(".").slice(0, 3).join(".")}.5`;
        const lines: string[] = [];
        const log = (l: string) => lines.push(l);
        const loOf = (n: string) => sh(lab, labHost(n), "ip -o -4 addr show dev lo");
        for (const n of names) {
          assert.match(
            await sh(lab, labHost(n), "systemctl is-active systemd-networkd"),
            /^active/,
          );
          await sh(lab, labHost(n), APP);
        }

        // an SSH session held open across the deploy
        const session = new Deno.Command("ssh", {
          args: ["-F", lab.sshConfig, lab.hosts[0].name, "sleep 25; echo session-alive"],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const t0 = Date.now();
        const first = await runPlaybook(inv, plays, { log });
        const deployMs = Date.now() - t0;
        assert.equal(first.ok, true, lines.join("\n"));
        for (const n of names) {
          const h = labHost(n);
          const ip = inv.hosts.get(n)!.connection.host;
          assert.match(await loOf(n), new RegExp(`inet ${vip}/32 `));
          assert.match(await loOf(n), /inet 127\.0\.0\.1\/8 /);
          assert.match(
            await sh(lab, h, "cat /etc/netplan/99-haplay-lo.yaml"),
            new RegExp(`- ${vip}/32`),
            `${n}: the netplan file`,
          );
          assert.match(
            await sh(lab, h, "cat /run/systemd/network/10-netplan-lo.network"),
            new RegExp(`^Address=${vip}/32$`, "m"),
            `${n}: networkd's rendering of lo`,
          );
          // networkd reconfigured lo from it, unless it had lost its D-Bus name (seen on lab
          // hosts under load: `networkctl reload` then warns; the rendering waits for the boot)
          const lo = await sh(lab, h, "networkctl list --no-legend lo");
          const onBus = await sh(
            lab,
            h,
            "busctl list --no-legend | grep -c 'network1  *[0-9]' || :",
          );
          assert.ok(/configured/.test(lo) || onBus.trim() === "0", `${n}: lo ${lo}`);
          if (!/configured/.test(lo)) console.log(`${n}: networkd not on D-Bus, lo not reloaded`);
          assert.match(
            await sh(lab, h, "ip -o -4 addr show dev eth0"),
            new RegExp(`inet ${ip}/24 `),
          );
        }
        const out = await session.output();
        assert.match(new TextDecoder().decode(out.stdout), /session-alive/, "SSH session kept");
        // the VRRP VIP (on the MASTER's eth0) survived the lo VIP's apply: exactly one holder
        const checks = await verifyLb({ inventory: inv, log });
        assert.deepEqual(failedOf(checks), [], lines.join("\n"));
        const persisted = checks.filter((c) => c.check.endsWith("persisted"));
        for (const n of names) {
          assert.ok(
            persisted.some((c) =>
              c.host === n && c.check === "VIP on lo persisted" &&
              c.detail.includes("rendered to /run/systemd/network/10-netplan-lo.network")
            ),
            `${n}: ${JSON.stringify(persisted)}`,
          );
          assert.ok(checks.some((c) => c.host === n && c.check === "keepalived enabled" && c.ok));
        }
        assert.ok(persisted.filter((c) => c.check === "sysctl persisted").length >= 9);

        // power cycle every host: everything comes back from the hosts' own boot
        const up = await labReboot(lab, "all");
        for (const n of names) await sh(lab, labHost(n), APP);
        const t1 = Date.now();
        let after = await verifyLb({ inventory: inv, log });
        while (failedOf(after).length && Date.now() - t1 < 30000) {
          await new Promise((r) => setTimeout(r, 1000));
          after = await verifyLb({ inventory: inv, log });
        }
        const greenMs = Date.now() - t1;
        assert.deepEqual(failedOf(after), [], "after reboot");
        for (const n of names) assert.match(await loOf(n), new RegExp(`inet ${vip}/32 `));
        console.log(
          `deploy ${deployMs} ms (${checks.length} verify checks); reboot: sshd up after ${
            Math.max(...up.map((u) => u.sshUpMs))
          } ms, verify green ${greenMs} ms later`,
        );

        // persistence broken by hand, one piece per node
        const [n1, n2, n3] = names.map(labHost);
        await sh(lab, n1, "rm /etc/netplan/99-haplay-lo.yaml");
        await sh(lab, n2, "systemctl disable keepalived 2>/dev/null");
        await sh(
          lab,
          n3,
          "echo 'net.ipv4.conf.all.arp_ignore = 0' > /etc/sysctl.d/99-zz-local.conf",
        );
        const red = failedOf(await verifyLb({ inventory: inv, log }));
        assert.deepEqual(red.map((l) => l.split(":")[0]), [
          `${names[0]} VIP on lo persisted`,
          `${names[1]} keepalived enabled`,
          `${names[2]} sysctl persisted`,
        ], red.join("\n"));
        assert.match(red[0], /99-haplay-lo\.yaml is missing: the VIP will be lost at reboot/);
        assert.match(red[1], /will not start at reboot.*systemctl enable keepalived/);
        assert.match(
          red[2],
          /99-zz-local\.conf sets 0 after .*90-haplay-rs\.conf: reboot makes it 0/,
        );
        await sh(lab, n3, "rm /etc/sysctl.d/99-zz-local.conf");

        const t2 = Date.now();
        const rb = await rollbackHosts(inv, { log, purgePackages: true, runId: first.runId });
        assert.deepEqual(rb.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`), []);
        for (const n of names) {
          const h = labHost(n);
          assert.doesNotMatch(await loOf(n), new RegExp(vip));
          assert.match(
            await loOf(n),
            /inet 127\.0\.0\.1\/8 /,
            `${n}: lo keeps its loopback address`,
          );
          assert.doesNotMatch(await sh(lab, h, "ls /etc/netplan/"), /haplay/);
          assert.doesNotMatch(await sh(lab, h, "ls /run/systemd/network/"), /10-netplan-lo/);
          await sh(lab, h, "kill $(cat /srv/pid)");
        }
        const t3 = Date.now();
        const absent = await verifyLb({ inventory: inv, log, absent: true });
        assert.deepEqual(failedOf(absent), [], lines.join("\n"));
        assert.ok(absent.some((c) => c.check === "VIP on lo absent"));
        // and nothing comes back at boot
        const t4 = Date.now();
        await labReboot(lab, "all");
        const t5 = Date.now();
        const gone = await verifyLb({ inventory: inv, log, absent: true });
        console.log(
          `rollback ${t3 - t2} ms, verify --absent ${t4 - t3} ms, reboot ${t5 - t4} ms, ` +
            `verify --absent ${Date.now() - t5} ms`,
        );
        assert.deepEqual(failedOf(gone), [], "after rollback and reboot");
        for (const n of names) assert.doesNotMatch(await loOf(n), new RegExp(vip));
        assert.ok(!lines.join("\n").includes(PASS), "the VRRP password leaked");
      },
    );
  },
);
