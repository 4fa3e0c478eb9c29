// deno-lint-ignore-file no-explicit-any -- the mapped section is read field by field
/**
 * `deno task import` against a hand-built load balancer: seed 001 (keepalived + LVS-DR pair,
 * real servers accepting the VIP by iptables REDIRECT persisted with netfilter-persistent, the
 * bypass_ipvs.sh notify script) built by plain shell over SSH, not by haplay; then the import:
 * nothing changes on any host (snapshots), sshd logs exactly one exec per host, the VRRP
 * password is only in the 0600 secret file, the output loads, lints and plans.
 * Lab k2imp on 198.19.155.0/24.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { e2e, withLab } from "./lab_fixture.ts";
import { probeLoop } from "./_vip_probe.ts";
import type { Lab } from "../lab/lab.ts";
import { snapshot, snapshotDiff, sshdSessions } from "./snapshot.ts";
import { denoRun } from "./_cli.ts";
import { loadInventory } from "../engine/inventory.ts";
import { lintLb } from "../lb/lint.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const NET = "198.19.155";
const VIP = `${NET}.100`;

/** Runs a shell script on a lab host over SSH, as an operator would (ssh host sh -s). */
async function ssh(lab: Lab, host: string, script: string): Promise<string> {
  const p = new Deno.Command("ssh", {
    args: ["-F", lab.sshConfig, host, "sh -s"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(script));
  await w.close();
  const r = await p.output();
  const out = new TextDecoder().decode(r.stdout);
  assert.equal(r.code, 0, `${host}: ${new TextDecoder().decode(r.stderr)}\n${out}`);
  return out;
}

/** The seed's keepalived.conf for one LB (its words, lab addresses; the virtual_server moved
 * into an included file, to import a config spread over a relative glob include). */
function keepalivedConf(state: string, priority: number, pass: string): string {
  return `# Global Configuration
global_defs {
notification_email {
notification@domain.org
}
notification_email_from keepalived@domain.org
smtp_server localhost
smtp_connect_timeout 30
router_id LVS_MASTER # string identifying the machine
}
# describe virtual service ip
vrrp_instance VI_1 {
# initial state
state ${state}
interface eth0
# arbitary unique number 0..255
virtual_router_id 1
# for electing MASTER, highest priority wins.
priority ${priority}
authentication {
auth_type PASS
auth_pass ${pass}
}
virtual_ipaddress {
${VIP}/24
}
# Invoked to master transition
notify_master "/etc/keepalived/bypass_ipvs.sh del ${VIP}"
# Invoked to slave transition
notify_backup "/etc/keepalived/bypass_ipvs.sh add ${VIP}"
# Invoked to fault transition
notify_fault "/etc/keepalived/bypass_ipvs.sh add ${VIP}"
}
include conf.d/*.conf
`;
}

const VIRTUAL_SERVER = `# describe virtual web server
virtual_server ${VIP} 80 {
delay_loop 30
lb_algo rr
lb_kind DR
persistence_timeout 50
protocol TCP
real_server ${NET}.13 80 {
HTTP_GET {
url {
path /index.html
}
connect_timeout 3
nb_get_retry 3
delay_before_retry 2
}
}
real_server ${NET}.14 80 {
HTTP_GET {
url {
path /index.html
}
connect_timeout 3
nb_get_retry 3
delay_before_retry 2
}
}
}
`;

/** The seed's bypass_ipvs.sh: on BACKUP/FAULT the LB accepts the VIP locally, on MASTER not. */
const BYPASS_IPVS = `#!/bin/sh
# bypass_ipvs.sh add|del VIP
rule="PREROUTING -t nat -d $2 -p tcp -j REDIRECT"
case "$1" in
  add) iptables -C $rule 2>/dev/null || iptables -A $rule ;;
  del) iptables -D $rule 2>/dev/null || true ;;
esac
`;

/** The hand procedure of one LB (install is the machine's: keepalived is already there). */
export function lbProcedure(state: string, priority: number, pass: string): string {
  return `set -e
mkdir -p /etc/keepalived/conf.d
cat > /etc/keepalived/keepalived.conf <<'EOF'
${keepalivedConf(state, priority, pass)}EOF
cat > /etc/keepalived/conf.d/web.conf <<'EOF'
${VIRTUAL_SERVER}EOF
cat > /etc/keepalived/bypass_ipvs.sh <<'EOF'
${BYPASS_IPVS}EOF
chmod 755 /etc/keepalived/bypass_ipvs.sh
# no IPVS in the lab's kernel: keepalived runs VRRP only, the virtual_server stays in the config
echo 'DAEMON_ARGS="--vrrp"' > /etc/default/keepalived
sed -i 's/^#\\{0,1\\}net.ipv4.ip_forward.*/net.ipv4.ip_forward = 1/' /etc/sysctl.conf
grep -q '^net.ipv4.ip_forward = 1' /etc/sysctl.conf || echo 'net.ipv4.ip_forward = 1' >> /etc/sysctl.conf
sysctl -w net.ipv4.ip_forward=1 >/dev/null
/etc/init.d/keepalived restart >/dev/null 2>&1 || /etc/init.d/keepalived start
`;
}

export const REAL_PROCEDURE = `set -e
# the seed's web server (nginx there; busybox httpd here), serving /index.html on :80
mkdir -p /var/www && echo hello > /var/www/index.html
{ busybox httpd -p 80 -h /var/www </dev/null >/dev/null 2>&1 & }
iptables -A PREROUTING -t nat -d ${VIP} -p tcp -j REDIRECT
mkdir -p /etc/iptables
iptables-save > /etc/iptables/rules.v4
`;

async function until(what: string, ms: number, pred: () => Promise<boolean>) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function run(args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  };
}

e2e(
  "import: hand-built seed 001 → inventory, one read-only exec per host, secret kept apart",
  async () => {
    const pass = "k2" + crypto.randomUUID().replaceAll("-", "").slice(0, 6);
    await withLab({ name: "k2imp", subnet: `${NET}.0/24`, hosts: 4 }, async (lab) => {
      // the hand-built setup, by plain shell over SSH: BACKUP first, then MASTER (as the seed says)
      await ssh(lab, "h2", lbProcedure("BACKUP", 50, pass));
      await ssh(lab, "h1", lbProcedure("MASTER", 100, pass));
      for (const h of ["h3", "h4"]) await ssh(lab, h, REAL_PROCEDURE);
      // the service the VIP carries: each LB answers its own name on :8080 (a probe target)
      for (const h of ["h1", "h2"]) {
        await ssh(
          lab,
          h,
          "mkdir -p /srv/vip && hostname > /srv/vip/index.html && " +
            "{ busybox httpd -p 8080 -h /srv/vip </dev/null >/dev/null 2>&1 & }",
        );
      }
      await until(
        "the VIP on h1 only",
        20000,
        async () =>
          (await ssh(lab, "h1", "ip -o addr show dev eth0")).includes(` ${VIP}/`) &&
          !(await ssh(lab, "h2", "ip -o addr show dev eth0")).includes(` ${VIP}/`) &&
          // h2's notify_backup ran (its bypass REDIRECT rule is in)
          (await ssh(lab, "h2", "iptables-save -t nat")).includes(`-d ${VIP}/32`),
      );
      await new Promise((r) => setTimeout(r, 1500));

      // the inventory an operator writes: hosts and how to reach them (lb2 as a sudo user)
      const input = `${lab.dir}/hosts.yaml`;
      await Deno.writeTextFile(
        input,
        `all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: ${JSON.stringify(lab.keyFile)}
    haplay_known_hosts: ${JSON.stringify(lab.knownHosts)}
  children:
    lb:
      hosts:
        lb1: { ansible_host: ${NET}.11 }
        lb2: { ansible_host: ${NET}.12, ansible_user: deploy, ansible_become: true }
    real:
      hosts:
        web1: { ansible_host: ${NET}.13 }
        web2: { ansible_host: ${NET}.14 }
`,
      );
      const names = lab.hosts.map((h) => h.name);
      const before = await Promise.all(names.map((h) => snapshot(lab, h)));
      const s0 = await Promise.all(names.map((h) => sshdSessions(lab, h)));
      const output = `${lab.dir}/imported.yaml`;
      const r = await run(denoRun(`${ROOT}lb/import_cli.ts`, input, "-o", output));
      const s1 = await Promise.all(names.map((h) => sshdSessions(lab, h)));
      const after = await Promise.all(names.map((h) => snapshot(lab, h)));
      assert.equal(r.code, 0, r.stdout + r.stderr);
      console.log(r.stdout);

      // nothing changed on any host, and each was contacted with exactly one exec
      names.forEach((h, i) =>
        assert.equal(after[i], before[i], `${h}: ${snapshotDiff(before[i], after[i])}`)
      );
      assert.deepEqual(
        Object.fromEntries(names.map((h, i) => [h, s1[i] - s0[i]])),
        { h1: 1, h2: 1, h3: 1, h4: 1 },
        "SSH execs per host during the import",
      );

      // the password: only in the 0600 secret file
      const text = await Deno.readTextFile(output);
      for (const [what, s] of [["stdout", r.stdout], ["stderr", r.stderr], ["inventory", text]]) {
        assert.ok(!s.includes(pass), `the password appears in the import's ${what}`);
      }
      const secret = `${lab.dir}/imported.VI_1.auth_pass`;
      assert.equal((await Deno.readTextFile(secret)).trim(), pass);
      assert.equal((await Deno.stat(secret)).mode! & 0o777, 0o600);
      assert.match(text, /auth_pass: !file imported\.VI_1\.auth_pass/);

      // what it mapped: the model of seed 001, and the notes name what it could not keep
      const inv = await loadInventory(output);
      const lb = inv.hosts.get("lb1")!.vars.haplay_lb as Record<string, any>;
      assert.equal(lb.mode, "dr");
      assert.equal(lb.vip_method, "redirect");
      assert.equal(lb.vrrp_instances[0].bypass_ipvs, true);
      assert.deepEqual(lb.vrrp_instances[0].virtual_ipaddress, [`${VIP}/24`]);
      assert.deepEqual(lb.services[0].health_check, {
        type: "HTTP_GET",
        path: "/index.html",
        connect_timeout: 3,
        retry: 3,
        delay_before_retry: 2,
      });
      assert.equal(lb.services[0].persistence_timeout, 50);
      assert.equal(inv.hosts.get("lb1")!.vars.vrrp_priority, 100);
      assert.equal(inv.hosts.get("lb2")!.vars.vrrp_priority, 50);
      assert.equal(inv.hosts.get("lb1")!.vars.data_address, `${NET}.11/24`);
      assert.equal(inv.hosts.get("lb2")!.vars.ansible_user, "deploy", "connection vars kept");
      assert.equal(inv.hosts.get("lb2")!.vars.ansible_become, true);
      assert.match(r.stdout, /notification_email_from keepalived@domain\.org|global_defs/);
      const issues = lintLb(inv);
      assert.deepEqual(issues.filter((i) => i.severity === "error"), [], "lint errors");

      // plan on it: runs against the hand-built hosts, shows what the first deploy would change
      const plan = await run(denoRun(`${ROOT}engine/cli.ts`, "plan", output));
      assert.ok([0, 2].includes(plan.code), plan.stdout + plan.stderr);
      assert.ok(!(plan.stdout + plan.stderr).includes(pass), "the password appears in the plan");
      // the semantic summary: only what haplay itself adds or renames, every hand-built option kept
      const words = plan.stdout.split("\n").filter((l) => l.startsWith("  ")).join("\n");
      assert.match(
        plan.stdout,
        /lb1: \[would-change\] keepalived\.conf: .*\nkeepalived\.conf in words:/,
      );
      assert.match(words, /global_defs: enable_script_security added/);
      assert.match(
        words,
        /VI_1: notify_master .*bypass_ipvs\.sh del .* → \/etc\/keepalived\/haplay\/notify-VI_1-master\.sh/,
      );
      assert.doesNotMatch(
        words,
        /notification_email|smtp_server|priority|virtual_router_id|persistence_timeout|real server .* removed/,
      );
      console.log(words);

      // the takeover: deploy with a client probing a service on the VIP every 100 ms; rolling
      // (BACKUP first), reloads only (same PIDs), the VIP never leaves the MASTER
      const pids = await Promise.all(["h1", "h2"].map((h) => ssh(lab, h, "pidof keepalived")));
      const probe = probeLoop(`http://${VIP}:8080/`);
      await new Promise((r) => setTimeout(r, 500));
      const t0 = performance.now();
      const dep = await run(denoRun(`${ROOT}engine/cli.ts`, "deploy", output));
      const deployMs = Math.round(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 1500));
      const stats = await probe.stop();
      assert.equal(dep.code, 0, dep.stdout + dep.stderr);
      assert.ok(!(dep.stdout + dep.stderr).includes(pass), "the password appears in the deploy");
      assert.match(dep.stdout, /order: .*lb2, lb1/, "BACKUP first, MASTER last");
      assert.doesNotMatch(dep.stdout, /\[handler\] restart keepalived/, dep.stdout);
      assert.match(dep.stdout, /lb1: \[handler\] reload keepalived/);
      assert.deepEqual(
        await Promise.all(["h1", "h2"].map((h) => ssh(lab, h, "pidof keepalived"))),
        pids,
        "reloaded, not restarted",
      );
      assert.equal(stats.failed, 0, `failed probes during the takeover: ${stats.failures}`);
      assert.ok(stats.ok >= 20, `only ${stats.ok} probes`);
      assert.deepEqual([...stats.answers.keys()], ["h1"], "the VIP stayed on the MASTER");
      console.log(
        `takeover deploy: ${deployMs} ms, ${stats.ok} probes, ${stats.failed} failed, ` +
          `answers ${JSON.stringify(Object.fromEntries(stats.answers))}`,
      );

      // and back: rollback restores the hand-built hosts exactly
      const rb = await run(denoRun(`${ROOT}engine/cli.ts`, "rollback", output));
      assert.equal(rb.code, 0, rb.stdout + rb.stderr);
      await until(
        "the VIP on h1 after the rollback",
        20000,
        async () =>
          (await ssh(lab, "h1", "ip -o addr show dev eth0")).includes(` ${VIP}/`) &&
          (await ssh(lab, "h2", "iptables-save -t nat")).includes(`-d ${VIP}/32`),
      );
      const back = await Promise.all(names.map((h) => snapshot(lab, h)));
      names.forEach((h, i) =>
        assert.equal(back[i], before[i], `${h} after rollback: ${snapshotDiff(before[i], back[i])}`)
      );
    });
  },
);
