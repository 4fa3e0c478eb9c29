/**
 * The pure parts of `deno task drain` / `undrain` / `maintenance`: the command line, which real
 * server or director an argument names (and the one-line errors), the refusals, the connection
 * counts read from the directors' IPVS tables, the VIP judgements the waits use, and the
 * importer dropping haplay's own hooks.
 */
import assert from "node:assert/strict";
import { parseOpsArgs } from "../engine/lb_ops_cli.ts";
import {
  drainCounts,
  drainLine,
  drainProblem,
  lbClusters,
  resolveRealServer,
} from "../lb/drain.ts";
import {
  awayLook,
  backLook,
  maintenanceProblem,
  peerProblem,
  resolveDirector,
} from "../lb/maintenance.ts";
import { buildStatus } from "../lb/status.ts";
import { type DirectorFacts, parseIpVs } from "../lb/status_script.ts";
import { withoutHaplayOps } from "../lb/drain_nodes.ts";
import { parseKeepalivedConf } from "../lb/keepalived_parse.ts";
import { renderKeepalived } from "../lb/keepalived_conf.ts";
import { allClusters } from "../lb/cluster.ts";
import { drainFile, drainInclude } from "../lb/paths.ts";
import { loadExample } from "./roles/_fixtures.ts";

Deno.test("ops args: commands, positionals, on|off, --wait and usage errors", () => {
  const ok = parseOpsArgs(["drain", "inv.yaml", "web1", "--wait", "5", "--json"]);
  assert.ok(ok.ok);
  assert.deepEqual([ok.args.cmd, ok.args.target, ok.args.waitS, ok.args.json], [
    "drain",
    "web1",
    5,
    true,
  ]);
  const m = parseOpsArgs(["maintenance", "inv.yaml", "lb1", "off"]);
  assert.ok(m.ok);
  assert.equal(m.args.on, false);
  assert.equal(m.args.waitS, 30);
  const err = (argv: string[]) => {
    const r = parseOpsArgs(argv);
    assert.ok(!r.ok);
    return r.error;
  };
  assert.equal(
    err(["drain", "inv.yaml"]),
    "drain: expected <inventory> <real-server>, got 1 argument",
  );
  assert.match(err(["maintenance", "inv.yaml", "lb1"]), /expected <inventory> <director> on\|off/);
  assert.match(err(["maintenance", "i", "lb1", "up"]), /must be on or off, got "up"/);
  assert.match(err(["drain", "i", "w", "--wait", "soon"]), /^--wait: expected a number/);
  assert.match(err(["undrain", "i", "w", "--wait", "3"]), /--wait is for drain/);
  assert.match(err(["drain", "i", "w", "--bogus"]), /bogus/);
  assert.match(err(["drian", "i", "w"]), /unknown command "drian"/);
});

Deno.test("drain: a real server by host name or address; unknown names list the known ones", async () => {
  const inv = await loadExample("001");
  const cs = lbClusters(inv.hosts, "001.yaml");
  assert.ok(cs.ok);
  const t = resolveRealServer(cs.value, "web1");
  assert.ok(t.ok);
  assert.equal(t.value.address, "198.18.1.13");
  assert.deepEqual(t.value.directors, ["lb1", "lb2"]);
  assert.deepEqual(t.value.services.map((s) => [s.name, s.port, s.weight]), [["web", 80, 1]]);
  const byAddr = resolveRealServer(cs.value, "198.18.1.14");
  assert.ok(byAddr.ok);
  assert.equal(byAddr.value.host, "web2");
  const bad = resolveRealServer(cs.value, "lb1");
  assert.ok(!bad.ok);
  assert.equal(
    bad.error,
    "real-server: 'lb1' is not a real server of any service (real servers: web1, web2)",
  );
  assert.equal(drainProblem(cs.value, t.value), undefined);
  const noLb = lbClusters(new Map(), "plain.yaml");
  assert.ok(!noLb.ok);
  assert.match(noLb.error, /^plain\.yaml: not a load-balancer inventory/);
});

Deno.test("drain: refused when it would leave a service without weight", async () => {
  const inv = await loadExample("001");
  const cs = allClusters(inv.hosts);
  // web2 at weight 0 in the configuration: draining web1 would leave nothing
  const svc = cs[0].services[0];
  svc.realServers[1] = { ...svc.realServers[1], weight: 0 };
  const t = resolveRealServer(cs, "web1");
  assert.ok(t.ok);
  assert.match(drainProblem(cs, t.value)!, /would leave service web with no real server/);
});

