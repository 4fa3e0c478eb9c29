/**
 * Every seed's example inventory, deployed for real into a namespace lab with Debian's
 * keepalived 2.2.7: the seed suite of `_seed_suite.ts` (deploy, verify, no-op re-run, failover,
 * rollback to the snapshot). The other keepalived versions: test/versions/.
 *
 * Labs rl1..rl5 on 198.19.231.0/24 .. 198.19.235.0/24.
 */
import { e2e } from "../lab_fixture.ts";
import { runSeedSuite, SEED_CASES } from "./_seed_suite.ts";

const LABS: Record<string, { name: string; subnet: string }> = {
  "000": { name: "rl1", subnet: "198.19.231.0/24" },
  "001": { name: "rl2", subnet: "198.19.232.0/24" },
  "002": { name: "rl3", subnet: "198.19.233.0/24" },
  "003": { name: "rl4", subnet: "198.19.234.0/24" },
  "004": { name: "rl5", subnet: "198.19.235.0/24" },
};

for (const c of SEED_CASES) {
  const where = LABS[c.seed];
  e2e(
    `seed ${c.seed}: deploy, verify, idempotent re-run, ${
      c.failover ? "VRRP failover and back, " : ""
    }rollback (lab ${where.name})`,
    () => runSeedSuite(c, where),
  );
}
