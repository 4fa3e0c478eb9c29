/**
 * The benchmark's inventories: `inventory/examples/001-dr-pair-redirect.yaml` moved onto a lab
 * of N hosts (its two LBs on `h1`, `h2`, the real servers `web1..web(N-2)` on `h3..hN`), once
 * for haplay (the example's own `haplay_lb` section, unchanged) and once for Ansible (the same
 * values as plain group variables of `bench/ansible`). With `endpoints`, every host is reached
 * through a local port (the delaying proxies) and the known_hosts name `[127.0.0.1]:PORT`.
 * @module
 */
import { createHmac } from "node:crypto";
import { parse, stringify } from "yaml";
import { labInventoryText } from "../lab/inventory.ts";
import type { Lab } from "../lab/lab.ts";
import { bridgeAddress, inSubnet, n2ip, parseSubnet } from "../lab/_addr.ts";

/** The example the LB scenarios deploy. */
export const EXAMPLE = new URL("../inventory/examples/001-dr-pair-redirect.yaml", import.meta.url)
  .pathname;

/** One inventory host mapped onto a lab host. */
export interface BenchHost {
  /** Inventory name (lb1, lb2, web1, ...). */
  name: string;
  /** The lab host it runs on (h1, h2, ...). */
  labHost: string;
  /** The lab host's address (the service address, whatever the SSH endpoint). */
  ip: string;
  /** Load balancer (else real server). */
  lb: boolean;
  /** VRRP priority of a load balancer. */
  priority?: number;
}

/** Where each lab address is reached (the delaying proxies), keyed by lab IP. */
export type Endpoints = Map<string, { host: string; port: number }>;

/** Paths of the inventories of one lab (direct or proxied). */
export interface Inventories {
  haplay: string;
  ansible: string;
  knownHosts: string;
  hosts: BenchHost[];
}

interface LbHostVars {
  ansible_host: string;
  data_address?: string;
  vrrp_priority?: number;
}

interface ExampleVars {
  vrrp_instances: Array<{
    name: string;
    virtual_router_id: number;
    advert_int?: number;
    virtual_ipaddress: string[];
  }>;
  interface?: string;
  services: Array<{
    vip: string;
    port: number;
    lb_algo?: string;
    delay_loop?: number;
    persistence_timeout?: number;
    health_check: {
      path?: string;
      connect_timeout?: number;
      retry?: number;
      delay_before_retry?: number;
    };
  }>;
}

const envTag = { tag: "!env", resolve: (s: string) => ({ env: s }) };

/**
 * Move VIPs of `text` (an inventory moved onto `lab`) that are lab host addresses (the
 * example's `.100` is a host from 90 hosts on) to free addresses from the top of the lab's
 * subnet down (`.254` of a /24, `198.18.35.254` of `198.18.32.0/22`).
 */