const IPVS = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C6120164:0050 rr persistent 50
  -> C612010E:0050      Route   1      4          7
  -> C612010D:0050      Route   0      3          12`;

function facts(ipvs: string | undefined, addrs: string[], state: string): DirectorFacts {
  return {
    keepalived: { running: true, pid: 10, children: 1, enabled: "enabled" },
    instances: [{ name: "VI_1", state, vrid: 1, priority: 100, effectivePriority: 100 }],
    addresses: addrs,
    ipvs: ipvs === undefined ? undefined : parseIpVs(ipvs.split("\n")),
    drains: [],
  };
}

Deno.test("drain: connection counts of the real server summed over the directors' tables", async () => {
  const inv = await loadExample("001");
  const cs = allClusters(inv.hosts);
  const t = resolveRealServer(cs, "web1");
  assert.ok(t.ok);
  const r = buildStatus(
    inv.hosts,
    new Map([
      ["lb1", facts(IPVS, ["eth0 198.18.1.100/24"], "MASTER")],
      ["lb2", facts(IPVS.replace(/ 3 {10}12/, " 1          2"), [], "BACKUP")],
    ]),
  );
  const c = drainCounts(r, t.value);
  assert.deepEqual([c.active, c.inactive, c.counted], [4, 14, true]);
  assert.equal(
    drainLine(t.value, c, 3.2),
    "drain web1: 4 active, 14 inactive connections (lb1 3/12, lb2 1/2) after 3 s",
  );
  const none = drainCounts(
    buildStatus(
      inv.hosts,
      new Map<string, DirectorFacts | string>([
        ["lb1", facts(undefined, [], "MASTER")],
        ["lb2", "timeout"],
      ]),
    ),
    t.value,
  );
  assert.equal(none.counted, false);
  assert.deepEqual(none.directors.map((d) => d.note), [
    "kernel has no IPVS: connections not counted",
    "unreachable",
  ]);
});

Deno.test("maintenance: director names, static refusals, live peer health and VIP judgements", async () => {
  const inv = await loadExample("001");
  const cs = allClusters(inv.hosts);
  const bad = resolveDirector(cs, "web1");
  assert.ok(!bad.ok);
  assert.equal(
    bad.error,
    "director: 'web1' is not a load balancer of this inventory (directors: lb1, lb2)",
  );
  const t = resolveDirector(cs, "lb1");
  assert.ok(t.ok);
  assert.deepEqual(t.value.peers, ["lb2"]);
  assert.equal(maintenanceProblem(t.value), undefined);
  assert.match(
    maintenanceProblem({ ...t.value, peers: [] })!,
    /has no peer director: its VIPs have nowhere to go/,
  );
  const vip = ["eth0 198.18.1.100/24"];
  const serving = buildStatus(
    inv.hosts,
    new Map([["lb1", facts(undefined, vip, "MASTER")], ["lb2", facts(undefined, [], "BACKUP")]]),
  );
  assert.equal(peerProblem(serving, t.value), undefined);
  assert.equal(awayLook(serving, t.value).done, false);
  assert.equal(backLook(serving, t.value).done, true);
  const moved = buildStatus(
    inv.hosts,
    new Map([["lb1", facts(undefined, [], "BACKUP")], ["lb2", facts(undefined, vip, "MASTER")]]),
  );
  assert.deepEqual(awayLook(moved, t.value), { done: true, detail: "VI_1: lb2" });
  assert.equal(backLook(moved, t.value).done, false, "lb1 is the configured MASTER");
  const both = buildStatus(
    inv.hosts,
    new Map([["lb1", facts(undefined, vip, "BACKUP")], ["lb2", facts(undefined, vip, "MASTER")]]),
  );
  assert.deepEqual(awayLook(both, t.value), { done: false, detail: "VI_1: lb1+lb2" });
  const peerDown = buildStatus(
    inv.hosts,
    new Map<string, DirectorFacts | string>([
      ["lb1", facts(undefined, vip, "MASTER")],
      ["lb2", {
        ...facts(undefined, [], "BACKUP"),
        keepalived: { running: false, children: 0, enabled: "enabled" },
      }],
    ]),
  );
  assert.match(
    peerProblem(peerDown, t.value)!,
    /^refused: no healthy peer to take lb1's VIPs \(lb2 keepalived not running\)/,
  );
  const unreachable = buildStatus(
    inv.hosts,
    new Map<string, DirectorFacts | string>([["lb1", facts(undefined, vip, "MASTER")], [
      "lb2",
      "connect timeout",
    ]]),
  );
  assert.match(peerProblem(unreachable, t.value)!, /lb2 unreachable \(connect timeout\)/);
});

Deno.test("render + import: the drain include and maintenance track are haplay's, dropped on import", async () => {
  const inv = await loadExample("001");
  const c = allClusters(inv.hosts)[0];
  const main = renderKeepalived(c, "lb1").main;
  assert.ok(main.includes(`include ${drainInclude("198.18.1.13")}`));
  assert.match(
    main,
    /vrrp_track_file haplay_maintenance \{\n {4}file \/etc\/keepalived\/haplay-maintenance\n {4}weight -253\n\}/,
  );
  assert.match(main, /track_file \{\n {8}haplay_maintenance\n {4}\}/);
  // parsed with web1's drain file present: its weight 0 is spliced in, then dropped again
  const files = new Map([[drainFile("198.18.1.13"), "weight 0\n"]]);
  const parsed = parseKeepalivedConf(main, {
    file: "/etc/keepalived/keepalived.conf",
    read: (p) => files.get(p),
    glob: (p) => [...files.keys()].filter((f) => f === p.replace("[f]", "f")),
  });
  assert.deepEqual(parsed.errors, []);
  const drained: string[] = [];
  const nodes = withoutHaplayOps(parsed.nodes, drained);
  assert.deepEqual(drained, ["198.18.1.13"]);
  const text = JSON.stringify(nodes);
  assert.doesNotMatch(text, /haplay_maintenance|haplay-drain/);
  const rs = nodes.find((n) => n.key === "virtual_server")!.children!
    .filter((n) => n.key === "real_server");
  assert.deepEqual(
    rs.map((r) => r.children!.filter((x) => x.key === "weight").map((x) => x.args[0])),
    [["1"], ["1"]],
  );
  const vi = nodes.find((n) => n.key === "vrrp_instance")!;
  assert.ok(!vi.children!.some((n) => n.key === "track_file"), "empty track_file dropped");
});
