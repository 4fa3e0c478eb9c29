/**
 * keepalived.conf rendering: every seed's example inventory renders to its golden files
 * (`test/roles/golden/<seed>-<host>.conf`, regenerate with `UPDATE_GOLDEN=1`), peers differ only
 * where they must, and (where keepalived is installed) every rendered file passes the
 * validator with `keepalived -t`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { lbClusterOf } from "../../lb/cluster.ts";
import { CHECKER_SCRIPT } from "../../lb/keepalived_check.ts";
import { renderKeepalived } from "../../lb/keepalived_conf.ts";
import { type KaNode, parseKeepalivedConf } from "../../lb/keepalived_parse.ts";
import { loadInventory } from "../../engine/inventory.ts";
import { examplePath, inventoryFrom, loadExample, PROD, SEEDS, TEST_ENV } from "./_fixtures.ts";
import { have, requires } from "../_requires.ts";

const GOLDEN = fileURLToPath(new URL("./golden/", import.meta.url));
/** An inventory with `extra:` (raw keepalived lines) in every place that takes them. */
const EXTRAS = fileURLToPath(new URL("./fixtures/extras.yaml", import.meta.url));
/** An inventory with every health checker type and the degradation fields. */
const CHECKS = fileURLToPath(new URL("./fixtures/checks.yaml", import.meta.url));
/** An inventory with connection_sync (lvs_sync_daemon) and every one of its options. */
const SYNC = fileURLToPath(new URL("./fixtures/sync.yaml", import.meta.url));
const update = !!Deno.env.get("UPDATE_GOLDEN");
const FIXTURES: Record<string, string> = { extras: EXTRAS, checks: CHECKS, sync: SYNC };

async function renders(seed: string) {
  const inv = seed === "prod"
    ? await loadInventory(PROD, { env: TEST_ENV })
    : FIXTURES[seed]
    ? await loadInventory(FIXTURES[seed], { env: TEST_ENV })
    : await loadExample(seed);
  const out: { host: string; file: string; content: string }[] = [];
  for (const h of inv.hosts.values()) {
    const c = lbClusterOf(h.name, inv.hosts);
    if (!c) continue;
    const r = renderKeepalived(c, h.name);
    out.push({ host: h.name, file: `${seed}-${h.name}.conf`, content: r.main });
    for (const i of r.includes) {
      out.push({
        host: h.name,
        file: `${seed}-${h.name}.${i.path.split("/").pop()}`,
        content: i.content,
      });
    }
  }
  return out;
}

const TITLES: Record<string, string> = {
  extras: "raw extra lines",
  checks: "health checks",
  sync: "connection sync",
};
for (const seed of [...SEEDS, "extras", "checks", "sync"]) {
  Deno.test(`render: ${TITLES[seed] ?? `seed ${seed}`} matches its golden files`, async () => {
    const files = await renders(seed);
    assert.ok(files.length >= 2, "at least two load balancers");
    for (const f of files) {
      const path = GOLDEN + f.file;
      if (update) await Deno.writeTextFile(path, f.content);
      assert.equal(f.content, await Deno.readTextFile(path), f.file);
    }
  });
}

Deno.test("render: peers differ only in router_id, state and priority", async () => {
  for (const seed of SEEDS) {
    const mains = (await renders(seed)).filter((f) => f.file.endsWith(`${f.host}.conf`));
    const norm = (s: string) =>
      s.split("\n").filter((l) => !/^\s*(router_id|state|priority|unicast_src_ip) /.test(l))
        .filter((l) => !/^\s*198\.18\.\d+\.1\d$/.test(l)) // unicast peers
        .join("\n");
    for (const m of mains.slice(1)) {
      assert.equal(norm(m.content), norm(mains[0].content), `${seed} ${m.host}`);
    }
  }
});

Deno.test("render: the auth_pass comes from the secret and is never more than 8 characters", async () => {
  const [f] = await renders("001");
  assert.match(f.content, /auth_pass t3stpass\n/);
  // a 12-character secret: keepalived would use only its first 8 (and warn)
  const inv = await loadInventory(examplePath("001"), {
    env: { HAPLAY_VRRP_PASS: "abcdefgh1234" },
  });
  const h = [...inv.hosts.values()].find((x) => lbClusterOf(x.name, inv.hosts))!;
  const main = renderKeepalived(lbClusterOf(h.name, inv.hosts)!, h.name).main;
  assert.deepEqual([...main.matchAll(/auth_pass (\S+)/g)].map((m) => m[1]), ["abcdefgh"]);
  assert.doesNotMatch(main, /1234/);
});

