import assert from "node:assert/strict";
import { b64 } from "../../engine/shell.ts";
import { file } from "../../tasks/file.ts";
import { template } from "../../tasks/template.ts";
import { sudoers } from "../../tasks/sudoers.ts";
import {
  allSyntaxOk,
  applyLocal,
  change,
  isOk,
  NASTY,
  planLocal,
  probe,
  restoreLocal,
  sh,
} from "./_local.ts";

function facts(o: Record<string, string | undefined>): string {
  return Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join(
    "\n",
  ) + "\nend=1\n";
}

// Planner and parser cases (create / ok / update with diff / owner-only / mode-only, binary,
// sensitive, refusals, malformed output) are data: cases/file/, cases/template/, facts/file/.

Deno.test("file: bad args name the task and field", () => {
  assert.throws(
    () => file({ path: "etc/x", content: "" }),
    /^Error: file: invalid arguments: path: /,
  );
  assert.throws(() => file({ path: "/etc/../x", content: "" }), /path/);
  assert.throws(
    () => file({ path: "/etc/x", content: "", mode: "999" }),
    /mode: must be an octal mode/,
  );
  assert.throws(() => file({ path: "/etc/x", content: "", owner: "a b" }), /owner/);
  assert.throws(
    () => file({ path: "/etc/x", content: "", validate: "true" }),
    /validate: must contain %s/,
  );
  assert.throws(
    () => file({ path: "/a b/x", content: "", validate: "test -f %s" }),
    /parent directory/,
  );
  // deno-lint-ignore no-explicit-any
  assert.throws(() => file({ path: "/etc/x" } as any), /content/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => file({ path: "/etc/x", content: "", bogus: 1 } as any), /Unrecognized key/);
});

Deno.test("file: nasty paths, owners and content are quoted (sh -n and a local round trip)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const n of NASTY) {
      const path = `${dir}/${n.replaceAll("/", "_")}/f ${n.replaceAll("/", "_")}`;
      const t = file({ path, content: n + "\n", mode: "0600" });
      const p = change(await planLocal(t));
      await allSyntaxOk(t, p);
      const { J, apply } = await applyLocal(p);
      assert.equal(apply.code, 0, apply.stderr);
      assert.equal(await Deno.readTextFile(path), n + "\n");
      assert.equal((await Deno.stat(path)).mode! & 0o7777, 0o600);
      isOk(await planLocal(t));
      await restoreLocal(p, J);
      await assert.rejects(() => Deno.stat(path));
      await assert.rejects(
        () => Deno.stat(`${dir}/${n.replaceAll("/", "_")}`),
        "created parent removed",
      );
    }
    await assert.rejects(() => Deno.stat("/tmp/haplay-pwned"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file: local apply, owner-only fix, failing validate leaves the old file byte-identical, restore", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/app.conf`;
  try {
    await Deno.writeTextFile(path, "old\n");
    await Deno.chmod(path, 0o640);
    const t = file({ path, content: "new\n", validate: "grep -q new %s" });
    const p = change(await planLocal(t));
    assert.equal(p.summary, `update ${path} (mode 0640 → 0644)`);
    const { J, apply } = await applyLocal(p);
    assert.equal(apply.code, 0, apply.stderr);
    assert.equal(await Deno.readTextFile(path), "new\n");
    isOk(await planLocal(t));
    await restoreLocal(p, J);
    assert.equal(await Deno.readTextFile(path), "old\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);

    const bad = file({ path, content: "broken\n", validate: "grep -q new %s" });
    const before = await Deno.readFile(path);
    const r = await applyLocal(change(await planLocal(bad)));
    assert.notEqual(r.apply.code, 0);
    assert.match(r.apply.stderr, /validate failed/);
    assert.deepEqual(await Deno.readFile(path), before);
    const leftovers = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(leftovers, ["app.conf"]);

    await Deno.chmod(path, 0o600);
    const chm = change(await planLocal(file({ path, content: "old\n" })));
    assert.equal(chm.summary, `set ${path} mode 0600 → 0644`);
    const ino = (await Deno.stat(path)).ino;
    assert.equal((await applyLocal(chm)).apply.code, 0);
    assert.equal((await Deno.stat(path)).ino, ino, "mode-only change must not rewrite the file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file: special files are not read by the probe", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await sh(`mkfifo ${dir}/fifo`);
    const t = file({ path: `${dir}/fifo`, content: "x" });
    const p = change(await planLocal(t));
    assert.match(p.summary, /is a special, not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("template: function templates, undefined variables (string placeholders: cases/template/)", () => {
  const t = template({
    path: "/etc/t",
    template: "a={{ a }} b={{b.c}}\n",
    vars: { a: 1, b: { c: "x" } },
  });
  assert.equal(t.module, "template");
  assert.match(change(t.plan(facts({ exists: "0" }))).diff!, /\+a=1 b=x/);
  const f = template({ path: "/etc/t", template: (v) => `n=${v.n}\n`, vars: { n: 5 } });
  assert.match(change(f.plan(facts({ exists: "0" }))).diff!, /\+n=5/);
  assert.throws(
    () => template({ path: "/etc/t", template: "{{ nope }}" }),
    /template \/etc\/t: undefined variable nope/,
  );
});

Deno.test("sudoers: visudo rejects a broken file on the host, names sudo would skip are refused", async () => {
  const t = sudoers({
    name: "haplay-deploy",
    content: "deploy ALL=(root) NOPASSWD: /usr/sbin/ipvsadm -Ln",
  });
  assert.equal(t.resource, "file:/etc/sudoers.d/haplay-deploy");
  // its plans: cases/sudoers/
  assert.throws(() => sudoers({ name: "a.b", content: "" }), /sudoers: invalid arguments: name/);
  assert.throws(() => sudoers({ name: "a~", content: "" }), /name/);
  // visudo really rejects a broken file on the temp path (run locally on a temp dir).
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/s`, "keep\n");
    const bad = file({
      path: `${dir}/s`,
      content: "deploy ALL=(root NOPASSWD\n",
      validate: "visudo -cf %s",
    });
    const r = await applyLocal(change(await planLocal(bad)));
    assert.notEqual(r.apply.code, 0);
    assert.equal(await Deno.readTextFile(`${dir}/s`), "keep\n");
    const good = file({
      path: `${dir}/s`,
      content: "deploy ALL=(root) NOPASSWD: /bin/true\n",
      mode: "0440",
      validate: "visudo -cf %s",
    });
    assert.equal((await applyLocal(change(await planLocal(good)))).apply.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file: the probe sends content back only when it differs, never a sensitive file's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "haplay-fprobe-" });
  try {
    const path = `${dir}/f.conf`;
    await Deno.writeTextFile(path, "same\n");
    const owner = { owner: "root", group: "root", mode: "0644" };
    const same = await probe(file({ path, content: "same\n", ...owner }));
    assert.match(same, /^sha256=/m);
    assert.doesNotMatch(same, /content_b64=/, "a no-op sends no content");
    const other = await probe(file({ path, content: "other\n", ...owner }));
    assert.match(other, new RegExp(`^content_b64=${b64("same\n")}$`, "m"));
    assert.match(change(file({ path, content: "other\n", ...owner }).plan(other)).diff!, /-same/);
    const secret = await probe(file({ path, content: "other\n", sensitive: true, ...owner }));
    assert.doesNotMatch(secret, /content_b64=/, "a sensitive file's old content stays on the host");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
