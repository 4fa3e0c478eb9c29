/**
 * The roles' task lists per variant (every seed), and the plans of the LB layer's own tasks
 * (DAEMON_ARGS with IPVS auto-detection, the same-box-dr include link, sensitive config).
 */
import assert from "node:assert/strict";
import type { Plan, Task } from "../../engine/types.ts";
import { loadBalancerHandlers, loadBalancerTasks, realServerTasks } from "../../playbooks/site.ts";
import { daemonArgsFile, daemonArgsTask } from "../../roles/_daemon_args.ts";
import { vsLinkTask } from "../../roles/_vs_link.ts";
import { VS_EMPTY, vsMaster } from "../../lb/paths.ts";
import { ctx, loadExample } from "./_fixtures.ts";

const res = (ts: Task[]) => ts.map((t) => t.resource);
const K = "/etc/keepalived/haplay";

/** The LB tasks every load balancer with virtual servers has, around the variant-specific ones. */
function lbTasks(middle: string[], notifyScripts: string[], extra: string[] = []): string[] {
  return [
    "apt:keepalived",
    "apt:ipvsadm",
    "user:keepalived_script",
    ...middle,
    `file:${K}`,
    ...notifyScripts,
    ...extra,
    "file:/etc/default/keepalived",
    "file:/usr/local/sbin/haplay-keepalived-check",
    "file:/etc/keepalived/keepalived.conf",
    "service:keepalived",
  ];
}

const notify = (inst: string) =>
  ["master", "backup", "fault", "stop"].flatMap((s) => [
    `file:${K}/notify-${inst}-${s}.env`,
    `file:${K}/notify-${inst}-${s}.sh`,
  ]);
const ARP = ["all", "eth0"].flatMap((
  i,
) => [`sysctl:net.ipv4.conf.${i}.arp_ignore`, `sysctl:net.ipv4.conf.${i}.arp_announce`]);

Deno.test("roles: seed 000 same-box DR: every node is LB and real server", async () => {
  const inv = await loadExample("000");
  for (const n of ["node1", "node2", "node3"]) {
    assert.deepEqual(res(realServerTasks(ctx(inv, n))), [], "an LB gets them in the LB play");
    assert.deepEqual(res(loadBalancerTasks(ctx(inv, n))), [
      ...ARP,
      "file:/etc/netplan/99-haplay-lo.yaml",
      ...lbTasks(["apt:sudo", "file:/etc/sudoers.d/haplay-keepalived"], [
        "file:/usr/local/sbin/haplay-vs-switch",
        "file:/usr/local/sbin/haplay-bypass-ipvs", // absent
        ...notify("LVS_SETTINGS"),
        `file:${VS_EMPTY}`,
        `file:${vsMaster("LVS_SETTINGS")}`,
        `file:${K}/vs-LVS_SETTINGS.active.conf`,
      ], ["sysctl:net.ipv4.ip_forward"]),
    ]);
  }
  const lo = loadBalancerTasks(ctx(inv, "node2"))[4];
  assert.equal(lo.module, "loVip");
});

Deno.test("roles: seed 001 DR pair with bypass_ipvs; REDIRECT real servers", async () => {
  const inv = await loadExample("001");
  const lb = loadBalancerTasks(ctx(inv, "lb1"));
  assert.deepEqual(
    res(lb),
    lbTasks(["apt:sudo", "file:/etc/sudoers.d/haplay-keepalived"], [
      "file:/usr/local/sbin/haplay-vs-switch", // absent
      "apt:iptables",
      "file:/usr/local/sbin/haplay-bypass-ipvs",
      ...notify("VI_1"),
    ], ["sysctl:net.ipv4.ip_forward"]),
  );
  assert.deepEqual(res(realServerTasks(ctx(inv, "lb1"))), []);
  assert.deepEqual(res(realServerTasks(ctx(inv, "web1"))), [
    "apt:iptables,netfilter-persistent,iptables-persistent",
    "iptables:ipv4:nat PREROUTING -d 198.18.1.100/32 -p tcp --dport 80 -j REDIRECT",
  ]);
  assert.deepEqual(res(loadBalancerTasks(ctx(inv, "web1"))), []);
  assert.deepEqual(loadBalancerHandlers(ctx(inv, "web1")), []);
  assert.deepEqual(loadBalancerHandlers(ctx(inv, "lb1")).map((h) => h.name), [
    "reload keepalived",
    "restart keepalived",
  ]);
});

Deno.test("roles: seed 002 dsr-fwmark: MARK, ip rule, local route, rp_filter; REDIRECT", async () => {
  const inv = await loadExample("002");
  const lb = res(loadBalancerTasks(ctx(inv, "lv2")));
  for (
    const r of [
      "sysctl:net.ipv4.conf.all.rp_filter",
      "sysctl:net.ipv4.conf.eth0.rp_filter",
      "iptables:ipv4:mangle PREROUTING -d 198.18.2.100/32 -p tcp --dport 80 -j MARK --set-mark 1",
      "ip-rule:100",
      "ip-route:100:local:default",
    ]
  ) assert.ok(lb.includes(r), r);
  assert.ok(!lb.includes("apt:sudo"), "no root notify steps, no sudo");
  assert.deepEqual(res(realServerTasks(ctx(inv, "w101"))), [
    "apt:iptables,netfilter-persistent,iptables-persistent",
    "iptables:ipv4:nat PREROUTING -d 198.18.2.100/32 -p tcp --dport 80 -j REDIRECT",
  ]);
});

