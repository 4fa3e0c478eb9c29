import assert from "node:assert/strict";
import { apt, dpkgStatusSh } from "../../tasks/apt.ts";
import { allSyntaxOk, change, isOk, probe } from "./_local.ts";
import { requires } from "../_requires.ts";

const NOW = 1_800_000_000;
const f = (pkgs: string[], ageSeconds: number | null) =>
  [
    ...pkgs.map((p) => `pkg=${p}`),
    `cache_mtime=${ageSeconds === null ? 0 : NOW - ageSeconds}`,
    `now=${NOW}`,
    "end=1",
  ].join("\n");

Deno.test("apt: present", () => {
  const t = apt({ name: ["keepalived", "ipvsadm"], state: "present" });
  isOk(t.plan(f(["keepalived|ii |1:2.2.7-1|1:2.2.7-1", "ipvsadm|ii |1:1.31-1|1:1.31-1"], 99999)));
  const c = change(t.plan(f(["keepalived|||1:2.2.7-1", "ipvsadm|ii |1:1.31-1|1:1.31-1"], 60)));
  assert.equal(c.summary, "install keepalived (1:2.2.7-1)");
  assert.match(c.apply, /^export DEBIAN_FRONTEND=noninteractive$/m);
  assert.match(
    c.apply,
    /apt-get -y -q -o DPkg::Lock::Timeout=60 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --no-upgrade keepalived ipvsadm/,
  );
  assert.match(c.backup, /apt.new/);
  assert.match(c.restore, /HAPLAY_PURGE_PACKAGES:-0}" = 1/);
  // stale cache: update first
  const s = change(t.plan(f(["keepalived|rc |1:2.2.7-1|1:2.2.7-1", "ipvsadm|ii |1|1"], 7200)));
  assert.equal(
    s.summary,
    "install keepalived (1:2.2.7-1), after apt-get update (cache older than 1 h)",
  );
  // unknown package with a fresh cache: update too
  const u = change(t.plan(f(["keepalived|||(none)", "ipvsadm|ii |1|1"], 10)));
  assert.match(u.summary, /unknown package/);
  // empty lists
  assert.match(
    change(t.plan(f(["keepalived|||", "ipvsadm|ii |1|1"], null))).summary,
    /cache older than 1 h/,
  );
});

Deno.test("apt: latest, absent, never, preseed hidden", () => {
  const l = apt({ name: "keepalived", state: "latest" });
  isOk(l.plan(f(["keepalived|ii |2|2"], 60)));
  assert.equal(change(l.plan(f(["keepalived|ii |1|2"], 60))).summary, "upgrade keepalived 1 → 2");
  assert.match(change(l.plan(f(["keepalived|ii |2|2"], 7200))).summary, /if newer after refresh/);
  const a = apt({ name: "keepalived", state: "absent" });
  isOk(a.plan(f(["keepalived|rc |1|1"], 60)));
  isOk(a.plan(f(["keepalived|||1"], 60)));
  const rm = change(a.plan(f(["keepalived|ii |1|1"], 60)));
  assert.equal(rm.summary, "remove keepalived 1");
  assert.match(rm.restore, /apt.removed/);
  assert.equal(
    change(
      apt({ name: "keepalived", state: "absent", purge: true }).plan(f(["keepalived|rc |1|1"], 60)),
    ).summary,
    "purge keepalived 1",
  );
  const n = change(apt({ name: "xx", updateCache: "never" }).plan(f(["xx|||"], 99999)));
  assert.doesNotMatch(n.apply, /update/);
  const p = change(
    apt({ name: "xx", preseed: "xx xx/password password hunter2" }).plan(f(["xx|||1"], 1)),
  );
  assert.doesNotMatch(p.summary + p.apply, /hunter2/);
  assert.match(p.apply, /debconf-set-selections/);
  assert.match(change(a.plan("pkg=other|ii |1|1\nnow=1\ncache_mtime=1\nend=1")).apply, /^hp_fail/);
  assert.throws(() => apt({ name: "Bad Name" }), /apt: invalid arguments: name/);
  assert.throws(() => apt({ name: "x; rm -rf /" }), /name/);
});

Deno.test("apt: probe runs locally (read-only dpkg-query/apt-cache) and plans", async () => {
  const t = apt({
    name: ["dash", "haplay-no-such-package"],
    state: "present",
    updateCache: "never",
  });
  const out = await probe(t);
  assert.match(out, /^pkg=dash\|ii \|[^|]+\|/m);
  assert.match(out, /^pkg=haplay-no-such-package\|\|\|/m);
  const p = change(t.plan(out));
  assert.equal(p.summary, "install haplay-no-such-package");
  await allSyntaxOk(t, p);
  isOk(apt({ name: "dash", updateCache: "never" }).plan(await probe(apt({ name: "dash" }))));
});

Deno.test(requires({ "Linux (dpkg)": Deno.build.os === "linux" }, {
  name: "apt: the awk pass over dpkg's status prints what dpkg-query does, for every package here",
  fn: async () => {
    const sh = async (script: string) => {
      const r = await new Deno.Command("sh", { args: ["-c", script] }).output();
      return new TextDecoder().decode(r.stdout);
    };
    const fmt = "${Package}|${binary:Package}|${db:Status-Abbrev}|${Version}\\n";
    const all = (await sh(`dpkg-query -W -f='${fmt}'`)).trim().split("\n");
    assert.ok(all.length > 50, `dpkg knows ${all.length} packages here`);
    const names = [
      ...new Set(all.map((l) => l.split("|")[0])),
      ...all.filter((l) => l.split("|")[1].includes(":")).map((l) => l.split("|")[1]).slice(0, 5),
      "haplay-no-such-package",
    ];
    const want = await sh(`dpkg-query -W -f='${fmt}' ${names.join(" ")} 2>/dev/null`);
    const got = await sh(dpkgStatusSh(names));
    const sorted = (s: string) => s.trim().split("\n").sort();
    assert.deepEqual(sorted(got), sorted(want));
    // a few names only: just those
    const few = ["dash", "haplay-no-such-package"];
    assert.deepEqual(
      sorted(await sh(dpkgStatusSh(few))),
      sorted(await sh(`dpkg-query -W -f='${fmt}' ${few.join(" ")} 2>/dev/null`)),
    );
  },
}));

Deno.test("apt: a present package needs no cache age; a missing one does", () => {
  const t = apt({ name: "dash" });
  isOk(t.plan("pkg=dash|ii |0.5.12-2|\nend=1"));
  assert.match(change(t.plan("pkg=dash|||0.5.12-2\nend=1")).summary, /missing now=/);
  assert.match(t.probe, /if \[ -n "\$\{_age:-\}" \]; then/);
});
