/**
 * Security of what the LB layer grants and writes, the pure part: which sudo hook command lines
 * the inventory accepts (and the file:line:col error of the others), the exact sudoers lines
 * (`""` after an argument-less program), the host-side owner/mode check of every granted program
 * (run on this machine against real directories), and where hook secrets go (an env file, never
 * a command line). The same attacks on a deployed lab: `test/security_e2e_test.ts`.
 */
import assert from "node:assert/strict";
import { formatIssue } from "../../engine/inventory.ts";
import { lbClusterOf } from "../../lb/cluster.ts";
import { sudoCommandProblem } from "../../lb/schema.ts";
import { lintLb } from "../../lb/lint.ts";
import { notifySteps, sudoCommands } from "../../lb/notify_plan.ts";
import { notifyEnvText, notifyScriptText } from "../../lb/notify_scripts.ts";
import { guardedSudoers, sudoersCommand, sudoersContent } from "../../roles/script_user.ts";
import { sudoTargetGuard, sudoTargetProbe, sudoTargetProblems } from "../../roles/_sudo_targets.ts";
import { sudoers } from "../../tasks/mod.ts";
import { inventoryFrom } from "./_fixtures.ts";

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("security: sudo hook command lines: normalised absolute file paths and plain words only", () => {
  for (
    const good of [
      "/usr/local/bin/move-vip",
      "/usr/local/bin/move-vip --to=198.18.4.199,198.18.4.200",
      "/opt/hooks/v1.2/run_it+x eth0 up",
    ]
  ) assert.equal(sudoCommandProblem(good), undefined, good);
  const bad: Array<[string, RegExp]> = [
    ["/usr/local/bin/../../../tmp/failover", /not normalised \('\.\.' segment\)/],
    ["/usr/local/./bin/x", /not normalised \('\.' segment\)/],
    ["/usr/local/bin/", /ends in '\/'.*every program in that directory/],
    ["/usr/local//bin/x", /empty segment/],
    ["/usr/local/bin/*", /glob or escape/],
    ["/usr/local/bin/x?", /glob or escape/],
    ["/usr/local/bin/[ab]", /glob or escape/],
    ["/usr/local/bin/x\\", /glob or escape/],
    ["/usr/local/bin/x a*", /argument 'a\*' contains a glob/],
    ["/usr/local/bin/x a\\b", /glob or escape/],
    ["/usr/local/bin/x  a", /single spaces/],
    [" /usr/local/bin/x", /single spaces/],
    ["/usr/local/bin/x ", /single spaces/],
    ["/usr/local/bin/x\ta", /single spaces/],
    ["/usr/local/bin/x\u00a0a", /single spaces/],
    ["usr/local/bin/x", /absolute path/],
    ["/usr/local/bin/x $(id)", /not a plain word/],
    ["/usr/local/bin/x 'a'", /not a plain word/],
    ["/usr/local/bin/x;id", /may only contain/],
    ["/usr/local/bin/x ''", /not a plain word/],
  ];
  for (const [line, why] of bad) assert.match(sudoCommandProblem(line) ?? "accepted", why, line);
});

const INV = (hook: string) =>
  `all:
  vars:
    haplay_lb:
      mode: vrrp-only
      vrrp_instances:
        - name: VI_1
          virtual_router_id: 51
          virtual_ipaddress: [198.19.10.100/24]
          hooks:
${hook}
  children:
    lb:
      hosts:
        lb1: { ansible_host: 198.19.10.11, vrrp_priority: 150 }
        lb2: { ansible_host: 198.19.10.12, vrrp_priority: 100 }
`;

async function lintOf(hook: string, env: Record<string, string> = {}) {
  const inv = await inventoryFrom(INV(hook), { HAPLAY_VRRP_PASS: "t3stpass", ...env });
  return lintLb(inv).filter((i) => i.severity === "error").map((i) =>
    formatIssue(i).replace(/^.*inv\.yaml/, "inv.yaml")
  );
}

