/**
 * End-to-end tests of the namespace lab (root only; see test/lab_fixture.ts). Each test uses its
 * own lab name (lt*) and subnet (198.19.200-219.0/24) so they never clash with other test files.
 */

import nodeAssert from "node:assert/strict";
import { e2e, withLab } from "./lab_fixture.ts";
import {
  defaultStateDir,
  type Lab,
  labDown,
  labExec,
  labLoad,
  labStatus,
  labUp,
} from "../lab/lab.ts";
import { parse as parseYaml } from "yaml";
import { denoRun } from "./_cli.ts";
import { inotifyLimitFor } from "../lab/_host.ts";
import { labMac } from "../lab/_net.ts";

function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}
function assertEquals<T>(actual: T, expected: T, msg?: string) {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}
function assertMatch(actual: string, re: RegExp) {
  nodeAssert.match(actual, re);
}
/** `fn` must reject; with `includes`, the error message must contain it. */
async function assertRejects(fn: () => Promise<unknown>, _type?: unknown, includes?: string) {
  await nodeAssert.rejects(fn, (e: unknown) => {
    if (includes === undefined) return true;
    const msg = e instanceof Error ? e.message : String(e);
    nodeAssert.ok(msg.includes(includes), `error '${msg}' lacks '${includes}'`);
    return true;
  });
}

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(cmd: string, args: string[], stdin?: string): Promise<Out> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await child.output();
  const d = new TextDecoder();
  return { code: o.code, stdout: d.decode(o.stdout), stderr: d.decode(o.stderr) };
}

/** Run in a lab host (nsenter) and require exit 0; returns stdout. */
async function inHost(lab: Lab, host: string, script: string): Promise<string> {
  const r = await labExec(lab, host, ["sh", "-c", script]);
  assertEquals(r.code, 0, `${host}: ${script}: ${r.stderr}`);
  return r.stdout;
}

/** Machine state a lab must restore exactly: netns, link names, mounts. */
interface Snapshot {
  netns: string[];
  links: string[];
  mounts: string[];
}

async function snapshot(): Promise<Snapshot> {
  const ns = await sh("ip", ["netns", "list"]);
  const links = await sh("ip", ["-o", "link", "show"]);
  const mounts = await sh("cat", ["/proc/self/mounts"]);
  return {
    netns: ns.stdout.split("\n").filter((l) => l).map((l) => l.split(" ")[0]),
    links: links.stdout.split("\n").filter((l) => l).map((l) => l.split(": ")[1]),
    mounts: mounts.stdout.split("\n").filter((l) => l),
  };
}

/**
 * Could `entry` (a netns name, link name or /proc/mounts line) be made by one of the labs
 * `ours`? Everything a lab makes is named after it or lives in its state dir, plus /run/netns
 * itself (`ip netns add` may turn it into a mount point). Other entries may come and go while
 * our test runs (other engineers' labs and tests on this machine): they are reported, not
 * compared.
 */
function ours(entry: string, labs: string[]): boolean {
  return labs.some((n) => {
    if (new RegExp(`^${n}-h\\d+$`).test(entry)) return true;
    if (new RegExp(`^${n}(br|h\\d+)(@\\S+)?$`).test(entry)) return true;
    const [dev, mp] = entry.split(" ");
    if (mp === undefined) return false;
    return mp === "/run/netns" || new RegExp(`^/run/netns/${n}-h\\d+$`).test(mp) ||
      mp === `${defaultStateDir()}/${n}` || mp.startsWith(`${defaultStateDir()}/${n}/`) ||
      dev === `haplay-lab-${n}` || dev.startsWith(`haplay-${n}-`);
  });
}

/**
 * Could `entry` belong to a lab of any name, a VM lab, or net_test's throwaway netns: the
 * project's other tests, which may run on this machine at the same time. Anything else that
 * changed while a lab came and went is a leak.
 */
