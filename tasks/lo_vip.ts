/**
 * `loVip`: virtual IPs on `lo` (LVS direct routing real servers), live and persisted.
 *
 * Persisted as a netplan file (`/etc/netplan/99-haplay-lo.yaml` by default, validated like
 * {@link netplan}), which is what brings the VIPs back at boot (netplan's generator renders it
 * for systemd-networkd). Made live with `ip addr replace VIP dev lo`; where systemd-networkd
 * runs, the file's `lo` netdef is also rendered to /run/systemd/network and networkd reloaded
 * ({@link netplanRenderSh}), so networkd's view matches the file and only `lo` is
 * reconfigured (never `netplan apply`, which reconfigures every interface and drops the
 * addresses networkd did not configure, like a VRRP VIP). Rollback restores the file,
 * re-renders, and removes the addresses the run added (or re-adds those it removed).
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { common, parseArgs, withCommon } from "./_args.ts";
import { FactsError, ok } from "./_plan.ts";
import { planFrom } from "./_fact_plan.ts";
import { END, statProbe } from "./_sh.ts";
import { fileProbe, planFile } from "./file.ts";
import {
  fileFactsText,
  NETPLAN_ENV_PROBE,
  type NetplanFacts,
  netplanName,
  netplanRenderSh,
  netplanSpec,
  parseNetplanEnv,
  parseNetplanFile,
} from "./netplan.ts";
import { absentBackup, absentRestore, planAbsentStat } from "./absent.ts";

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

/** The facts of {@link loVip}: network stack, the netplan file, and lo's IPv4 addresses. */
export type LoVipFacts = NetplanFacts & { lo: string[] };

/** Parse {@link LO_PROBE}'s lines (every `lo=` line, in order). */
export function parseLo(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l.startsWith("lo=")).map((l) => l.slice(3));
}

/** The typed fact of {@link loVip} (present: the file diffed against its content; absent: stat). */
export function loVipFact(a: z.output<typeof LoVipArgs>): Fact<LoVipFacts> {
  const path = `/etc/netplan/${a.file}.yaml`;
  const file = a.state === "present"
    ? fileProbe(path, netplanSpec(a.file, loConfig(a.address)))
    : [statProbe(path), END].join("\n");
  return {
    sh: [NETPLAN_ENV_PROBE, LO_PROBE, file].join("\n"),
    parse: (stdout) => {
      if (!/^end=1$/m.test(stdout)) throw new FactsError("missing end=");
      return { ...parseNetplanEnv(stdout), ...parseNetplanFile(stdout), lo: parseLo(stdout) };
    },
  };
}

/** Pure planner of {@link loVip}. */
export function planLoVip(a: z.output<typeof LoVipArgs>, f: LoVipFacts): Plan {
  const path = `/etc/netplan/${a.file}.yaml`;
  const vips = a.address.map(q).join(" ");
  // networkd's rendering of lo follows the file (live and at rollback) where networkd runs;
  // elsewhere the file only takes effect at boot.
  const render = f.networkd && f.netplan ? `\n${netplanRenderSh(["lo"])}` : "";
  // Rollback re-renders wherever networkd runs by then (the snippet checks on the host).
  const unrender = `\n${netplanRenderSh(["lo"])}`;
  const rendered = render ? " + networkctl reload (lo)" : "";
  const presentSh = `ip -o -4 addr show dev lo | grep -qF " inet $_v "`;
  const backupLive =
    `for _v in ${vips}; do if ${presentSh}; then echo "$_v" >> "$J/vip.present"; fi; done`;
  const readd = `for _v in ${vips}; do if grep -qxF "$_v" "$J/vip.present" 2>/dev/null; then ` +
    `ip addr replace "$_v" dev lo; else ip addr del "$_v" dev lo 2>/dev/null || :; fi; done`;
  if (a.state === "absent") {
    const here = a.address.filter((v) => f.lo.includes(v));
    const fp = planAbsentStat(path, f.file);
    if (!here.length && fp.kind === "ok") {
      return ok(`${a.address.join(", ")} not on lo, ${path} absent`);
    }
    const parts = [
      here.length ? `remove ${here.join(", ")} from lo` : "",
      fp.kind === "change" ? `remove ${path}${rendered}` : "",
    ];
    return {
      kind: "change",
      summary: parts.filter(Boolean).join(", "),
      backup: `${absentBackup(path)}\n${backupLive}`,
      apply: `rm -f -- ${q(path)}${
        fp.kind === "change" ? render : ""
      }\nfor _v in ${vips}; do ip addr del "$_v" dev lo 2>/dev/null || :; done`,
      restore: `${absentRestore(path)}${unrender}\n${readd}`,
    };
  }
  const missing = a.address.filter((v) => !f.lo.includes(v));
  const spec = netplanSpec(a.file, loConfig(a.address));
  const fp = planFile(spec, fileFactsText(f));
  if (!missing.length && fp.kind === "ok") return ok(`${a.address.join(", ")} on lo and persisted`);
  const parts: string[] = [];
  if (missing.length) parts.push(`add ${missing.join(", ")} to lo`);
  if (fp.kind === "change") {
    parts.push(
      `${fp.summary}${f.netplan ? rendered : " (netplan not installed: not validated)"}`,
    );
  }
  return {
    kind: "change",
    summary: parts.join(", "),
    diff: fp.kind === "change" ? fp.diff : undefined,
    backup: `hp_save_path ${q(path)}\n${backupLive}`,
    apply: `${
      fp.kind === "change" ? fp.apply + render + "\n" : ""
    }for _v in ${vips}; do ip addr replace "$_v" dev lo; done`,
    restore: `hp_restore_path ${q(path)}\nhp_rm_created${unrender}\n${readd}`,
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
  const fact = loVipFact(a);
  return withCommon({
    name: a.name ?? `loVip ${a.address.join(",")}${a.state === "absent" ? " absent" : ""}`,
    module: "loVip",
    resource: `file:${path}`,
    probe: fact.sh,
    plan: planFrom(`loVip ${a.address.join(",")}`, fact, (f) => planLoVip(a, f)),
  }, a);
}
