/**
 * The version matrix: seeds 000 and 001 through the seed suite (deploy, verify, no-op re-run,
 * failover, rollback to an identical snapshot) on each upstream keepalived the lab serves
 * (`lab up --keepalived VERSION`: built from the release tree, cached). On seed 001, before the
 * rollback: the LBs run that version; a deliberately broken keepalived.conf never lands
 * (refused by the validator with keepalived's message; file and daemon unchanged); a valid
 * changed one lands and keepalived runs it (its new VIP comes up on the MASTER after the reload).
 * The other seeds run on Debian's 2.2.7 (test/roles/seeds_e2e_test.ts).
 *
 * Labs kv1..kv8 on 198.19.71.0/24 .. 198.19.78.0/24.
 */
import assert from "node:assert/strict";
import { runPlaybook } from "../../engine/run.ts";
import type { Play } from "../../engine/types.ts";
import { debVersion, KEEPALIVED_VERSIONS } from "../../lab/keepalived_build.ts";
import { keepalivedHandlers, RELOAD } from "../../roles/keepalived.ts";
import { CHECKER, KEEPALIVED_CONF } from "../../lb/paths.ts";
import { file } from "../../tasks/mod.ts";
import { e2e } from "../lab_fixture.ts";
import { type Ctx, holders, runSeedSuite, SEED_CASES, until } from "../roles/_seed_suite.ts";

/** A play writing keepalived.conf on one host through the validator, reloading keepalived. */
function confPlay(host: string, content: string): Play[] {
  return [{
    name: `keepalived.conf on ${host}`,
    hosts: host,
    tasks: () => [
      file({
        name: "keepalived.conf",
        path: KEEPALIVED_CONF,
        content,
        mode: "0640",
        validate: `${CHECKER} %s`,
        sensitive: true,
        notify: [RELOAD],
      }),
    ],
    handlers: (h) => keepalivedHandlers(h),
  }];
}

/** The version and the broken / valid keepalived.conf checks on seed 001's LBs. */
function confChecks(version: string, prefix: string) {
  return async (t: Ctx) => {
    const lbs = ["lb1", "lb2"];
    for (const lb of lbs) {
      assert.match(
        await t.sh(lb, "keepalived --version 2>&1 | head -n 1"),
        new RegExp(`v${version.replaceAll(".", "\\.")} `),
      );
      assert.equal(
        (await t.sh(lb, "dpkg-query -W -f '${Version}' keepalived")).trim(),
        debVersion(version),
      );
    }
    const [master] = await holders(t, lbs, `${prefix}.100`);
    assert.ok(master, "a MASTER holds the VIP");
    const state = () =>
      t.sh(
        master,
        `sha256sum ${KEEPALIVED_CONF} | cut -d' ' -f1; cat /run/keepalived.pid; ls /etc/keepalived`,
      );
    const conf = await t.sh(master, `cat ${KEEPALIVED_CONF}`);
    const before = await state();
    const log: string[] = [];

    // broken: an unknown keyword in the instance
    const broken = conf.replace(/(\n\s*advert_int \d+\n)/, "$1    bogus_keyword 7\n");
    assert.notEqual(broken, conf);
    const bad = await runPlaybook(t.inv, confPlay(master, broken), { log: (l) => log.push(l) });
    assert.equal(bad.ok, false, "the broken keepalived.conf was accepted");
    assert.match(log.join("\n"), /Unknown keyword 'bogus_keyword'/);
    assert.equal(await state(), before, "keepalived.conf, the daemon or /etc/keepalived changed");
    const pid = (await t.sh(master, "cat /run/keepalived.pid")).trim();
    assert.equal((await t.sh(master, `kill -0 ${pid} && echo alive`)).trim(), "alive");

    // valid: one more VIP, seen on the MASTER once keepalived runs the new file
    const extra = `${prefix}.150`;
    const valid = conf.replace(/(virtual_ipaddress \{\n)/, `$1        ${extra}/32 dev eth0\n`);
    assert.notEqual(valid, conf);
    const good = await runPlaybook(t.inv, confPlay(master, valid), { log: (l) => log.push(l) });
    assert.equal(good.ok, true, log.join("\n"));
    assert.equal(await t.sh(master, `cat ${KEEPALIVED_CONF}`), valid);
    await until(
      `${extra} on ${master} after the reload`,
      10000,
      async () => (await holders(t, [master], extra)).length === 1,
    );
  };
}

const SUBNETS = [71, 72, 73, 74, 75, 76, 77, 78];

for (const [i, version] of KEEPALIVED_VERSIONS.entries()) {
  for (const [j, seed] of ["000", "001"].entries()) {
    const c = SEED_CASES.find((x) => x.seed === seed)!;
    const n = i * 2 + j;
    const name = `kv${n + 1}`;
    const prefix = `198.19.${SUBNETS[n]}`;
    e2e(
      `keepalived ${version}: seed ${seed} deploy, verify, no-op re-run, failover, ` +
        `${seed === "001" ? "broken conf refused, valid conf runs, " : ""}rollback (lab ${name})`,
      () =>
        runSeedSuite(c, {
          name,
          subnet: `${prefix}.0/24`,
          keepalived: version,
          beforeRollback: seed === "001" ? confChecks(version, prefix) : undefined,
        }),
    );
  }
}
