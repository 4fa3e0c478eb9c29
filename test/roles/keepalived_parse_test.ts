import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type KaNode,
  parseKeepalivedConf,
  printKeepalivedConf,
  treeEqual,
} from "../../lb/keepalived_parse.ts";

const FIX = fileURLToPath(new URL("./fixtures/", import.meta.url));
const GOLDEN = fileURLToPath(new URL("./golden/", import.meta.url));

function readOrUndefined(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** A glob over real files, enough for `dir/*.conf` patterns. */
function globFiles(pattern: string): string[] {
  const dir = pattern.slice(0, pattern.lastIndexOf("/"));
  const re = new RegExp(
    "^" + pattern.slice(dir.length + 1).replace(/[.+^$()|]/g, "\\$&").replace(/\*/g, "[^/]*")
      .replace(/\?/g, "[^/]") +
      "$",
  );
  try {
    return [...Deno.readDirSync(dir)].filter((e) => re.test(e.name)).map((e) => `${dir}/${e.name}`);
  } catch {
    return [];
  }
}

/** parse → print → parse gives the same tree, and printing that again the same text. */
function assertFixpoint(nodes: KaNode[], file: string) {
  const text = printKeepalivedConf(nodes);
  const again = parseKeepalivedConf(text, { file: "printed" });
  assert.deepEqual(again.errors, [], `${file}: printed text has errors`);
  assert.ok(treeEqual(nodes, again.nodes), `${file}: parse → print → parse changed the tree`);
  assert.equal(printKeepalivedConf(again.nodes), text, `${file}: printing is not stable`);
}

function find(nodes: KaNode[], key: string, ...args: string[]): KaNode {
  const n = nodes.find((x) => x.key === key && args.every((a, i) => x.args[i] === a));
  assert.ok(n, `no ${key} ${args.join(" ")}`);
  return n;
}

Deno.test("keepalived parse: seed 000 as the post writes it, include followed relative to the file", () => {
  // the post's files live in /etc/keepalived; the fixtures carry a 000- prefix
  const read = (p: string) =>
    p.startsWith("/etc/keepalived/")
      ? readOrUndefined(`${FIX}seeds/000-${p.slice("/etc/keepalived/".length)}`)
      : undefined;
  const file = "/etc/keepalived/keepalived.conf";
  const text = read(file)!;
  const r = parseKeepalivedConf(text, { file, read });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.nodes.map((n) => n.key), ["global_defs", "vrrp_instance"]);
  const vi = find(r.nodes, "vrrp_instance", "LVS_SETTINGS");
  assert.deepEqual(find(vi.children!, "state").args, ["BACKUP"], "mid-line # comment dropped");
  assert.deepEqual(find(vi.children!, "notify_master").args, ["/etc/keepalived/notify_master.sh"]);
  assert.deepEqual(find(vi.children!, "virtual_ipaddress").children!.map((n) => n.key), [
    "10.0.0.5",
  ]);
  assert.equal(vi.file, file);
  assert.equal(vi.line, 5);
  // the master variant: the same include pointed at the other file
  const master = parseKeepalivedConf(
    text.replace("virtualserver-backup.conf", "virtualserver-master.conf"),
    { file, read },
  );
  assert.deepEqual(master.errors, []);
  const vs = find(master.nodes, "virtual_server", "10.0.0.5", "8000");
  assert.equal(vs.file, "/etc/keepalived/virtualserver-master.conf");
  assert.equal(vs.line, 1);
  const rs = vs.children!.filter((n) => n.key === "real_server");
  assert.deepEqual(rs.map((n) => n.args), [["10.0.0.12", "8000"], ["10.0.0.14", "8000"]]);
  const get = find(rs[0].children!, "HTTP_GET");
  assert.deepEqual(find(find(get.children!, "url").children!, "path").args, ["/health"]);
  assertFixpoint(master.nodes, "000");
  // without a read callback the include stays a node
  const bare = parseKeepalivedConf(text, { file });
  assert.deepEqual(find(bare.nodes, "include").args, ["virtualserver-backup.conf"]);
});

