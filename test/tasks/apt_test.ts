import assert from "node:assert/strict";
import { apt, dpkgStatusSh } from "../../tasks/apt.ts";
import { allSyntaxOk, change, isOk, probe } from "./_local.ts";
import { requires } from "../_requires.ts";

// Planner and parser cases (present / install / stale or unknown cache / latest / absent /
// purge / update modes / preseed hidden / unreadable output) are data: cases/apt/, facts/apt/.

Deno.test("apt: bad args name the field", () => {
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

Deno.test("apt: the probe reports the cache age only where it asked for candidates", () => {
  assert.match(apt({ name: "dash" }).probe, /if \[ -n "\$\{_age:-\}" \]; then/);
});
