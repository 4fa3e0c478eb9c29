/**
 * The site playbook as the engine loads it: plays, lint and verify hooks exported; every example
 * inventory plans (no two tasks own one resource, every notified handler exists); the rolling
 * order puts BACKUPs first.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadPlaybook } from "../../engine/playbook.ts";
import { prepare } from "../../engine/run.ts";
import { selectHosts } from "../../engine/patterns.ts";
import { lbGateScript, plays, rollingHosts, vipSamplesScript } from "../../playbooks/site.ts";
import { ctx, loadExample, SEEDS } from "./_fixtures.ts";

const SITE = fileURLToPath(new URL("../../playbooks/site.ts", import.meta.url));

Deno.test("site: the engine loads the playbook with lint and verify", async () => {
  const pb = await loadPlaybook(SITE);
  assert.deepEqual(pb.plays.map((p) => p.name), ["real servers", "load balancers"]);
  assert.equal(pb.plays[1].rolling?.serial, 1);
  assert.equal(typeof pb.lint, "function");
  assert.equal(typeof pb.verify, "function");
});

Deno.test("site: every example plans cleanly on every host", async () => {
  for (const seed of SEEDS) {
    const inv = await loadExample(seed);
    for (const play of plays) {
      const prepared = prepare(inv, play, selectHosts(inv, play.hosts), {});
      const some = prepared.some((p) => p.tasks.length > 0);
      // seed 003 is VRRP only: no real servers; seed 000's real servers are its LBs
      const none = ["000", "003"].includes(seed) && play.name === "real servers";
      assert.equal(some, !none, `${seed} ${play.name}`);
    }
  }
});

Deno.test("site: load balancers roll lowest priority first, the MASTER last", async () => {
  const inv = await loadExample("001");
  const order = rollingHosts([...inv.hosts.keys()].map((n) => ctx(inv, n))).map((h) => h.name);
  assert.deepEqual(order, ["web1", "web2", "lb2", "lb1"]);
  const inv0 = await loadExample("000");
  assert.deepEqual(
    rollingHosts([...inv0.hosts.keys()].map((n) => ctx(inv0, n))).map((h) => h.name),
    [
      "node3",
      "node2",
      "node1",
    ],
  );
});

Deno.test("site: the gate script waits for VRRP to settle, then samples the VIP (valid sh)", async () => {
  const inv = await loadExample("001");
  const lb = lbGateScript.script(ctx(inv, "lb1"))!;
  assert.match(lb, /^sleep 4$/m, "3 x advert_int + 1 s");
  assert.match(lb, /echo "vip_samples=\$_s"/);
  assert.equal(lbGateScript.script(ctx(inv, "web1")), undefined);
  assert.equal(vipSamplesScript(ctx(inv, "web1")), "echo vip_samples=");
  const syntax = await new Deno.Command("sh", { args: ["-n", "-c", lb] }).output();
  assert.equal(syntax.code, 0, new TextDecoder().decode(syntax.stderr));
  // the sampler itself, run here: this machine does not hold the VIP
  const out = await new Deno.Command("sh", { args: ["-c", vipSamplesScript(ctx(inv, "lb1"))] })
    .output();
  assert.equal(new TextDecoder().decode(out.stdout), "vip_samples=000000\n");
});