function anotherLab(entry: string): boolean {
  const ns = /^([a-z][a-z0-9]{0,6}-h\d+|vmlab-[a-z][a-z0-9]*|haplay-tasks-[0-9a-f]{8})$/;
  if (ns.test(entry)) return true;
  if (/^([a-z][a-z0-9]{0,6}(br|h\d+)|vmlab[a-z][a-z0-9]*)(@\S+)?$/.test(entry)) return true;
  const [dev, mp] = entry.split(" ");
  if (mp === undefined) return false;
  return mp === "/run/netns" || ns.test(mp.replace(/^\/run\/netns\//, "")) ||
    mp.startsWith(`${defaultStateDir()}/`) || mp.startsWith("/tmp/haplay-vmlab/") ||
    dev.startsWith("haplay-");
}

function assertSameState(before: Snapshot, after: Snapshot, labs: string[]) {
  for (const k of ["netns", "links", "mounts"] as const) {
    const added = after[k].filter((e) => !before[k].includes(e));
    const removed = before[k].filter((e) => !after[k].includes(e));
    const foreign = [...added, ...removed].filter((e) => !ours(e, labs));
    const leaks = foreign.filter((e) => !anotherLab(e));
    assertEquals(leaks, [], `${k} changed, and not by another lab: a leak`);
    const b = before[k].filter((e) => ours(e, labs) || after[k].includes(e));
    const a = after[k].filter((e) => ours(e, labs) || before[k].includes(e));
    assertEquals(a, b, `${k} differ from before the lab`);
  }
}

async function pidsOf(lab: Lab): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir(lab.dir)) {
    if (/^h\d+\.pid(\.parent)?$/.test(e.name)) {
      pids.push(Number((await Deno.readTextFile(`${lab.dir}/${e.name}`)).trim()));
    }
  }
  return pids;
}

async function livePids(pids: number[]): Promise<number[]> {
  const r = await sh("/bin/sh", [
    "-c",
    // zombies (dead, not yet reaped by this machine's PID 1) count as gone
    'for p; do s=$(cut -d" " -f3 /proc/$p/stat 2>/dev/null) && [ "$s" != Z ] && echo $p; done; true',
    "sh",
    ...pids.map(String),
  ]);
  return r.stdout.split("\n").filter((l) => l).map(Number);
}

function sshArgs(lab: Lab, knownHosts: string, user: string, ip: string): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=5",
    "-i",
    lab.keyFile,
    `${user}@${ip}`,
  ];
}

e2e("lab: 3 hosts are isolated, down restores the machine exactly", async () => {
  const before = await snapshot();
  let pids: number[] = [];
  let dir = "";
  await withLab({ name: "lt1", subnet: "198.19.201.0/24", hosts: 3 }, async (lab) => {
    dir = lab.dir;
    assertEquals(lab.hosts.map((h) => h.name), ["h1", "h2", "h3"]);
    assertEquals(lab.hosts.map((h) => h.ip), ["198.19.201.11", "198.19.201.12", "198.19.201.13"]);
    assertEquals(lab.bridgeIp, "198.19.201.1");
    assertEquals(await labLoad("lt1"), lab);
    assert((await labStatus(lab)).every((h) => h.up));
    pids = await pidsOf(lab);
    assertEquals(pids.length, 6); // PID 1 + its unshare parent, per host

    // filesystem: a write in h1 stays in h1
    const probe = `/root/lt1-probe-${crypto.randomUUID()}`;
    await inHost(lab, "h1", `echo hello > ${probe}; echo etc > /etc/lt1-probe`);
    assertEquals((await inHost(lab, "h1", `cat ${probe}`)).trim(), "hello");
    assertEquals((await labExec(lab, "h2", ["test", "-e", probe])).code, 1);
    assertEquals((await labExec(lab, "h2", ["test", "-e", "/etc/lt1-probe"])).code, 1);
    await assertRejects(() => Deno.lstat(probe));
    await assertRejects(() => Deno.lstat("/etc/lt1-probe"));
    // this machine's /root is hidden (stock dotfiles + .ssh only)
    assertEquals((await inHost(lab, "h2", "ls -A /root")).split("\n").filter((l) => l), [
      ".bashrc",
      ".profile",
      ".ssh",
    ]);

    // labExec feeds stdin and reports the exit code
    const cat = await labExec(lab, "h1", ["sh", "-c", "cat; exit 7"], { stdin: "in\nput" });
    assertEquals([cat.code, cat.stdout], [7, "in\nput"]);

    // identity and network
    const names = await Promise.all(lab.hosts.map((h) => inHost(lab, h.name, "hostname")));
    assertEquals(names.map((n) => n.trim()), ["h1", "h2", "h3"]);
    for (const h of lab.hosts) {
      const addrs = (await inHost(lab, h.name, "ip -4 -o addr show")).trim().split("\n")
        .map((l) => l.split(/\s+/).slice(1, 4).join(" "));
      assertEquals(addrs, ["lo inet 127.0.0.1/8", `eth0 inet ${h.ip}/24`]);
      assertEquals((await inHost(lab, h.name, "ip -6 addr show")).trim(), "");
      assertEquals((await inHost(lab, h.name, "ip route show default")).trim(), "");
    }
    // h1 reaches h2 on the bridge
    await inHost(lab, "h1", "timeout 2 bash -c 'echo > /dev/tcp/198.19.201.12/22'");
    // PID namespace: the host sees its own processes only, PID 1 is the lab init
    assertEquals((await inHost(lab, "h3", "cat /proc/1/comm")).trim(), "lab-init");
    // /proc/sys: read-only except net (per-netns)
    assert(
      (await labExec(lab, "h1", ["sh", "-c", "echo x > /proc/sys/kernel/hostname"])).code !== 0,
    );
    await inHost(lab, "h1", "echo 1 > /proc/sys/net/ipv4/ip_forward");
    assertEquals((await inHost(lab, "h2", "cat /proc/sys/net/ipv4/ip_forward")).trim(), "0");

    // inventory in haplay's format
    const inv = parseYaml(await Deno.readTextFile(lab.inventory));
    assertEquals(inv, {
      all: {
        vars: {
          ansible_user: "root",
          ansible_ssh_private_key_file: lab.keyFile,
          haplay_known_hosts: lab.knownHosts,
        },
        hosts: {
          h1: { ansible_host: "198.19.201.11" },
          h2: { ansible_host: "198.19.201.12" },
          h3: { ansible_host: "198.19.201.13" },
        },
      },
    });
  });
  // after down: nothing left
  assertSameState(before, await snapshot(), ["lt1"]);
  assertEquals(await livePids(pids), []);
  await assertRejects(() => Deno.lstat(dir));
  assertEquals(await labLoad("lt1"), undefined);
  await labDown("lt1"); // idempotent
});

