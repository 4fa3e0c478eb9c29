/**
 * Hand-built load balancers for the adoption tests: each seed's hand procedure (and one setup no
 * seed describes) as the shell scripts in `hand/<setup>/<role>.sh`, run on lab hosts by the
 * system `ssh` client over the lab's key and known_hosts (not by haplay), then proven to work:
 * keepalived running on every LB, each VRRP address on exactly one LB (the expected MASTER), and
 * the setup's own way of accepting the VIP in place.
 *
 * Labs k3s0..k3s4 and k3u on 198.19.165.0/24 .. 198.19.170.0/24 (helper k3's range).
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type Lab, labExec } from "../../lab/lab.ts";

const HAND = fileURLToPath(new URL("./hand/", import.meta.url));

/** One host of a hand-built setup. */
export interface HandHost {
  /** Inventory name (as the seed's post calls the machine). */
  name: string;
  /** Lab host (`h1`..). */
  lab: string;
  group: "lb" | "real";
}

/** One script run: `hand/<setup>/<script>.sh ARGS...` on `host` (inventory name). */
export interface HandStep {
  host: string;
  script: string;
  args?: string[];
}

/** A hand-built setup and what proves it works. */
export interface HandSetup {
  id: string;
  lab: { name: string; subnet: string };
  hosts: HandHost[];
  /** Stages run in order; the steps of one stage run in parallel (as an admin with 2 terminals). */
  stages: HandStep[][];
  /** Every VRRP address and the LB that must hold it once the election settled. */
  vips: Record<string, string>;
  /** The address and port the client probes (a busybox httpd on :8080 on every LB). */
  probe: { vip: string; port: number };
  /** Apps on the real servers / nodes: host -> ports (busybox httpd serving /, /health, ...). */
  apps: Record<string, number[]>;
  /** The VRRP password written by hand (must never show in haplay's output). */
  password?: string;
  /** The setup's VIP method, as `[host, shell command, pattern its output must match]`. */
  method: [string, string, RegExp][];
}

const P = (n: number) => `198.19.${n}`;

