/**
 * The task library against real lab hosts (root only): apply → observed state is the desired
 * one; apply again → 0 changed; check mode on a drifted host → exact changes, nothing touched;
 * failing validation → old file byte-identical; rollback → the host's snapshot is back.
 * Labs tk1..tk9, subnets 198.19.220.0/24..198.19.229.0/24.
 */
import assert from "node:assert/strict";
import { e2e, withLab } from "../lab_fixture.ts";
import { type Lab, labExec } from "../../lab/lab.ts";
import { loadInventory } from "../../engine/inventory.ts";
import { runPlaybook } from "../../engine/run.ts";
import type { RunReport } from "../../engine/report.ts";
import { rollbackHosts } from "../../engine/rollback.ts";
import type { Play, Task } from "../../engine/types.ts";
import { snapshot, snapshotDiff } from "../snapshot.ts";
import {
  absent,
  apt,
  command,
  directory,
  file,
  group,
  ipRoute,
  ipRule,
  iptablesRule,
  lineInFile,
  loVip,
  netplan,
  service,
  serviceHandler,
  sudoers,
  sysctl,
  template,
  user,
} from "../../tasks/mod.ts";

async function on(lab: Lab, cmd: string): Promise<string> {
  const r = await labExec(lab, "h1", ["sh", "-c", cmd]);
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

function play(name: string, tasks: () => Task[], handlers?: Play["handlers"]): Play {
  return { name, hosts: "all", tasks, handlers };
}

function changedNames(r: RunReport, status = "changed"): string[] {
  return r.hosts[0].tasks.filter((t) => t.status === status).map((t) => t.name);
}

function explain(r: RunReport, lines: string[]): string {
  return JSON.stringify(
    r.hosts.map((h) => ({ s: h.status, e: h.error, t: h.tasks.filter((t) => t.status !== "ok") })),
    null,
    1,
  ) +
    "\n" + lines.slice(-40).join("\n");
}

async function rollbackAll(
  inv: Awaited<ReturnType<typeof loadInventory>>,
  times: number,
  log: (l: string) => void,
  purgePackages = false,
) {
  for (let i = 0; i < times; i++) {
    const rb = await rollbackHosts(inv, { log, purgePackages });
    assert.ok(rb.every((x) => x.ok), JSON.stringify(rb));
  }
}

e2e(
  "tasks: files, lines, sudoers, sysctl, users and groups, command — converge, idempotence, drift, validate, rollback",
  async () => {
    await withLab({ name: "tk1", subnet: "198.19.220.0/24", hosts: 1 }, async (lab) => {
      const inv = await loadInventory(lab.inventory);
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);
      await on(
        lab,
        "mkdir -p /etc/hp-tk-old/sub && echo old > /etc/hp-tk-old/sub/x && chmod 0700 /etc/hp-tk-old",
      );
      const before = await snapshot(lab, "h1");

      const tasks = (v: string) => () => [
        group({ name: "hpgrp", system: true }),
        user({ name: "keepalived_script", system: true }),
        user({ name: "hpuser", home: "/home/hpuser", shell: "/bin/sh", groups: ["hpgrp"] }),
        directory({ path: "/etc/hp-tk/sub", mode: "0750", owner: "hpuser", group: "hpgrp" }),
        file({
          path: "/etc/hp-tk/sub/app.conf",
          content: `v=${v}\n`,
          owner: "hpuser",
          group: "hpgrp",
          mode: "0640",
          validate: "grep -q ^v= %s",
        }),
        template({ path: "/etc/hp-tk/t.conf", template: "name={{ n }}\n", vars: { n: v } }),
        lineInFile({ path: "/etc/hp-tk/lines.conf", regexp: "^a=", line: `a=${v}` }),
        lineInFile({ path: "/etc/hp-tk/lines.conf", regexp: "^b=", line: "b=2" }),
        sudoers({ name: "hp-tk", content: "hpuser ALL=(root) NOPASSWD: /bin/true\n" }),
        sysctl({ key: "net.ipv4.conf.all.arp_ignore", value: 1 }),
        sysctl({ key: "net.ipv4.conf.all.arp_announce", value: 2 }),
        sysctl({ key: "net.ipv4.conf.eth0.arp_ignore", value: 1 }),
        absent({ path: "/etc/hp-tk-old" }),
        command({
          cmd: "echo ran >> /etc/hp-tk/cmd.log",
          creates: "/etc/hp-tk/cmd.log",
          restore: "rm -f /etc/hp-tk/cmd.log",
        }),
      ];
      const N = tasks("1")().length;

      // Check mode on the fresh host: everything would change, nothing is touched.
      const chk = await runPlaybook(inv, [play("tk", tasks("1"))], { check: true, log });
      assert.equal(chk.ok, true, explain(chk, lines));
      assert.equal(changedNames(chk, "would-change").length, N, explain(chk, lines));
      assert.equal(await snapshot(lab, "h1"), before, "check mode touched the host");

      // Converge.
      const run1 = await runPlaybook(inv, [play("tk", tasks("1"))], { log });
      assert.equal(run1.ok, true, explain(run1, lines));
      assert.equal(changedNames(run1).length, N, explain(run1, lines));
      assert.equal(
        await on(
          lab,
          "getent passwd keepalived_script | cut -d: -f6,7; [ ! -e /nonexistent ] && echo nohome",
        ),
        "/nonexistent:/usr/sbin/nologin\nnohome\n",
      );
      assert.match(
        await on(lab, "id -Gn hpuser; stat -c '%U %G %a' /home/hpuser"),
        /^hpuser hpgrp\nhpuser hpuser 7\d\d\n$/,
      );
      assert.equal(
        await on(
          lab,
          "stat -c '%U %G %a' /etc/hp-tk/sub /etc/hp-tk/sub/app.conf; cat /etc/hp-tk/sub/app.conf",
        ),
        "hpuser hpgrp 750\nhpuser hpgrp 640\nv=1\n",
      );
      assert.equal(
        await on(lab, "cat /etc/hp-tk/t.conf /etc/hp-tk/lines.conf"),
        "name=1\na=1\nb=2\n",
      );
      assert.equal(
        await on(
          lab,
          "stat -c '%U %G %a' /etc/sudoers.d/hp-tk; visudo -cf /etc/sudoers.d/hp-tk >/dev/null && echo valid",
        ),
        "root root 440\nvalid\n",
      );
      assert.equal(
        await on(
          lab,
          "sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.conf.eth0.arp_ignore",
        ),
        "1\n2\n1\n",
      );
      assert.equal(
        await on(lab, "cat /etc/sysctl.d/60-haplay.conf"),
        "net.ipv4.conf.all.arp_ignore = 1\nnet.ipv4.conf.all.arp_announce = 2\nnet.ipv4.conf.eth0.arp_ignore = 1\n",
      );
      assert.equal(
        await on(lab, "[ -e /etc/hp-tk-old ] || echo gone; cat /etc/hp-tk/cmd.log"),
        "gone\nran\n",
      );

      // Again: nothing to do.
      const run2 = await runPlaybook(inv, [play("tk", tasks("1"))], { log });
      assert.equal(run2.ok, true, explain(run2, lines));
      assert.deepEqual(changedNames(run2), [], explain(run2, lines));
      assert.equal(run2.hosts[0].execs, 1);

      // Drift; check mode reports exactly it and touches nothing.
      await on(
        lab,
        "echo drift > /etc/hp-tk/sub/app.conf; chmod 600 /etc/hp-tk/t.conf; sysctl -w net.ipv4.conf.all.arp_announce=0 >/dev/null; usermod -s /bin/bash keepalived_script",
      );
      const drifted = await snapshot(lab, "h1");
      const chk2 = await runPlaybook(inv, [play("tk", tasks("1"))], {
        check: true,
        diff: true,
        log,
      });
      const would = chk2.hosts[0].tasks.filter((t) => t.status === "would-change");
      assert.deepEqual(would.map((t) => t.summary), [
        "modify user keepalived_script: shell /bin/bash → /usr/sbin/nologin",
        "update /etc/hp-tk/sub/app.conf",
        "set /etc/hp-tk/t.conf mode 0600 → 0644",
        "set net.ipv4.conf.all.arp_announce 0 → 2",
      ], explain(chk2, lines));
      assert.match(would[1].diff ?? "", /^-drift\n\+v=1$/m);
      assert.equal(await snapshot(lab, "h1"), drifted, "check mode touched the drifted host");

      // A failing validate leaves the old file byte-identical (and fails the host).
      const sum = await on(
        lab,
        "sha256sum /etc/hp-tk/sub/app.conf; stat -c '%i %a' /etc/hp-tk/sub/app.conf",
      );
      const bad = await runPlaybook(inv, [
        play(
          "bad",
          () => [
            file({
              path: "/etc/hp-tk/sub/app.conf",
              content: "nov\n",
              owner: "hpuser",
              group: "hpgrp",
              mode: "0640",
              validate: "grep -q ^v= %s",
            }),
          ],
        ),
      ], { log });
      assert.equal(bad.ok, false);
      assert.equal(bad.hosts[0].tasks[0].status, "failed");
      assert.equal(
        await on(lab, "sha256sum /etc/hp-tk/sub/app.conf; stat -c '%i %a' /etc/hp-tk/sub/app.conf"),
        sum,
      );
      assert.equal(await on(lab, "ls -A /etc/hp-tk/sub"), "app.conf\n", "no temp file left behind");
      await rollbackAll(inv, 1, log); // the failed run
      assert.equal(await snapshot(lab, "h1"), drifted);

      // Repair the drift (a second journal), then roll both runs back: the host is as before.
      const run3 = await runPlaybook(inv, [play("tk", tasks("1"))], { log });
      assert.equal(run3.ok, true, explain(run3, lines));
      assert.equal(changedNames(run3).length, 4);
      await rollbackAll(inv, 2, log);
      const after = await snapshot(lab, "h1");
      assert.equal(after, before, snapshotDiff(before, after));
      // Idempotent rollback: nothing more to restore, nothing changes.
      await rollbackAll(inv, 1, log);
      assert.equal(await snapshot(lab, "h1"), before);
    });
  },
);

