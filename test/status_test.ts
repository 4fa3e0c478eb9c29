/**
 * `deno task status`: the parser on recorded host output (keepalived 2.2.7's data dump, the
 * kernel's /proc/net/ip_vs), the verdicts on facts (split brain, no MASTER, a VIP on the wrong
 * host, real servers up / weight 0 / removed), the CLI over a scripted connector, and on a
 * deployed seed 001 lab: one exec per director per look, exactly one MASTER, and the MASTER's
 * keepalived stopped shows the BACKUP taking over. Lab st1 on 198.19.92.0/24.
 */
import assert from "node:assert/strict";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { ScriptedConnectors } from "../engine/connector_fake.ts";
import { labExec } from "../lab/lab.ts";
import { writeLabInventory } from "../lab/inventory.ts";
import { plays } from "../playbooks/site.ts";
import { buildStatus, type StatusReport } from "../lb/status.ts";
import { type DirectorFacts, parseIpVs, parseStatus } from "../lb/status_script.ts";
import { statusText } from "../lb/status_view.ts";
import { statusMain } from "../engine/status_cli.ts";
import { e2e, withLab } from "./lab_fixture.ts";
import { sshdSessions } from "./snapshot.ts";
import { examplePath, loadExample } from "./roles/_fixtures.ts";

/** What keepalived 2.2.7 wrote (the lines the script keeps), recorded on a lab host. */
const DUMP = `   VRRP Instance = VI_1
   State = MASTER
   Virtual Router ID = 1
   Priority = 100
   Effective priority = 100`;

/** /proc/net/ip_vs of a director with one DR service and one fwmark service. */
const IPVS = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C6120164:0050 rr persistent 50
  -> C612010E:0050      Route   1      3          12
  -> C612010D:0050      Route   0      1          0