Deno.test("keepalived parse: seeds 001 and 003 (unindented, commented) and 002's one-line change", () => {
  for (const name of ["001-master", "001-slave", "003-master", "003-backup", "003-excluded"]) {
    const file = `${FIX}seeds/${name}.conf`;
    const r = parseKeepalivedConf(Deno.readTextFileSync(file), { file });
    assert.deepEqual(r.errors, [], name);
    assertFixpoint(r.nodes, name);
  }
  const m = parseKeepalivedConf(Deno.readTextFileSync(`${FIX}seeds/001-master.conf`), {
    file: "001",
  });
  const gd = find(m.nodes, "global_defs");
  assert.deepEqual(find(gd.children!, "router_id").args, ["LVS_MASTER"]);
  assert.deepEqual(
    find(gd.children!, "notification_email").children![0].key,
    [
      "notification@domain.org",
    ][0],
  );
  const vi = find(m.nodes, "vrrp_instance", "VI_1");
  assert.deepEqual(find(vi.children!, "notify_master").args, [
    "/etc/keepalived/bypass_ipvs.sh del xxx.xxx.xxx.100",
  ]);
  assert.deepEqual(find(find(vi.children!, "authentication").children!, "auth_type").args, [
    "PASS",
  ]);
  const rs = find(find(m.nodes, "virtual_server").children!, "real_server", "xxx.xxx.xxx.79", "80");
  assert.deepEqual(find(rs.children!, "HTTP_GET").children!.map((n) => n.key), [
    "url",
    "connect_timeout",
    "nb_get_retry",
    "delay_before_retry",
  ]);
  const ex = parseKeepalivedConf(Deno.readTextFileSync(`${FIX}seeds/003-excluded.conf`), {
    file: "003",
  });
  // the post elides lines with "..."; they parse as statements, not as errors
  const vi3 = find(ex.nodes, "vrrp_instance", "VI_1");
  assert.deepEqual(find(vi3.children!, "virtual_ipaddress_excluded").children!.map((n) => n.key), [
    "192.168.1.120",
    "192.168.1.121",
    "192.168.1.122",
  ]);
  const before = parseKeepalivedConf(Deno.readTextFileSync(`${FIX}seeds/002-before.conf`), {
    file: "002",
  });
  assert.deepEqual(before.nodes.map((n) => [n.key, ...n.args]), [["lvs_method", "NAT"]]);
});

