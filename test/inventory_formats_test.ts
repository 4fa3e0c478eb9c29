/**
 * The inventory's three formats: INI twins load to the same hosts and vars as their YAML,
 * `--list` JSON loads back to the same, Ansible's INI typing and syntax, format detection,
 * positionOf, and the `deno task inventory` command.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  detectFormat,
  type Inventory,
  InventoryError,
  type Issue,
  loadInventory,
  positionOf,
} from "../engine/inventory.ts";
import { inventoryHost, inventoryList } from "../engine/inventory_list.ts";
import { inventoryMain } from "../engine/inventory_cli.ts";
import { pyLiteral } from "../engine/_py_literal.ts";
import { iniToTree } from "../engine/_inventory_ini.ts";
import { parseYaml, toPlain } from "../engine/yaml_pos.ts";
import { snippet } from "../engine/_inventory_diagnostics.ts";
import { Redactor } from "../engine/secrets.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PASS = "vrrp-Secret-42";
const ENV = { HAPLAY_VRRP_PASS: PASS };

async function load(file: string, env: Record<string, string> = ENV): Promise<Inventory> {
  return await loadInventory(file, { env, redactor: new Redactor() });
}

/** Hosts, their groups and merged vars, and every group's members: what must not differ. */
function essence(inv: Inventory) {
  return {
    hosts: [...inv.hosts.values()].map((h) => ({
      name: h.name,
      groups: h.groups,
      vars: h.vars,
      connection: h.connection,
    })),
    groups: Object.fromEntries(
      [...inv.groups.values()].filter((g) => g.hosts.length > 0 || g.children.length > 0)
        .map((g) => [g.name, { hosts: g.hosts, children: [...g.children].sort() }]),
    ),
  };
}

const TWINS: [string, string][] = [
  ...[
    "000-same-box-dr",
    "001-dr-pair-redirect",
    "002-dsr-fwmark",
    "003-vrrp-only",
    "004-aws-nat-and-dr",
  ].map((n): [string, string] => [`inventory/examples/${n}.yaml`, `inventory/ini/${n}/hosts.ini`]),
  ["inventory/prod.yaml", "inventory/ini/prod/hosts.ini"],
];

Deno.test("every example inventory and its INI twin load to identical hosts and vars", async (t) => {
  const examples = [...Deno.readDirSync(join(ROOT, "inventory/examples"))]
    .filter((e) => e.name.endsWith(".yaml")).length;
  assert.equal(TWINS.length, examples + 1, "a twin for every example and for prod");
  for (const [yaml, ini] of TWINS) {
    await t.step(yaml, async () => {
      const a = await load(join(ROOT, yaml));
      const b = await load(join(ROOT, ini));
      assert.ok(a.hosts.size >= 2);
      assert.deepEqual(essence(b), essence(a));
      assert.deepEqual(b.warnings, []);
    });
  }
});

