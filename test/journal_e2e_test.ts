/**
 * The journal and rollback under fire: the controller killed mid-write (killed between tasks:
 * faults_e2e_test.ts), the host-side script killed mid-write (a host crash), two concurrent
 * deploys on one host. Each ends with rollback to the exact pre-deploy snapshot and a fresh
 * deploy converging.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { e2e, withLab } from "./lab_fixture.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { snapshot, snapshotDiff } from "./snapshot.ts";
import { lastRun } from "./_host_run.ts";
import { denoRun } from "./_cli.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A playbook module on disk: 6 files (each validated slowly) and a sysctl-like line edit. */
async function slowPlaybook(dir: string, version: string, delay = 0.6): Promise<string> {
  const path = `${dir}/slow-playbook-${version}.ts`;
  await Deno.writeTextFile(
    path,
    `import { file } from ${JSON.stringify(`${ROOT}tasks/file.ts`)};
export const plays = [{
  name: "slow",
  hosts: "all",
  tasks: () => [
    ...Array.from({ length: 6 }, (_, i) => file({
      path: "/etc/haplay-slow/f" + i + ".conf",
      content: "version ${version} file " + i + "\\n",
      validate: "sleep ${delay} && test -s %s",
    })),
    file({ path: "/etc/hostname", content: "renamed-${version}\\n" }),
  ],
}];
`,
  );
  return path;
}

async function waitFor(lab: Lab, host: string, cond: string, timeoutMs = 20000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const r = await labExec(lab, host, ["sh", "-c", cond]);
    if (r.code === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${cond}`);
}

function deployProcess(inv: string, pb: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      ...denoRun(`${ROOT}engine/cli.ts`),
      "deploy",
      inv,
      pb,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

const RUN = "/var/lib/haplay/runs";

const scenarios: Array<{ name: string; waitCond: string; hostKill: boolean }> = [
  {
    name: "controller killed mid-write",
    waitCond: `ls /etc/haplay-slow/.haplay.* && ls ${RUN}/*/tasks/0003/saved`,
    hostKill: false,
  },
  {
    name: "host script killed mid-write (host crash)",
    waitCond: `ls /etc/haplay-slow/.haplay.* && ls ${RUN}/*/tasks/0001/saved`,
    hostKill: true,
  },
];

e2e("journal: kills during apply, then rollback restores the exact snapshot", async () => {
  await withLab({ name: "jn1", subnet: "198.19.214.0/24", hosts: 1 }, async (lab) => {
    const inv = await loadInventory(lab.inventory);
    const pb = await slowPlaybook(lab.dir, "1");
    const before = await snapshot(lab, "h1");
    for (const sc of scenarios) {
      const child = deployProcess(lab.inventory, pb);
      await waitFor(lab, "h1", sc.waitCond);
      if (sc.hostKill) {
        // SIGKILL the apply script and everything it started, inside the host.
        await labExec(lab, "h1", [
          "sh",
          "-c",
          "pkill -KILL -f '^/bin/sh -s$'; pkill -KILL sleep; true",
        ]);
      }
      try {
        child.kill("SIGKILL");
      } catch { /* a host-side kill can end the controller's run first */ }
      const out = await child.output();
      if (sc.hostKill) {
        assert.notEqual(out.code, 0, "the deploy must not report success");
      }
      // Whatever the host script does after losing its controller, it ends by itself.
      await waitFor(lab, "h1", "! pgrep -f '^/bin/sh -s$' >/dev/null");
      const mid = await snapshot(lab, "h1");
      assert.notEqual(mid, before, `${sc.name}: the kill came before any change`);
      // the run was cut short on the host, so what follows is a rollback of a partial run
      const hr = await lastRun(lab, "h1");
      assert.notEqual(hr.state, "done", `${sc.name}: the host ran the whole run after the kill`);
      assert.ok(hr.done < hr.tasks, `${sc.name}: ${hr.done} of ${hr.tasks} tasks done`);
      const rb = await rollbackHosts(inv, { log: () => {} });
      assert.ok(rb[0].ok, `${sc.name}: ${rb[0].error}`);
      const after = await snapshot(lab, "h1");
      assert.equal(after, before, `${sc.name}:\n${snapshotDiff(before, after)}`);
    }
    // A fresh deploy converges, and a second one is a no-op.
    const r1 = await runPlaybook(inv, [(await import(pb)).plays[0]], { log: () => {} });
    assert.equal(r1.ok, true);
    const r2 = await runPlaybook(inv, [(await import(pb)).plays[0]], { log: () => {} });
    assert.equal(r2.hosts[0].status, "ok");
    assert.equal(r2.hosts[0].execs, 1);
  });
});

e2e(
  "journal: a deploy started while another holds the host is refused by the lock; the host is consistent",
  async () => {
    await withLab({ name: "jn2", subnet: "198.19.215.0/24", hosts: 1 }, async (lab) => {
      const inv = await loadInventory(lab.inventory);
      const a = (await import(await slowPlaybook(lab.dir, "a", 1.5))).plays[0]; // ~9 s holding the lock
      const b = (await import(await slowPlaybook(lab.dir, "b", 0.3))).plays[0];
      // b starts once a holds the host (its first journal entry saved): b must be refused by
      // the host lock, not by a later check
      const runA = runPlaybook(inv, [a], { log: () => {} });
      await waitFor(lab, "h1", `ls ${RUN}/*/tasks/0000/saved`);
      const rb = await runPlaybook(inv, [b], { log: () => {} });
      const ra = await runA;
      assert.equal(ra.ok, true, ra.hosts[0].error);
      assert.equal(rb.ok, false, "the second deploy must be refused");
      assert.match(rb.hosts[0].error ?? "", /locked by another run \(.* run .*\)/);
      // The winner's files, all of them, and only one run in the journal.
      const winner = "a";
      const files = await labExec(lab, "h1", [
        "sh",
        "-c",
        `cat /etc/haplay-slow/*; ls ${RUN} | wc -l`,
      ]);
      assert.equal(
        files.stdout,
        Array.from({ length: 6 }, (_, i) => `version ${winner} file ${i}\n`).join("") + "1\n",
      );
    });
  },
);
