/**
 * `deno task drain` / `undrain` on a deployed seed 001 lab (lab dm1, 198.19.130.0/24). This
 * kernel has no IPVS (keepalived runs `--vrrp`), so the test asserts what the hosts show: the
 * rendered include in keepalived.conf, the drain file on every director, keepalived's config
 * test clean and a reload that kept its PID, the run in each director's journal, a later deploy
 * changing nothing, the drain file still there after a power cycle, `deno task rollback`
 * giving back byte-identical hosts, undrain, and bad input refused with exit 3 before any host
 * is contacted (sshd's log).
 */
import assert from "node:assert/strict";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { labExec, labReboot } from "../lab/lab.ts";
import { writeLabInventory } from "../lab/inventory.ts";
import { plays } from "../playbooks/site.ts";
import { opsMain } from "../engine/lb_ops_cli.ts";
import { CHECKER, drainFile, KEEPALIVED_CONF } from "../lb/paths.ts";
import { e2e, withLab } from "./lab_fixture.ts";
import { snapshotDiff, snapshots, sshdSessions } from "./snapshot.ts";
import { examplePath } from "./roles/_fixtures.ts";

e2e(
  "drain/undrain on a deployed seed 001 lab: journaled, survives deploy and reboot, rolled back",
  async () => {
    await withLab(
      { name: "dm1", subnet: "198.19.130.0/24", hosts: 4, aptRepo: true, init: "systemd" },
      async (lab) => {
        const path = await writeLabInventory(examplePath("001"), lab);
        const pass = "Dm" + crypto.randomUUID().slice(0, 6);
        Deno.env.set("HAPLAY_VRRP_PASS", pass);
        try {
          const inv = await loadInventory(path);
          const lines: string[] = [];
          const dep = await runPlaybook(inv, plays, { log: (l) => lines.push(l) });
          assert.equal(dep.ok, true, lines.join("\n"));
          const byIp = new Map(lab.hosts.map((h) => [h.ip, h.name]));
          const labHost = (n: string) => byIp.get(inv.hosts.get(n)!.connection.host)!;
          const web1 = inv.hosts.get("web1")!.connection.host;
          const lbs = ["lb1", "lb2"].map(labHost);
          const sh = async (h: string, cmd: string) => (await labExec(lab, h, ["sh", "-c", cmd]));
          const fileOn = async (h: string) =>
            (await sh(h, `cat ${drainFile(web1)} 2>/dev/null || echo ABSENT`)).stdout;
          const kaPid = async (h: string) => (await sh(h, "cat /run/keepalived.pid")).stdout.trim();
          const conftest = async (h: string) => (await sh(h, `${CHECKER} ${KEEPALIVED_CONF}`)).code;

          // the rendered config includes the (absent) drain file of each real server
          const conf = (await sh(lbs[0], `cat ${KEEPALIVED_CONF}`)).stdout;
          assert.match(
            conf,
            new RegExp(`include /etc/keepalived/haplay-drain-${web1}\\.con\\[f\\]`),
          );
          const bare = await snapshots(lab, lbs);
          const pids = await Promise.all(lbs.map(kaPid));

          const run = async (...args: string[]) => {
            const out: string[] = [];
            const err: string[] = [];
            const code = await opsMain(args, {
              print: (s) => out.push(s),
              printErr: (s) => err.push(s),
              lookMs: 200,
            });
            return { code, out: out.join("\n"), err: err.join("\n") };
          };

          // bad input: exit 3, one line naming the field, no host contacted
          const before = await Promise.all(lbs.map((h) => sshdSessions(lab, h)));
          const unknown = await run("drain", path, "web9");
          assert.equal(unknown.code, 3, unknown.err);
          assert.match(
            unknown.err,
            /^real-server: 'web9' is not a real server of any service \(real servers: web1, web2\)$/m,
          );
          const notRs = await run("drain", path, "lb1");
          assert.equal(notRs.code, 3);
          const plain = await run("drain", lab.inventory, "web1");
          assert.equal(plain.code, 3, plain.err);
          assert.match(plain.err, /inventory.yaml:1:1: no haplay_lb section/);
          const usage = await run("drain", path);
          assert.equal(usage.code, 4);
          assert.doesNotMatch(unknown.err + plain.err + usage.err, /\bat .*\.ts:\d+/, "no stack");
          assert.deepEqual(
            await Promise.all(lbs.map((h) => sshdSessions(lab, h))),
            before,
            "bad input contacted no host",
          );

          // check mode: plans, changes nothing
          const check = await run("drain", path, "web1", "--check", "--json");
          assert.equal(check.code, 2, check.err);
          assert.equal(JSON.parse(check.out).changed, true);
          for (const h of lbs) assert.equal(await fileOn(h), "ABSENT\n");

          // drain: the file on every director, config test clean, reloaded (same PID)
          const t0 = Date.now();
          const d = await run("drain", path, "web1", "--json", "--wait", "5");
          const drainMs = Date.now() - t0;
          assert.equal(d.code, 0, d.err);
          const res = JSON.parse(d.out);
          assert.equal(res.ok, true);
          assert.equal(res.changed, true);
          assert.equal(res.connections.counted, false, "no IPVS in this kernel: nothing counted");
          assert.match(res.message, /no director's kernel has IPVS/);
          for (const h of lbs) {
            assert.match(await fileOn(h), /^weight 0$/m);
            assert.equal(await conftest(h), 0);
            const journal = await sh(h, `cat /var/lib/haplay/runs/${res.runId}/state`);
            assert.equal(journal.stdout.trim(), "done", `${h}: the drain is journaled`);
          }
          assert.deepEqual(await Promise.all(lbs.map(kaPid)), pids, "a reload, not a restart");
          // keepalived read the include: with web2 drained as well its own test would fail
          const both = await sh(
            lbs[0],
            `cp ${drainFile(web1)} ${drainFile(inv.hosts.get("web2")!.connection.host)} && ` +
              `${CHECKER} ${KEEPALIVED_CONF}; rc=$?; rm -f ${
                drainFile(inv.hosts.get("web2")!.connection.host)
              }; exit $rc`,
          );
          assert.notEqual(both.code, 0, "every real server at weight 0 fails keepalived -t");
          assert.match(both.stderr, /exceeds total weight of real servers 0/);
          // draining web2 too: the first director's gate (config test) fails, that director is
          // rolled back from its journal at once and the second is never touched
          const web2 = inv.hosts.get("web2")!.connection.host;
          const last = await run("drain", path, "web2");
          assert.equal(last.code, 1, last.err);
          assert.match(last.err, /failed on a director/);
          for (const h of lbs) {
            const f = await sh(h, `test -e ${drainFile(web2)} && echo PRESENT || echo ABSENT`);
            assert.equal(f.stdout, "ABSENT\n", `${h}: web2's drain rolled back / never written`);
            assert.equal(await conftest(h), 0);
          }
          const again = await run("drain", path, "web1", "--json", "--wait", "0");
          assert.equal(again.code, 0);
          assert.equal(JSON.parse(again.out).changed, false, "a second drain changes nothing");

          // a later deploy leaves it alone (0 changed), and so does a power cycle
          const dep2 = await runPlaybook(inv, plays, { log: () => {} });
          assert.equal(dep2.ok, true);
          assert.equal(dep2.changed, false, "the deploy after a drain changes nothing");
          await labReboot(lab, [lbs[0]]);
          // systemd starts keepalived at boot (enabled by the deploy): nothing is started by hand
          let alive = false;
          for (let i = 0; i < 40 && !alive; i++) {
            alive = (await sh(lbs[0], "pidof keepalived")).code === 0;
            if (!alive) await new Promise((r) => setTimeout(r, 250));
          }
          assert.ok(alive, "keepalived runs after the reboot");
          assert.match(await fileOn(lbs[0]), /^weight 0$/m, "the drain survived the reboot");
          assert.equal(await conftest(lbs[0]), 0);

          // deno task rollback (last run on each director: the drain) gives back the same hosts
          const rb = await rollbackHosts(inv, { log: () => {}, limit: "lb" });
          assert.deepEqual(rb.filter((r) => !r.ok).map((r) => r.error), []);
          for (const h of lbs) assert.equal(await fileOn(h), "ABSENT\n");
          // lb1 was BACKUP while it rebooted (its notify added the bypass REDIRECT): wait until
          // it is MASTER again and its notify removed the rule
          const vip = lab.subnet.replace(/\.0\/24$/, ".100");
          for (let i = 0; i < 60; i++) {
            const m = await sh(
              lbs[0],
              `ip -o addr show dev eth0 | grep -qF ' ${vip}/' && ` +
                `! iptables -t nat -S PREROUTING | grep -qF ${vip}`,
            );
            if (m.code === 0) break;
            await new Promise((r) => setTimeout(r, 250));
          }
          const back = await snapshots(lab, lbs);
          for (const h of lbs) {
            assert.equal(snapshotDiff(bare[h], back[h]), "", `${h}: identical after rollback`);
          }

          // drain then undrain
          assert.equal((await run("drain", path, web1, "--wait", "0")).code, 0, "by address too");
          for (const h of lbs) assert.match(await fileOn(h), /^weight 0$/m);
          const u = await run("undrain", path, "web1");
          assert.equal(u.code, 0, u.err);
          assert.match(u.out, /undrain web1: weight restored on lb1, lb2/);
          for (const h of lbs) {
            assert.equal(await fileOn(h), "ABSENT\n");
            assert.equal(await conftest(h), 0);
          }
          assert.ok(!(d.out + d.err + u.out).includes(pass), "no secret in the output");
          console.log(`drain of web1 on 2 directors: ${drainMs} ms`);
        } finally {
          Deno.env.delete("HAPLAY_VRRP_PASS");
        }
      },
    );
  },
);
