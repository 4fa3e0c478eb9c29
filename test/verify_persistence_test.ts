/**
 * Verify's persistence verdicts, without a lab: `verifyLb` through a scripted connector that
 * answers with verify outputs recorded on a systemd-networkd lab host (seed 000's node1:
 * persisted; lo and a sysctl overridden; after a rollback), and the pure judgements on facts for
 * the REDIRECT, MARK and fwmark pieces (seed 002) and systemd-sysctl's file order.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ScriptedConnectors } from "../engine/connector_fake.ts";
import type { VerifyCheck } from "../engine/playbook.ts";
import { verifyLb } from "../lb/verify.ts";
import { parseFacts, verifyPlans } from "../lb/verify_script.ts";
import {
  absentChecks,
  bootSysctl,
  liveExtraChecks,
  persistChecks,
  persistScript,
} from "../lb/verify_persist.ts";
import { loadExample } from "./roles/_fixtures.ts";

const FIX = fileURLToPath(new URL("./fixtures/verify/", import.meta.url));
const recorded = (name: string) => Deno.readTextFileSync(`${FIX}${name}.txt`);

/** verify of seed 000's node1, its one script answered with a recorded output. */
async function verifyRecorded(name: string, absent = false) {
  const inv = await loadExample("000");
  const fake = new ScriptedConnectors({
    node1: { answer: () => ({ code: 0, stdout: recorded(name), stderr: "" }) },
  });
  const checks = await verifyLb(
    { inventory: inv, limit: "node1", log: () => {}, absent },
    { connector: fake.factory },
  );
  assert.equal(fake.sent("node1").length, 1, "one exec per host");
  return checks;
}

const find = (checks: VerifyCheck[], check: string, has = "") =>
  checks.filter((c) => c.check === check && c.detail.includes(has));

Deno.test("verify persistence: recorded networkd host, everything persisted", async () => {
  const checks = await verifyRecorded("000-node1-persisted");
  const [lo] = find(checks, "VIP on lo persisted");
  assert.deepEqual(lo, {
    host: "node1",
    check: "VIP on lo persisted",
    ok: true,
    detail:
      "198.18.0.5/32 on lo: /etc/netplan/99-haplay-lo.yaml, rendered to /run/systemd/network/10-netplan-lo.network",
  });
  const sysctls = find(checks, "sysctl persisted");
  assert.deepEqual(sysctls.filter((c) => !c.ok), []);
  assert.deepEqual(sysctls.map((c) => c.detail.split(" (")[0]), [
    "net.ipv4.ip_forward = 1",
    "net.ipv4.conf.all.arp_ignore = 1",
    "net.ipv4.conf.all.arp_announce = 2",
    "net.ipv4.conf.eth0.arp_ignore = 1",
    "net.ipv4.conf.eth0.arp_announce = 2",
  ]);
  assert.equal(find(checks, "keepalived enabled")[0].ok, true);
  assert.equal(find(checks, "VIP on lo")[0].ok, true);
});

Deno.test("verify persistence: recorded overrides name what reboot loses and the fix", async () => {
  const checks = await verifyRecorded("000-node1-overridden");
  const red = checks.filter((c) => c.check.endsWith("persisted") && !c.ok).map((c) => c.detail);
  assert.deepEqual(red, [
    "198.18.0.5/32 on lo: /etc/systemd/network/05-lo.network (networkd's first .network matching lo) replaces netplan's: the VIP will be lost at reboot; remove the override, then run the deploy again (deno task deploy) to restore it",
    "net.ipv4.conf.all.arp_ignore = 1: /etc/sysctl.d/99-zz-local.conf sets 0 after /etc/sysctl.d/90-haplay-rs.conf: reboot makes it 0; remove the line from /etc/sysctl.d/99-zz-local.conf",
  ]);
  // live, the VIP is still there: only the boot half is red
  assert.equal(find(checks, "VIP on lo")[0].ok, true);
});

