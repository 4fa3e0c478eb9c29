/**
 * `labReboot` / `deno task lab reboot`: a power cycle of lab hosts, observed on the hosts
 * (root only). Lab names s1r*, subnets 198.19.100-109.0/24.
 *
 * What a reboot must keep is what is on the host's disk (/etc, host keys); what it must lose is
 * what only lived in memory (/run, live addresses, processes); what comes back must come from
 * the host's own boot (netplan through networkd, enabled units, /etc/sysctl.d).
 */

import assert from "node:assert/strict";
import { e2e, withLab } from "./lab_fixture.ts";
import { type Lab, labExec, labLoad, labReboot } from "../lab/lab.ts";
import { denoRun } from "./_cli.ts";

async function inHost(lab: Lab, host: string, cmd: string): Promise<string> {
  const r = await labExec(lab, host, ["sh", "-c", cmd]);
  return r.stdout.trim();
}

async function sh(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout).trim(), err: d.decode(o.stderr).trim() };
}

/** `pid starttime` (machine PID namespace) of every process of `host`, PID 1 first. */
async function hostProcesses(lab: Lab, host: string): Promise<string[]> {
  const pid1 = lab.hosts.find((h) => h.name === host)!.pid;
  const r = await sh("/bin/sh", [
    "-c",
    `for p in /proc/[0-9]*; do [ $p/ns/pid -ef /proc/${pid1}/ns/pid ] || continue; ` +
    `s=$(cat $p/stat 2>/dev/null) || continue; s=\${s##*) }; set -- $s; ` +
    'echo "${p#/proc/} ${20}"; done',
  ]);
  const procs = r.out.split("\n").filter((l) => l);
  procs.sort((a, b) => (a.startsWith(`${pid1} `) ? -1 : b.startsWith(`${pid1} `) ? 1 : 0));
  return procs;
}

/** Every process of `procs` is gone: kill -0 fails (or the PID now names a newer process). */
async function assertGone(procs: string[]) {
  for (const p of procs) {
    const [pid, start] = p.split(" ");
    const r = await sh("/bin/sh", [
      "-c",
      `kill -0 ${pid} 2>/dev/null || exit 0; s=$(cat /proc/${pid}/stat); s=\${s##*) }; ` +
      `set -- $s; [ "\${20}" != ${start} ]`,
    ]);
    assert.equal(r.code, 0, `process ${pid} of the old boot is still alive`);
  }
}

async function hostKeys(lab: Lab, host: string): Promise<string> {
  const ip = lab.hosts.find((h) => h.name === host)!.ip;
  const r = await sh("ssh-keyscan", ["-T", "5", "-t", "ed25519,ecdsa", ip]);
  return r.out.split("\n").filter((l) => !l.startsWith("#")).sort().join("\n");
}

const BOOT_UNIT = `[Unit]
Description=s1 reboot test unit
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'date +%%s > /run/s1-unit-started'
ExecStop=/bin/sh -c 'echo stopped >> /etc/s1-unit-stops'
[Install]
WantedBy=multi-user.target
`;

const LO_NETPLAN = `network:
  version: 2
  ethernets:
    lo:
      addresses: [198.19.100.250/32]
`;

