/**
 * Pure parts of the VM lab (no root, no QEMU): cpio archives, mirror detection, module load
 * order, topology, inventories, the snapshot comparison and the request-loop parsing, the QEMU
 * command line of both inits, the results file's sections.
 */
import assert from "node:assert/strict";
import { cpioArchive } from "../../vmlab/cpio.ts";
import { vmInventoryText, withVmConnection } from "../../vmlab/inventory.ts";
import { moduleLoadOrder, parseModulesDep, realIn } from "../../vmlab/initramfs.ts";
import { parseDeb822, parseOneLine, pickMirror } from "../../vmlab/mirror.ts";
import { GUESTS, macFor, mgmtPrefix, netBatch, netplanGuest } from "../../vmlab/topology.ts";
import { qemuArgs } from "../../vmlab/qemu.ts";
import { pidCpuSeconds } from "../../vmlab/util.ts";
import { INITRAMFS_INIT } from "../../vmlab/guest_scripts.ts";
import { SYSTEMD_UNITS } from "../../vmlab/guest_systemd.ts";
import { parse as parseYaml } from "yaml";
import type { VmLab } from "../../vmlab/types.ts";
import { snapshotChanges } from "./fixture.ts";
import { alternates, backgroundLoop, outage, outages, parseAnswers, tallyText } from "./probe.ts";
import { writeResultsSection } from "./results.ts";

Deno.test("cpio: newc headers, 4-byte alignment, trailer", () => {
  const a = cpioArchive([
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/hostname", data: "lb1\n", mode: 0o644 },
    { type: "symlink", path: "bin", target: "usr/bin" },
    { type: "chardev", path: "dev/console", major: 5, minor: 1 },
  ], 1700000000);
  const text = new TextDecoder().decode(a);
  assert.equal(a.length % 4, 0);
  assert.equal(text.slice(0, 6), "070701");
  // 2nd entry: mode 0100644, size 4, mtime
  const second = text.indexOf("070701", 6);
  assert.equal(second % 4, 0);
  assert.equal(text.slice(second + 14, second + 22), (0o100644).toString(16).padStart(8, "0"));
  assert.equal(text.slice(second + 54, second + 62), "00000004");
  assert.equal(text.slice(second + 46, second + 54), (1700000000).toString(16));
  assert.ok(text.includes("etc/hostname\0"));
  assert.ok(text.includes("lb1\n"));
  assert.ok(text.includes("TRAILER!!!\0"));
  const dev = text.indexOf("dev/console") - 110;
  assert.equal(text.slice(dev + 78, dev + 86), "00000005"); // rdevmajor
});

Deno.test("mirror: deb822 first suite match, one-line fallback, options and comments", () => {
  const deb822 = [
    "Types: deb",
    "URIs: http://mirror.example/debian",
    "Suites: bookworm bookworm-updates",
    "Components: main",
    "",
    "Types: deb",
    "URIs: http://security.example/debian-security",
    "Suites: bookworm-security",
  ].join("\n");
  assert.equal(pickMirror(parseDeb822(deb822)), "http://mirror.example/debian");
  const off = "Types: deb\nURIs: http://x/\nSuites: bookworm\nEnabled: no\n";
  assert.equal(pickMirror(parseDeb822(off)), undefined);
  const list = "# c\ndeb [arch=amd64 signed-by=/k.gpg] http://m/debian bookworm main\n";
  assert.equal(pickMirror(parseOneLine(list)), "http://m/debian");
  assert.equal(pickMirror(parseOneLine("deb http://m/ bookworm-updates main\n")), undefined);
});

