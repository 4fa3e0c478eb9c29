/**
 * Lint of the LB layer: every rule has a failing and a passing case, built from one clean
 * inventory (two DR load balancers, two real servers) changed a little per test.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import type { Issue } from "../../engine/inventory.ts";
import { lintLb, WRONG } from "../../lb/lint.ts";
import { loadInventory } from "../../engine/inventory.ts";
import { inventoryFrom, loadExample, PROD, SEEDS } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;

/** The clean inventory: lint finds nothing. */
function base(): Doc {
  return {
    all: {
      vars: {
        haplay_lb: {
          vrrp_instances: [{
            name: "VI_1",
            virtual_router_id: 51,
            unicast: true,
            virtual_ipaddress: ["198.18.5.100/24"],
          }],
          services: [{ name: "web", vip: "198.18.5.100", port: 80 }],
        },
      },
      children: {
        lb: {
          hosts: {
            lb1: {
              ansible_host: "198.18.5.11",
              data_address: "198.18.5.11/24",
              vrrp_priority: 150,
            },
            lb2: {
              ansible_host: "198.18.5.12",
              data_address: "198.18.5.12/24",
              vrrp_priority: 100,
            },
          },
        },
        real: {
          hosts: { web1: { ansible_host: "198.18.5.13" }, web2: { ansible_host: "198.18.5.14" } },
        },
      },
    },
  };
}

const SECRET = "__SECRET__";
const lb = (d: Doc) => d.all.vars.haplay_lb;
const inst = (d: Doc) => lb(d).vrrp_instances[0];
const host = (d: Doc, name: string) =>
  d.all.children.lb.hosts[name] ?? d.all.children.real.hosts[name];

/** Lints base() changed by `mut`; returns issues and the YAML text. */
async function lint(mut: (d: Doc) => void = () => {}): Promise<{ issues: Issue[]; yaml: string }> {
  const d = base();
  mut(d);
  const yaml = stringify(d).replaceAll(`${SECRET}`, "!env HAPLAY_VRRP_PASS");
  return {
    issues: lintLb(await inventoryFrom(yaml, { HAPLAY_VRRP_PASS: "pw-12345", LONG: "x" })),
    yaml,
  };
}

/** The issues matching a severity kind and a message pattern. */
function find(issues: Issue[], kind: "error" | "wrong" | "warning", re: RegExp): Issue[] {
  return issues.filter((i) =>
    (kind === "error"
      ? i.severity === "error"
      : kind === "wrong"
      ? i.severity === "warning" && i.message.startsWith(WRONG)
      : i.severity === "warning" && !i.message.startsWith(WRONG)) && re.test(i.message)
  );
}

function expectOne(issues: Issue[], kind: "error" | "wrong" | "warning", re: RegExp): Issue {
  const got = find(issues, kind, re);
  assert.equal(
    got.length,
    1,
    `want one ${kind} ${re}, got:\n${issues.map((i) => `${i.severity} ${i.message}`).join("\n")}`,
  );
  return got[0];
}

function expectNone(issues: Issue[], re: RegExp) {
  const got = issues.filter((i) => re.test(i.message));
  assert.deepEqual(got.map((i) => i.message), [], `unexpected ${re}`);
}

/** 1-based line of the first line containing `text`. */
function lineOf(yaml: string, text: string): number {
  return yaml.split("\n").findIndex((l) => l.includes(text)) + 1;
}

Deno.test("lint: the base inventory and every example are clean of errors and wrong setups", async () => {
  assert.deepEqual((await lint()).issues, []);
  for (const seed of SEEDS) {
    const issues = lintLb(await loadExample(seed));
    assert.deepEqual(
      issues.filter((i) => i.severity === "error" || i.message.startsWith(WRONG)).map((i) =>
        i.message
      ),
      [],
      seed,
    );
  }
  const prod = lintLb(await loadInventory(PROD, { env: { HAPLAY_VRRP_PASS: "pw-12345" } }));
  assert.deepEqual(prod.map((i) => i.message), [], "prod.yaml is clean");
});

