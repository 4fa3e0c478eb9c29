/**
 * `ipRoute`: one IPv4 route in a routing table (e.g. `local 0.0.0.0/0 dev lo table 100` for
 * transparent proxying / LVS fwmark setups), live (`ip route replace`) and persisted for boot
 * (see `_policy_routing.ts`). The task owns (table, type, prefix).
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { common, parseArgs, withCommon } from "./_args.ts";
import { allValues, parseKv } from "./_facts.ts";
import { planFrom } from "./_fact_plan.ts";
import { need, ok } from "./_plan.ts";
import { parsePersist, type PersistFact, planPersistFact, PR_PROBE } from "./_policy_routing.ts";
import { ipv4Prefix, normPrefix, routeTable } from "./_route_args.ts";
import { END } from "./_sh.ts";

/** Route types `ip route` prints before the prefix. */
export const ROUTE_TYPES = [
  "unicast",
  "local",
  "broadcast",
  "multicast",
  "throw",
  "unreachable",
  "prohibit",
  "blackhole",
  "nat",
  "anycast",
];

const destination = z.string().transform((d, ctx) => {
  const parts = d.trim().split(/\s+/);
  const type = parts.length === 2 ? parts[0] : "unicast";
  const prefix = parts[parts.length - 1];
  if (
    parts.length > 2 || !ROUTE_TYPES.includes(type) || !ipv4Prefix.safeParse(prefix).success ||
    prefix === "all"
  ) {
    ctx.addIssue({ code: "custom", message: 'must be "[TYPE] PREFIX", e.g. "local 0.0.0.0/0"' });
    return z.NEVER;
  }
  return { type, prefix: normPrefix(prefix, "default") };
});

/** Arguments of {@link ipRoute}. */
export const IpRouteArgs = z.object({
  ...common,
  /** `[TYPE] PREFIX`: "local 0.0.0.0/0", "198.18.1.0/24", "blackhole 198.18.9.0/24". */
  dest: destination,
  dev: z.string().regex(/^[A-Za-z0-9_.@:-]{1,15}$/, "must be an interface name").optional(),
  via: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, "must be an IPv4 address").optional(),
  table: routeTable.default(254),
  state: z.enum(["present", "absent"]).default("present"),
  persist: z.boolean().default(true),
}).strict().refine(
  (a) => a.state === "absent" || a.dev || a.via || !["unicast", "local"].includes(a.dest.type),
  {
    message: "dev or via is required",
    path: ["dev"],
  },
);

/** Input of {@link ipRoute}. */
export type IpRouteInput = z.input<typeof IpRouteArgs>;

/** A parsed `ip route show` line. */
export interface RouteLine {
  type: string;
  prefix: string;
  dev?: string;
  via?: string;
  raw: string;
}

/** Parse one `ip route show table T` line. */
export function parseRoute(line: string): RouteLine | undefined {
  const t = line.trim().split(/\s+/);
  if (!t[0]) return undefined;
  const type = ROUTE_TYPES.includes(t[0]) ? t.shift()! : "unicast";
  const prefix = t.shift();
  if (!prefix) return undefined;
  const r: RouteLine = { type, prefix: normPrefix(prefix, "default"), raw: line.trim() };
  for (let i = 0; i < t.length - 1; i++) {
    if (t[i] === "dev") r.dev = t[i + 1];
    if (t[i] === "via") r.via = t[i + 1];
  }
  return r;
}

/** What the route probe found: the routes of the task's table and the boot persistence. */
export interface IpRouteFact {
  routes: RouteLine[];
  persist: PersistFact;
}

/** Parse the route probe's output (throws on output it cannot read). */
export function parseIpRoutes(stdout: string): IpRouteFact {
  const f = parseKv(stdout);
  need(f, "end");
  const routes = allValues(stdout, "route").map(parseRoute)
    .filter((r): r is RouteLine => !!r);
  return { routes, persist: parsePersist(stdout) };
}

/** The routes fact of a routing table. */
export function ipRoutesFact(table: number | string): Fact<IpRouteFact> {
  return {
    sh: `ip -4 route show table ${table} 2>/dev/null | sed 's/^/route=/'\n${PR_PROBE}\n${END}`,
    parse: parseIpRoutes,
  };
}