Deno.test("keepalived parse: the doc/samples shapes, include glob in sorted order, positions", () => {
  const file = `${FIX}samples/main.conf`;
  const r = parseKeepalivedConf(Deno.readTextFileSync(file), {
    file,
    read: readOrUndefined,
    glob: globFiles,
  });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.nodes.map((n) => [n.key, ...n.args].join(" ")), [
    "global_defs",
    "vrrp_script chk_web",
    "track_file maint_flag",
    "vrrp_sync_group SG_1",
    "vrrp_instance VI_WEB",
    "vrrp_instance VI_DB",
    "virtual_server_group web_group",
    "virtual_server group web_group",
    "virtual_server 198.18.1.20 25",
    "virtual_server 198.18.1.20 443",
  ]);
  const script = find(r.nodes, "vrrp_script", "chk_web");
  assert.deepEqual(find(script.children!, "script").args, [
    "/usr/bin/curl -fs http://127.0.0.1/#health",
  ]);
  // `{` on the next line opens the block of the statement before it
  const sg = find(r.nodes, "vrrp_sync_group", "SG_1");
  assert.deepEqual(find(sg.children!, "group").children!.map((n) => n.key), ["VI_WEB", "VI_DB"]);
  // `{ auth_type PASS` and `auth_pass s3cret }` on the lines of the braces
  const vi = find(r.nodes, "vrrp_instance", "VI_WEB");
  assert.deepEqual(
    find(vi.children!, "authentication").children!.map((n) => [n.key, ...n.args]),
    [["auth_type", "PASS"], ["auth_pass", "s3cret"]],
  );
  const vidb = find(r.nodes, "vrrp_instance", "VI_DB");
  assert.deepEqual(find(vidb.children!, "virtual_ipaddress").children!.map((n) => n.key), [
    "198.18.1.11/24",
  ]);
  const web = find(r.nodes, "virtual_server", "group", "web_group");
  assert.equal(web.file, `${FIX}samples/conf.d/10-web.conf`);
  assert.equal(web.line, 1);
  assert.deepEqual(find(web.children!, "sorry_server").args, ["198.18.1.99", "8080"]);
  const rs15 = find(web.children!, "real_server", "198.18.1.15");
  const misc = find(rs15.children!, "MISC_CHECK");
  assert.deepEqual(find(misc.children!, "misc_path").args, [
    "/usr/local/bin/check_web 198.18.1.15",
  ]);
  assert.equal(misc.line, 21);
  const mail = find(r.nodes, "virtual_server", "198.18.1.20", "25");
  assert.equal(mail.file, `${FIX}samples/conf.d/20-mail.conf`);
  const tcp = find(find(mail.children!, "real_server", "198.18.1.25").children!, "TCP_CHECK");
  assert.deepEqual(tcp.children!.map((n) => [n.key, ...n.args]), [["connect_port", "25"]]);
  assertFixpoint(r.nodes, "samples");
});

Deno.test("keepalived parse: haplay's golden files are a parse → print → parse fixpoint", () => {
  const names = [...Deno.readDirSync(GOLDEN)].map((e) => e.name).filter((n) => n.endsWith(".conf"));
  assert.ok(names.length >= 10);
  for (const name of names) {
    const r = parseKeepalivedConf(Deno.readTextFileSync(GOLDEN + name), { file: name });
    assert.deepEqual(r.errors, [], name);
    assert.ok(r.nodes.length > 0, name);
    assertFixpoint(r.nodes, name);
  }
});

Deno.test("keepalived parse: errors carry file and line, parsing goes on, nothing throws", () => {
  const files: Record<string, string> = {
    "/k/main.conf": [
      "global_defs {",
      "    router_id a",
      "}",
      "}",
      "include sub/missing.conf",
      "include sub/*.conf",
      "include sub/inner.conf",
      "vrrp_instance VI_1 {",
      '    notify_master "/x.sh',
      "    priority 100",
      "",
    ].join("\n"),
    "/k/sub/inner.conf": "vrrp_script s {\n  interval 2\n",
  };
  const r = parseKeepalivedConf(files["/k/main.conf"], {
    file: "/k/main.conf",
    read: (p) => files[p],
    glob: () => [],
  });
  assert.deepEqual(r.errors, [
    { file: "/k/main.conf", line: 4, message: "'}' without a block to close" },
    {
      file: "/k/main.conf",
      line: 5,
      message: "include sub/missing.conf: /k/sub/missing.conf not found",
    },
    {
      file: "/k/main.conf",
      line: 8,
      message: "block vrrp_instance VI_1 is not closed (missing '}')",
    },
    { file: "/k/main.conf", line: 9, message: 'unterminated quote: notify_master "/x.sh' },
    {
      file: "/k/sub/inner.conf",
      line: 1,
      message: "block vrrp_script s is not closed (missing '}')",
    },
  ]);
  // an empty glob is no error (keepalived accepts it); the rest of the file was still parsed
  assert.deepEqual(r.nodes.map((n) => n.key), ["global_defs", "vrrp_script"]);
  const loop = parseKeepalivedConf("include self.conf\n", {
    file: "/k/self.conf",
    read: () => "include self.conf\n",
  });
  assert.match(loop.errors[0].message, /include loop/);
  const thrown = parseKeepalivedConf("include x\n", {
    file: "/k/a.conf",
    read: () => {
      throw new Error("boom");
    },
  });
  assert.deepEqual(thrown.errors, [{ file: "/k/a.conf", line: 0, message: "cannot parse: boom" }]);
  assert.deepEqual(parseKeepalivedConf("{\n a\n}\n", { file: "f" }).errors, [
    { file: "f", line: 1, message: "'{' without a keyword before it" },
  ]);
});

