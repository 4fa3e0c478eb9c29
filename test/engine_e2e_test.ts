/**
 * The engine against real hosts: 20 tasks on 10 lab hosts, round trips counted from sshd's
 * own log, exact check mode, host key refusal, secrets kept out of every output, handlers
 * remembered across a failed run, rollback to an identical snapshot.
 */
import assert from "node:assert/strict";
import { e2e, withLab } from "./lab_fixture.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { file } from "../tasks/file.ts";
import type { Play } from "../engine/types.ts";
import { snapshotDiff, snapshots, sshdSessions } from "./snapshot.ts";

const SECRET = "s3cr3t-Vrrp-" + crypto.randomUUID().slice(0, 8);

function twentyTasks(version: string, secretVar = false): Play {
  return {
    name: "twenty files",
    hosts: "all",
    tasks: (h) =>
      Array.from({ length: 20 }, (_, i) =>
        file({
          path: `/etc/haplay-e2e/${String(i).padStart(2, "0")}.conf`,
          content: `host=${h.name} file=${i} version=${version}\n` +
            (secretVar && i === 0 ? `pass=${h.vars.test_secret}\n` : ""),
          mode: i % 2 ? "0640" : "0644",
          notify: i === 19 ? ["mark"] : undefined,
        })),
    handlers: () => [{ name: "mark", run: "date +%s%N >> /run/haplay-e2e-handler.log" }],
  };
}

async function writeInventory(lab: Lab, extra = ""): Promise<string> {
  const base = await Deno.readTextFile(lab.inventory);
  const path = `${lab.dir}/e2e-inventory.yaml`;
  const keys = extra.split("\n").map((l) => l.trim().split(":")[0]).filter(Boolean);
  const kept = base.split("\n").filter((l) => !keys.includes(l.trim().split(":")[0]));
  await Deno.writeTextFile(path, kept.join("\n").replace("  vars:\n", `  vars:\n${extra}`));
  return path;
}