Deno.test("--list JSON loads back to the same hosts and vars, secrets as lookups", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [yaml] of TWINS) {
      await t.step(yaml, async () => {
        const a = await load(join(ROOT, yaml));
        const text = JSON.stringify(inventoryList(a), null, 2);
        assert.ok(!text.includes(PASS), "the secret itself is never printed");
        const file = join(dir, "list.json");
        await Deno.writeTextFile(file, text);
        const b = await load(file);
        assert.deepEqual(essence(b), essence(a));
        // And round trip again: the JSON of the JSON is the same JSON.
        assert.equal(JSON.stringify(inventoryList(b), null, 2), text);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--list JSON keeps the inventory's host order, not the group order", async () => {
  const dir = await tmpInventory({
    // a is b's child, so --list visits b (and b1) before a (and z1).
    "inv.yaml": "a:\n  hosts: { z1: }\nb:\n  hosts: { b1: }\n  children: { a: }\n",
  });
  try {
    const a = await load(join(dir, "inv.yaml"));
    assert.deepEqual([...a.hosts.keys()], ["z1", "b1"]);
    await Deno.writeTextFile(join(dir, "list.json"), JSON.stringify(inventoryList(a)));
    const b = await load(join(dir, "list.json"));
    assert.deepEqual(essence(b), essence(a));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--list has ansible-inventory's shape: direct hosts, children, _meta.hostvars", async () => {
  const inv = await load(join(ROOT, "inventory/examples/004-aws-nat-and-dr.yaml"));
  const list = inventoryList(inv) as unknown as Record<string, Record<string, unknown>>;
  // As in Ansible, all's children name ungrouped even when it is empty and so left out.
  assert.deepEqual(list.all, { children: ["lb", "real", "ungrouped"] });
  assert.deepEqual(list.real, { children: ["web", "db"] }, "hosts through children are not listed");
  assert.deepEqual(list.web, { hosts: ["web1", "web2"] });
  assert.equal(list.ungrouped, undefined, "empty groups are left out");
  const hv = (list._meta as { hostvars: Record<string, Record<string, unknown>> }).hostvars;
  assert.deepEqual(Object.keys(hv), [...inv.hosts.keys()]);
  assert.equal(hv.web1.default_gateway, "198.18.4.254");
  const lb = hv.lvs01.haplay_lb as { vrrp_instances: { authentication: unknown }[] };
  assert.deepEqual(lb.vrrp_instances[0].authentication, {
    type: "PASS",
    auth_pass: "{{ lookup('env', 'HAPLAY_VRRP_PASS') }}",
  });
  assert.deepEqual(inventoryHost(inv, "web1"), hv.web1);
  assert.equal(inventoryHost(inv, "nope"), undefined);
});

async function tmpInventory(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [name, text] of Object.entries(files)) {
    const full = join(dir, name);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return dir;
}

async function errors(file: string, env: Record<string, string> = {}): Promise<string[]> {
  try {
    await load(file, env);
  } catch (e) {
    if (e instanceof InventoryError) {
      return e.issues.map((i: Issue) => `${i.line}:${i.col} ${i.message}`);
    }
    throw e;
  }
  assert.fail("loaded without errors");
}

Deno.test("INI: Ansible's syntax, typing and precedence", async () => {
  const dir = await tmpInventory({
    "hosts": `# a comment
; another comment
bastion ansible_host=198.18.0.2

[lb]
lb[1:2] vrrp_priority=100 # a comment after the vars
lb3:2222 note="two words" list='[1, "a"]' on=True off=true none=None oct=0644
db-[a:b]

[lb:vars]
has_java = True # Python comment, gone with literal_eval
motd = hello # kept: not a Python literal, the whole rest is the value
quoted = 'x y'
empty =

[edge]
lb3 vrrp_priority=50

[lb:children]
edge

[all:vars]
color = "all"
`,
    "group_vars/lb.yml": "color: lb\n",
    "host_vars/lb1.yaml": "vrrp_priority: 150\n",
  });
  try {
    const inv = await load(join(dir, "hosts"));
    assert.deepEqual([...inv.hosts.keys()], ["bastion", "lb1", "lb2", "lb3", "db-a", "db-b"]);
    const v = (h: string) => inv.hosts.get(h)!.vars;
    assert.deepEqual(inv.hosts.get("bastion")!.groups, ["all", "ungrouped"]);
    assert.deepEqual(inv.hosts.get("lb3")!.groups, ["all", "lb", "edge"]);
    assert.deepEqual(v("lb1"), {
      color: "lb",
      has_java: true,
      motd: "hello # kept: not a Python literal, the whole rest is the value",
      quoted: "x y",
      empty: "",
      vrrp_priority: 150,
    });
    assert.deepEqual(
      { ...v("lb3"), color: undefined, has_java: undefined, motd: undefined },
      {
        color: undefined,
        has_java: undefined,
        motd: undefined,
        quoted: "x y",
        empty: "",
        ansible_port: 2222,
        note: "two words",
        list: [1, "a"],
        on: true,
        off: "true",
        none: null,
        oct: "0644",
        vrrp_priority: 50,
      },
    );
    assert.equal(inv.hosts.get("lb3")!.connection.port, 2222);
    assert.equal(v("bastion").color, "all");
    // Positions point into the INI file.
    assert.deepEqual(positionOf(inv, "lb3", ["note"]), {
      file: join(dir, "hosts"),
      line: 7,
      col: 15,
      path: "lb.hosts.lb3.note",
    });
    assert.equal(positionOf(inv, "lb1", "vrrp_priority").file, join(dir, "host_vars/lb1.yaml"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("INI: secrets by lookup, and inline secrets refused in INI words", async () => {
  const dir = await tmpInventory({
    "ok.ini": `[lb]
lb1 ansible_become_password="{{ lookup('env', 'SUDO_PW') }}" key="{{ lookup('file', 'k.txt') }}"
`,
    "k.txt": "from-a-file\n",
  });
  try {
    const inv = await load(join(dir, "ok.ini"), { SUDO_PW: "pw-1" });
    const h = inv.hosts.get("lb1")!;
    assert.equal(h.connection.becomePassword, "pw-1");
    assert.equal(h.vars.key, "from-a-file");
    assert.deepEqual(inventoryHost(inv, "lb1"), {
      ansible_become_password: "{{ lookup('env', 'SUDO_PW') }}",
      key: "{{ lookup('file', 'k.txt') }}",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("INI: become as Ansible's string booleans", async () => {
  const dir = await tmpInventory({
    "hosts.ini": "[lb]\nlb1 ansible_user=deploy ansible_become=no\nlb2 ansible_become=yes\n",
  });
  try {
    const inv = await load(join(dir, "hosts.ini"));
    assert.equal(inv.hosts.get("lb1")!.connection.become, false);
    assert.equal(inv.hosts.get("lb2")!.connection.become, true);
    assert.equal(
      inv.hosts.get("lb1")!.vars.ansible_become,
      "no",
      "the value stays as Ansible has it",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pyLiteral reads values the way ast.literal_eval does, else keeps the text", () => {
  const cases: [string, unknown][] = [
    ["2222", 2222],
    ["-5", -5],
    ["1_000", 1000],
    ["0x1f", 31],
    ["0o17", 15],
    ["1.5", 1.5],
    ["1e3", 1000],
    [".5", 0.5],
    ["True", true],
    ["False", false],
    ["None", null],
    ["'a b'", "a b"],
    ['"it\'s"', "it's"],
    ["'a' 'b'", "ab"],
    ["'\\x41\\n'", "A\n"],
    ["r'\\n'", "\\n"],
    ["[1, 'x', [True]]", [1, "x", [true]]],
    ["(1, 2)", [1, 2]],
    ["(1)", 1],
    ["()", []],
    ["{'a': 1, 'b': [2]}", { a: 1, b: [2] }],
    ["{1, 2, 2}", [1, 2]],
    ["{}", {}],
    ["23 # comment", 23],
    // Not literals: the text itself.
    ["true", "true"],
    ["yes", "yes"],
    ["0644", "0644"],
    ["10.0.0.1", "10.0.0.1"],
    ["198.18.0.5/24", "198.18.0.5/24"],
    ["hello world", "hello world"],
    ["1+2", "1+2"],
    ["--5", "--5"],
    ["123abc", "123abc"],
    ["[1, 2", "[1, 2"],
    ["'unclosed", "'unclosed"],
    ["f'x'", "f'x'"],
    ["", ""],
    // Checked against Python 3.11's ast.literal_eval (with Ansible's list/str coercions).
    ["+5", 5],
    ["- 5", -5],
    ["1__0", "1__0"],
    ["0X1F", 31],
    ["0b101", 5],
    ["017", "017"],
    ["00", 0],
    ["0", 0],
    ["1.", 1.0],
    ["1E-2", 0.01],
    ["1e", "1e"],
    ['"it\'s"', "it's"],
    ["'a' \"b\"", "ab"],
    ["'\\101'", "A"],
    ["b'bytes'", "bytes"],
    ["u'uni'", "uni"],
    ["[1, 2,]", [1, 2]],
    ["(1,)", [1]],
    ["{'a': 1,}", { "a": 1 }],
    ["hello # c", "hello # c"],
    ["-True", "-True"],
    ["'''triple'''", "triple"],
    ['"""tri', '"""tri'],
    ['"a\\"b"', 'a"b'],
    ["'\\q'", "\\q"],
    ["[1 2]", "[1 2]"],
    ["{'a' 1}", "{'a' 1}"],
    ["{1: 'x'}", { "1": "x" }],
    ["[None, True, 1.0]", [null, true, 1.0]],
    ["1_000.5", 1000.5],
    ["1e1_0", 10000000000.0],
    ["0_0", 0],
    ["-0x10", -16],
    ["'\u00e9'", "é"],
    ["'\\u00e9'", "é"],
    ["...", "..."],
    ["1j", "1j"],
  ];
  for (const [text, want] of cases) assert.deepEqual(pyLiteral(text), want, text);
});

Deno.test("INI host lines split like Python's shlex.split(line, comments=True)", () => {
  // Expected values checked against Python 3.11's shlex, then typed by pyLiteral.
  const cases: [string, Record<string, unknown>][] = [
    [`h x="a b" y='c d'`, { x: "a b", y: "c d" }],
    ["h x=a\\ b", { x: "a b" }],
    [`h x="a\\"b" y='a\\b'`, { x: 'a"b', y: "a\\b" }],
    [`h x="a\\qb"`, { x: "a\\qb" }],
    [`h x="\\$x"`, { x: "\\$x" }],
    ["h x=a#b c=d", { x: "a" }],
    [`h x="a#b" #c`, { x: "a#b" }],
    [`h x='' y=""`, { x: "", y: "" }],
    [`h x=a"b c"d`, { x: "ab cd" }],
    ["h  x=1\ty=2", { x: 1, y: 2 }],
    ["h x=\\#y", { x: "#y" }],
    [`h x="{'a': [1, 2]}"`, { x: { a: [1, 2] } }],
  ];
  for (const [line, want] of cases) {
    const r = iniToTree(`[g]\n${line}\n`);
    assert.deepEqual(r.problems, [], line);
    const plain = toPlain(r.tree!) as { g: { hosts: { h: unknown } } };
    assert.deepEqual(plain.g.hosts.h, want, line);
  }
  // An unquoted dict breaks into words, as in Ansible ("Expected key=value").
  assert.match(iniToTree("[g]\nh x={'a': 1}\n").problems[0].message, /got '1}'/);
});

Deno.test("format detection: extension first, else content", () => {
  assert.equal(detectFormat("a.yaml", "[x]"), "yaml");
  assert.equal(detectFormat("a.yml", ""), "yaml");
  assert.equal(detectFormat("a.json", "all:"), "json");
  assert.equal(detectFormat("a.ini", "all:"), "ini");
  assert.equal(detectFormat("a.cfg", ""), "ini");
  assert.equal(detectFormat("hosts", "# c\n\n[web]\nweb1\n"), "ini");
  assert.equal(detectFormat("hosts", "; c\nweb1 ansible_port=22\n"), "ini");
  assert.equal(detectFormat("hosts", "web1:2222\n"), "ini");
  assert.equal(detectFormat("hosts", "# c\nall:\n  hosts:\n"), "yaml");
  assert.equal(detectFormat("hosts", "---\nall: {}\n"), "yaml");
  assert.equal(detectFormat("inv", '\n  {"_meta": {}}'), "json");
  assert.equal(detectFormat("hosts", ""), "yaml");
});

Deno.test("a binary file is refused with at most 40 escaped characters of it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = new Uint8Array(1200).map((_, i) => (i * 37 + 11) % 256);
    for (const name of ["garbage.yaml", "hosts"]) {
      await Deno.writeFile(join(dir, name), bytes);
      const [msg, ...rest] = await errors(join(dir, name));
      assert.deepEqual(rest, []);
      const quoted = /starts with "(.*)"$/.exec(msg)![1];
      assert.ok(quoted.replace(/\.\.\.$/, "").length <= 40, quoted);
      assert.match(quoted, /^[\x20-\x7e]+$/, "printable ASCII only");
      assert.match(msg, /^1:1 not a text file \(binary data\)/);
    }
    // Valid UTF-8 with NUL bytes is binary too; the position is the first control byte.
    await Deno.writeTextFile(join(dir, "nul.yaml"), "all:\n  hosts:\n    a\u0000b:\n");
    assert.match((await errors(join(dir, "nul.yaml")))[0], /^3:6 not a text file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unclosed YAML quote is reported where it opened, naming both lines", () => {
  const cases: [string, string][] = [
    ["a: it's fine\nb: [x, 'y']\nc: \"z # not a comment\nd: 1\n", "3:4"],
    ["# it's a comment\nlist:\n  - 'one'\n  - 'two\n  - three\n", "4:5"],
    ["a: 'it''s'\nb: {k: \"v\\\"w}\n", "2:8"],
    ["# note: 'x\na: \"open\n", "2:4"],
    ["a: 'it''s\nb: 2\n", "1:4"],
  ];
  for (const [text, at] of cases) {
    const { problems } = parseYaml(text);
    const p = problems.find((x) => /missing closing/.test(x.message))!;
    assert.ok(p, JSON.stringify(problems));
    const end = text.split("\n").length - 1;
    assert.equal(`${p.loc.line}:${p.loc.col}`, at, text);
    assert.match(
      p.message,
      new RegExp(`opened at line ${p.loc.line}, still open where the file ends at line ${end}$`),
    );
  }
});

Deno.test("snippet escapes and cuts quoted input", () => {
  assert.equal(snippet("a\tb\nc\u0000"), "a\\tb\\nc\\x00");
  assert.equal(snippet("é"), "é");
  assert.equal(snippet("é", 40, true), "\\xe9");
  assert.equal(snippet("x".repeat(50)), `${"x".repeat(40)}...`);
});

Deno.test("a long bad value is quoted in at most 40 characters", async () => {
  const dir = await tmpInventory({ "inv.yaml": `all: ${"z".repeat(1200)}\n` });
  try {
    const [msg] = await errors(join(dir, "inv.yaml"));
    assert.equal(
      msg,
      `1:6 must be a mapping with hosts, children or vars, got '${"z".repeat(40)}...'`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("long names and keys from the input are quoted in at most 40 characters", async () => {
  const long = "q/".repeat(250); // YAML implicit keys stop at 1024 characters
  const dir = await tmpInventory({
    "inv.yaml": `all:\n  hosts:\n    ${long}:\n  ${"k".repeat(500)}: 1\n`,
    "hosts.ini": `[${"g".repeat(900)}:${"t".repeat(900)}]\n`,
  });
  try {
    for (const file of ["inv.yaml", "hosts.ini"]) {
      const lines = (await errors(join(dir, file))).join("\n");
      assert.ok(lines.length < 600, lines);
      for (const m of lines.matchAll(/'([^']*)'/g)) assert.ok(m[1].length <= 43, m[1]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ansible-inventory --list --export JSON: group vars in groups, host vars in _meta", async () => {
  const dir = await tmpInventory({
    "inv.yaml":
      "all:\n  vars: { color: all }\n  children:\n    lb:\n      vars: { color: lb, port: 80 }\n" +
      "      hosts:\n        lb1: { vrrp_priority: 150 }\n        lb2:\n",
    "export.json": JSON.stringify({
      _meta: { hostvars: { lb1: { vrrp_priority: 150 }, lb2: {} } },
      all: { children: ["lb", "ungrouped"], vars: { color: "all" } },
      lb: { hosts: ["lb1", "lb2"], vars: { color: "lb", port: 80 } },
    }),
  });
  try {
    const a = await load(join(dir, "inv.yaml"));
    const b = await load(join(dir, "export.json"));
    assert.deepEqual(essence(b), essence(a));
    assert.deepEqual(b.groups.get("lb")!.vars, { color: "lb", port: 80 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("positionOf: nested values, missing keys, unknown hosts", async () => {
  const file = join(ROOT, "inventory/examples/002-dsr-fwmark.yaml");
  const inv = await load(file);
  assert.deepEqual(
    positionOf(inv, "lv1", ["haplay_lb", "vrrp_instances", 0, "virtual_router_id"]),
    {
      file,
      line: 24,
      col: 30,
      path: "all.vars.haplay_lb.vrrp_instances[0].virtual_router_id",
    },
  );
  assert.deepEqual(positionOf(inv, "lv1", "vrrp_priority"), {
    file,
    line: 37,
    col: 88,
    path: "all.children.lb.hosts.lv1.vrrp_priority",
  });
  // A missing nested key: its parent; a missing top-level key: the host's entry.
  assert.equal(
    positionOf(inv, "lv1", ["haplay_lb", "nope"]).line,
    19,
    "the mapping starts at its first key",
  );
  assert.deepEqual(positionOf(inv, "w101", ["nope"]), {
    file,
    line: 43,
    col: 9,
    path: "all.children.real.hosts.w101.nope",
  });
  assert.deepEqual(positionOf(inv, "ghost", ["x"]), { file, line: 1, col: 1, path: "ghost.x" });
});

Deno.test("inventoryMain: --list, --host, one-line errors and exit codes", async () => {
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await inventoryMain(args, (s) => out.push(s), (s) => err.push(s));
    return { code, out: out.join("\n"), err };
  };
  const ini = join(ROOT, "inventory/ini/002-dsr-fwmark/hosts.ini");
  const list = await run(ini, "--list");
  assert.equal(list.code, 0);
  assert.deepEqual(Object.keys(JSON.parse(list.out)._meta.hostvars), [
    "lv1",
    "lv2",
    "w101",
    "w102",
  ]);
  const host = await run(ini, "--host", "w101");
  assert.equal(host.code, 0);
  assert.equal(JSON.parse(host.out).default_gateway, "198.18.2.10");
  assert.deepEqual((await run(ini, "--host", "nope")).err, [
    `${ini}: no host 'nope' in the inventory`,
  ]);
  assert.equal((await run(ini)).code, 4);
  assert.equal((await run(ini, "--list", "--host", "x")).code, 4);
  assert.equal((await run("--list")).code, 4);
  const bad = join(ROOT, "test/fixtures/inventories/bad/52-ini-connection-vars.ini");
  const r = await run(bad, "--list");
  assert.equal(r.code, 3);
  assert.equal(r.err.length, 4);
  for (const line of r.err) {
    assert.match(line, /^\S+52-ini-connection-vars\.ini:\d+:\d+ lb\.hosts\./);
  }
});

Deno.test("deno task inventory: secrets redacted, errors without a stack trace", async () => {
  const task = (env: Record<string, string>, ...args: string[]) =>
    new Deno.Command("deno", {
      args: ["task", "-q", "inventory", ...args],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
  const base = Deno.env.toObject();
  delete base.HAPLAY_VRRP_PASS;
  const ref = /"auth_pass": "\{\{ lookup\('env', 'HAPLAY_VRRP_PASS'\) \}\}"/;
  // Without the secret at hand: references are shown, nothing is read.
  const bare = await task(base, "inventory/ini/prod/hosts.ini", "--list");
  assert.equal(bare.code, 0, new TextDecoder().decode(bare.stderr));
  assert.match(new TextDecoder().decode(bare.stdout), ref);
  // With --resolve-secrets the secret is read (a missing one is an error) and still not shown.
  const env = { ...base, HAPLAY_VRRP_PASS: PASS };
  const ok = await task(env, "inventory/ini/prod/hosts.ini", "--list", "--resolve-secrets");
  const out = new TextDecoder().decode(ok.stdout);
  assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
  assert.ok(!out.includes(PASS));
  assert.match(out, ref);
  const unset = await task(
    base,
    "inventory/prod.yaml",
    "--host",
    "lb1",
    "--resolve-secrets",
  );
  assert.equal(unset.code, 3);
  assert.match(new TextDecoder().decode(unset.stderr), /HAPLAY_VRRP_PASS is not set/);
  const missing = await task(base, "no/such/file.ini", "--list");
  const err = new TextDecoder().decode(missing.stderr);
  assert.equal(missing.code, 3);
  assert.match(err, /^no\/such\/file\.ini:1:1: cannot read: /);
  assert.equal(err.trim().split("\n").length, 1, err);
  assert.ok(!/at file:|Stack backtrace/.test(err), err);
});