Deno.test("lint: schema errors are positioned; unknown keys get a suggestion", async () => {
  const { issues, yaml } = await lint((d) => {
    inst(d).virtual_router_id = "fifty";
    inst(d).advert_intt = 1;
  });
  const t = issues.find((i) => /must be a number/.test(i.message))!;
  assert.equal(t.line, lineOf(yaml, "virtual_router_id: fifty"));
  assert.equal(t.severity, "error");
  const u = expectOne(issues, "error", /unknown key 'advert_intt' \(did you mean 'advert_int'\?\)/);
  assert.equal(u.line, lineOf(yaml, "advert_intt"));
  assert.match(u.path, /haplay_lb\.vrrp_instances\[0\]/);
});

Deno.test("lint: no haplay_lb anywhere is an error", async () => {
  const { issues } = await lint((d) => delete d.all.vars.haplay_lb);
  expectOne(issues, "error", /no haplay_lb section/);
});

Deno.test("lint: virtual_router_id must be 1..255", async () => {
  const bad = await lint((d) => (inst(d).virtual_router_id = 300));
  const i = expectOne(bad.issues, "error", /must be 1\.\.255, got 300/);
  assert.equal(i.line, lineOf(bad.yaml, "virtual_router_id: 300"));
  assert.equal(i.col, bad.yaml.split("\n")[i.line - 1].indexOf("300") + 1);
  expectNone((await lint((d) => (inst(d).virtual_router_id = 255))).issues, /1\.\.255/);
});

Deno.test("lint: virtual_router_id unique per segment unless unicast peers are disjoint", async () => {
  const two = (unicast: boolean, vrid2: number) => (d: Doc) => {
    const pair = (p: string, a: number) => ({
      vars: {
        haplay_lb: {
          lb_group: p,
          vrrp_instances: [{
            name: "VI_1",
            virtual_router_id: a,
            unicast,
            virtual_ipaddress: [`198.18.5.${p === "pa" ? 100 : 101}/24`],
          }],
        },
      },
      hosts: {
        [`${p}1`]: {
          ansible_host: `198.18.5.${p === "pa" ? 21 : 31}`,
          data_address: `198.18.5.${p === "pa" ? 21 : 31}/24`,
          vrrp_priority: 150,
        },
        [`${p}2`]: {
          ansible_host: `198.18.5.${p === "pa" ? 22 : 32}`,
          data_address: `198.18.5.${p === "pa" ? 22 : 32}/24`,
          vrrp_priority: 100,
        },
      },
    });
    delete d.all.vars.haplay_lb;
    d.all.children = { pa: pair("pa", 51), pb: pair("pb", vrid2) };
  };
  expectOne(
    (await lint(two(false, 51))).issues,
    "wrong",
    /virtual_router_id 51 of VI_1 is also used by VI_1 \(group pa\)/,
  );
  expectNone((await lint(two(true, 51))).issues, /also used/);
  expectNone((await lint(two(false, 52))).issues, /also used/);
  // Two instances of one pair with the same id clash even with unicast (same peers).
  const same = await lint((d) =>
    lb(d).vrrp_instances.push({
      name: "VI_2",
      virtual_router_id: 51,
      unicast: true,
      virtual_ipaddress: ["198.18.5.101/24"],
    })
  );
  expectOne(same.issues, "wrong", /virtual_router_id 51 of VI_2 is also used by VI_1/);
});

Deno.test("lint: every LB needs a priority, and priorities differ", async () => {
  const eq = await lint((d) => (host(d, "lb2").vrrp_priority = 150));
  const i = expectOne(eq.issues, "wrong", /lb2 and lb1 both have priority 150/);
  assert.equal(i.line, lineOf(eq.yaml, "lb2:") + 3);
  const missing = await lint((d) => delete host(d, "lb2").vrrp_priority);
  expectOne(
    missing.issues,
    "error",
    /no VRRP priority for instance VI_1: set vrrp_priority on lb2/,
  );
  const perInstance = await lint((d) => (host(d, "lb2").vrrp_priority = { VI_1: 120 }));
  expectNone(perInstance.issues, /priority/);
});