e2e(
  "tasks: loVip, netplan, iptablesRule, ipRule, ipRoute — converge, boot replay, drift, validate, rollback",
  async () => {
    await withLab({ name: "tk2", subnet: "198.19.221.0/24", hosts: 1 }, async (lab) => {
      const inv = await loadInventory(lab.inventory);
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);
      const before = await snapshot(lab, "h1");
      const mark = [
        "-d",
        "198.19.221.200/32",
        "-p",
        "tcp",
        "--dport",
        "80",
        "-j",
        "MARK",
        "--set-mark",
        "1",
      ];
      const tasks = () => [
        loVip({ address: "198.19.221.200/32" }),
        netplan({
          name: "98-haplay-tk",
          config: { network: { version: 2, ethernets: { eth0: { dhcp4: false } } } },
        }),
        iptablesRule({ table: "mangle", chain: "PREROUTING", rule: mark }),
        iptablesRule({ chain: "INPUT", rule: ["-p", "vrrp", "-j", "ACCEPT"], position: 1 }),
        ipRule({ priority: 100, fwmark: 1, table: 100 }),
        ipRoute({ dest: "local 0.0.0.0/0", dev: "lo", table: 100 }),
      ];
      const chk = await runPlaybook(inv, [play("net", tasks)], { check: true, log });
      assert.equal(chk.ok, true, explain(chk, lines));
      assert.equal(changedNames(chk, "would-change").length, 6, explain(chk, lines));
      assert.equal(await snapshot(lab, "h1"), before, "check mode touched the host");

      const run1 = await runPlaybook(inv, [play("net", tasks)], { log });
      assert.equal(run1.ok, true, explain(run1, lines));
      assert.equal(changedNames(run1).length, 6);
      assert.match(run1.hosts[0].tasks[1].summary, /no systemd-networkd: file only/);
      assert.match(await on(lab, "ip -o -4 addr show dev lo"), /inet 198\.19\.221\.200\/32/);
      assert.equal(
        await on(lab, "stat -c '%a' /etc/netplan/99-haplay-lo.yaml /etc/netplan/98-haplay-tk.yaml"),
        "600\n600\n",
      );
      assert.match(await on(lab, "cat /etc/netplan/99-haplay-lo.yaml"), /- 198\.19\.221\.200\/32/);
      await on(lab, `iptables -w -t mangle -C PREROUTING ${mark.join(" ")}`);
      assert.match(
        await on(lab, "iptables -w -S INPUT | sed -n 2p"),
        /^-A INPUT -p (vrrp|112) -j ACCEPT\n$/,
      );
      assert.match(await on(lab, "cat /etc/iptables/rules.v4"), /--set-xmark 0x1\/0xffffffff/);
      assert.match(
        await on(lab, "ip rule show pref 100"),
        /^100:\tfrom all fwmark 0x1 lookup 100 ?\n$/,
      );
      assert.match(
        await on(lab, "ip route show table 100"),
        /^local default dev lo scope host ?\n$/,
      );
      // Boot replay: flush the live policy routing, run the persisted script.
      await on(
        lab,
        "ip rule del pref 100; ip route flush table 100; sh /etc/haplay/policy-routing.sh",
      );
      assert.match(
        await on(lab, "ip rule show pref 100; ip route show table 100"),
        /fwmark 0x1 lookup 100[\s\S]*local default dev lo/,
      );

      const run2 = await runPlaybook(inv, [play("net", tasks)], { log });
      assert.deepEqual(changedNames(run2), [], explain(run2, lines));

      // Drift: check mode sees exactly it.
      await on(
        lab,
        `ip rule del pref 100; iptables -w -t mangle -D PREROUTING ${
          mark.join(" ")
        }; ip addr del 198.19.221.200/32 dev lo`,
      );
      const drifted = await snapshot(lab, "h1");
      const chk2 = await runPlaybook(inv, [play("net", tasks)], { check: true, log });
      assert.deepEqual(
        chk2.hosts[0].tasks.filter((t) => t.status === "would-change").map((t) => t.summary),
        [
          "add 198.19.221.200/32 to lo",
          "append rule: mangle PREROUTING -d 198.19.221.200/32 -p tcp --dport 80 -j MARK --set-mark 1",
          "set rule 100: from all fwmark 0x1 lookup 100",
        ],
        explain(chk2, lines),
      );
      assert.equal(await snapshot(lab, "h1"), drifted);

      // netplan validation: an invalid document never lands.
      const old = await on(lab, "sha256sum /etc/netplan/98-haplay-tk.yaml");
      const bad = await runPlaybook(inv, [
        play(
          "bad",
          () => [
            netplan({
              name: "98-haplay-tk",
              config: {
                network: { version: 2, ethernets: { eth0: { addresses: ["not-an-address"] } } },
              },
            }),
          ],
        ),
      ], { log });
      assert.equal(bad.ok, false);
      assert.equal(await on(lab, "sha256sum /etc/netplan/98-haplay-tk.yaml"), old);
      assert.equal(await on(lab, "ls -A /etc/netplan | grep -c haplay\\\\. || true"), "0\n");
      await rollbackAll(inv, 1, log);
      assert.equal(await snapshot(lab, "h1"), drifted);

      const run3 = await runPlaybook(inv, [play("net", tasks)], { log });
      assert.equal(run3.ok, true, explain(run3, lines));
      await rollbackAll(inv, 2, log);
      const after = await snapshot(lab, "h1");
      assert.equal(after, before, snapshotDiff(before, after));
    });
  },
);

