/**
 * Attacks on a deployed pair, run on the lab hosts as the users that could make them: the script
 * user `keepalived_script` (what a compromised notify hook runs as) and `nobody` (any local user).
 * Every future hook or root helper gets its attack here.
 *
 * One deploy (2 LBs, lab sh1 on 198.19.10.0/24): a same-box-dr instance VI_SB with two sudo
 * hooks (one without arguments) and a cloud VIP hook with an API token given through `env`, and
 * a bypass_ipvs instance VI_BY. Then:
 * - `sudo -ll` as keepalived_script lists exactly the command lines the notify scripts run;
 * - extra arguments to the argument-less hook, a `../` path, a hook in a directory the script
 *   user owns: refused, host unchanged (hashes, snapshots);
 * - bypass-ipvs add and vs-switch stop on the MASTER: refused, data path unchanged; verify flags
 *   a REDIRECT on the VIP holder; a deploy repairs an include link pointed at the empty file;
 * - nobody reads no secret: the named files, and a search of every file the host wrote and of
 *   every process's command line and environment while the cloud hook runs.
 *
 * Findings are collected and reported together (one lab run shows every broken defence).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { plays } from "../playbooks/site.ts";
import { lintLb } from "../lb/lint.ts";
import { labInventoryText } from "../lab/inventory.ts";
import { verifyLb } from "../lb/verify.ts";
import { e2e, withLab } from "./lab_fixture.ts";
import { snapshotDiff, snapshots } from "./snapshot.ts";
import { denoRun } from "./_cli.ts";

const VRRP_PASS = "Vp" + crypto.randomUUID().replaceAll("-", "").slice(0, 6);
const TOKEN = "sectok-" + crypto.randomUUID();
const VIP_SB = "198.19.10.5";
const VIP_BY = "198.19.10.100";
const K = "/etc/keepalived/haplay";
const HOOK = "/usr/local/sbin/sec-hook";
const CLOUD = "/usr/local/sbin/sec-cloud-move";
/** The secrets as grep patterns, written by the test (not by haplay) into each host. */
const PATTERNS = "/run/sec-test-patterns";

/** The inventory; `extraHook` is added to VI_SB's notify_master (the attack variants). */
function inventory(extraHook = ""): string {
  return `all:
  vars:
    haplay_lb:
      mode: same-box-dr
      vrrp_instances:
        - name: VI_SB
          virtual_router_id: 61
          advert_int: 1
          authentication: { type: PASS, auth_pass: !env SEC_VRRP_PASS }
          virtual_ipaddress: [${VIP_SB}/24]
          hooks:
            notify_master:
              - { command: ${HOOK}, sudo: true }
              - { command: ${HOOK} --to ${VIP_SB}, sudo: true }
${extraHook}
            cloud_vip:
              command: ${CLOUD} ${VIP_SB}
              timeout: 120
              env: { CLOUD_TOKEN: !env SEC_CLOUD_TOKEN }
        - name: VI_BY
          virtual_router_id: 62
          advert_int: 1
          authentication: { type: PASS, auth_pass: !env SEC_VRRP_PASS }
          bypass_ipvs: true
          virtual_ipaddress: [${VIP_BY}/24]
      services:
        - name: web
          vip: ${VIP_SB}
          port: 8000
          health_check: { type: TCP_CHECK }
  children:
    lb:
      hosts:
        h1: { ansible_host: 198.19.10.11, data_address: 198.19.10.11/24, vrrp_priority: 150 }
        h2: { ansible_host: 198.19.10.12, data_address: 198.19.10.12/24, vrrp_priority: 100 }
`;
}

const ENV = { SEC_VRRP_PASS: VRRP_PASS, SEC_CLOUD_TOKEN: TOKEN };

/** A root hook that logs its arguments; a cloud hook that proves it got the token, then waits. */
const HOOK_SH = `#!/bin/sh\necho "$(id -un) $*" >> /var/lib/sec-hook.log\n`;
const CLOUD_SH = `#!/bin/sh
printf '%s' "$CLOUD_TOKEN" | sha256sum | cut -c1-64 > /tmp/sec-cloud.sha
sleep 90
`;