e2e("lab: ssh with strict host keys as root and deploy; sshd logs each exec", async () => {
  await withLab({ name: "lt2", subnet: "198.19.202.0/24", hosts: 2 }, async (lab) => {
    const empty = await Deno.makeTempFile({ prefix: "lt2-empty-known-hosts-" });
    try {
      for (const h of lab.hosts) {
        const root = await sh("ssh", [...sshArgs(lab, lab.knownHosts, "root", h.ip), "hostname"]);
        assertEquals(root.code, 0, root.stderr);
        assertEquals(root.stdout.trim(), h.name);
        const dep = await sh("ssh", [
          ...sshArgs(lab, lab.knownHosts, "deploy", h.ip),
          "id -un && sudo -n true && sudo -n id -u",
        ]);
        assertEquals(dep.code, 0, dep.stderr);
        assertEquals(dep.stdout.trim().split("\n"), ["deploy", "0"]);
        // unknown host key: refused
        const bad = await sh("ssh", [...sshArgs(lab, empty, "root", h.ip), "true"]);
        assertEquals(bad.code, 255);
        assertMatch(bad.stderr, /Host key verification failed/);
        // the ssh_config of the lab works as is
        const cfg = await sh("ssh", ["-F", lab.sshConfig, h.name, "cat /etc/hostname"]);
        assertEquals(cfg.stdout.trim(), h.name, cfg.stderr);
      }
      // the keys sshd presents are exactly the recorded ones
      const known = (await Deno.readTextFile(lab.knownHosts)).trim().split("\n").sort();
      assertEquals(known.length, 4);
      const scanned: string[] = [];
      for (const h of lab.hosts) {
        const r = await sh("ssh-keyscan", ["-T", "5", "-t", "ed25519,ecdsa", h.ip]);
        for (const l of r.stdout.trim().split("\n")) {
          const [, type, key] = l.split(" ");
          scanned.push(`${h.name},${h.ip} ${type} ${key}`);
        }
      }
      assertEquals(scanned.sort(), known);
      // host keys differ between hosts
      assertEquals(new Set(known.map((l) => l.split(" ")[2])).size, 4);

      // one "Starting session: command" line per exec channel, in the host's own log
      const count = async () =>
        (await inHost(lab, "h1", "cat /var/log/sshd.log")).split("\n")
          .filter((l) => l.includes("Starting session: command for root")).length;
      const n0 = await count();
      for (let k = 0; k < 2; k++) {
        await sh("ssh", ["-F", lab.sshConfig, "h1", "true"]);
      }
      assertEquals(await count(), n0 + 2);
    } finally {
      await Deno.remove(empty);
    }
  });
});