Deno.test("keepalived parse: tree equality ignores formatting, not content", () => {
  const a = parseKeepalivedConf(
    'vrrp_instance VI_1 {\n  state MASTER   # main\n  notify_master "/x.sh"\n}\n',
    { file: "a" },
  ).nodes;
  const b =
    parseKeepalivedConf("! other\nvrrp_instance   VI_1\n{ state MASTER\nnotify_master /x.sh }", {
      file: "b",
    }).nodes;
  assert.ok(treeEqual(a, b));
  const c = parseKeepalivedConf("vrrp_instance VI_1 {\n state BACKUP\n notify_master /x.sh\n}", {
    file: "c",
  }).nodes;
  assert.ok(!treeEqual(a, c));
  // a block and a bare statement differ; `\#` is a literal #
  assert.ok(
    !treeEqual(
      parseKeepalivedConf("a {\n}\n", { file: "d" }).nodes,
      parseKeepalivedConf("a\n", { file: "e" }).nodes,
    ),
  );
  assert.deepEqual(parseKeepalivedConf("x a\\#b # c\n", { file: "f" }).nodes[0].args, ["a#b"]);
  assert.equal(
    printKeepalivedConf(a),
    "vrrp_instance VI_1 {\n    state MASTER\n    notify_master /x.sh\n}\n",
  );
});

Deno.test("keepalived parse: an include line is its pattern to the end (braces, variants, comments)", () => {
  const files: Record<string, string> = {
    "/k/conf.d/web.conf": "virtual_server 198.18.1.10 80 {\n}\n",
    "/k/conf.d/db.conf": "virtual_server 198.18.1.10 3306 {\n}\n",
    "/k/extra.conf": "vrrp_script s {\n}\n",
  };
  const seen: string[] = [];
  const text = [
    "include conf.d/{web,db}.conf # both",
    "vrrp_instance VI_1 {",
    "    includer ../k/extra.conf",
    "}",
  ].join("\n");
  const r = parseKeepalivedConf(text, {
    file: "/k/keepalived.conf",
    read: (p) => files[p],
    glob: (p) => {
      seen.push(p);
      return ["/k/conf.d/web.conf", "/k/conf.d/db.conf"];
    },
  });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(seen, ["/k/conf.d/{web,db}.conf"], "a brace expression goes to glob whole");
  assert.deepEqual(r.nodes.map((n) => nodeHeadOf(n)), [
    "virtual_server 198.18.1.10 3306",
    "virtual_server 198.18.1.10 80",
    "vrrp_instance VI_1",
  ]);
  assert.deepEqual(r.nodes[2].children!.map((n) => n.key), ["vrrp_script"]);
  assert.equal(r.nodes[2].children![0].file, "/k/extra.conf", "../ folded");
  // not followed: the include stays a node and prints back as written
  const bare = parseKeepalivedConf(text, { file: "/k/keepalived.conf" });
  assert.deepEqual(bare.nodes[0], {
    key: "include",
    args: ["conf.d/{web,db}.conf"],
    file: "/k/keepalived.conf",
    line: 1,
  });
  assert.deepEqual(bare.nodes[1].children![0].key, "includer");
  assertFixpoint(bare.nodes, "include lines");
  assert.match(printKeepalivedConf(bare.nodes), /^include conf\.d\/\{web,db\}\.conf\n/);
});

function nodeHeadOf(n: KaNode): string {
  return [n.key, ...n.args].join(" ");
}
