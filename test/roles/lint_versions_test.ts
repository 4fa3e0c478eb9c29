/** Lint's keepalived-version rules (lb/lint_versions.ts), on inventories built from YAML. */
import assert from "node:assert/strict";
import { lintLb } from "../../lb/lint.ts";
import { inventoryFrom } from "./_fixtures.ts";

const inv = (script: string) =>
  inventoryFrom(`all:
  vars:
    haplay_lb:
      script_security: true
      vrrp_scripts:
        - { name: chk, script: "${script}", interval: 2 }
      vrrp_instances:
        - name: VI_1
          virtual_router_id: 51
          virtual_ipaddress: ["198.18.5.100/24"]
          track_scripts: [chk]
  children:
    lb:
      hosts:
        lb1: { ansible_host: 198.18.5.11, data_address: 198.18.5.11/24, vrrp_priority: 150 }
        lb2: { ansible_host: 198.18.5.12, data_address: 198.18.5.12/24, vrrp_priority: 100 }
`);

Deno.test("lint: a vrrp_script under /bin or /sbin warns that keepalived 2.3 disables it", async () => {
  for (const cmd of ["/bin/pidof haproxy", "/sbin/ip link show eth0"]) {
    const issues = lintLb(await inv(cmd)).filter((i) => /keepalived\s+2\.3/.test(i.message));
    assert.equal(issues.length, 1, cmd);
    assert.equal(issues[0].severity, "warning");
    assert.match(issues[0].message, new RegExp(`use\\s+'/usr${cmd.split(" ")[0]}'`));
    assert.match(`${issues[0].file}:${issues[0].line}`, /inv\.yaml:6$/);
  }
  const clean = lintLb(await inv("/usr/bin/pidof haproxy"));
  assert.deepEqual(clean.filter((i) => /keepalived\s+2\.3/.test(i.message)), []);
});
