/**
 * The run loop without root, SSH or a lab: every host is a directory under a temp root, run
 * through the local connector (the engine's real probe, apply and rollback scripts under `sh`,
 * lock, generation and journal included), with the scripted connector recording what was sent
 * when, and standing in for unreachable hosts or another run changing a host mid-run.
 */
import assert from "node:assert/strict";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { LocalConnectors } from "../engine/connector_local.ts";
import { type FakeHost, ScriptedConnectors } from "../engine/connector_fake.ts";
import type { ConnectorFactory } from "../engine/connector.ts";
import type { Handler, HostContext, Play, Task } from "../engine/types.ts";
import type { RunReport } from "../engine/report.ts";
import { b64, q } from "../engine/shell.ts";

/** A file with exact content, journaled: runs as any user (no chown), on the local roots. */
function put(path: string, content: string, notify?: string[]): Task {
  return {
    name: `put ${path.replace(/^.*\/(h\d+)\//, "$1:/")}`,
    module: "test",
    resource: `file:${path}`,
    probe: `if [ -f ${q(path)} ]; then cat ${q(path)}; else printf '@@absent'; fi`,
    plan: (facts) =>
      facts === content ? { kind: "ok", reason: "content matches" } : {
        kind: "change",
        summary: facts === "@@absent" ? "create" : "update",
        backup: `hp_save_path ${q(path)}`,
        apply: `hp_mkparents ${q(path)}; printf '%s' ${q(b64(content))} | base64 -d > ${q(path)}`,
        restore: `hp_restore_path ${q(path)}; hp_rm_created`,
      },
    notify,
  };
}

/** A task whose apply fails. */
function failing(name: string): Task {
  return {
    name,
    module: "test",
    resource: `fail:${name}`,
    probe: "true",
    plan: () => ({ kind: "change", summary: "fail", backup: ":", apply: "exit 3", restore: ":" }),
  };
}

interface World {
  local: LocalConnectors;
  fake: ScriptedConnectors;
  inv: Awaited<ReturnType<typeof loadInventory>>;
  /** Path of `p` on host `h`. */
  at(h: string, p: string): string;
  run(plays: Play[], o?: { check?: boolean }): Promise<RunReport>;
  /** Every file under each host's root except the engine's state: path -> content. */
  tree(): Promise<Record<string, string>>;
}

async function world(n: number, fakes: Record<string, FakeHost>, fn: (w: World) => Promise<void>) {
  const local = await LocalConnectors.create();
  try {
    const names = Array.from({ length: n }, (_, i) => `h${i + 1}`);
    const file = `${local.root}/inventory.yaml`;
    await Deno.writeTextFile(
      file,
      `all:\n  hosts:\n${names.map((h) => `    ${h}: { ansible_host: 127.0.0.1 }\n`).join("")}`,
    );
    const inv = await loadInventory(file);
    const fake = new ScriptedConnectors(fakes, local.factory);
    const tree = async () => {
      const out: Record<string, string> = {};
      const walk = async (dir: string) => {
        for await (const e of Deno.readDir(dir)) {
          const p = `${dir}/${e.name}`;
          if (p.endsWith("/var/lib/haplay")) continue;
          if (e.isDirectory) await walk(p);
          else out[p.slice(local.root.length)] = await Deno.readTextFile(p);
        }
      };
      for (const h of names) {
        await Deno.mkdir(local.rootOf(h), { recursive: true });
        await walk(local.rootOf(h));
      }
      return out;
    };
    await fn({
      local,
      fake,
      inv,
      at: (h, p) => `${local.rootOf(h)}${p}`,
      run: (plays, o = {}) =>
        runPlaybook(inv, plays, {
          ...o,
          log: () => {},
          connector: fake.factory as ConnectorFactory,
        }),
      tree,
    });
  } finally {
    await local.remove();
  }
}

const status = (r: RunReport) => Object.fromEntries(r.hosts.map((h) => [h.host, h.status]));
const read = (p: string) => Deno.readTextFile(p).catch(() => undefined);

