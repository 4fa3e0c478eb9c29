// deno-lint-ignore-file no-explicit-any -- the mapped section is read field by field
/**
 * Unit tests of the import (pure parts): the reader's framing, the mapper on the seeds'
 * configs as their posts write them (test/roles/fixtures/seeds/) and on a config full of
 * keywords haplay does not model, and the writer (the password only in the 0600 file).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseKeepalivedConf } from "../../lb/keepalived_parse.ts";
import {
  type HostFacts,
  type ImportHost,
  inventoryYaml,
  mapSetup,
  parseReadOutput,
  readScript,
  SecretSlot,
  writeInventory,
} from "../../lb/import/mod.ts";
import { loadInventory } from "../../engine/inventory.ts";
import { importMain } from "../../lb/import_cli.ts";
import { loadExample } from "./_fixtures.ts";
import { allClusters } from "../../lb/cluster.ts";
import { renderKeepalived } from "../../lb/keepalived_conf.ts";
import { NOTIFY_STATES, notifySteps } from "../../lb/notify_plan.ts";
import { notifyScriptText } from "../../lb/notify_scripts.ts";
import { notifyScript } from "../../lb/paths.ts";
import { LbSection } from "../../lb/schema.ts";
import { semanticDiff } from "../../lb/keepalived_diff.ts";
import { daemonArgsTask, daemonArgsValue } from "../../roles/_daemon_args.ts";

const SEEDS = fileURLToPath(new URL("./fixtures/seeds/", import.meta.url));

function facts(
  addr: string,
  cmds: Record<string, string> = {},
  files: Record<string, string> = {},
): HostFacts {
  return {
    files: new Map(Object.entries(files)),
    cmds: new Map(Object.entries({
      addr:
        `1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet ${addr}/24 brd x scope global eth0`,
      ...cmds,
    })),
    missing: [],
    mainConf: "/etc/keepalived/keepalived.conf",
    configFiles: [],
  };
}

function parse(text: string, file = "/etc/keepalived/keepalived.conf") {
  const r = parseKeepalivedConf(text, { file });
  assert.deepEqual(r.errors, []);
  return r.nodes;
}

function seed(name: string, from?: string, to?: string) {
  let text = Deno.readTextFileSync(SEEDS + name);
  if (from) text = text.replaceAll(from, to!);
  return parse(text, "/etc/keepalived/keepalived.conf");
}

const lbHost = (name: string, addr: string, nodes: ReturnType<typeof parse>, f?: HostFacts) =>
  ({
    name,
    vars: { ansible_host: addr },
    role: "lb",
    facts: f ?? facts(addr),
    nodes,
  }) as ImportHost;
const realHost = (name: string, addr: string, f?: HostFacts) =>
  ({ name, vars: { ansible_host: addr }, role: "real", facts: f ?? facts(addr) }) as ImportHost;

Deno.test("import map: seed 001 (DR pair, REDIRECT real server, bypass_ipvs notify)", () => {
  const redirect = facts("198.18.1.79", {
    nat: "*nat\n-A PREROUTING -d 198.18.1.100/32 -p tcp -j REDIRECT\nCOMMIT\n",
  }, { "/etc/iptables/rules.v4": "-A PREROUTING -d 198.18.1.100/32 -p tcp -j REDIRECT\n" });
  const r = mapSetup([
    lbHost("lb1", "198.18.1.82", seed("001-master.conf", "xxx.xxx.xxx", "198.18.1")),
    lbHost("lb2", "198.18.1.83", seed("001-slave.conf", "xxx.xxx.xxx", "198.18.1")),
    realHost("web1", "198.18.1.79", redirect),
  ]);
  const lb = r.lb as Record<string, any>;
  assert.equal(lb.mode, "dr");
  assert.equal(lb.vip_method, "redirect");
  assert.equal(lb.router_id, "LVS_MASTER", "the same router_id on both: kept");
  assert.equal(lb.interface, "eth0");
  const vi = lb.vrrp_instances[0];
  assert.equal(vi.name, "VI_1");
  assert.equal(vi.virtual_router_id, 1);
  assert.deepEqual(vi.virtual_ipaddress, ["198.18.1.100/24"]);
  assert.equal(vi.bypass_ipvs, true);
  assert.equal(vi.hooks, undefined, "the bypass notify lines are the bypass_ipvs helper");
  assert.ok(vi.authentication.auth_pass instanceof SecretSlot);
  assert.equal(r.secrets.get("VI_1"), "hogehoge");
  assert.deepEqual(lb.services, [{
    name: "vs_80",
    vip: "198.18.1.100",
    port: 80,
    lb_algo: "rr",
    persistence_timeout: 50,
    delay_loop: 30,
    health_check: {
      type: "HTTP_GET",
      path: "/index.html",
      connect_timeout: 3,
      retry: 3, // nb_get_retry
      delay_before_retry: 2,
    },
  }]);
  // the keywords haplay does not model stay, raw, in global_defs
  assert.deepEqual(lb.global_defs.extra, [
    "notification_email {",
    "    notification@domain.org",
    "}",
    "notification_email_from keepalived@domain.org",
    "smtp_server localhost",
    "smtp_connect_timeout 30",
  ]);
  assert.deepEqual(r.hostVars.get("lb1"), { data_address: "198.18.1.82/24", vrrp_priority: 100 });
  assert.deepEqual(r.hostVars.get("lb2"), { data_address: "198.18.1.83/24", vrrp_priority: 50 });
  // what it could not keep is said: the slave's other mail sender, the root notify scripts
  assert.ok(r.notes.some((n) => /lb2: global_defs differs.*keepalived@mailinblack\.org/.test(n)));
  assert.ok(r.notes.some((n) => /enable_script_security: haplay writes it/.test(n)));
  assert.ok(r.notes.some((n) => /REDIRECT rule for 198\.18\.1\.100 is .*--dport 80/.test(n)));
  assert.equal(r.notes.filter((n) => /HTTP_GET without status_code: .*any 2xx/.test(n)).length, 1);
  assert.ok(!r.notes.some((n) => n.includes("hogehoge")), "no password in the notes");
});

Deno.test("import map: seed 003 (VRRP only, no virtual_server): mode vrrp-only, states from priorities", () => {
  const r = mapSetup([
    lbHost("lb1", "192.168.1.2", seed("003-master.conf")),
    lbHost("lb2", "192.168.1.3", seed("003-backup.conf")),
  ]);
  const lb = r.lb as Record<string, any>;
  assert.equal(lb.mode, "vrrp-only");
  assert.equal(lb.services, undefined);
  assert.deepEqual(lb.vrrp_instances[0].virtual_ipaddress, ["192.168.1.10"]);
  assert.equal(lb.vrrp_instances[0].virtual_router_id, 51);
  // MASTER 150 / BACKUP 100 is what haplay's "auto" gives: no vrrp_state written
  assert.deepEqual(r.hostVars.get("lb1"), { data_address: "192.168.1.2/24", vrrp_priority: 150 });
  assert.deepEqual(r.hostVars.get("lb2"), { data_address: "192.168.1.3/24", vrrp_priority: 100 });
  assert.equal(r.secrets.get("VI_1"), "1111");
});

Deno.test("import map: seed 000 (every LB BACKUP, notify scripts as hooks, state kept)", () => {
  const nodes = seed("000-keepalived.conf");
  const r = mapSetup([lbHost("app1", "10.0.0.2", nodes), lbHost("app2", "10.0.0.3", nodes)]);
  const vi = (r.lb as Record<string, any>).vrrp_instances[0];
  assert.equal(vi.state, "BACKUP", "both BACKUP in the config: state BACKUP, not auto");
  // no script_user: keepalived ran them as root; haplay runs them through exact sudoers lines
  assert.deepEqual(vi.hooks, {
    notify_master: [{ command: "/etc/keepalived/notify_master.sh", sudo: true }],
    notify_backup: [{ command: "/etc/keepalived/notify_backup.sh", sudo: true }],
  });
  assert.ok(r.notes.some((n) => /notify_master .* ran as root; .*sudo: true/.test(n)));
  assert.equal((r.lb as Record<string, any>).script_security, true);
});

const UNMODELLED = `
global_defs {
  router_id lb1
  vrrp_version 3
  vrrp_garp_master_refresh 60
  enable_script_security
  script_user keepalived_script
}
vrrp_script chk_haproxy {
  script "/usr/bin/killall -0 haproxy"
  interval 2
  weight -20
  init_fail
}
vrrp_track_file tf1 {
  file /run/lb-down
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 7
  priority 200
  garp_master_refresh 30
  virtual_ipaddress {
    198.18.9.100/24 dev eth0 label eth0:1
  }
  track_script {
    chk_haproxy weight 10
  }
  notify_master "/usr/local/bin/promote --now"
}
vrrp_instance VI_2 {
  state BACKUP
  interface eth0
  virtual_router_id 8
  priority 100
  virtual_ipaddress {
    198.18.9.101/24
  }
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
  notify "/usr/local/bin/sync-notify"
}
virtual_server_group web_group {
  198.18.9.100 80
}
virtual_server 198.18.9.100 443 {
  lb_kind NAT
  quorum 2
  sorry_server 198.18.9.50 443
  real_server 198.18.9.21 8443 {
    weight 3
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 4
      warmup 5
    }
  }
  real_server 198.18.9.99 8443 {
    weight 1
    MISC_CHECK {
      misc_path "/usr/local/bin/check web"
    }
  }
}
virtual_server fwmark 5 {
  lb_kind DR
  lb_algo wrr
  real_server 198.18.9.22 {
    TCP_CHECK {
      connect_port 80
    }
  }
}
virtual_server 198.18.9.100 25 {
  lb_kind TUN
  real_server 198.18.9.21 25 {
  }
}
`;

Deno.test("import map: keywords haplay does not model go under extra, in their block, or into the notes", () => {
  const lbFacts = facts("198.18.9.11", {
    mangle:
      "*mangle\n-A PREROUTING -d 198.18.9.100/32 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x5/0xffffffff\n",
  });
  const r = mapSetup([
    lbHost("lb1", "198.18.9.11", parse(UNMODELLED), lbFacts),
    realHost("web1", "198.18.9.21"),
    realHost("web2", "198.18.9.22"),
  ]);
  const lb = r.lb as Record<string, any>;
  assert.equal(lb.router_id, undefined, "router_id = the host's name: haplay's default");
  assert.deepEqual(lb.global_defs.extra, ["vrrp_version 3", "vrrp_garp_master_refresh 60"]);
  assert.equal(lb.script_user, undefined, "keepalived_script: haplay's default");
  assert.deepEqual(lb.vrrp_scripts, [{
    name: "chk_haproxy",
    script: "/usr/bin/killall -0 haproxy",
    interval: 2,
    weight: -20,
    extra: ["init_fail"],
  }]);
  const [vi1, vi2] = lb.vrrp_instances;
  assert.deepEqual(vi1.extra, ["garp_master_refresh 30"]);
  assert.deepEqual(vi1.virtual_ipaddress, [{
    address: "198.18.9.100/24",
    dev: "eth0",
    label: "eth0:1",
  }]);
  assert.deepEqual(vi1.track_scripts, [{ name: "chk_haproxy", weight: 10 }]);
  assert.deepEqual(vi1.hooks, { notify_master: ["/usr/local/bin/promote --now"] });
  assert.equal(vi2.extra, undefined);
  assert.deepEqual(lb.sync_groups, [{
    name: "G1",
    instances: ["VI_1", "VI_2"],
    extra: ["notify /usr/local/bin/sync-notify"],
  }]);
  assert.deepEqual(r.hostVars.get("lb1")!.vrrp_priority, { VI_1: 200, VI_2: 100 });
  assert.equal(r.hostVars.get("lb1")!.vrrp_state, undefined);
  assert.equal(vi2.state, "BACKUP", "its only LB starts BACKUP: state BACKUP");
  assert.equal(vi1.state, undefined, "MASTER with the highest priority: haplay's auto");
  const [nat, fw] = lb.services;
  assert.equal(lb.services.length, 2, "the TUN service is not mapped");
  assert.equal(nat.mode, "nat");
  assert.equal(nat.lb_algo, "wlc", "keepalived's default scheduler, written out");
  assert.equal(nat.delay_loop, 60, "keepalived's default delay_loop, written out");
  assert.equal(nat.real_port, 8443);
  assert.deepEqual(nat.extra, ["quorum 2", "sorry_server 198.18.9.50 443"]);
  assert.deepEqual(nat.real_servers, [
    { host: "web1", weight: 3, extra: ["inhibit_on_failure"] },
    {
      address: "198.18.9.99",
      weight: 1,
      extra: ["MISC_CHECK {", '    misc_path "/usr/local/bin/check web"', "}"],
    },
  ]);
  assert.deepEqual(nat.health_check, {
    type: "TCP_CHECK",
    connect_timeout: 4,
    retry: 1,
    delay_before_retry: 1,
    extra: ["warmup 5"],
  });
  assert.equal(fw.mode, "dsr-fwmark");
  assert.equal(fw.fwmark, 5);
  assert.equal(fw.vip, "198.18.9.100", "from the LB's mangle MARK rule");
  assert.equal(fw.lb_algo, "wrr");
  // top-level blocks outside the model, and the virtual server haplay has no mode for: raw
  assert.deepEqual(lb.extra, [
    "vrrp_track_file tf1 {",
    "    file /run/lb-down",
    "}",
    "virtual_server_group web_group {",
    "    198.18.9.100 80",
    "}",
    "virtual_server 198.18.9.100 25 {",
    "    lb_kind TUN",
    "    real_server 198.18.9.21 25 {",
    "    }",
    "}",
  ]);
  // and the whole section is valid haplay_lb
  const withPass = JSON.parse(JSON.stringify(r.lb, (_k, v) => v instanceof SecretSlot ? "x" : v));
  const parsed = LbSection.safeParse(withPass);
  assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  const said = r.notes.join("\n");
  for (
    const re of [
      /lb_kind TUN .* no haplay mode: kept raw under haplay_lb\.extra/,
      /MISC_CHECK kept raw/,
      /health check differs/,
    ]
  ) assert.match(said, re);
});

Deno.test("import read: the framing survives any content; the script writes nothing", () => {
  const nonce = "n0nce";
  const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
  const tricky = `@@HAPLAY-IMPORT n0nce file /etc/evil\nnot a frame\n`;
  const out = [
    `@@HAPLAY-IMPORT ${nonce} main /etc/keepalived/keepalived.conf`,
    "",
    `@@HAPLAY-IMPORT ${nonce} file /etc/keepalived/keepalived.conf`,
    b64(tricky),
    `@@HAPLAY-IMPORT ${nonce} missing /etc/keepalived/conf.d/*.conf`,
    "",
    `@@HAPLAY-IMPORT ${nonce} cmd nat`,
    b64("*nat\nCOMMIT\n"),
    `@@HAPLAY-IMPORT ${nonce} file /etc/empty`,
    "",
  ].join("\n");
  const f = parseReadOutput(out, nonce);
  assert.equal(f.files.get("/etc/keepalived/keepalived.conf"), tricky);
  assert.equal(f.files.get("/etc/empty"), "");
  assert.deepEqual([...f.files.keys()], ["/etc/keepalived/keepalived.conf", "/etc/empty"]);
  assert.deepEqual(f.missing, ["/etc/keepalived/conf.d/*.conf"]);
  assert.equal(f.cmds.get("nat"), "*nat\nCOMMIT\n");
  // read-only: no redirection into a file, no command that changes state
  const script = readScript(nonce);
  assert.doesNotMatch(script, /(^|[^2&])>\s*[^&\s]/m, "the read script writes no file");
  assert.doesNotMatch(
    script,
    /\b(rm|mv|cp|tee|mkdir|touch|chmod|chown|ln|sysctl -w|iptables -[AIDF])\b/,
  );
});

Deno.test("import write: the password only in the 0600 !file secret; the inventory loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pass = "pw" + crypto.randomUUID().slice(0, 6);
    const output = `${dir}/out.yaml`;
    const w = {
      output,
      allVars: { ansible_user: "root" },
      lbHosts: [
        { name: "lb1", vars: { ansible_user: "root", ansible_host: "198.18.9.11" } },
        { name: "lb2", vars: { ansible_user: "ops", ansible_host: "198.18.9.12" } },
      ],
      realHosts: [],
      lb: {
        mode: "vrrp-only",
        vrrp_instances: [{
          name: "VI_1",
          virtual_router_id: 9,
          authentication: { type: "PASS", auth_pass: new SecretSlot("VI_1") },
          virtual_ipaddress: ["198.18.9.100/24"],
        }],
      },
      hostVars: new Map([["lb1", { vrrp_priority: 150 }], ["lb2", { vrrp_priority: 100 }]]),
      secrets: new Map([["VI_1", pass]]),
      header: ["test"],
    };
    const text = inventoryYaml(w);
    assert.ok(!text.includes(pass));
    assert.match(text, /auth_pass: !file out\.VI_1\.auth_pass/);
    const r = await writeInventory(w);
    assert.deepEqual(r.secrets, [`${dir}/out.VI_1.auth_pass`]);
    assert.equal((await Deno.stat(r.secrets[0])).mode! & 0o777, 0o600);
    const inv = await loadInventory(output);
    const lb = inv.hosts.get("lb2")!.vars.haplay_lb as Record<string, any>;
    assert.equal(String(lb.vrrp_instances[0].authentication.auth_pass), pass);
    assert.equal(inv.hosts.get("lb2")!.vars.ansible_user, "ops", "connection vars kept");
    assert.equal(inv.hosts.get("lb1")!.vars.ansible_user, "root");
    assert.equal(inv.hosts.get("lb1")!.vars.vrrp_priority, 150);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("takeover: a hand-written DAEMON_ARGS with the wanted value is rewritten without a restart", () => {
  const t = daemonArgsTask("auto", ["restart keepalived"]);
  const existing = (text: string, mode = "644", owner = "root") =>
    `ipvs=0\nexists=1\ntype=file\nsha256=${"0".repeat(64)}\nowner=${owner}\ngroup=root\n` +
    `mode=${mode}\nuid=0\ngid=0\nsize=${text.length}\ncontent_b64=${btoa(text)}\nend=1\n`;
  const notifies = (facts: string) => {
    const p = t.plan(facts);
    assert.equal(p.kind, "change");
    return p.kind === "change" ? p.notify ?? t.notify : [];
  };
  const hand = '# hand-built\nDAEMON_ARGS="--vrrp"\n';
  assert.deepEqual(notifies(existing(hand)), [], "same options, other comments: no restart");
  assert.deepEqual(notifies(existing("DAEMON_ARGS='--vrrp'  # quoted\n")), []);
  for (
    const [what, facts] of [
      ["other options", existing('DAEMON_ARGS="--vrrp -D"\n')],
      ["no options (IPVS wanted off)", existing('DAEMON_ARGS=""\n')],
      ["commented out", existing('#DAEMON_ARGS="--vrrp"\n')],
      ["mode 0600", existing(hand, "600")],
      ["not root's", existing(hand, "644", "ops")],
    ]
  ) assert.deepEqual(notifies(facts), ["restart keepalived"], what);
  assert.equal(daemonArgsValue('A=1\nDAEMON_ARGS="-D  --vrrp"\n'), "-D --vrrp");
});

/**
 * A setup haplay deployed, imported: the same haplay_lb and host vars as the inventory it was
 * deployed from (a fixpoint), for the seeds' example inventories. The hosts' facts are what
 * haplay put there: keepalived.conf, its notify scripts, the data addresses, the REDIRECT rules.
 */
