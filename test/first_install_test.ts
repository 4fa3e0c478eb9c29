/**
 * A first install's shortcuts, on the run loop without root or SSH (every host a directory,
 * the engine's real scripts under `sh` through the local connector, each script's start and end
 * recorded): a play whose `withPrevious` says so runs at the same time as the play before it,
 * but only when no host has work in both; a change that `satisfies` a handler drops the
 * pending run of it notified before, and only when its apply says it did the work.
 */
import assert from "node:assert/strict";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { LocalConnectors } from "../engine/connector_local.ts";
import { ScriptedConnectors } from "../engine/connector_fake.ts";
import type { ConnectorFactory } from "../engine/connector.ts";
import type { Play, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";

/** A marker file written by the apply after `sleepS` (no backup needed: rollback is not tested). */
function mark(path: string, sleepS = 0, extra?: Partial<Task> & { satisfies?: string[] }): Task {
  return {
    name: `mark ${path}`,
    module: "test",
    resource: `file:${path}`,
    probe: `if [ -f ${q(path)} ]; then echo present; else echo absent; fi`,
    plan: (facts) =>
      facts.trim() === "present" ? { kind: "ok", reason: "present" } : {
        kind: "change",
        summary: "create",
        backup: ":",
        apply: `${sleepS ? `sleep ${sleepS}; ` : ""}hp_mkparents ${q(path)}; : > ${q(path)}${
          extra?.satisfies ? `; : > "$J/satisfied"` : ""
        }`,
        restore: `rm -f ${q(path)}`,
        ...(extra?.satisfies ? { satisfies: extra.satisfies } : {}),
      },
    notify: extra?.notify,
  };
}

async function withHosts(
  n: number,
  fn: (w: {
    at(h: string, p: string): string;
    fake: ScriptedConnectors;
    run(plays: Play[]): ReturnType<typeof runPlaybook>;
    logs: string[];
  }) => Promise<void>,
) {
  const local = await LocalConnectors.create();
  try {
    const names = Array.from({ length: n }, (_, i) => `h${i + 1}`);
    const file = `${local.root}/inventory.yaml`;
    await Deno.writeTextFile(
      file,
      `all:\n  hosts:\n${names.map((h) => `    ${h}: { ansible_host: 127.0.0.1 }\n`).join("")}`,
    );
    for (const h of names) await Deno.mkdir(local.rootOf(h), { recursive: true });
    const inv = await loadInventory(file);
    const fake = new ScriptedConnectors({}, local.factory);
    const logs: string[] = [];
    await fn({
      at: (h, p) => `${local.rootOf(h)}${p}`,
      fake,
      logs,
      run: (plays) =>
        runPlaybook(inv, plays, {
          log: (l) => logs.push(l),
          connector: fake.factory as ConnectorFactory,
        }),
    });
  } finally {
    await local.remove();
  }
}

/** Play 1 on h1, h2 (slow), play 2 on h3, or on h1 as well when `overlap`. */
function twoPlays(
  at: (h: string, p: string) => string,
  withPrevious: boolean,
  overlap = false,
): Play[] {
  return [
    {
      name: "real servers",
      hosts: "all",
      tasks: (h) => h.name === "h3" ? [] : [mark(at(h.name, "/rs"), 1)],
    },
    {
      name: "load balancers",
      hosts: "all",
      withPrevious: () => withPrevious,
      tasks: (h) =>
        h.name === "h3" || (overlap && h.name === "h1") ? [mark(at(h.name, "/lb"))] : [],
    },
  ];
}

function applies(fake: ScriptedConnectors) {
  const a = fake.calls.filter((c) => c.kind === "apply");
  const of = (h: string) => a.filter((c) => c.host === h);
  return { a, of };
}

Deno.test("first install: a play with withPrevious runs at the same time as the play before it", async () => {
  await withHosts(3, async (w) => {
    const r = await w.run(twoPlays(w.at, true));
    assert.equal(r.ok, true);
    const { of } = applies(w.fake);
    const [rs1] = of("h1");
    const [lb3] = of("h3");
    assert.ok(lb3.start < rs1.end!, "h3's apply (play 2) started before h1's (play 1) ended");
    assert.ok(w.logs.some((l) => /runs together with \[real servers\]/.test(l)), w.logs.join("\n"));
    // reports stay in play order, every host converged once
    assert.deepEqual(
      r.hosts.filter((h) => h.status === "changed").map((h) => `${h.play}:${h.host}`),
      ["real servers:h1", "real servers:h2", "load balancers:h3"],
    );
    assert.equal(await Deno.stat(w.at("h3", "/lb")).then(() => true), true);
    // execs unchanged: probe + apply on each host that had work
    assert.deepEqual(
      ["h1", "h2", "h3"].map((h) => w.fake.sent(h).map((c) => c.kind).join(",")),
      ["probe,apply", "probe,apply", "probe,apply"],
    );
  });
});

Deno.test("first install: without withPrevious, or with a host working in both plays, plays run one after the other", async () => {
  for (const [withPrevious, overlap] of [[false, false], [true, true]]) {
    await withHosts(3, async (w) => {
      const r = await w.run(twoPlays(w.at, withPrevious, overlap));
      assert.equal(r.ok, true);
      const { a } = applies(w.fake);
      const play1End = Math.max(...a.filter((c) => !c.script.includes("/lb")).map((c) => c.end!));
      const lb3 = a.find((c) => c.host === "h3")!;
      assert.ok(lb3.start > play1End, `withPrevious ${withPrevious}, overlap ${overlap}`);
      assert.equal(w.logs.some((l) => /runs together/.test(l)), false);
    });
  }
});

Deno.test("first install: a change that satisfies a handler drops its pending run, when its apply says so", async () => {
  await withHosts(1, async (w) => {
    const log = w.at("h1", "/handler.log");
    const play = (marks: boolean, late: boolean): Play => ({
      name: "p",
      hosts: "all",
      tasks: (h) => [
        mark(w.at(h.name, "/conf"), 0, { notify: ["reload"] }),
        // the "fresh start": satisfies the reload notified above only when it writes the mark
        marks ? mark(w.at(h.name, "/start"), 0, { satisfies: ["reload"] }) : {
          ...mark(w.at(h.name, "/start")),
          plan: (f: string) => withSat(f, w.at(h.name, "/start")),
        },
        ...(late ? [mark(w.at(h.name, "/late"), 0, { notify: ["reload"] })] : []),
      ],
      handlers: () => [{ name: "reload", run: `echo ran >> ${q(log)}` }],
    });
    const r1 = await w.run([play(true, false)]);
    assert.equal(r1.ok, true);
    assert.deepEqual(r1.hosts[0].handlers, [], "reload satisfied by the fresh start");
    assert.equal(await Deno.readTextFile(log).catch(() => ""), "");
    // a notification after the satisfying change still runs the handler
    const r2 = await w.run([play(true, true)]);
    assert.deepEqual(r2.hosts[0].handlers, ["reload"]);
  });
  await withHosts(1, async (w) => {
    // satisfies declared, but the apply did not write $J/satisfied (e.g. found running): kept
    const log = w.at("h1", "/handler.log");
    const r = await w.run([{
      name: "p",
      hosts: "all",
      tasks: (h) => [
        mark(w.at(h.name, "/conf"), 0, { notify: ["reload"] }),
        {
          ...mark(w.at(h.name, "/start")),
          plan: (f: string) => withSat(f, w.at(h.name, "/start")),
        },
      ],
      handlers: () => [{ name: "reload", run: `echo ran >> ${q(log)}` }],
    }]);
    assert.deepEqual(r.hosts[0].handlers, ["reload"]);
    assert.equal(await Deno.readTextFile(log), "ran\n");
  });
});

/** A plan with `satisfies` whose apply does not write `$J/satisfied`. */
function withSat(facts: string, path: string) {
  const p = mark(path).plan(facts);
  return p.kind === "change" ? { ...p, satisfies: ["reload"] } : p;
}
