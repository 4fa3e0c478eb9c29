/**
 * Fleet shards: `deno task reports` merges the `--report` files of several controllers into one
 * recap. Unit tests of the merge, and one end-to-end run: two controllers deploy disjoint
 * `--limit` shards of one lab at the same time, their reports merge into one recap of every host.
 * Lab rpm1 on 198.19.90.0/24.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { mergedRecap, mergeReports, parseReport, ReportError } from "../engine/report_merge.ts";
import { reportsMain } from "../engine/reports_cli.ts";
import type { HostReport, RunReport } from "../engine/report.ts";
import { e2e, withLab } from "./lab_fixture.ts";
import { labExec } from "../lab/lab.ts";
import { denoRun } from "./_cli.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function host(name: string, status: HostReport["status"], execs = 1): HostReport {
  const tasks = status === "changed"
    ? [{ name: "t", module: "file", resource: "/x", status: "changed" as const, summary: "" }]
    : [];
  return {
    host: name,
    play: "p",
    status,
    tasks,
    execs,
    handlers: [],
    timings: { connectMs: 1, probeMs: 1, applyMs: 1, totalMs: 3 },
  };
}

function report(runId: string, hosts: HostReport[], durationMs = 1000, check = false): RunReport {
  const ok = hosts.every((h) => h.status !== "failed" && h.status !== "unreachable");
  return {
    runId,
    check,
    startedAt: "2026-12-01T00:00:00.000Z",
    durationMs,
    hosts,
    ok,
    changed: hosts.some((h) => h.status === "changed"),
  };
}

Deno.test("merge: disjoint shards add up; wall time is the longest shard", () => {
  const m = mergeReports([
    { file: "a.json", report: report("r1", [host("h1", "ok"), host("h2", "changed", 2)], 3000) },
    {
      file: "b.json",
      report: report("r2", [host("h3", "failed"), host("h4", "unreachable")], 5000),
    },
  ]);
  assert.deepEqual(m.totals, { hosts: 4, ok: 1, changed: 1, failed: 1, unreachable: 1 });
  assert.equal(m.durationMs, 5000);
  assert.equal(m.ok, false);
  const text = mergedRecap(m);
  assert.match(text, /^a\.json: run r1, 2 hosts, 3\.0 s, ok$/m);
  assert.match(text, /^b\.json: run r2, 2 hosts, 5\.0 s, FAILED$/m);
  assert.match(text, /4 hosts in 2 shards: 1 ok, 1 changed, 1 failed, 1 unreachable; wall 5\.0 s/);
  assert.match(text, /at most 2 execs on a host/);
});

Deno.test("merge: a host in two plays of one shard counts once, by its worst status", () => {
  const m = mergeReports([
    { file: "a.json", report: report("r1", [host("h1", "ok"), { ...host("h1", "changed") }]) },
  ]);
  assert.deepEqual(m.totals, { hosts: 1, ok: 0, changed: 1, failed: 0, unreachable: 0 });
});

Deno.test("merge: overlapping shards and mixed check mode are refused", () => {
  assert.throws(
    () =>
      mergeReports([
        { file: "a.json", report: report("r1", [host("h1", "ok"), host("h2", "ok")]) },
        { file: "b.json", report: report("r2", [host("h2", "ok")]) },
      ]),
    (e) => e instanceof ReportError && /h2 \(a\.json and b\.json\)/.test(e.message),
  );
  assert.throws(
    () =>
      mergeReports([
        { file: "a.json", report: report("r1", [host("h1", "ok")], 1, true) },
        { file: "b.json", report: report("r2", [host("h2", "ok")]) },
      ]),
    /check-mode/,
  );
});

Deno.test("parse: not JSON, or not a report, names the file and the field", () => {
  assert.throws(() => parseReport("x.json", "{"), /^ReportError: x\.json: not JSON/);
  const r = report("r1", [host("h1", "ok")]) as unknown as Record<string, unknown>;
  (r.hosts as Record<string, unknown>[])[0].status = "weird";
  assert.throws(
    () => parseReport("y.json", JSON.stringify(r)),
    /y\.json: field hosts\[0\]\.status/,
  );
});

Deno.test("cli: exit codes 0 / 1 / 3 / 4 and the recap on stdout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = `${dir}/a.json`, b = `${dir}/b.json`, bad = `${dir}/bad.json`;
    await Deno.writeTextFile(a, JSON.stringify(report("r1", [host("h1", "ok")])));
    await Deno.writeTextFile(b, JSON.stringify(report("r2", [host("h2", "failed")])));
    await Deno.writeTextFile(bad, "[]");
    const out: string[] = [], err: string[] = [];
    const run = (argv: string[]) => reportsMain(argv, (s) => out.push(s), (s) => err.push(s));
    assert.equal(await run([a]), 0);
    assert.equal(await run([a, b, "--json", `${dir}/m.json`]), 1);
    const merged = JSON.parse(await Deno.readTextFile(`${dir}/m.json`));
    assert.equal(merged.totals.hosts, 2);
    assert.equal(await run([a, bad]), 3);
    assert.match(err.at(-1)!, /bad\.json: field/);
    assert.equal(await run([a, `${dir}/missing.json`]), 3);
    assert.match(err.at(-1)!, /missing\.json: cannot read/);
    assert.equal(await run([]), 4);
    assert.match(out.join("\n"), /1 hosts in 1 shards: 1 ok/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const PLAYBOOK = `- name: shard marker
  hosts: all
  tasks:
    - name: marker
      file: { path: /etc/haplay-shard, content: "sharded\\n", mode: "0644" }
`;

e2e("two controllers deploy disjoint --limit shards at once; one merged recap", async () => {
  await withLab({ name: "rpm1", subnet: "198.19.90.0/24", hosts: 4 }, async (lab) => {
    const dir = await Deno.makeTempDir();
    try {
      const pb = `${dir}/shard.yaml`;
      await Deno.writeTextFile(pb, PLAYBOOK);
      const hosts = lab.hosts.map((h) => h.name);
      const shard = (limit: string, out: string) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            ...denoRun(`${ROOT}engine/cli.ts`),
            "deploy",
            lab.inventory,
            pb,
            "--limit",
            limit,
            "--report",
            out,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
      const [ra, rb] = await Promise.all([
        shard("all[0:1]", `${dir}/a.json`),
        shard("all[2:3]", `${dir}/b.json`),
      ]);
      assert.equal(ra.code, 0, new TextDecoder().decode(ra.stderr));
      assert.equal(rb.code, 0, new TextDecoder().decode(rb.stderr));
      for (const h of hosts) {
        const r = await labExec(lab, h, ["cat", "/etc/haplay-shard"]);
        assert.equal(r.stdout, "sharded\n", `${h} got its shard's change`);
      }
      const out: string[] = [];
      const code = await reportsMain([`${dir}/a.json`, `${dir}/b.json`], (s) => out.push(s));
      assert.equal(code, 0);
      const text = out.join("\n");
      assert.match(text, /4 hosts in 2 shards: 0 ok, 4 changed, 0 failed, 0 unreachable/);
      for (const h of hosts) assert.match(text, new RegExp(`^${h}\\s`, "m"));
      // the same shard twice is an overlap, not a double count
      assert.equal(await reportsMain([`${dir}/a.json`, `${dir}/a.json`], () => {}, () => {}), 3);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
