import assert from "node:assert/strict";
import { absent } from "../../tasks/absent.ts";
import { directory } from "../../tasks/directory.ts";
import {
  allSyntaxOk,
  applyLocal,
  change,
  isOk,
  NASTY,
  planLocal,
  restoreLocal,
  sh,
} from "./_local.ts";

const facts = (o: Record<string, string>) =>
  Object.entries(o).map(([k, v]) => `${k}=${v}`).join("\n") + "\nend=1\n";
const dirFacts = (o: Record<string, string> = {}) =>
  facts({
    exists: "1",
    type: "dir",
    owner: "root",
    group: "root",
    mode: "755",
    uid: "0",
    gid: "0",
    ...o,
  });

Deno.test("directory: plan as data", () => {
  const t = directory({ path: "/etc/keepalived", mode: "0750" });
  const c = change(t.plan(facts({ exists: "0" })));
  assert.equal(c.summary, "create directory /etc/keepalived (0750 root:root)");
  assert.equal(
    c.apply,
    "hp_mkparents /etc/keepalived\nmkdir -p -- /etc/keepalived\nchown root:root -- /etc/keepalived\nchmod 0750 -- /etc/keepalived",
  );
  isOk(t.plan(dirFacts({ mode: "750" })));
  assert.equal(change(t.plan(dirFacts())).summary, "set /etc/keepalived mode 0755 → 0750");
  assert.equal(
    change(t.plan(dirFacts({ mode: "750", group: "adm", gid: "4" }))).summary,
    "set /etc/keepalived owner root:adm → root:root",
  );
  assert.match(
    change(t.plan(facts({ exists: "1", type: "file" }))).apply,
    /^hp_fail .*not a directory/,
  );
  assert.match(change(t.plan("")).apply, /^hp_fail/);
  assert.throws(() => directory({ path: "/" }), /directory: invalid arguments: path/);
});

Deno.test("absent: plan as data", () => {
  const t = absent({ path: "/etc/old" });
  isOk(t.plan(facts({ exists: "0" })));
  assert.equal(
    change(t.plan(facts({ exists: "1", type: "file" }))).summary,
    "remove file /etc/old",
  );
  assert.equal(change(t.plan(dirFacts())).summary, "remove directory tree /etc/old");
  assert.throws(() => absent({ path: "/etc" }), /absent: invalid arguments: path: refusing/);
  assert.match(change(t.plan("exists=1")).apply, /^hp_fail/);
});

Deno.test("directory + absent: local round trips with nasty names", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const n of NASTY) {
      const path = `${root}/p ${n.replaceAll("/", "_")}/d`;
      const t = directory({ path, mode: "0700" });
      const p = change(await planLocal(t));
      await allSyntaxOk(t, p);
      const r = await applyLocal(p);
      assert.equal(r.apply.code, 0, r.apply.stderr);
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o700);
      isOk(await planLocal(t));
      await Deno.writeTextFile(`${path}/x y`, "data");
      await Deno.symlink("x y", `${path}/link`);
      // absent of the tree, then restore it exactly.
      const a = absent({ path });
      const ap = change(await planLocal(a));
      await allSyntaxOk(a, ap);
      const ar = await applyLocal(ap);
      assert.equal(ar.apply.code, 0, ar.apply.stderr);
      await assert.rejects(() => Deno.stat(path));
      isOk(await planLocal(a));
      await restoreLocal(ap, ar.J);
      assert.equal(await Deno.readTextFile(`${path}/x y`), "data");
      assert.equal(await Deno.readLink(`${path}/link`), "x y");
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o700);
      await restoreLocal(ap, ar.J); // idempotent
      assert.equal(await Deno.readTextFile(`${path}/x y`), "data");
      // directory's own restore removes what it created.
      await restoreLocal(p, r.J);
      await assert.rejects(() => Deno.stat(`${root}/p ${n.replaceAll("/", "_")}`));
    }
    // absent of a single file.
    await Deno.writeTextFile(`${root}/f`, "keep me");
    const f = change(await planLocal(absent({ path: `${root}/f` })));
    const fr = await applyLocal(f);
    assert.equal(fr.apply.code, 0);
    await restoreLocal(f, fr.J);
    assert.equal(await Deno.readTextFile(`${root}/f`), "keep me");
    assert.equal((await sh(`[ -e /tmp/haplay-pwned ]`)).code, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
