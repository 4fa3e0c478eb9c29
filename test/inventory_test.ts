import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import {
  checkHostVars,
  formatIssue,
  type Inventory,
  InventoryError,
  type Issue,
  loadInventory,
} from "../engine/inventory.ts";
import { Redactor } from "../engine/secrets.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/inventories/", import.meta.url));
const PROD = join(FIXTURES, "prod");
const BAD = join(FIXTURES, "bad");
const ENV = { LB2_SUDO: "sudo-Pw-lb2" };

/** Formats an issue with its file relative to `base`. */
function rel(base: string, i: Issue): string {
  return formatIssue({ ...i, file: relative(base, i.file) });
}

async function loadProd(): Promise<Inventory> {
  return await loadInventory(join(PROD, "prod.yaml"), { env: ENV, redactor: new Redactor() });
}

const GOOD = join(FIXTURES, "good");

async function loadErrors(file: string, env: Record<string, string> = {}): Promise<Issue[]> {
  try {
    await loadInventory(file, { env, redactor: new Redactor() });
  } catch (e) {
    if (e instanceof InventoryError) return e.issues;
    throw e;
  }
  assert.fail(`${file} loaded without errors`);
}

Deno.test("hosts in inventory order, groups with hosts through children", async () => {
  const inv = await loadProd();
  assert.deepEqual([...inv.hosts.keys()], ["bastion", "lb1", "lb2", "lb3", "web1"]);
  assert.deepEqual([...inv.groups.keys()], ["all", "lvs", "lvs_edge", "web", "zeta", "ungrouped"]);
  assert.deepEqual(inv.groups.get("lvs")!.hosts, ["lb1", "lb2", "lb3"]);
  assert.deepEqual(inv.groups.get("lvs")!.children, ["lvs_edge"]);
  assert.deepEqual(inv.groups.get("all")!.children, ["lvs", "web", "zeta", "ungrouped"]);
  assert.deepEqual(inv.groups.get("all")!.hosts, ["bastion", "lb1", "lb2", "lb3", "web1"]);
  assert.deepEqual(inv.groups.get("ungrouped")!.hosts, ["bastion"]);
  assert.equal(inv.dir, PROD);
  assert.deepEqual(inv.warnings, []);
});

Deno.test("host groups: all first, then by depth and name; ungrouped when in no group", async () => {
  const inv = await loadProd();
  assert.deepEqual(inv.hosts.get("bastion")!.groups, ["all", "ungrouped"]);
  assert.deepEqual(inv.hosts.get("lb1")!.groups, ["all", "lvs", "web"]);
  assert.deepEqual(inv.hosts.get("lb3")!.groups, ["all", "lvs", "zeta", "lvs_edge"]);
  assert.deepEqual(inv.hosts.get("web1")!.groups, ["all", "web"]);
});

Deno.test("precedence: all < parent < child < host; siblings alphabetical; files override inline", async () => {
  const inv = await loadProd();
  const v = (h: string, k: string) => inv.hosts.get(h)!.vars[k];
  assert.equal(v("bastion", "color"), "all");
  assert.equal(v("lb2", "color"), "lvs");
  assert.equal(v("lb1", "color"), "web", "lvs and web are siblings: web sorts later and wins");
  assert.equal(v("lb3", "color"), "edge", "lvs_edge is deeper than zeta, so it wins");
  assert.equal(v("web1", "color"), "web");
  // group_vars/all/*.yaml override inline all vars, not deeper groups' inline vars.
  assert.equal(v("bastion", "tier"), "all-file");
  assert.equal(v("lb1", "tier"), "lvs");
  assert.deepEqual(v("bastion", "ntp"), ["198.18.0.3", "198.18.0.4"], "20-ntp.yml after 10-base");
  // group_vars/lvs.yaml overrides lvs's inline vars; host vars beat everything.
  assert.equal(v("lb1", "lvs_mode"), "dr");
  assert.equal(v("lb3", "lvs_mode"), "tun");
  // host_vars/lb2.yml overrides lb2's inline host vars.
  assert.equal(v("lb2", "vrrp_priority"), 150);
  // group vars of a group are its own only.
  assert.deepEqual(inv.groups.get("lvs_edge")!.vars, { color: "edge" });
  assert.equal(inv.groups.get("lvs")!.vars.lvs_mode, "dr");
});

