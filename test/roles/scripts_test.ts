/**
 * The shell the LB layer installs on hosts, run for real on this machine: the keepalived
 * validator against a fake keepalived (every 2.2.7 quirk), notify scripts (steps, failures,
 * sudo lines), the sudoers drop-in through visudo, and (as root, in private namespaces) the
 * same-box-dr switch with its reload-loop guard and the bypass_ipvs helper.
 */
import assert from "node:assert/strict";
import { CHECKER_SCRIPT } from "../../lb/keepalived_check.ts";
import { notifySteps, sudoCommands } from "../../lb/notify_plan.ts";
import { BYPASS_IPVS_SCRIPT, notifyScriptText, VS_SWITCH_SCRIPT } from "../../lb/notify_scripts.ts";
import { sudoersContent, sudoersWord } from "../../roles/script_user.ts";
import { lbClusterOf } from "../../lb/cluster.ts";
import { loadExample } from "./_fixtures.ts";
import { have, isRoot, requires } from "../_requires.ts";

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function sh(script: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = await new Deno.Command("/bin/sh", { args: ["-c", script, "sh", ...args], env })
    .output();
  return { code: r.code, out: dec(r.stdout), err: dec(r.stderr) };
}

Deno.test("scripts: the validator handles keepalived 2.2.7's quirks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "haplay-chk-" });
  try {
    await Deno.writeTextFile(`${dir}/check`, CHECKER_SCRIPT, { mode: 0o755 });
    // fake keepalived: prints $OUT, then exits $RC (143: killed by SIGTERM, like 2.2.7);
    // --version: v$VER (default 2.2.7), on stderr like keepalived
    await Deno.writeTextFile(
      `${dir}/keepalived`,
      `#!/bin/sh\n[ "$1" = --version ] && { echo "Keepalived v\${VER:-2.2.7} (test)" >&2; exit 0; }\n` +
        `[ -n "$OUT" ] && echo "$OUT" >&2\n[ "$RC" = 143 ] && kill -TERM $$\nexit "$RC"\n`,
      { mode: 0o755 },
    );
    await Deno.writeTextFile(`${dir}/conf`, "global_defs {\n}\n");
    await Deno.writeTextFile(`${dir}/empty`, "");
    const run = (file: string, rc: number, out = "") =>
      sh(`${dir}/check "$1"`, [file], { PATH: `${dir}:/usr/bin:/bin`, RC: String(rc), OUT: out });
    assert.equal((await run(`${dir}/conf`, 0)).code, 0, "clean");
    assert.equal(
      (await run(`${dir}/conf`, 143)).code,
      0,
      "143 without output: killed after a clean parse",
    );
    const other = await sh(`${dir}/check "$1"`, [`${dir}/conf`], {
      PATH: `${dir}:/usr/bin:/bin`,
      RC: "143",
      VER: "2.2.8",
    });
    assert.equal(other.code, 1, "143 from another version than 2.2.7 is a real kill");
    assert.match(other.err, /keepalived 2\.2\.8 -t failed \(exit 143\)/);
    const bad143 = await run(`${dir}/conf`, 143, "(Line 9) Unknown keyword 'lb_algoo'");
    assert.equal(bad143.code, 1, "143 with output: the problems found before count");
    assert.match(bad143.err, /Unknown keyword/);
    assert.doesNotMatch(
      bad143.err,
      /Terminated/,
      "the shell's own notice is not keepalived output",
    );
    assert.equal(
      (await run(`${dir}/conf`, 0, "Truncating auth_pass to 8 characters")).code,
      1,
      "any output",
    );
    assert.equal((await run(`${dir}/conf`, 5)).code, 1, "non-zero exit");
    assert.match(
      (await run(`${dir}/missing`, 0)).err,
      /missing or empty/,
      "-t -f /missing returns 0",
    );
    assert.equal((await run(`${dir}/missing`, 0)).code, 1);
    assert.equal((await run(`${dir}/empty`, 0)).code, 1);
    assert.equal((await run("", 0)).code, 1);
    const none = await sh(`${dir}/check "$1"`, [`${dir}/conf`], { PATH: "/nonexistent" });
    assert.equal(none.code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(requires({ keepalived: have("keepalived") }, {
  name: "scripts: the validator with the real keepalived (missing file, bad and good configs)",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "haplay-chk-" });
    try {
      await Deno.writeTextFile(`${dir}/check`, CHECKER_SCRIPT, { mode: 0o755 });
      const good =
        "global_defs {\n    router_id t\n}\nvrrp_instance V {\n    state BACKUP\n    interface eth0\n" +
        "    virtual_router_id 9\n    priority 10\n    virtual_ipaddress {\n        198.18.0.9/32\n    }\n}\n";
      await Deno.writeTextFile(`${dir}/good`, good);
      await Deno.writeTextFile(
        `${dir}/bad`,
        good.replace("virtual_router_id 9", "virtual_router_id 300"),
      );
      assert.equal((await sh(`${dir}/check "$1"`, [`${dir}/good`])).code, 0);
      const bad = await sh(`${dir}/check "$1"`, [`${dir}/bad`]);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /VRID '300' not valid/);
      assert.equal((await sh(`${dir}/check "$1"`, [`${dir}/nope`])).code, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
}));

Deno.test("scripts: notify scripts run every step, log failures and exit 1 if one failed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "haplay-notify-" });
  try {
    const text = notifyScriptText("VI_1", "master", [
      { what: "first", shell: `echo one >> ${dir}/log`, sudo: false },
      { what: "fails", shell: "exit 3", sudo: false },
      { what: "slow", shell: `sleep 5; echo late >> ${dir}/log`, sudo: false, timeout: 1 },
      { what: "last", shell: `echo 'it''s' last >> ${dir}/log`, sudo: false },
    ], "keepalived_script");
    assert.equal((await sh(`sh -n -c "$1"`, [text])).code, 0, "sh -n");
    await Deno.writeTextFile(`${dir}/n.sh`, text);
    const r = await sh(`sh ${dir}/n.sh`);
    assert.equal(r.code, 1);
    assert.equal(await Deno.readTextFile(`${dir}/log`), "one\nits last\n", "timed out step killed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scripts: notify steps per seed, and exactly the sudo lines they need", async () => {
  const c0 = lbClusterOf("node1", (await loadExample("000")).hosts)!;
  const s0 = notifySteps(c0, c0.cfg.vrrp_instances[0]);
  assert.deepEqual(s0.master.map((s) => s.argv), [[
    "/usr/local/sbin/haplay-vs-switch",
    "LVS_SETTINGS",
    "master",
    "198.18.0.5",
  ]]);
  assert.deepEqual(s0.backup.map((s) => s.argv), [[
    "/usr/local/sbin/haplay-vs-switch",
    "LVS_SETTINGS",
    "backup",
    "198.18.0.5",
  ]]);
  assert.deepEqual(s0.fault.map((s) => s.argv), [[
    "/usr/local/sbin/haplay-vs-switch",
    "LVS_SETTINGS",
    "backup",
    "198.18.0.5",
  ]]);
  assert.deepEqual(s0.stop.map((s) => s.argv), [[
    "/usr/local/sbin/haplay-vs-switch",
    "LVS_SETTINGS",
    "stop",
    "198.18.0.5",
  ]]);
  assert.deepEqual(sudoCommands(c0), [
    "/usr/local/sbin/haplay-vs-switch LVS_SETTINGS master 198.18.0.5",
    "/usr/local/sbin/haplay-vs-switch LVS_SETTINGS backup 198.18.0.5",
    "/usr/local/sbin/haplay-vs-switch LVS_SETTINGS stop 198.18.0.5",
  ]);
  const c1 = lbClusterOf("lb1", (await loadExample("001")).hosts)!;
  assert.deepEqual(sudoCommands(c1), [
    "/usr/local/sbin/haplay-bypass-ipvs del 198.18.1.100",
    "/usr/local/sbin/haplay-bypass-ipvs add 198.18.1.100",
  ]);
  const c4 = lbClusterOf("lvs01", (await loadExample("004")).hosts)!;
  const s4 = notifySteps(c4, c4.cfg.vrrp_instances[0]);
  assert.equal(s4.master.length, 1);
  assert.equal(s4.master[0].timeout, 120);
  assert.match(
    notifyScriptText("VI_AWS", "master", s4.master, "keepalived_script"),
    /timeout -k 5 120 sh -c '/,
  );
  assert.deepEqual(sudoCommands(c4), [], "the cloud hook runs unprivileged");
  const c3 = lbClusterOf("ha1", (await loadExample("003")).hosts)!;
  const s3 = notifySteps(c3, c3.cfg.vrrp_instances[0]);
  assert.deepEqual(s3.master.map((s) => s.shell), ["logger -t haplay-hook VI_1 is MASTER"]);
  assert.deepEqual(s3.fault, []);
});

Deno.test(requires({ visudo: have("visudo") }, {
  name: "scripts: the sudoers drop-in grants exact lines and passes visudo",
  fn: async () => {
    const content = sudoersContent("keepalived_script", [
      "/usr/local/sbin/haplay-vs-switch VI_1 master",
      "/usr/local/bin/move-vip --to=198.18.4.199,198.18.4.200",
    ]);
    assert.match(
      content,
      /^keepalived_script ALL=\(root\) NOPASSWD: \/usr\/local\/sbin\/haplay-vs-switch VI_1 master, \\$/m,
    );
    assert.match(content, /--to\\=198\.18\.4\.199\\,198\.18\.4\.200$/m);
    assert.doesNotMatch(content, /NOPASSWD: ALL/);
    assert.equal(sudoersWord("a:b=c,d\\e"), "a\\:b\\=c\\,d\\\\e");
    const dir = await Deno.makeTempDir({ prefix: "haplay-sudoers-" });
    try {
      await Deno.writeTextFile(`${dir}/s`, content);
      const r = await new Deno.Command("visudo", { args: ["-cf", `${dir}/s`] }).output();
      assert.equal(r.code, 0, dec(r.stdout) + dec(r.stderr));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assert.equal(sudoersContent("keepalived_script", []), "");
  },
}));

Deno.test(requires({ root: isRoot, unshare: have("unshare") }, {
  name: "scripts: same-box DR switch follows the VIP, not its argument; reloads only on change " +
    "(private mount and net ns)",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "haplay-vsw-" });
    try {
      await Deno.writeTextFile(`${dir}/switch`, VS_SWITCH_SCRIPT, { mode: 0o755 });
      // A private mount and network namespace: tmpfs over /etc/keepalived and /run, a veth pair
      // for the VRRP interface; nothing leaks out.
      const vip = "198.18.0.5";
      const sw = (args: string) =>
        `${dir}/switch ${args}; readlink /etc/keepalived/haplay/vs-VI_1.active.conf; sleep 0.4`;
      const script = `
        set -e
        mount --make-rprivate /
        mkdir -p /etc/keepalived; mount -t tmpfs none /etc/keepalived; mount -t tmpfs none /run
        mkdir /etc/keepalived/haplay
        : > /etc/keepalived/haplay/vs-empty.conf; echo vs > /etc/keepalived/haplay/vs-VI_1.master.conf
        ln -s /etc/keepalived/haplay/vs-empty.conf /etc/keepalived/haplay/vs-VI_1.active.conf
        ip link add v0 type veth peer name v1
        ip addr add ${vip}/32 dev lo
        sh -c 'trap "echo hup >> ${dir}/hups" HUP; while :; do sleep 0.1; done' &
        echo $! > /run/keepalived.pid
        sleep 0.3
        # (pauses: a shell coalesces signals that arrive while it waits for sleep)
        ${sw(`VI_1 master ${vip}`)}  # only lo has it (real-server duty): stays off
        ip addr add ${vip}/24 dev v0
        ${sw(`VI_1 master ${vip}`)}  # held: on, reload
        ${sw(`VI_1 master ${vip}`)}  # unchanged
        ${sw(`VI_1 backup ${vip}`)}  # a late notify_backup while the VIP is held: stays on
        ip addr del ${vip}/24 dev v0
        ${sw(`VI_1 master ${vip}`)}  # a late notify_master after the VIP left: off, reload
        ip addr add ${vip}/24 dev v0
        ${sw(`VI_1 backup ${vip}`)}  # on again, reload
        ${dir}/switch VI_1 stop ${vip} || echo "stop while held: $?"
        ip addr del ${vip}/24 dev v0
        ${sw(`VI_1 stop ${vip}`)}    # keepalived stopping (VIP released): off, no reload
        ip addr add ${vip}/24 dev v0
        ${dir}/switch 'VI_1;x' master ${vip} || echo "bad name: $?"
        ${dir}/switch VI_1 master '1.2.3.4;x' || echo "bad address: $?"
        ${dir}/switch VI_2 master ${vip} || echo "no master file: $?"
        sleep 0.3; kill $(cat /run/keepalived.pid)
        cat ${dir}/hups
      `;
      const r = await new Deno.Command("unshare", {
        args: ["--mount", "--net", "sh", "-c", script],
      }).output();
      assert.equal(r.code, 0, dec(r.stderr));
      const empty = "/etc/keepalived/haplay/vs-empty.conf";
      const master = "/etc/keepalived/haplay/vs-VI_1.master.conf";
      assert.equal(
        dec(r.stdout),
        [
          empty,
          master,
          master,
          master,
          empty,
          master,
          "stop while held: 1",
          empty,
          "bad name: 2",
          "bad address: 2",
          "no master file: 1",
          "hup", // on
          "hup", // off (late notify_master)
          "hup", // on again; stop reloads nothing
          "",
        ].join("\n"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
}));

Deno.test(requires({ root: isRoot, unshare: have("unshare"), iptables: have("iptables") }, {
  name: "scripts: bypass_ipvs adds one REDIRECT rule and removes every copy (private net ns)",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "haplay-byp-" });
    try {
      await Deno.writeTextFile(`${dir}/bypass`, BYPASS_IPVS_SCRIPT, { mode: 0o755 });
      const count = "iptables -t nat -S PREROUTING | grep -c REDIRECT || true";
      const script = `
        ${dir}/bypass add 198.18.1.100; ${dir}/bypass add 198.18.1.100; ${count}
        iptables -t nat -A PREROUTING -d 198.18.1.100/32 -p tcp -j REDIRECT; ${count}
        ${dir}/bypass del 198.18.1.100 || echo "del refused (VIP not held): $?"; ${count}
        ${dir}/bypass purge 198.18.1.100; ${count}
        ${dir}/bypass add '198.18.1.100;x' || echo "bad: $?"
      `;
      const r = await new Deno.Command("unshare", { args: ["--net", "sh", "-c", script] }).output();
      assert.equal(
        dec(r.stdout),
        "1\n2\ndel refused (VIP not held): 1\n2\n0\nbad: 2\n",
        dec(r.stderr),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
}));
