/**
 * Issue 19 items 4-7 against real lab hosts: host keys decided as OpenSSH decides them (the
 * real `ssh` client run on the same known_hosts as the referee), a wrong become password
 * (one sudo attempt, sudo's line in the output and recap, no secret anywhere), journal modes
 * and `history --purge-secrets`, and a ProxyJump chain h1 -> h2 -> h3 with per-hop host keys.
 * Labs ss1..ss4, subnets 198.19.20-24.0/24.
 */
import assert from "node:assert/strict";
import { e2e, withLab } from "./lab_fixture.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { SshSession } from "../engine/ssh.ts";
import { file } from "../tasks/file.ts";
import type { Play } from "../engine/types.ts";
import { CLI_PERMS } from "./_cli.ts";

const REPO = new URL("..", import.meta.url).pathname;
const PERMS = CLI_PERMS;

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, `${REPO}engine/cli.ts`, ...args, "--ssh-config", "/dev/null"],
    cwd: REPO,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

/** A playbook module writing `files` (path -> [mode, content]) on every host. */
async function playbook(lab: Lab, name: string, files: Record<string, [string, string]>) {
  const path = `${lab.dir}/${name}.ts`;
  const fileTs = new URL("../tasks/file.ts", import.meta.url).href;
  await Deno.writeTextFile(
    path,
    `import { file } from ${JSON.stringify(fileTs)};
export const plays = [{ name: ${JSON.stringify(name)}, hosts: "all", tasks: () => [
${
      Object.entries(files).map(([p, [mode, content]]) =>
        `  file({ path: ${JSON.stringify(p)}, mode: ${JSON.stringify(mode)}, content: ${
          JSON.stringify(content)
        } }),`
      ).join("\n")
    }
] }];
`,
  );
  return path;
}

/** The lab inventory with some `all.vars` lines replaced (key -> new value line). */
async function inventory(lab: Lab, name: string, vars: Record<string, string>): Promise<string> {
  let text = await Deno.readTextFile(lab.inventory);
  for (const [k, v] of Object.entries(vars)) {
    const re = new RegExp(`^    ${k}:.*$`, "m");
    text = re.test(text) ? text.replace(re, `    ${k}: ${v}`) : text.replace(
      "  vars:\n",
      `  vars:\n    ${k}: ${v}\n`,
    );
  }
  const path = `${lab.dir}/${name}.yaml`;
  await Deno.writeTextFile(path, text);
  return path;
}

async function sh(lab: Lab, host: string, script: string, stdin?: string): Promise<string> {
  const r = await labExec(lab, host, ["sh", "-c", script], { stdin });
  return r.stdout;
}

/** `<type> <base64>` of a fresh key pair's public half (a key no lab host has). */
async function otherKey(lab: Lab, type: "ed25519" | "ecdsa"): Promise<string> {
  const f = `${lab.dir}/other_${type}`;
  await new Deno.Command("ssh-keygen", { args: ["-q", "-t", type, "-N", "", "-f", f] }).output();
  return (await Deno.readTextFile(`${f}.pub`)).split(" ").slice(0, 2).join(" ");
}

/** `<type> <base64>` of a lab host's real key of `type`, from the lab's known_hosts. */
async function realKey(lab: Lab, host: string, type: string): Promise<string> {
  const l = (await Deno.readTextFile(lab.knownHosts)).split("\n").find((x) =>
    x.startsWith(`${host},`) && x.split(" ")[1] === type
  );
  assert.ok(l, `${host} ${type} in the lab's known_hosts`);
  return l.split(" ").slice(1, 3).join(" ");
}