async function sh(lab: Lab, host: string, cmd: string) {
  return await labExec(lab, host, ["sh", "-c", cmd]);
}

/** Runs `cmd` as `user` inside the host (runuser: no login, no password). */
async function as(lab: Lab, host: string, user: string, cmd: string) {
  return await labExec(lab, host, ["runuser", "-u", user, "--", "sh", "-c", cmd]);
}

async function until(what: string, ms: number, pred: () => Promise<boolean>) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Undoes sh's single quoting of one word (`'a'"'"'b'` -> `a'b`). */
function unquote(w: string): string {
  return w.replace(/'([^']*)'|"(')"|\\(.)/g, (_m, a, b, c) => a ?? b ?? c);
}

/** Every `sudo -n ...` command line of the notify scripts on a host, words joined by spaces. */
async function notifySudoLines(lab: Lab, host: string): Promise<string[]> {
  const text = (await sh(lab, host, `cat ${K}/notify-*.sh`)).stdout;
  const out = new Set<string>();
  for (const l of text.split("\n")) {
    const m = /^step .* sudo -n (.*)$/.exec(l);
    if (m) out.add(m[1].split(" ").map(unquote).join(" "));
  }
  return [...out].sort();
}

/** The Commands: of `sudo -ll` for the script user (long format: one command per line). */
function sudoListing(out: string): { commands: string[]; entries: number } {
  const commands: string[] = [];
  let entries = 0;
  let inCommands = false;
  for (const l of out.split("\n")) {
    if (/^Sudoers entry/.test(l)) {
      entries++;
      inCommands = false;
    } else if (/^\s+Commands:/.test(l)) inCommands = true;
    else if (inCommands && /^\t/.test(l)) commands.push(l.trim());
    else if (inCommands && l.trim() === "") inCommands = false;
  }
  return { commands: commands.sort(), entries };
}