e2e("lab: a failed up leaves nothing behind", async () => {
  await withLab({ name: "lt3", subnet: "198.19.203.0/24", hosts: 1 }, async (lab3) => {
    const before = await snapshot();
    const lt4Dir = `${defaultStateDir()}/lt4`;
    // subnet used by another lab
    await assertRejects(
      () => labUp({ name: "lt4", hosts: 2, subnet: "198.19.203.0/24" }),
      Error,
      "already in use",
    );
    await assertRejects(() => Deno.lstat(lt4Dir));
    // name already up
    await assertRejects(
      () => labUp({ name: "lt3", hosts: 1, subnet: "198.19.204.0/24" }),
      Error,
      "already up",
    );
    // invalid input
    await assertRejects(
      () => labUp({ name: "lt4", hosts: 1, subnet: "10.0.0.0/24" }),
      Error,
      "subnet",
    );
    await assertRejects(
      () => labUp({ name: "Lt-4", hosts: 1, subnet: "198.19.204.0/24" }),
      Error,
      "name",
    );
    await assertRejects(
      () => labUp({ name: "lt4", hosts: 0, subnet: "198.19.204.0/24" }),
      Error,
      "hosts",
    );
    assertSameState(before, await snapshot(), ["lt3", "lt4"]);

    // failures injected after the base layer, after the hosts started, after they were ready
    for (const point of ["base", "hosts", "ready"]) {
      Deno.env.set("HAPLAY_LAB_FAULT", point);
      try {
        await assertRejects(
          () => labUp({ name: "lt4", hosts: 3, subnet: "198.19.204.0/24" }),
          Error,
          `injected fault at '${point}'`,
        );
      } finally {
        Deno.env.delete("HAPLAY_LAB_FAULT");
      }
      assertSameState(before, await snapshot(), ["lt3", "lt4"]);
      await assertRejects(() => Deno.lstat(lt4Dir));
      const ps = await sh("pgrep", ["-f", `${lt4Dir}/`]);
      assertEquals(ps.stdout.trim(), "", `processes of lt4 left: ${ps.stdout}`);
    }
    // the other lab was not disturbed
    assert((await labStatus(lab3)).every((h) => h.up));
    assertEquals((await inHost(lab3, "h1", "hostname")).trim(), "h1");
  });
});

e2e("lab: two labs side by side", async () => {
  await withLab({ name: "lt5", subnet: "198.19.205.0/24", hosts: 2 }, async (a) => {
    await withLab({ name: "lt6", subnet: "198.19.206.0/24", hosts: 2 }, async (b) => {
      for (const lab of [a, b]) {
        for (const h of lab.hosts) {
          const r = await sh("ssh", ["-F", lab.sshConfig, h.name, "hostname -I"]);
          assertEquals(r.code, 0, r.stderr);
          assertEquals(r.stdout.trim(), h.ip);
        }
      }
      // same host names, different machines
      const ida = await inHost(a, "h1", "cat /etc/machine-id");
      const idb = await inHost(b, "h1", "cat /etc/machine-id");
      assert(ida !== idb);
      // separate segments: lt5 h1 reaches lt5 h2 but nothing of lt6
      const tcp = (ip: string) => `timeout 2 bash -c 'echo > /dev/tcp/${ip}/22'`;
      await inHost(a, "h1", tcp("198.19.205.12"));
      assert((await labExec(a, "h1", ["sh", "-c", tcp("198.19.206.11")])).code !== 0);
    });
    // lt6 gone, lt5 still fine
    assert((await labStatus(a)).every((h) => h.up));
    const r = await sh("ssh", ["-F", a.sshConfig, "h2", "hostname"]);
    assertEquals(r.stdout.trim(), "h2", r.stderr);
  });
});

