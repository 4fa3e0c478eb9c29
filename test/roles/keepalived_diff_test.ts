import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import {
  CANONICAL_ONLY,
  redactSecrets,
  secretValues,
  semanticDiff,
} from "../../lb/keepalived_diff.ts";
import {
  confWords,
  liveProbe,
  secretsHash,
  semanticConf,
  WORDS_HEADING,
} from "../../lb/keepalived_conf_plan.ts";
import { parseKeepalivedConf, printKeepalivedConf } from "../../lb/keepalived_parse.ts";
import { file } from "../../tasks/mod.ts";

const FIX = fileURLToPath(new URL("./fixtures/", import.meta.url));
const GOLDEN = fileURLToPath(new URL("./golden/", import.meta.url));

const BASE = `global_defs {
    router_id a
}

vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        198.18.1.10/24
    }
}

virtual_server 198.18.1.10 80 {
    lb_algo rr
    lb_kind DR

    real_server 198.18.1.13 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
`;

const edit = (from: string, to: string) => {
  assert.ok(BASE.includes(from), from);
  return BASE.replace(from, to);
};

Deno.test("semantic diff: a changed value, an added or removed statement, block and real server", () => {
  assert.deepEqual(semanticDiff(BASE, edit("priority 100", "priority 150")), {
    same: false,
    lines: ["VI_1: priority 100 → 150"],
  });
  assert.deepEqual(semanticDiff(BASE, edit("router_id a", "router_id b")).lines, [
    "global_defs: router_id a → b",
  ]);
  assert.deepEqual(
    semanticDiff(BASE, edit("    priority 100\n", "    priority 100\n    nopreempt\n")).lines,
    ["VI_1: nopreempt added"],
  );
  const added = edit(
    "    real_server 198.18.1.13 80 {",
    "    real_server 198.18.1.14 80 {\n        weight 1\n    }\n    real_server 198.18.1.13 80 {",
  );
  assert.deepEqual(
    semanticDiff(BASE, added, { serviceNames: new Map([["198.18.1.10 80", "web"]]) }).lines,
    ["web 198.18.1.10:80: real server 198.18.1.14:80 added"],
  );
  assert.deepEqual(semanticDiff(added, BASE).lines, [
    "virtual_server 198.18.1.10:80: real server 198.18.1.14:80 removed",
  ]);
  assert.deepEqual(
    semanticDiff(BASE, edit("connect_timeout 3", "connect_timeout 5")).lines,
    ["virtual_server 198.18.1.10:80: real server 198.18.1.13:80: TCP_CHECK: connect_timeout 3 → 5"],
  );
  assert.deepEqual(
    semanticDiff(
      BASE,
      edit("        198.18.1.10/24\n", "        198.18.1.10/24\n        198.18.1.11/24\n"),
    )
      .lines,
    ["VI_1: virtual_ipaddress: 198.18.1.11/24 added"],
  );
  assert.deepEqual(
    semanticDiff(BASE, BASE + "\nvrrp_instance VI_2 {\n    priority 50\n}\n").lines,
    ["vrrp_instance VI_2 added"],
  );
  const fw = "virtual_server fwmark 7 {\n    lb_algo rr\n}\n";
  assert.deepEqual(
    semanticDiff(fw, fw.replace("rr", "wrr"), {
      serviceNames: new Map([["fwmark 7", "dsr"]]),
    }).lines,
    ["dsr fwmark 7: lb_algo rr → wrr"],
  );
  // several at once, each said once
  assert.deepEqual(
    semanticDiff(BASE, edit("priority 100", "priority 150").replace("lb_algo rr", "lb_algo wrr"))
      .lines,
    ["VI_1: priority 100 → 150", "virtual_server 198.18.1.10:80: lb_algo rr → wrr"],
  );
});

Deno.test("semantic diff: formatting only is 'canonical form only'; identical text says nothing", () => {
  const reformatted = "! hand-edited\nglobal_defs\n{\n  router_id a   # the box\n}\n" +
    BASE.slice(BASE.indexOf("vrrp_instance")).replace(/^ {4}/gm, "\t");
  assert.deepEqual(semanticDiff(BASE, reformatted), { same: true, lines: [CANONICAL_ONLY] });
  assert.deepEqual(semanticDiff(BASE, BASE), { same: true, lines: [] });
  // the printer's canonical form of a seed is the same configuration as the post's text
  const seed = Deno.readTextFileSync(`${FIX}seeds/001-master.conf`);
  const canonical = printKeepalivedConf(parseKeepalivedConf(seed, { file: "001" }).nodes);
  assert.deepEqual(semanticDiff(seed, canonical), { same: true, lines: [CANONICAL_ONLY] });
  // reordering blocks is not formatting
  const [gd, rest] = [
    BASE.slice(0, BASE.indexOf("vrrp_instance")),
    BASE.slice(BASE.indexOf("vrrp_instance")),
  ];
  assert.deepEqual(semanticDiff(BASE, rest + "\n" + gd), {
    same: false,
    lines: ["order of blocks changed"],
  });
});

Deno.test("semantic diff: seeds: 001 master vs slave, 002's lvs_method, 003 more VIPs", () => {
  const read = (n: string) => Deno.readTextFileSync(`${FIX}seeds/${n}.conf`);
  assert.deepEqual(semanticDiff(read("001-master"), read("001-slave")).lines, [
    "global_defs: notification_email_from keepalived@domain.org → keepalived@mailinblack.org",
    "VI_1: state MASTER → BACKUP",
    "VI_1: priority 100 → 50",
  ]);
  assert.deepEqual(semanticDiff(read("002-before"), read("002-after")).lines, [
    "lvs_method NAT → DR",
  ]);
  assert.deepEqual(semanticDiff(read("003-master"), read("003-backup")).lines, [
    "VI_1: state MASTER → BACKUP",
    "VI_1: priority 150 → 100",
  ]);
});