e2e(
  "engine: 20 tasks x 10 hosts, 1 exec per host on a no-op run, exact check mode, rollback",
  async () => {
    await withLab({ name: "en1", subnet: "198.19.210.0/24", hosts: 10 }, async (lab) => {
      const inv = await loadInventory(lab.inventory);
      const names = lab.hosts.map((h) => h.name);
      const before = await snapshots(lab, names);
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);

      // Check mode on fresh hosts: everything would change, nothing is touched.
      const chk = await runPlaybook(inv, [twentyTasks("1")], { check: true, log });
      assert.equal(chk.ok, true);
      for (const h of chk.hosts) {
        assert.equal(h.tasks.filter((t) => t.status === "would-change").length, 20, h.host);
        assert.equal(h.execs, 1, `${h.host}: check mode is one round trip`);
      }
      assert.deepEqual(await snapshots(lab, names), before, "check mode touched a host");

      // Converge: 2 execs per host.
      const first = await runPlaybook(inv, [twentyTasks("1")], { log });
      assert.equal(first.ok, true, lines.join("\n"));
      for (const h of first.hosts) {
        assert.equal(h.status, "changed");
        assert.equal(h.tasks.filter((t) => t.status === "changed").length, 20);
        assert.equal(h.execs, 2, `${h.host}: converge = probe + apply`);
        assert.deepEqual(h.handlers, ["mark"]);
      }
      const r = await labExec(lab, "h3", [
        "sh",
        "-c",
        "cat /etc/haplay-e2e/07.conf; stat -c %a /etc/haplay-e2e/07.conf",
      ]);
      assert.equal(r.stdout, "host=h3 file=7 version=1\n640\n");

      // No-op: exactly 1 exec per host, seen by sshd itself.
      const sessionsBefore = await Promise.all(names.map((n) => sshdSessions(lab, n)));
      const second = await runPlaybook(inv, [twentyTasks("1")], { log });
      const sessionsAfter = await Promise.all(names.map((n) => sshdSessions(lab, n)));
      for (const [i, h] of second.hosts.entries()) {
        assert.equal(h.status, "ok");
        assert.equal(h.tasks.filter((t) => t.status !== "ok").length, 0);
        assert.equal(h.execs, 1, `${h.host}: report says ${h.execs} execs`);
        assert.equal(
          sessionsAfter[i] - sessionsBefore[i],
          1,
          `${h.host}: sshd saw ${sessionsAfter[i] - sessionsBefore[i]} sessions`,
        );
      }

      // Drift on one host: check mode reports exactly that file, touches nothing.
      await labExec(lab, "h2", ["sh", "-c", "echo drift > /etc/haplay-e2e/05.conf"]);
      const drifted = await snapshots(lab, ["h2"]);
      const chk2 = await runPlaybook(inv, [twentyTasks("1")], { check: true, diff: true, log });
      const h2 = chk2.hosts.find((h) => h.host === "h2")!;
      assert.deepEqual(h2.tasks.filter((t) => t.status === "would-change").map((t) => t.resource), [
        "file:/etc/haplay-e2e/05.conf",
      ]);
      assert.match(h2.tasks[5].diff ?? "", /^-drift$/m);
      assert.match(h2.tasks[5].diff ?? "", /^\+host=h2 file=5 version=1$/m);
      assert.deepEqual(await snapshots(lab, ["h2"]), drifted);

      // Rollback twice (the drift run and the first run): back to the exact snapshot.
      await runPlaybook(inv, [twentyTasks("1")], { log }); // repairs h2's drift: a second journal run on h2
      const rb1 = await rollbackHosts(inv, { log });
      assert.ok(rb1.every((x) => x.ok));
      const rb2 = await rollbackHosts(inv, { limit: "h2", log });
      assert.ok(rb2.every((x) => x.ok));
      const after = await snapshots(lab, names);
      for (const n of names) {
        assert.equal(after[n], before[n], `${n}:\n${snapshotDiff(before[n], after[n])}`);
      }
      // Rolling back again is safe: nothing left to restore.
      const rb3 = await rollbackHosts(inv, { log });
      assert.ok(rb3.every((x) => x.ok && x.result?.none));
    });
  },
);

e2e(
  "engine: unknown and mismatched host keys are refused; --accept-new-host-keys records",
  async () => {
    await withLab({ name: "en2", subnet: "198.19.211.0/24", hosts: 2 }, async (lab) => {
      const empty = `${lab.dir}/empty_known_hosts`;
      await Deno.writeTextFile(empty, "");
      const invUnknown = await loadInventory(
        await writeInventory(lab, `    haplay_known_hosts: ${empty}\n`),
      );
      const lines: string[] = [];
      const res = await runPlaybook(invUnknown, [twentyTasks("1")], { log: (l) => lines.push(l) });
      assert.equal(res.ok, false);
      for (const h of res.hosts) {
        assert.equal(h.status, "unreachable");
        assert.match(h.error ?? "", /is not in .*empty_known_hosts.*--accept-new-host-keys/);
      }
      // Mismatch: h1's name recorded with h2's keys.
      const kh = await Deno.readTextFile(lab.knownHosts);
      const h1 = lab.hosts[0], h2 = lab.hosts[1];
      const swapped = kh.split("\n").filter((l) => l.startsWith(`${h2.name},`)).map((l) =>
        l.replace(`${h2.name},${h2.ip}`, `${h1.name},${h1.ip}`)
      ).join("\n");
      const bad = `${lab.dir}/bad_known_hosts`;
      await Deno.writeTextFile(bad, swapped + "\n");
      const invBad = await loadInventory(
        await writeInventory(lab, `    haplay_known_hosts: ${bad}\n`),
      );
      const res2 = await runPlaybook(invBad, [twentyTasks("1")], { limit: "h1", log: () => {} });
      assert.equal(res2.hosts[0].status, "unreachable");
      assert.match(res2.hosts[0].error ?? "", /does NOT match/);
      const onHost = await labExec(lab, "h1", ["sh", "-c", "ls /etc/haplay-e2e 2>&1 || true"]);
      assert.match(onHost.stdout, /No such file/);
      // Accept-new records the key; a second run then verifies against it.
      const res3 = await runPlaybook(invUnknown, [twentyTasks("1")], {
        check: true,
        acceptNewHostKeys: true,
        log: () => {},
      });
      assert.equal(res3.ok, true);
      const recorded = await Deno.readTextFile(empty);
      assert.match(recorded, new RegExp(`^h1,${h1.ip.replaceAll(".", "\\.")} ssh-`, "m"));
      const res4 = await runPlaybook(invUnknown, [twentyTasks("1")], {
        check: true,
        log: () => {},
      });
      assert.equal(res4.ok, true);
    });
  },
);

