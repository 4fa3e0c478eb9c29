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
import { loadInventory } from "../../engine/inventory.ts";
import { examplePath, loadExample, PROD, SEEDS, TEST_ENV } from "./_fixtures.ts";
import { have, requires } from "../_requires.ts";

const GOLDEN = fileURLToPath(new URL("./golden/", import.meta.url));
const update = !!Deno.env.get("UPDATE_GOLDEN");

async function renders(seed: string) {
  const inv = seed === "prod"
    ? await loadInventory(PROD, { env: TEST_ENV })
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

for (const seed of SEEDS) {
  Deno.test(`render: seed ${seed} matches its golden files`, async () => {
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
      for (const seed of [...SEEDS, "prod"]) {
        for (const f of await renders(seed)) {
          if (!f.file.endsWith(`${f.host}.conf`)) continue;
          // This machine has no keepalived_script user and no notify scripts: run scripts as
          // root (root-owned /bin/true) and include the same-box file from the temp dir.
          let text = f.content.replace("script_user keepalived_script", "script_user root")
            .replace(/(notify_\w+) "[^"]+"/g, '$1 "/bin/true"')
            .replace(/script "[^"]+"/g, 'script "/bin/true"'); // their commands may not exist here
          for (const inc of (await renders(seed)).filter((x) => x.host === f.host && x !== f)) {
            const incPath = `${dir}/${inc.file}`;
            await Deno.writeTextFile(incPath, inc.content);
            text = text.replace(/include \S+/, `include ${incPath}`);
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