e2e("lab: hosts install keepalived from the lab apt repo", async () => {
  const machineBefore = await sh("dpkg-query", ["-W", "-f=${Status}", "keepalived"]);
  await withLab(
    { name: "lt7", subnet: "198.19.207.0/24", hosts: 2, aptRepo: true },
    async (lab) => {
      assertEquals(lab.aptRepoUrl, "http://198.19.207.1:8080/");
      const pid = Number((await Deno.readTextFile(`${lab.dir}/httpd.pid`)).trim());
      assertEquals(
        (await inHost(
          lab,
          "h1",
          "cat /etc/apt/sources.list.d/*; ls /etc/apt/sources.list 2>/dev/null || true",
        )).trim(),
        "deb [trusted=yes] http://198.19.207.1:8080/ ./",
      );
      assert((await labExec(lab, "h1", ["dpkg", "-s", "keepalived"])).code !== 0);
      assert((await labExec(lab, "h1", ["sh", "-c", "command -v keepalived"])).code !== 0);
      await inHost(lab, "h1", "apt-get update -q >/dev/null");
      const inst = await labExec(lab, "h1", [
        "sh",
        "-c",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q keepalived",
      ]);
      assertEquals(inst.code, 0, inst.stderr);
      assertMatch(inst.stdout, /Unpacking keepalived/);
      assertMatch(await inHost(lab, "h1", "keepalived --version 2>&1"), /Keepalived v\d/);
      // only h1 got it
      assert((await labExec(lab, "h2", ["dpkg", "-s", "keepalived"])).code !== 0);
      // the machine itself still has its own keepalived
      const m = await sh("dpkg-query", ["-W", "-f=${Status}", "keepalived"]);
      assertEquals(m.stdout, "install ok installed");
      assertEquals((await livePids([pid])).length, 1);
      // after down (below) the httpd is gone too
      (globalThis as Record<string, unknown>).__lt7httpd = pid;
    },
  );
  const pid = (globalThis as Record<string, unknown>).__lt7httpd as number;
  assertEquals(await livePids([pid]), []);
  const machineAfter = await sh("dpkg-query", ["-W", "-f=${Status}", "keepalived"]);
  assertEquals(machineAfter.stdout, machineBefore.stdout);
});

e2e("lab: CLI up/status/exec/ssh/down and one-line errors", async () => {
  const cli = new URL("../lab/cli.ts", import.meta.url).pathname;
  const deno = (args: string[]) =>
    sh(Deno.execPath(), [
      ...denoRun(cli),
      ...args,
    ]);
  await labDown("lt8");
  try {
    const up = await deno(["up", "--name", "lt8", "--hosts", "2", "--subnet", "198.19.208.0/24"]);
    assertEquals(up.code, 0, up.stderr);
    assertMatch(up.stdout, /inventory\s+\S+\/lt8\/inventory\.yaml/);
    assertMatch(up.stdout, /ssh -F \S+\/lt8\/ssh_config h1/);
    const st = await deno(["status", "--name", "lt8"]);
    assertEquals(st.code, 0, st.stderr);
    assertMatch(st.stdout, /h2\t198\.19\.208\.12\tpid=\d+\tup/);
    const ex = await deno(["exec", "--name", "lt8", "h2", "--", "sh", "-c", "hostname; exit 3"]);
    assertEquals([ex.code, ex.stdout], [3, "h2\n"]);
    const ss = await deno(["ssh", "--name", "lt8", "h1", "echo", "via-ssh", "-n"]);
    assertEquals([ss.code, ss.stdout], [0, "via-ssh -n\n"]);
    const dup = await deno(["up", "--name", "lt8", "--subnet", "198.19.209.0/24"]);
    assertEquals(dup.code, 1);
    assertEquals(dup.stderr.trim().split("\n").length, 1, dup.stderr);
    assertMatch(dup.stderr, /^lab: lab lt8 is already up/);
  } finally {
    const down = await deno(["down", "--name", "lt8"]);
    assertEquals(down.code, 0, down.stderr);
  }
  for (
    const bad of [
      ["up", "--name", "lt9", "--subnet", "10.1.2.0/24"],
      ["up", "--name", "lt9", "--hosts", "1001", "--subnet", "198.19.209.0/24"],
      ["status", "--name", "lt9"],
      ["frobnicate"],
    ]
  ) {
    const r = await deno(bad);
    assertEquals(r.code, 1, bad.join(" "));
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertMatch(r.stderr, /^lab: /);
  }
});