Deno.test("security: a bad sudo hook is an inventory error naming file:line:col and the field", async () => {
  assert.deepEqual(
    await lintOf(`            notify_master:
              - { command: "/usr/local/bin/../../../tmp/failover", sudo: true }`),
    [
      "inv.yaml:11:28 all.vars.haplay_lb.vrrp_instances[0].hooks.notify_master[0].command: " +
      "with sudo: '/usr/local/bin/../../../tmp/failover' is not normalised ('..' segment); " +
      "give the real path",
    ],
  );
  assert.deepEqual(
    await lintOf(`            cloud_vip: { command: "/usr/local/sbin/", sudo: true }`),
    [
      "inv.yaml:10:35 all.vars.haplay_lb.vrrp_instances[0].hooks.cloud_vip.command: with sudo: " +
      "'/usr/local/sbin/' ends in '/' (sudo would grant every program in that directory)",
    ],
  );
  assert.deepEqual(
    await lintOf(
      `            notify_backup:
              - command: /usr/local/bin/move-vip
                sudo: true
                env: { API_TOKEN: !env TOK }`,
      { TOK: "tok-3f9a1c77" },
    ),
    [
      "inv.yaml:13:22 all.vars.haplay_lb.vrrp_instances[0].hooks.notify_backup[0].env: env " +
      "cannot go through sudo (sudo resets the environment): run this hook without sudo, or let " +
      "the root command read its own root-only file",
    ],
  );
  // a secret inside a command line: it would be in every user's process list
  const secretInCommand = await lintOf(
    `            cloud_vip: { command: !env MOVE_CMD }`,
    { MOVE_CMD: "/usr/local/bin/move-vip --token tok-3f9a1c77" },
  );
  assert.equal(secretInCommand.length, 1);
  assert.match(secretInCommand[0], /^inv\.yaml:10:35 .*cloud_vip\.command: contains a secret/);
  assert.doesNotMatch(secretInCommand.join("\n"), /tok-3f9a1c77/);
  assert.deepEqual(
    await lintOf(
      `            notify_master:
              - { command: "/usr/local/bin/move-vip", sudo: true }
            cloud_vip:
              command: /usr/local/bin/aws-move
              env: { API_TOKEN: !env TOK, REGION: eu-west-1 }`,
      { TOK: "tok-3f9a1c77" },
    ),
    [],
  );
});

Deno.test('security: sudoers lines: "" after an argument-less program, words escaped', () => {
  assert.equal(sudoersCommand("/usr/local/bin/move-vip"), '/usr/local/bin/move-vip ""');
  assert.equal(sudoersCommand("/usr/local/bin/m a:b=c,d"), "/usr/local/bin/m a\\:b\\=c\\,d");
  const content = sudoersContent("keepalived_script", [
    "/usr/local/bin/move-vip",
    "/usr/local/sbin/haplay-bypass-ipvs add 198.18.1.100",
  ]);
  assert.match(
    content,
    /^keepalived_script ALL=\(root\) NOPASSWD: \/usr\/local\/bin\/move-vip "", \\$/m,
  );
  assert.match(content, /^ {4}\/usr\/local\/sbin\/haplay-bypass-ipvs add 198\.18\.1\.100$/m);
});