Deno.test("run loop: serial batches apply one batch after the other; a no-op re-run is 1 exec", async () => {
  await world(5, {}, async (w) => {
    const play: Play = {
      name: "motd",
      hosts: "all",
      rolling: { serial: 2 },
      tasks: (h) => [put(w.at(h.name, "/etc/motd"), `hello ${h.name}\n`)],
    };
    const r = await w.run([play]);
    assert.equal(r.ok, true);
    assert.deepEqual(status(r), {
      h1: "changed",
      h2: "changed",
      h3: "changed",
      h4: "changed",
      h5: "changed",
    });
    assert.equal(await read(w.at("h4", "/etc/motd")), "hello h4\n");
    // one probe round for all, then applies in batches [h1 h2] [h3 h4] [h5]
    const applies = w.fake.calls.filter((c) => c.kind === "apply");
    const batchOf = (h: string) => Math.floor((Number(h.slice(1)) - 1) / 2);
    for (const a of applies) {
      for (const b of applies) {
        if (batchOf(a.host) < batchOf(b.host)) {
          assert.ok(a.end! < b.start, `${a.host} ended before ${b.host} started`);
        }
      }
    }
    const probes = w.fake.calls.filter((c) => c.kind === "probe");
    assert.ok(probes.every((p) => p.end! < applies[0].start), "all probes before any apply");
    assert.deepEqual(r.hosts.map((h) => h.execs), [2, 2, 2, 2, 2]);
    const again = await w.run([play]);
    assert.equal(again.changed, false);
    assert.deepEqual(again.hosts.map((h) => h.execs), [1, 1, 1, 1, 1]);
  });
});

Deno.test("run loop: a batch failing past maxFailPercentage aborts the play; later hosts untouched", async () => {
  await world(4, {}, async (w) => {
    const r = await w.run([{
      name: "half",
      hosts: "all",
      rolling: { serial: 2, maxFailPercentage: 40 },
      tasks: (h) => [
        put(w.at(h.name, "/etc/a.conf"), "a\n"),
        ...(h.name === "h1" ? [failing("boom")] : []),
      ],
    }]);
    assert.equal(r.ok, false);
    assert.deepEqual(status(r), { h1: "failed", h2: "changed", h3: "skipped", h4: "skipped" });
    assert.equal(r.hosts.find((h) => h.host === "h3")!.error, "play aborted");
    assert.equal(await read(w.at("h3", "/etc/a.conf")), undefined);
    assert.equal(w.fake.sent("h3", "apply").length, 0);
    // 50% failed is not past 60%: the play goes on
    const r2 = await w.run([{
      name: "half",
      hosts: "all",
      rolling: { serial: 2, maxFailPercentage: 60 },
      tasks: (
        h,
      ) => [put(w.at(h.name, "/etc/b.conf"), "b\n"), ...(h.name === "h1" ? [failing("boom")] : [])],
    }]);
    assert.deepEqual(status(r2), { h1: "failed", h2: "changed", h3: "changed", h4: "changed" });
  });
});

Deno.test("run loop: a failed gate rolls that host back and stops the play; old loose fields work too", async () => {
  for (const grouped of [true, false]) {
    await world(3, {}, async (w) => {
      const gate = (h: HostContext) =>
        Promise.resolve({
          ok: h.name !== "h2",
          detail: `${h.name} says ${h.name === "h2" ? "no" : "yes"}`,
        });
      const base = {
        name: "gated",
        hosts: "all",
        tasks: (h: HostContext) => [put(w.at(h.name, "/etc/g.conf"), `${h.name}\n`)],
      };
      const play: Play = grouped
        ? { ...base, rolling: { serial: 1, gate } }
        : { ...base, serial: 1, gate };
      await Deno.mkdir(w.at("h2", "/etc"), { recursive: true });
      await Deno.writeTextFile(w.at("h2", "/etc/g.conf"), "before\n");
      const r = await w.run([play]);
      assert.deepEqual(
        status(r),
        { h1: "changed", h2: "failed", h3: "skipped" },
        `grouped=${grouped}`,
      );
      const h2 = r.hosts.find((h) => h.host === "h2")!;
      assert.equal(h2.rolledBack, true);
      assert.match(h2.error!, /gate failed: h2 says no; rolled back/);
      assert.equal(await read(w.at("h2", "/etc/g.conf")), "before\n", "h2 restored");
      assert.equal(await read(w.at("h1", "/etc/g.conf")), "h1\n", "h1 passed its gate: kept");
      assert.equal(await read(w.at("h3", "/etc/g.conf")), undefined, "h3 never touched");
      assert.deepEqual(w.fake.sent("h2").map((c) => c.kind), ["probe", "apply", "rollback"]);
      assert.equal(w.fake.sent("h3", "apply").length, 0);
    });
  }
});