/** The real OpenSSH client, strict, CheckHostIP on, as Ansible runs it: `ssh root@ADDRESS`. */
async function openssh(lab: Lab, kh: string, ip: string): Promise<{ ok: boolean; err: string }> {
  const o = await new Deno.Command("ssh", {
    args: [
      "-F",
      "/dev/null",
      "-o",
      `UserKnownHostsFile=${kh}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "CheckHostIP=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "HostKeyAlgorithms=ssh-ed25519",
      "-o",
      "ConnectTimeout=10",
      "-i",
      lab.keyFile,
      `root@${ip}`,
      "true",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ok: o.code === 0, err: new TextDecoder().decode(o.stderr) };
}

e2e(
  "host keys: decided as OpenSSH decides (address first, any contradiction refuses, file:line named)",
  async () => {
    await withLab({ name: "ss1", subnet: "198.19.20.0/24", hosts: 1 }, async (lab) => {
      const ip = lab.hosts[0].ip;
      const real = await realKey(lab, "h1", "ssh-ed25519");
      const other = await otherKey(lab, "ed25519");
      const pb = await playbook(lab, "hk", { "/etc/ss-hostkey.conf": ["0644", "hostkey\n"] });
      // `openssh` differs from `accepted` only where haplay is documented to differ: a key
      // recorded under the inventory name alone (haplay's own fallback name).
      const cases: Array<
        {
          name: string;
          lines: string[];
          accepted: boolean;
          openssh?: boolean;
          opensshSays?: RegExp;
          why?: RegExp;
        }
      > = [
        {
          name: "wrong key under the address, right one under the name",
          lines: [`${ip} ${other}`, `h1 ${real}`],
          accepted: false,
          opensshSays: /REMOTE HOST IDENTIFICATION HAS CHANGED/,
          why: new RegExp(
            `REMOTE HOST IDENTIFICATION HAS CHANGED: .*does NOT match the key recorded for ` +
              `${ip.replaceAll(".", "\\.")} in \\S+/kh-0:2`,
          ),
        },
        {
          name: "right key under the address, another one under the name",
          lines: [`${ip} ${real}`, `h1 ${other}`],
          accepted: true,
        },
        {
          name: "revoked for every name (@revoked *), right key under the address",
          lines: [`${ip} ${real}`, `@revoked * ${real}`],
          accepted: false,
          opensshSays: /REVOKED HOST KEY DETECTED/,
          why: /REVOKED HOST KEY: .*marked @revoked for 198\.19\.20\.11 in \S+\/kh-2:3/,
        },
        {
          name: "another key under the inventory name only",
          lines: [`h1 ${other}`],
          accepted: false,
          opensshSays: /No ED25519 host key is known for 198\.19\.20\.11/,
          why: /REMOTE HOST IDENTIFICATION HAS CHANGED: .*recorded for h1 in \S+\/kh-3:2/,
        },
        {
          name: "the right key under the inventory name only",
          lines: [`h1 ${real}`],
          accepted: true,
          openssh: false, // OpenSSH never looks the name up
          opensshSays: /No ED25519 host key is known for 198\.19\.20\.11/,
        },
      ];
      for (const [i, c] of cases.entries()) {
        const kh = `${lab.dir}/kh-${i}`;
        await Deno.writeTextFile(kh, `# case ${i}\n${c.lines.join("\n")}\n`);
        const ref = await openssh(lab, kh, ip);
        assert.equal(ref.ok, c.openssh ?? c.accepted, `OpenSSH on "${c.name}": ${ref.err}`);
        if (c.opensshSays) assert.match(ref.err, c.opensshSays, c.name);
        await sh(lab, "h1", "rm -f /etc/ss-hostkey.conf");
        const inv = await inventory(lab, `hk-${i}`, { haplay_known_hosts: kh });
        const r = await cli(["deploy", inv, pb]);
        const onHost = await sh(lab, "h1", "cat /etc/ss-hostkey.conf 2>/dev/null || echo ABSENT");
        if (c.accepted) {
          assert.equal(r.code, 0, `${c.name}: ${r.out}`);
          assert.equal(onHost, "hostkey\n", c.name);
        } else {
          assert.equal(r.code, 1, `${c.name}: ${r.out}`);
          assert.match(r.out, c.why!, c.name);
          assert.match(r.out, /^h1 +0 +0 +0 +0 +1 +0$/m, `${c.name}: recap counts it unreachable`);
          assert.equal(onHost, "ABSENT\n", `${c.name}: nothing changed on the host`);
        }
      }
    });
  },
);