e2e(
  "engine: secrets never reach output, diffs, reports or journals readable by others",
  async () => {
    await withLab({ name: "en3", subnet: "198.19.212.0/24", hosts: 1 }, async (lab) => {
      Deno.env.set("HAPLAY_E2E_SECRET", SECRET);
      const invPath = await writeInventory(lab, `    test_secret: !env HAPLAY_E2E_SECRET\n`);
      const inv = await loadInventory(invPath);
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);
      const play = twentyTasks("1", true);
      const chk = await runPlaybook(inv, [play], { check: true, diff: true, log, verbose: true });
      const run = await runPlaybook(inv, [play], { diff: true, log, verbose: true });
      const all = lines.join("\n") + JSON.stringify(chk) + JSON.stringify(run);
      assert.ok(all.includes("pass=********"), "the diff shows the line, redacted");
      assert.ok(!all.includes(SECRET), "secret leaked into output or report");
      // On the host: the file has it (that is the point), the journal is root-only.
      const f = await labExec(lab, "h1", ["cat", "/etc/haplay-e2e/00.conf"]);
      assert.ok(f.stdout.includes(SECRET));
      const perm = await labExec(lab, "h1", [
        "stat",
        "-c",
        "%a %U",
        "/var/lib/haplay",
        `/var/lib/haplay/runs/${run.runId}`,
      ]);
      assert.equal(perm.stdout, "700 root\n700 root\n");
      const asDeploy = await labExec(lab, "h1", [
        "su",
        "-s",
        "/bin/sh",
        "deploy",
        "-c",
        `cat /var/lib/haplay/runs/*/tasks/*/log; ls /var/lib/haplay/runs`,
      ]);
      assert.notEqual(asDeploy.code, 0);
      assert.ok(!asDeploy.stdout.includes(SECRET));
    });
  },
);

e2e(
  "engine: a failed task stops the script, keeps its handlers pending, next run runs them",
  async () => {
    await withLab({ name: "en4", subnet: "198.19.213.0/24", hosts: 1 }, async (lab) => {
      const inv = await loadInventory(lab.inventory);
      const play = (validate: string): Play => ({
        name: "handlers",
        hosts: "all",
        tasks: () => [
          file({ path: "/etc/hp-a.conf", content: "a\n", notify: ["mark"] }),
          file({ path: "/etc/hp-b.conf", content: "b\n", validate }),
          file({ path: "/etc/hp-c.conf", content: "c\n" }),
        ],
        handlers: () => [{ name: "mark", run: "echo ran >> /etc/hp-handler.log" }],
      });
      const r1 = await runPlaybook(inv, [play("false %s")], { log: () => {} });
      assert.equal(r1.ok, false);
      const t = r1.hosts[0].tasks;
      assert.deepEqual(t.map((x) => x.status), ["changed", "failed", "skipped"]);
      assert.match(r1.hosts[0].error ?? "", /rollback/);
      const s1 = await labExec(lab, "h1", [
        "sh",
        "-c",
        "ls /etc/hp-*; ls /var/lib/haplay/pending | wc -l",
      ]);
      assert.equal(
        s1.stdout,
        "/etc/hp-a.conf\n1\n",
        "b never landed, c not applied, handler pending",
      );
      const r2 = await runPlaybook(inv, [play("test -s %s")], { log: () => {} });
      assert.equal(r2.ok, true);
      assert.deepEqual(r2.hosts[0].handlers, ["mark"]);
      const s2 = await labExec(lab, "h1", [
        "sh",
        "-c",
        "cat /etc/hp-handler.log; ls /var/lib/haplay/pending | wc -l",
      ]);
      assert.equal(s2.stdout, "ran\n0\n");
    });
  },
);

