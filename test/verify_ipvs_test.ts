/**
 * verify's kernel IPVS table check, pure: `/proc/net/ip_vs` text parsed, the virtual servers the
 * data-path inventories render (NAT, DR lo, DR REDIRECT, DSR fwmark with real servers at :0,
 * same-box DR), and the judgement of a director's table: as rendered, real servers down
 * (removed, or inhibited at weight 0) and drained (drain file) reported but not failed, every
 * mismatch failed, no IPVS a note. Tables are written in the kernel's own format
 * (`ip_vs_info_seq_show`: hex addresses and ports, IPv6 uncompressed), not yet recorded: the VM
 * lab did not boot under this session's load; test/verify_ipvs_record.ts records real ones.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { VerifyCheck } from "../engine/playbook_types.ts";
import { loadInventory } from "../engine/inventory.ts";
import { allClusters, type Cluster } from "../lb/cluster.ts";
import { canonicalIpv6, parseIpVs } from "../lb/status_script.ts";
import { ipvsTableChecks, wantedVirtualServers } from "../lb/verify_ipvs.ts";
import { isDrained } from "../lb/_drain_files.ts";
import { ipvsChecks, parseFacts } from "../lb/verify_script.ts";

const INV = fileURLToPath(new URL("./datapath/inventories/", import.meta.url));

async function cluster(file: string): Promise<Cluster> {
  const inv = await loadInventory(`${INV}${file}`, { env: { HAPLAY_VRRP_PASS: "pw" } });
  const c = allClusters(inv.hosts)[0];
  // the tables below are the web service's; the line-echo service on :7000 (the data path's
  // long-lived connections through a failover) is left out of them
  return { ...c, services: c.services.filter((s) => s.cfg.port !== 7000) };
}

const HEAD = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn`;

/** NAT (nat.yaml): 198.18.11.100:80 rr, web1 .13 and web2 .14 masqueraded. */
const NAT = `${HEAD}
TCP  C6120B64:0050 rr 
  -> C6120A0D:0050      Masq    1      0          10        
  -> C6120A0E:0050      Masq    1      1          9         `;

/** DSR fwmark (dsr-fwmark.yaml): fwmark 1, real servers :0 (keepalived clears their ports). */
const FWM = `${HEAD}
FWM  00000001 rr 
  -> C6120A0D:0000      Route   1      0          6         
  -> C6120A0E:0000      Route   1      0          4         `;

/** Same-box DR MASTER (same-box-dr.yaml): 198.18.10.5:8000 to both directors. */
const SAME_BOX = `${HEAD}
TCP  C6120A05:1F40 rr 
  -> C6120A0B:1F40      Route   1      0          3         
  -> C6120A0C:1F40      Route   1      0          3         `;

const lines = (t: string) => t.split("\n");
const judge = (host: string, master?: string) => ({
  host,
  isMaster: () => master === undefined ? undefined : master === host,
});
const failed = (cs: VerifyCheck[]) => cs.filter((c) => !c.ok);

Deno.test("ipvs parse: services, flags, real servers; IPv6 in RFC 5952 form", () => {
  assert.deepEqual(parseIpVs(lines(NAT)), [{
    protocol: "TCP",
    address: "198.18.11.100",
    port: 80,
    scheduler: "rr",
    dests: [
      { address: "198.18.10.13", port: 80, forward: "Masq", weight: 1, active: 0, inactive: 10 },
      { address: "198.18.10.14", port: 80, forward: "Masq", weight: 1, active: 1, inactive: 9 },
    ],
  }]);
  const six = parseIpVs(lines(`${HEAD}
TCP  [2001:0db8:0000:0000:0000:0000:0000:0064]:0050 wlc persistent 300 00000080
  -> [2001:0db8:0000:0000:0000:0000:0001:000d]:0050      Route   2      0          0         
UDP  C6120B64:0035 sh ops 
FWM  0000000A lc persistent 60 FFFFFFFF
  -> C6120A0D:0000      Tunnel  1      0          0         `));
  assert.deepEqual(six.map((s) => [s.protocol, s.address, s.port, s.scheduler, s.persistent]), [
    ["TCP", "2001:db8::64", 80, "wlc", 300],
    ["UDP", "198.18.11.100", 53, "sh", undefined],
    ["FWM", "10", undefined, "lc", 60],
  ]);
  assert.equal(six[0].dests[0].address, "2001:db8::1:d");
  assert.equal(six[1].onePacket, true);
  assert.equal(six[2].dests[0].forward, "Tunnel");
  assert.deepEqual(parseIpVs(lines(HEAD)), [], "IPVS loaded, no virtual servers");
  for (
    const [a, b] of [
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["0000:0000:0000:0000:0000:0000:0000:0000", "::"],
      ["2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:0DB8:0000:0001:0001:0001:0001:0001", "2001:db8:0:1:1:1:1:1"],
      ["2001:db8::1", "2001:db8::1"],
    ]
  ) assert.equal(canonicalIpv6(a), b, a);
});