e2e(
  "become: a wrong password fails with sudo's line, one attempt, counted failed, no secret shown",
  async () => {
    await withLab({ name: "ss2", subnet: "198.19.21.0/24", hosts: 1 }, async (lab) => {
      const right = "R1ght-" + crypto.randomUUID().slice(0, 8);
      const wrong = "Wr0ng-" + crypto.randomUUID().slice(0, 8);
      // A user sudo asks a password of (the lab's deploy user has NOPASSWD).
      await sh(
        lab,
        "h1",
        `set -e; useradd -m -s /bin/sh ssbecome; IFS= read -r pw; echo "ssbecome:$pw" | chpasswd
echo 'ssbecome ALL=(ALL) ALL' > /etc/sudoers.d/ssbecome; chmod 440 /etc/sudoers.d/ssbecome
mkdir -p /home/ssbecome/.ssh; cp /root/.ssh/authorized_keys /home/ssbecome/.ssh/
chown -R ssbecome: /home/ssbecome/.ssh; : > /var/log/syslog`,
        right + "\n",
      );
      const inv = await inventory(lab, "become", {
        ansible_user: "ssbecome",
        ansible_become: "true",
        ansible_become_password: "!env SS_BECOME_PW",
      });
      const pb = await playbook(lab, "become", { "/etc/ss-become.conf": ["0644", "become\n"] });
      const report = `${lab.dir}/become-report.json`;
      const bad = await cli(["deploy", inv, pb, "--report", report], { SS_BECOME_PW: wrong });
      const rep = await Deno.readTextFile(report);
      assert.equal(bad.code, 1, bad.out);
      assert.match(
        bad.out,
        /^h1: failed - probe failed: become failed: sudo as ssbecome: 1 incorrect password attempt$/m,
      );
      assert.match(bad.out, /^h1 +0 +0 +1 +0 +0 +1$/m, "recap: 1 failed, 1 exec");
      assert.match(rep, /1 incorrect password attempt/);
      for (const text of [bad.out, rep]) {
        assert.ok(!text.includes(wrong) && !text.includes(right), "no password in output/report");
      }
      const log = await sh(lab, "h1", "cat /var/log/syslog");
      const fails = log.split("\n").filter((l) =>
        /pam_unix\(sudo:auth\): authentication failure/.test(l)
      );
      assert.equal(fails.length, 1, `one PAM attempt, not passwd_tries:\n${log}`);
      assert.match(log, /ssbecome : 1 incorrect password attempt/);
      assert.ok(!log.includes(wrong), "the password is in no host log either");
      assert.equal(
        await sh(lab, "h1", "test -e /etc/ss-become.conf && echo yes || echo no"),
        "no\n",
      );
      // The right password still works through the same helper.
      const good = await cli(["deploy", inv, pb], { SS_BECOME_PW: right });
      assert.equal(good.code, 0, good.out);
      assert.ok(!good.out.includes(right));
      assert.equal(
        await sh(lab, "h1", "stat -c '%U %a' /etc/ss-become.conf"),
        "root 644\n",
      );
      // NOPASSWD (the lab's deploy user) with a password set: sudo never asks, the password
      // line is consumed by the wrapper and never reaches the script.
      const nopw = await inventory(lab, "become-nopw", {
        ansible_user: "deploy",
        ansible_become: "true",
        ansible_become_password: "!env SS_BECOME_PW",
      });
      const pb2 = await playbook(lab, "become2", { "/etc/ss-become-2.conf": ["0644", "nopw\n"] });
      const np = await cli(["deploy", nopw, pb2], { SS_BECOME_PW: wrong });
      assert.equal(np.code, 0, np.out);
      assert.equal(await sh(lab, "h1", "cat /etc/ss-become-2.conf"), "nopw\n");
    });
  },
);

e2e(
  "journal: written 0600/0700; --purge-secrets removes an old VRRP password, rollback says so",
  async () => {
    await withLab({ name: "ss3", subnet: "198.19.23.0/24", hosts: 1 }, async (lab) => {
      const inv = await inventory(lab, "journal", {});
      const old = "OldVrrp-" + crypto.randomUUID().slice(0, 8);
      const neu = "NewVrrp-" + crypto.randomUUID().slice(0, 8);
      const conf = "/etc/keepalived/keepalived.conf";
      const v = (pass: string, n: number) => ({
        [conf]: ["0640", `vrrp_instance VI_1 {\n  authentication { auth_pass ${pass} }\n}\n`],
        "/etc/ss-motd": ["0644", `motd ${n}\n`],
      } as Record<string, [string, string]>);
      for (const [i, pass] of [old, neu].entries()) {
        const r = await cli(["deploy", inv, await playbook(lab, `journal${i}`, v(pass, i))]);
        assert.equal(r.code, 0, r.out);
      }
      // Every directory 0700; every file haplay wrote 0600; saved copies keep their own mode
      // (needed to restore it) inside those directories.
      assert.equal(await sh(lab, "h1", "find /var/lib/haplay -type d ! -perm 700"), "");
      assert.equal(
        await sh(lab, "h1", "find /var/lib/haplay -type f -perm /077 ! -name 'path.*'"),
        "",
      );
      const files = await sh(lab, "h1", "find /var/lib/haplay -type f ! -name 'path.*' | wc -l");
      assert.ok(Number(files) > 20, `checked ${files.trim()} journal files`);
      assert.notEqual(await sh(lab, "h1", `grep -rl ${old} /var/lib/haplay`), "", "old pass kept");

      const p = await cli(["history", inv, "--purge-secrets"]);
      assert.equal(p.code, 0, p.out);
      assert.match(
        p.out,
        /^h1: \[purged\] file \/etc\/keepalived\/keepalived\.conf.*entry 0000\)$/m,
      );
      assert.match(p.out, /^h1: 1 saved pre-states purged; run list kept$/m);
      assert.ok(!p.out.includes(old));
      assert.equal(await sh(lab, "h1", `grep -rl ${old} /var/lib/haplay`), "", "old pass gone");
      const h = await cli(["history", inv]);
      assert.equal(h.out.split("\n").filter((l) => / done /.test(l)).length, 2, h.out);

      const rb = await cli(["rollback", inv]);
      assert.equal(rb.code, 1, rb.out);
      assert.match(
        rb.out,
        /^h1: \[CANNOT RESTORE\] file \/etc\/keepalived\/keepalived\.conf.*entry 0000\): its saved pre-state was deleted by history --purge-secrets$/m,
      );
      assert.match(rb.out, /^h1: \[restored\] file \/etc\/ss-motd/m);
      assert.match(rb.out, /^h1: failed - 1 entries not restored \(pre-state purged\)/m);
      assert.equal(await sh(lab, "h1", "cat /etc/ss-motd"), "motd 0\n");
      assert.match(await sh(lab, "h1", `cat ${conf}`), new RegExp(neu), "left as it is");
    });
  },
);