/** Pure planner of {@link ipRoute} from the probe's raw output (throws on unreadable output). */
export function planIpRoute(a: z.output<typeof IpRouteArgs>, facts: string): Plan {
  return planIpRouteFact(a, parseIpRoutes(facts));
}

/** Pure planner of {@link ipRoute} from its {@link IpRouteFact}. */
export function planIpRouteFact(a: z.output<typeof IpRouteArgs>, f: IpRouteFact): Plan {
  const { type, prefix } = a.dest;
  const mine = f.routes.filter((r) => r.type === type && r.prefix === prefix);
  const spec = [
    `${type} ${prefix}`,
    a.via ? `via ${a.via}` : "",
    a.dev ? `dev ${q(a.dev)}` : "",
    `table ${a.table}`,
  ].filter(Boolean).join(" ");
  const desc = spec.replace(/'/g, "");
  const present = a.state === "present";
  const liveOk = present
    ? mine.length === 1 && (a.dev === undefined || mine[0].dev === a.dev) &&
      (a.via === undefined || mine[0].via === a.via)
    : mine.length === 0;
  const marker = `haplay:ip-route:${a.table}:${type}:${prefix}`;
  const persist = a.persist
    ? planPersistFact(f.persist, marker, present ? `ip route replace ${spec}` : undefined)
    : undefined;
  if (liveOk && (!persist || persist.ok)) {
    return ok(`route ${present ? desc : `${type} ${prefix} table ${a.table} absent`}`);
  }
  const parts: string[] = [];
  if (!liveOk) {
    parts.push(present ? `set route ${desc}` : `delete route ${type} ${prefix} table ${a.table}`);
  }
  if (persist && !persist.ok) parts.push(persist.summary);
  const del = `while ip route del ${type} ${prefix} table ${a.table} 2>/dev/null; do :; done`;
  return {
    kind: "change",
    summary: parts.join(", "),
    diff:
      (liveOk ? "" : [...mine.map((m) => `-${m.raw}\n`), present ? `+${desc}\n` : ""].join("")) +
      (persist?.diff ?? ""),
    backup: [
      `ip -4 route show table ${a.table} 2>/dev/null | awk -v t=${type} -v p=${q(prefix)} ` +
      `'{ ty = "unicast"; i = 1; if ($1 ~ /^(local|broadcast|multicast|throw|unreachable|prohibit|blackhole|nat|anycast|unicast)$/) { ty = $1; i = 2 } ` +
      `if (ty == t && $i == p) print }' > "$J/routes"`,
      persist?.backup ?? "",
    ].filter(Boolean).join("\n"),
    apply: [
      liveOk ? "" : present ? `ip route replace ${spec}` : del,
      persist && !persist.ok ? persist.apply : "",
    ].filter(Boolean).join("\n") || ":",
    restore: [
      `if [ -f "$J/routes" ]; then`,
      `  ${del}`,
      `  while IFS= read -r _l; do ip route add table ${a.table} $_l; done < "$J/routes"`,
      `fi`,
      persist?.restore ?? "",
    ].filter(Boolean).join("\n"),
  };
}

/**
 * An IPv4 route in a routing table.
 *
 * @example
 * ipRoute({ dest: "local 0.0.0.0/0", dev: "lo", table: 100 })
 */
export function ipRoute(args: IpRouteInput): Task {
  const a = parseArgs("ipRoute", IpRouteArgs, args);
  const what = `${a.dest.type} ${a.dest.prefix} table ${a.table}`;
  return withCommon({
    name: a.name ?? `ip route ${what}${a.state === "absent" ? " absent" : ""}`,
    module: "ipRoute",
    resource: `ip-route:${a.table}:${a.dest.type}:${a.dest.prefix}`,
    probe: ipRoutesFact(a.table).sh,
    plan: planFrom(`ipRoute ${what}`, ipRoutesFact(a.table), (f) => planIpRouteFact(a, f)),
  }, a);
}