e2e("lab: 50 hosts come up and go down fast", async () => {
  const before = await snapshot();
  const t0 = performance.now();
  const lab = await labUp({ name: "lt9", hosts: 50, subnet: "198.19.209.0/24", init: "lab" });
  const upMs = performance.now() - t0;
  let downMs = 0;
  try {
    assertEquals(lab.hosts.length, 50);
    const r = await sh("ssh", ["-F", lab.sshConfig, "h50", "hostname"]);
    assertEquals(r.stdout.trim(), "h50", r.stderr);
  } finally {
    const t1 = performance.now();
    await labDown("lt9");
    downMs = performance.now() - t1;
  }
  console.log(`50 hosts: up ${(upMs / 1000).toFixed(1)} s, down ${(downMs / 1000).toFixed(1)} s`);
  // 5x the README's measured 50-host figures (up 2.6-2.9 s, down 1.1-1.3 s)
  assert(upMs < 15_000, `up took ${Math.round(upMs)} ms (bound 15 000)`);
  assert(downMs < 6_500, `down took ${Math.round(downMs)} ms (bound 6 500)`);
  assertSameState(before, await snapshot(), ["lt9"]);
});

e2e("lab: --init systemd hosts run real systemd", async () => {
  const cg = await sh("/bin/sh", [
    "-c",
    "for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do " +
    '[ "$(stat -f -c %T $d)" = cgroup2fs ] && echo $d && break; done',
  ]);
  const cgroupRoot = cg.stdout.trim();
  await withLab(
    { name: "lt10", subnet: "198.19.200.0/24", hosts: 2, init: "systemd" },
    async (lab) => {
      for (const h of lab.hosts) {
        assertEquals((await inHost(lab, h.name, "cat /proc/1/comm")).trim(), "systemd");
        const st = await labExec(lab, h.name, ["systemctl", "is-system-running", "--wait"]);
        assertMatch(st.stdout.trim(), /^(running|degraded)$/);
        assertEquals((await inHost(lab, h.name, "systemctl is-active ssh")).trim(), "active");
        // like an Ubuntu server: networkd renders the installer's netplan file at boot (the
        // netplan generator), the firewall, sysctls and journal are units
        const units = [
          "systemd-networkd",
          "systemd-journald",
          "systemd-sysctl",
          "netfilter-persistent",
          "ssh",
        ];
        assertEquals(
          (await inHost(lab, h.name, `systemctl is-active ${units.join(" ")}`)).trim().split("\n"),
          units.map(() => "active"),
        );
        assertEquals(
          (await inHost(lab, h.name, "systemctl is-enabled systemd-networkd netfilter-persistent"))
            .trim().split("\n"),
          ["enabled", "enabled"],
        );
        assertMatch(
          await inHost(lab, h.name, "networkctl --no-pager --no-legend list eth0"),
          /eth0\s+ether\s+routable\s+configured/,
        );
        assertMatch(
          await inHost(lab, h.name, "networkctl --no-pager status eth0"),
          /Network File: \/run\/systemd\/network\/10-netplan-eth0\.network/,
        );
        assertMatch(
          await inHost(lab, h.name, "cat /etc/netplan/00-installer-config.yaml"),
          new RegExp(`addresses: \\[${h.ip.replaceAll(".", "\\.")}/24\\]`),
        );
        assertMatch(
          await inHost(lab, h.name, "ip -4 -o addr show dev eth0"),
          new RegExp(` ${h.ip}/24 `),
        );
        assertEquals(
          (await inHost(lab, h.name, "cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6")).trim(),
          "1",
        );
        const r = await sh("ssh", [
          "-F",
          lab.sshConfig,
          "-l",
          "deploy",
          h.name,
          "sudo -n hostname",
        ]);
        assertEquals(r.stdout.trim(), h.name, r.stderr);
        assertMatch(
          await inHost(lab, h.name, "cat /var/log/sshd.log"),
          /Starting session: command for deploy from 198\.19\.200\.1 /,
        );
      }
      const t = await sh("test", ["-d", `${cgroupRoot}/haplay-lab/lt10-h1`]);
      assertEquals(t.code, 0);
    },
  );
  const t = await sh("test", ["-e", `${cgroupRoot}/haplay-lab/lt10-h1`]);
  assertEquals(t.code, 1, "cgroup of lt10-h1 left behind");
});