Deno.test("lint: nopreempt needs state BACKUP and priority < 255", async () => {
  const master = await lint((d) => {
    inst(d).nopreempt = true;
    host(d, "lb1").vrrp_state = "MASTER";
  });
  expectOne(master.issues, "wrong", /nopreempt needs initial state BACKUP, but lb1 starts MASTER/);
  const p255 = await lint((d) => {
    inst(d).nopreempt = true;
    host(d, "lb1").vrrp_priority = 255;
  });
  expectOne(p255.issues, "wrong", /nopreempt is incompatible with priority 255/);
  expectNone((await lint((d) => (inst(d).nopreempt = true))).issues, /nopreempt/);
});

Deno.test("lint: auth_pass longer than 8 characters", async () => {
  const long = await lint((d) => (inst(d).authentication = { type: "PASS", auth_pass: SECRET }));
  // HAPLAY_VRRP_PASS is pw-12345: exactly 8, fine
  expectNone(long.issues, /auth_pass is/);
  const d = base();
  inst(d).authentication = { type: "AH", auth_pass: SECRET };
  const yaml = stringify(d).replaceAll(SECRET, "!env HAPLAY_VRRP_PASS");
  const issues = lintLb(await inventoryFrom(yaml, { HAPLAY_VRRP_PASS: "123456789" }));
  const i = expectOne(
    issues,
    "warning",
    /auth_pass is 9 characters long; keepalived uses only the first 8/,
  );
  assert.doesNotMatch(i.message, /123456789/);
});

Deno.test("lint: PASS authentication without unicast", async () => {
  const multi = await lint((d) => {
    inst(d).unicast = false;
    inst(d).authentication = { type: "PASS", auth_pass: SECRET };
  });
  expectOne(multi.issues, "warning", /PASS authentication sends the password in clear text/);
  const uni = await lint((d) => (inst(d).authentication = { type: "PASS", auth_pass: SECRET }));
  expectNone(uni.issues, /clear text/);
});

Deno.test("lint: more than 20 VIPs are noted (they go to virtual_ipaddress_excluded)", async () => {
  const vips = (n: number) => Array.from({ length: n }, (_, i) => `198.18.5.${100 + i}/24`);
  const many = await lint((d) => (inst(d).virtual_ipaddress = vips(21)));
  expectOne(
    many.issues,
    "warning",
    /^note: 21 addresses; the first 20 are advertised, the other 1/,
  );
  expectNone((await lint((d) => (inst(d).virtual_ipaddress = vips(20)))).issues, /advertised/);
});