export function freeVips(text: string, lab: Pick<Lab, "subnet" | "hosts">): string {
  const net = parseSubnet(lab.subnet);
  const taken = new Set([bridgeAddress(net), ...lab.hosts.map((h) => h.ip)]);
  const vips = new Set(
    [...text.matchAll(/(?:vip: |virtual_ipaddress: \[|- )(\d+\.\d+\.\d+\.\d+)/g)]
      .map((m) => m[1]).filter((ip) => inSubnet(net, ip)),
  );
  let next = net.network + 2 ** (32 - net.bits) - 2;
  for (const v of vips) {
    if (!taken.has(v)) continue;
    while (taken.has(n2ip(next)) || vips.has(n2ip(next))) next--;
    const to = n2ip(next--);
    text = text.replace(new RegExp(`(?<![\\d.])${v.replace(/\./g, "\\.")}(?![\\d])`, "g"), to);
  }
  return text;
}

/** The example moved onto `lab` (addresses), parsed: its head text and its values. */
export function mappedExample(
  text: string,
  lab: Pick<Lab, "name" | "subnet" | "hosts" | "keyFile" | "knownHosts">,
) {
  const mapped = freeVips(labInventoryText(text, lab), lab);
  const doc = parse(mapped, { customTags: [envTag] }) as {
    all: {
      vars: { haplay_lb: ExampleVars };
      children: { lb: { hosts: Record<string, LbHostVars> } };
    };
  };
  const head = mapped.slice(0, mapped.search(/^ {2}children:$/m));
  if (!head) throw new Error("example has no all.children section");
  return { head, lb: doc.all.vars.haplay_lb, lbHosts: doc.all.children.lb.hosts };
}

/** The inventory hosts of an N-host lab: the example's LBs, then web1..web(N-2). */
export function benchHosts(
  lab: Pick<Lab, "hosts">,
  lbHosts: Record<string, LbHostVars>,
): BenchHost[] {
  const byIp = new Map(lab.hosts.map((h) => [h.ip, h]));
  const out: BenchHost[] = [];
  const used = new Set<string>();
  for (const [name, v] of Object.entries(lbHosts)) {
    const h = byIp.get(v.ansible_host);
    if (!h) throw new Error(`no lab host at ${v.ansible_host} for ${name}`);
    out.push({ name, labHost: h.name, ip: h.ip, lb: true, priority: v.vrrp_priority });
    used.add(h.ip);
  }
  let k = 0;
  for (const h of lab.hosts) {
    if (used.has(h.ip)) continue;
    out.push({ name: `web${++k}`, labHost: h.name, ip: h.ip, lb: false });
  }
  return out;
}

/**
 * A hashed known_hosts name (`|1|salt|HMAC-SHA1(salt, name)`, as `ssh-keygen -H` writes it).
 * The proxies' entries are written hashed: engine/known_hosts.ts matches plain `[host]:port`
 * patterns as regular expressions without escaping `[` `]`, so plain entries for a non-22 port
 * never match (reported to the lead); hashed ones are compared exactly by both tools.
 */
export function hashedName(name: string): string {
  const salt = crypto.getRandomValues(new Uint8Array(20));
  const mac = createHmac("sha1", salt).update(name).digest("base64");
  return `|1|${btoa(String.fromCharCode(...salt))}|${mac}`;
}

/** known_hosts for the proxies: each lab host's keys under `[127.0.0.1]:PORT` (hashed). */
export function proxiedKnownHosts(labKnownHosts: string, endpoints: Endpoints): string {
  const out: string[] = [];
  for (const line of labKnownHosts.split("\n")) {
    const [names, ...rest] = line.trim().split(/\s+/);
    if (!names || !rest.length) continue;
    const ip = names.split(",").find((n) => endpoints.has(n));
    if (!ip) continue;
    const ep = endpoints.get(ip)!;
    out.push(`${hashedName(`[${ep.host}]:${ep.port}`)} ${rest.join(" ")}`);
  }
  return out.join("\n") + "\n";
}

function connVars(h: BenchHost, endpoints?: Endpoints): Record<string, unknown> {
  const ep = endpoints?.get(h.ip);
  return ep ? { ansible_host: ep.host, ansible_port: ep.port } : { ansible_host: h.ip };
}

/** The haplay inventory text: the example's head (vars) plus generated children. */
export function haplayInventoryText(
  head: string,
  hosts: BenchHost[],
  prefix: number,
  knownHosts: string,
  endpoints?: Endpoints,
): string {
  const hv = (h: BenchHost) => ({
    ...connVars(h, endpoints),
    data_address: `${h.ip}/${prefix}`,
    ...(h.lb ? { vrrp_priority: h.priority } : {}),
  });
  const children = {
    lb: { hosts: Object.fromEntries(hosts.filter((h) => h.lb).map((h) => [h.name, hv(h)])) },
    real: { hosts: Object.fromEntries(hosts.filter((h) => !h.lb).map((h) => [h.name, hv(h)])) },
  };
  const body = stringify({ children }, { indent: 2 }).split("\n").map((l) => l ? `  ${l}` : l);
  const top = head.replace(/^( {4}haplay_known_hosts:).*$/m, `$1 ${JSON.stringify(knownHosts)}`);
  return `${top}${body.join("\n")}`;
}

/** The Ansible inventory (YAML) for `bench/ansible/site.yml` and `templates.yml`. */
export function ansibleInventoryText(
  ex: ExampleVars,
  hosts: BenchHost[],
  keyFile: string,
  knownHosts: string,
  endpoints?: Endpoints,
): string {
  const inst = ex.vrrp_instances[0];
  const svc = ex.services[0];
  const [vip, vipPrefix] = inst.virtual_ipaddress[0].split("/");
  const hc = svc.health_check;
  const vars = {
    ansible_user: "root",
    ansible_ssh_private_key_file: keyFile,
    ansible_ssh_common_args: `-o UserKnownHostsFile=${knownHosts} ` +
      `-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes`,
    vrrp_instance: inst.name,
    vrrp_interface: ex.interface ?? "eth0",
    vrrp_router_id: inst.virtual_router_id,
    vrrp_advert_int: inst.advert_int ?? 1,
    vrrp_auth_pass: "{{ lookup('env', 'HAPLAY_VRRP_PASS') }}",
    lb_vip: vip,
    lb_vip_prefix: Number(vipPrefix ?? 32),
    lb_port: svc.port,
    lb_algo: svc.lb_algo ?? "rr",
    lb_delay_loop: svc.delay_loop ?? 6,
    lb_persistence_timeout: svc.persistence_timeout ?? 0,
    lb_check_path: hc.path ?? "/",
    lb_check_connect_timeout: hc.connect_timeout ?? 5,
    lb_check_retry: hc.retry ?? 1,
    lb_check_delay_before_retry: hc.delay_before_retry ?? 1,
  };
  if (svc.vip !== vip) throw new Error("bench expects the service VIP to be the VRRP VIP (001)");
  const hv = (h: BenchHost) => ({
    ...connVars(h, endpoints),
    service_address: h.ip,
    ...(h.lb ? { vrrp_priority: h.priority } : {}),
  });
  return stringify({
    all: {
      vars,
      children: {
        lb: { hosts: Object.fromEntries(hosts.filter((h) => h.lb).map((h) => [h.name, hv(h)])) },
        real: { hosts: Object.fromEntries(hosts.filter((h) => !h.lb).map((h) => [h.name, hv(h)])) },
      },
    },
  });
}

/**
 * Write both inventories (and, with `endpoints`, the proxies' known_hosts) into `dir`, with
 * `tag` in the file names ("direct" or "proxied").
 */
export async function writeInventories(
  lab: Lab,
  dir: string,
  tag: string,
  endpoints?: Endpoints,
): Promise<Inventories> {
  const ex = mappedExample(await Deno.readTextFile(EXAMPLE), lab);
  const hosts = benchHosts(lab, ex.lbHosts);
  const prefix = Number(lab.subnet.split("/")[1]);
  let knownHosts = lab.knownHosts;
  if (endpoints) {
    knownHosts = `${dir}/known_hosts.${tag}`;
    await Deno.writeTextFile(
      knownHosts,
      proxiedKnownHosts(await Deno.readTextFile(lab.knownHosts), endpoints),
    );
  }
  const haplay = `${dir}/haplay.${tag}.yaml`;
  const ansible = `${dir}/ansible.${tag}.yaml`;
  await Deno.writeTextFile(
    haplay,
    haplayInventoryText(ex.head, hosts, prefix, knownHosts, endpoints),
  );
  await Deno.writeTextFile(
    ansible,
    ansibleInventoryText(ex.lb, hosts, lab.keyFile, knownHosts, endpoints),
  );
  return { haplay, ansible, knownHosts, hosts };
}