e2e("lab: one name at a time; withLab never takes over a lab another process uses", async () => {
  const name = "lt11", subnet = "198.19.204.0/24";
  await labDown(name);
  // two concurrent ups of one name: exactly one wins, the loser leaves the winner intact
  const res = await Promise.allSettled([
    labUp({ name, hosts: 2, subnet, init: "lab" }),
    labUp({ name, hosts: 2, subnet: "198.19.203.0/24", init: "lab" }),
  ]);
  try {
    assertEquals(res.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const lost = res.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assertMatch(String(lost.reason), /already up/);
    const lab = (res.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<Lab>).value;
    assert((await labStatus(lab)).every((h) => h.up));
    // either up may win the race; the winner is exactly what it asked for
    const won = res.findIndex((r) => r.status === "fulfilled");
    assertEquals(lab.subnet, won === 0 ? subnet : "198.19.203.0/24");
    assert(lab.hosts.every((h) => h.ip.startsWith(lab.subnet.replace(/0\/24$/, ""))));

    // a lab whose owner process still runs is never torn down by withLab
    const recFile = `${lab.dir}/lab.json`;
    const rec = JSON.parse(await Deno.readTextFile(recFile));
    const stat1 = (await sh("cat", ["/proc/1/stat"])).stdout;
    const start1 = stat1.slice(stat1.lastIndexOf(")") + 2).split(" ")[19];
    await Deno.writeTextFile(recFile, JSON.stringify({ ...rec, owner: `1:${start1}` }));
    await assertRejects(
      () => withLab({ name, subnet, hosts: 1 }, () => Promise.resolve()),
      Error,
      "in use by running process 1",
    );
    assert((await labStatus(lab)).every((h) => h.up));
    await Deno.writeTextFile(recFile, JSON.stringify(rec));
  } finally {
    await labDown(name);
  }

  // a lab left by a finished process (here: the CLI) is stale: withLab replaces it
  const cli = await sh(Deno.execPath(), [
    ...denoRun(new URL("../lab/cli.ts", import.meta.url).pathname),
    "up",
    "--name",
    name,
    "--hosts",
    "1",
    "--subnet",
    subnet,
  ]);
  assertEquals(cli.code, 0, cli.stderr);
  const oldKey = await Deno.readTextFile(`${defaultStateDir()}/${name}/id_ed25519.pub`);
  await withLab({ name, subnet, hosts: 1 }, async (lab) => {
    assert((await Deno.readTextFile(`${lab.keyFile}.pub`)) !== oldKey);
    assertEquals((await inHost(lab, "h1", "hostname")).trim(), "h1");
  });
  assertEquals(await labLoad(name), undefined);
});

Deno.test("lab: inotify limit for systemd hosts is raised only when short, never lowered", () => {
  assertEquals(inotifyLimitFor(128, 0, 3), undefined); // 88 needed
  assertEquals(inotifyLimitFor(128, 10, 10), 512); // 154 needed
  assertEquals(inotifyLimitFor(512, 10, 50), undefined); // 474 needed
  assertEquals(inotifyLimitFor(512, 100, 50), 1024); // 564 needed
  assertEquals(inotifyLimitFor(8192, 5000, 200), undefined);
});

Deno.test("lab: NIC MACs are fixed per address (kept across reboots), unique per kind", () => {
  assertEquals(labMac("198.19.100.11", 0), "02:00:c6:13:64:0b");
  assertEquals(labMac("198.19.100.11", 1), "02:01:c6:13:64:0b");
  assertEquals(labMac("198.18.0.1", 2), "02:02:c6:12:00:01");
});

e2e(
  "lab: systemd hosts with the apt repo boot clean (its packages: not installed, units not enabled)",
  async () => {
    await withLab(
      { name: "s1ap", subnet: "198.19.103.0/24", hosts: 1, init: "systemd", aptRepo: true },
      async (lab) => {
        assertMatch(
          (await inHost(lab, "h1", "systemctl is-system-running --wait")).trim(),
          /^(running|degraded)$/,
        );
        assertEquals((await inHost(lab, "h1", "systemctl --failed --no-legend")).trim(), "");
        // not installed in the host (the repo serves it), so not enabled by the lab
        const dpkg = await labExec(lab, "h1", ["dpkg", "-s", "netfilter-persistent"]);
        assertEquals(dpkg.code, 1);
        assertEquals(
          (await inHost(lab, "h1", "systemctl is-enabled systemd-networkd ssh")).trim().split("\n"),
          ["enabled", "enabled"],
        );
      },
    );
  },
);
