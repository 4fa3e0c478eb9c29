/**
 * connection_sync (keepalived's lvs_sync_daemon): its render, and every lint rule of
 * lb/lint_sync.ts with a failing and a passing case, on a clean two-director DR inventory.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import type { Issue } from "../../engine/inventory.ts";
import { lintLb, WRONG } from "../../lb/lint.ts";
import { lbClusterOf } from "../../lb/cluster.ts";
import { renderKeepalived } from "../../lb/keepalived_conf.ts";
import { inventoryFrom } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;

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
            connection_sync: {},
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

const lb = (d: Doc) => d.all.vars.haplay_lb;
const sync = (d: Doc) => lb(d).vrrp_instances[0].connection_sync;

async function inv(mut: (d: Doc) => void) {
  const d = base();
  mut(d);
  return await inventoryFrom(stringify(d), {});
}

async function lint(mut: (d: Doc) => void = () => {}): Promise<Issue[]> {
  return lintLb(await inv(mut));
}

/** Issues of a kind ("wrong": warnings starting with WRONG) matching `re`. */
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

function expectClean(issues: Issue[]) {
  const bad = issues.filter((i) =>
    i.severity === "error" || i.message.startsWith(WRONG) ||
    /sync/.test(i.message)
  );
  assert.deepEqual(bad.map((i) => i.message), []);
}

async function mainOf(mut: (d: Doc) => void, host: string): Promise<string> {
  const i = await inv(mut);
  return renderKeepalived(lbClusterOf(host, i.hosts)!, host).main;
}

Deno.test("connection_sync renders one lvs_sync_daemon line in global_defs (defaults: VRRP interface, vrid)", async () => {
  const lines = (s: string) => s.split("\n").filter((l) => l.includes("lvs_sync_daemon"));
  assert.deepEqual(lines(await mainOf(() => {}, "lb1")), ["    lvs_sync_daemon eth0 VI_1 id 51"]);
  assert.deepEqual(lines(await mainOf(() => {}, "lb2")), ["    lvs_sync_daemon eth0 VI_1 id 51"]);
  const full = await mainOf((d) => {
    lb(d).vrrp_instances[0].connection_sync = {
      interface: "eth0",
      id: 7,
      maxlen: 1400,
      port: 8850,
      ttl: 2,
      group: "224.0.0.90",
    };
    d.all.children.lb.hosts.lb2.vrrp_interface = "ens4";
  }, "lb2");
  assert.deepEqual(lines(full), [
    "    lvs_sync_daemon eth0 VI_1 id 7 maxlen 1400 port 8850 ttl 2 group 224.0.0.90",
  ]);
  // the per-host VRRP interface is the default sync interface
  const own = await mainOf((d) => (d.all.children.lb.hosts.lb2.vrrp_interface = "ens4"), "lb2");
  assert.deepEqual(lines(own), ["    lvs_sync_daemon ens4 VI_1 id 51"]);
  assert.deepEqual(
    lines(await mainOf((d) => delete lb(d).vrrp_instances[0].connection_sync, "lb1")),
    [],
  );
});

Deno.test("lint sync: the base inventory with connection_sync is clean", async () => {
  expectClean(await lint());
});

Deno.test("lint sync: schema: id 0-255, maxlen 1-65507", async () => {
  const bad = await lint((d) => Object.assign(sync(d), { id: 256, maxlen: 70000 }));
  assert.ok(
    bad.some((i) => i.severity === "error" && i.path.endsWith("connection_sync.id")),
    JSON.stringify(bad),
  );
  assert.ok(bad.some((i) => i.severity === "error" && i.path.endsWith("connection_sync.maxlen")));
  expectClean(await lint((d) => Object.assign(sync(d), { id: 0, maxlen: 1472 })));
});

Deno.test("lint sync: one sync daemon per director (one instance, no raw lvs_sync_daemon)", async () => {
  const two = (s: boolean) => (d: Doc) =>
    lb(d).vrrp_instances.push({
      name: "VI_2",
      virtual_router_id: 52,
      unicast: true,
      virtual_ipaddress: ["198.18.5.101/24"],
      ...(s ? { connection_sync: {} } : {}),
    });
  const i = expectOne(await lint(two(true)), "error", /connection_sync on VI_2 and on VI_1/);
  assert.match(i.path, /vrrp_instances\[1\]\.connection_sync$/);
  expectClean(await lint(two(false)));
  expectOne(
    await lint((d) => (lb(d).global_defs = { extra: ["lvs_sync_daemon eth0 VI_1"] })),
    "error",
    /raw lvs_sync_daemon line competes/,
  );
  const other = await lint((d) => (lb(d).global_defs = { extra: ["vrrp_garp_interval 1"] }));
  assert.deepEqual(find(other, "error", /lvs_sync_daemon/), []);
});

