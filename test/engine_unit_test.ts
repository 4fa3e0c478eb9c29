import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { b64, parseKv, q, unb64 } from "../engine/shell.ts";
import { keyType, knownHostsLine, parseKnownHosts, verifyHostKey } from "../engine/known_hosts.ts";
import { resolveSshConfig } from "../engine/ssh_config.ts";
import { batches, mapPool } from "../engine/pool.ts";
import {
  applyScript,
  handlerKey,
  handlerName,
  parseApply,
  parseProbe,
  probeScript,
} from "../engine/script.ts";
import { parseHistory, parseRollback, rollbackScript } from "../engine/journal.ts";
import type { Task } from "../engine/types.ts";
import { newRunId } from "../engine/run.ts";

async function sh(script: string, stdin = ""): Promise<{ code: number; stdout: string }> {
  const p = new Deno.Command("sh", { args: ["-c", script], stdin: "piped", stdout: "piped" })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const o = await p.output();
  return { code: o.code, stdout: new TextDecoder().decode(o.stdout) };
}

Deno.test("q() quotes every nasty value into one sh word", async () => {
  const nasty = [
    "plain",
    "with space",
    "it's",
    "$(touch /tmp/pwned)",
    "`x`",
    "a\nb",
    "",
    "*",
    "-n",
  ];
  for (const v of nasty) {
    const r = await sh(`printf '%s' ${q(v)}`);
    assert.equal(r.stdout, v);
  }
});

Deno.test("b64/unb64 round-trip bytes and text", () => {
  const bytes = new Uint8Array(70000).map((_, i) => i % 256);
  assert.deepEqual(unb64(b64(bytes)), bytes);
  assert.equal(new TextDecoder().decode(unb64(b64("héllo\n"))), "héllo\n");
  assert.deepEqual(parseKv("a=1\nb=x=y\n junk\n"), { a: "1", b: "x=y" });
});

// An ed25519 public key blob: string "ssh-ed25519" + 32 key bytes.
function blob(seed: number): Uint8Array {
  const t = new TextEncoder().encode("ssh-ed25519");
  const out = new Uint8Array(4 + t.length + 4 + 32);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, t.length);
  out.set(t, 4);
  dv.setUint32(4 + t.length, 32);
  out.fill(seed, 8 + t.length);
  return out;
}

Deno.test("known_hosts: match, mismatch, unknown, revoked, hashed, ports", () => {
  const k1 = blob(1);
  const k2 = blob(2);
  const salt = new Uint8Array(20).fill(7);
  const hashed = "|1|" + btoa(String.fromCharCode(...salt)) + "|" +
    createHmac("sha1", salt).update("[198.19.9.9]:2222").digest("base64");
  const text = [
    "# comment",
    knownHostsLine(["h1", "198.18.0.11"], 22, k1).trim(),
    `${hashed} ssh-ed25519 ${btoa(String.fromCharCode(...k2))}`,
    `@revoked h3 ssh-ed25519 ${btoa(String.fromCharCode(...k2))}`,
    `@cert-authority *.example ssh-ed25519 AAAA`,
  ].join("\n");
  const kh = parseKnownHosts(text);
  assert.equal(kh.length, 3);
  assert.equal(keyType(k1), "ssh-ed25519");
  assert.equal(verifyHostKey(kh, ["198.18.0.11"], 22, k1), "match");
  assert.equal(verifyHostKey(kh, ["h1"], 22, k2), "mismatch");
  assert.equal(verifyHostKey(kh, ["h1"], 2200, k1), "unknown");
  assert.equal(verifyHostKey(kh, ["h9"], 22, k1), "unknown");
  assert.equal(verifyHostKey(kh, ["198.19.9.9"], 2222, k2), "match");
  assert.equal(verifyHostKey(kh, ["h3"], 22, k2), "revoked");
  const plainPort = parseKnownHosts(knownHostsLine(["h5"], 2222, k1));
  assert.equal(verifyHostKey(plainPort, ["h5"], 2222, k1), "match");
});

Deno.test("ssh_config: first match wins, IdentityFile accumulates, ProxyJump", () => {
  const cfg = `
Host lb1
  HostName 198.18.0.21
  User deploy
  IdentityFile ~/.ssh/lb
  ProxyJump bastion
Host lb* !lb9
  Port 2222
  User ignored
  IdentityFile ~/.ssh/common
Host *
  User root
`;
  const c = resolveSshConfig(cfg, "lb1", "/home/u");
  assert.deepEqual(c, {
    identityFiles: ["/home/u/.ssh/lb", "/home/u/.ssh/common"],
    hostName: "198.18.0.21",
    user: "deploy",
    proxyJump: "bastion",
    port: 2222,
  });
  assert.equal(resolveSshConfig(cfg, "lb9", "/h").port, undefined);
  assert.equal(resolveSshConfig(cfg, "lb9", "/h").user, "root");
});

