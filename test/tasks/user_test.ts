import assert from "node:assert/strict";
import { group } from "../../tasks/group.ts";
import { user } from "../../tasks/user.ts";
import { allSyntaxOk, change, isOk, probe } from "./_local.ts";

const absentF = "exists=0\nend=1\n";
const userF = (passwd: string, groups = "x", primary = "x") =>
  `exists=1\npasswd=${passwd}\nprimary=${primary}\ngroups=${groups}\nend=1\n`;

Deno.test("user: keepalived_script as a system user with no shell and no home", () => {
  const t = user({ name: "keepalived_script", system: true });
  const c = change(t.plan(absentF));
  assert.equal(
    c.summary,
    "create system user keepalived_script (shell /usr/sbin/nologin, no home)",
  );
  assert.match(
    c.apply,
    /useradd -r -s \/usr\/sbin\/nologin -M -d \/nonexistent \$_g keepalived_script/,
  );
  isOk(
    t.plan(
      userF(
        "keepalived_script:x:999:999::/nonexistent:/usr/sbin/nologin",
        "keepalived_script",
        "keepalived_script",
      ),
    ),
  );
  assert.match(c.restore, /userdel keepalived_script/);
});

Deno.test("user: modifications as data (shell, home, uid, groups exact / append)", () => {
  const line = "deploy:x:1000:1000:Deploy:/home/deploy:/bin/bash";
  const t = user({
    name: "deploy",
    shell: "/bin/bash",
    home: "/home/deploy",
    groups: ["adm", "sudo"],
  });
  isOk(t.plan(userF(line, "deploy sudo adm", "deploy")));
  const g = change(t.plan(userF(line, "deploy sudo cdrom", "deploy")));
  assert.equal(g.summary, "modify user deploy: groups cdrom,sudo → adm,sudo");
  assert.equal(g.apply, "usermod -G adm,sudo deploy");
  const ap = user({ name: "deploy", shell: "/bin/bash", groups: ["adm"], append: true });
  assert.equal(
    change(ap.plan(userF(line, "deploy cdrom", "deploy"))).apply,
    "usermod -a -G adm deploy",
  );
  isOk(ap.plan(userF(line, "deploy cdrom adm", "deploy")));
  const sh = change(user({ name: "deploy", uid: 1001 }).plan(userF(line)));
  assert.equal(
    sh.summary,
    "modify user deploy: shell /bin/bash → /usr/sbin/nologin, uid 1000 → 1001",
  );
  assert.equal(sh.apply, "usermod -s /usr/sbin/nologin -u 1001 deploy");
  const rm = user({ name: "deploy", state: "absent" });
  assert.equal(change(rm.plan(userF(line))).summary, "remove user deploy (home kept)");
  isOk(rm.plan(absentF));
  assert.match(change(t.plan("exists=1\npasswd=broken\nend=1")).apply, /^hp_fail/);
  assert.match(change(t.plan("")).apply, /^hp_fail/);
});

Deno.test("user/group: bad names are rejected", () => {
  assert.throws(() => user({ name: "Root Kit" }), /user: invalid arguments: name/);
  assert.throws(() => user({ name: "$(id)" }), /name/);
  assert.throws(() => group({ name: "a;b" }), /group: invalid arguments: name/);
  assert.throws(() => user({ name: "ok", groups: ["bad group"] }), /groups.0/);
});

Deno.test("group: plan as data", () => {
  const t = group({ name: "haproxy", system: true });
  assert.equal(change(t.plan(absentF)).summary, "create system group haproxy");
  assert.match(change(t.plan(absentF)).apply, /groupadd -r haproxy/);
  isOk(t.plan("exists=1\nline=haproxy:x:998:\nend=1"));
  const g = group({ name: "haproxy", gid: 500 });
  assert.equal(
    change(g.plan("exists=1\nline=haproxy:x:998:\nend=1")).apply,
    "groupmod -g 500 haproxy",
  );
  const rm = group({ name: "haproxy", state: "absent" });
  assert.equal(
    change(rm.plan("exists=1\nline=haproxy:x:998:\nend=1")).summary,
    "remove group haproxy",
  );
  isOk(rm.plan(absentF));
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
