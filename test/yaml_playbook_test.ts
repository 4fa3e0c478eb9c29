/**
 * YAML playbooks, as data: a good playbook builds exactly the tasks the TypeScript API builds
 * (same names, resources, probes, plans, notify, tags), `when` per host, templates per host, role
 * vars checked and applied; every malformed playbook of `fixtures/playbooks/bad/` gives its
 * exact messages; the CLI exits 3 on one without contacting a host.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadInventory } from "../engine/inventory.ts";
import { loadPlaybook } from "../engine/playbook.ts";
import { prepare } from "../engine/run.ts";
import { selectHosts } from "../engine/patterns.ts";
import { parseYamlPlaybook, PlaybookError } from "../engine/yaml_playbook.ts";
import { evalWhen, parseWhen } from "../engine/_when.ts";
import { main } from "../engine/cli.ts";
import type { Play, Task } from "../engine/types.ts";
import { command } from "../tasks/command.ts";
import { directory } from "../tasks/directory.ts";
import { file } from "../tasks/file.ts";
import { lineInFile } from "../tasks/line_in_file.ts";
import { service, serviceHandler } from "../tasks/service.ts";
import { template } from "../tasks/template.ts";
import { keepalivedHandlers } from "../roles/keepalived.ts";
import { loadBalancerHandlers, loadBalancerTasks } from "../playbooks/site.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const BAD = join(HERE, "fixtures/playbooks/bad");
const EXAMPLES = join(HERE, "../playbooks/examples");

const INVENTORY = `all:
  vars:
    ansible_user: root
  children:
    web:
      hosts:
        w1: { ansible_host: 198.18.0.11, env: prod, weight: 3 }
        w2: { ansible_host: 198.18.0.12, env: staging }
    db:
      hosts:
        d1: { ansible_host: 198.18.0.13 }
`;

async function tempInventory(text = INVENTORY): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "haplay-yp-" });
  const path = join(dir, "inventory.yaml");
  await Deno.writeTextFile(path, text);
  return path;
}

/** Each host's tasks and handlers of a play, as the engine prepares them. */
async function planned(invPath: string, play: Play) {
  const inv = await loadInventory(invPath);
  return prepare(inv, play, selectHosts(inv, play.hosts), {});
}

/** The comparable parts of a task (its plan on "nothing known" facts included). */
function shape(t: Task) {
  const plan = t.plan("");
  return {
    name: t.name,
    module: t.module,
    resource: t.resource,
    probe: t.probe,
    notify: t.notify,
    tags: t.tags,
    plan: JSON.stringify(plan),
  };
}

const GOOD = `
- name: web servers
  hosts: web:!d1
  serial: "50%"
  max_fail_percentage: 20
  tasks:
    - name: motd
      file: { path: /etc/motd, content: "hello\\n", mode: "0644" }
      notify: restart nginx
      tags: [motd]
    - directory: { path: /srv/www, mode: "0755" }
    - name: index
      template:
        path: /srv/www/index.html
        template: "{{ inventory_hostname }} in {{ env }}\\n"
    - name: prod only
      lineInFile: { path: /etc/default/nginx, line: PROD=1 }
      when: env == "prod" and weight is defined
    - name: staging only
      module: command
      args: { cmd: "touch /run/staging", creates: /run/staging }
      when:
        - not (env == "prod")
        - "'web' in group_names"
    - service: { name: nginx, state: started, enabled: true }
  handlers:
    - service: { name: nginx, state: restarted }
    - name: flush
      command: "sync"
`;

