import assert from "node:assert/strict";
import { group } from "../../tasks/group.ts";
import { user } from "../../tasks/user.ts";
import { allSyntaxOk, change, isOk, probe } from "./_local.ts";

// Planner and parser cases (create / match / modify shell, home, uid, groups exact and append /
// remove; groups by gid; unreadable output) are data: cases/user/, cases/group/, facts/user/,
// facts/group/.

Deno.test("user/group: bad names are rejected", () => {
  assert.throws(() => user({ name: "Root Kit" }), /user: invalid arguments: name/);
  assert.throws(() => user({ name: "$(id)" }), /name/);
  assert.throws(() => group({ name: "a;b" }), /group: invalid arguments: name/);
  assert.throws(() => user({ name: "ok", groups: ["bad group"] }), /groups.0/);
});

Deno.test("user/group: probes run locally (read-only) and plan; snippets parse", async () => {
  const root = user({ name: "root", shell: "/bin/bash", home: "/root" });
  const f = await probe(root);
  assert.match(f, /^passwd=root:x:0:0:/m);
  const p = root.plan(f);
  await allSyntaxOk(root, p);
  const nobody = user({ name: "haplay-no-such-user", home: "/home/x", groups: ["adm"] });
  const np = change(nobody.plan(await probe(nobody)));
  await allSyntaxOk(nobody, np);
  const g = group({ name: "root", gid: 0 });
  isOk(g.plan(await probe(g)));
  const ng = group({ name: "haplay-no-such-group", state: "absent" });
  isOk(ng.plan(await probe(ng)));
  await allSyntaxOk(g, change(group({ name: "haplay-x" }).plan("exists=0\nend=1")));
});
