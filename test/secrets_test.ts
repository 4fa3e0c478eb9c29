import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadInventory } from "../engine/inventory.ts";
import {
  base64Forms,
  isSecretLikeKey,
  MASK,
  Redactor,
  redactor,
  resolveSecretRef,
  Secret,
  SecretRefError,
} from "../engine/secrets.ts";

const PROD = fileURLToPath(new URL("./fixtures/inventories/prod/", import.meta.url));

function b64(s: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

Deno.test("Redactor replaces every occurrence of every registered secret", () => {
  const r = new Redactor();
  r.register("hunter2");
  r.register("s3cr3t-token");
  assert.equal(
    r.redact("pw=hunter2 tok=s3cr3t-token again hunter2"),
    "pw=******** tok=******** again ********",
  );
  assert.equal(r.redact("nothing to see"), "nothing to see");
  assert.equal(r.redact(""), "");
});

Deno.test("Redactor: size counts distinct secrets; empty ones are ignored", () => {
  const r = new Redactor();
  assert.equal(r.size, 0);
  assert.equal(r.redact("hunter2"), "hunter2");
  r.register("hunter2");
  r.register("hunter2");
  r.register("");
  assert.equal(r.size, 1);
});

Deno.test("Redactor: longer secrets win over their prefixes; regex characters are literal", () => {
  const r = new Redactor();
  r.register("abc123");
  r.register("abc12345");
  r.register("a.b*c+(d)");
  assert.equal(r.redact("x abc12345 y abc123 z"), "x ******** y ******** z");
  assert.equal(r.redact("a.b*c+(d) aXbbc+(d)"), "******** aXbbc+(d)");
});

Deno.test("Redactor: the standalone base64 form is redacted whole", () => {
  const r = new Redactor();
  r.register("hunter2-long");
  assert.equal(r.redact(`echo ${b64("hunter2-long")} | base64 -d`), "echo ******** | base64 -d");
  r.register("pässwörd");
  assert.equal(r.redact(b64("pässwörd")), MASK);
});

Deno.test("Redactor: base64 of a secret inside a longer stream, at all 3 alignments", () => {
  const secret = "vrrp-Auth-9f2c";
  const r = new Redactor();
  r.register(secret);
  const frags = base64Forms(secret);
  for (const prefix of ["", "a", "ab", "abc", "auth_pass ", "conf:\n  x"]) {
    for (const suffix of ["", "\n", "\n}\n", "xyz"]) {
      const stream = b64(`${prefix}${secret}${suffix}`);
      const out = r.redact(stream);
      assert.notEqual(out, stream, `prefix ${JSON.stringify(prefix)}`);
      assert.ok(out.includes(MASK));
      for (const f of frags) assert.ok(!out.includes(f), `fragment ${f} left in ${out}`);
      // What is left around the mask cannot spell the secret: at most 2 edge chars survive.
      const kept = out.replace(MASK, "");
      assert.ok(stream.length - kept.length >= Math.floor((secret.length * 8) / 6) - 2);
    }
  }
});

Deno.test("base64Forms: standalone plus the stable middle for each alignment", () => {
  const s = "hunter2-long";
  const forms = base64Forms(s);
  assert.ok(forms.includes(b64(s)));
  for (const k of [0, 1, 2]) {
    const enc = b64("\0".repeat(k) + s);
    const from = Math.ceil((8 * k) / 6);
    const to = Math.floor((8 * (k + s.length)) / 6);
    assert.ok(forms.includes(enc.slice(from, to)), `alignment ${k}`);
  }
  assert.deepEqual(base64Forms("ab"), [], "too short to redact in base64 without false hits");
});

Deno.test("Redactor: a short secret's base64 does not mangle unrelated base64", () => {
  const r = new Redactor();
  r.register("ab");
  const unrelated = b64("xxab yyab zzab");
  assert.equal(r.redact(unrelated), unrelated);
  assert.equal(r.redact("ab"), MASK);
});

Deno.test("redactor: a process-wide default instance", () => {
  assert.ok(redactor instanceof Redactor);
});

Deno.test("Secret prints and serializes as ********, keeps its value and ref", () => {
  const s = new Secret("hunter2", "env:SUDO_PW");
  assert.equal(s.value, "hunter2");
  assert.equal(s.ref, "env:SUDO_PW");
  assert.equal(String(s), MASK);
  assert.equal(`${s}`, MASK);
  assert.equal(s.toJSON(), MASK);
  assert.equal(JSON.stringify({ pw: s }), `{"pw":"${MASK}"}`);
  assert.equal(Deno.inspect(s), "Secret(env:SUDO_PW)");
  assert.ok(!Deno.inspect({ s }).includes("hunter2"));
});

Deno.test("resolveSecretRef: !env from opts.env, registered with the given redactor", async () => {
  const r = new Redactor();
  const s = await resolveSecretRef("env", "DB_PW", {
    env: { DB_PW: "pw-from-env" },
    baseDir: ".",
    redactor: r,
  });
  assert.equal(s.value, "pw-from-env");
  assert.equal(s.ref, "env:DB_PW");
  assert.equal(r.redact("x pw-from-env"), `x ${MASK}`);
  await assert.rejects(
    resolveSecretRef("env", "NOPE", { env: {}, baseDir: ".", redactor: r }),
    (e) => e instanceof SecretRefError && e.message === "environment variable NOPE is not set",
  );
  await assert.rejects(
    resolveSecretRef("env", "not a name", { env: {}, baseDir: ".", redactor: r }),
    { message: "!env needs an environment variable name, got 'not a name'" },
  );
});

Deno.test("resolveSecretRef: !env falls back to the process environment", async () => {
  const name = "HAPLAY_SECRETS_TEST_SURELY_UNSET";
  const r = new Redactor();
  await assert.rejects(
    resolveSecretRef("env", name, { baseDir: ".", redactor: r }),
    SecretRefError,
  );
  const pathVar = Deno.env.get("PATH");
  if (pathVar !== undefined) {
    const s = await resolveSecretRef("env", "PATH", { baseDir: ".", redactor: r });
    assert.equal(s.value, pathVar);
  }
});

Deno.test("resolveSecretRef: !file relative to baseDir, one trailing newline dropped", async () => {
  const r = new Redactor();
  const s = await resolveSecretRef("file", "secrets/vrrp_auth", { baseDir: PROD, redactor: r });
  assert.equal(s.value, "vrrp-Auth-9f2c");
  assert.equal(s.ref, "file:secrets/vrrp_auth");
  assert.equal(r.size, 1);
  const abs = await resolveSecretRef("file", join(PROD, "secrets/vrrp_auth"), {
    baseDir: "/",
    redactor: r,
  });
  assert.equal(abs.value, "vrrp-Auth-9f2c");
  await assert.rejects(
    resolveSecretRef("file", "secrets/missing", { baseDir: PROD, redactor: r }),
    { message: "cannot read secret file 'secrets/missing': no such file" },
  );
});

Deno.test("isSecretLikeKey", () => {
  for (
    const k of [
      "password",
      "ansible_become_password",
      "DB_PASSWORD_FILE",
      "auth_pass",
      "smtp_pass",
      "client_secret",
      "api_token",
      "Token",
    ]
  ) {
    assert.ok(isSecretLikeKey(k), k);
  }
  for (
    const k of [
      "pass",
      "passive",
      "bypass_cache",
      "vrrp_priority",
      "ansible_user",
      "haplay_ssh_key",
    ]
  ) {
    assert.ok(!isSecretLikeKey(k), k);
  }
});

Deno.test("inventory: !env and !file resolve at load time, with opts.env", async () => {
  const r = new Redactor();
  const inv = await loadInventory(join(PROD, "prod.yaml"), {
    env: { LB2_SUDO: "from-opts-env" },
    redactor: r,
  });
  const lb2 = inv.hosts.get("lb2")!;
  assert.equal(lb2.vars.ansible_become_password, "from-opts-env");
  assert.equal(lb2.connection.becomePassword, "from-opts-env");
  assert.equal(
    lb2.vars.auth_pass,
    "vrrp-Auth-9f2c",
    "!file secrets/vrrp_auth from group_vars/lvs.yaml",
  );
  assert.equal(r.redact(JSON.stringify(lb2.vars)).includes("from-opts-env"), false);
  assert.equal(r.redact(JSON.stringify(lb2.vars)).includes("vrrp-Auth-9f2c"), false);
});
