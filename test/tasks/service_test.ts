import assert from "node:assert/strict";
import { command } from "../../tasks/command.ts";
import { service, serviceHandler } from "../../tasks/service.ts";
import {
  allSyntaxOk,
  applyLocal,
  change,
  isOk,
  NASTY,
  planLocal,
  probe,
  sh,
  syntaxOk,
} from "./_local.ts";

// Planner and parser cases (start / stop / restart / reload / enable / disable on systemd and
// init.d, not installed, unreadable output) are data: cases/service/, facts/service/.

Deno.test("service: bad args name the field", () => {
  assert.throws(
    () => service({ name: "keepalived" }),
    /service: invalid arguments: state: state or enabled is required/,
  );
  assert.throws(() => service({ name: "a b", state: "started" }), /name/);
});

Deno.test("serviceHandler: name, alive check, self-contained", async () => {
  const h = serviceHandler("keepalived", "reload");
  assert.equal(h.name, "reload keepalived");
  assert.match(h.run, /hpt_alive/);
  await syntaxOk(h.run);
  assert.throws(() => serviceHandler("a;b", "restart"), /serviceHandler: invalid arguments: name/);
  // A daemon that dies right after start is reported (simulated init.d script on a temp pidfile).
  const dir = await Deno.makeTempDir();
  try {
    const opts = { pidfile: `${dir}/fake.pid`, process: "haplay-nope" };
    const local = (action: "start" | "restart") =>
      serviceHandler("haplay-fake", action, opts).run.replaceAll(
        "/etc/init.d/haplay-fake",
        `${dir}/init`,
      );
    await Deno.writeTextFile(`${dir}/init`, "#!/bin/sh\nexit 0\n");
    await Deno.chmod(`${dir}/init`, 0o755);
    // restart/reload handlers leave a stopped daemon alone.
    const idle = await sh(local("restart"));
    assert.equal(idle.code, 0, idle.stderr);
    assert.match(idle.stderr, /haplay-fake not running, nothing to restart/);
    const r = await sh(local("start"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /haplay-fake is not running after start/);
    // ... and one that stays alive passes, and can then be restarted.
    await Deno.writeTextFile(
      `${dir}/init`,
      `#!/bin/sh\nsleep 5 >/dev/null 2>&1 &\necho $! > ${dir}/fake.pid\nexit 0\n`,
    );
    const ok = await sh(local("start"));
    assert.equal(ok.code, 0, ok.stderr);
    const re = await sh(local("restart"));
    assert.equal(re.code, 0, re.stderr);
  } finally {
    await sh(`kill $(cat ${dir}/fake.pid) 2>/dev/null`);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("service: probe runs locally and plans", async () => {
  const t = service({ name: "haplay-no-such-service", state: "stopped", enabled: false });
  const out = await probe(t);
  assert.match(out, /^unit=0$/m);
  isOk(t.plan(out));
  const s = service({ name: "haplay-no-such-service", state: "started" });
  await allSyntaxOk(s, s.plan(out));
});

// command's planner and parser cases (creates / removes / unless / onlyIf, sensitive, missing
// guard answers) are data: cases/command/, facts/command/.
Deno.test("command: guards locally, nasty commands quoted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const n of NASTY) {
      const out = `${dir}/out ${n.replaceAll("/", "_")}`;
      const t = command({
        cmd: `printf '%s' "$1" > "$0"`.replace(
          "$0",
          out.replaceAll('"', '\\"').replaceAll("$", "\\$").replaceAll("`", "\\`"),
        ).replace('"$1"', `'${n.replaceAll("'", "'\\''")}'`),
        creates: out,
        unless: `test -e ${"'" + out.replaceAll("'", "'\\''") + "'"}`,
      });
      const p = change(await planLocal(t));
      await allSyntaxOk(t, p);
      const r = await applyLocal(p);
      assert.equal(r.apply.code, 0, r.apply.stderr);
      assert.equal(await Deno.readTextFile(out), n);
      isOk(await planLocal(t));
    }
    await assert.rejects(() => Deno.stat("/tmp/haplay-pwned"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