e2e(
  "engine: order hook and gate - a host failing its gate is rolled back, later hosts untouched",
  async () => {
    await withLab({ name: "en5", subnet: "198.19.216.0/24", hosts: 3 }, async (lab) => {
      const inv = await loadInventory(lab.inventory);
      const before = await snapshots(lab, ["h1", "h2", "h3"]);
      const lines: string[] = [];
      const play: Play = {
        name: "gated",
        hosts: "all",
        serial: 1,
        tasks: (h) => [
          file({ path: "/etc/gated.conf", content: `ok on ${h.name}\n` }),
          // h3 comes first (reverse order) and fails its gate: h2 and h1 come later
          file({ path: "/etc/gated-2.conf", content: `${h.name === "h3" ? "broken" : "fine"}\n` }),
        ],
        // Reverse order, decided from a live fact (the hostname each host reports).
        order: async (hosts, ctx) => {
          const names = await Promise.all(
            hosts.map(async (h) => (await ctx.run(h.name, "hostname")).stdout.trim()),
          );
          return names.sort().reverse();
        },
        gate: async (h, ctx) => {
          const r = await ctx.run(h.name, "cat /etc/gated-2.conf");
          return { ok: r.stdout.trim() === "fine", detail: `gated-2.conf says ${r.stdout.trim()}` };
        },
      };
      const res = await runPlaybook(inv, [play], { log: (l) => lines.push(l) });
      assert.equal(res.ok, false);
      assert.ok(lines.some((l) => l.includes("order: h3, h2, h1")), lines.join("\n"));
      const by = Object.fromEntries(res.hosts.map((h) => [h.host, h]));
      assert.equal(by.h3.status, "failed");
      assert.equal(by.h3.rolledBack, true);
      assert.match(by.h3.error ?? "", /gate failed: gated-2.conf says broken; rolled back/);
      assert.equal(by.h2.status, "skipped");
      assert.equal(by.h1.status, "skipped");
      // h3 rolled back, h2 and h1 never touched: all three as before
      const after = await snapshots(lab, ["h1", "h2", "h3"]);
      for (const h of ["h1", "h2", "h3"]) {
        assert.equal(after[h], before[h], `${h}:\n${snapshotDiff(before[h], after[h])}`);
      }
    });
  },
);

e2e("engine: gate failure stops the play before the next host is touched", async () => {
  await withLab({ name: "en6", subnet: "198.19.217.0/24", hosts: 3 }, async (lab) => {
    const inv = await loadInventory(lab.inventory);
    const res = await runPlaybook(inv, [{
      name: "stop early",
      hosts: "all",
      serial: 1,
      tasks: () => [file({ path: "/etc/never-fine.conf", content: "x\n" })],
      gate: () => Promise.resolve({ ok: false, detail: "always fails" }),
    }], { log: () => {} });
    assert.deepEqual(res.hosts.map((h) => [h.host, h.status]), [
      ["h1", "failed"],
      ["h2", "skipped"],
      ["h3", "skipped"],
    ]);
    for (const h of ["h1", "h2", "h3"]) {
      const r = await labExec(lab, h, ["test", "-e", "/etc/never-fine.conf"]);
      assert.notEqual(r.code, 0, `${h} has the file`);
    }
  });
});