Deno.test("lint: unicast peer lists complete, without self, and addresses known", async () => {
  const self = await lint((
    d,
  ) => (host(d, "lb1").vrrp_unicast_peers = ["198.18.5.11", "198.18.5.12"]));
  expectOne(
    self.issues,
    "wrong",
    /unicast peer list of lb1 contains its own address 198\.18\.5\.11/,
  );
  const incomplete = await lint((d) => (host(d, "lb1").vrrp_unicast_peers = ["198.18.5.99"]));
  expectOne(incomplete.issues, "wrong", /unicast peer list of lb1 misses lb2 \(198\.18\.5\.12\)/);
  const noAddr = await lint((d) => {
    host(d, "lb2").ansible_host = "lb2.example";
    delete host(d, "lb2").data_address;
  });
  expectOne(noAddr.issues, "error", /unicast VRRP needs lb2's address/);
  const good = await lint((d) => (host(d, "lb1").vrrp_unicast_peers = ["198.18.5.12"]));
  expectNone(good.issues, /unicast/);
});

Deno.test("lint: NAT real servers need the LB (a VRRP address) as default gateway", async () => {
  const nat = (gw?: string) => (d: Doc) => {
    lb(d).services[0].mode = "nat";
    inst(d).virtual_ipaddress.push("198.18.5.254/24");
    for (const w of ["web1", "web2"]) if (gw) host(d, w).default_gateway = gw;
  };
  const other = await lint(nat("198.18.5.1"));
  assert.equal(
    find(
      other.issues,
      "wrong",
      /NAT needs the LB as the real servers' default gateway, but web\d uses 198\.18\.5\.1/,
    ).length,
    2,
  );
  const fixed = await lint(nat("198.18.5.11"));
  assert.equal(
    find(fixed.issues, "wrong", /default gateway 198\.18\.5\.11 is lb1's own address/).length,
    2,
  );
  const unknown = await lint(nat());
  assert.equal(
    find(unknown.issues, "warning", /^hint: set default_gateway on NAT real server/).length,
    2,
  );
  expectNone((await lint(nat("198.18.5.254"))).issues, /gateway/);
});

Deno.test("lint: DR real servers must be on the LB's subnet", async () => {
  const out = await lint((d) => (host(d, "web2").ansible_host = "198.18.6.14"));
  const i = expectOne(
    out.issues,
    "wrong",
    /DR real server web2 \(198\.18\.6\.14\) of web is outside the LB segment 198\.18\.5\.0\/24/,
  );
  assert.equal(i.line, lineOf(out.yaml, "web2:"));
  expectNone((await lint()).issues, /outside the LB segment/);
});

Deno.test("lint: VIP address families must not mix in one instance", async () => {
  const mixed = await lint((d) => inst(d).virtual_ipaddress.push("::ffff:198.18.5.100/64"));
  expectOne(mixed.issues, "error", /IPv4 and IPv6 addresses mixed in VI_1/);
  expectNone((await lint()).issues, /mixed/);
});

Deno.test("lint: an LB that is also a DR real server needs same-box-dr (the notify swap)", async () => {
  const loop = await lint((d) => (lb(d).services[0].real_servers = ["lb", "real"]));
  expectOne(
    loop.issues,
    "wrong",
    /lb1, lb2 are both LB and real server of web without the notify swap/,
  );
  const swap = await lint((d) => {
    lb(d).services[0].mode = "same-box-dr";
    lb(d).services[0].real_servers = ["lb"];
  });
  expectNone(swap.issues, /notify swap/);
});

Deno.test("lint: scripts need enable_script_security", async () => {
  const off = await lint((d) => {
    lb(d).script_security = false;
    inst(d).hooks = { notify_master: ["logger master"] };
  });
  expectOne(off.issues, "error", /scripts are used .* without enable_script_security/);
  expectNone((await lint((d) => (lb(d).script_security = false))).issues, /script_security/);
  expectNone(
    (await lint((d) => (inst(d).hooks = { notify_master: ["logger m"] }))).issues,
    /script_security/,
  );
});

Deno.test("lint: track_scripts and sync_groups must name existing things", async () => {
  const bad = await lint((d) => {
    inst(d).track_scripts = ["chk_web"];
    lb(d).sync_groups = [{ name: "G", instances: ["VI_1", "VI_9"] }];
  });
  expectOne(bad.issues, "error", /no vrrp_script named 'chk_web'/);
  expectOne(bad.issues, "error", /no vrrp_instance named 'VI_9'/);
  const good = await lint((d) => {
    lb(d).vrrp_scripts = [{ name: "chk_web", script: "/usr/bin/true" }];
    inst(d).track_scripts = ["chk_web"];
  });
  expectNone(good.issues, /no vrrp_/);
  const own = await lint((d) => (inst(d).track_interfaces = ["eth0"]));
  expectOne(own.issues, "warning", /VI_1 runs on eth0 already/);
});

Deno.test("lint: weighted track scripts are ignored in sync groups", async () => {
  const two = (d: Doc, track: unknown) => {
    lb(d).vrrp_scripts = [{ name: "chk", script: "/usr/bin/true", weight: -20 }];
    inst(d).track_scripts = [track];
    lb(d).vrrp_instances.push({
      name: "VI_2",
      virtual_router_id: 52,
      virtual_ipaddress: ["198.18.5.101/24"],
    });
    lb(d).sync_groups = [{ name: "G", instances: ["VI_1", "VI_2"] }];
  };
  expectOne(
    (await lint((d) => two(d, "chk"))).issues,
    "error",
    /VI_1 is in a sync group, .* \(chk: -20\)/,
  );
  expectNone((await lint((d) => two(d, { name: "chk", weight: 0 }))).issues, /sync group/);
});

Deno.test("lint: service shape per mode, and duplicate virtual servers", async () => {
  const fw = await lint((d) => (lb(d).services[0].mode = "dsr-fwmark"));
  expectOne(fw.issues, "error", /dsr-fwmark needs both vip .* and fwmark/);
  const noPort = await lint((d) => delete lb(d).services[0].port);
  expectOne(noPort.issues, "error", /dr needs a port/);
  const dup = await lint((d) =>
    lb(d).services.push({ name: "web2", vip: "198.18.5.100", port: 80 })
  );
  expectOne(dup.issues, "error", /same virtual server \(198\.18\.5\.100 80 TCP\) as service web/);
  const good = await lint((d) =>
    lb(d).services.push({ name: "tls", vip: "198.18.5.100", port: 443 })
  );
  expectNone(good.issues, /virtual server|needs/);
});

Deno.test("lint: who carries the VIP", async () => {
  const orphan = await lint((d) => (lb(d).services[0].vip = "198.18.5.101"));
  expectOne(orphan.issues, "wrong", /no vrrp_instance carries 198\.18\.5\.101/);
  const owned = await lint((d) => {
    Object.assign(lb(d).services[0], { mode: "dsr-fwmark", fwmark: 1 });
  });
  expectOne(owned.issues, "wrong", /dsr-fwmark: 198\.18\.5\.100 is in VI_1's virtual_ipaddress/);
  const fwOk = await lint((d) => {
    inst(d).virtual_ipaddress = ["198.18.5.10/24"];
    Object.assign(lb(d).services[0], { mode: "dsr-fwmark", fwmark: 1 });
  });
  expectNone(fwOk.issues, /carries|dsr-fwmark/);
});

Deno.test("lint: real servers resolve, and a service has some", async () => {
  const unknown = await lint((d) => (lb(d).services[0].real_servers = ["web1", "nosuch"]));
  expectOne(unknown.issues, "error", /no host or group 'nosuch' in the inventory/);
  const none = await lint((d) => delete d.all.children.real);
  expectOne(none.issues, "wrong", /service web has no real servers/);
  const explicit = await lint((
    d,
  ) => (lb(d).services[0].real_servers = ["web1", { address: "198.18.5.40", weight: 2 }]));
  expectNone(explicit.issues, /real server/);
});

Deno.test("lint: DR cannot change ports", async () => {
  const moved = await lint((d) => (lb(d).services[0].real_port = 8080));
  expectOne(moved.issues, "wrong", /real server port 8080 differs from the service port 80/);
  const nat = await lint((d) => {
    Object.assign(lb(d).services[0], { mode: "nat", real_port: 8080 });
    for (const w of ["web1", "web2"]) host(d, w).default_gateway = "198.18.5.100";
  });
  expectNone(nat.issues, /port/);
});

Deno.test("lint: vip_method lo is IPv4 only", async () => {
  const v6 = await lint((d) => {
    inst(d).virtual_ipaddress = ["::ffff:198.18.5.100/64"];
    lb(d).services[0].vip = "::ffff:198.18.5.100";
  });
  expectOne(v6.issues, "error", /vip_method lo supports IPv4 VIPs only/);
  const redirect = await lint((d) => {
    inst(d).virtual_ipaddress = ["::ffff:198.18.5.100/64"];
    Object.assign(lb(d).services[0], { vip: "::ffff:198.18.5.100", vip_method: "redirect" });
  });
  expectNone(redirect.issues, /IPv4 VIPs only/);
});

Deno.test("lint: every LB deploys the same haplay_lb", async () => {
  const diff = await lint((d) => {
    host(d, "lb2").haplay_lb = {
      ...structuredClone(lb(d)),
      vrrp_instances: [{ ...inst(d), advert_int: 2 }],
    };
  });
  expectOne(diff.issues, "wrong", /lb2's haplay_lb differs from lb1's/);
});

Deno.test("lint: every raw extra statement is listed as not checked by haplay (warning)", async () => {
  const { issues, yaml } = await lint((d) => {
    lb(d).global_defs = { extra: ["vrrp_garp_master_refresh 60"] };
    lb(d).extra = ["track_file chk_maint {", "    file /run/maint", "}"];
    inst(d).extra = ["garp_master_refresh 30", "track_file {\n    chk_maint weight 0\n}\n"];
    lb(d).services[0].extra = ["sorry_server 198.18.5.99 80"];
    lb(d).services[0].real_servers = [{ host: "web1", extra: ["inhibit_on_failure"] }, "web2"];
    lb(d).services[0].health_check = { type: "TCP_CHECK", extra: ["connect_ip 198.18.5.13"] };
  });
  const kws = [
    "vrrp_garp_master_refresh",
    "garp_master_refresh",
    "sorry_server",
    "inhibit_on_failure",
    "connect_ip",
  ];
  for (const kw of kws) {
    const i = expectOne(issues, "warning", new RegExp(`^not checked by haplay: ${kw}$`));
    assert.equal(i.line, lineOf(yaml, `- ${kw}`), kw);
  }
  // a multi-line block is one statement: at the entry that opens it
  const files = find(issues, "warning", /^not checked by haplay: track_file$/);
  assert.deepEqual(
    files.map((i) => i.line),
    [
      lineOf(yaml, "- track_file chk_maint {"),
      lineOf(yaml, "- |-") || lineOf(yaml, "- |"),
    ].sort((a, b) => a - b),
  );
  assert.deepEqual(find(issues, "error", /./).map((i) => i.message), []);
  // no extra, no such warning
  expectNone((await lint()).issues, /not checked by haplay/);
});

Deno.test("lint: extra with unbalanced braces is an error at its inventory line", async () => {
  const open = await lint((d) => (inst(d).extra = ["track_file {", "    chk_maint weight 0"]));
  const i = expectOne(open.issues, "error", /track_file is not closed \(missing '\}'\)/);
  assert.equal(i.line, lineOf(open.yaml, "- track_file {"));
  assert.match(i.path, /haplay_lb\.vrrp_instances\[0\]\.extra\[0\]/);
  const stray = await lint((d) => (lb(d).services[0].extra = ["alpha", "}"]));
  const j = expectOne(stray.issues, "error", /'\}' without a block to close/);
  assert.equal(j.line, lineOf(stray.yaml, `- "}"`));
  const quote = await lint((
    d,
  ) => (lb(d).global_defs = { extra: ['notification_email_from "a@b'] }));
  expectOne(quote.issues, "error", /unterminated quote/);
  const balanced = await lint((
    d,
  ) => (inst(d).extra = ["track_file {", "    chk_maint weight 0", "}"]));
  assert.deepEqual(find(balanced.issues, "error", /./), []);
});

Deno.test("lint: extra repeating a statement haplay renders in that block is an error", async () => {
  const bad = await lint((d) => (inst(d).extra = ["priority 200"]));
  const i = expectOne(bad.issues, "error", /extra repeats priority, which haplay already renders/);
  assert.equal(i.line, lineOf(bad.yaml, "- priority 200"));
  const hc = await lint((d) => {
    lb(d).services[0].health_check = { type: "TCP_CHECK", extra: ["connect_timeout 9"] };
  });
  expectOne(hc.issues, "error", /extra repeats connect_timeout/);
  // a second url block in an HTTP_GET is keepalived's way to check several paths: allowed
  const url = await lint((d) => {
    lb(d).services[0].health_check = { type: "HTTP_GET", extra: ["url {", "    path /ready", "}"] };
  });
  assert.deepEqual(find(url.issues, "error", /./), []);
  expectOne(url.issues, "warning", /^not checked by haplay: url$/);
  const none = await lint((d) => (lb(d).services[0].health_check = { type: "none", extra: ["x"] }));
  expectOne(none.issues, "error", /extra needs a checker block/);
});

Deno.test("lint: a mistyped extra gets a suggestion", async () => {
  const { issues } = await lint((d) => {
    inst(d).extr = ["garp_master_refresh 30"];
    lb(d).global_defs = { extras: ["vrrp_version 2"] };
  });
  expectOne(issues, "error", /unknown key 'extr' \(did you mean 'extra'\?\)/);
  expectOne(issues, "error", /unknown key 'extras' \(did you mean 'extra'\?\)/);
});
