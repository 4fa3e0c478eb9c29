/**
 * Verify, the pure part: which hosts are looked at, the script is valid sh, and the checks judge
 * facts the way the deploy should be judged (one MASTER per instance holding every VIP, real
 * servers accepting the VIP, health-check targets answering).
 */
import assert from "node:assert/strict";
import { allClusters } from "../../lb/cluster.ts";
import {
  type Facts,
  hostChecks,
  parseFacts,
  probeTargets,
  statusAccepted,
  verifyPlans,
  verifyScript,
  vrrpChecks,
} from "../../lb/verify_script.ts";
import { loadInventory } from "../../engine/inventory.ts";
import { loadExample, TEST_ENV } from "./_fixtures.ts";

Deno.test("verify: plans cover LBs and DR real servers; scripts are valid sh", async () => {
  const inv = await loadExample("004");
  const plans = verifyPlans(inv.hosts, [...inv.hosts.keys()]);
  assert.deepEqual(
    plans.map((p) => p.host),
    ["lvs01", "lvs02", "db1", "db2"],
    "NAT web servers have nothing to check",
  );
  assert.deepEqual(
    probeTargets(plans[0].cluster!).map((t) =>
      `${t.service} ${t.address}:${t.port}${t.http ? " " + t.http.path : ""}`
    ),
    [
      "web-http 198.18.4.13:80 /check.html",
      "web-http 198.18.4.14:80 /check.html",
      "web-https 198.18.4.13:443",
      "web-https 198.18.4.14:443",
      "db-read 198.18.4.15:3306",
      "db-read 198.18.4.16:3306",
    ],
  );
  for (const p of plans) {
    const r = await new Deno.Command("/bin/sh", { args: ["-n", "-c", verifyScript(p)] }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  }
});

const lbFacts = (addrs: string[], extra = "") =>
  parseFacts(
    "running=1\nage=40\nvrrp=1\nconftest=0\nconftest_out=\n" +
      addrs.map((a) => `addr=${a}`).join("\n") + "\n" + extra + "end=1\n",
  );

Deno.test("verify: exactly one MASTER holding every address of an instance", async () => {
  const inv = await loadExample("001");
  const [c] = allClusters(inv.hosts);
  const one = new Map<string, Facts>([
    ["lb1", lbFacts(["lo 127.0.0.1/8", "eth0 198.18.1.11/24", "eth0 198.18.1.100/24"])],
    ["lb2", lbFacts(["eth0 198.18.1.12/24"])],
  ]);
  assert.deepEqual(vrrpChecks(c, one), [{
    host: "lb1",
    check: "VRRP VI_1",
    ok: true,
    detail: "MASTER lb1 holds all 1 address(es)",
  }, {
    host: "lb1",
    check: "bypass_ipvs VI_1",
    ok: true,
    detail: "MASTER lb1 has no REDIRECT for 198.18.1.100",
  }]);
  const both = new Map(one).set("lb2", lbFacts(["eth0 198.18.1.12/24", "eth0 198.18.1.100/24"]));
  assert.match(vrrpChecks(c, both)[0].detail, /lb1 and lb2 all hold 198\.18\.1\.100/);
  assert.equal(vrrpChecks(c, both)[0].ok, false);
  const none = new Map(one).set("lb1", lbFacts(["eth0 198.18.1.11/24", "lo 198.18.1.100/32"]));
  assert.match(vrrpChecks(c, none)[0].detail, /no MASTER/, "on lo is not held (same-box DR)");

  const c3 = allClusters((await loadExample("003")).hosts)[0];
  const partial = new Map<string, Facts>([
    ["ha1", lbFacts(["eth0 198.18.3.10/24", "eth0 198.18.3.101/24"])],
    ["ha2", lbFacts([])],
  ]);
  assert.match(vrrpChecks(c3, partial)[0].detail, /lacks some of the 23 addresses/);
});

Deno.test("verify: same-box DR virtual servers only on the MASTER", async () => {
  const [c] = allClusters((await loadExample("000")).hosts);
  const dir = "/etc/keepalived/haplay";
  const link = (target: string) =>
    `vs_active=LVS_SETTINGS ${target ? `${dir}/vs-${target}.conf` : ""}\n`;
  const facts = (n2: string, n3: string) =>
    new Map<string, Facts>([
      [
        "node1",
        lbFacts(
          ["eth0 198.18.0.11/24", "eth0 198.18.0.5/32", "lo 198.18.0.5/32"],
          link("LVS_SETTINGS.master"),
        ),
      ],
      ["node2", lbFacts(["eth0 198.18.0.12/24", "lo 198.18.0.5/32"], link(n2))],
      ["node3", lbFacts(["eth0 198.18.0.13/24", "lo 198.18.0.5/32"], link(n3))],
    ]);
  const good = vrrpChecks(c, facts("empty", "empty"));
  assert.deepEqual(good.map((x) => [x.check, x.ok, x.host]), [
    ["VRRP LVS_SETTINGS", true, "node1"],
    ["same-box DR LVS_SETTINGS", true, "node1"],
  ]);
  const loop = vrrpChecks(c, facts("LVS_SETTINGS.master", ""))[1];
  assert.equal(loop.ok, false);
  assert.equal(
    loop.detail,
    "node2 (BACKUP) has virtual servers on; node3 (BACKUP) has virtual servers -> ''",
  );
  const script = verifyScript(verifyPlans((await loadExample("000")).hosts, ["node1"])[0]);
  assert.match(
    script,
    /echo "vs_active=LVS_SETTINGS \$\(readlink -- \/etc\/keepalived\/haplay\/vs-LVS_SETTINGS\.active\.conf\)"/,
  );
});

Deno.test("verify: keepalived, config test and health-check targets on an LB", async () => {
  const inv = await loadExample("001");
  const [p] = verifyPlans(inv.hosts, ["lb1"]);
  const good = hostChecks(
    p,
    lbFacts([], "probe=198.18.1.13|80|0|HTTP/1.1 200 OK\nprobe=198.18.1.14|80|0|HTTP/1.0 200 OK\n"),
  );
  assert.deepEqual(good.filter((c) => !c.ok), []);
  assert.deepEqual(good.map((c) => c.check), [
    "keepalived running",
    "keepalived config test",
    "health-check target",
    "health-check target",
  ]);
  const bad = hostChecks(
    p,
    parseFacts(
      "running=1\nvrrp=0\nconftest=1\nconftest_out=Unknown keyword\n" +
        "probe=198.18.1.13|80|0|HTTP/1.1 500 Oops\nprobe=198.18.1.14|80|1|\nend=1\n",
    ),
  );
  assert.deepEqual(bad.map((c) => `${c.ok} ${c.detail}`), [
    "false keepalived or its VRRP process is not running",
    "false exit 1: Unknown keyword",
    "false web: 198.18.1.13:80 GET /index.html: HTTP/1.1 500 Oops",
    "false web: 198.18.1.14:80 GET /index.html: no answer (exit 1)",
  ]);
  assert.deepEqual(hostChecks(p, parseFacts("running=1\n")).map((c) => c.detail), [
    "output incomplete",
  ]);
});

Deno.test("verify: real servers accept the VIP (REDIRECT rule, or lo + ARP)", async () => {
  const inv1 = await loadExample("001");
  const [w] = verifyPlans(inv1.hosts, ["web1"]);
  const ok = hostChecks(
    w,
    parseFacts(
      "nat=-A PREROUTING -d 198.18.1.100/32 -p tcp -m tcp --dport 80 -j REDIRECT\nend=1\n",
    ),
  );
  assert.deepEqual(ok.map((c) => [c.check, c.ok]), [["REDIRECT rule", true]]);
  const other = hostChecks(
    w,
    parseFacts(
      "nat=-A PREROUTING -d 198.18.1.100/32 -p tcp -m tcp --dport 81 -j REDIRECT\nend=1\n",
    ),
  );
  assert.equal(other[0].ok, false);
  const inv4 = await loadExample("004");
  const [db] = verifyPlans(inv4.hosts, ["db1"]);
  const lo = hostChecks(
    db,
    parseFacts("lo=127.0.0.1/8\nlo=198.18.4.200/32\narp_ignore=1\nend=1\n"),
  );
  assert.deepEqual(lo.map((c) => [c.check, c.ok]), [["VIP on lo", true], ["ARP suppressed", true]]);
  const missing = hostChecks(db, parseFacts("lo=127.0.0.1/8\narp_ignore=0\nend=1\n"));
  assert.deepEqual(missing.map((c) => c.ok), [false, false]);
});

Deno.test("verify: MISC, UDP and DNS checkers are reported as not probed; HTTP status ranges", async () => {
  const checks = new URL("./fixtures/checks.yaml", import.meta.url).pathname;
  const inv = await loadInventory(checks, { env: TEST_ENV });
  const [p] = verifyPlans(inv.hosts, ["lb1"]);
  const script = verifyScript(p);
  assert.doesNotMatch(script, /hp_probe '?198\.18\.1\.1[34]'? (0|53) /, "no probe of MISC/UDP/DNS");
  assert.match(script, /hp_probe '?198\.18\.1\.13'? 8080 ''/);
  const r = await new Deno.Command("/bin/sh", { args: ["-n", "-c", script] }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const probes = ["13", "14"].map((h) =>
    `probe=198.18.1.${h}|80|0|HTTP/1.1 ${h === "13" ? 200 : 302} x\n` +
    `probe=198.18.1.${h}|8080|0|\nprobe=198.18.1.${h}|443|0|\nprobe=198.18.1.${h}|8000|0|\n`
  ).join("");
  const got = hostChecks(p, lbFacts([], probes)).filter((c) => c.check === "health-check target");
  assert.deepEqual(got.filter((c) => !c.ok), []);
  assert.deepEqual(got.filter((c) => /not probed/.test(c.detail)).map((c) => c.detail), [
    "web: 198.18.1.13: MISC_CHECK runs a command, not probed",
    "web: 198.18.1.14: MISC_CHECK runs a command, not probed",
    "dns: 198.18.1.13: DNS over UDP, not probed",
    "dns: 198.18.1.14: DNS over UDP, not probed",
    "dns: 198.18.1.13: UDP, not probed",
    "dns: 198.18.1.14: UDP, not probed",
  ]);
  const wrong = hostChecks(p, lbFacts([], probes.replace("HTTP/1.1 302", "HTTP/1.1 303")));
  assert.deepEqual(wrong.filter((c) => !c.ok).map((c) => c.detail), [
    "web: 198.18.1.14:80 GET /health: HTTP/1.1 303 x",
  ]);
  assert.ok(statusAccepted(301, [200, "301-302"]) && !statusAccepted(204, 200));
});
