import assert from "node:assert/strict";
import { sysctl } from "../../tasks/sysctl.ts";
import { allSyntaxOk, probe } from "./_local.ts";

// Planner and parser cases (ok / live only / file only / both / missing key, multi-value and
// per-interface keys, unreadable output) are data: cases/sysctl/, facts/sysctl/.

Deno.test("sysctl: bad args name the field", () => {
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