Deno.test("a host in several places merges its vars; later wins", async () => {
  const inv = await loadInventory(join(GOOD, "multi-place.yaml"));
  const h = inv.hosts.get("h1")!;
  assert.deepEqual(h.vars, { x: 1, y: 2 });
  assert.deepEqual(h.groups, ["all", "a", "b"]);
  assert.equal(h.varSources.y.line, 8);
  assert.deepEqual(inv.groups.get("ungrouped")!.hosts, []);
});

Deno.test("top-level groups without all: are children of all; ranges expand", async () => {
  const inv = await loadInventory(join(GOOD, "top-level.yaml"));
  assert.deepEqual([...inv.hosts.keys()], ["lb01", "lb02", "lb03", "web-a", "web-b"]);
  assert.deepEqual(inv.groups.get("all")!.children, ["lvs", "web", "ungrouped"]);
  assert.equal(inv.hosts.get("lb02")!.vars.ansible_become, true, "YAML 1.1 yes, as in Ansible");
  assert.equal(inv.hosts.get("lb02")!.source!.path, "lvs.hosts.lb02");
});

Deno.test("connection vars: both name styles, haplay's wins, defaults", async () => {
  const inv = await loadProd();
  assert.deepEqual(inv.hosts.get("bastion")!.connection, {
    host: "192.0.2.10",
    port: 22,
    user: "root",
    become: false,
  });
  assert.deepEqual(inv.hosts.get("lb1")!.connection, {
    host: "192.0.2.11",
    port: 2202,
    user: "deploy",
    become: true,
    keyFile: join(PROD, "keys/lvs_ed25519"),
  });
  assert.deepEqual(inv.hosts.get("lb2")!.connection, {
    host: "lb2",
    port: 22,
    user: "deploy",
    become: true,
    becomePassword: "sudo-Pw-lb2",
    keyFile: join(PROD, "keys/lvs_ed25519"),
  });
  assert.deepEqual(inv.hosts.get("web1")!.connection, {
    host: "web1",
    port: 22,
    user: "deploy",
    become: true,
    keyFile: join(PROD, "keys/web_ed25519"),
    knownHosts: join(PROD, "known_hosts"),
  });
});

Deno.test("connection defaults and explicit become for a bare host", async () => {
  const inv = await loadInventory(join(GOOD, "bare.yaml"));
  assert.deepEqual(inv.hosts.get("a")!.connection, {
    host: "a",
    port: 22,
    user: "root",
    become: false,
  });
  assert.deepEqual(inv.hosts.get("b")!.connection, {
    host: "b",
    port: 22,
    user: "ops",
    become: false,
  });
});

Deno.test("secrets resolve to plain strings and are registered with the redactor", async () => {
  const redactor = new Redactor();
  const inv = await loadInventory(join(PROD, "prod.yaml"), { env: ENV, redactor });
  assert.equal(inv.hosts.get("lb1")!.vars.auth_pass, "vrrp-Auth-9f2c");
  assert.equal(inv.hosts.get("lb2")!.vars.ansible_become_password, "sudo-Pw-lb2");
  assert.equal(redactor.size, 2);
  assert.equal(redactor.redact("pw=sudo-Pw-lb2 auth=vrrp-Auth-9f2c"), "pw=******** auth=********");
});