Deno.test("initramfs: modules.dep load order puts dependencies first, once", () => {
  const dep = parseModulesDep([
    "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko",
    "kernel/lib/crc16.ko:",
    "kernel/fs/mbcache.ko:",
    "kernel/fs/jbd2/jbd2.ko:",
    "kernel/drivers/virtio/virtio.ko:",
    "kernel/drivers/virtio/virtio_ring.ko:",
    "kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko",
  ].join("\n"));
  const order = moduleLoadOrder(dep, ["ext4", "virtio_rng"]);
  assert.deepEqual(order.slice(0, 4).map((p) => p.split("/").pop()), [
    "crc16.ko",
    "mbcache.ko",
    "jbd2.ko",
    "ext4.ko",
  ]);
  assert.equal(order.at(-1), "kernel/drivers/char/hw_random/virtio-rng.ko");
  assert.equal(order.length, 7);
  assert.throws(() => moduleLoadOrder(dep, ["nope"]), /nope not in modules.dep/);
});

Deno.test("initramfs: symlinks resolve inside the image root, never this machine's /", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/usr/lib/x86_64-linux-gnu`, { recursive: true });
    await Deno.mkdir(`${root}/usr/lib64`, { recursive: true });
    await Deno.writeTextFile(`${root}/usr/lib/x86_64-linux-gnu/ld.so`, "x");
    await Deno.symlink("usr/lib", `${root}/lib`);
    await Deno.symlink("/lib/x86_64-linux-gnu/ld.so", `${root}/usr/lib64/ld`);
    assert.equal(await realIn(root, "usr/lib64/ld"), `${root}/usr/lib/x86_64-linux-gnu/ld.so`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("topology: addresses in 198.18.0.0/15 only, MACs unique, eth0 data / eth1 mgmt", () => {
  assert.equal(mgmtPrefix("198.19.240.0/24"), "198.19.240");
  assert.throws(() => mgmtPrefix("198.18.0.0/16"));
  assert.throws(() => mgmtPrefix("198.18.256.0/24"));
  for (const g of GUESTS) assert.match(g.data, /^198\.18\.1[01]\.\d+\/24$/);
  const macs = GUESTS.flatMap((g) => [macFor(g.data, 0), macFor(`198.19.240.${g.mgmtHost}`, 1)]);
  assert.equal(new Set(macs).size, 10);
  assert.equal(macFor("198.18.10.11/24", 0), "02:00:c6:12:0a:0b");
  assert.match(netBatch(GUESTS[0], "198.19.240.11"), /addr add 198\.18\.10\.11\/24 dev eth0\n/);
  assert.doesNotMatch(netBatch(GUESTS[0], "198.19.240.11"), /route/);
});

const fakeLab = {
  name: "vm",
  dir: "/state/vm",
  keyFile: "/state/vm/id_ed25519",
  knownHosts: "/state/vm/known_hosts",
  hosts: GUESTS.map((g) => ({
    name: g.name,
    ip: `198.19.240.${g.mgmtHost}`,
    role: g.role,
    data: g.data,
    pid: 1,
  })),
} as unknown as VmLab;

Deno.test("inventory: groups, data addresses, connection vars added to scenario inventories", () => {
  const own = vmInventoryText(fakeLab);
  assert.match(own, /ansible_ssh_private_key_file: \/state\/vm\/id_ed25519/);
  assert.match(
    own,
    / {4}lb:\n {6}hosts:\n {8}lb1: \{ ansible_host: 198\.19\.240\.11, data_address: 198\.18\.10\.11\/24 \}/,
  );
  assert.match(own, / {4}client:\n {6}hosts:\n {8}client:/);
  const scen = "all:\n  vars:\n    haplay_lb: {}\n  children:\n    lb:\n      hosts:\n" +
    "        lb1: { ansible_host: 198.19.240.11 }\n";
  const out = withVmConnection(scen, fakeLab);
  assert.match(out, /^all:\n {2}vars:\n {4}# vmlab vm connection\n {4}ansible_user: root\n/);
  assert.match(out, /haplay_known_hosts: \/state\/vm\/known_hosts\n {4}haplay_lb: \{\}/);
  assert.throws(() => withVmConnection(scen.replace("240.11", "241.11"), fakeLab), /no guest at/);
});

Deno.test("snapshot comparison ignores net.* keys only one side has (modules loaded)", () => {
  const a = "## sysctl\nnet.ipv4.ip_forward = 0\n## users\nroot\n";
  const b = "## sysctl\nnet.ipv4.ip_forward = 0\nnet.ipv4.vs.am_droprate = 10\n## users\nroot\n";
  assert.deepEqual(snapshotChanges(a, b), []);
  assert.deepEqual(snapshotChanges(a, b.replace("forward = 0", "forward = 1")), [
    "- net.ipv4.ip_forward = 0",
    "+ net.ipv4.ip_forward = 1",
  ]);
  assert.deepEqual(snapshotChanges(a, b + "/etc/x\n"), ["+ /etc/x"]);
});

Deno.test("probe: answers, round robin, outage gap", () => {
  const out = [
    "100.0 100.2 web1",
    "100.3 100.5 web2",
    "100.6 101.6 FAIL",
    "101.7 102.7 FAIL",
    "102.8 103.0 web1",
    "103.1 103.3 web2",
  ].join("\n");
  const a = parseAnswers(out);
  assert.equal(tallyText(a), "web1 2 / web2 2 / FAIL 2");
  assert.ok(alternates(a));
  assert.deepEqual(outage(a), { failed: 2, total: 6, gapS: 2.5 });
  assert.deepEqual(outage(a.filter((x) => x.body)), { failed: 0, total: 4, gapS: 0 });
  assert.ok(!alternates(parseAnswers("1 2 web1\n3 4 web1")));
});

Deno.test("probe: every outage of a loop on its own (failover, then failback)", () => {
  const a = parseAnswers(
    ["10.0 10.1 web1", "10.2 11.2 FAIL", "11.3 12.3 FAIL", "12.4 12.5 web1", "12.6 12.7 web1"]
      .concat(["12.8 13.8 FAIL", "13.9 14.0 web1"]).join("\n"),
  );
  assert.deepEqual(outages(a).map((o) => [o.failed, o.gapS]), [[2, 2.4], [1, 1.3]]);
  assert.deepEqual(outages(a.filter((x) => x.body)), []);
  // failures to the end: the gap runs to the last request's end
  assert.deepEqual(outages(parseAnswers("1 1.5 web1\n2 3 FAIL")).map((o) => o.gapS), [1.5]);
  const sh = backgroundLoop("http://198.18.10.100/", "/tmp/x.out", "/tmp/x.stop", 0.1, 1);
  assert.match(sh, /while \[ ! -e \/tmp\/x\.stop \]/);
  assert.match(sh, /--connect-timeout 1 -m 2 http:\/\/198\.18\.10\.100\//);
  assert.match(sh, /sleep 0\.1\ndone\necho END >> \/tmp\/x\.out/);
});

Deno.test("systemd guests: netplan NICs by MAC, kernel command line, initramfs switch", () => {
  const np = parseYaml(netplanGuest(GUESTS[2], "198.19.110.13"));
  assert.deepEqual(np.network.ethernets.eth0, {
    match: { macaddress: macFor("198.18.10.13", 0) },
    "set-name": "eth0",
    addresses: ["198.18.10.13/24"],
    "link-local": [],
    "accept-ra": false,
  });
  assert.deepEqual(np.network.ethernets.eth1.addresses, ["198.19.110.13/24"]);
  assert.equal(np.network.ethernets.eth1.match.macaddress, macFor("198.19.110.13", 1));
  const g = {
    lab: "rb",
    name: "lb1",
    dir: "/s/rb",
    netns: "vmlab-rb",
    vmlinux: "/c/vmlinux",
    memoryMiB: 256,
    accel: "tcg" as const,
    dataMac: "02:00:c6:12:0a:0b",
    mgmtMac: "02:01:c6:13:6e:0b",
    dataTap: "lb1-d",
    mgmtTap: "lb1-m",
  };
  const append = (a: string[]) => a[a.indexOf("-append") + 1];
  assert.doesNotMatch(append(qemuArgs(g)), /vmlab\.init/);
  assert.match(append(qemuArgs({ ...g, init: "systemd" })), / vmlab\.init=systemd$/);
  // a guest's reboot ends QEMU (vmlab reboot starts it again); the console keeps every boot
  assert.ok(qemuArgs(g).includes("-no-reboot"));
  assert.ok(qemuArgs(g).includes("file,id=con,path=/s/rb/lb1.console,append=on"));
  assert.match(INITRAMFS_INIT, /vmlab\.init=systemd \] && init=\/lib\/systemd\/systemd/);
  assert.match(INITRAMFS_INIT, /switch_root \/newroot \$init\n/);
  assert.match(SYSTEMD_UNITS["vmlab-ready.service"], /After=.*keepalived\.service/);
  assert.match(SYSTEMD_UNITS["vmlab-ready.service"], /touch \/run\/vmlab-ready/);
});

Deno.test("results.md: a section is replaced in place, the others kept, a new one appended", async () => {
  const f = await Deno.makeTempFile({ suffix: ".md" });
  try {
    await Deno.writeTextFile(
      f,
      "<!-- results:modes -->\n\n# A\n\nold\n\n<!-- /results:modes -->\n",
    );
    await writeResultsSection(f, "reboot", "## R\n\nfirst");
    await writeResultsSection(f, "reboot", "## R\n\nsecond");
    await writeResultsSection(f, "modes", "# A\n\nnew");
    const t = await Deno.readTextFile(f);
    assert.equal(
      t,
      "<!-- results:modes -->\n\n# A\n\nnew\n\n<!-- /results:modes -->\n\n" +
        "<!-- results:reboot -->\n\n## R\n\nsecond\n\n<!-- /results:reboot -->\n",
    );
  } finally {
    await Deno.remove(f);
  }
});

Deno.test("results: the long-lived column and the feature rows; long-lived text", async () => {
  const { resultsMarkdown } = await import("./results.ts");
  const { longLivedText } = await import("./services.ts");
  const conns = [
    { id: 0, server: "web1", lines: 180, maxWaitS: 2.1, broken: null },
    { id: 1, server: "web2", lines: 61, maxWaitS: 0.1, broken: "ConnectionResetError at line 62" },
  ];
  assert.equal(
    longLivedText(conns),
    "1 of 2 broken (servers web1/web2; ConnectionResetError at line 62; longest echo wait 2.1 s)",
  );
  const md = resultsMarkdown([{
    mode: "NAT",
    balanced: "b",
    health: "h",
    failover: "f",
    rollback: "r",
    connections: "without sync: 2 of 2 broken",
    features: [{
      name: "UDP service, UDP_CHECK",
      result: "10 datagrams: web1 5 / web2 5",
      ok: true,
    }],
    deployS: 1,
    totalS: 2,
    ok: true,
  }, {
    mode: "DSR",
    balanced: "b",
    health: "h",
    failover: "f",
    rollback: "r",
    deployS: 1,
    totalS: 2,
    ok: true,
  }], "about");
  assert.match(md, /\| NAT \| b \| h \| f \| without sync: 2 of 2 broken \| r \| 1 \| 2 \|/);
  assert.match(md, /\| DSR \| b \| h \| f \| — \| r \| 1 \| 2 \|/);
  assert.match(md, /\| NAT \| UDP service, UDP_CHECK \| 10 datagrams: web1 5 \/ web2 5 \|/);
});

Deno.test("pidCpuSeconds: a process's user + system time from /proc, 0 when it is gone", async () => {
  // burn CPU until /proc shows it grew by 0.1 s (wall time says little on a loaded machine)
  const a = await pidCpuSeconds(Deno.pid); // 0.1 s steps: 0 for a process just started
  const t0 = performance.now();
  let b = a, x = 0;
  while (b < a + 0.1 && performance.now() - t0 < 60_000) {
    for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
    b = await pidCpuSeconds(Deno.pid);
  }
  assert.ok(x > 0 && b >= a + 0.1 && b < a + 120, `CPU ${a} s, then ${b} s`);
  assert.ok(await pidCpuSeconds(1) > 0, "PID 1 has used CPU");
  const child = new Deno.Command("sh", { args: ["-c", "exit 0"] }).spawn();
  await child.status;
  assert.equal(await pidCpuSeconds(child.pid), 0);
});
