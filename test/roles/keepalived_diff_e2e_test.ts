/**
 * The semantic diff of keepalived.conf on real hosts (seed 003's inventory, VRRP with a
 * password, Debian's keepalived in a namespace lab): a priority change is said in words above
 * the (hidden) diff and reloads keepalived (same PID, a new "Reloading" in its log); a live
 * config reformatted by hand is "same configuration, canonical form only", rewritten, and not
 * reloaded (same PID, no new "Reloading"). Raw `extra:` lines: an unknown keyword is refused by
 * the host's config test before the file lands; a known one lands, said in words.
 *
 * Lab k1d on 198.19.150.0/24.
 */
import assert from "node:assert/strict";
import { loadInventory } from "../../engine/inventory.ts";
import { runPlaybook } from "../../engine/run.ts";
import type { RunReport } from "../../engine/report.ts";
import { labExec } from "../../lab/lab.ts";
import { writeLabInventory } from "../../lab/inventory.ts";
import { plays } from "../../playbooks/site.ts";
import { CANONICAL_ONLY } from "../../lb/keepalived_diff.ts";
import { WORDS_HEADING } from "../../lb/keepalived_conf_plan.ts";
import { e2e, withLab } from "../lab_fixture.ts";
import { examplePath } from "./_fixtures.ts";

/** ha1's changed tasks and handlers over every play of a run. */
function ofHa1(r: RunReport): { changed: string[]; handlers: string[] } {
  const mine = r.hosts.filter((h) => h.host === "ha1");
  return {
    changed: mine.flatMap((h) => h.tasks.filter((t) => t.status === "changed").map((t) => t.name)),
    handlers: mine.flatMap((h) => h.handlers),
  };
}

const PASS = "Kd" + crypto.randomUUID().slice(0, 6);
const CONF = "/etc/keepalived/keepalived.conf";

e2e(
  "keepalived.conf semantic diff: a priority change reloads, a reformatting does not; extra lines validated on the host (lab k1d)",
  async () => {
    await withLab(
      { name: "k1d", subnet: "198.19.150.0/24", hosts: 2, aptRepo: true },
      async (lab) => {
        const path = await writeLabInventory(examplePath("003"), lab);
        const env = { HAPLAY_VRRP_PASS: PASS };
        const inv = await loadInventory(path, { env });
        const h1 = lab.hosts.find((h) => h.ip === inv.hosts.get("ha1")!.connection.host)!.name;
        const sh = async (cmd: string) => (await labExec(lab, h1, ["sh", "-c", cmd])).stdout.trim();
        const pid = () => sh("cat /run/keepalived.pid");
        const reloads = async () =>
          Number(await sh("grep -c 'Keepalived\\[[0-9]*\\]: Reloading' /var/log/syslog || true"));
        const lines: string[] = [];
        const log = (l: string) => lines.push(l);
        const run = async (file: string, check = false) => {
          lines.length = 0;
          const r = await runPlaybook(await loadInventory(file, { env }), plays, {
            log,
            check,
            diff: true,
            limit: "ha1",
          });
          assert.equal(r.ok, true, lines.join("\n"));
          return r;
        };

        const first = await runPlaybook(inv, plays, { log });
        assert.equal(first.ok, true, lines.join("\n"));
        const pid0 = await pid();
        assert.match(pid0, /^\d+$/);
        const r0 = await reloads();

        // 1. priority 150 → 170 on ha1: the words above the diff, then a reload
        const text = await Deno.readTextFile(path);
        assert.ok(text.includes("vrrp_priority: 150"));
        const higher = path.replace(/\.yaml$/, ".higher.yaml");
        await Deno.writeTextFile(higher, text.replace("vrrp_priority: 150", "vrrp_priority: 170"));
        await run(higher, true);
        const plan = lines.join("\n");
        assert.match(plan, new RegExp(`${WORDS_HEADING}\n {2}VI_1: priority 150 → 170\n`), plan);
        assert.match(plan, /content hidden \(sensitive\)/);
        const deploy = await run(higher);
        assert.deepEqual(ofHa1(deploy).handlers, ["reload keepalived"]);
        assert.match(await sh(`grep -E '^\\s*priority' ${CONF}`), /priority 170/);
        assert.equal(await pid(), pid0, "a reload keeps keepalived's PID");
        assert.ok(await reloads() > r0, "keepalived logged a reload (SIGHUP)");
        const r1 = await reloads();

        // 2. the live config reindented and commented by hand: same tree
        await sh(`sed -i -e 's/^    /\\t/' -e '1i ! reformatted by hand' ${CONF}`);
        const hand = await sh(`sha256sum < ${CONF}`);
        await run(higher, true);
        const plan2 = lines.join("\n");
        assert.match(plan2, new RegExp(`${WORDS_HEADING}\n {2}${CANONICAL_ONLY}\n`), plan2);
        assert.match(plan2, /canonical form only: no reload/);
        const again = await run(higher);
        assert.deepEqual(ofHa1(again).changed, ["keepalived.conf"]);
        assert.deepEqual(ofHa1(again).handlers, [], "a formatting-only rewrite notifies nothing");
        assert.notEqual(await sh(`sha256sum < ${CONF}`), hand, "the canonical form was written");
        assert.doesNotMatch(await sh(`head -n 1 ${CONF}`), /reformatted by hand/);
        // give a (wrong) reload time to show in the log before looking
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(await pid(), pid0);
        assert.equal(await reloads(), r1, "no new 'Reloading' in keepalived's log");

        // 3. raw extra lines: an unknown keyword is refused by keepalived -t on the host before
        // the file lands; a known one lands, said in words, and reloads
        const withExtra = (lines: string[]) =>
          text.replace("vrrp_priority: 150", "vrrp_priority: 170").replace(
            "          track_scripts: [chk_sshd]\n",
            `          track_scripts: [chk_sshd]\n          extra: ${JSON.stringify(lines)}\n`,
          );
        const bogus = path.replace(/\.yaml$/, ".bogus.yaml");
        await Deno.writeTextFile(bogus, withExtra(["bogus_keyword 1"]));
        const live = await sh(`sha256sum < ${CONF}`);
        lines.length = 0;
        const refused = await runPlaybook(await loadInventory(bogus, { env }), plays, {
          log,
          limit: "ha1",
        });
        assert.equal(refused.ok, false);
        assert.match(lines.join("\n"), /Unknown keyword 'bogus_keyword'/);
        assert.equal(await sh(`sha256sum < ${CONF}`), live, "the refused config did not land");
        assert.equal(await pid(), pid0);
        const good = path.replace(/\.yaml$/, ".extra.yaml");
        await Deno.writeTextFile(good, withExtra(["garp_master_refresh 30"]));
        await run(good, true);
        assert.match(lines.join("\n"), /\n {2}VI_1: garp_master_refresh 30 added\n/);
        assert.deepEqual(ofHa1(await run(good)).handlers, ["reload keepalived"]);
        assert.match(await sh(`cat ${CONF}`), /\n {4}garp_master_refresh 30\n\}/);
        assert.equal(await pid(), pid0);

        assert.ok(!lines.join("\n").includes(PASS), "the VRRP password leaked into the output");
      },
    );
  },
);