e2e(
  "engine: several plays share one probe round trip; order probes and gate scripts cost no exec",
  async () => {
    await withLab({ name: "en7", subnet: "198.19.218.0/24", hosts: 3 }, async (lab) => {
      const inv = await loadInventory(lab.inventory);
      const names = lab.hosts.map((h) => h.name);
      const plays = (v: string): Play[] => [
        {
          name: "one",
          hosts: "all",
          tasks: (h) => [file({ path: "/etc/p1.conf", content: `${h.name} ${v}\n` })],
        },
        {
          // h1 is in the play but has nothing in it: changed by play one, it is not probed
          // again, and its connection is closed after play one
          name: "two",
          hosts: "all",
          serial: 1,
          tasks: (h) => h.name === "h1" ? [] : [file({ path: "/etc/p2.conf", content: `${v}\n` })],
          orderProbe: (h) => h.name === "h1" ? undefined : "cat /etc/hostname",
          order: async (hosts, ctx) => {
            const seen = await Promise.all(hosts.map((h) => ctx.probed(h.name)));
            return seen.map((s) => s.trim()).filter(Boolean).sort().reverse();
          },
          gateScript: {
            script: () => "cat /etc/p2.conf",
            check: (h, out) => ({
              ok: out.stdout.trim() === v,
              detail: `${h.name} serves ${out.stdout.trim()}`,
            }),
          },
        },
      ];
      const lines: string[] = [];
      const c1 = await Promise.all(names.map((n) => sshdSessions(lab, n)));
      const r1 = await runPlaybook(inv, plays("v1"), { log: (l) => lines.push(l) });
      const c2 = await Promise.all(names.map((n) => sshdSessions(lab, n)));
      assert.equal(r1.ok, true, lines.join("\n"));
      assert.ok(lines.includes("PLAY [two] order: h3, h2, h1"), lines.join("\n"));
      assert.ok(lines.some((l) => l.startsWith("h3: [gate ok] h3 serves v1")), lines.join("\n"));
      // h1: probe + apply(play one); h2, h3: probe + apply(one) + probe + apply-with-gate(two).
      assert.deepEqual(c2.map((c, i) => c - c1[i]), [2, 4, 4]);
      // the report agrees with sshd: each host's last report carries its run total
      const last = new Map(r1.hosts.map((h) => [h.host, h]));
      assert.deepEqual(names.map((n) => last.get(n)!.execs), [2, 4, 4]);
      const h1one = r1.hosts.find((h) => h.host === "h1" && h.play === "one")!;
      assert.ok(h1one.timings.connectMs > 0 && h1one.timings.probeMs > 0, "first-probe timings");
      // Both plays' changes are in the run's journal on h2, neither overwrote the other.
      const j = await labExec(lab, "h2", [
        "sh",
        "-c",
        `cat /var/lib/haplay/runs/${r1.runId}/tasks/*/resource`,
      ]);
      assert.equal(j.stdout, "file:/etc/p1.conf\nfile:/etc/p2.conf\n");
      const r2 = await runPlaybook(inv, plays("v1"), { log: () => {} });
      const c3 = await Promise.all(names.map((n) => sshdSessions(lab, n)));
      assert.equal(r2.changed, false);
      assert.deepEqual(c3.map((c, i) => c - c2[i]), [1, 1, 1], "a no-op run is 1 exec per host");
      // A gate script that fails rolls the host back and stops the play.
      const bad = plays("v2");
      bad[1].gateScript!.check = () => ({ ok: false, detail: "refused" });
      const r3 = await runPlaybook(inv, bad, { log: () => {} });
      const h3 = r3.hosts.find((h) => h.host === "h3" && h.play === "two")!;
      assert.equal(h3.rolledBack, true);
      assert.equal(r3.hosts.find((h) => h.host === "h2" && h.play === "two")!.status, "skipped");
      assert.equal((await labExec(lab, "h3", ["cat", "/etc/p2.conf"])).stdout, "v1\n");
    });
  },
);
