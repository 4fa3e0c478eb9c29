import assert from "node:assert/strict";
import { q } from "../../engine/shell.ts";
import { UNIT } from "../../tasks/_policy_routing.ts";
import { sha256 } from "../../tasks/file.ts";
import { ipRoute } from "../../tasks/ip_route.ts";
import { ipRule } from "../../tasks/ip_rule.ts";
import { iptablesRule, normalizeTable } from "../../tasks/iptables_rule.ts";
import { loVip } from "../../tasks/lo_vip.ts";
import { netplan, netplanYaml } from "../../tasks/netplan.ts";
import { allSyntaxOk, change, isOk, probe, sh } from "./_local.ts";
import { have, isRoot, requires } from "../_requires.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const SAVE =
  "*mangle\n:PREROUTING ACCEPT [1:2]\n-A PREROUTING -d 198.18.0.5/32 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n";

// iptablesRule's planner and parser cases (append / insert / delete, persisted or not, chain
// missing, unreadable output) are data: cases/iptablesRule/, facts/iptables/.

Deno.test("iptablesRule: bad args; table text compared without counters", () => {
  assert.throws(
    () => iptablesRule({ chain: "INPUT", rule: ["-A", "INPUT"] }),
    /iptablesRule: invalid arguments: rule/,
  );
  assert.throws(() => iptablesRule({ chain: "IN PUT", rule: ["-j", "DROP"] }), /chain/);
  assert.equal(
    normalizeTable(SAVE, "mangle"),
    normalizeTable(SAVE.replace("[1:2]", "[9:9]"), "mangle"),
  );
});

// ipRule's and ipRoute's planner and parser cases (add / replace / delete, persistence script
// and boot hooks, unreadable output) are data: cases/ipRule/, cases/ipRoute/, facts/ip_rules/,
// facts/ip_routes/.

Deno.test("ipRule / ipRoute: bad args; the boot unit is a oneshot", () => {
  assert.throws(() => ipRule({ priority: 0, table: 1 }), /ipRule: invalid arguments: priority/);
  assert.throws(() => ipRule({ priority: 5, table: 1, fwmark: "0xZZ" }), /fwmark/);
  assert.throws(
    () => ipRoute({ dest: "local 1.2.3.4/99", dev: "lo" }),
    /ipRoute: invalid arguments: dest/,
  );
  assert.throws(() => ipRoute({ dest: "198.18.0.0/24" }), /dev or via is required/);
  // UNIT is exported for docs/tests: keep it a oneshot.
  assert.match(UNIT, /Type=oneshot/);
});

Deno.test("netplan / loVip: plan as data", () => {
  const cfg = { network: { version: 2, ethernets: { lo: { addresses: ["198.18.0.5/32"] } } } };
  const t = netplan({ name: "99-haplay-lo", config: cfg });
  const yaml = netplanYaml(cfg);
  assert.equal(
    yaml,
    "# managed by haplay\nnetwork:\n  version: 2\n  ethernets:\n    lo:\n      addresses:\n        - 198.18.0.5/32\n",
  );
  const env = (networkd: string, bin = "1") =>
    `init=${networkd === "1" ? "systemd" : "other"}\nnetworkd=${networkd}\nnetplan_bin=${bin}\n`;
  const c = change(t.plan(env("0") + "exists=0\nend=1"));
  assert.equal(
    c.summary,
    "create /etc/netplan/99-haplay-lo.yaml (0600 root:root) (no systemd-networkd: file only, live state not applied)",
  );
  assert.match(c.apply, /netplan generate --root-dir/);
  assert.doesNotMatch(c.apply, /netplan apply/);
  const a = change(t.plan(env("1") + "exists=0\nend=1"));
  assert.match(a.summary, /\+ networkctl reload \(lo\)$/);
  assert.doesNotMatch(a.apply, /netplan apply/);
  assert.match(a.apply, /10-netplan-lo\.network/);
  assert.match(a.apply, /networkctl reload/);
  const okFacts = `exists=1\ntype=file\nowner=root\ngroup=root\nmode=600\nuid=0\ngid=0\nsha256=${
    sha256(enc(yaml))
  }\nend=1`;
  isOk(t.plan(env("1") + okFacts));

  const v = loVip({ address: "198.18.0.5" });
  const vc = change(v.plan(env("0") + "lo=127.0.0.1/8\nexists=0\nend=1"));
  assert.equal(
    vc.summary,
    "add 198.18.0.5/32 to lo, create /etc/netplan/99-haplay-lo.yaml (0600 root:root)",
  );
  assert.match(vc.apply, /ip addr replace "\$_v" dev lo/);
  assert.doesNotMatch(vc.apply, /netplan apply/);
  assert.throws(() => loVip({ address: "198.18.0.256" }), /loVip: invalid arguments: address/);
  assert.throws(() => netplan({ name: "../x", config: {} }), /netplan: invalid arguments: name/);
});