Deno.test("a good YAML playbook builds the tasks the TypeScript API builds", async () => {
  const pb = parseYamlPlaybook(GOOD, "good.yaml");
  assert.equal(pb.plays.length, 1);
  const play = pb.plays[0];
  assert.equal(play.name, "web servers");
  assert.equal(play.hosts, "web:!d1");
  assert.equal(play.serial, "50%");
  assert.equal(play.maxFailPercentage, 20);
  assert.equal(pb.lint, undefined, "no LB role: no LB lint");
  const items = await planned(await tempInventory(), play);
  assert.deepEqual(items.map((i) => i.host.name), ["w1", "w2"]);
  const [w1, w2] = items;
  const common = (env: string, host: string) => [
    file({
      name: "motd",
      path: "/etc/motd",
      content: "hello\n",
      mode: "0644",
      notify: ["restart nginx"],
      tags: ["motd"],
    }),
    directory({ path: "/srv/www", mode: "0755" }),
    template({
      name: "index",
      path: "/srv/www/index.html",
      template: `${host} in ${env}\n`,
    }),
  ];
  const svc = service({ name: "nginx", state: "started", enabled: true });
  assert.deepEqual(
    w1.tasks.map(shape),
    [
      ...common("prod", "w1"),
      lineInFile({ name: "prod only", path: "/etc/default/nginx", line: "PROD=1" }),
      svc,
    ].map(shape),
  );
  assert.deepEqual(
    w2.tasks.map(shape),
    [
      ...common("staging", "w2"),
      command({ name: "staging only", cmd: "touch /run/staging", creates: "/run/staging" }),
      svc,
    ].map(shape),
  );
  const restart = serviceHandler("nginx", "restart");
  assert.deepEqual(w1.handlers, [restart, { name: "flush", run: "sync" }]);
});

Deno.test("roles: tasks and handlers as the site playbook's, role tags added, lint attached", async () => {
  const inv = await tempInventory(
    await Deno.readTextFile(join(EXAMPLES, "custom-service-inventory.yaml")),
  );
  const pb = parseYamlPlaybook(
    `- hosts: lb
  roles:
    - role: keepalived
      tags: [ka]
    - role: sysctl
      when: inventory_hostname == "lb2"
`,
    "roles.yaml",
  );
  assert.ok(pb.lint && pb.verify, "LB roles from the inventory: lint and verify attached");
  const play = pb.plays[0];
  assert.ok(play.gateScript && play.gate && play.order && play.orderProbe && play.rollingIf);
  const [lb1, lb2] = await planned(inv, play);
  const site = await planned(inv, {
    name: "site",
    hosts: "lb",
    tasks: loadBalancerTasks,
    handlers: loadBalancerHandlers,
  });
  // keepalived = the site's LB tasks without the sysctl ones (none here but ip_forward)
  const want = site[0].tasks.filter((t) => t.module !== "sysctl").map((t) => ({
    ...shape(t),
    tags: [...new Set([...(t.tags ?? []), "ka"])],
  }));
  assert.deepEqual(lb1.tasks.map(shape), want);
  assert.deepEqual(
    lb2.tasks.map((t) => t.resource).filter((r) => r.startsWith("sysctl")),
    ["sysctl:net.ipv4.ip_forward"],
  );
  assert.deepEqual(lb1.handlers.map((h) => h.name), keepalivedHandlers(lb1.ctx).map((h) => h.name));
  assert.equal(lb2.tasks.length, lb1.tasks.length + 1);
  // Ansible's older spelling of a role entry
  const older = parseYamlPlaybook("- hosts: lb\n  roles:\n    - name: sysctl\n", "older.yaml");
  const [o1] = await planned(inv, older.plays[0]);
  assert.deepEqual(o1.tasks.map((t) => t.resource), ["sysctl:net.ipv4.ip_forward"]);
});

Deno.test("role vars override the inventory for that role, peers included", async () => {
  const inv = await tempInventory(
    await Deno.readTextFile(join(EXAMPLES, "custom-service-inventory.yaml")),
  );
  const pb = parseYamlPlaybook(
    `- hosts: lb
  roles:
    - role: keepalived
      vars: { vrrp_interface: eth7 }
`,
    "vars.yaml",
  );
  const [lb1] = await planned(inv, pb.plays[0]);
  const conf = lb1.tasks.find((t) => t.resource === "file:/etc/keepalived/keepalived.conf")!;
  const plan = conf.plan("exists=0\nend=1\n");
  assert.equal(plan.kind, "change");
  assert.match(plan.kind === "change" ? plan.diff ?? "" : "", /^\+\s*interface eth7$/m);
});

Deno.test("role vars: the merged variables are checked by the role's schema per host", async () => {
  const inv = await tempInventory();
  const pb = parseYamlPlaybook(
    `- hosts: web
  roles:
    - role: lo_vip
      vars: { data_address: 198.18.0.11/24 }
    - role: keepalived
      vars: { vrrp_priority: 10 }
`,
    "pervars.yaml",
  );
  await assert.rejects(
    () => planned(inv, pb.plays[0]),
    (e: Error) => {
      assert.match(
        e.message,
        /w1: pervars\.yaml:5:13 \[0\]\.roles\[1\]\.role: role keepalived: haplay_lb: is required$/m,
      );
      return true;
    },
  );
});

