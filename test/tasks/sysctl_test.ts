import assert from "node:assert/strict";
import { b64 } from "../../engine/shell.ts";
import { sysctl } from "../../tasks/sysctl.ts";
import { allSyntaxOk, change, isOk, probe } from "./_local.ts";

const F = "/etc/sysctl.d/60-haplay.conf";
const facts = (live: string | undefined, file: string | undefined) =>
  [
    live === undefined ? "live_missing=1" : `live=${live}`,
    ...(file === undefined ? ["exists=0"] : [
      "exists=1",
      "type=file",
      "owner=root",
      "group=root",
      "mode=644",
      "uid=0",
      "gid=0",
      "sha256=x",
      `content_b64=${b64(file)}`,
    ]),
    "end=1",
  ].join("\n");

Deno.test("sysctl: plan as data (ok / live only / file only / both / missing key)", () => {
  const t = sysctl({ key: "net.ipv4.conf.all.arp_ignore", value: 1 });
  assert.equal(t.resource, "sysctl:net.ipv4.conf.all.arp_ignore");
  isOk(t.plan(facts("1", "net.ipv4.conf.all.arp_ignore = 1\n")));
  const live = change(t.plan(facts("0", "net.ipv4.conf.all.arp_ignore = 1\n")));
  assert.equal(live.summary, "set net.ipv4.conf.all.arp_ignore 0 → 1");
  assert.match(live.apply, /^sysctl -w net.ipv4.conf.all.arp_ignore=1 >\/dev\/null\n:$/);
  const file = change(t.plan(facts("1", "# x\nnet.ipv4.conf.all.arp_ignore=0\n")));
  assert.equal(file.summary, `persist in ${F}`);
  assert.match(file.diff!, /-net.ipv4.conf.all.arp_ignore=0\n\+net.ipv4.conf.all.arp_ignore = 1\n/);
  const both = change(t.plan(facts("0", undefined)));
  assert.equal(both.summary, `set net.ipv4.conf.all.arp_ignore 0 → 1, persist in ${F}`);
  assert.match(
    both.restore,
    /sysctl -w "net.ipv4.conf.all.arp_ignore=\$\(cat "\$J\/sysctl.live"\)"/,
  );
  const miss = change(t.plan(facts(undefined, undefined)));
  assert.match(miss.summary, /does not exist on the host now/);
  assert.match(change(t.plan("junk")).apply, /^hp_fail/);
});

Deno.test("sysctl: multi-value keys compare whitespace-normalized; per-interface keys", () => {
  const t = sysctl({ key: "net.ipv4.ip_local_port_range", value: "1024  65000" });
  isOk(t.plan(facts("1024\t65000", "net.ipv4.ip_local_port_range = 1024 65000\n")));
  const v = sysctl({ key: "net.ipv4.conf.eth0/100.arp_announce", value: "2" });
  isOk(v.plan(facts("2", "net.ipv4.conf.eth0/100.arp_announce = 2\n")));
  assert.throws(() => sysctl({ key: "net.ipv4;rm", value: 1 }), /sysctl: invalid arguments: key/);
  assert.throws(() => sysctl({ key: "a.b", value: "1\n2" }), /value/);
});

Deno.test("sysctl: probe runs locally (read-only) and its output plans", async () => {
  const t = sysctl({ key: "net.ipv4.ip_forward", value: 1, file: "/nonexistent/haplay-test.conf" });
  const out = await probe(t);
  assert.match(out, /^live=[01]$/m);
  const p = t.plan(out);
  assert.equal(p.kind, "change");
  await allSyntaxOk(t, p);
});