Deno.test("serial batches and bounded pool", async () => {
  const h = [1, 2, 3, 4, 5, 6, 7];
  assert.deepEqual(batches(h), [h]);
  assert.deepEqual(batches(h, 3), [[1, 2, 3], [4, 5, 6], [7]]);
  assert.deepEqual(batches(h, "30%"), [[1, 2], [3, 4], [5, 6], [7]]);
  assert.deepEqual(batches(h, [1, "50%"]), [[1], [2, 3, 4], [5, 6, 7]]);
  let inflight = 0;
  let peak = 0;
  const r = await mapPool(h, 2, async (x) => {
    peak = Math.max(peak, ++inflight);
    await new Promise((r) => setTimeout(r, 5));
    inflight--;
    return x * 2;
  });
  assert.deepEqual(r, [2, 4, 6, 8, 10, 12, 14]);
  assert.equal(peak, 2);
});

function echoTask(i: number, probe: string): Task {
  return {
    name: `t${i}`,
    module: "test",
    resource: `test:${i}`,
    probe,
    plan: (f) => ({ kind: "ok", reason: f }),
  };
}

Deno.test("probe script frames each task's output exactly, whatever it prints", async () => {
  const tasks = [
    echoTask(0, "printf 'no newline'"),
    echoTask(1, "printf 'a\\n\\nb\\n\\n'"),
    echoTask(2, "echo '@@HPfake:end:2:0'; exit 3"),
    echoTask(3, "cat; echo stdin-was-empty"),
  ];
  const n = "HPtestnonce";
  const { stdout, code } = await sh("sh -s", probeScript(tasks, n));
  assert.equal(code, 0);
  const p = parseProbe(stdout, tasks.length, n);
  assert.deepEqual(p.facts, [
    "no newline",
    "a\n\nb\n\n",
    "@@HPfake:end:2:0\n",
    "stdin-was-empty\n",
  ]);
  assert.deepEqual(p.rcs, [0, 0, 3, 0]);
  assert.equal(p.generation, "0");
  assert.throws(() => parseProbe(stdout.slice(0, stdout.length - 30), 4, n), /incomplete/);
});

Deno.test("handler names survive the hex file-name encoding", () => {
  for (const n of ["reload keepalived", "a/b", "ünï"]) assert.equal(handlerName(handlerKey(n)), n);
});

Deno.test("apply script is valid sh, parses markers, and reports failures with the log tail", async () => {
  const t = echoTask(0, "true");
  const change = {
    kind: "change" as const,
    summary: "s",
    backup: "true",
    apply: "echo boom >&2; false",
    restore: "true",
  };
  const s = applyScript([{ index: 0, task: t, change }], {
    nonce: "HPn",
    runId: "r1",
    generation: "0",
    owner: "me",
    handlers: [],
    pending: [],
    keepRuns: 3,
    play: "p",
  });
  assert.equal((await sh(`sh -n <<'EOF'\n${s}\nEOF`)).code, 0);
  const r = parseApply(
    "@@HPn:started\n@@HPn:done:0\n@@HPn:failed:1:apply:1\n" + btoa("boom\n") + "\n",
    "HPn",
  );
  assert.deepEqual(r.done, [0]);
  assert.deepEqual(r.failed, { index: 1, phase: "apply", rc: 1, log: "boom\n" });
  assert.equal(parseApply("@@HPn:locked:bob run x\n", "HPn").locked, "bob run x");
});

Deno.test("rollback and history parsers", async () => {
  assert.equal(
    (await sh(`sh -n <<'EOF'\n${rollbackScript({ nonce: "N", owner: "o" })}\nEOF`)).code,
    0,
  );
  const r = parseRollback(
    `@@N:run:r1\n@@N:restored:r1:0001:${btoa("file /x: create\n")}\n@@N:handler:${
      handlerKey("reload k")
    }\n@@N:finished\n`,
    "N",
  );
  assert.deepEqual(r.restored, [{ run: "r1", task: "0001", summary: "file /x: create" }]);
  assert.deepEqual(r.handlers, ["reload k"]);
  assert.equal(r.finished, true);
  const h = parseHistory(`@@N:run:r1:done:3:3:0::${btoa(JSON.stringify({ owner: "me" }))}\n`, "N");
  assert.deepEqual(h, [{
    id: "r1",
    state: "done",
    tasks: 3,
    done: 3,
    restored: 0,
    rolledBackAt: undefined,
    started: undefined,
    owner: "me",
    play: undefined,
  }]);
});

Deno.test("run ids sort in the order the runs started, also within one second", async () => {
  // hosts pick their newest run by sorting these names: a quick re-deploy must sort after
  for (let i = 0; i < 20; i++) {
    const a = newRunId();
    await new Promise((r) => setTimeout(r, 2));
    const b = newRunId();
    assert.ok(a < b, `${a} sorts before ${b}`);
  }
});
