/**
 * Pure tests of issue 19 items 4-7 on the controller: known_hosts lookup order and verdicts,
 * ProxyJump parsing, HostKeyAlias, the purge and rollback markers, umask in the prelude.
 */
import assert from "node:assert/strict";
import {
  checkHostKey,
  decidingKeys,
  hostKeyNames,
  knownHostsLine,
  parseKnownHosts,
} from "../engine/known_hosts.ts";
import { parseProxyJump, resolveSshConfig } from "../engine/ssh_config.ts";
import { parsePurge, parseRollback, purgeSecretsScript } from "../engine/journal.ts";
import { applyScript } from "../engine/script.ts";
import { PRELUDE } from "../engine/prelude.ts";

// An SSH public key blob of `type` with 32 key bytes of `seed`.
function blob(seed: number, type = "ssh-ed25519"): Uint8Array {
  const t = new TextEncoder().encode(type);
  const out = new Uint8Array(4 + t.length + 4 + 32);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, t.length);
  out.set(t, 4);
  dv.setUint32(4 + t.length, 32);
  out.fill(seed, 8 + t.length);
  return out;
}
const REAL = blob(1);
const OTHER = blob(2);
const line = (names: string, k: Uint8Array) => knownHostsLine([names], 22, k).trim();

const lb1 = { address: "198.19.20.11", hostName: "198.19.20.11", names: ["lb1"], port: 22 };

Deno.test("known_hosts lookup order: address, host name (or HostKeyAlias), then haplay names", () => {
  assert.deepEqual(hostKeyNames(lb1), [["198.19.20.11"], ["lb1"]]);
  assert.deepEqual(
    hostKeyNames({ address: "198.19.20.11", hostName: "lb1.example", names: ["lb1"], port: 2222 }),
    [["[198.19.20.11]:2222", "[lb1.example]:2222"], ["[lb1]:2222"]],
  );
  // HostKeyAlias replaces the host name, verbatim (no port), as in OpenSSH.
  assert.deepEqual(
    hostKeyNames({
      address: "198.19.20.11",
      hostName: "lb1.example",
      hostKeyAlias: "lb-alias",
      names: ["lb1"],
      port: 2222,
    }),
    [["[198.19.20.11]:2222", "lb-alias"], ["[lb1]:2222"]],
  );
  // Through a jump host there is no address of our own.
  assert.deepEqual(hostKeyNames({ hostName: "10.0.0.5", names: ["db"], port: 22 }), [
    ["10.0.0.5"],
    ["db"],
  ]);
});

Deno.test("known_hosts: wrong key under the address and the right one under the name: mismatch", () => {
  const kh = parseKnownHosts(
    ["# first line", line("198.19.20.11", OTHER), line("lb1", REAL)].join("\n"),
  );
  const c = checkHostKey(kh, hostKeyNames(lb1), REAL);
  assert.deepEqual(c, { verdict: "mismatch", name: "198.19.20.11", line: 2 });
});

Deno.test("known_hosts: right key under the address, another under the name: match (OpenSSH never looks the name up)", () => {
  const kh = parseKnownHosts([line("198.19.20.11", REAL), line("lb1", OTHER)].join("\n"));
  assert.equal(checkHostKey(kh, hostKeyNames(lb1), REAL).verdict, "match");
});

Deno.test("known_hosts: haplay names decide only when the address and host name are not on record", () => {
  assert.equal(
    checkHostKey(parseKnownHosts(line("lb1", REAL)), hostKeyNames(lb1), REAL).verdict,
    "match",
  );
  assert.deepEqual(
    checkHostKey(parseKnownHosts(line("lb1", OTHER)), hostKeyNames(lb1), REAL),
    { verdict: "mismatch", name: "lb1", line: 1 },
  );
  assert.equal(
    checkHostKey(parseKnownHosts(line("lb9", REAL)), hostKeyNames(lb1), REAL).verdict,
    "unknown",
  );
});

Deno.test("known_hosts: CheckHostIP - the host name matches but the address says otherwise: mismatch", () => {
  const o = { address: "198.19.20.11", hostName: "lb1.example", names: ["lb1"], port: 22 };
  const ipWrong = parseKnownHosts(
    [line("lb1.example", REAL), line("198.19.20.11", OTHER)].join("\n"),
  );
  assert.deepEqual(checkHostKey(ipWrong, hostKeyNames(o), REAL), {
    verdict: "mismatch",
    name: "198.19.20.11",
    line: 2,
  });
  const nameWrong = parseKnownHosts(
    [line("198.19.20.11", REAL), line("lb1.example", OTHER)].join("\n"),
  );
  assert.equal(checkHostKey(nameWrong, hostKeyNames(o), REAL).name, "lb1.example");
  assert.equal(checkHostKey(nameWrong, hostKeyNames(o), REAL).verdict, "mismatch");
});