Deno.test("varSources point at the winning value, in whichever file it is", async () => {
  const inv = await loadProd();
  const src = (h: string, k: string) => {
    const s = inv.hosts.get(h)!.varSources[k];
    return `${relative(PROD, s.file)}:${s.line}:${s.col} ${s.path}`;
  };
  assert.equal(
    src("lb1", "vrrp_priority"),
    "prod.yaml:20:26 all.children.lvs.hosts.lb1.vrrp_priority",
  );
  assert.equal(src("lb1", "color"), "prod.yaml:39:16 all.children.web.vars.color");
  assert.equal(src("lb1", "ansible_user"), "prod.yaml:6:19 all.vars.ansible_user");
  assert.equal(src("lb1", "lvs_mode"), "group_vars/lvs.yaml:1:11 lvs_mode");
  assert.equal(src("lb1", "auth_pass"), "group_vars/lvs.yaml:2:12 auth_pass");
  assert.equal(src("lb2", "vrrp_priority"), "host_vars/lb2.yml:1:16 vrrp_priority");
  assert.equal(src("bastion", "tier"), "group_vars/all/10-base.yaml:1:7 tier");
  assert.equal(src("bastion", "ntp"), "group_vars/all/20-ntp.yml:1:6 ntp");
  assert.equal(
    src("lb3", "color"),
    "prod.yaml:33:20 all.children.lvs.children.lvs_edge.vars.color",
  );
  assert.equal(inv.hosts.get("lb1")!.source!.path, "all.children.lvs.hosts.lb1");
});

const LvsSchema = z.object({
  vrrp_priority: z.number().int().min(1).max(254),
  lvs_mode: z.enum(["nat", "dr"]),
  vips: z.array(z.object({ address: z.ipv4() })).optional(),
});

Deno.test("checkHostVars: messages and positions, nested nodes, required", async () => {
  const inv = await loadProd();
  const issues = checkHostVars(inv, ["lb1", "lb2", "lb3", "web1"], LvsSchema);
  assert.deepEqual(issues.map((i) => rel(PROD, i)), [
    "prod.yaml:20:26 all.children.lvs.hosts.lb1.vrrp_priority: must be 1..254, got 300",
    "prod.yaml:26:24 all.children.lvs.hosts.lb1.vips[1].address: must be an IP address, got '198.18.0.300'",
    "prod.yaml:35:13 all.children.lvs.children.lvs_edge.hosts.lb3.vrrp_priority: required",
    "prod.yaml:36:25 all.children.lvs.children.lvs_edge.hosts.lb3.lvs_mode: must be one of nat, dr, got 'tun'",
    "prod.yaml:42:9 all.children.web.hosts.web1.lvs_mode: required",
  ]);
  assert.ok(issues.every((i) => i.severity === "error"));
});

Deno.test("checkHostVars: only= restricts keys; a group var's error is reported once", async () => {
  const inv = await loadProd();
  const schema = z.strictObject({ color: z.enum(["all", "web", "edge"]) });
  const issues = checkHostVars(inv, [...inv.hosts.keys()], schema, { only: ["color"] });
  assert.deepEqual(issues.map((i) => rel(PROD, i)), [
    "prod.yaml:14:16 all.children.lvs.vars.color: must be one of all, web, edge, got 'lvs'",
  ]);
  assert.deepEqual(checkHostVars(inv, ["lb1"], z.object({ tier: z.string() }), { only: [] }), [
    {
      file: join(PROD, "prod.yaml"),
      line: 19,
      col: 9,
      path: "all.children.lvs.hosts.lb1.tier",
      message: "required",
      severity: "error",
    },
  ]);
});

Deno.test("checkHostVars: more zod issue kinds in plain words", async () => {
  const inv = await loadProd();
  const schema = z.object({
    ansible_host: z.union([z.ipv4(), z.ipv6()]),
    color: z.number(),
    ntp: z.array(z.ipv4()).max(1),
    tier: z.string().min(12),
    lvs_mode: z.literal("nat"),
    haplay_user: z.string().refine((u) => u !== "root", "must not log in as root"),
  });
  const issues = checkHostVars(inv, ["bastion"], schema);
  assert.deepEqual(issues.map((i) => rel(PROD, i)), [
    "prod.yaml:4:12 all.vars.color: must be a number, got 'all'",
    "group_vars/all/20-ntp.yml:1:6 ntp: must have at most 1 item, got 2 items",
    "group_vars/all/10-base.yaml:1:7 tier: must be at least 12 characters long, got 'all-file'",
    "prod.yaml:8:5 all.hosts.bastion.lvs_mode: required",
    "prod.yaml:10:20 all.hosts.bastion.haplay_user: must not log in as root",
  ]);
});