Deno.test("verify --absent: recorded host after a rollback", async () => {
  const checks = await verifyRecorded("000-node1-rolled-back", true);
  assert.deepEqual(checks.map((c) => `${c.check}: ${c.ok ? "ok" : c.detail}`), [
    // the machine's own keepalived unit is enabled in the lab's lower layer: the package's own
    // state, not haplay's (no haplay config, not running)
    "keepalived absent: ok",
    "haplay files absent: ok",
    "VIP on lo absent: ok",
  ]);
  assert.match(
    checks[0].detail,
    /nothing left \(keepalived's unit is enabled, with no haplay config/,
  );
  const live = await verifyRecorded("000-node1-persisted", true);
  assert.deepEqual(
    live.filter((c) => !c.ok).map((c) => c.detail),
    [
      "left: keepalived enabled at boot; /etc/keepalived/haplay",
      "left: /etc/sysctl.d/90-haplay-lb.conf; /etc/sysctl.d/90-haplay-rs.conf; /etc/netplan/99-haplay-lo.yaml",
      "left: 198.18.0.5/32 on lo; 198.18.0.5/32 rendered for lo at boot",
    ],
  );
});

/** Facts of a seed 002 host from lines (plus `end=1`). */
const facts = (...lines: string[]) => parseFacts([...lines, "end=1"].join("\n"));

Deno.test("verify persistence: REDIRECT in rules.v4, netfilter-persistent enabled", async () => {
  const inv = await loadExample("002");
  const [w] = verifyPlans(inv.hosts, ["w101"]);
  const rule = "-A PREROUTING -d 198.18.2.100/32 -p tcp -m tcp --dport 80 -j REDIRECT";
  const want = "-d 198.18.2.100/32 -p tcp --dport 80 -j REDIRECT";
  const ok = persistChecks(w, facts("init=systemd", `p4=nat|${rule}`, "nfp_enabled=1"));
  assert.deepEqual(ok.map((c) => [c.check, c.ok]), [["REDIRECT rule persisted", true]]);
  const lost = persistChecks(
    w,
    facts("init=systemd", "p4=nat|-A PREROUTING -d 198.18.2.9/32 -j REDIRECT", "nfp_enabled=1"),
  );
  assert.match(
    lost[0].detail,
    /not in \/etc\/iptables\/rules\.v4: the rule will be lost at reboot; run `netfilter-persistent save`/,
  );
  const off = persistChecks(w, facts("init=systemd", `p4=nat|${rule}`, "nfp_enabled=0"));
  assert.match(
    off[0].detail,
    /netfilter-persistent is not enabled.*systemctl enable netfilter-persistent/,
  );
  assert.deepEqual(
    absentChecks(w, facts(`p4=nat|${rule}`, `nat=${rule}`)).map((c) => c.detail),
    [
      "nothing left",
      `left: live ${want}; ${want} in /etc/iptables/rules.v4`,
    ],
  );
});

Deno.test("verify persistence: MARK rule, fwmark rule and route of a dsr-fwmark LB", async () => {
  const inv = await loadExample("002");
  const [lv] = verifyPlans(inv.hosts, ["lv1"]);
  const mark =
    "-A PREROUTING -d 198.18.2.100/32 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x1/0xffffffff";
  const pr = [
    "pr=ip rule del prio 100 2>/dev/null; ip rule add prio 100 fwmark 1 table 100 # haplay:ip-rule:100",
    "pr=ip route replace local 0.0.0.0/0 dev lo table 100 # haplay:ip-route:100:local:0.0.0.0/0",
  ];
  const all = [
    "init=systemd",
    `p4=mangle|${mark}`,
    "nfp_enabled=1",
    ...pr,
    "pr_enabled=1",
    "ka_enabled=1",
    "sysfile=/etc/sysctl.d/90-haplay-lb.conf",
    "sysset=/etc/sysctl.d/90-haplay-lb.conf|net.ipv4.ip_forward|1",
  ];
  const good = persistChecks(lv, facts(...all));
  assert.deepEqual(good.filter((c) => !c.ok), []);
  assert.deepEqual(
    good.map((c) => c.check),
    [
      "MARK rule persisted",
      "fwmark rule persisted",
      "fwmark route persisted",
      "sysctl persisted",
      "keepalived enabled",
    ],
  );
  const unit = persistChecks(lv, facts(...all.filter((l) => l !== "pr_enabled=1")));
  assert.deepEqual(unit.filter((c) => !c.ok).map((c) => c.detail), [
    "fwmark 1 lookup 100 (prio 100): in /etc/haplay/policy-routing.sh but haplay-policy-routing.service is not enabled: nothing replays it at boot; run `systemctl enable haplay-policy-routing`",
    "local 0.0.0.0/0 dev lo table 100: in /etc/haplay/policy-routing.sh but haplay-policy-routing.service is not enabled: nothing replays it at boot; run `systemctl enable haplay-policy-routing`",
  ]);
  const noLines = persistChecks(lv, facts(...all.filter((l) => !l.startsWith("pr="))));
  assert.deepEqual(noLines.filter((c) => !c.ok).map((c) => c.detail.split(": ")[1]), [
    "not in /etc/haplay/policy-routing.sh",
    "not in /etc/haplay/policy-routing.sh",
  ]);
  const noKa = persistChecks(lv, facts(...all.filter((l) => l !== "ka_enabled=1")));
  assert.match(
    noKa.at(-1)!.detail,
    /not enabled: it will not start at reboot.*systemctl enable keepalived/,
  );
});

Deno.test("verify persistence: systemd-sysctl order (same name: /etc over /run; globs)", () => {
  const f = facts(
    "sysfile=/etc/sysctl.d/90-haplay-rs.conf",
    "sysset=/etc/sysctl.d/90-haplay-rs.conf|net.ipv4.conf.all.arp_ignore|1",
    "sysfile=/run/sysctl.d/95-x.conf",
    "sysset=/run/sysctl.d/95-x.conf|net.ipv4.conf.*.arp_ignore|0",
    "sysfile=/etc/sysctl.d/95-x.conf",
    "sysfile=/usr/lib/sysctl.d/50-default.conf",
    "sysset=/usr/lib/sysctl.d/50-default.conf|net.ipv4.conf.all.arp_ignore|2",
  );
  // /etc/sysctl.d/95-x.conf (empty) hides /run/sysctl.d/95-x.conf
  assert.deepEqual(bootSysctl(f, "net.ipv4.conf.all.arp_ignore"), {
    value: "1",
    file: "/etc/sysctl.d/90-haplay-rs.conf",
  });
  const g = facts(
    "sysfile=/etc/sysctl.d/90-haplay-rs.conf",
    "sysset=/etc/sysctl.d/90-haplay-rs.conf|net.ipv4.conf.all.arp_ignore|1",
    "sysfile=/run/sysctl.d/95-x.conf",
    "sysset=/run/sysctl.d/95-x.conf|net.ipv4.conf.*.arp_ignore|0",
  );
  assert.deepEqual(bootSysctl(g, "net.ipv4.conf.all.arp_ignore"), {
    value: "0",
    file: "/run/sysctl.d/95-x.conf",
  });
});

Deno.test("verify: a persisted sysctl not live after boot names systemd-sysctl's failed run", async () => {
  const inv = await loadExample("002");
  const [lv] = verifyPlans(inv.hosts, ["lv1"]);
  // the one exec asks how this boot's systemd-sysctl ended
  assert.match(persistScript(lv), /systemctl show -p ActiveState -p Result systemd-sysctl/);
  const base = [
    "init=systemd",
    "sysfile=/etc/sysctl.d/90-haplay-lb.conf",
    "sysset=/etc/sysctl.d/90-haplay-lb.conf|net.ipv4.ip_forward|1",
    "sysctl_live=net.ipv4.ip_forward 0",
  ];
  const live = (...more: string[]) =>
    liveExtraChecks(lv, facts(...base, ...more)).filter((c) => c.check === "sysctl live");
  // as recorded on a VM-lab director whose systemd-sysctl.service hit its 90 s start limit
  const [timeout] = live("sysctl_unit_Result=timeout", "sysctl_unit_ActiveState=failed");
  assert.equal(timeout.ok, false);
  assert.equal(
    timeout.detail,
    "net.ipv4.ip_forward = 0 (want 1): systemd-sysctl.service failed at this boot (failed, " +
      "Result: timeout), so the sysctl.d files were not applied; `systemctl restart " +
      "systemd-sysctl` applies them, `journalctl -b -u systemd-sysctl` says why",
  );
  const [since] = live("sysctl_unit_Result=success", "sysctl_unit_ActiveState=active");
  assert.equal(
    since.detail,
    "net.ipv4.ip_forward = 0 (want 1): systemd-sysctl.service applied the sysctl.d files at " +
      "boot, something changed it since",
  );
  // not persisted (or no systemd): the persistence check says so; nothing about the unit
  const [bash] = liveExtraChecks(lv, facts(...base.slice(0, 1), base[3]))
    .filter((c) => c.check === "sysctl live");
  assert.equal(bash.detail, "net.ipv4.ip_forward = 0 (want 1)");
  const [ok] = liveExtraChecks(
    lv,
    facts(...base.slice(0, 3), "sysctl_live=net.ipv4.ip_forward 1", "sysctl_unit_Result=timeout"),
  ).filter((c) => c.check === "sysctl live");
  assert.deepEqual([ok.ok, ok.detail], [true, "net.ipv4.ip_forward = 1"]);
});