Deno.test("when: an undefined variable stops the run before any host, naming file and host", async () => {
  const pb = parseYamlPlaybook(
    `- hosts: all
  tasks:
    - command: "true"
      when: color == "red"
`,
    "undef.yaml",
  );
  await assert.rejects(
    async () => planned(await tempInventory(), pb.plays[0]),
    (e: Error) => {
      assert.equal(
        e.message,
        `play "play 1" cannot be planned:\n` +
          [
            "w1",
            "w2",
            "d1",
          ].map((h) =>
            `  ${h}: undef.yaml:4:13 [0].tasks[0].when: 'color' is undefined (test it first: color is defined and ...)`
          ).join("\n"),
      );
      return true;
    },
  );
});

Deno.test("when: the expression forms", () => {
  const vars = {
    env: "prod",
    n: 3,
    flag: false,
    list: ["a", "b"],
    m: { k: "v", deep: { x: 1 } },
    empty: "",
    nothing: null,
  };
  const t = (e: string) => evalWhen(parseWhen(e), vars);
  assert.equal(t(`env == "prod"`), true);
  assert.equal(t(`env != 'prod'`), false);
  assert.equal(t(`not env == "prod"`), false);
  assert.equal(t(`env is defined`), true);
  assert.equal(t(`other is defined`), false);
  assert.equal(t(`other is undefined`), true);
  assert.equal(t(`other is not defined`), true);
  assert.equal(t(`other is defined and other == 1`), false, "and stops early");
  assert.equal(t(`env == "prod" or other == 1`), true, "or stops early");
  assert.equal(t(`n >= 3 and n < 4`), true);
  assert.equal(t(`'a' in list`), true);
  assert.equal(t(`'c' not in list`), true);
  assert.equal(t(`env in ["prod", "staging"]`), true);
  assert.equal(t(`'k' in m`), true);
  assert.equal(t(`m.deep.x == 1 and m['k'] == "v" and list[1] == "b"`), true);
  assert.equal(t(`flag`), false);
  assert.equal(t(`not flag`), true);
  assert.equal(t(`flag is false`), true);
  assert.equal(t(`empty`), false);
  assert.equal(t(`nothing is none`), true);
  assert.equal(t(`(env == "x" or n == 3) and not flag`), true);
  assert.equal(t(`True`), true);
  assert.throws(() => t(`other == 1`), /'other' is undefined/);
  assert.throws(() => t(`n < "x"`), /compares two numbers or two texts/);
  assert.throws(() => parseWhen(`env ==`), /unexpected end/);
  assert.throws(() => parseWhen(`env == "x`), /unclosed "/);
  assert.throws(() => parseWhen(`env.`), /expected a name after '.'/);
  assert.throws(() => parseWhen(`env == "a" "b"`), /unexpected 'b'/);
});

Deno.test("malformed playbook corpus: every message, exactly", async (t) => {
  const expected: Record<string, string[]> = JSON.parse(
    await Deno.readTextFile(join(BAD, "expected.json")),
  );
  const onDisk = [...Deno.readDirSync(BAD)].map((e) => e.name).filter((n) => n.endsWith(".yaml"))
    .sort();
  assert.deepEqual(Object.keys(expected).sort(), onDisk, "expected.json covers every case");
  for (const [name, messages] of Object.entries(expected)) {
    await t.step(name, async () => {
      try {
        await loadPlaybook(join(BAD, name));
      } catch (e) {
        assert.ok(e instanceof PlaybookError, String(e));
        assert.deepEqual(e.message.split("\n").map((l) => l.slice(BAD.length + 1)), messages);
        return;
      }
      assert.fail(`${name} loaded without an error`);
    });
  }
});

Deno.test("the README example loads and builds tasks for every host", async () => {
  const inv = await tempInventory(
    await Deno.readTextFile(join(EXAMPLES, "custom-service-inventory.yaml")),
  );
  const pb = await loadPlaybook(join(EXAMPLES, "custom-service.yaml"));
  assert.deepEqual(pb.plays.map((p) => [p.name, p.hosts, p.serial]), [
    ["hello on the real servers", "real", undefined],
    ["the keepalived pair", "lb", 1],
  ]);
  const real = await planned(inv, pb.plays[0]);
  const lines = real.map((r) => r.tasks.map((t) => t.resource));
  assert.ok(lines[0].includes("line:/etc/default/hello:^HELLO_OPTS="), "web1 is the canary");
  assert.ok(!lines[1].includes("line:/etc/default/hello:^HELLO_OPTS="), "web2 is not");
  assert.ok(lines[1].includes("file:/etc/netplan/99-haplay-lo.yaml"), lines[1].join(" "));
  const index = real[1].tasks.find((t) => t.resource === "file:/srv/hello/index.html")!;
  const p = index.plan("exists=0\nend=1\n");
  assert.match(p.kind === "change" ? p.diff ?? "" : "", /^\+hello from web2$/m);
});

Deno.test("CLI: a bad YAML playbook exits 3, naming file:line:col, before any host", async () => {
  const inv = await tempInventory();
  const errs: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errs.push(a.join(" "));
  let code: number;
  try {
    code = await main(["deploy", inv, join(BAD, "01-unknown-module.yaml")]);
  } finally {
    console.error = orig;
  }
  assert.equal(code, 3);
  assert.deepEqual(errs, [
    `${
      join(BAD, "01-unknown-module.yaml")
    }:5:7 [0].tasks[0].servce: unknown module 'servce' (did you mean 'service'?)`,
    "nothing was changed: no host was contacted",
  ]);
});

Deno.test("README's YAML playbooks section shows the example file and its errors verbatim", async () => {
  const readme = await Deno.readTextFile(join(HERE, "../README.md"));
  const section = readme.slice(readme.indexOf("## YAML playbooks"), readme.indexOf("## Inventory"));
  const example = await Deno.readTextFile(join(EXAMPLES, "custom-service.yaml"));
  assert.ok(section.includes("```yaml\n" + example + "```"), "the example, byte for byte");
  const fixture = await Deno.readTextFile(join(BAD, "15-several-at-once.yaml"));
  assert.ok(section.includes("```yaml\n" + fixture + "```"), "the bad playbook, byte for byte");
  const expected: Record<string, string[]> = JSON.parse(
    await Deno.readTextFile(join(BAD, "expected.json")),
  );
  const lines = expected["15-several-at-once.yaml"].map((l) =>
    l.replace(/^15-several-at-once\.yaml/, "my-play.yaml")
  );
  assert.ok(
    section.includes(lines.join("\n") + "\nnothing was changed: no host was contacted\n"),
    "its messages",
  );
});

Deno.test("errors found while building a host's tasks name the file, the field and the host", async () => {
  const pb = parseYamlPlaybook(
    `- hosts: web
  roles: [keepalived]
- hosts: w2
  tasks:
    - template: { path: /etc/x, template: "{{ colour }}" }
`,
    "build.yaml",
  );
  const inv = await tempInventory();
  await assert.rejects(() => planned(inv, pb.plays[0]), (e: Error) => {
    assert.equal(
      e.message,
      `play "play 1" cannot be planned:\n` +
        ["w1", "w2"].map((h) =>
          `  ${h}: build.yaml:2:11 [0].roles[0]: role keepalived: not a load balancer (no haplay_lb, or not in its lb_group)`
        ).join("\n"),
    );
    return true;
  });
  await assert.rejects(() => planned(inv, pb.plays[1]), (e: Error) => {
    assert.equal(
      e.message,
      `play "play 2" cannot be planned:\n` +
        "  w2: build.yaml:5:7 [1].tasks[0].template: template /etc/x: undefined variable colour",
    );
    return true;
  });
});

Deno.test("a missing YAML playbook is a PlaybookError (exit 3), not a stack trace", async () => {
  await assert.rejects(() => loadPlaybook("no-such-play.yml"), (e: Error) => {
    assert.ok(e instanceof PlaybookError);
    assert.equal(e.message, "no-such-play.yml:1:1: cannot read the playbook: no such file");
    return true;
  });
});

Deno.test("serial lists and percentages, max_fail_percentage, host pattern lists", () => {
  const pb = parseYamlPlaybook(
    `- hosts: [web, "!d1"]
  serial: [1, "50%", 100%]
  max_fail_percentage: 0
  tasks: [{ command: "true" }]
`,
    "serial.yaml",
  );
  assert.equal(pb.plays[0].hosts, "web:!d1");
  assert.deepEqual(pb.plays[0].serial, [1, "50%", "100%"]);
  assert.equal(pb.plays[0].maxFailPercentage, 0);
});