e2e("security: the script user gets exactly its commands, nobody reads a secret", async () => {
  await withLab({ name: "sh1", subnet: "198.19.10.0/24", hosts: 2, aptRepo: true }, async (lab) => {
    const problems: string[] = [];
    const expect = (ok: boolean, what: string) => {
      if (!ok) problems.push(what);
    };
    const write = async (name: string, text: string) => {
      const path = `${lab.dir}/${name}`;
      await Deno.writeTextFile(path, labInventoryText(text, lab));
      return path;
    };
    for (const h of ["h1", "h2"]) {
      const r = await labExec(lab, h, [
        "sh",
        "-c",
        `cat > ${HOOK} <<'EOF'\n${HOOK_SH}EOF\ncat > ${CLOUD} <<'EOF'\n${CLOUD_SH}EOF\n` +
        `chmod 755 ${HOOK} ${CLOUD} && mkdir -p /srv/www && echo ok > /srv/www/index.html && ` +
        `{ busybox httpd -p 8000 -h /srv/www </dev/null >/dev/null 2>&1 & }`,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const log: string[] = [];
    const deploy = async (path: string) => {
      log.length = 0;
      const inv = await loadInventory(path, { env: ENV });
      return { inv, r: await runPlaybook(inv, plays, { log: (l) => log.push(l) }) };
    };
    const path = await write("sec.yaml", inventory());
    const inv0 = await loadInventory(path, { env: ENV });
    assert.deepEqual(lintLb(inv0).filter((i) => i.severity === "error"), []);
    const first = await deploy(path);
    assert.equal(first.r.ok, true, log.join("\n"));
    await until("h1 to hold both VIPs, switch on, h2 with its REDIRECT", 30000, async () => {
      const a = (await sh(lab, "h1", "ip -o -4 addr show dev eth0")).stdout;
      const link = (await sh(lab, "h1", `readlink ${K}/vs-VI_SB.active.conf`)).stdout;
      const nat2 = (await sh(lab, "h2", "iptables -t nat -S PREROUTING")).stdout;
      return a.includes(` ${VIP_SB}/`) && a.includes(` ${VIP_BY}/`) &&
        link.includes("master.conf") && nat2.includes(`${VIP_BY}/32 -p tcp -j REDIRECT`);
    });

    // --- item 3, while the cloud hook runs (it waits 90 s): its token is in its environment,
    // in no command line, and nobody can read any process's environment
    await until(
      "the cloud hook to run on h1",
      20000,
      async () => (await sh(lab, "h1", "cat /tmp/sec-cloud.sha 2>/dev/null")).stdout.length > 0,
    );
    const wantSha = (await sh(lab, "h1", `printf '%s' '${TOKEN}' | sha256sum | cut -c1-64`))
      .stdout;
    expect(
      (await sh(lab, "h1", "cat /tmp/sec-cloud.sha")).stdout === wantSha,
      "the cloud hook did not get CLOUD_TOKEN in its environment",
    );
    // the patterns come from a file the test writes (a pattern given to grep as an argument
    // would be found in grep's own command line); it is left out of the searches below
    for (const h of ["h1", "h2"]) {
      await labExec(lab, h, ["sh", "-c", `umask 022; cat > ${PATTERNS}`], {
        stdin: `${TOKEN}\n${VRRP_PASS}\n`,
      });
    }
    const procSearch = `grep -lsF -f ${PATTERNS} /proc/[0-9]*/cmdline /proc/[0-9]*/environ ` +
      `2>/dev/null; true`;
    const rootSeesEnv = (await sh(lab, "h1", procSearch)).stdout;
    expect(/environ/.test(rootSeesEnv), "control: root should find the token in the hook's env");
    expect(!/cmdline/.test(rootSeesEnv), `a secret is on a command line: ${rootSeesEnv}`);
    const nobodyProc = (await as(lab, "h1", "nobody", procSearch)).stdout.trim();
    expect(nobodyProc === "", `nobody finds a secret in ${nobodyProc}`);

    // --- nobody: the named files, then every file the deploy wrote
    for (const h of ["h1", "h2"]) {
      for (
        const f of [
          "/etc/keepalived/keepalived.conf",
          `${K}/notify-VI_SB-master.sh`,
          `${K}/notify-VI_SB-master.env`,
          "/etc/sudoers.d/haplay-keepalived",
        ]
      ) {
        const r = await as(lab, h, "nobody", `cat ${f}`);
        expect(r.code !== 0, `nobody can read ${h}:${f}`);
      }
      const j = await as(lab, h, "nobody", "ls /var/lib/haplay/runs");
      expect(j.code !== 0, `nobody can list ${h}:/var/lib/haplay/runs`);
      const mode = (await sh(
        lab,
        h,
        `stat -c '%a %U:%G' ${K}/notify-VI_SB-master.sh ${K}/notify-VI_SB-master.env`,
      ))
        .stdout.trim().split("\n");
      expect(
        mode[0] === "750 root:keepalived_script" && mode[1] === "640 root:keepalived_script",
        `${h}: notify script / env file modes ${mode.join(", ")}`,
      );
      // every file this host wrote is in its overlay upper dir (the lower layers predate the
      // secrets, made up for this run), plus its tmpfs mounts
      const upper = `${lab.dir}/fs/${h}/upper`;
      const files = [];
      for await (const p of walk(upper)) files.push(p.slice(upper.length));
      const search = `{ printf '%s\\0' "$@"; find /run /tmp /dev/shm -xdev -type f ` +
        `! -path ${PATTERNS} -print0; } | xargs -0 grep -lsF -f ${PATTERNS} --; true`;
      const asRoot = (await labExec(lab, h, ["sh", "-c", search, "sh", ...files])).stdout;
      expect(
        /keepalived\.conf/.test(asRoot) && /notify-VI_SB-master\.env/.test(asRoot),
        `control: root should find the secrets in keepalived.conf and the env file: ${asRoot}`,
      );
      const asNobody = (await labExec(lab, h, [
        "runuser",
        "-u",
        "nobody",
        "--",
        "sh",
        "-c",
        search,
        "sh",
        ...files,
      ])).stdout.trim();
      expect(asNobody === "", `${h}: nobody reads a secret in ${asNobody}`);
      console.log(`${h}: ${files.length} written files + tmpfs searched as nobody`);
    }

    // --- item 1: sudo -ll as the script user, line by line
    for (const h of ["h1", "h2"]) {
      const l = await as(lab, h, "keepalived_script", "sudo -n -ll");
      const listing = sudoListing(l.stdout);
      const want = (await notifySudoLines(lab, h)).map((c) => c.includes(" ") ? c : `${c} ""`)
        .sort();
      expect(want.length === 7, `${h}: notify scripts run ${want.length} sudo lines: ${want}`);
      expect(listing.entries === 1, `${h}: ${listing.entries} sudoers entries for the script user`);
      expect(
        JSON.stringify(listing.commands) === JSON.stringify(want),
        `${h}: sudo -ll lists\n${listing.commands.join("\n")}\nthe notify scripts run\n${
          want.join("\n")
        }`,
      );
    }
    // the argument-less hook runs, as root, with no arguments only
    const okRun = await as(lab, "h1", "keepalived_script", `sudo -n ${HOOK}`);
    expect(okRun.code === 0, `control: sudo ${HOOK} refused: ${okRun.stderr}`);
    const hookLog = () => sh(lab, "h1", "sha256sum /var/lib/sec-hook.log");
    const logBefore = (await hookLog()).stdout;
    const extra = await as(lab, "h1", "keepalived_script", `sudo -n ${HOOK} --anything '$(id)'`);
    expect(extra.code !== 0, "extra arguments to the argument-less hook ran");
    const dotdot = await as(
      lab,
      "h1",
      "keepalived_script",
      `printf '#!/bin/sh\\nid > /tmp/pwned\\n' > /tmp/failover; chmod 755 /tmp/failover; ` +
        `sudo -n /usr/local/bin/../../../tmp/failover; ls /tmp/pwned 2>/dev/null`,
    );
    expect(dotdot.stdout.trim() === "", "the ../ path ran as root");
    expect((await hookLog()).stdout === logBefore, "the hook log changed");

    // the ../ hook in the inventory: an inventory error with file:line:col and field, no host
    // contacted (the CLI exits 3), hosts unchanged
    const before = await snapshots(lab, ["h1", "h2"]);
    const dotPath = await write(
      "dotdot.yaml",
      inventory(`              - { command: /usr/local/bin/../../../tmp/failover, sudo: true }`),
    );
    const cli = await new Deno.Command(Deno.execPath(), {
      args: [
        ...denoRun(fileURLToPath(new URL("../engine/cli.ts", import.meta.url))),
        "deploy",
        dotPath,
      ],
      env: ENV,
    }).output();
    const cliOut = new TextDecoder().decode(cli.stdout) + new TextDecoder().decode(cli.stderr);
    expect(cli.code === 3, `deploy of a ../ hook exited ${cli.code}: ${cliOut}`);
    expect(
      new RegExp(
        `dotdot\\.yaml:20:\\d+ all\\.vars\\.haplay_lb\\.vrrp_instances\\[0\\]\\.hooks\\.` +
          `notify_master\\[2\\]\\.command: with sudo: '/usr/local/bin/\\.\\./\\.\\./\\.\\./tmp/` +
          `failover' is not normalised`,
      ).test(cliOut),
      `no positioned error for the ../ hook: ${cliOut}`,
    );

    // a hook in a directory the script user owns: the host refuses before sudoers changes
    for (const h of ["h1", "h2"]) {
      await sh(lab, h, `mkdir -p /opt/sechooks && chown keepalived_script /opt/sechooks`);
    }
    const sudoersSha = () => sh(lab, "h2", "sha256sum /etc/sudoers.d/haplay-keepalived");
    const shaBefore = (await sudoersSha()).stdout;
    const owned = await deploy(
      await write(
        "owned.yaml",
        inventory(`              - { command: /opt/sechooks/move, sudo: true }`),
      ),
    );
    const ownedLog = log.join("\n");
    expect(!owned.r.ok, "a hook in a directory the script user owns was deployed");
    expect(
      /sudo hook \/opt\/sechooks\/move: \/opt\/sechooks is owned by keepalived_script with mode 755/
        .test(ownedLog),
      `no clear refusal naming the path, owner and mode:\n${ownedLog}`,
    );
    expect((await sudoersSha()).stdout === shaBefore, "sudoers changed");
    const ownedRun = await as(
      lab,
      "h2",
      "keepalived_script",
      `printf '#!/bin/sh\\nid > /tmp/pwned\\n' > /opt/sechooks/move; chmod 755 /opt/sechooks/move; ` +
        `sudo -n /opt/sechooks/move; ls /tmp/pwned 2>/dev/null`,
    );
    expect(ownedRun.stdout.trim() === "", "the script user's own program ran as root");
    for (const h of ["h1", "h2"]) await sh(lab, h, "rm -rf /opt/sechooks");
    const after = await snapshots(lab, ["h1", "h2"]);
    for (const h of ["h1", "h2"]) {
      expect(
        before[h] === after[h],
        `${h} changed by the refused deploys:\n${snapshotDiff(before[h], after[h])}`,
      );
    }

    // --- item 2: the data path on the MASTER, as the script user
    const nat1 = () => sh(lab, "h1", "iptables -t nat -S PREROUTING");
    const link1 = () => sh(lab, "h1", `readlink ${K}/vs-VI_SB.active.conf`);
    const natBefore = (await nat1()).stdout;
    const linkBefore = (await link1()).stdout;
    const add = await as(
      lab,
      "h1",
      "keepalived_script",
      `sudo -n /usr/local/sbin/haplay-bypass-ipvs add ${VIP_BY}`,
    );
    expect(add.code !== 0, "bypass-ipvs add on the MASTER was not refused");
    expect((await nat1()).stdout === natBefore, "bypass-ipvs add changed the MASTER's nat table");
    const stop = await as(
      lab,
      "h1",
      "keepalived_script",
      `sudo -n /usr/local/sbin/haplay-vs-switch VI_SB stop ${VIP_SB}`,
    );
    expect(stop.code !== 0, "vs-switch stop on the MASTER was not refused");
    expect((await link1()).stdout === linkBefore, "vs-switch stop moved the MASTER's include");
    const nat2Before = (await sh(lab, "h2", "iptables -t nat -S PREROUTING")).stdout;
    const del = await as(
      lab,
      "h2",
      "keepalived_script",
      `sudo -n /usr/local/sbin/haplay-bypass-ipvs del ${VIP_BY}`,
    );
    expect(del.code !== 0, "bypass-ipvs del on the BACKUP was not refused");
    expect(
      (await sh(lab, "h2", "iptables -t nat -S PREROUTING")).stdout === nat2Before,
      "bypass-ipvs del changed the BACKUP's nat table",
    );

    // verify flags a REDIRECT on the VIP holder (put there as root)
    await sh(lab, "h1", `iptables -t nat -A PREROUTING -d ${VIP_BY}/32 -p tcp -j REDIRECT`);
    const inv = await loadInventory(path, { env: ENV });
    const flagged = (await verifyLb({ inventory: inv, log: () => {} })).filter((c) => !c.ok);
    expect(
      flagged.some((c) => c.check === "bypass_ipvs VI_BY" && c.host === "h1"),
      `verify did not flag the REDIRECT on the MASTER: ${JSON.stringify(flagged)}`,
    );
    await sh(lab, "h1", `/usr/local/sbin/haplay-bypass-ipvs purge ${VIP_BY}`);

    // a deploy repairs the include link pointed at the empty file (as root)
    await sh(lab, "h1", `ln -sfn ${K}/vs-empty.conf ${K}/vs-VI_SB.active.conf`);
    const repair = await deploy(path);
    expect(repair.r.ok, `repair deploy failed:\n${log.join("\n")}`);
    expect(
      /repair .*vs-VI_SB\.active\.conf -> .*vs-VI_SB\.master\.conf/.test(log.join("\n")),
      `the deploy did not say it repairs the link:\n${log.join("\n")}`,
    );
    expect((await link1()).stdout.includes("master.conf"), "the include link was not repaired");
    const checks = (await verifyLb({ inventory: inv, log: () => {} })).filter((c) => !c.ok);
    expect(checks.length === 0, `verify after the repair: ${JSON.stringify(checks)}`);

    // no secret in anything the runs printed
    expect(!log.join("\n").includes(TOKEN), "the token in the output");
    assert.deepEqual(problems, [], problems.join("\n---\n"));
  });
});

/** Every file below `dir` (not following symlinks). */
async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(p);
    else if (e.isFile) yield p;
  }
}