Deno.test("semantic diff: auth_pass never shows; a config that does not parse says where", () => {
  const d = semanticDiff(BASE, edit("auth_pass s3cret", "auth_pass n3wpass"));
  assert.deepEqual(d.lines, ["VI_1: authentication: auth_pass changed (hidden)"]);
  assert.ok(!JSON.stringify(d).includes("s3cret") && !JSON.stringify(d).includes("n3wpass"));
  const removed = semanticDiff(BASE, edit("        auth_pass s3cret\n", ""));
  assert.deepEqual(removed.lines, ["VI_1: authentication: auth_pass (hidden) removed"]);
  assert.deepEqual(semanticDiff(BASE, BASE.replace(/\}\n$/, "")), {
    same: false,
    lines: [
      "cannot compare: new config line 19: block virtual_server 198.18.1.10 80 is not closed (missing '}')",
    ],
  });
  // redaction: the same bytes as the host's sed, quoted or bare, before a brace
  assert.equal(
    redactSecrets('auth_pass "a b" x\nauth_pass s3cret }\n  auth_pass\tq#c\n'),
    "auth_pass HIDDEN x\nauth_pass HIDDEN }\n  auth_pass\tHIDDEN#c\n",
  );
  assert.equal(secretValues('a\n auth_pass s3cret\nauth_pass "x y"\n'), 's3cret\n"x y"\n');
});

const sha = (t: string) => createHash("sha256").update(new TextEncoder().encode(t)).digest("hex");

/** What the host prints for the live text: the probe's own sh run on a temp file. */
function hostLines(live: string, content: string): string {
  const path = Deno.makeTempFileSync({ prefix: "haplay-ka-" });
  try {
    Deno.writeTextFileSync(path, live);
    const probe = liveProbe(path, sha(content), "salt", secretsHash("salt", content));
    const r = new Deno.Command("sh", { args: ["-c", `_hp_h="${sha(live)} x"\n${probe}`] })
      .outputSync();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    return new TextDecoder().decode(r.stdout);
  } finally {
    Deno.removeSync(path);
  }
}

Deno.test("semantic conf plan: the host redacts auth_pass as the planner does, says only same or not", () => {
  const live = 'x {\n  auth_pass s3cret }\n  auth_pass "a b" # c\n}\n';
  const out = hostLines(live, live.replace("s3cret", "n3w"));
  const kv = Object.fromEntries(out.trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));
  assert.equal(atob(kv.ka_live_b64), redactSecrets(live));
  assert.equal(kv.ka_secrets_same, "0");
  assert.ok(!out.includes("s3cret") && !out.includes(sha(secretValues(live))));
  assert.equal(
    Object.fromEntries(
      hostLines(live, live + "\n").trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)),
    ).ka_secrets_same,
    "1",
  );
  // the file already as wanted: nothing read
  const same = new Deno.Command("sh", {
    args: ["-c", `_hp_h="${sha(live)} x"\n${liveProbe("/nonexistent", sha(live), "s", "h")}`],
  }).outputSync();
  assert.equal(new TextDecoder().decode(same.stdout), "ka_end=1\n");
});

Deno.test("semantic conf plan: words above the diff; formatting only notifies no handler", () => {
  const content = Deno.readTextFileSync(`${GOLDEN}001-lb1.conf`);
  const task = semanticConf(
    file({
      path: "/etc/keepalived/keepalived.conf",
      content,
      notify: ["reload keepalived"],
      sensitive: true,
    }),
    content,
  );
  const facts = (live: string) =>
    [
      "exists=1",
      "type=file",
      `sha256=${sha(live)}`,
      "mode=640",
      "owner=root",
      "group=root",
      "uid=0",
      "gid=0",
      "end=1",
    ].join("\n") + "\n" + hostLines(live, content);
  // the live file is the golden file reindented by hand
  const hand = content.replace(/^ {4}/gm, "  ");
  const p = task.plan(facts(hand));
  assert.equal(p.kind, "change");
  if (p.kind !== "change") return;
  assert.match(p.summary, /canonical form only: no reload/);
  assert.deepEqual(p.notify, []);
  assert.deepEqual(p.restoreNotify, []);
  assert.ok(p.diff!.startsWith(`${WORDS_HEADING}\n  ${CANONICAL_ONLY}\n`), p.diff);
  // a priority change keeps the task's notify and says so above the (hidden) diff
  const m = /priority (\d+)/.exec(content)!;
  const older = content.replace(m[0], `priority ${Number(m[1]) - 1}`);
  const q = task.plan(facts(older));
  assert.equal(q.kind, "change");
  if (q.kind !== "change") return;
  assert.equal(q.notify, undefined);
  assert.ok(q.diff!.startsWith(`${WORDS_HEADING}\n  `), q.diff);
  assert.match(q.diff!, new RegExp(`priority ${Number(m[1]) - 1} → ${m[1]}`));
  // a changed password alone is a change, said without the password
  const oldPass = content.replace(/auth_pass (\S+)/, "auth_pass zzzzzz");
  const r = task.plan(facts(oldPass));
  assert.ok(
    r.kind === "change" && r.notify === undefined && /auth_pass changed \(hidden\)/.test(r.diff!),
  );
  assert.ok(!r.diff!.includes("zzzzzz"));
  assert.deepEqual(confWords(redactSecrets(hand), true, content).same, true);
  assert.deepEqual(confWords(redactSecrets(hand), false, content), {
    same: false,
    lines: ["auth_pass changed (hidden)"],
  });
});
