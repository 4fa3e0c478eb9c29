import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type Inventory, loadInventory } from "../engine/inventory.ts";
import { selectHosts, splitPattern } from "../engine/patterns.ts";
import { Redactor } from "../engine/secrets.ts";

const PROD = fileURLToPath(new URL("./fixtures/inventories/prod/prod.yaml", import.meta.url));

// prod.yaml: hosts bastion, lb1, lb2, lb3, web1 (in that order);
// lvs = lb1 lb2 lb3 (lb3 through its child lvs_edge), web = lb1 web1, zeta = lb3,
// ungrouped = bastion.
let cached: Inventory | undefined;
async function inv(): Promise<Inventory> {
  cached ??= await loadInventory(PROD, { env: { LB2_SUDO: "x-sudo" }, redactor: new Redactor() });
  return cached;
}

const CASES: [string, string[]][] = [
  ["all", ["bastion", "lb1", "lb2", "lb3", "web1"]],
  ["*", ["bastion", "lb1", "lb2", "lb3", "web1"]],
  ["lvs", ["lb1", "lb2", "lb3"]],
  ["lvs_edge", ["lb3"]],
  ["ungrouped", ["bastion"]],
  ["lb2", ["lb2"]],
  // unions, in inventory order whatever the pattern's order
  ["lvs:web", ["lb1", "lb2", "lb3", "web1"]],
  ["web,lvs", ["lb1", "lb2", "lb3", "web1"]],
  ["web1:lb1", ["lb1", "web1"]],
  [" lvs , web ", ["lb1", "lb2", "lb3", "web1"]],
  // intersections and exclusions
  ["lvs:&web", ["lb1"]],
  ["lvs:!lvs_edge", ["lb1", "lb2"]],
  ["all:!ungrouped", ["lb1", "lb2", "lb3", "web1"]],
  ["all:&lvs:!lb2", ["lb1", "lb3"]],
  ["!lb2:lvs", ["lb1", "lb3"]],
  ["lvs,web:&zeta", ["lb3"]],
  ["!lvs", ["bastion", "web1"]],
  ["&web", ["lb1", "web1"]],
  // globs over host and group names
  ["lb*", ["lb1", "lb2", "lb3"]],
  ["lvs*", ["lb1", "lb2", "lb3"]],
  ["?eb1", ["web1"]],
  ["lb[!1]", ["lb2", "lb3"]],
  ["*:!lb?", ["bastion", "web1"]],
  // regexes (searched, over groups and hosts: ~^web matches group web too)
  ["~lb[23]", ["lb2", "lb3"]],
  ["~^web", ["lb1", "web1"]],
  ["~(", []],
  // subscripts into a term's hosts, end inclusive
  ["lvs[0]", ["lb1"]],
  ["lvs[-1]", ["lb3"]],
  ["lvs[1:2]", ["lb2", "lb3"]],
  ["lvs[1:]", ["lb2", "lb3"]],
  ["lvs[:1]", ["lb1", "lb2"]],
  ["lvs[5]", []],
  ["lvs[0]:web[0]", ["lb1"]],
  ["lvs[1:2]:&zeta", ["lb3"]],
  // unknown names match nothing
  ["nope", []],
  ["lvs:nope", ["lb1", "lb2", "lb3"]],
  ["nope:&lvs", []],
  ["lvs:!nope", ["lb1", "lb2", "lb3"]],
  ["", []],
];

for (const [pattern, want] of CASES) {
  Deno.test(`selectHosts ${JSON.stringify(pattern)}`, async () => {
    assert.deepEqual(selectHosts(await inv(), pattern), want);
  });
}

Deno.test("splitPattern: ',' and ':' separate terms, not inside [...]", () => {
  assert.deepEqual(splitPattern("a:b,c"), ["a", "b", "c"]);
  assert.deepEqual(splitPattern("lvs[1:2]:!web"), ["lvs[1:2]", "!web"]);
  assert.deepEqual(splitPattern(" a ,, b "), ["a", "b"]);
});

Deno.test("selectHosts on an inventory built by hand", () => {
  const hand: Inventory = {
    file: "x.yaml",
    dir: ".",
    hosts: new Map(["b", "a"].map((n) => [n, {
      name: n,
      vars: {},
      groups: ["all"],
      varSources: {},
      connection: { host: n, port: 22, user: "root", become: false },
    }])),
    groups: new Map([["all", { name: "all", hosts: ["b", "a"], children: [], vars: {} }]]),
  };
  assert.deepEqual(selectHosts(hand, "a:b"), ["b", "a"]);
});
