/**
 * ipvsadm and verify's kernel-table check on a namespace lab (lab kt1, 198.19.155.0/24; the
 * 198.19.150.0/24 first given for it is keepalived_diff_e2e_test.ts's): seed 001 (a DR pair with
 * virtual servers) deployed from the lab's apt repository installs ipvsadm on both directors and
 * not on the real servers; `deno task verify` (the CLI, as a user runs it) exits 0 and notes, per
 * director, that this kernel has no IPVS; rollback --purge-packages removes ipvsadm again and
 * leaves each director as it was (snapshot).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadInventory } from "../engine/inventory.ts";
import { runPlaybook } from "../engine/run.ts";
import { rollbackHosts } from "../engine/rollback.ts";
import { labExec } from "../lab/lab.ts";
import { writeLabInventory } from "../lab/inventory.ts";
import { plays } from "../playbooks/site.ts";
import { denoRun } from "./_cli.ts";
import { e2e, withLab } from "./lab_fixture.ts";
import { fullSnapshots, snapshotDiff } from "./snapshot.ts";
import { examplePath } from "./roles/_fixtures.ts";

const CLI = fileURLToPath(new URL("../engine/cli.ts", import.meta.url));

e2e(
  "ipvsadm installed on directors, verify notes no IPVS and exits 0, rollback purges it",
  async () => {
    await withLab(
      { name: "kt1", subnet: "198.19.155.0/24", hosts: 4, aptRepo: true },
      async (lab) => {
        const path = await writeLabInventory(examplePath("001"), lab);
        const env = { HAPLAY_VRRP_PASS: "Kt" + crypto.randomUUID().slice(0, 6) };
        const inv = await loadInventory(path, { env });
        const byIp = new Map(lab.hosts.map((h) => [h.ip, h.name]));
        const labHost = (n: string) => byIp.get(inv.hosts.get(n)!.connection.host)!;
        const ipvsadm = async (n: string) =>
          (await labExec(lab, labHost(n), [
            "sh",
            "-c",
            "dpkg-query -W -f '${db:Status-Abbrev}' ipvsadm 2>/dev/null; " +
            "command -v ipvsadm >/dev/null && echo ' bin' || echo ' nobin'",
          ])).stdout.trim();
        const directors = ["lb1", "lb2"];
        const hostNames = [...inv.hosts.keys()];
        for (const n of hostNames) {
          assert.match(
            await ipvsadm(n),
            /nobin$/,
            `${n} before the deploy`,
          );
        }
        const before = await fullSnapshots(lab, directors.map(labHost));

        // the health-check targets verify probes: seed 001's web app on :80 of each real server
        const web = ["web1", "web2"];
        for (const n of web) {
          await labExec(lab, labHost(n), [
            "sh",
            "-c",
            "mkdir -p /srv/www && echo ok > /srv/www/index.html && busybox httpd -p 80 -h /srv/www",
          ]);
        }
        const log: string[] = [];
        const run = await runPlaybook(inv, plays, { log: (l) => log.push(l) });
        assert.equal(run.ok, true, log.join("\n"));
        for (const n of directors) {
          assert.match(
            await ipvsadm(n),
            /^ii\s+bin$/,
            `${n}: ipvsadm installed`,
          );
        }
        for (
          const n of hostNames.filter((h) => !directors.includes(h))
        ) {
          assert.match(await ipvsadm(n), /nobin$/, `${n} (a real server): no ipvsadm`);
        }

        const v = await new Deno.Command(Deno.execPath(), {
          args: denoRun(CLI, "verify", path),
          env: { ...env, NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const out = new TextDecoder().decode(v.stdout) + new TextDecoder().decode(v.stderr);
        assert.equal(v.code, 0, out);
        for (const n of directors) {
          assert.match(
            out,
            new RegExp(
              `^${n}: \\[ok\\] IPVS table: kernel has no IPVS: table not checked$`,
              "m",
            ),
            out,
          );
        }
        assert.ok(!out.includes(env.HAPLAY_VRRP_PASS), "the VRRP password leaked");

        const rb = await rollbackHosts(inv, { log: (l) => log.push(l), purgePackages: true });
        assert.deepEqual(rb.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`), []);
        for (const n of directors) assert.match(await ipvsadm(n), /nobin$/, `${n}: ipvsadm purged`);
        const after = await fullSnapshots(lab, directors.map(labHost));
        // the lab's systemctl shim keeps keepalived's enablement after its purge (lab only)
        const labOnly = (s: string) => s.split("\n").filter((l) => !l.includes("/etc/lab/enabled"));
        for (const h of directors.map(labHost)) {
          assert.deepEqual(
            labOnly(after[h]),
            labOnly(before[h]),
            `${h} after rollback:\n${snapshotDiff(before[h], after[h])}`,
          );
        }
      },
    );
  },
);