Deno.test("run loop: a rolling option set twice (grouped and loose) stops the run before any contact", async () => {
  await world(2, {}, async (w) => {
    await assert.rejects(
      () =>
        w.run([{
          name: "twice",
          hosts: "all",
          serial: 2,
          rolling: { serial: 1 },
          tasks: (h) => [put(w.at(h.name, "/etc/t.conf"), "t\n")],
        }]),
      /play "twice" cannot be planned:\n {2}rolling.serial and the play's own serial are both set; keep one/,
    );
    assert.equal(w.fake.calls.length, 0);
  });
});

Deno.test("run loop: a host locked by another run, or changed since its probe, is refused unchanged", async () => {
  let w0: World | undefined;
  const fakes: Record<string, FakeHost> = {
    // another run changes h2 between our probe and our apply
    h2: {
      answer: async (_script, n) => {
        if (n !== 2) return undefined;
        const hp = w0!.at("h2", "/var/lib/haplay");
        await Deno.mkdir(hp, { recursive: true });
        await Deno.writeTextFile(`${hp}/generation`, "7\n");
        await Deno.writeTextFile(`${hp}/last-run`, "20990101T000000Z-other\n");
        return undefined;
      },
    },
  };
  await world(2, fakes, async (w) => {
    w0 = w;
    const hp = w.at("h1", "/var/lib/haplay");
    await Deno.mkdir(hp, { recursive: true });
    await Deno.writeTextFile(`${hp}/lock.owner`, "alice@ctl pid 42 run X\n");
    const holder = new Deno.Command("flock", { args: [`${hp}/lock`, "sleep", "30"] }).spawn();
    try {
      // wait until the holder has the lock
      for (let i = 0; i < 50; i++) {
        const t = await new Deno.Command("flock", { args: ["-n", `${hp}/lock`, "true"] }).output();
        if (t.code !== 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const r = await w.run([{
        name: "p",
        hosts: "all",
        tasks: (h) => [put(w.at(h.name, "/etc/x.conf"), "x\n")],
      }]);
      assert.deepEqual(status(r), { h1: "failed", h2: "failed" });
      const [h1, h2] = r.hosts;
      assert.match(
        h1.error!,
        /host is locked by another run \(alice@ctl pid 42 run X\); nothing was changed/,
      );
      assert.match(h2.error!, /host changed since the probe \(by run 20990101T000000Z-other\)/);
      assert.equal(h1.tasks[0].status, "failed");
      assert.equal(await read(w.at("h1", "/etc/x.conf")), undefined);
      assert.equal(await read(w.at("h2", "/etc/x.conf")), undefined);
    } finally {
      holder.kill();
      await holder.status;
    }
  });
});

Deno.test("run loop: handlers notified by a failed run stay pending and run at the next run", async () => {
  await world(1, {}, async (w) => {
    const marker = w.at("h1", "/handler.log");
    const handlers = (): Handler[] => [{ name: "mark", run: `echo ran >> ${q(marker)}` }];
    const play = (fail: boolean): Play => ({
      name: "p",
      hosts: "all",
      tasks: (h) => [
        put(w.at(h.name, "/etc/a.conf"), "a\n", ["mark"]),
        ...(fail ? [failing("boom")] : []),
      ],
      handlers,
    });
    const r1 = await w.run([play(true)]);
    assert.equal(r1.ok, false);
    assert.deepEqual(r1.hosts[0].handlers, []);
    assert.equal(await read(marker), undefined, "handler not run after a failure");
    const pending = [...Deno.readDirSync(w.at("h1", "/var/lib/haplay/pending"))];
    assert.equal(pending.length, 1);
    // nothing left to change: the run still applies, only to run the pending handler
    const r2 = await w.run([play(false)]);
    assert.equal(r2.ok, true);
    assert.equal(r2.hosts[0].tasks[0].status, "ok");
    assert.deepEqual(r2.hosts[0].handlers, ["mark"]);
    assert.equal(await read(marker), "ran\n");
    assert.equal([...Deno.readDirSync(w.at("h1", "/var/lib/haplay/pending"))].length, 0);
    const r3 = await w.run([play(false)]);
    assert.deepEqual(r3.hosts[0].handlers, []);
    assert.equal(r3.hosts[0].execs, 1);
  });
});

Deno.test("run loop: unreachable hosts are reported, the others converge, later plays skip them", async () => {
  await world(3, { h2: { unreachable: "connect ECONNREFUSED 127.0.0.1:22" } }, async (w) => {
    const plays: Play[] = ["one", "two"].map((name) => ({
      name,
      hosts: "all",
      tasks: (h) => [put(w.at(h.name, `/etc/${name}.conf`), `${name}\n`)],
    }));
    const r = await w.run(plays);
    assert.equal(r.ok, false);
    const one = r.hosts.filter((h) => h.play === "one");
    assert.deepEqual(one.map((h) => [h.host, h.status]), [
      ["h2", "unreachable"],
      ["h1", "changed"],
      ["h3", "changed"],
    ]);
    assert.equal(one[0].error, "connect ECONNREFUSED 127.0.0.1:22");
    assert.deepEqual(r.hosts.filter((h) => h.play === "two").map((h) => h.host), ["h1", "h3"]);
    assert.equal(await read(w.at("h3", "/etc/two.conf")), "two\n");
    assert.equal(w.fake.sent("h2").length, 0);
  });
});

Deno.test("run loop: check mode sends probes only and changes nothing", async () => {
  await world(2, {}, async (w) => {
    await Deno.mkdir(w.at("h1", "/etc"), { recursive: true });
    await Deno.writeTextFile(w.at("h1", "/etc/c.conf"), "old\n");
    const before = await w.tree();
    const r = await w.run([{
      name: "c",
      hosts: "all",
      rolling: { serial: 1, gate: () => Promise.reject(new Error("no gate in check mode")) },
      tasks: (h) => [put(w.at(h.name, "/etc/c.conf"), "new\n"), failing("would fail")],
    }], { check: true });
    assert.equal(r.check, true);
    assert.equal(r.changed, true);
    assert.deepEqual(r.hosts.map((h) => h.tasks.map((t) => t.status)), [
      ["would-change", "would-change"],
      ["would-change", "would-change"],
    ]);
    assert.deepEqual(w.fake.calls.map((c) => c.kind), ["probe", "probe"]);
    assert.deepEqual(await w.tree(), before);
    for (const h of ["h1", "h2"]) {
      assert.equal(await read(w.at(h, "/var/lib/haplay/generation")), undefined, `${h} untouched`);
    }
  });
});

Deno.test("local connector: rollback from the journal restores every host", async () => {
  await world(2, {}, async (w) => {
    await Deno.mkdir(w.at("h1", "/etc"), { recursive: true });
    await Deno.writeTextFile(w.at("h1", "/etc/r.conf"), "mine\n");
    const before = await w.tree();
    const r = await w.run([{
      name: "r",
      hosts: "all",
      tasks: (
        h,
      ) => [put(w.at(h.name, "/etc/r.conf"), "theirs\n"), put(w.at(h.name, "/opt/x/y"), "y")],
    }]);
    assert.equal(r.ok, true);
    assert.notDeepEqual(await w.tree(), before);
    const rb = await rollbackHosts(w.inv, { log: () => {}, connector: w.fake.factory });
    assert.deepEqual(rb.map((x) => [x.host, x.ok]), [["h1", true], ["h2", true]]);
    assert.deepEqual(await w.tree(), before);
  });
});