FWM  00000001 wlc
  -> C612010D:0000      Route   1      0          0`;

function out(
  o: { running?: boolean; dump?: string; addr?: string[]; ipvs?: string; drains?: string[] },
): string {
  return [
    "@@ keepalived",
    o.running === false ? "stopped" : "running 100 2",
    ...(o.running === false ? [] : ["@@ vrrp", o.dump ?? DUMP]),
    "@@ enabled",
    "enabled",
    "@@ addr",
    ...(o.addr ?? []),
    "@@ ipvs",
    o.ipvs ?? "none",
    "@@ drain",
    ...(o.drains ?? []),
    "@@ end",
    "",
  ].join("\n");
}

Deno.test("parse: keepalived's dump, addresses, /proc/net/ip_vs", () => {
  const f = parseStatus(out({ addr: ["eth0 198.18.1.11/24", "eth0 198.18.1.100/24"], ipvs: IPVS }));
  assert.deepEqual(f.keepalived, { running: true, pid: 100, children: 2, enabled: "enabled" });
  assert.deepEqual(f.instances, [
    { name: "VI_1", state: "MASTER", vrid: 1, priority: 100, effectivePriority: 100 },
  ]);
  assert.deepEqual(f.addresses, ["eth0 198.18.1.11/24", "eth0 198.18.1.100/24"]);
  assert.deepEqual(parseIpVs(IPVS.split("\n")), [
    {
      protocol: "TCP",
      address: "198.18.1.100",
      port: 80,
      scheduler: "rr",
      persistent: 50,
      dests: [
        { address: "198.18.1.14", port: 80, forward: "Route", weight: 1, active: 3, inactive: 12 },
        { address: "198.18.1.13", port: 80, forward: "Route", weight: 0, active: 1, inactive: 0 },
      ],
    },
    {
      protocol: "FWM",
      address: "1",
      scheduler: "wlc",
      dests: [{
        address: "198.18.1.13",
        port: 0,
        forward: "Route",
        weight: 1,
        active: 0,
        inactive: 0,
      }],
    },
  ]);
  assert.equal(parseStatus(out({})).ipvs, undefined, "no IPVS in the kernel");
  assert.deepEqual(parseStatus(out({})).drains, []);
  assert.deepEqual(
    parseStatus(out({ drains: ["haplay-drain-198.18.1.13.conf"] })).drains,
    ["haplay-drain-198.18.1.13.conf"],
  );
  assert.throws(() => parseStatus("@@ keepalived\nrunning 1 1\n"), /incomplete/);
});

function facts(m: Record<string, string | DirectorFacts>): Map<string, string | DirectorFacts> {
  return new Map(Object.entries(m));
}

Deno.test("verdicts: one MASTER holding the VIP; real servers up, weight 0, removed", async () => {
  const inv = await loadExample("001");
  const backupDump = DUMP.replace("MASTER", "BACKUP").replaceAll("100", "50");
  const r = buildStatus(
    inv.hosts,
    facts({
      lb1: parseStatus(out({ addr: ["eth0 198.18.1.100/24"], ipvs: IPVS.split("FWM")[0] })),
      lb2: parseStatus(out({ dump: backupDump, ipvs: IPVS.split("\n").slice(0, 3).join("\n") })),
    }),
  );
  assert.equal(r.ok, true);
  assert.deepEqual(r.instances.map((i) => [i.name, i.masters, i.holders]), [
    ["VI_1", ["lb1"], { "198.18.1.100": ["lb1"] }],
  ]);
  assert.deepEqual(
    r.instances[0].members.map((m) => [m.host, m.state, m.configuredPriority, m.effectivePriority]),
    [["lb1", "MASTER", 100, 100], ["lb2", "BACKUP", 50, 50]],
  );
  const [d1, d2] = r.services[0].directors;
  assert.equal(d1.active, true);
  assert.equal(d1.table, "present");
  assert.deepEqual(d1.realServers.map((x) => [x.host, x.state, x.active, x.inactive]), [
    ["web1", "weight 0", 1, 0],
    ["web2", "up", 3, 12],
  ]);
  assert.equal(d2.table, "missing");
  assert.deepEqual(d2.realServers.map((x) => x.state), ["no ipvs", "no ipvs"]);
  const text = statusText(r);
  assert.match(text, /^VI_1 \(vrid 1\)\s+lb1\s+MASTER\s+100\s+100\s+198\.18\.1\.100$/m);
  assert.match(
    text,
    /^ {2}lb1\*\s+present\s+198\.18\.1\.13:80\s+0\/1\s+1\s+0\s+weight 0\s+drained$/m,
  );
  assert.match(text, /^\s+198\.18\.1\.14:80\s+1\/1\s+3\s+12\s+up\s+-$/m);
  // weight 0 while the inventory says 1 (no inhibit_on_failure): drained; the other is not
  assert.deepEqual(d1.realServers.map((x) => [x.host, x.drained]), [["web1", true], [
    "web2",
    false,
  ]]);
  assert.deepEqual(d2.realServers.map((x) => x.drained), [false, false]);
  // a drain file names web2 (deno task drain): drained whatever its weight
  const withFile = buildStatus(
    inv.hosts,
    facts({
      lb1: parseStatus(out({
        addr: ["eth0 198.18.1.100/24"],
        ipvs: IPVS.split("FWM")[0],
        drains: ["haplay-drain-198.18.1.14.conf"],
      })),
      lb2: parseStatus(out({ dump: backupDump })),
    }),
  );
  assert.deepEqual(withFile.services[0].directors[0].realServers.map((x) => x.drained), [
    true,
    true,
  ]);

  const removed = buildStatus(
    inv.hosts,
    facts({
      lb1: parseStatus(out({
        addr: ["eth0 198.18.1.100/24"],
        ipvs: IPVS.split("FWM")[0].split("\n").filter((l) => !l.includes("C612010D")).join("\n"),
      })),
      lb2: parseStatus(out({ dump: backupDump })),
    }),
  );
  assert.deepEqual(removed.services[0].directors[0].realServers.map((x) => x.state), [
    "removed",
    "up",
  ]);
  assert.equal(removed.services[0].directors[1].table, "no kernel ipvs");
});

Deno.test("verdicts: split brain, no MASTER, VIP on the BACKUP, a director down", async () => {
  const inv = await loadExample("001");
  const master = (addr: string[] = []) => parseStatus(out({ addr }));
  const backup = (addr: string[] = []) =>
    parseStatus(out({ dump: DUMP.replace("MASTER", "BACKUP"), addr }));
  const problem = (m: Record<string, string | DirectorFacts>): StatusReport["instances"][0] =>
    buildStatus(inv.hosts, facts(m)).instances[0];
  assert.match(
    problem({ lb1: master(["eth0 198.18.1.100/24"]), lb2: master(["eth0 198.18.1.100/24"]) })
      .problem!,
    /2 MASTERs \(split brain\): lb1, lb2/,
  );
  assert.equal(problem({ lb1: backup(), lb2: backup() }).problem, "no MASTER");
  assert.equal(
    problem({ lb1: master(), lb2: backup(["eth0 198.18.1.100/24"]) }).problem,
    "198.18.1.100 held by lb2, MASTER is lb1",
  );
  const down = buildStatus(
    inv.hosts,
    facts({ lb1: parseStatus(out({ running: false })), lb2: "connect timed out" }),
  );
  assert.equal(down.ok, false);
  assert.deepEqual(down.instances[0].members.map((m) => m.state), ["DOWN", "UNREACHABLE"]);
  assert.match(statusText(down), /^lb2: unreachable: connect timed out$/m);
  assert.match(statusText(down), /^lb1: keepalived not running \(unit enabled\)$/m);
});

Deno.test("cli: --json, --watch over one connection per director, exit codes", async () => {
  const path = examplePath("001");
  const fake = new ScriptedConnectors({
    lb1: {
      answer: () => ({ code: 0, stdout: out({ addr: ["eth0 198.18.1.100/24"] }), stderr: "" }),
    },
    lb2: {
      answer: () => ({
        code: 0,
        stdout: out({ dump: DUMP.replace("MASTER", "BACKUP") }),
        stderr: "",
      }),
    },
  });
  const lines: string[] = [];
  const env = { HAPLAY_VRRP_PASS: "t3stpass" };
  Deno.env.set("HAPLAY_VRRP_PASS", env.HAPLAY_VRRP_PASS);
  try {
    const code = await statusMain(
      [path, "--json", "--watch", "0.01", "--rounds", "3"],
      (s) => lines.push(s),
      () => {},
      fake.factory,
    );
    assert.equal(code, 0);
    assert.equal(lines.length, 3, "one JSON line per look");
    assert.deepEqual(JSON.parse(lines[2]).instances[0].masters, ["lb1"]);
    assert.equal(fake.opened.get("lb1"), 1, "one connection kept across looks");
    assert.equal(fake.sent("lb1").length, 3, "one exec per look");
    assert.equal(fake.sent("web1").length, 0, "real servers are not contacted");
    assert.equal(await statusMain([path, "--watch", "0"], () => {}, () => {}, fake.factory), 4);
    const errs: string[] = [];
    assert.equal(await statusMain(["/nonexistent.yaml"], () => {}, (s) => errs.push(s)), 3);
    assert.match(errs.join("\n"), /nonexistent\.yaml/);
  } finally {
    Deno.env.delete("HAPLAY_VRRP_PASS");
  }
});

e2e("status on a deployed seed 001 lab: one MASTER, one exec per look, failover seen", async () => {
  await withLab(
    { name: "st1", subnet: "198.19.92.0/24", hosts: 4, aptRepo: true },
    async (lab) => {
      const path = await writeLabInventory(examplePath("001"), lab);
      const env = { HAPLAY_VRRP_PASS: "St" + crypto.randomUUID().slice(0, 6) };
      const inv = await loadInventory(path, { env });
      const lines: string[] = [];
      const run = await runPlaybook(inv, plays, { log: (l) => lines.push(l) });
      assert.equal(run.ok, true, lines.join("\n"));
      Deno.env.set("HAPLAY_VRRP_PASS", env.HAPLAY_VRRP_PASS);
      try {
        const byIp = new Map(lab.hosts.map((h) => [h.ip, h.name]));
        const labHost = (n: string) => byIp.get(inv.hosts.get(n)!.connection.host)!;
        // VRRP needs a few adverts after a fresh start before the first election settles
        let report: StatusReport | undefined;
        for (let i = 0; i < 20; i++) {
          const got: string[] = [];
          await statusMain([path, "--json"], (s) => got.push(s), () => {});
          report = JSON.parse(got[0]);
          if (report!.ok) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        assert.equal(report!.ok, true, JSON.stringify(report, null, 2));
        const vi = report!.instances[0];
        assert.deepEqual(vi.masters, ["lb1"]);
        assert.deepEqual(vi.holders, { [lab.subnet.replace(/\.0\/24$/, ".100")]: ["lb1"] });
        assert.deepEqual(vi.members.map((m) => [m.host, m.state, m.effectivePriority]), [
          ["lb1", "MASTER", 100],
          ["lb2", "BACKUP", 50],
        ]);
        // this kernel has no IPVS: keepalived runs --vrrp and the table says so
        assert.deepEqual(report!.services[0].directors.map((d) => d.table), [
          "no kernel ipvs",
          "no kernel ipvs",
        ]);

        const before = await Promise.all(
          ["lb1", "lb2", "web1"].map((h) => sshdSessions(lab, labHost(h))),
        );
        const looks: string[] = [];
        assert.equal(
          await statusMain(
            [path, "--watch", "0.2", "--rounds", "3"],
            (s) => looks.push(s),
            () => {},
          ),
          0,
        );
        const after = await Promise.all(
          ["lb1", "lb2", "web1"].map((h) => sshdSessions(lab, labHost(h))),
        );
        assert.deepEqual(
          after.map((a, i) => a - before[i]),
          [3, 3, 0],
          "execs per look (sshd's log)",
        );
        assert.match(looks[2], /^VI_1: ok, MASTER lb1 holds /m);

        await labExec(lab, labHost("lb1"), [
          "sh",
          "-c",
          "systemctl stop keepalived || service keepalived stop",
        ]);
        let moved: StatusReport | undefined;
        for (let i = 0; i < 20; i++) {
          const got: string[] = [];
          await statusMain([path, "--json"], (s) => got.push(s), () => {});
          moved = JSON.parse(got[0]);
          if (moved!.instances[0].masters[0] === "lb2") break;
          await new Promise((r) => setTimeout(r, 250));
        }
        assert.deepEqual(moved!.instances[0].members.map((m) => m.state), ["DOWN", "MASTER"]);
        assert.equal(moved!.ok, false, "a director without keepalived is a problem");
        const text: string[] = [];
        assert.equal(await statusMain([path], (s) => text.push(s), () => {}), 1);
        assert.match(text[0], /^lb1: keepalived not running/m);
        assert.ok(!text.join("\n").includes(env.HAPLAY_VRRP_PASS), "no secret in the output");
      } finally {
        Deno.env.delete("HAPLAY_VRRP_PASS");
      }
      const rb = await rollbackHosts(inv, { log: () => {}, purgePackages: true, runId: run.runId });
      assert.deepEqual(rb.filter((r) => !r.ok).map((r) => r.error), []);
    },
  );
});

Deno.test("verdicts: a fwmark service's real servers show as :0 in the kernel and are up", async () => {
  const inv = await loadExample("002");
  const fwm = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
FWM  00000001 rr
  -> C612020D:0000      Route   1      0          4
  -> C612020E:0000      Route   1      0          6`;
  const dump = DUMP.replace("VI_1", "VI_GW");
  const r = buildStatus(
    inv.hosts,
    facts({
      lv1: parseStatus(out({ dump, addr: ["eth0 198.18.2.10/24"], ipvs: fwm })),
      lv2: parseStatus(out({ dump: dump.replace("MASTER", "BACKUP"), ipvs: fwm })),
    }),
  );
  const d = r.services[0].directors[0];
  assert.equal(d.table, "present");
  assert.deepEqual(d.realServers.map((x) => [x.host, x.state, x.inactive]), [
    ["w101", "up", 4],
    ["w102", "up", 6],
  ]);
  assert.deepEqual(d.unexpected, []);
});