Deno.test({
  name: 'security: visudo accepts the drop-in, and sudo\'s own parser reads "" as no arguments',
  ignore: new Deno.Command("sh", { args: ["-c", "command -v visudo"] }).outputSync().code !== 0,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "haplay-sec-sudoers-" });
    try {
      const content = sudoersContent("keepalived_script", ["/usr/local/bin/move-vip"]);
      await Deno.writeTextFile(`${dir}/s`, content);
      const r = await new Deno.Command("visudo", { args: ["-cf", `${dir}/s`] }).output();
      assert.equal(r.code, 0, dec(r.stdout) + dec(r.stderr));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("security: the sudo lines of hooks, and the programs the drop-in task checks", async () => {
  const inv = await inventoryFrom(INV(`            notify_master:
              - { command: "/usr/local/bin/move-vip", sudo: true }
              - { command: "/usr/local/bin/move-vip --to 198.19.10.100", sudo: true }`));
  const c = lbClusterOf("lb1", inv.hosts)!;
  assert.deepEqual(sudoCommands(c), [
    "/usr/local/bin/move-vip",
    "/usr/local/bin/move-vip --to 198.19.10.100",
  ]);
  const t = guardedSudoers(
    sudoers({ name: "haplay-keepalived", content: sudoersContent("k", sudoCommands(c)) }),
    sudoCommands(c),
  );
  assert.match(t.probe, /^hp_sudo_target \/usr\/local\/bin\/move-vip$/m);
  assert.equal(t.probe.match(/^hp_sudo_target /gm)?.length, 1, "each program once");
  const missing = "exists=0\nend=1\n";
  const okFacts = `${missing}sudo_target=/usr/local/bin/move-vip|ok\n`;
  const created = t.plan(okFacts);
  assert.equal(created.kind, "change");
  assert.match(
    created.kind === "change" ? created.apply : "",
    /hp_sudo_target .*\n[^]*hp_put_file/,
  );
  const unsafe = t.plan(
    `${missing}sudo_target=/usr/local/bin/move-vip|bad|/usr/local/bin|keepalived_script|755|not owned by root\n`,
  );
  assert.equal(unsafe.kind, "change");
  if (unsafe.kind === "change") {
    assert.match(
      unsafe.summary,
      /^sudo hook \/usr\/local\/bin\/move-vip: \/usr\/local\/bin is owned by keepalived_script with mode 755 \(not owned by root\); refusing/,
    );
    assert.doesNotMatch(unsafe.apply, /hp_put_file/, "nothing written");
  }
  assert.match(
    sudoTargetProblems(missing, ["/usr/local/bin/move-vip"]).join(""),
    /not probed/,
    "no fact: refused",
  );
});

Deno.test({
  name: "security: the owner/mode check on real directories (root-owned, writable, symlinked)",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    // under /run (root 0755), not /tmp (1777: everything below it would be unsafe)
    const dir = await Deno.makeTempDir({ prefix: "haplay-sec-target-", dir: "/run" });
    try {
      await Deno.chmod(dir, 0o755);
      const base = `${dir}/root`;
      await Deno.mkdir(`${base}/ok`, { recursive: true });
      await Deno.mkdir(`${base}/gw`, { mode: 0o775 });
      await Deno.chmod(`${base}/gw`, 0o775);
      await Deno.mkdir(`${base}/user`);
      await Deno.chown(`${base}/user`, 65534, 65534);
      await Deno.writeTextFile(`${base}/ok/prog`, "#!/bin/sh\n", { mode: 0o755 });
      await Deno.writeTextFile(`${base}/ok/ww`, "#!/bin/sh\n");
      await Deno.chmod(`${base}/ok/ww`, 0o757);
      await Deno.symlink(`${base}/user`, `${base}/ok/link`);
      const progs = [
        "/usr/sbin/iptables",
        "/usr/local/sbin/haplay-not-installed",
        `${base}/ok/prog`,
        `${base}/ok/ww`,
        `${base}/gw/prog`,
        `${base}/user/prog`,
        `${base}/ok/link/prog`,
        `${base}/ok`,
      ];
      const r = await new Deno.Command("sh", { args: ["-c", sudoTargetProbe(progs)] }).output();
      const lines = dec(r.stdout).trim().split("\n");
      assert.deepEqual(lines.slice(0, 3), [
        "sudo_target=/usr/sbin/iptables|ok",
        "sudo_target=/usr/local/sbin/haplay-not-installed|ok",
        `sudo_target=${base}/ok/prog|ok`,
      ]);
      const comp = (l: string) => l.split("|").slice(1, 6).join("|");
      assert.equal(comp(lines[3]), "bad|" + `${base}/ok/ww|root|757|group- or world-writable`);
      assert.equal(comp(lines[4]), "bad|" + `${base}/gw|root|775|group- or world-writable`);
      assert.equal(comp(lines[5]), "bad|" + `${base}/user|nobody|755|not owned by root`);
      // through the symlink: its real path is checked too
      assert.equal(comp(lines[6]), "bad|" + `${base}/user|nobody|755|not owned by root`);
      assert.equal(comp(lines[7]), "bad|" + `${base}/ok|-|-|a directory, not a program`);
      // the apply's guard (the state may change between probe and apply): fails on the first
      // unsafe program, before anything after it runs
      const guard = (ps: string[]) =>
        new Deno.Command("sh", { args: ["-c", `${sudoTargetGuard(ps)}\necho written`] }).output();
      const pass = await guard([`${base}/ok/prog`, "/usr/sbin/iptables"]);
      assert.equal(dec(pass.stdout), "written\n");
      const stop = await guard([`${base}/ok/prog`, `${base}/user/prog`]);
      assert.equal(stop.code, 1);
      assert.equal(dec(stop.stdout), "", "nothing after the guard ran");
      assert.match(
        dec(stop.stderr),
        new RegExp(
          `sudo hook ${base}/user/prog unsafe: .*\\|${base}/user\\|nobody\\|755\\|not owned by root`,
        ),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("security: hook secrets go to a 0640 env file sourced by the notify script, not argv", async () => {
  const inv = await inventoryFrom(
    INV(`            cloud_vip:
              command: /usr/local/bin/aws-move $REGION
              env: { API_TOKEN: !env TOK, REGION: eu-west-1 }`),
    { HAPLAY_VRRP_PASS: "t3stpass", TOK: "tok-3f9a1c77'; id #" },
  );
  const c = lbClusterOf("lb1", inv.hosts)!;
  const steps = notifySteps(c, c.cfg.vrrp_instances[0]).master;
  const script = notifyScriptText("VI_1", "master", steps, "keepalived_script");
  assert.doesNotMatch(script, /tok-3f9a1c77/);
  assert.match(script, /^\. \/etc\/keepalived\/haplay\/notify-VI_1-master\.env \|\| exit 1$/m);
  assert.match(script, /^step 'cloud VIP move' hp_with_env 0 timeout -k 5 60 sh -c /m);
  const env = notifyEnvText("VI_1", "master", steps);
  assert.match(env, /^ {2}export API_TOKEN='tok-3f9a1c77'\\''; id #'$/m);
  // run it: the command sees its environment, quoting holds
  const dir = await Deno.makeTempDir({ prefix: "haplay-sec-env-" });
  try {
    await Deno.writeTextFile(`${dir}/e.env`, env);
    const fake = script.replace("/etc/keepalived/haplay/notify-VI_1-master.env", `${dir}/e.env`)
      .replace(
        /sh -c '\/usr\/local\/bin\/aws-move \$REGION'/,
        `sh -c 'printf "%s|%s" "$API_TOKEN" "$REGION" > ${dir}/out'`,
      );
    const r = await new Deno.Command("sh", { args: ["-c", fake] }).output();
    assert.equal(r.code, 0, dec(r.stderr));
    assert.equal(await Deno.readTextFile(`${dir}/out`), "tok-3f9a1c77'; id #|eu-west-1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