/** What a booted systemd host must show after a reboot; `stops`: lines in /etc/s1-unit-stops. */
async function assertRebooted(lab: Lab, stops: number) {
  assert.equal(await inHost(lab, "h1", "cat /proc/1/comm"), "systemd");
  assert.match(
    await inHost(lab, "h1", "systemctl is-system-running --wait"),
    /^(running|degraded)$/,
  );
  assert.match(
    await inHost(lab, "h1", "networkctl --no-pager --no-legend list"),
    /eth0\s+ether\s+routable\s+configured/,
  );
  assert.equal(await inHost(lab, "h1", "cat /etc/s1-marker"), "on disk");
  assert.equal(await inHost(lab, "h1", "ls /run/s1-marker 2>&1 >/dev/null | wc -l"), "1");
  const lo = await inHost(lab, "h1", "ip -4 -o addr show dev lo");
  assert.doesNotMatch(lo, / 198\.19\.100\.240\//, "a live-only address came back");
  assert.match(lo, / 198\.19\.100\.250\/32 /, "the netplan address on lo did not come back");
  assert.match(await inHost(lab, "h1", "ip -4 -o addr show dev eth0"), / 198\.19\.100\.11\/24 /);
  assert.equal(await inHost(lab, "h1", "systemctl is-active s1-boot"), "active");
  assert.match(await inHost(lab, "h1", "cat /run/s1-unit-started"), /^\d+$/);
  assert.equal(await inHost(lab, "h1", "sysctl -n net.ipv4.conf.all.arp_ignore"), "1");
  assert.equal(
    await inHost(lab, "h1", "cat /etc/s1-unit-stops 2>/dev/null | grep -c stopped"),
    `${stops}`,
  );
}

e2e("lab reboot: a systemd host boots again from its disk, hard and graceful", async () => {
  await withLab(
    { name: "s1r1", subnet: "198.19.100.0/24", hosts: 2, init: "systemd" },
    async (lab) => {
      assert.equal(await inHost(lab, "h1", "systemctl is-active systemd-networkd"), "active");
      assert.match(
        await inHost(lab, "h1", "networkctl --no-pager --no-legend list"),
        /eth0\s+ether\s+routable\s+configured/,
      );
      await labExec(lab, "h1", ["sh", "-c", "cat > /etc/systemd/system/s1-boot.service"], {
        stdin: BOOT_UNIT,
      });
      await labExec(lab, "h1", ["sh", "-c", "umask 077; cat > /etc/netplan/60-s1-lo.yaml"], {
        stdin: LO_NETPLAN,
      });
      await inHost(
        lab,
        "h1",
        "echo 'on disk' > /etc/s1-marker; echo x > /run/s1-marker; " +
          "ip addr add 198.19.100.240/32 dev lo; " +
          "echo net.ipv4.conf.all.arp_ignore=1 > /etc/sysctl.d/60-s1.conf; " +
          "systemctl daemon-reload; systemctl enable s1-boot.service",
      );
      // nothing of it is live yet but the address added by hand
      assert.doesNotMatch(
        await inHost(lab, "h1", "ip -4 -o addr show dev lo"),
        /198\.19\.100\.250/,
      );
      assert.match(await inHost(lab, "h1", "ip -4 -o addr show dev lo"), /198\.19\.100\.240/);
      assert.equal(await inHost(lab, "h1", "sysctl -n net.ipv4.conf.all.arp_ignore"), "0");
      assert.equal(await inHost(lab, "h1", "systemctl is-active s1-boot"), "inactive");
      const keys = await hostKeys(lab, "h1");
      assert.match(keys, /ssh-ed25519/);
      const h2pid = lab.hosts[1].pid;
      const mac = await inHost(lab, "h1", "cat /sys/class/net/eth0/address");

      // a power cut: nothing stops cleanly (the unit's ExecStop does not run)
      let old = await hostProcesses(lab, "h1");
      assert.ok(old.length >= 4, `too few processes found: ${old.join(", ")}`);
      const [hard] = await labReboot(lab, ["h1"]);
      assert.equal(hard.host, "h1");
      assert.ok(hard.sshUpMs > 0 && hard.sshUpMs < 30_000, `sshUpMs ${hard.sshUpMs}`);
      await assertGone(old);
      assert.notEqual(lab.hosts[0].pid, Number(old[0].split(" ")[0]));
      assert.equal((await labLoad("s1r1"))!.hosts[0].pid, lab.hosts[0].pid, "lab.json PID");
      assert.equal(lab.hosts[1].pid, h2pid, "h2 was rebooted too");
      await assertRebooted(lab, 0);
      assert.equal(await hostKeys(lab, "h1"), keys);
      assert.equal(await inHost(lab, "h1", "cat /sys/class/net/eth0/address"), mac, "NIC MAC");
      const ssh = await sh("ssh", ["-F", lab.sshConfig, "h1", "hostname"]);
      assert.equal(ssh.out, "h1", "strict host key checking with the lab's known_hosts");

      // a graceful reboot: systemd stops every unit first
      await inHost(lab, "h1", "echo x > /run/s1-marker; ip addr add 198.19.100.240/32 dev lo");
      old = await hostProcesses(lab, "h1");
      const [soft] = await labReboot(lab, ["h1"], { graceful: true });
      assert.ok(soft.sshUpMs > 0 && soft.sshUpMs < 30_000, `sshUpMs ${soft.sshUpMs}`);
      await assertGone(old);
      await assertRebooted(lab, 1);
      assert.equal(await hostKeys(lab, "h1"), keys);

      // every host at once, through the CLI
      const olds = [...await hostProcesses(lab, "h1"), ...await hostProcesses(lab, "h2")];
      const cli = await sh(Deno.execPath(), [
        ...denoRun(new URL("../lab/cli.ts", import.meta.url).pathname),
        "reboot",
        "--name",
        "s1r1",
        "--all",
      ]);
      assert.equal(cli.code, 0, cli.err);
      assert.match(cli.out, /h1\tsshd up \d+\.\ds after power-off/);
      assert.match(cli.out, /2 hosts rebooted \(hard\)/);
      await assertGone(olds);
      const now = (await labLoad("s1r1"))!;
      await assertRebooted(now, 1);
      assert.match(
        await inHost(now, "h2", "networkctl --no-pager --no-legend list"),
        /eth0\s+ether\s+routable\s+configured/,
      );
      lab.hosts = now.hosts; // for the teardown check below
    },
  );
  // lab down after reboots: no netns, link, mount, process or cgroup of the lab left
  assert.equal((await sh("ip", ["netns", "list"])).out.match(/^s1r1-/m), null);
  assert.doesNotMatch((await sh("ip", ["-o", "link"])).out, /s1r1(br|h\d)/);
  assert.doesNotMatch((await sh("cat", ["/proc/self/mounts"])).out, /\/s1r1\//);
  assert.equal((await sh("pgrep", ["-f", "/s1r1/"])).out, "");
  const cg = await sh("/bin/sh", [
    "-c",
    "ls -d /sys/fs/cgroup/unified/haplay-lab/s1r1-* 2>/dev/null",
  ]);
  assert.equal(cg.out, "");
});

const LAB_SERVICE = `#!/bin/sh
case $1 in
  start) sleep 100000 & echo $! > /run/s1svc.pid;;
  stop) echo stopped >> /etc/s1svc-stops; kill $(cat /run/s1svc.pid);;
esac
`;

e2e("lab reboot: a lab-init host re-runs its init and enabled services", async () => {
  await withLab({ name: "s1r2", subnet: "198.19.101.0/24", hosts: 1 }, async (lab) => {
    await labExec(lab, "h1", ["sh", "-c", "cat > /etc/init.d/s1svc; chmod 755 /etc/init.d/s1svc"], {
      stdin: LAB_SERVICE,
    });
    await inHost(
      lab,
      "h1",
      "echo 'on disk' > /etc/s1-marker; echo x > /run/s1-marker; systemctl enable --now s1svc",
    );
    // bad input: one line, nothing rebooted
    const pid = lab.hosts[0].pid;
    const cli = (...a: string[]) =>
      sh(Deno.execPath(), [...denoRun(new URL("../lab/cli.ts", import.meta.url).pathname), ...a]);
    for (
      const [args, re] of [
        [["reboot", "--name", "s1r2"], /^lab: reboot: give HOST\.\.\. or --all \(not both\)$/],
        [["reboot", "--name", "s1r2", "h1", "--all"], /^lab: reboot: give HOST/],
        [["reboot", "--name", "s1r2", "h9"], /^lab: lab s1r2 has no host 'h9'$/],
        [["reboot", "--name", "s1rx", "h1"], /^lab: lab s1rx is not up/],
      ] as const
    ) {
      const r = await cli(...args);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, re);
      assert.equal(r.err.split("\n").length, 1, r.err);
    }
    assert.equal((await labLoad("s1r2"))!.hosts[0].pid, pid);
    assert.equal(await inHost(lab, "h1", "cat /run/s1-marker"), "x");

    for (const graceful of [false, true]) {
      const old = await hostProcesses(lab, "h1");
      const [r] = await labReboot(lab, "all", { graceful });
      assert.ok(r.sshUpMs > 0 && r.sshUpMs < 30_000, `sshUpMs ${r.sshUpMs}`);
      await assertGone(old);
      assert.equal(await inHost(lab, "h1", "cat /proc/1/comm"), "lab-init");
      assert.equal(await inHost(lab, "h1", "cat /etc/s1-marker"), "on disk");
      assert.equal(await inHost(lab, "h1", "test -e /run/s1-marker; echo $?"), "1");
      assert.match(
        await inHost(lab, "h1", "ip -4 -o addr show dev eth0"),
        / 198\.19\.101\.11\/24 /,
      );
      assert.equal(await inHost(lab, "h1", "systemctl is-active s1svc"), "active");
      assert.equal(
        await inHost(lab, "h1", "cat /etc/s1svc-stops 2>/dev/null | grep -c stopped"),
        graceful ? "1" : "0",
      );
      const ssh = await sh("ssh", ["-F", lab.sshConfig, "h1", "hostname"]);
      assert.equal(ssh.out, "h1");
    }
  });
});
