/**
 * YAML playbooks against real hosts, through the CLI (`deno task deploy <inventory> <play.yaml>`):
 * exact check mode, a converge, a re-run in exactly 1 exec per host (counted by sshd itself),
 * a bad playbook refused before any host is contacted, rollback to an identical snapshot; and
 * the README's example (keepalived, lo_vip and sysctl roles reused for a custom service) on a
 * lab with an apt repository, verified on the hosts. Labs yp1 (198.19.60.0/24), yp2
 * (198.19.61.0/24).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { e2e, withLab } from "./lab_fixture.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { main } from "../engine/cli.ts";
import { labInventoryText } from "../lab/inventory.ts";
import { snapshotDiff, snapshots, sshdSessions } from "./snapshot.ts";

const EXAMPLES = fileURLToPath(new URL("../playbooks/examples/", import.meta.url));

/** Runs the CLI in this process; returns its exit code and everything it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { code: await main(args), out: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

async function sh(lab: Lab, host: string, cmd: string): Promise<string> {
  return (await labExec(lab, host, ["sh", "-c", cmd])).stdout.trim();
}

interface Report {
  ok: boolean;
  hosts: { host: string; status: string; execs: number; tasks: { status: string }[] }[];
}

async function readReport(path: string): Promise<Report> {
  return JSON.parse(await Deno.readTextFile(path));
}

const PLAY = `
- name: app config
  hosts: all
  tasks:
    - name: config dir
      directory: { path: /etc/yp-app, mode: "0750" }
    - name: main config
      template:
        path: /etc/yp-app/app.conf
        template: "host={{ inventory_hostname }} user={{ ansible_user }}\\n"
        mode: "0640"
      notify: mark
      tags: [config]
    - name: leader flag
      lineInFile: { path: /etc/yp-app/roles, line: leader=1 }
      when: inventory_hostname == "h1"
    - name: motd
      file: { path: /etc/motd.d-yp, content: "managed by a YAML playbook\\n" }
  handlers:
    - name: mark
      command: "echo handled >> /run/yp-handler.log"
`;

e2e(
  "YAML playbook via the CLI: check, converge, 1-exec re-run, bad input refused, rollback",
  async () => {
    await withLab({ name: "yp1", subnet: "198.19.60.0/24", hosts: 3 }, async (lab) => {
      const names = lab.hosts.map((h) => h.name);
      const pb = join(lab.dir, "app.yaml");
      await Deno.writeTextFile(pb, PLAY);
      const before = await snapshots(lab, names);

      const plan = await cli("plan", lab.inventory, pb);
      assert.equal(plan.code, 2, plan.out);
      assert.match(plan.out, /\+host=h2 user=root/);
      assert.deepEqual(await snapshots(lab, names), before, "check mode touched a host");

      const r1 = join(lab.dir, "r1.json");
      const first = await cli("deploy", lab.inventory, pb, "--report", r1);
      assert.equal(first.code, 0, first.out);
      for (const h of (await readReport(r1)).hosts) {
        assert.equal(h.status, "changed", h.host);
        assert.equal(h.execs, 2, `${h.host}: converge = probe + apply`);
      }
      assert.equal(await sh(lab, "h2", "cat /etc/yp-app/app.conf"), "host=h2 user=root");
      assert.equal(await sh(lab, "h2", "stat -c %a /etc/yp-app/app.conf /etc/yp-app"), "640\n750");
      assert.equal(await sh(lab, "h1", "cat /etc/yp-app/roles"), "leader=1");
      assert.equal(await sh(lab, "h3", "test -e /etc/yp-app/roles && echo yes || echo no"), "no");
      assert.equal(await sh(lab, "h3", "cat /run/yp-handler.log"), "handled");

      // No-op: exactly 1 exec per host, counted by each host's sshd.
      const s0 = await Promise.all(names.map((n) => sshdSessions(lab, n)));
      const r2 = join(lab.dir, "r2.json");
      const again = await cli("deploy", lab.inventory, pb, "--report", r2);
      const s1 = await Promise.all(names.map((n) => sshdSessions(lab, n)));
      assert.equal(again.code, 0, again.out);
      for (const [i, h] of (await readReport(r2)).hosts.entries()) {
        assert.equal(h.status, "ok", h.host);
        assert.equal(h.execs, 1, `${h.host}: report says ${h.execs} execs`);
        assert.equal(s1[i] - s0[i], 1, `${names[i]}: sshd saw ${s1[i] - s0[i]} sessions`);
      }
      assert.equal(await sh(lab, "h3", "cat /run/yp-handler.log"), "handled", "handler ran once");

      // A bad playbook: exit 3, file:line:col, no host contacted.
      const bad = join(lab.dir, "bad.yaml");
      await Deno.writeTextFile(bad, PLAY.replace("lineInFile:", "lineInFle:"));
      const refused = await cli("deploy", lab.inventory, bad);
      const s2 = await Promise.all(names.map((n) => sshdSessions(lab, n)));
      assert.equal(refused.code, 3, refused.out);
      assert.equal(
        refused.out,
        `${bad}:15:7 [0].tasks[2].lineInFle: unknown module 'lineInFle' (did you mean 'lineInFile'?)\n` +
          "nothing was changed: no host was contacted",
      );
      assert.deepEqual(s2, s1, "a bad playbook contacted a host");

      const rb = await cli("rollback", lab.inventory);
      assert.equal(rb.code, 0, rb.out);
      const after = await snapshots(lab, names);
      for (const n of names) {
        assert.equal(after[n], before[n], `${n}:\n${snapshotDiff(before[n], after[n])}`);
      }
    });
  },
);

e2e(
  "README example: keepalived + lo_vip + sysctl roles reused for a custom service, on the hosts",
  async () => {
    await withLab(
      { name: "yp2", subnet: "198.19.61.0/24", hosts: 4, aptRepo: true },
      async (lab) => {
        const inv = join(lab.dir, "custom-service-inventory.yaml");
        const text = await Deno.readTextFile(join(EXAMPLES, "custom-service-inventory.yaml"));
        await Deno.writeTextFile(inv, labInventoryText(text, lab));
        const pb = join(EXAMPLES, "custom-service.yaml");
        const vip = "198.19.61.100";
        const [lb1, lb2, web1, web2] = ["h1", "h2", "h3", "h4"];
        const names = [lb1, lb2, web1, web2];
        const before = await snapshots(lab, names);

        const r1 = join(lab.dir, "r1.json");
        const first = await cli("deploy", inv, pb, "--report", r1);
        assert.equal(first.code, 0, first.out);
        console.log(`converge of 4 hosts: ${/run \S+: (\d+) ms/.exec(first.out)?.[1]} ms`);
        assert.match(first.out, /verify .*\[ok\]/, first.out);
        assert.doesNotMatch(first.out, /\[FAILED\]/, first.out);

        // Real servers: the VIP on lo, ARP suppressed, hello answering on it (and only the
        // canary with verbose logging).
        for (const [h, name] of [[web1, "web1"], [web2, "web2"]]) {
          assert.match(await sh(lab, h, "ip -o -4 addr show dev lo"), new RegExp(` ${vip}/32 `));
          assert.equal(await sh(lab, h, "cat /proc/sys/net/ipv4/conf/all/arp_ignore"), "1");
          assert.equal(
            await sh(lab, h, `busybox wget -q -O - http://${vip}:8080/`),
            `hello from ${name}`,
          );
          assert.match(await sh(lab, h, "ls /etc/rc2.d/"), /S\d\dhello/);
        }
        assert.equal(await sh(lab, web1, "cat /etc/default/hello"), "HELLO_OPTS=-v");
        assert.match(
          await sh(lab, web1, "cat /proc/$(cat /run/hello.pid)/cmdline | tr '\\0' ' '"),
          / -v ?$/,
        );
        assert.equal(
          await sh(lab, web2, "test -e /etc/default/hello && echo yes || echo no"),
          "no",
        );
        // The LBs: keepalived installed from the lab's repository and running, the VIP on
        // exactly one of them (lb1, priority 150), ip_forward on, hello reachable from them.
        for (const h of [lb1, lb2]) {
          assert.match(await sh(lab, h, "dpkg-query -W -f '${Status}' keepalived"), /installed/);
          assert.equal(await sh(lab, h, "kill -0 $(cat /run/keepalived.pid) && echo up"), "up");
          assert.equal(await sh(lab, h, "cat /proc/sys/net/ipv4/ip_forward"), "1");
          assert.equal(
            await sh(lab, h, `busybox wget -q -O - http://${lab.hosts[2].ip}:8080/`),
            "hello from web1",
          );
        }
        const holders: string[] = [];
        for (let i = 0; i < 50 && holders.length !== 1; i++) {
          holders.length = 0;
          for (const h of [lb1, lb2]) {
            if ((await sh(lab, h, "ip -o -4 addr show dev eth0")).includes(` ${vip}/`)) {
              holders.push(h);
            }
          }
          if (holders.length !== 1) await new Promise((r) => setTimeout(r, 200));
        }
        assert.deepEqual(holders, [lb1]);

        // Re-run: nothing to do, exactly 1 exec per host by sshd's count.
        const s0 = await Promise.all(names.map((n) => sshdSessions(lab, n)));
        const r2 = join(lab.dir, "r2.json");
        const again = await cli("deploy", inv, pb, "--report", r2, "--no-verify");
        const s1 = await Promise.all(names.map((n) => sshdSessions(lab, n)));
        assert.equal(again.code, 0, again.out);
        console.log(`no-op re-run of 4 hosts: ${/run \S+: (\d+) ms/.exec(again.out)?.[1]} ms`);
        const rep = await readReport(r2);
        assert.equal(rep.hosts.length, 4);
        for (const h of rep.hosts) {
          assert.equal(h.status, "ok", `${h.host}: ${again.out}`);
          assert.equal(h.execs, 1, `${h.host}: report says ${h.execs} execs`);
        }
        names.forEach((n, i) => assert.equal(s1[i] - s0[i], 1, `${n}: sshd saw ${s1[i] - s0[i]}`));

        // Rollback, packages included: every host back to its snapshot.
        const rb = await cli("rollback", inv, "--purge-packages");
        assert.equal(rb.code, 0, rb.out);
        const after = await snapshots(lab, names);
        for (const n of names) {
          assert.equal(after[n], before[n], `${n}:\n${snapshotDiff(before[n], after[n])}`);
        }
      },
    );
  },
);