Deno.test("known_hosts: several lines for one name (key rotation): a match under that name wins", () => {
  const kh = parseKnownHosts([line("198.19.20.11", OTHER), line("198.19.20.11", REAL)].join("\n"));
  assert.equal(checkHostKey(kh, hostKeyNames(lb1), REAL).verdict, "match");
  // another key type under the same name is no contradiction
  const ecdsa = blob(3, "ecdsa-sha2-nistp256");
  const kh2 = parseKnownHosts([line("198.19.20.11", ecdsa), line("198.19.20.11", REAL)].join("\n"));
  assert.equal(checkHostKey(kh2, hostKeyNames(lb1), REAL).verdict, "match");
});

Deno.test("known_hosts: @revoked wins under any looked-up name, even a haplay name", () => {
  const kh = parseKnownHosts(
    [line("198.19.20.11", REAL), `@revoked lb1 ssh-ed25519 ${btoa(String.fromCharCode(...REAL))}`]
      .join("\n"),
  );
  assert.deepEqual(checkHostKey(kh, hostKeyNames(lb1), REAL), {
    verdict: "revoked",
    name: "lb1",
    line: 2,
  });
});

Deno.test("known_hosts: deciding keys (for the host key algorithms offered) come from the deciding tier", () => {
  const ecdsa = blob(3, "ecdsa-sha2-nistp256");
  const kh = parseKnownHosts([line("198.19.20.11", REAL), line("lb1", ecdsa)].join("\n"));
  assert.deepEqual(decidingKeys(kh, hostKeyNames(lb1)).map((k) => k.type), ["ssh-ed25519"]);
  const only = parseKnownHosts(line("lb1", ecdsa));
  assert.deepEqual(decidingKeys(only, hostKeyNames(lb1)).map((k) => k.type), [
    "ecdsa-sha2-nistp256",
  ]);
});

Deno.test("ProxyJump: chains, user@host:port hops, ssh:// and IPv6 forms; bad hops named", () => {
  assert.deepEqual(parseProxyJump("a,b"), [{ user: undefined, host: "a", port: undefined }, {
    user: undefined,
    host: "b",
    port: undefined,
  }]);
  assert.deepEqual(parseProxyJump("root@198.19.22.11:2222, ops@h2"), [
    { user: "root", host: "198.19.22.11", port: 2222 },
    { user: "ops", host: "h2", port: undefined },
  ]);
  assert.deepEqual(parseProxyJump("ssh://u@[fd00::1]:22"), [{
    user: "u",
    host: "fd00::1",
    port: 22,
  }]);
  assert.throws(() => parseProxyJump("a,,b"), /cannot read hop ""/);
  assert.throws(() => parseProxyJump("a:99999"), /port out of range in hop "a:99999"/);
  const cfg =
    `Host db\n  HostName 10.0.0.5\n  HostKeyAlias db-key\n  ProxyJump bastion,ops@inner:2200\n`;
  const c = resolveSshConfig(cfg, "db", "/h");
  assert.equal(c.hostKeyAlias, "db-key");
  assert.equal(c.proxyJump, "bastion,ops@inner:2200");
});

Deno.test("purge and rollback report purged entries", () => {
  const n = "HPTEST";
  const s64 = btoa("keepalived.conf: write 1 file\n");
  const p = parsePurge(`@@${n}:purged:R1:0003:${s64}\n@@${n}:finished\n`, n);
  assert.deepEqual(p, {
    finished: true,
    purged: [{ run: "R1", task: "0003", summary: "keepalived.conf: write 1 file" }],
    locked: undefined,
  });
  const r = parseRollback(`@@${n}:run:R1\n@@${n}:purged:R1:0003:${s64}\n@@${n}:finished\n`, n);
  assert.equal(r.purged.length, 1);
  assert.match(purgeSecretsScript(n), /^umask 077$/m);
});

Deno.test("every host script writes under umask 077; task snippets and handlers get the host's umask", () => {
  assert.match(PRELUDE, /^HP_UMASK=\$\(umask\); umask 077$/m);
  const script = applyScript([{
    index: 0,
    task: {
      name: "t",
      module: "file",
      resource: "file:/x",
      probe: "",
      plan: () => ({ kind: "ok", reason: "" }),
    },
    change: { kind: "change", summary: "s", backup: "B", apply: "A", restore: "R" },
  }], {
    nonce: "N",
    runId: "r",
    generation: "0",
    owner: "o",
    handlers: [{ name: "h", run: "H" }],
    pending: [],
    keepRuns: 20,
    play: "p",
  } as never);
  assert.ok(script.indexOf("umask 077") < script.indexOf("mkdir -p"), "umask first");
  assert.match(script, /\( set -e; umask "\$HP_UMASK"\nA\n\)/);
  assert.match(script, /\( set -e\nB\n\)/, "backup (the pre-state) is saved under 077");
});

Deno.test("a malformed ProxyJump is refused before any connection, naming the ssh_config file", async () => {
  const { SshSession } = await import("../engine/ssh.ts");
  const cfg = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(cfg, "Host lb1\n  ProxyJump bastion,,inner\n");
    await assert.rejects(
      SshSession.open(
        { name: "lb1", host: "lb1", port: 22, user: "root", become: false },
        { sshConfigFile: cfg },
      ),
      new RegExp(`^Error: ${cfg}: Host lb1: ProxyJump: cannot read hop ""`),
    );
  } finally {
    await Deno.remove(cfg);
  }
});
