/**
 * Faults during apply, each on a fresh converge of one lab host: the SSH connection dropped by
 * a firewall rule, sshd killed, the controller killed, the host's disk full, a task's command
 * failing. Each must end with: no change on the host without a journal entry, rollback to the
 * exact snapshot, and a re-deploy that converges. Prints the table the README shows. On a systemd
 * host (sshd is ssh.service; the snapshot includes packages and units).
 * Lab fa1 on 198.18.211.0/24.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { e2e, withLab } from "./lab_fixture.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { type Inventory, loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import type { Play } from "../engine/types.ts";
import { command } from "../tasks/command.ts";
import { file } from "../tasks/file.ts";
import { fullSnapshot as snapshot, snapshotDiff } from "./snapshot.ts";
import { lastRun } from "./_host_run.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN = "/var/lib/haplay/runs";
const DIR = "/etc/haplay-fault";

function play(failAt?: number): Play {
  return {
    name: "faults",
    hosts: "all",
    tasks: () =>
      Array.from(
        { length: 8 },
        (_, i) =>
          i === failAt ? command({ cmd: "echo failing on purpose >&2; exit 3" }) : file({
            path: `${DIR}/f${i}.conf`,
            content: `file ${i}\n`.repeat(200),
            validate: "sleep 0.4 && test -s %s",
          }),
      ),
  };
}

const PLAYBOOK = `import { file } from ${JSON.stringify(`${ROOT}tasks/file.ts`)};
export const plays = [{ name: "faults", hosts: "all", tasks: () => Array.from({ length: 8 }, (_, i) =>
  file({ path: "${DIR}/f" + i + ".conf", content: ("file " + i + "\\n").repeat(200),
    validate: "sleep 0.4 && test -s %s" })) }];
`;

async function sh(lab: Lab, cmd: string): Promise<{ code: number; stdout: string }> {
  return await labExec(lab, "h1", ["sh", "-c", cmd]);
}

async function waitFor(lab: Lab, cond: string, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await sh(lab, cond)).code === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${cond}`);
}

/**
 * Every file of the playbook present on the host has a journal entry marked `saved`, and every
 * leftover temp file is recorded in a `tmpfiles` list: nothing changed without the journal.
 */
async function journalCovers(lab: Lab): Promise<string> {
  const r = await sh(
    lab,
    `for f in ${DIR}/f*.conf; do [ -e "$f" ] || continue
       grep -lx "file:$f" ${RUN}/*/tasks/*/resource 2>/dev/null | while read -r res; do
         [ -f "$(dirname "$res")/saved" ] && echo ok; done | grep -q ok || echo "UNJOURNALED $f"
     done
     for t in ${DIR}/.haplay.*; do [ -e "$t" ] || continue
       cat ${RUN}/*/tasks/*/tmpfiles 2>/dev/null | grep -qxF "$t" || echo "UNRECORDED $t"; done
     echo "files=$(ls ${DIR} 2>/dev/null | wc -l)"`,
  );
  return r.stdout;
}

interface Row {
  fault: string;
  seen: string;
  journal: string;
  rollback: string;
  redeploy: string;
}