Deno.test("net: probes run locally (read-only) and plan; all snippets parse", async () => {
  const tasks = [
    iptablesRule({
      chain: "INPUT",
      rule: ["-s", "198.18.0.9/32", "-m", "comment", "--comment", "it's $(x)", "-j", "ACCEPT"],
    }),
    ipRule({ priority: 4242, fwmark: 7, table: 42 }),
    ipRoute({ dest: "local 0.0.0.0/0", dev: "lo", table: 42 }),
    netplan({ name: "99-haplay-test", config: { network: { version: 2 } } }),
    loVip({ address: ["198.18.0.5/32", "198.18.0.6"] }),
  ];
  for (const t of tasks) {
    const out = await probe(t);
    const p = t.plan(out);
    assert.equal(p.kind, "change", `${t.name}: ${JSON.stringify(p)}\n${out}`);
    assert.doesNotMatch(p.kind === "change" ? p.summary : "", /cannot read probe output/, t.name);
    await allSyntaxOk(t, p);
  }
});

Deno.test(requires({ root: isRoot, ip: have("ip") }, {
  name: "ipRule + ipRoute + loVip (live part): apply, re-plan ok, restore, in a throwaway netns",
  fn: async () => {
    const ns = `haplay-tasks-${crypto.randomUUID().slice(0, 8)}`;
    const made = await sh(`ip netns add ${ns}`);
    assert.equal(made.code, 0, `ip netns add ${ns}: ${made.stderr}`);
    const J = await Deno.makeTempDir();
    const inNs = (script: string) =>
      sh(`ip netns exec ${ns} sh -c ${q(`. ${J}/prelude.sh\n${script}`)}`);
    try {
      const { PRELUDE } = await import("../../engine/prelude.ts");
      await Deno.writeTextFile(`${J}/prelude.sh`, PRELUDE);
      await inNs("ip link set lo up");
      const tasks = [
        ipRule({ priority: 4242, fwmark: 7, table: 42, persist: false }),
        ipRoute({ dest: "local 0.0.0.0/0", dev: "lo", table: 42, persist: false }),
      ];
      for (const t of tasks) {
        const before = (await inNs("ip -4 rule show; ip -4 route show table all")).stdout;
        const p = change(t.plan((await inNs(t.probe)).stdout));
        const jd = `${J}/${t.module}`;
        await Deno.mkdir(jd);
        for (const s of [p.backup, p.apply]) {
          const r = await inNs(`J=${jd}; ( set -e\n${s}\n)`);
          assert.equal(r.code, 0, r.stderr);
        }
        isOk(t.plan((await inNs(t.probe)).stdout));
        const r = await inNs(`J=${jd}; ( set -e\n${p.restore}\n)`);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(
          (await inNs("ip -4 rule show; ip -4 route show table all")).stdout,
          before,
          t.name,
        );
      }
      // loVip's live part (the netplan file is left to the e2e test: it would land in /etc).
      const v = loVip({ address: "198.18.0.5" });
      const live = (await inNs(
        `ip -o -4 addr show dev lo | awk '{ for (i = 1; i < NF; i++) if ($i == "inet") print "lo=" $(i + 1) }'`,
      )).stdout;
      assert.match(live, /^lo=127.0.0.1\/8$/m);
      const vp = change(
        v.plan("init=other\nnetworkd=0\nnetplan_bin=1\n" + live + "exists=0\nend=1"),
      );
      const liveApply = vp.apply.split("\n").filter((l) => l.includes("ip addr")).join("\n");
      const r = await inNs(`J=${J}; ( set -e\n${liveApply}\n)`);
      assert.equal(r.code, 0, r.stderr);
      assert.match((await inNs("ip -o -4 addr show dev lo")).stdout, /inet 198.18.0.5\/32/);
    } finally {
      await sh(`ip netns del ${ns}`);
      await Deno.remove(J, { recursive: true });
    }
  },
}));