Deno.test("ipvs wanted: what the five data-path inventories render", async () => {
  const pick = (w: ReturnType<typeof wantedVirtualServers>) =>
    w.map((v) => [
      v.protocol,
      v.address,
      v.port,
      v.scheduler,
      v.forward,
      v.dests.map((d) => `${d.host}=${d.address}:${d.port ?? "*"}/${d.weight}`).join(" "),
      v.masterOnly,
    ]);
  assert.deepEqual(pick(wantedVirtualServers(await cluster("nat.yaml"))), [
    [
      "TCP",
      "198.18.11.100",
      80,
      "rr",
      "Masq",
      "web1=198.18.10.13:80/1 web2=198.18.10.14:80/1",
      undefined,
    ],
  ]);
  assert.deepEqual(pick(wantedVirtualServers(await cluster("dr-lo.yaml"))).map((v) => v[4]), [
    "Route",
  ]);
  assert.deepEqual(pick(wantedVirtualServers(await cluster("dr-redirect.yaml"))), [
    [
      "TCP",
      "198.18.10.101",
      80,
      "rr",
      "Route",
      "web1=198.18.10.13:80/1 web2=198.18.10.14:80/1",
      undefined,
    ],
  ]);
  assert.deepEqual(pick(wantedVirtualServers(await cluster("dsr-fwmark.yaml"))), [
    [
      "FWM",
      "1",
      undefined,
      "rr",
      "Route",
      "web1=198.18.10.13:*/1 web2=198.18.10.14:*/1",
      undefined,
    ],
  ]);
  assert.deepEqual(pick(wantedVirtualServers(await cluster("same-box-dr.yaml"))), [
    [
      "TCP",
      "198.18.10.5",
      8000,
      "rr",
      "Route",
      "lb1=198.18.10.11:8000/1 lb2=198.18.10.12:8000/1",
      "LVS_SETTINGS",
    ],
  ]);
});

Deno.test("ipvs table: each data-path mode's table as rendered, on MASTER and BACKUP", async () => {
  for (
    const [file, table] of [
      ["nat.yaml", NAT],
      ["dr-redirect.yaml", NAT.replace("C6120B64", "C6120A65").replaceAll("Masq", "Route")],
      ["dsr-fwmark.yaml", FWM],
    ] as const
  ) {
    const c = await cluster(file);
    for (const host of ["lb1", "lb2"]) {
      const cs = ipvsTableChecks(c, judge(host, "lb1"), parseIpVs(lines(table)));
      assert.deepEqual(failed(cs), [], `${file} ${host}`);
      assert.equal(cs.length, 2, "one check per virtual server, one for the rest of the table");
      assert.match(cs[0].detail, /as rendered; web1 up \(weight 1, \d+\/\d+ conns\); web2 up/);
    }
  }
  // same-box DR: the MASTER has the virtual server, the BACKUP must not (a loop)
  const sb = await cluster("same-box-dr.yaml");
  assert.deepEqual(
    failed(ipvsTableChecks(sb, judge("lb1", "lb1"), parseIpVs(lines(SAME_BOX)))),
    [],
  );
  const backupOk = ipvsTableChecks(sb, judge("lb2", "lb1"), parseIpVs(lines(HEAD)));
  assert.deepEqual(failed(backupOk), []);
  assert.match(backupOk[0].detail, /not loaded on this BACKUP of LVS_SETTINGS/);
  const backupBad = ipvsTableChecks(sb, judge("lb2", "lb1"), parseIpVs(lines(SAME_BOX)));
  assert.equal(failed(backupBad).length, 1);
  assert.match(failed(backupBad)[0].detail, /loaded on this BACKUP .* loop/);
  const missing = ipvsTableChecks(sb, judge("lb1", "lb1"), parseIpVs(lines(HEAD)));
  assert.match(
    failed(missing)[0].detail,
    /app \(TCP 198\.18\.10\.5:8000\): missing from the kernel/,
  );
  // the MASTER's own address shown as Local is the same DR real server
  assert.deepEqual(
    failed(ipvsTableChecks(
      sb,
      judge("lb1", "lb1"),
      parseIpVs(
        lines(SAME_BOX.replace("C6120A0B:1F40      Route  ", "C6120A0B:1F40      Local  ")),
      ),
    )),
    [],
  );
});

