/**
 * A lab's addressing: its subnet (`/20` .. `/24` inside 198.18.0.0/15), the bridge at the
 * subnet's `.1`, the hosts from `.11` on (crossing /24 boundaries in a larger prefix: a /22
 * holds 1,012 hosts), and the /24s it covers (what "in use on this machine" is checked against).
 * @module
 */

import { LabError } from "./util.ts";

/** A parsed lab subnet. */
export interface LabNet {
  /** The network address as an unsigned 32-bit number. */
  network: number;
  /** Prefix length, 20..24. */
  bits: number;
}

/** Prefix lengths a lab accepts (a /20 holds 4,084 hosts: more than the lab's maximum). */
export const MIN_BITS = 20;
const MAX_BITS = 24;
/** Offset of the first host from the network address (`.11`, as every example expects). */
export const FIRST_HOST = 11;
const RANGE_LO = ip2n("198.18.0.0");
const RANGE_HI = ip2n("198.19.255.255");

function ip2n(ip: string): number {
  return ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
}

/** A 32-bit number as a dotted quad. */
export function n2ip(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/**
 * Parse `198.1[89].X.Y/N` (N 20..24, the network address itself, inside 198.18.0.0/15);
 * throws a {@link LabError} naming what is wrong.
 */
export function parseSubnet(subnet: string): LabNet {
  const m = subnet.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/);
  const want =
    `subnet must be a network inside 198.18.0.0/15 with a prefix /${MIN_BITS}../${MAX_BITS} ` +
    `(e.g. 198.18.0.0/24, 198.18.32.0/22), got '${subnet}'`;
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith("0")))) {
    throw new LabError(want);
  }
  const bits = Number(m[5]);
  const network = ip2n(m.slice(1, 5).join("."));
  if (bits < MIN_BITS || bits > MAX_BITS || network < RANGE_LO || network > RANGE_HI) {
    throw new LabError(want);
  }
  if (network % 2 ** (32 - bits) !== 0) {
    throw new LabError(`subnet '${subnet}' is not a network address (host bits set)`);
  }
  return { network, bits };
}

/** The most hosts a subnet holds: `.11` up to the address before the broadcast. */
export function hostCapacity(net: LabNet): number {
  return 2 ** (32 - net.bits) - FIRST_HOST - 1;
}

/** The bridge's address (`.1` of the subnet). */
export function bridgeAddress(net: LabNet): string {
  return n2ip(net.network + 1);
}

/** Address of host `k` (0-based: `h1` is `k = 0`, at `.11`). */
export function hostAddress(net: LabNet, k: number): string {
  return n2ip(net.network + FIRST_HOST + k);
}

/** The /24 prefixes (`198.18.32`) the subnet covers, in order. */
export function slash24s(net: LabNet): string[] {
  const n = 2 ** (MAX_BITS - net.bits);
  return Array.from({ length: n }, (_, i) => n2ip(net.network + i * 256).replace(/\.0$/, ""));
}

/** True when `ip` (a dotted quad) lies inside the subnet. */
export function inSubnet(net: LabNet, ip: string): boolean {
  const n = ip2n(ip);
  return n >= net.network && n < net.network + 2 ** (32 - net.bits);
}
