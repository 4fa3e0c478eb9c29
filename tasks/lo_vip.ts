/**
 * `loVip`: virtual IPs on `lo` (LVS direct routing real servers), live and persisted.
 *
 * Persisted as a netplan file (`/etc/netplan/99-haplay-lo.yaml` by default, validated like
 * {@link netplan} but never `netplan apply`-ed: bouncing interfaces on a load-balanced host is
 * not worth it) and made live with `ip addr replace VIP dev lo` on every host. Rollback
 * restores the file and removes the addresses the run added (or re-adds those it removed).
 * @module
 */
import { z } from "zod";
import type { Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import { guarded, need, ok } from "./_plan.ts";
import { END } from "./_sh.ts";
import { fileProbe, planFile } from "./file.ts";
import { NETPLAN_ENV_PROBE, netplanName, netplanSpec } from "./netplan.ts";
import { absentBackup, absentRestore, planAbsent } from "./absent.ts";

/** IPv4 address with optional prefix, normalized to `A.B.C.D/P` (default /32). */
export const ipv4Cidr = z.string().transform((s, ctx) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(s.trim());
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5] ?? 32) > 32) {
    ctx.addIssue({ code: "custom", message: `not an IPv4 address/prefix: ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return `${m.slice(1, 5).map(Number).join(".")}/${Number(m[5] ?? 32)}`;
});

/** Arguments of {@link loVip}. */
export const LoVipArgs = z.object({
  ...common,
  address: z.union([ipv4Cidr, z.array(ipv4Cidr).min(1)]).transform((a) => [...new Set([a].flat())]),
  /** netplan file name (without .yaml). */
  file: netplanName.default("99-haplay-lo"),
  state: z.enum(["present", "absent"]).default("present"),
}).strict();

/** Input of {@link loVip}. */
export type LoVipInput = z.input<typeof LoVipArgs>;

/** The netplan document for the VIPs (keeps 127.0.0.1/8 on lo). */
export function loConfig(addresses: string[]): Record<string, unknown> {
  return {
    network: {
      version: 2,
      ethernets: { lo: { match: { name: "lo" }, addresses: ["127.0.0.1/8", ...addresses] } },
    },
  };
}

/** Probe lines `lo=A/P` for every IPv4 address on lo. */
export const LO_PROBE =
  `ip -o -4 addr show dev lo 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "inet") print "lo=" $(i + 1) }'`;

/** Pure planner of {@link loVip}. */
export function planLoVip(a: z.output<typeof LoVipArgs>, facts: string): Plan {
  const f = parseKv(facts);
  need(f, "end");
  const live = facts.split("\n").filter((l) => l.startsWith("lo=")).map((l) => l.slice(3));
  const path = `/etc/netplan/${a.file}.yaml`;
  const vips = a.address.map(q).join(" ");
  const presentSh = `ip -o -4 addr show dev lo | grep -qF " inet $_v "`;
  const backupLive =
    `for _v in ${vips}; do if ${presentSh}; then echo "$_v" >> "$J/vip.present"; fi; done`;
  const readd = `for _v in ${vips}; do if grep -qxF "$_v" "$J/vip.present" 2>/dev/null; then ` +
    `ip addr replace "$_v" dev lo; else ip addr del "$_v" dev lo 2>/dev/null || :; fi; done`;
  if (a.state === "absent") {
    const here = a.address.filter((v) => live.includes(v));
    const fp = planAbsent(path, facts);
    if (!here.length && fp.kind === "ok") {
      return ok(`${a.address.join(", ")} not on lo, ${path} absent`);
    }
    const parts = [
      here.length ? `remove ${here.join(", ")} from lo` : "",
      fp.kind === "change" ? `remove ${path}` : "",
    ];
    return {
      kind: "change",
      summary: parts.filter(Boolean).join(", "),
      backup: `${absentBackup(path)}\n${backupLive}`,
      apply: `rm -f -- ${
        q(path)
      }\nfor _v in ${vips}; do ip addr del "$_v" dev lo 2>/dev/null || :; done`,
      restore: `${absentRestore(path)}\n${readd}`,
    };
  }
  const missing = a.address.filter((v) => !live.includes(v));
  const spec = netplanSpec(a.file, loConfig(a.address));
  const fp = planFile(spec, facts);
  if (!missing.length && fp.kind === "ok") return ok(`${a.address.join(", ")} on lo and persisted`);
  const parts: string[] = [];
  if (missing.length) parts.push(`add ${missing.join(", ")} to lo`);
  if (fp.kind === "change") {
    parts.push(
      `${fp.summary}${f.netplan_bin === "1" ? "" : " (netplan not installed: not validated)"}`,
    );
  }
  return {
    kind: "change",
    summary: parts.join(", "),
    diff: fp.kind === "change" ? fp.diff : undefined,
    backup: `hp_save_path ${q(path)}\n${backupLive}`,
    apply: `${
      fp.kind === "change" ? fp.apply + "\n" : ""
    }for _v in ${vips}; do ip addr replace "$_v" dev lo; done`,
    restore: `hp_restore_path ${q(path)}\nhp_rm_created\n${readd}`,
  };
}

/**
 * VIPs on lo, live and persisted.
 *
 * @example
 * loVip({ address: "198.18.0.5/32" })
 */
export function loVip(args: LoVipInput): Task {
  const a = parseArgs("loVip", LoVipArgs, args);
  const path = `/etc/netplan/${a.file}.yaml`;
  return withCommon({
    name: a.name ?? `loVip ${a.address.join(",")}${a.state === "absent" ? " absent" : ""}`,
    module: "loVip",
    resource: `file:${path}`,
    probe: [NETPLAN_ENV_PROBE, LO_PROBE, fileProbe(path), END].join("\n"),
    plan: guarded(`loVip ${a.address.join(",")}`, (facts) => planLoVip(a, facts)),
  }, a);
}