Deno.test("ipvs table: down and drained are reported, not failed; mismatches fail", async () => {
  const c = await cluster("nat.yaml");
  const check = (table: string, drains: string[] = []) =>
    ipvsTableChecks(c, judge("lb1", "lb1"), parseIpVs(lines(table)), drains);
  // web2 removed by keepalived's health check
  const down = check(NAT.split("\n").filter((l) => !l.includes("C6120A0E")).join("\n"));
  assert.deepEqual(failed(down), []);
  assert.match(down[0].detail, /web2 down \(not in the table: removed by its health check\)/);
  // web1 at weight 0 with a drain file (deno task drain): drained
  const w0 = NAT.replace("Masq    1      0 ", "Masq    0      0 ");
  const drained = check(w0, ["haplay-drain-198.18.10.13.conf"]);
  assert.deepEqual(failed(drained), []);
  assert.match(drained[0].detail, /web1 drained \(weight 0, configured 1: drain file/);
  // ...without one: a weight nobody configured
  const byHand = check(w0);
  assert.match(failed(byHand)[0].detail, /web1 weight 0, configured 1 \(no drain file/);
  assert.match(
    failed(check(NAT.replace("Masq    1      0 ", "Masq    3      0 ")))[0].detail,
    /web1 weight 3, configured 1/,
  );
  // scheduler, forwarding method, persistence
  assert.match(failed(check(NAT.replace(" rr ", " wlc ")))[0].detail, /scheduler wlc, rendered rr/);
  assert.match(
    failed(check(NAT.replace("C6120A0D:0050      Masq", "C6120A0D:0050      Route")))[0].detail,
    /web1 forwarding Route, rendered Masq/,
  );
  assert.match(
    failed(check(NAT.replace(" rr ", " rr persistent 300 FFFFFFFF")))[0].detail,
    /persistence 300, rendered off/,
  );
  // a real server and a virtual server the inventory does not render
  const stray = check(`${NAT}\n  -> C6120A63:0050      Masq    1      0          0`);
  assert.match(
    failed(stray)[0].detail,
    /198\.18\.10\.99:80 \(weight 1\) in the table but not in the inventory/,
  );
  const extra = check(
    `${NAT}\nUDP  C6120B64:0035 rr \n  -> C6120A0D:0035      Masq    1      0          0`,
  );
  assert.deepEqual(failed(extra).map((x) => x.detail), [
    "virtual servers in the kernel's table that the inventory does not render: UDP 198.18.11.100:53",
  ]);
  // the virtual server is missing altogether
  assert.match(failed(check(HEAD))[0].detail, /web-http \(TCP 198\.18\.11\.100:80\): missing/);
});

Deno.test("ipvs table: no IPVS is a note; inhibit_on_failure, sorry server, vrrp-only", async () => {
  const c = await cluster("nat.yaml");
  const none = ipvsTableChecks(c, judge("lb1", "lb1"), undefined);
  assert.deepEqual(none, [{
    host: "lb1",
    check: "IPVS table",
    ok: true,
    detail: "kernel has no IPVS: table not checked",
  }]);
  const svc = c.services[0];
  const inhibited: Cluster = {
    ...c,
    services: [{
      ...svc,
      cfg: {
        ...svc.cfg,
        inhibit_on_failure: true,
        sorry_server: { address: "198.18.10.50", port: 80 },
      },
    }],
  };
  const w0 = NAT.replace("Masq    1      0 ", "Masq    0      0 ");
  const inh = ipvsTableChecks(inhibited, judge("lb1", "lb1"), parseIpVs(lines(w0)));
  assert.deepEqual(failed(inh), []);
  assert.match(inh[0].detail, /web1 down \(weight 0: inhibit_on_failure/);
  const sorry = ipvsTableChecks(
    inhibited,
    judge("lb1", "lb1"),
    parseIpVs(
      lines(`${HEAD}\nTCP  C6120B64:0050 rr \n  -> C6120A32:0050      Masq    1      0          0`),
    ),
  );
  assert.deepEqual(failed(sorry), []);
  assert.match(
    sorry[0].detail,
    /web1 down .*web2 down .*sorry server 198\.18\.10\.50:80 in the table/,
  );
  const off: Cluster = { ...c, cfg: { ...c.cfg, ipvs: false } };
  assert.match(ipvsTableChecks(off, judge("lb1"), parseIpVs(lines(NAT)))[0].detail, /ipvs: false/);
  const vrrpOnly: Cluster = { ...c, services: [{ ...svc, mode: "vrrp-only" }] };
  assert.deepEqual(ipvsTableChecks(vrrpOnly, judge("lb1"), parseIpVs(lines(NAT))), []);
});

Deno.test("ipvs drain files: by address or host, file or directory entry", () => {
  assert.ok(isDrained(["haplay-drain-198.18.10.13.conf"], "198.18.10.13"));
  assert.ok(!isDrained(["haplay-drain-198.18.10.13.conf"], "198.18.10.1"));
  assert.ok(!isDrained(["haplay-drain-198.18.10.130.conf"], "198.18.10.13"));
  // only the name drain writes counts: a host name or another spelling is not a drain
  assert.ok(!isDrained(["web1"], "198.18.10.13"));
  assert.ok(!isDrained(["web_198.18.10.13"], "198.18.10.13"));
  assert.ok(!isDrained(["haplay-drain-198.18.10.13"], "198.18.10.13"));
  assert.ok(isDrained(["haplay-drain-2001:db8::d.conf"], "2001:db8::d"));
  assert.ok(!isDrained([], "198.18.10.13"));
});

Deno.test("ipvs verify facts: the verify script's ipvs= and drain= lines, judged per director", async () => {
  const c = await cluster("same-box-dr.yaml");
  const facts = (addr: string[], table: string | undefined) =>
    parseFacts(
      [
        ...addr.map((a) => `addr=${a}`),
        ...(table === undefined ? ["ipvs_none=1"] : lines(table).map((l) => `ipvs=${l}`)),
        "end=1",
      ].join("\n"),
    );
  const both = new Map([
    ["lb1", facts(["eth0 198.18.10.11/24", "eth0 198.18.10.5/32", "lo 198.18.10.5/32"], SAME_BOX)],
    ["lb2", facts(["eth0 198.18.10.12/24", "lo 198.18.10.5/32"], HEAD)],
  ]);
  const cs = ipvsChecks(c, both);
  assert.deepEqual(failed(cs), []);
  assert.deepEqual(cs.map((x) => x.host), ["lb1", "lb1", "lb2", "lb2"]);
  // the BACKUP still loads it (the notify's reload did not happen): failed there
  const stale = new Map([...both, ["lb2", facts(["eth0 198.18.10.12/24"], SAME_BOX)]]);
  assert.deepEqual(failed(ipvsChecks(c, stale)).map((x) => x.host), ["lb2"]);
  // namespace lab: no IPVS anywhere, one note per director
  const none = new Map([["lb1", facts([], undefined)], ["lb2", facts([], undefined)]]);
  assert.deepEqual(ipvsChecks(c, none).map((x) => [x.host, x.ok, x.detail]), [
    ["lb1", true, "kernel has no IPVS: table not checked"],
    ["lb2", true, "kernel has no IPVS: table not checked"],
  ]);
});