for (const seedName of ["001", "003", "004"]) {
  Deno.test(`import map: a haplay-deployed example ${seedName} maps back to its own inventory`, async () => {
    const inv = await loadExample(seedName);
    const [c] = allClusters(inv.hosts);
    const hosts: ImportHost[] = [];
    for (const [name, h] of inv.hosts) {
      const addr = String(h.vars.ansible_host);
      const prefix = String(h.vars.data_address ?? `${addr}/24`);
      const isLb = c.members.some((m) => m.name === name);
      const files: Record<string, string> = {};
      let nodes;
      const nat = c.services.filter((s) => s.vipMethod === "redirect" && s.cfg.vip)
        .map((s) =>
          `-A PREROUTING -d ${s.cfg.vip}/32 -p tcp -m tcp --dport ${s.cfg.port} -j REDIRECT`
        )
        .join("\n");
      if (isLb) {
        const r = renderKeepalived(c, name);
        for (const inst of c.cfg.vrrp_instances) {
          const steps = notifySteps(c, inst);
          for (const st of NOTIFY_STATES) {
            files[notifyScript(inst.name, st)] = notifyScriptText(
              inst.name,
              st,
              steps[st],
              "keepalived_script",
            );
          }
        }
        nodes = parse(r.main);
      }
      const f = facts(prefix.split("/")[0], isLb ? {} : { nat });
      const lo = c.services.filter((s) =>
        s.vipMethod === "lo" && s.cfg.vip && s.realServers.some((x) => x.host === name)
      ).map((s) => `1: lo    inet ${s.cfg.vip}/32 scope global lo`);
      f.cmds.set("addr", [...lo, `2: eth0    inet ${prefix} brd x scope global eth0`].join("\n"));
      for (const [k, v] of Object.entries(files)) f.files.set(k, v);
      if (isLb || h.groups.includes("real")) {
        hosts.push({ name, vars: h.vars, role: isLb ? "lb" : "real", facts: f, nodes });
      }
    }
    const r = mapSetup(hosts);
    const secretsBack = JSON.parse(
      JSON.stringify(r.lb, (_k, v) => v instanceof SecretSlot ? r.secrets.get(v.instance) : v),
    );
    // what no host shows: service names, vrrp-only services (nothing rendered); and VIPs past
    // the 20th, which the render moves to virtual_ipaddress_excluded
    const norm = (x: ReturnType<typeof LbSection.parse>) => ({
      ...x,
      mode: undefined,
      vip_method: undefined,
      // the effective mode and VIP method of each service, real servers as hosts
      services: x.services.filter((s) => (s.mode ?? x.mode) !== "vrrp-only")
        .map((s) => ({
          ...s,
          name: "",
          mode: s.mode ?? x.mode,
          vip_method: (s.mode ?? x.mode) === "dr" ? s.vip_method ?? x.vip_method : undefined,
          real_servers: (s.real_servers ?? [x.real_group]).flatMap((r) =>
            typeof r === "string" && inv.groups.has(r) ? inv.groups.get(r)!.hosts : [r]
          ),
        })),
      vrrp_instances: x.vrrp_instances.map((i) => ({
        ...i,
        virtual_ipaddress: [...i.virtual_ipaddress, ...i.virtual_ipaddress_excluded],
        virtual_ipaddress_excluded: [],
      })),
    });
    const want = norm(LbSection.parse(inv.hosts.get(c.owner)!.vars.haplay_lb));
    const got = norm(LbSection.parse(secretsBack));
    // auth_pass: keepalived uses 8 characters, the render writes those
    for (const i of want.vrrp_instances) {
      if (i.authentication) i.authentication.auth_pass = i.authentication.auth_pass.slice(0, 8);
    }
    // haplay's own render maps back without a note about it
    assert.ok(
      !r.notes.some((n) => /script_user|enable_script_security|bypass_ipvs\.sh/.test(n)),
      r.notes.join("\n"),
    );
    const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
    assert.deepEqual(plain(got), plain(want), r.notes.join("\n"));
    // and what haplay renders from the imported inventory is the same configuration: a deploy
    // after the re-import reloads nothing
    const dir = await Deno.makeTempDir();
    try {
      const output = `${dir}/imported.yaml`;
      const given = (n: string) => ({
        name: n,
        vars: { ansible_host: inv.hosts.get(n)!.vars.ansible_host },
      });
      await writeInventory({
        output,
        allVars: {},
        lbHosts: hosts.filter((h) => h.role === "lb").map((h) => given(h.name)),
        realHosts: hosts.filter((h) => h.role === "real").map((h) => given(h.name)),
        lb: r.lb,
        hostVars: r.hostVars,
        secrets: r.secrets,
        header: [],
      });
      const back = await loadInventory(output);
      const [c2] = allClusters(back.hosts);
      for (const m of c.members) {
        const d = semanticDiff(renderKeepalived(c, m.name).main, renderKeepalived(c2, m.name).main);
        assert.ok(d.same, `${m.name}: ${d.lines.join("; ")}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    for (const m of c.members) {
      const hv = r.hostVars.get(m.name)!;
      const v = inv.hosts.get(m.name)!.vars;
      assert.deepEqual(hv.vrrp_priority, v.vrrp_priority, `${m.name} priority`);
      assert.equal(hv.vrrp_state, v.vrrp_state, `${m.name} state`);
    }
  });
}

Deno.test("import map: seed 000 (the LBs are the real servers): same-box-dr, include followed", () => {
  const dir = "/etc/keepalived/";
  const files: Record<string, string> = {
    [`${dir}keepalived.conf`]: Deno.readTextFileSync(SEEDS + "000-keepalived.conf"),
    [`${dir}virtualserver-backup.conf`]: Deno.readTextFileSync(
      SEEDS + "000-virtualserver-master.conf",
    ),
  };
  const r0 = parseKeepalivedConf(files[`${dir}keepalived.conf`], {
    file: `${dir}keepalived.conf`,
    read: (p) => files[p],
  });
  assert.deepEqual(r0.errors, []);
  const r = mapSetup([
    lbHost("app1", "10.0.0.12", r0.nodes),
    lbHost("app2", "10.0.0.14", r0.nodes),
  ]);
  const lb = r.lb as Record<string, any>;
  assert.equal(lb.mode, "same-box-dr");
  assert.equal(lb.services[0].vip, "10.0.0.5");
  assert.deepEqual(lb.services[0].real_servers, ["app1", "app2"]);
  assert.equal(lb.services[0].health_check.connect_timeout, 10);
  assert.equal(lb.services[0].health_check.retry, 1, "keepalived's default, written out");
});

Deno.test("import CLI: usage, a bad inventory, an unreachable host: one line each, nothing written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out: string[] = [];
    const err: string[] = [];
    const main = (argv: string[]) => importMain(argv, (s) => out.push(s), (s) => err.push(s));
    assert.equal(await main([]), 4);
    assert.match(err.pop()!, /^usage: deno task import <inventory>/);
    assert.equal(await main(["a.yaml", "--timeout", "x"]), 4);
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      "all:\n  hosts:\n    lb1: { ansible_port: 99999 }\n",
    );
    assert.equal(await main([`${dir}/bad.yaml`]), 3);
    assert.match(err.join("\n"), /bad\.yaml:3:\d+ .*ansible_port/);
    err.length = 0;
    // nothing listens on 127.0.0.1:1: refused at once
    await Deno.writeTextFile(
      `${dir}/hosts.yaml`,
      "all:\n  children:\n    lb:\n      hosts:\n        lb1: { ansible_host: 127.0.0.1, ansible_port: 1 }\n",
    );
    assert.equal(await main([`${dir}/hosts.yaml`, "--timeout", "3"]), 1);
    assert.match(err[0], /^import: lb1: cannot read: /);
    assert.equal(err.at(-1), "import: nothing was written");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "bad.yaml",
      "hosts.yaml",
    ]);
    err.length = 0;
    assert.equal(await main([`${dir}/hosts.yaml`, "-o", `${dir}/hosts.yaml`]), 1);
    assert.match(err[0], /would overwrite the input inventory/);
    assert.equal(await main([`${dir}/hosts.yaml`, "--lb", "nosuch"]), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