e2e(
  "tasks: apt install from the lab repo, service + handler with alive check, rollback --purge-packages",
  async () => {
    await withLab(
      { name: "tk3", subnet: "198.19.222.0/24", hosts: 1, aptRepo: true },
      async (lab) => {
        const inv = await loadInventory(lab.inventory);
        const lines: string[] = [];
        const log = (l: string) => lines.push(l);
        // The hosts share this machine's packages: remove keepalived on the host to install it for real.
        await on(
          lab,
          "DEBIAN_FRONTEND=noninteractive dpkg --purge keepalived >/dev/null 2>&1; dpkg-query -W -f='${db:Status-Abbrev}' keepalived 2>/dev/null || true",
        );
        const before = await snapshot(lab, "h1");
        const conf = (prio: number) =>
          `global_defs {\n  router_id tk3\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority ${prio}\n  virtual_ipaddress {\n    198.19.222.200/32\n  }\n}\n`;
        const tasks = (prio: number) => () => [
          apt({ name: "keepalived", state: "present" }),
          file({
            path: "/etc/keepalived/keepalived.conf",
            content: conf(prio),
            mode: "0640",
            validate: "keepalived -t -f %s",
            notify: ["reload keepalived"],
          }),
          service({ name: "keepalived", state: "started", enabled: true }),
        ];
        const handlers = () => [serviceHandler("keepalived", "reload")];
        const chk = await runPlaybook(inv, [play("lb", tasks(100), handlers)], {
          check: true,
          log,
        });
        assert.equal(chk.ok, true, explain(chk, lines));
        assert.match(chk.hosts[0].tasks[0].summary, /^install keepalived/);
        assert.match(chk.hosts[0].tasks[2].summary, /not installed yet/);

        const run1 = await runPlaybook(inv, [play("lb", tasks(100), handlers)], { log });
        assert.equal(run1.ok, true, explain(run1, lines));
        assert.match(await on(lab, "dpkg-query -W -f='${db:Status-Abbrev}' keepalived"), /^ii/);
        const pid = (await on(lab, "cat /run/keepalived.pid")).trim();
        await on(lab, `kill -0 ${pid}`);
        assert.match(await on(lab, "ls /etc/rc2.d"), /S\d\dkeepalived/);

        const run2 = await runPlaybook(inv, [play("lb", tasks(100), handlers)], { log });
        assert.deepEqual(changedNames(run2), [], explain(run2, lines));

        // Config change notifies the reload handler; the daemon survives it.
        const run3 = await runPlaybook(inv, [play("lb", tasks(110), handlers)], { log });
        assert.equal(run3.ok, true, explain(run3, lines));
        assert.deepEqual(run3.hosts[0].handlers, ["reload keepalived"]);
        assert.equal((await on(lab, "cat /run/keepalived.pid")).trim(), pid);

        // A daemon that dies right after a "successful" start is reported.
        await on(
          lab,
          "printf '#!/bin/sh\\nexit 0\\n' > /etc/init.d/hpfake && chmod 755 /etc/init.d/hpfake",
        );
        const dead = await runPlaybook(inv, [
          play("dead", () => [service({ name: "hpfake", state: "started" })]),
        ], { log });
        assert.equal(dead.ok, false);
        assert.match(
          dead.hosts[0].tasks[0].error ?? dead.hosts[0].error ?? "",
          /hpfake is not running after start/,
          explain(dead, lines),
        );
        await rollbackAll(inv, 1, log);
        await on(lab, "rm -f /etc/init.d/hpfake");

        // Rollback without --purge-packages keeps the package; with it, the host is as before.
        await rollbackAll(inv, 1, log); // run3: config back to prio 100
        assert.match(await on(lab, "cat /etc/keepalived/keepalived.conf"), /priority 100/);
        await rollbackAll(inv, 1, log); // run1, the install, without --purge-packages
        assert.match(
          await on(lab, "dpkg-query -W -f='${db:Status-Abbrev}' keepalived"),
          /^ii/,
          "rollback without --purge-packages removed the package",
        );
        assert.equal(await on(lab, "pgrep -x keepalived || echo none"), "none\n", lines.join("\n"));
        assert.equal(
          await on(lab, "test -e /etc/keepalived/keepalived.conf || echo gone"),
          "gone\n",
        );
        // the same install again, from a host without the package (nor ipvsadm, which keepalived
        // recommends and run1 pulled in), rolled back with purge: that removes both again
        await on(
          lab,
          "DEBIAN_FRONTEND=noninteractive dpkg --purge keepalived ipvsadm >/dev/null 2>&1",
        );
        const run4 = await runPlaybook(inv, [play("lb", tasks(100), handlers)], { log });
        assert.equal(run4.ok, true, explain(run4, lines));
        assert.match(run4.hosts[0].tasks[0].summary, /^install keepalived/);
        await rollbackAll(inv, 1, log, true); // run4
        assert.equal(await on(lab, "pgrep -x keepalived || echo none"), "none\n", lines.join("\n"));
        assert.doesNotMatch(
          await on(lab, "dpkg-query -W -f='${db:Status-Abbrev}' keepalived 2>/dev/null || true"),
          /^ii/,
        );
        // /etc/lab is the lab's systemctl shim state (keepalived's maintainer scripts enable
        // the unit through it); it does not exist on a real host.
        const noLab = (s: string) =>
          s.split("\n").filter((l) => !l.includes("/etc/lab/") && !l.startsWith("/etc/lab ")).join(
            "\n",
          );
        const after = noLab(await snapshot(lab, "h1"));
        assert.equal(after, noLab(before), snapshotDiff(noLab(before), after));
      },
    );
  },
);