e2e(
  "faults during apply: journal covers every change, rollback is exact, re-deploy converges",
  async () => {
    await withLab(
      { name: "fa1", subnet: "198.18.211.0/24", hosts: 1, init: "systemd" },
      async (lab) => {
        const inv = await loadInventory(lab.inventory);
        const pbPath = `${lab.dir}/faults-playbook.ts`;
        await Deno.writeTextFile(pbPath, PLAYBOOK);
        const before = await snapshot(lab, "h1");
        const rows: Row[] = [];

        const finish = async (fault: string, seen: string, heal?: () => Promise<void>) => {
          const cover = await journalCovers(lab);
          assert.doesNotMatch(cover, /UNJOURNALED|UNRECORDED/, `${fault}: ${cover}`);
          assert.doesNotMatch(cover, /files=0/, `${fault}: the fault came before any change`);
          await heal?.();
          const rb = await rollbackHosts(inv as Inventory, { log: () => {} });
          assert.ok(rb[0].ok, `${fault}: rollback: ${rb[0].error}`);
          const after = await snapshot(lab, "h1");
          assert.equal(after, before, `${fault}:\n${snapshotDiff(before, after)}`);
          const again = await runPlaybook(inv, [play()], { log: () => {} });
          assert.equal(again.ok, true, `${fault}: re-deploy: ${again.hosts[0].error}`);
          const noop = await runPlaybook(inv, [play()], { log: () => {} });
          assert.equal(noop.hosts[0].status, "ok");
          assert.equal(noop.hosts[0].execs, 1);
          const rb2 = await rollbackHosts(inv, { log: () => {} }); // back to the snapshot for the next fault
          assert.ok(rb2[0].ok);
          assert.equal(await snapshot(lab, "h1"), before);
          // the next fault's waits look at the journal: start it empty
          await sh(lab, `rm -rf ${RUN}`);
          rows.push({
            fault,
            seen,
            journal: cover.match(/files=(\d+)/)![1] + " files changed, all journaled",
            rollback: "identical snapshot",
            redeploy: "converged, then 1-exec no-op",
          });
        };

        // 1. The connection is cut by a firewall in the host's namespace mid-apply.
        {
          const run = runPlaybook(inv, [play()], { log: () => {} });
          await waitFor(lab, `ls ${RUN}/*/tasks/0001/saved`);
          await sh(
            lab,
            "iptables -I INPUT -p tcp --dport 22 -j DROP; iptables -I OUTPUT -p tcp --sport 22 -j DROP",
          );
          const r = await run;
          assert.equal(r.ok, false);
          await waitFor(lab, "! pgrep -f '^/bin/sh -s$' >/dev/null", 30000);
          await finish(
            "SSH connection dropped (iptables DROP on :22)",
            r.hosts[0].error!.slice(0, 60),
            async () => {
              await sh(
                lab,
                "iptables -D INPUT -p tcp --dport 22 -j DROP; iptables -D OUTPUT -p tcp --sport 22 -j DROP",
              );
            },
          );
        }
        // 2. sshd (listener and session) killed mid-apply; started again before the rollback.
        {
          const run = runPlaybook(inv, [play()], { log: () => {} });
          await waitFor(lab, `ls ${RUN}/*/tasks/0002/saved`);
          await sh(lab, "pkill -KILL -x sshd; true");
          const r = await run;
          assert.equal(r.ok, false);
          await waitFor(lab, "! pgrep -f '^/bin/sh -s$' >/dev/null", 30000);
          await finish("sshd killed", r.hosts[0].error!.slice(0, 60), async () => {
            // systemd restarts ssh.service itself (Restart=on-failure); start it in case it did not
            await sh(lab, "systemctl start ssh");
            await waitFor(lab, "systemctl is-active --quiet ssh && pgrep -x sshd >/dev/null");
          });
        }
        // 3. The controller process killed between tasks.
        {
          const child = new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", `${ROOT}engine/cli.ts`, "deploy", lab.inventory, pbPath],
            stdout: "null",
            stderr: "null",
          }).spawn();
          await waitFor(lab, `ls ${RUN}/*/tasks/0002/done`);
          child.kill("SIGKILL");
          await child.status;
          await waitFor(lab, "! pgrep -f '^/bin/sh -s$' >/dev/null", 30000);
          // the host did not run the whole run without its controller: a partial run to roll back
          const hr = await lastRun(lab, "h1");
          assert.notEqual(hr.state, "done", "controller killed: the host ran the whole run");
          assert.ok(hr.done < hr.tasks, `controller killed: ${hr.done} of ${hr.tasks} tasks done`);
          await finish("controller killed (SIGKILL)", "no report (process gone)");
        }
        // 4. The disk holding the journal fills up mid-apply.
        {
          await sh(
            lab,
            "mkdir -p /var/lib/haplay && mount -t tmpfs -o size=1m haplay-full /var/lib/haplay",
          );
          const run = runPlaybook(inv, [play()], { log: () => {} });
          await waitFor(lab, `ls ${RUN}/*/tasks/0002/saved`);
          await sh(lab, "dd if=/dev/zero of=/var/lib/haplay/.fill bs=4k 2>/dev/null; true");
          const r = await run;
          assert.equal(r.ok, false);
          assert.match(JSON.stringify(r.hosts[0]), /No space left on device/);
          await finish("disk full (journal filesystem)", "No space left on device", async () => {
            await sh(lab, "rm -f /var/lib/haplay/.fill");
          });
          // rollback and re-deploy ran on the small filesystem; leave it
          await sh(lab, "umount /var/lib/haplay");
        }
        // 5. A task's command fails.
        {
          const r = await runPlaybook(inv, [play(4)], { log: () => {} });
          assert.equal(r.ok, false);
          const t = r.hosts[0].tasks;
          assert.deepEqual(t.map((x) => x.status).slice(3, 6), ["changed", "failed", "skipped"]);
          assert.match(t[4].error ?? "", /failing on purpose/);
          await finish("a task's command fails (exit 3)", t[4].error!.replace(/\n/g, " "));
        }

        const table = [
          "| fault during apply | controller saw | journal | rollback | re-deploy |",
          "| --- | --- | --- | --- | --- |",
          ...rows.map((r) =>
            `| ${r.fault} | ${
              r.seen.replaceAll("|", "/")
            } | ${r.journal} | ${r.rollback} | ${r.redeploy} |`
          ),
        ].join("\n");
        console.log(table);
      },
    );
  },
);
