/**
 * `deno task maintenance <inventory> <director> on|off` on a deployed seed 001 lab (lab dm2,
 * 198.19.131.0/24): the VIP observed on the hosts moving to the peer and back, the maintenance
 * file journaled, a later deploy changing nothing and a power cycle of the director keeping it
 * out, `deno task rollback` bringing the VIP back, and refusals: an unknown director (exit 3,
 * no host contacted) and a peer whose keepalived is down (exit 1, nothing changed).
 */
import assert from "node:assert/strict";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { labExec, labReboot } from "../lab/lab.ts";
import { writeLabInventory } from "../lab/inventory.ts";
import { plays } from "../playbooks/site.ts";
import { opsMain } from "../engine/lb_ops_cli.ts";
import { MAINTENANCE_FILE } from "../lb/paths.ts";
import { e2e, withLab } from "./lab_fixture.ts";
import { sshdSessions } from "./snapshot.ts";
import { examplePath } from "./roles/_fixtures.ts";

e2e(
  "maintenance on/off on a deployed seed 001 lab: the VIP moves to the peer and back",
  async () => {
    await withLab(
      { name: "dm2", subnet: "198.19.131.0/24", hosts: 4, aptRepo: true, init: "systemd" },
      async (lab) => {
        const path = await writeLabInventory(examplePath("001"), lab);
        Deno.env.set("HAPLAY_VRRP_PASS", "Dm" + crypto.randomUUID().slice(0, 6));
        try {
          const inv = await loadInventory(path);
          const lines: string[] = [];
          const dep = await runPlaybook(inv, plays, { log: (l) => lines.push(l) });
          assert.equal(dep.ok, true, lines.join("\n"));
          const byIp = new Map(lab.hosts.map((h) => [h.ip, h.name]));
          const labHost = (n: string) => byIp.get(inv.hosts.get(n)!.connection.host)!;
          const [lb1, lb2] = ["lb1", "lb2"].map(labHost);
          const vip = lab.subnet.replace(/\.0\/24$/, ".100");
          const sh = async (h: string, cmd: string) => await labExec(lab, h, ["sh", "-c", cmd]);
          const holds = async (h: string) =>
            (await sh(h, `ip -o addr show dev eth0 | grep -qF ' ${vip}/'`)).code === 0;
          const holders = async () =>
            [(await holds(lb1)) ? "lb1" : "", (await holds(lb2)) ? "lb2" : ""].filter(Boolean);
          const settle = async (want: string[]) => {
            for (let i = 0; i < 40; i++) {
              if ((await holders()).join() === want.join()) return;
              await new Promise((r) => setTimeout(r, 250));
            }
            assert.deepEqual(await holders(), want);
          };
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
          await settle(["lb1"]);

          // bad input: exit 3, nothing contacted
          const before = await Promise.all([lb1, lb2].map((h) => sshdSessions(lab, h)));
          const unknown = await run("maintenance", path, "lb9", "on");
          assert.equal(unknown.code, 3);
          assert.match(
            unknown.err,
            /^director: 'lb9' is not a load balancer of this inventory \(directors: lb1, lb2\)$/m,
          );
          const word = await run("maintenance", path, "lb1", "up");
          assert.equal(word.code, 4);
          assert.match(word.err, /must be on or off, got "up"/);
          assert.deepEqual(await Promise.all([lb1, lb2].map((h) => sshdSessions(lab, h))), before);

          // the peer down: refused, nothing changed
          // wait until keepalived's processes have exited
          await sh(
            lb2,
            "systemctl stop keepalived; i=0; while pgrep -x keepalived >/dev/null; do " +
              "i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done",
          );
          const refused = await run("maintenance", path, "lb1", "on");
          assert.equal(refused.code, 1, refused.err);
          assert.match(
            refused.err,
            /^refused: no healthy peer to take lb1's VIPs \(lb2 keepalived not running\)/m,
          );
          assert.equal((await sh(lb1, `test -e ${MAINTENANCE_FILE}`)).code, 1, "no file written");
          await sh(lb2, "systemctl start keepalived");
          await new Promise((r) => setTimeout(r, 1500));
          await settle(["lb1"]);

          // on: the VIP goes to lb2 before the command returns
          const t0 = Date.now();
          const on = await run("maintenance", path, "lb1", "on", "--json");
          const onMs = Date.now() - t0;
          assert.equal(on.code, 0, on.err);
          const res = JSON.parse(on.out);
          assert.equal(res.changed, true);
          assert.deepEqual(await holders(), ["lb2"], "the peer holds the VIP when it returns");
          assert.equal((await sh(lb1, `cat ${MAINTENANCE_FILE}`)).stdout, "1\n");
          assert.equal(
            (await sh(lb1, `cat /var/lib/haplay/runs/${res.runId}/state`)).stdout.trim(),
            "done",
          );
          // a deploy changes nothing and keeps it out; a power cycle too
          const dep2 = await runPlaybook(inv, plays, { log: () => {} });
          assert.equal(dep2.ok, true);
          assert.equal(dep2.changed, false, "the deploy after maintenance on changes nothing");
          await labReboot(lab, [lb1]);
          // systemd starts keepalived at boot (enabled by the deploy): wait for it, start nothing
          for (let i = 0; i < 80 && (await sh(lb1, "pidof keepalived")).code !== 0; i++) {
            await new Promise((r) => setTimeout(r, 250));
          }
          await new Promise((r) => setTimeout(r, 5000)); // more than a preemption would take
          assert.deepEqual(await holders(), ["lb2"], "lb1 stays out after its reboot");

          // off: back on lb1 (it preempts) before the command returns
          const t1 = Date.now();
          const off = await run("maintenance", path, "lb1", "off");
          const offMs = Date.now() - t1;
          assert.equal(off.code, 0, off.err);
          assert.match(off.out, /maintenance off lb1: back in service/);
          assert.deepEqual(await holders(), ["lb1"]);
          assert.equal((await sh(lb1, `test -e ${MAINTENANCE_FILE}`)).code, 1);

          // check mode writes nothing; rollback undoes an "on"
          const check = await run("maintenance", path, "lb1", "on", "--check");
          assert.equal(check.code, 2, check.err);
          assert.equal((await sh(lb1, `test -e ${MAINTENANCE_FILE}`)).code, 1);
          assert.equal((await run("maintenance", path, "lb1", "on")).code, 0);
          assert.deepEqual(await holders(), ["lb2"]);
          const rb = await rollbackHosts(inv, { log: () => {}, limit: "lb1" });
          assert.deepEqual(rb.filter((r) => !r.ok).map((r) => r.error), []);
          assert.equal((await sh(lb1, `test -e ${MAINTENANCE_FILE}`)).code, 1);
          await settle(["lb1"]);
          console.log(`maintenance on: ${onMs} ms, off: ${offMs} ms`);
        } finally {
          Deno.env.delete("HAPLAY_VRRP_PASS");
        }
      },
    );
  },
);
