/**
 * Pure unit tests of the lab's addressing beyond a /24 (issue 18: 1,000 hosts), the limits a
 * large lab raises, the bench's VIP relocation and the known_hosts lookup index. No root.
 */
import assert from "node:assert/strict";
import {
  bridgeAddress,
  hostAddress,
  hostCapacity,
  inSubnet,
  parseSubnet,
  slash24s,
} from "../lab/_addr.ts";
import { neighLimitsFor, pidMaxFor } from "../lab/_limits.ts";
import { freeVips } from "../bench/inventories.ts";
import { checkHostKey, keysForIds, parseKnownHosts } from "../engine/known_hosts.ts";

Deno.test("lab addr: a /22 holds 1,012 hosts from .11, across its four /24s", () => {
  const net = parseSubnet("198.18.32.0/22");
  assert.equal(hostCapacity(net), 1012);
  assert.equal(bridgeAddress(net), "198.18.32.1");
  assert.equal(hostAddress(net, 0), "198.18.32.11");
  assert.equal(hostAddress(net, 244), "198.18.32.255");
  assert.equal(hostAddress(net, 245), "198.18.33.0");
  assert.equal(hostAddress(net, 999), "198.18.35.242");
  assert.deepEqual(slash24s(net), ["198.18.32", "198.18.33", "198.18.34", "198.18.35"]);
  assert.ok(inSubnet(net, "198.18.35.254"));
  assert.ok(!inSubnet(net, "198.18.36.1"));
  // a /24 is what it always was: .11 .. .254, 244 hosts
  const c = parseSubnet("198.19.201.0/24");
  assert.equal(hostCapacity(c), 244);
  assert.equal(hostAddress(c, 243), "198.19.201.254");
  assert.deepEqual(slash24s(c), ["198.19.201"]);
});

Deno.test("lab addr: subnets outside 198.18.0.0/15, other prefixes, host bits set are refused", () => {
  for (
    const bad of ["10.0.0.0/24", "198.20.0.0/24", "198.18.32.0/19", "198.18.0.0/25", "198.18.1"]
  ) {
    assert.throws(() => parseSubnet(bad), /subnet must be a network inside 198\.18\.0\.0\/15/);
  }
  assert.throws(() => parseSubnet("198.18.33.0/22"), /not a network address/);
  assert.throws(() => parseSubnet("198.18.032.0/24"), /subnet must be/);
});

Deno.test("lab limits: the neighbour table and pid_max are raised for 1,000 hosts, never lowered", () => {
  // Linux defaults: 128/512/1024 entries; a 1,000-host lab needs more than gc_thresh3
  const n = neighLimitsFor([128, 512, 1024], 40, 1000)!;
  assert.ok(n[2] >= 2 * (1040 + 256) && n[1] >= 1040 + 256, `${n}`);
  assert.ok(n[0] <= n[1] && n[1] <= n[2]);
  assert.equal(neighLimitsFor([128, 512, 1024], 10, 3), undefined);
  assert.deepEqual(neighLimitsFor([9000, 512, 1024], 0, 1000)?.[0], 9000);
  assert.equal(pidMaxFor(32768, 2000, 1000), undefined);
  assert.equal(pidMaxFor(32768, 25000, 1000), 65536);
});

Deno.test("bench: VIPs on lab host addresses move to the top of a /22 (not its first /24)", () => {
  const hosts = Array.from({ length: 1000 }, (_, k) => ({
    name: `h${k + 1}`,
    ip: hostAddress(parseSubnet("198.18.32.0/22"), k),
    netns: "",
    pid: 0,
  }));
  const text = "virtual_ipaddress: [198.18.32.100/24]\n  vip: 198.18.32.100\n";
  assert.equal(
    freeVips(text, { subnet: "198.18.32.0/22", hosts }),
    "virtual_ipaddress: [198.18.35.254/24]\n  vip: 198.18.35.254\n",
  );
  // a small lab: .100 is no host, nothing moves
  assert.equal(freeVips(text, { subnet: "198.18.32.0/22", hosts: hosts.slice(0, 10) }), text);
});

Deno.test("known_hosts: the lookup index answers as the scan did (order, wildcards, negation)", () => {
  const blob = (seed: number) => {
    const t = new TextEncoder().encode("ssh-ed25519");
    const b = new Uint8Array(4 + t.length + 4 + 32);
    new DataView(b.buffer).setUint32(0, t.length);
    b.set(t, 4);
    new DataView(b.buffer).setUint32(4 + t.length, 32);
    b.fill(seed, 8 + t.length);
    return b;
  };
  const b64 = (u: Uint8Array) => btoa(String.fromCharCode(...u));
  const lines = [];
  for (let i = 1; i <= 1000; i++) {
    lines.push(`h${i},198.18.32.${i % 250} ssh-ed25519 ${b64(blob(i % 200))}`);
  }
  lines.push(`*.example,!bad.example ssh-ed25519 ${b64(blob(201))}`);
  lines.push(`H5 ssh-ed25519 ${b64(blob(202))}`); // names are case-insensitive
  const keys = parseKnownHosts(lines.join("\n"));
  assert.deepEqual(keysForIds(keys, ["h5"]).map((k) => k.line), [5, 1002]);
  assert.deepEqual(keysForIds(keys, ["198.18.32.5", "h5"]).map((k) => k.line), [
    5,
    255,
    505,
    755,
    1002,
  ]);
  assert.deepEqual(keysForIds(keys, ["a.example"]).map((k) => k.line), [1001]);
  assert.deepEqual(keysForIds(keys, ["bad.example"]), []);
  assert.equal(checkHostKey(keys, [["h7"]], blob(7)).verdict, "match");
  // h5's second line is another ed25519 key: a matching line of the same name still wins
  assert.equal(checkHostKey(keys, [["h5"]], blob(5)).verdict, "match");
  assert.equal(checkHostKey(keys, [["h7"]], blob(8)).verdict, "mismatch");
  assert.equal(checkHostKey(keys, [["h1001"]], blob(8)).verdict, "unknown");
});