/** The five seeds' hand-built setups and the unseen one, by id. */
export const SETUPS: Record<string, HandSetup> = {
  "000": {
    id: "000",
    lab: { name: "k3s0", subnet: `${P(165)}.0/24` },
    hosts: [
      { name: "node1", lab: "h1", group: "lb" },
      { name: "node2", lab: "h2", group: "lb" },
      { name: "node3", lab: "h3", group: "lb" },
    ],
    stages: [[
      { host: "node1", script: "node", args: ["100"] },
      { host: "node2", script: "node", args: ["90"] },
      { host: "node3", script: "node", args: ["80"] },
    ]],
    vips: { [`${P(165)}.5`]: "node1" },
    probe: { vip: `${P(165)}.5`, port: 8080 },
    apps: { node1: [8000], node2: [8000], node3: [8000] },
    method: [
      ...["node1", "node2", "node3"].map((h): [string, string, RegExp] => [
        h,
        "ip -o -4 addr show dev lo; cat /etc/netplan/99_lo_config.yaml; sysctl net.ipv4.conf.eth0.arp_ignore",
        /inet 198\.19\.165\.5\/32[\s\S]*- 198\.19\.165\.5\/32[\s\S]*arp_ignore = 1/,
      ]),
      // the MASTER's notify_master swapped the include (and reloaded)
      ["node1", "grep ^include /etc/keepalived/keepalived.conf", /virtualserver-master\.conf/],
      ["node2", "grep ^include /etc/keepalived/keepalived.conf", /virtualserver-backup\.conf/],
    ],
  },
  "001": {
    id: "001",
    lab: { name: "k3s1", subnet: `${P(166)}.0/24` },
    hosts: [
      { name: "lb1", lab: "h1", group: "lb" },
      { name: "lb2", lab: "h2", group: "lb" },
      { name: "web1", lab: "h3", group: "real" },
      { name: "web2", lab: "h4", group: "real" },
    ],
    // the post's restart order: BACKUP, then MASTER (the real servers meanwhile)
    stages: [
      [
        { host: "lb2", script: "lb", args: ["backup"] },
        { host: "web1", script: "real" },
        { host: "web2", script: "real" },
      ],
      [{ host: "lb1", script: "lb", args: ["master"] }],
    ],
    vips: { [`${P(166)}.100`]: "lb1" },
    probe: { vip: `${P(166)}.100`, port: 8080 },
    apps: { web1: [80], web2: [80] },
    password: "hogehoge",
    method: [
      ...["web1", "web2"].map((h): [string, string, RegExp] => [
        h,
        "iptables -t nat -S PREROUTING; cat /etc/iptables/rules.v4",
        /-A PREROUTING -d 198\.19\.166\.100\/32 -p tcp -j REDIRECT[\s\S]*\*nat[\s\S]*-A PREROUTING -d 198\.19\.166\.100\/32 -p tcp -j REDIRECT/,
      ]),
      // bypass_ipvs: the BACKUP accepts the VIP locally, the MASTER does not
      ["lb2", "iptables -t nat -S PREROUTING", /198\.19\.166\.100\/32 -p tcp -j REDIRECT/],
      ["lb1", "iptables -t nat -S PREROUTING | grep -c REDIRECT || :", /^0$/],
    ],
  },
  "002": {
    id: "002",
    lab: { name: "k3s2", subnet: `${P(167)}.0/24` },
    hosts: [
      { name: "lv1", lab: "h1", group: "lb" },
      { name: "lv2", lab: "h2", group: "lb" },
      { name: "w101", lab: "h3", group: "real" },
      { name: "w102", lab: "h4", group: "real" },
    ],
    stages: [[
      { host: "lv1", script: "lb", args: ["150"] },
      { host: "lv2", script: "lb", args: ["100"] },
      { host: "w101", script: "real" },
      { host: "w102", script: "real" },
    ]],
    vips: { [`${P(167)}.10`]: "lv1" },
    probe: { vip: `${P(167)}.10`, port: 8080 },
    apps: { w101: [80], w102: [80] },
    method: [
      ...["lv1", "lv2"].map((h): [string, string, RegExp] => [
        h,
        "iptables -t mangle -S PREROUTING; ip rule; ip route show table 100; sysctl net.ipv4.conf.eth0.rp_filter",
        /-d 198\.19\.167\.100\/32 -j MARK --set-xmark 0x1\/0xffffffff[\s\S]*100:\s+from all fwmark 0x1 lookup 100[\s\S]*local default dev lo[\s\S]*rp_filter = 0/,
      ]),
      ...["w101", "w102"].map((h): [string, string, RegExp] => [
        h,
        "iptables -t nat -S PREROUTING; ip -o -4 addr show dev lo",
        /-A PREROUTING -d 198\.19\.167\.100\/32 -j REDIRECT(?![\s\S]*198\.19\.167\.100)/,
      ]),
    ],
  },
  "003": {
    id: "003",
    lab: { name: "k3s3", subnet: `${P(168)}.0/24` },
    hosts: [
      { name: "ha1", lab: "h1", group: "lb" },
      { name: "ha2", lab: "h2", group: "lb" },
    ],
    stages: [[
      { host: "ha1", script: "node", args: ["master"] },
      { host: "ha2", script: "node", args: ["backup"] },
    ]],
    vips: Object.fromEntries(
      [10, ...Array.from({ length: 22 }, (_, i) => 101 + i)].map((n) => [`${P(168)}.${n}`, "ha1"]),
    ),
    probe: { vip: `${P(168)}.10`, port: 8080 },
    apps: {},
    password: "1111",
    method: [[
      "ha1",
      "ip -o -4 addr show dev eth0 | grep -cE ' 198\\.19\\.168\\.(10|1[0-2][0-9])/'",
      /^23$/,
    ]],
  },
  "004": {
    id: "004",
    lab: { name: "k3s4", subnet: `${P(169)}.0/24` },
    hosts: [
      { name: "lvs01", lab: "h1", group: "lb" },
      { name: "lvs02", lab: "h2", group: "lb" },
      { name: "web1", lab: "h3", group: "real" },
      { name: "db1", lab: "h4", group: "real" },
    ],
    stages: [[
      { host: "lvs01", script: "lb", args: ["150", `${P(169)}.11`, `${P(169)}.12`] },
      { host: "lvs02", script: "lb", args: ["100", `${P(169)}.12`, `${P(169)}.11`] },
      { host: "web1", script: "web" },
      { host: "db1", script: "db" },
    ]],
    vips: { [`${P(169)}.199`]: "lvs01", [`${P(169)}.200`]: "lvs01", [`${P(169)}.254`]: "lvs01" },
    probe: { vip: `${P(169)}.199`, port: 8080 },
    apps: { web1: [80, 443], db1: [3306] },
    password: "aws0vpc1",
    method: [
      ["web1", "ip route show default", /default via 198\.19\.169\.254/],
      [
        "db1",
        "ip -o -4 addr show dev lo; sysctl net.ipv4.conf.eth0.arp_ignore; cat /etc/network/interfaces",
        /198\.19\.169\.200\/32[\s\S]*arp_ignore = 1[\s\S]*address 198\.19\.169\.200/,
      ],
      ["lvs01", "grep -A2 unicast_peer /etc/keepalived/keepalived.conf", /198\.19\.169\.12/],
    ],
  },
  unseen: {
    id: "unseen",
    lab: { name: "k3u", subnet: `${P(170)}.0/24` },
    hosts: [
      { name: "lb1", lab: "h1", group: "lb" },
      { name: "lb2", lab: "h2", group: "lb" },
      { name: "real1", lab: "h3", group: "real" },
    ],
    stages: [[
      { host: "lb1", script: "lb", args: ["master"] },
      { host: "lb2", script: "lb", args: ["backup"] },
      { host: "real1", script: "real" },
    ]],
    vips: { [`${P(170)}.100`]: "lb1", [`${P(170)}.101`]: "lb1" },
    probe: { vip: `${P(170)}.100`, port: 8080 },
    apps: { real1: [80, 8081] },
    password: "s3cr3tWb",
    method: [
      ["real1", "ip -o -4 addr show dev lo", /198\.19\.170\.100\/32/],
      // the sync group and the track script are live in the VRRP process (its data dump)
      [
        "lb1",
        `rm -f /tmp/keepalived.data; kill -USR1 "$(cat /run/keepalived.pid)"; i=0
         until grep -q 'VRRP Sync groups' /tmp/keepalived.data 2>/dev/null; do
           i=$((i+1)); [ $i -lt 50 ] || break; sleep 0.1; done; sleep 0.3; cat /tmp/keepalived.data`,
        /VRRP Sync Group = SG_FRONT, MASTER[\s\S]*VRRP Script = chk_front[\s\S]*Status = GOOD[\s\S]*Track file = front_maint/,
      ],
    ],
  },
};