Deno.test("lint sync: nothing to sync without an LVS virtual server", async () => {
  expectOne(
    await lint((d) => (lb(d).services[0].mode = "vrrp-only")),
    "wrong",
    /connection_sync without an LVS virtual server/,
  );
  expectClean(await lint());
});

Deno.test("lint sync: the sync interface must be a VRRP interface of each director", async () => {
  const i = expectOne(
    await lint((d) => (sync(d).interface = "eth1")),
    "warning",
    /lb1: connection_sync interface eth1 is none of its VRRP interfaces \(eth0\)/,
  );
  assert.match(i.path, /connection_sync\.interface$/);
  // lb2's VRRP runs on ens4: syncing over the section's eth0 is a guess for lb2 only
  const one = await lint((d) => {
    sync(d).interface = "eth0";
    d.all.children.lb.hosts.lb2.vrrp_interface = "ens4";
  });
  expectOne(one, "warning", /lb2: connection_sync interface eth0 is none of its VRRP interfaces/);
  assert.deepEqual(find(one, "warning", /lb1: connection_sync interface/), []);
  expectClean(await lint((d) => (sync(d).interface = "eth0")));
});

Deno.test("lint sync: sync messages must fit the MTU", async () => {
  expectOne(
    await lint((d) => (sync(d).maxlen = 1500)),
    "wrong",
    /sync messages of 1500 bytes .* exceed the MTU 1500.*maxlen to 1472/,
  );
  // a 1450-byte overlay MTU: the kernel's default 1472-byte messages do not fit
  const i = expectOne(
    await lint((d) => (sync(d).mtu = 1450)),
    "wrong",
    /sync messages of 1472 bytes .* exceed the MTU 1450.*maxlen to 1422/,
  );
  assert.match(i.path, /connection_sync\.mtu$/);
  expectClean(await lint((d) => Object.assign(sync(d), { mtu: 1450, maxlen: 1422 })));
  expectClean(await lint((d) => Object.assign(sync(d), { mtu: 9000, maxlen: 8972 })));
});

Deno.test("lint sync: both directors of a pair sync with the same id", async () => {
  // a host-level haplay_lb with another sync id: the BACKUP would drop the MASTER's messages
  const issues = await lint((d) => {
    const own = structuredClone(lb(d));
    own.vrrp_instances[0].connection_sync = { id: 9 };
    d.all.children.lb.hosts.lb2.haplay_lb = own;
  });
  expectOne(issues, "wrong", /lb2's haplay_lb differs from lb1's/);
  expectClean(await lint());
});

Deno.test("lint sync: two pairs on one segment need different sync ids", async () => {
  const two = (idB?: number) => (d: Doc) => {
    const pair = (p: string, vrid: number, id?: number) => ({
      vars: {
        haplay_lb: {
          lb_group: p,
          vrrp_instances: [{
            name: "VI_1",
            virtual_router_id: vrid,
            unicast: true,
            virtual_ipaddress: [`198.18.5.${p === "pa" ? 100 : 101}/24`],
            connection_sync: id === undefined ? {} : { id },
          }],
          services: [{
            name: "web",
            vip: `198.18.5.${p === "pa" ? 100 : 101}`,
            port: 80,
            real_servers: ["web1"],
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
    d.all.children = {
      pa: pair("pa", 51),
      pb: pair("pb", 52, idB),
      real: { hosts: { web1: { ansible_host: "198.18.5.13" } } },
    };
  };
  const i = expectOne(
    await lint(two(51)),
    "error",
    /connection_sync id 51 is also the sync id of group pa on the same segment/,
  );
  assert.match(i.path, /connection_sync\.id$/);
  // the default id is each instance's virtual_router_id: distinct where VRRP is correct
  assert.deepEqual(find(await lint(two()), "error", /sync id/), []);
  assert.deepEqual(find(await lint(two(60)), "error", /sync id/), []);
});
