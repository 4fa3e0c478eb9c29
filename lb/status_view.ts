/**
 * `deno task status` on a terminal: a compact table of a {@link StatusReport}.
 * @module
 */
import type { StatusReport } from "./status.ts";

function table(rows: string[][]): string[] {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd());
}

const n = (x: number | undefined) => x === undefined ? "-" : String(x);

/** The report as text lines (no colour: it is also what `--watch` redraws). */
export function statusText(r: StatusReport): string {
  const out: string[] = [`status at ${r.at}: ${r.ok ? "ok" : "PROBLEMS"}`];
  for (const d of r.directors.filter((d) => !d.reachable || !d.keepalived?.running)) {
    out.push(
      d.reachable
        ? `${d.host}: keepalived not running (unit ${d.keepalived?.enabled})`
        : `${d.host}: unreachable: ${d.error}`,
    );
  }
  if (r.instances.length) {
    const rows = [["instance", "host", "state", "prio", "effective", "holds"]];
    for (const i of r.instances) {
      i.members.forEach((m, k) =>
        rows.push([
          k === 0 ? `${i.name} (vrid ${i.vrid})` : "",
          m.host,
          m.state,
          n(m.configuredPriority),
          n(m.effectivePriority),
          m.holds.join(",") || "-",
        ])
      );
    }
    out.push("", ...table(rows));
    for (const i of r.instances) {
      out.push(
        i.ok
          ? `${i.name}: ok, MASTER ${i.masters[0]} holds ${i.vips.join(", ")}`
          : `${i.name}: ${i.problem}`,
      );
    }
  }
  for (const s of r.services) {
    const where = s.vip ? `${s.vip}${s.port !== undefined ? `:${s.port}` : ""}` : "";
    out.push(
      "",
      `service ${s.name} ${
        [where, s.fwmark !== undefined ? `fwmark ${s.fwmark}` : ""]
          .filter(Boolean).join(" ")
      } ${s.protocol} ${s.mode}`,
    );
    const rows = [
      ["director", "table", "real server", "weight", "active", "inactive", "state", "drained"],
    ];
    for (const d of s.directors) {
      const name = `${d.host}${d.active ? "*" : ""}`;
      if (!d.realServers.length) rows.push([name, d.table, "-", "", "", "", ""]);
      d.realServers.forEach((rs, k) =>
        rows.push([
          k === 0 ? name : "",
          k === 0 ? d.table : "",
          `${rs.address}${rs.port !== undefined ? `:${rs.port}` : ""}`,
          `${n(rs.weight)}/${rs.configuredWeight}`,
          n(rs.active),
          n(rs.inactive),
          rs.state,
          rs.drained ? "drained" : "-",
        ])
      );
      for (const u of d.unexpected) {
        rows.push(["", "", `${u.address}:${u.port}`, `${u.weight}/-`, "", "", "not in inventory"]);
      }
    }
    out.push(...table(rows).map((l) => `  ${l}`));
  }
  if (r.services.length) out.push("", "* holds the VIP (the director that forwards)");
  return out.join("\n");
}
