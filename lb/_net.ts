/**
 * IP address helpers for the load-balancer layer: parse `addr[/prefix]`, tell families apart,
 * test subnet membership. IPv4 and IPv6, no dependencies.
 * @module
 */

/** An address with an optional prefix length, as written in an inventory. */
export interface IpPrefix {
  /** The address without the prefix, normalized (IPv6 lower case). */
  address: string;
  /** 4 or 6. */
  family: 4 | 6;
  /** The prefix length when one was written. */
  prefix?: number;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a dotted-quad IPv4 address. */
export function isIpv4(s: string): boolean {
  return V4.test(s);
}

/** True for an IPv6 address (with `::` compression, optionally an embedded IPv4 tail). */
export function isIpv6(s: string): boolean {
  return v6Words(s) !== null;
}

/** True for an IPv4 or IPv6 address without prefix. */
export function isIp(s: string): boolean {
  return isIpv4(s) || isIpv6(s);
}

/** Parses `addr` or `addr/prefix`; null when it is neither. */
export function parseIpPrefix(s: string): IpPrefix | null {
  const [addr, pfx, ...rest] = s.trim().split("/");
  if (rest.length) return null;
  const family = isIpv4(addr) ? 4 : isIpv6(addr) ? 6 : 0;
  if (family === 0) return null;
  const out: IpPrefix = { address: family === 6 ? addr.toLowerCase() : addr, family };
  if (pfx !== undefined) {
    if (!/^\d{1,3}$/.test(pfx) || Number(pfx) > (family === 4 ? 32 : 128)) return null;
    out.prefix = Number(pfx);
  }
  return out;
}

/** The address part of `addr[/prefix]` (the input unchanged when it does not parse). */
export function stripPrefix(s: string): string {
  return parseIpPrefix(s)?.address ?? s;
}

/** True when `addr` lies in `net` (`a.b.c.d/n`); false across families or on bad input. */
export function inSubnet(addr: string, net: string): boolean {
  const a = parseIpPrefix(addr);
  const n = parseIpPrefix(net);
  if (!a || !n || n.prefix === undefined || a.family !== n.family) return false;
  const bits = (x: IpPrefix) => x.family === 4 ? v4Bits(x.address) : v6Bits(x.address);
  return bits(a).slice(0, n.prefix) === bits(n).slice(0, n.prefix);
}

/** The network of `addr/prefix` written as `net/prefix` (IPv4 only; null otherwise). */
export function networkOf(cidr: string): string | null {
  const p = parseIpPrefix(cidr);
  if (!p || p.family !== 4 || p.prefix === undefined) return null;
  const bits = v4Bits(p.address).slice(0, p.prefix).padEnd(32, "0");
  const octets = [0, 8, 16, 24].map((i) => parseInt(bits.slice(i, i + 8), 2));
  return `${octets.join(".")}/${p.prefix}`;
}

function v4Bits(a: string): string {
  return a.split(".").map((o) => Number(o).toString(2).padStart(8, "0")).join("");
}

function v6Bits(a: string): string {
  return (v6Words(a) ?? []).map((w) => w.toString(2).padStart(16, "0")).join("");
}

/** The 8 16-bit words of an IPv6 address, or null when it is not one. */
function v6Words(s: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || s.split("::").length > 2) return null;
  let tail: number[] = [];
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    if (!isIpv4(v4[1])) return null;
    const o = v4[1].split(".").map(Number);
    tail = [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
    text = s.slice(0, -v4[1].length);
    if (text.endsWith(":") && !text.endsWith("::")) text = text.slice(0, -1);
  }
  const parse = (part: string) =>
    part === ""
      ? []
      : part.split(":").map((w) => (/^[0-9A-Fa-f]{1,4}$/.test(w) ? parseInt(w, 16) : NaN));
  const [head, rest] = text.split("::");
  const a = parse(head);
  const b = rest === undefined ? [] : parse(rest);
  if ([...a, ...b].some(Number.isNaN)) return null;
  const total = a.length + b.length + tail.length;
  if (rest === undefined) return total === 8 ? [...a, ...tail] : null;
  if (total > 7) return null;
  return [...a, ...new Array(8 - total).fill(0), ...b, ...tail];
}