Deno.test(requires({ keepalived: have("keepalived") }, {
  name: "render: every seed config (and prod.yaml) passes keepalived -t through the validator",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "haplay-kt-" });
    try {
      await Deno.writeTextFile(`${dir}/check.sh`, CHECKER_SCRIPT);
      for (const seed of [...SEEDS, "prod", "extras", "checks", "sync"]) {
        for (const f of await renders(seed)) {
          if (!f.file.endsWith(`${f.host}.conf`)) continue;
          // This machine has no keepalived_script user and no notify scripts: run scripts as
          // root (root-owned /bin/true) and include the same-box file from the temp dir.
          let text = f.content.replace("script_user keepalived_script", "script_user root")
            .replace(/(notify_\w+) "[^"]+"/g, '$1 "/bin/true"')
            .replace(/script "[^"]+"/g, 'script "/bin/true"') // their commands may not exist here
            .replace(/(misc_path|quorum_up|quorum_down) "[^"]+"/g, '$1 "/bin/true"');
          const incs = (await renders(seed)).filter((x) => x.host === f.host && x.file !== f.file);
          for (const inc of incs) {
            const incPath = `${dir}/${inc.file}`;
            await Deno.writeTextFile(incPath, inc.content);
            text = text.replace(/include \S+\.active\.conf/, `include ${incPath}`);
          }
          const path = `${dir}/${f.file}`;
          await Deno.writeTextFile(path, text);
          const r = await new Deno.Command("sh", { args: [`${dir}/check.sh`, path] }).output();
          assert.equal(r.code, 0, `${f.file}: ${new TextDecoder().decode(r.stderr)}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
}));

Deno.test("render: extra lines land inside their own block, indented, in the order written", async () => {
  const [lb1] = await renders("extras");
  const nodes = parseKeepalivedConf(lb1.content, { file: lb1.file });
  assert.deepEqual(nodes.errors, []);
  const block = (key: string, ...args: string[]) =>
    nodes.nodes.find((n) => n.key === key && args.every((a, i) => n.args[i] === a))!;
  const keys = (n: KaNode) => n.children!.map((c) => c.key);
  assert.deepEqual(keys(block("global_defs")).slice(-2), [
    "vrrp_garp_master_refresh",
    "vrrp_version",
  ]);
  assert.deepEqual(nodes.nodes[1].key, "track_file", "top-level extra right after global_defs");
  assert.deepEqual(keys(block("track_file", "chk_maint")), ["file", "weight"]);
  assert.deepEqual(keys(block("vrrp_script", "chk_web")).at(-1), "init_fail");
  const vi1 = block("vrrp_instance", "VI_1");
  assert.deepEqual(keys(vi1).slice(-2), ["garp_master_refresh", "track_file"]);
  assert.deepEqual(vi1.children!.at(-1)!.children!.map((c) => [c.key, ...c.args]), [
    ["chk_maint", "weight", "0"],
  ]);
  assert.deepEqual(keys(block("vrrp_sync_group", "SG_1")).at(-1), "notify");
  const vs = block("virtual_server", "198.18.1.100", "80");
  assert.deepEqual(keys(vs), [
    "delay_loop",
    "lb_algo",
    "lb_kind",
    "protocol",
    "sorry_server",
    "alpha",
    "real_server",
    "real_server",
  ]);
  const [rs1, rs2] = vs.children!.filter((c) => c.key === "real_server");
  assert.deepEqual(keys(rs1), ["weight", "include", "HTTP_GET", "inhibit_on_failure"]);
  assert.deepEqual(keys(rs2), ["weight", "include", "HTTP_GET"], "web2 has no extra of its own");
  for (const rs of [rs1, rs2]) {
    assert.deepEqual(keys(rs.children!.find((c) => c.key === "HTTP_GET")!).at(-1), "virtualhost");
  }
  // an extra of a block is indented one level deeper than its block's statement
  assert.match(lb1.content, /\n {8}chk_maint weight 0\n {4}\}\n\}/);
});

Deno.test("render: a secret inside an extra line makes the file sensitive (its diff is hidden)", async () => {
  const text = await Deno.readTextFile(EXTRAS);
  const plain = await inventoryFrom(text);
  assert.equal(renderKeepalived(lbClusterOf("lb2", plain.hosts)!, "lb2").sensitive, true);
  // without authentication, no secret: not sensitive; with a secret raw line: sensitive
  const noAuth = text.replace(/ {10}authentication: .*\n/, "");
  const a = await inventoryFrom(noAuth);
  assert.equal(renderKeepalived(lbClusterOf("lb2", a.hosts)!, "lb2").sensitive, false);
  const b = await inventoryFrom(
    noAuth.replace("- garp_master_refresh 30", "- !env K1_RAW_LINE"),
    { ...TEST_ENV, K1_RAW_LINE: "garp_master_refresh 31" },
  );
  const r = renderKeepalived(lbClusterOf("lb2", b.hosts)!, "lb2");
  assert.match(r.main, /\n {4}garp_master_refresh 31\n/);
  assert.equal(r.sensitive, true);
});

Deno.test("render: one checker and a list of that one checker render the same file", async () => {
  const text = await Deno.readTextFile(examplePath("001"));
  const one = await inventoryFrom(text);
  // the block mapping under health_check becomes the only item of a list
  const asList = text.replace(
    /( {10}health_check:\n)((?: {12}.*\n)+)/,
    (_, head: string, body: string) =>
      head + body.replace(/^ {12}/gm, "              ").replace(/^ {14}/, "            - "),
  );
  assert.match(asList, /health_check:\n {12}- type: HTTP_GET\n {14}path:/);
  const list = await inventoryFrom(asList);
  const main = (inv: typeof one) => renderKeepalived(lbClusterOf("lb1", inv.hosts)!, "lb1").main;
  assert.equal(main(list), main(one));
  assert.match(main(one), /HTTP_GET \{/);
});