/** Inventory host -> lab host. */
export function labHostOf(s: HandSetup, name: string): string {
  const h = s.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`setup ${s.id} has no host ${name}`);
  return h.lab;
}

/** Runs `cmd` in a lab host (by nsenter, not SSH: observing costs no sshd session). */
export async function sh(lab: Lab, labHost: string, cmd: string): Promise<string> {
  return (await labExec(lab, labHost, ["sh", "-c", cmd])).stdout.trim();
}

/** Runs one hand script on a host with the system ssh client; throws with its output on failure. */
async function runScript(lab: Lab, s: HandSetup, step: HandStep): Promise<void> {
  const path = `${HAND}${s.id}/${step.script}.sh`;
  const child = new Deno.Command("ssh", {
    args: ["-F", lab.sshConfig, labHostOf(s, step.host), "bash", "-s", "--", ...(step.args ?? [])],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(await Deno.readFile(path));
  await w.close();
  const r = await child.output();
  if (r.code !== 0) {
    const dec = new TextDecoder();
    throw new Error(
      `hand/${s.id}/${step.script}.sh on ${step.host} exited ${r.code}:\n` +
        dec.decode(r.stdout).slice(-1500) + dec.decode(r.stderr).slice(-1500),
    );
  }
}

/** Starts the apps and the VIP service (busybox httpd), as the admin did before keepalived. */
async function startApps(lab: Lab, s: HandSetup): Promise<void> {
  const serve = (p: number, dir: string) =>
    `{ busybox httpd -f -p ${p} -h ${dir} </dev/null >/dev/null 2>&1 & echo $! >> /srv/pids; }`;
  for (const h of s.hosts) {
    const ports = [...(s.apps[h.name] ?? []), ...(h.group === "lb" ? [8080] : [])];
    if (!ports.length) continue;
    const files = ["index.html", "health", "check.html"].map((f) =>
      `echo "${h.name}" > /srv/www/${f}`
    );
    await sh(
      lab,
      h.lab,
      ["mkdir -p /srv/www", ...files, ...ports.map((p) => serve(p, "/srv/www"))].join(" && "),
    );
  }
}

/** Stops what {@link startApps} started. */
export async function stopApps(lab: Lab, s: HandSetup): Promise<void> {
  for (const h of s.hosts) await sh(lab, h.lab, "kill $(cat /srv/pids 2>/dev/null) 2>/dev/null; :");
}

/** LBs holding `vip` on eth0 (inventory names). */
export async function holders(lab: Lab, s: HandSetup, vip: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of s.hosts.filter((x) => x.group === "lb")) {
    if ((await sh(lab, h.lab, "ip -o -4 addr show dev eth0")).includes(` ${vip}/`)) {
      out.push(h.name);
    }
  }
  return out;
}

/** Waits until `pred` holds (polling every 250 ms, up to `ms`). */
export async function until(what: string, ms: number, pred: () => Promise<boolean>) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** keepalived's PID on a lab host when it is alive, else "". */
export function keepalivedPid(lab: Lab, labHost: string): Promise<string> {
  return sh(
    lab,
    labHost,
    'p=$(cat /run/keepalived.pid 2>/dev/null) && kill -0 "$p" 2>/dev/null && echo "$p"',
  );
}

/** What {@link proveHandBuilt} saw. */
export interface HandProof {
  pids: Record<string, string>;
  masters: Record<string, string>;
}

/**
 * Proves a hand-built setup works: keepalived alive on every LB, each VRRP address on exactly
 * the expected LB (polled until VRRP settled, up to 15 s), the VIP method in place, the probe
 * service answering on the VIP.
 */
export async function proveHandBuilt(lab: Lab, s: HandSetup): Promise<HandProof> {
  const lbs = s.hosts.filter((h) => h.group === "lb");
  const pids: Record<string, string> = {};
  for (const h of lbs) {
    pids[h.name] = await keepalivedPid(lab, h.lab);
    assert.ok(pids[h.name], `${s.id}: keepalived is not running on ${h.name}`);
  }
  const masters: Record<string, string> = {};
  for (const [vip, want] of Object.entries(s.vips)) {
    await until(`${s.id}: ${vip} on ${want} only`, 15000, async () => {
      const h = await holders(lab, s, vip);
      return h.length === 1 && h[0] === want;
    });
    masters[vip] = want;
  }
  for (const [host, cmd, re] of s.method) {
    const out = await sh(lab, labHostOf(s, host), cmd);
    assert.match(out, re, `${s.id}: VIP method on ${host} (${cmd})`);
  }
  const r = await fetch(`http://${s.probe.vip}:${s.probe.port}/`, {
    signal: AbortSignal.timeout(3000),
  });
  assert.equal((await r.text()).trim(), s.vips[s.probe.vip], `${s.id}: the VIP's service`);
  return { pids, masters };
}

/**
 * Builds setup `s` by hand on `lab` (apps first, then the stages' scripts over ssh), then proves
 * it works ({@link proveHandBuilt}).
 */
export async function handBuild(lab: Lab, s: HandSetup): Promise<HandProof> {
  await startApps(lab, s);
  for (const stage of s.stages) {
    await Promise.all(stage.map((step) => runScript(lab, s, step)));
  }
  return await proveHandBuilt(lab, s);
}

/**
 * The inventory `deno task import` starts from: only the hosts (groups `lb` and `real`) and the
 * lab's connection variables.
 */
export function hostsOnlyInventory(lab: Lab, s: HandSetup): string {
  const ip = new Map(lab.hosts.map((h) => [h.name, h.ip]));
  const group = (g: string) =>
    s.hosts.filter((h) => h.group === g).map((h) =>
      `        ${h.name}: { ansible_host: ${ip.get(h.lab)} }`
    ).join("\n");
  const real = group("real");
  return [
    `# setup ${s.id}, built by hand (test/adopt/hand/${s.id}/): hosts only`,
    "all:",
    "  vars:",
    "    ansible_user: root",
    `    ansible_ssh_private_key_file: ${JSON.stringify(lab.keyFile)}`,
    `    haplay_known_hosts: ${JSON.stringify(lab.knownHosts)}`,
    "  children:",
    "    lb:",
    "      hosts:",
    group("lb"),
    ...(real ? ["    real:", "      hosts:", real] : []),
    "",
  ].join("\n");
}
