/**
 * Argument pieces shared by `ipRule` and `ipRoute`: routing tables and IPv4 prefixes.
 * @module
 */
import { z } from "zod";

/** Built-in table names and their numbers. */
export const TABLES: Record<string, number> = { local: 255, main: 254, default: 253 };

/** A routing table: number 1..2^31-1 or local/main/default; normalized to its number. */
export const routeTable = z.union([
  z.number().int().min(1).max(2 ** 31 - 1),
  z.enum(["local", "main", "default"]),
])
  .transform((t) => (typeof t === "number" ? t : TABLES[t]));

/** Normalize an IPv4 prefix as `ip` prints it: "default"/"all" for /0, no "/32". */
export function normPrefix(p: string, zero: "default" | "all"): string {
  if (p === "default" || p === "all" || p === "0.0.0.0/0") return zero;
  return p.endsWith("/32") ? p.slice(0, -3) : p;
}

/** IPv4 prefix (`A.B.C.D[/P]`), `default` or `all`, checked for syntax. */
export const ipv4Prefix = z.string().refine((s) => {
  if (s === "default" || s === "all") return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(s);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5] ?? 0) <= 32;
}, "must be an IPv4 address/prefix, default or all");

/** An fwmark: number or "0xVAL[/0xMASK]"; normalized to how `ip rule` prints it. */
export const fwmark = z.union([z.number().int().min(0).max(2 ** 32 - 1), z.string()]).transform(
  (m, ctx) => {
    const [v, mask] = String(m).split("/");
    const num = (s: string) => (/^(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/.test(s) ? Number(s) : NaN);
    const val = num(v);
    const msk = mask === undefined ? 0xffffffff : num(mask);
    if (!(val >= 0 && val <= 0xffffffff && msk >= 0 && msk <= 0xffffffff)) {
      ctx.addIssue({ code: "custom", message: "must be a number or 0xVAL[/0xMASK]" });
      return z.NEVER;
    }
    const hex = (n: number) => "0x" + n.toString(16);
    return msk === 0xffffffff ? hex(val) : `${hex(val)}/${hex(msk)}`;
  },
);