e2e(
  "ProxyJump: h3 reached only through h1 then h2, each hop checked under its own names and key types",
  async () => {
    await withLab({ name: "ss4", subnet: "198.19.24.0/24", hosts: 3 }, async (lab) => {
      const [h1, h2, h3] = lab.hosts;
      // h2 accepts SSH only from h1, h3 only from h2 (the controller is the bridge, P.1).
      for (const [h, from] of [[h2, h1], [h3, h2]]) {
        await sh(
          lab,
          h.name,
          `iptables -w -A INPUT -p tcp --dport 22 -s ${from.ip} -j ACCEPT && ` +
            `iptables -w -A INPUT -p tcp --dport 22 -j DROP`,
        );
      }
      const cfg = `${lab.dir}/chain_ssh_config`;
      await Deno.writeTextFile(
        cfg,
        `Host h3 ${h3.ip}\n  HostName ${h3.ip}\n  ProxyJump root@${h1.ip}:22,h2\n` +
          `Host h2\n  HostName ${h2.ip}\n`,
      );
      // h1 known only by its ECDSA key, h3 only by its ed25519 key: the hop must be offered
      // its own key types, not the target's.
      const kh = `${lab.dir}/chain_known_hosts`;
      const good = [
        `${h1.ip} ${await realKey(lab, "h1", "ecdsa-sha2-nistp256")}`,
        `${h2.ip} ${await realKey(lab, "h2", "ssh-ed25519")}`,
        `h3 ${await realKey(lab, "h3", "ssh-ed25519")}`,
      ];
      await Deno.writeTextFile(kh, good.join("\n") + "\n");
      const inv = await loadInventory(await inventory(lab, "chain", { haplay_known_hosts: kh }));
      const play = (path: string): Play => ({
        name: "through the chain",
        hosts: "h3",
        tasks: () => [file({ path, content: "via h1 and h2\n" })],
      });
      // Direct access is really blocked.
      await assert.rejects(
        SshSession.open({ ...inv.hosts.get("h3")!.connection, name: "h3" } as never, {
          sshConfigFile: "/dev/null",
          timeoutMs: 2000,
        }),
        /timed out/,
      );
      const lines: string[] = [];
      const r = await runPlaybook(inv, [play("/etc/ss-chain.conf")], {
        sshConfigFile: cfg,
        log: (l) => lines.push(l),
      });
      assert.equal(r.ok, true, lines.join("\n"));
      assert.equal(r.hosts[0].status, "changed");
      assert.equal(await sh(lab, "h3", "cat /etc/ss-chain.conf"), "via h1 and h2\n");
      const h3log = await sh(lab, "h3", "grep 'Accepted publickey' /var/log/sshd.log");
      assert.match(h3log, new RegExp(`for root from ${h2.ip.replaceAll(".", "\\.")} `));
      assert.doesNotMatch(h3log, new RegExp(`from (${lab.bridgeIp}|${h1.ip}) `));

      // A hop with a wrong key (h2 recorded with another ed25519 key): refused, h3 untouched.
      const other = await otherKey(lab, "ed25519");
      await Deno.writeTextFile(kh, [good[0], `${h2.ip} ${other}`, good[2]].join("\n") + "\n");
      const inv2 = await loadInventory(await inventory(lab, "chain2", { haplay_known_hosts: kh }));
      const r2 = await runPlaybook(inv2, [play("/etc/ss-chain-2.conf")], {
        sshConfigFile: cfg,
        log: (l) => lines.push(l),
      });
      assert.equal(r2.hosts[0].status, "unreachable");
      assert.match(
        r2.hosts[0].error ?? "",
        new RegExp(
          `REMOTE HOST IDENTIFICATION HAS CHANGED: the ssh-ed25519 host key of jump host h2 ` +
            `\\(${h2.ip.replaceAll(".", "\\.")}:22, SHA256:\\S+\\) does NOT match the key ` +
            `recorded for ${h2.ip.replaceAll(".", "\\.")} in \\S+chain_known_hosts:2`,
        ),
      );
      assert.equal(
        await sh(lab, "h3", "test -e /etc/ss-chain-2.conf && echo yes || echo no"),
        "no\n",
      );
    });
  },
);