Deno.test("checkHostVars: a missing nested key points at its parent node", async () => {
  const inv = await loadProd();
  const schema = z.object({ vips: z.array(z.object({ address: z.string(), port: z.number() })) });
  assert.deepEqual(checkHostVars(inv, ["lb1"], schema).map((i) => rel(PROD, i)), [
    "prod.yaml:25:15 all.children.lvs.hosts.lb1.vips[0].port: required",
    "prod.yaml:26:15 all.children.lvs.hosts.lb1.vips[1].port: required",
  ]);
});

Deno.test("checkHostVars redacts secrets out of messages", async () => {
  const inv = await loadInventory(join(PROD, "prod.yaml"), { env: ENV });
  const issues = checkHostVars(inv, ["lb1"], z.object({ auth_pass: z.string().max(4) }));
  assert.equal(issues.length, 1);
  assert.equal(issues[0].message, "must be at most 4 characters long, got '********'");
});

Deno.test("InventoryError message lists every issue, one per line", async () => {
  const file = join(BAD, "33-several-errors.yaml");
  try {
    await loadInventory(file, { env: {}, redactor: new Redactor() });
    assert.fail("should throw");
  } catch (e) {
    assert.ok(e instanceof InventoryError);
    assert.equal(e.issues.length, 6);
    assert.deepEqual(e.message.split("\n"), e.issues.map(formatIssue));
    assert.match(e.message.split("\n")[0], /33-several-errors\.yaml:5:30 all\.vars\./);
  }
});

Deno.test("warnings do not stop the load: unknown host in host_vars, odd var names", async () => {
  const dir = join(GOOD, "warnings");
  const inv = await loadInventory(join(dir, "inv.yaml"));
  assert.deepEqual(inv.warnings!.map((i) => rel(dir, i)), [
    "host_vars/ghost.yaml:1:1: warning: no host 'ghost' in the inventory",
    "inv.yaml:4:7 all.hosts.a.vrrp-prio: warning: 'vrrp-prio' is not a valid variable name " +
    "(letters, digits and '_', not starting with a digit)",
  ]);
});

Deno.test("empty inventory loads with a warning", async () => {
  const inv = await loadInventory(join(GOOD, "empty.yaml"));
  assert.equal(inv.hosts.size, 0);
  assert.deepEqual([...inv.groups.keys()], ["all", "ungrouped"]);
  assert.deepEqual(inv.warnings!.map((i) => i.message), ["inventory is empty"]);
});

Deno.test("anchors, aliases and merge keys work as in Ansible", async () => {
  const inv = await loadInventory(join(GOOD, "anchors.yaml"));
  assert.deepEqual(inv.hosts.get("a")!.vars.lb, { prio: 150, mode: "nat" });
});

Deno.test("a missing inventory file is an InventoryError", async () => {
  const issues = await loadErrors(join(BAD, "no-such-inventory.yaml"));
  assert.equal(issues.length, 1);
  assert.match(issues[0].message, /^cannot read: /);
});

/** The malformed corpus: `bad/expected.json` maps each file to its exact messages. */
Deno.test("malformed inventory corpus: every message, exactly", async (t) => {
  const expected: Record<string, string[]> = JSON.parse(
    await Deno.readTextFile(join(BAD, "expected.json")),
  );
  const onDisk = [...Deno.readDirSync(BAD)]
    .map((e) => (e.isDirectory ? `${e.name}/inventory.yaml` : e.name))
    .filter((n) => /\.(yaml|ini|json)$/.test(n) && n !== "expected.json")
    .sort();
  assert.deepEqual(Object.keys(expected).sort(), onDisk, "expected.json covers every case");
  assert.ok(onDisk.length >= 30);
  for (const [name, messages] of Object.entries(expected)) {
    await t.step(name, async () => {
      const issues = await loadErrors(join(BAD, name));
      assert.deepEqual(issues.map((i) => rel(BAD, i)), messages);
    });
  }
});
