/**
 * The VM lab's fixed topology: five guests, two data subnets on one bridge, one management
 * subnet (the only one this machine's root namespace sees).
 *
 * ```
 *                 bridge brdata (inside netns vmlab-NAME)          198.18.10.0/24 "lan"
 *   lb1 .11   lb2 .12  (directors, VRRP pair)   web1 .13   web2 .14 (real servers)
 *   client 198.18.11.15/24 ("wan": same segment, another subnet: NAT replies need a router)
 *
 *                 bridge brmgmt (inside the netns) ── veth ── this machine (M.1)
 *   every guest's eth1: M.11 .. M.15  (sshd for haplay; no default route anywhere)
 * ```
 * Guests' `eth0` is the data NIC (VRRP, VIPs, IPVS), `eth1` management only. Routes beyond the
 * connected subnets are per test scenario (see `test/datapath/`), never set here.
 * @module
 */

/** Role of a guest. */
export type GuestRole = "director" | "real" | "client";

/** A guest of the topology. */
export interface GuestSpec {
  /** Host name (inventory name, hostname, known_hosts name). */
  name: string;
  role: GuestRole;
  /** Data address with prefix (`eth0`). */
  data: string;
  /** Last octet of its management address (`eth1`, `M.<n>`). */
  mgmtHost: number;
  /** Ports of the test web server (`vmlab-web`): none on the client. */
  webPorts: number[];
}

/** The data subnet of directors and real servers. */
export const LAN = "198.18.10.0/24";
/** The client's subnet (same bridge, another subnet). */
export const WAN = "198.18.11.0/24";
/** Default management subnet (seen from this machine). */
export const DEFAULT_MGMT = "198.19.240.0/24";

/** The five guests. */
export const GUESTS: readonly GuestSpec[] = [
  { name: "lb1", role: "director", data: "198.18.10.11/24", mgmtHost: 11, webPorts: [80, 8000] },
  { name: "lb2", role: "director", data: "198.18.10.12/24", mgmtHost: 12, webPorts: [80, 8000] },
  { name: "web1", role: "real", data: "198.18.10.13/24", mgmtHost: 13, webPorts: [80, 8000] },
  { name: "web2", role: "real", data: "198.18.10.14/24", mgmtHost: 14, webPorts: [80, 8000] },
  { name: "client", role: "client", data: "198.18.11.15/24", mgmtHost: 15, webPorts: [] },
];

/** `198.19.X.0/24` → `198.19.X`; throws outside 198.18.0.0/15 or for another prefix length. */
export function mgmtPrefix(subnet: string): string {
  const m = /^(198\.1[89]\.(\d{1,3}))\.0\/24$/.exec(subnet);
  if (!m || Number(m[2]) > 255 || (m[2].length > 1 && m[2].startsWith("0"))) {
    throw new Error(`management subnet must be 198.18.X.0/24 or 198.19.X.0/24, got '${subnet}'`);
  }
  return m[1];
}

/** A locally administered MAC from an IPv4 address (`kind` 0: data, 1: management). */
export function macFor(ip: string, kind: 0 | 1): string {
  const o = ip.split("/")[0].split(".").map(Number);
  return ["02", `0${kind}`, ...o.map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

/** `ip -batch` lines configuring a guest's interfaces (no routes beyond connected ones). */
export function netBatch(g: GuestSpec, mgmt: string): string {
  return [
    "link set lo up",
    `addr add ${g.data} dev eth0`,
    "link set eth0 up",
    `addr add ${mgmt}/24 dev eth1`,
    "link set eth1 up",
    "",
  ].join("\n");
}

/**
 * `/etc/netplan/00-vmlab.yaml` of a systemd guest: the same addresses as {@link netBatch}, the
 * NICs matched by MAC and named like a cloud image does (`set-name`, applied by udev from
 * netplan's `.link` files), no IPv6 (the guests boot with `ipv6.disable=1`).
 */
export function netplanGuest(g: GuestSpec, mgmt: string): string {
  const nic = (name: string, mac: string, addr: string) => [
    `    ${name}:`,
    `      match: { macaddress: "${mac}" }`,
    `      set-name: ${name}`,
    `      addresses: [${addr}]`,
    "      link-local: []",
    "      accept-ra: false",
  ];
  return [
    "# haplay vmlab: this guest's NICs (written by the initramfs at every boot)",
    "network:",
    "  version: 2",
    "  renderer: networkd",
    "  ethernets:",
    ...nic("eth0", macFor(g.data, 0), g.data),
    ...nic("eth1", macFor(mgmt, 1), `${mgmt}/24`),
    "",
  ].join("\n");
}