Deno.test("roles: seed 003 VRRP only: no LVS sysctls, hooks as user scripts", async () => {
  const inv = await loadExample("003");
  const lb = loadBalancerTasks(ctx(inv, "ha1"));
  assert.deepEqual(
    res(lb),
    lbTasks(["file:/etc/sudoers.d/haplay-keepalived"], [
      "file:/usr/local/sbin/haplay-vs-switch",
      "file:/usr/local/sbin/haplay-bypass-ipvs",
      ...notify("VI_1"),
    ]).filter((r) => r !== "apt:ipvsadm"), // no virtual servers: no ipvsadm
  );
  const fault = lb.find((t) => t.resource.endsWith("notify-VI_1-fault.sh"))!;
  assert.equal(fault.module, "absent", "no notify_fault hook: the script is removed");
  assert.equal(lb.find((t) => t.resource.includes("sudoers"))!.module, "absent");
});

Deno.test("roles: seed 004 NAT + DR on one pair: lo VIP on DB servers only", async () => {
  const inv = await loadExample("004");
  assert.deepEqual(res(realServerTasks(ctx(inv, "web1"))), [], "NAT real servers need nothing");
  assert.deepEqual(res(realServerTasks(ctx(inv, "db2"))), [
    ...ARP,
    "file:/etc/netplan/99-haplay-lo.yaml",
  ]);
  const lb = loadBalancerTasks(ctx(inv, "lvs01"));
  const master = lb.find((t) => t.resource.endsWith("notify-VI_AWS-master.sh"))!;
  assert.equal(master.module, "file");
});

/** Probe output of a missing file. */
const MISSING = "exists=0\nend=1\n";

function change(p: Plan) {
  assert.equal(p.kind, "change");
  return p as Extract<Plan, { kind: "change" }>;
}

Deno.test("roles: keepalived.conf is validated on the host and hidden from diffs when it holds a secret", async () => {
  const inv = await loadExample("001");
  const conf = loadBalancerTasks(ctx(inv, "lb1")).find((t) =>
    t.resource === "file:/etc/keepalived/keepalived.conf"
  )!;
  assert.deepEqual(conf.notify, ["reload keepalived"]);
  const p = change(conf.plan(MISSING));
  assert.match(p.apply, /haplay-keepalived-check/);
  assert.doesNotMatch(p.summary + p.diff, /t3stpass/);
  assert.match(p.diff!, /hidden/);
  const open = await loadExample("000");
  const c0 = loadBalancerTasks(ctx(open, "node1")).find((t) =>
    t.resource.endsWith("keepalived.conf")
  )!;
  assert.match(change(c0.plan(MISSING)).diff!, /virtual_router_id 50/, "no secret: a real diff");
});

Deno.test("roles: DAEMON_ARGS follows the kernel with ipvs auto, and is fixed otherwise", () => {
  const b64 = (s: string) => btoa(s);
  const auto = daemonArgsTask("auto", ["restart keepalived"]);
  assert.match(auto.probe, /\/proc\/net\/ip_vs/);
  assert.ok(change(auto.plan("ipvs=0\n" + MISSING)).apply.includes(b64(daemonArgsFile(false))));
  assert.ok(change(auto.plan("ipvs=1\n" + MISSING)).apply.includes(b64(daemonArgsFile(true))));
  assert.match(daemonArgsFile(false), /^DAEMON_ARGS="--vrrp"$/m);
  assert.match(daemonArgsFile(true), /^DAEMON_ARGS=""$/m);
  assert.ok(
    change(daemonArgsTask(false, []).plan("ipvs=1\n" + MISSING)).apply.includes(
      b64(daemonArgsFile(false)),
    ),
  );
  const incomplete = change(auto.plan(MISSING));
  assert.match(incomplete.summary, /cannot tell whether the kernel has IPVS/);
});

Deno.test("roles: the same-box DR link follows the VIP: created, or repaired when it points at the wrong file", () => {
  const t = vsLinkTask("VI_1", "198.18.0.5", ["reload keepalived"]);
  assert.equal(t.plan(`link=${VS_EMPTY}\nvip_held=0\nend=1\n`).kind, "ok");
  assert.equal(t.plan(`link=${vsMaster("VI_1")}\nvip_held=1\nend=1\n`).kind, "ok");
  const create = change(t.plan("link=\nvip_held=0\nend=1\n"));
  assert.match(create.summary, /create .* -> \/etc\/keepalived\/haplay\/vs-empty\.conf/);
  assert.match(create.apply, /flock/);
  assert.match(create.restore, /hp_restore_path/);
  const stopped = change(t.plan(`link=${VS_EMPTY}\nvip_held=1\nend=1\n`));
  assert.match(stopped.summary, /repair .* -> .*vs-VI_1\.master\.conf \(198\.18\.0\.5 held here/);
  assert.match(change(t.plan(`link=${vsMaster("VI_1")}\nvip_held=0\nend=1\n`)).summary, /repair/);
  assert.match(change(t.plan("link=/tmp/x\nvip_held=0\nend=1\n")).summary, /was \/tmp\/x/);
  assert.equal(change(t.plan("garbage")).summary.includes("cannot read probe output"), true);
});
