/**
 * Verify, the boot half: for every piece verify finds live on a host, is it also persisted so
 * the host's own boot brings it back? And, after a rollback, is nothing of haplay's left, live
 * or persisted? Pure: the sh lines the verify script adds (in the same exec) and the judgement
 * of what they printed.
 *
 * What boot would do is read the way boot reads it:
 * - lo VIP: `netplan generate` of /lib, /etc and /run/netplan into a temp root, then the
 *   `.network` file systemd-networkd would pick for `lo` (the first by name over
 *   /etc, /run and /usr/lib/systemd/network, a name in /etc hiding the same name in /run):
 *   it must carry `Address=VIP/32`;
 * - REDIRECT and MARK rules: the rule in /etc/iptables/rules.v4 (rules.v6), netfilter-persistent
 *   enabled;
 * - fwmark rule and route: their lines in haplay's replay script and its unit enabled (or its
 *   ifupdown hook on hosts without systemd);
 * - sysctls: the value the last assignment in systemd-sysctl's order (sysctl.d files by name,
 *   /etc before /run before /usr/lib for a same name) gives the key;
 * - keepalived: enabled at boot (`systemctl is-enabled`, or rc.d links).
 * @module
 */
import { q } from "../engine/shell.ts";
import type { VerifyCheck } from "../engine/playbook.ts";
import { enabledAtBootSh } from "../tasks/service.ts";
import { PR_IFUP, PR_SCRIPT, PR_UNIT } from "../tasks/_policy_routing.ts";
import {
  type Cluster,
  type RealServerDuty,
  type ResolvedService,
  serviceMatch,
} from "./cluster.ts";
import { HAPLAY_KEEPALIVED_DIR, NETPLAN_LO_NAME, SYSCTL_LB, SYSCTL_RS } from "./paths.ts";

/** What the persistence checks of one host look at (a subset of a host's verify plan). */
export interface PersistPlan {
  host: string;
  cluster?: Cluster;
  duties: RealServerDuty[];
}

/** Facts of one host (as verify_script's `parseFacts` returns them). */
export type Facts = Map<string, string[]>;

/** haplay's netplan file of the lo VIPs. */
export const NETPLAN_LO = `/etc/netplan/${NETPLAN_LO_NAME}.yaml`;
/** The rules files netfilter-persistent restores at boot. */
export const RULES_V4 = "/etc/iptables/rules.v4";
export const RULES_V6 = "/etc/iptables/rules.v6";

/** sysctl.d directories in systemd-sysctl's precedence (a same file name: the first wins). */
export const SYSCTL_DIRS = [
  "/etc/sysctl.d",
  "/run/sysctl.d",
  "/usr/local/lib/sysctl.d",
  "/usr/lib/sysctl.d",
  "/lib/sysctl.d",
];
/** systemd-networkd's .network directories in precedence (`/run` holds netplan's output). */
const NETWORK_DIRS = [
  "/etc/systemd/network",
  "/run/systemd/network",
  "/usr/local/lib/systemd/network",
  "/usr/lib/systemd/network",
  "/lib/systemd/network",
];

/** The dsr-fwmark services of a cluster. */
function fwmarkServices(c: Cluster | undefined): ResolvedService[] {
  return c
    ? c.services.filter((s) => s.mode === "dsr-fwmark" && s.cfg.vip && s.cfg.fwmark !== undefined)
    : [];
}

/** The fwmarks of a cluster, each with its rule priority (as the dsr_fwmark role numbers them). */
export function fwmarkRules(c: Cluster | undefined): { mark: number; priority: number }[] {
  const marks = [...new Set(fwmarkServices(c).map((s) => s.cfg.fwmark!))];
  return marks.map((mark, i) => ({ mark, priority: c!.cfg.fwmark_rule_priority + i }));
}

/** The kernel parameters a host must have at least (the sysctl role's files may add more). */
export function requiredSysctls(p: PersistPlan): { key: string; value: string; file: string }[] {
  const out: { key: string; value: string; file: string }[] = [];
  if (p.cluster?.services.some((s) => s.mode !== "vrrp-only")) {
    out.push({ key: "net.ipv4.ip_forward", value: "1", file: SYSCTL_LB });
  }
  if (p.duties.some((d) => d.method === "lo")) {
    out.push({ key: "net.ipv4.conf.all.arp_ignore", value: "1", file: SYSCTL_RS });
    out.push({ key: "net.ipv4.conf.all.arp_announce", value: "2", file: SYSCTL_RS });
  }
  return out;
}

/** haplay's sysctl files of a host. */
function sysctlFiles(p: PersistPlan): string[] {
  return [
    ...(p.cluster ? [SYSCTL_LB] : []),
    ...(p.duties.some((d) => d.method === "lo") ? [SYSCTL_RS] : []),
  ];
}

const AWK_SYSCTL =
  `awk -v f="$_f" '{ sub(/[#;].*/, ""); i = index($0, "="); if (!i) next; k = substr($0, 1, i - 1); v = substr($0, i + 1); gsub(/^[ \\t-]+|[ \\t]+$/, "", k); gsub(/^[ \\t]+|[ \\t]+$/, "", v); gsub("/", ".", k); print "sysset=" f "|" k "|" v }'`;

/** sh printing what the persistence checks read (appended to the host's verify script). */
export function persistScript(p: PersistPlan): string {
  const lines = [
    `if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then echo init=systemd; else echo init=other; fi`,
    // every sysctl.d assignment, in directory precedence (judged in TS), and the live values
    `for _d in ${
      SYSCTL_DIRS.join(" ")
    }; do for _f in "$_d"/*.conf; do [ -f "$_f" ] || continue; echo "sysfile=$_f"; ${AWK_SYSCTL} "$_f"; done; done`,
    `for _k in ${requiredSysctls(p).map((s) => s.key).join(" ")} $(cat ${
      sysctlFiles(p).map(q).join(" ")
    } /dev/null 2>/dev/null | sed -n 's/^[ \\t]*\\([a-z0-9_./-]*\\)[ \\t]*=.*/\\1/p' | tr / .); do echo "sysctl_live=$_k $(sysctl -n "$_k" 2>/dev/null)"; done`,

    // how this boot's systemd-sysctl ended (a failed run leaves persisted sysctls unapplied)
    `if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then systemctl show -p ActiveState -p Result systemd-sysctl.service 2>/dev/null | sed 's/^/sysctl_unit_/'; fi`,
  ];
  const redirect = p.duties.some((d) => d.method === "redirect");
  const fw = fwmarkServices(p.cluster);
  if (redirect || fw.length) {
    lines.push(
      `for _r in ${RULES_V4}:p4 ${RULES_V6}:p6; do [ -f "\${_r%:*}" ] && awk -v k="\${_r##*:}" '/^\\*/ { t = substr($0, 2) } /^-A / { print k "=" t "|" $0 }' "\${_r%:*}"; done`,
      `if command -v netfilter-persistent >/dev/null 2>&1; then echo nfp_bin=1; else echo nfp_bin=0; fi`,
      `if ${
        enabledAtBootSh("netfilter-persistent")
      }; then echo nfp_enabled=1; else echo nfp_enabled=0; fi`,
    );
  }
  if (fw.length) {
    const table = p.cluster!.cfg.fwmark_table;
    lines.push(
      `iptables -w -t mangle -S PREROUTING 2>/dev/null | sed 's/^/mangle=/'`,
      `ip -4 rule show 2>/dev/null | sed 's/^/iprule=/'`,
      `ip -4 route show table ${table} 2>/dev/null | sed 's/^/iproute=/'`,
      `if [ -f ${PR_SCRIPT} ]; then sed 's/^/pr=/' ${PR_SCRIPT}; fi`,
      `if systemctl -q is-enabled haplay-policy-routing 2>/dev/null; then echo pr_enabled=1; else echo pr_enabled=0; fi`,
      `if [ ! -d /etc/network/if-up.d ]; then echo pr_ifup=na; elif [ -x ${PR_IFUP} ]; then echo pr_ifup=1; else echo pr_ifup=0; fi`,
    );
  }
  if (p.cluster) {
    lines.push(
      `if ${enabledAtBootSh("keepalived")}; then echo ka_enabled=1; else echo ka_enabled=0; fi`,
    );
  }
  if (p.duties.some((d) => d.method === "lo")) {
    lines.push(
      `if systemctl is-active --quiet systemd-networkd 2>/dev/null; then echo networkd=1; else echo networkd=0; fi`,
      `for _d in /lib /etc /run; do for _f in "$_d"/netplan/*.yaml; do [ -f "$_f" ] || continue; echo "np=$_f"; if grep -qE '^[[:space:]]+lo:|name:[[:space:]]*"?lo"?[[:space:]]*$' "$_f"; then echo "np_lo=$_f"; fi; done; done`,
      `if command -v netplan >/dev/null 2>&1; then`,
      `  _T=$(mktemp -d); for _d in lib etc run; do mkdir -p "$_T/$_d/netplan"; if [ -d "/$_d/netplan" ]; then cp -a "/$_d/netplan/." "$_T/$_d/netplan/"; fi; done`,
      `  if _e=$(netplan generate --root-dir "$_T" 2>&1); then echo np_gen=0; else printf 'np_gen=1 %s\\n' "$(printf '%s' "$_e" | tail -n 3 | tr '\\n' ' ' | cut -c1-200)"; fi`,
      `  for _d in ${
        NETWORK_DIRS.join(" ")
      }; do _s=$_d; [ "$_d" = /run/systemd/network ] && _s="$_T/run/systemd/network"; for _f in "$_s"/*.network; do [ -f "$_f" ] || continue; _n=$_d/\${_f##*/}; echo "nw=$_n"; sed -n "s#^[[:space:]]*\\(Name\\|Address\\)[[:space:]]*=[[:space:]]*\\(.*\\)#nwl=$_n \\1 \\2#p" "$_f"; done; done`,
      `  rm -rf "$_T"`,
      `else echo np_gen=none; fi`,
      // what networkd runs with now (after a rollback, the rendering must be gone too)
      `if [ -f /run/systemd/network/10-netplan-lo.network ]; then sed -n 's/^Address=/nw_live=/p' /run/systemd/network/10-netplan-lo.network; fi`,
    );
  }
  lines.push(`if [ -e ${HAPLAY_KEEPALIVED_DIR} ]; then echo ka_dir=1; else echo ka_dir=0; fi`);
  for (const f of [...sysctlFiles(p), PR_SCRIPT, PR_UNIT, NETPLAN_LO]) {
    lines.push(`if [ -e ${q(f)} ]; then echo "exists=${f}"; fi`);
  }
  return lines.join("\n");
}

const one = (f: Facts, k: string) => f.get(k)?.[0];
const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);

/** A shell glob (`*`, `?`) as a RegExp. */
function glob(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`);
}

/** sysctl.d files in the order systemd-sysctl applies them (same name: first directory wins). */
export function sysctlOrder(f: Facts): string[] {
  const rank = (p: string) => SYSCTL_DIRS.indexOf(p.slice(0, p.lastIndexOf("/")));
  const chosen = new Map<string, string>();
  for (const path of f.get("sysfile") ?? []) {
    const had = chosen.get(base(path));
    if (had === undefined || rank(path) < rank(had)) chosen.set(base(path), path);
  }
  return [...chosen.keys()].sort().map((b) => chosen.get(b)!);
}

/** The value boot gives `key`, and the file it comes from (the last assignment that matches). */
export function bootSysctl(f: Facts, key: string): { value: string; file: string } | undefined {
  const files = sysctlOrder(f);
  const sets = (f.get("sysset") ?? []).map((l) => l.split("|"));
  let got: { value: string; file: string } | undefined;
  for (const file of files) {
    for (const [sf, k, v] of sets) {
      if (sf === file && (k === key || (k.includes("*") && glob(k).test(key)))) {
        got = { value: v, file };
      }
    }
  }
  return got;
}

/** The sysctls a host must have: required ones and every line of haplay's files for it. */
export function wantedSysctls(
  p: PersistPlan,
  f: Facts,
): { key: string; value: string; file: string }[] {
  const out = new Map<string, { key: string; value: string; file: string }>();
  for (const r of requiredSysctls(p)) out.set(r.key, r);
  const mine = new Set(sysctlFiles(p));
  for (const [file, k, v] of (f.get("sysset") ?? []).map((l) => l.split("|"))) {
    if (mine.has(file)) out.set(k, { key: k, value: v, file });
  }
  return [...out.values()];
}

/** The `.network` file networkd would pick for `lo` at boot, with its addresses. */
export function bootLoNetwork(f: Facts): { file: string; addresses: string[] } | undefined {
  const chosen = new Map<string, string>();
  for (const path of f.get("nw") ?? []) if (!chosen.has(base(path))) chosen.set(base(path), path);
  const lines = (f.get("nwl") ?? []).map((l) => l.split(" "));
  for (const b of [...chosen.keys()].sort()) {
    const file = chosen.get(b)!;
    const mine = lines.filter((l) => l[0] === file);
    const names = mine.filter((l) => l[1] === "Name").flatMap((l) => l.slice(2));
    if (names.some((n) => glob(n).test("lo"))) {
      return { file, addresses: mine.filter((l) => l[1] === "Address").map((l) => l[2]) };
    }
  }
  return undefined;
}

/** An iptables rule line matches the `-x y` pairs of `want` (and the `-j TARGET`). */
export function ruleMatches(line: string, want: string[]): boolean {
  if (!line.startsWith("-A PREROUTING")) return false;
  for (let i = 0; i + 1 < want.length; i += 2) {
    if (want[i] === "--set-mark") {
      const hex = `0x${Number(want[i + 1]).toString(16)}`;
      if (!new RegExp(`--set-x?mark (${hex}|${want[i + 1]})(/0xffffffff)?(\\s|$)`).test(line)) {
        return false;
      }
    } else if (!line.includes(`${want[i]} ${want[i + 1]}`)) return false;
  }
  return true;
}

/** Per live piece, whether boot brings it back (a failure says what reboot loses, and the fix). */
export function persistChecks(p: PersistPlan, f: Facts): VerifyCheck[] {
  const out: VerifyCheck[] = [];
  const check = (check: string, ok: boolean, detail: string) =>
    out.push({ host: p.host, check, ok, detail });
  const systemd = one(f, "init") === "systemd";
  const fix = "run the deploy again (deno task deploy) to restore it";
  const exists = new Set(f.get("exists") ?? []);

  // lo VIPs
  const loVips = [
    ...new Set(p.duties.filter((d) => d.method === "lo").map((d) => `${d.service.cfg.vip}/32`)),
  ];
  if (loVips.length) {
    const networkd = one(f, "networkd") === "1";
    const gen = one(f, "np_gen") ?? "none";
    const later = (f.get("np_lo") ?? []).filter((x) => x !== NETPLAN_LO);
    const boot = bootLoNetwork(f);
    for (const vip of loVips) {
      const what = `${vip} on lo`;
      if (!exists.has(NETPLAN_LO)) {
        check(
          "VIP on lo persisted",
          false,
          `${what}: ${NETPLAN_LO} is missing: the VIP will be lost at reboot; ${fix}`,
        );
      } else if (!networkd || gen === "none") {
        check(
          "VIP on lo persisted",
          true,
          `${what}: in ${NETPLAN_LO} (${
            gen === "none" ? "netplan not installed" : "no systemd-networkd"
          }: not rendered at boot on this host)`,
        );
      } else if (gen !== "0") {
        check(
          "VIP on lo persisted",
          false,
          `${what}: netplan generate fails (${
            gen.slice(2)
          }): nothing netplan renders comes back at reboot; fix the netplan files${
            later.length ? ` (${later.join(", ")})` : ""
          }`,
        );
      } else if (!boot || !boot.addresses.includes(vip)) {
        const by = boot && base(boot.file) !== "10-netplan-lo.network"
          ? `${boot.file} (networkd's first .network matching lo) replaces netplan's`
          : later.length
          ? `overridden by ${later.join(", ")}`
          : "not in netplan's rendering";
        check(
          "VIP on lo persisted",
          false,
          `${what}: ${by}: the VIP will be lost at reboot; remove the override, then ${fix}`,
        );
      } else {
        check("VIP on lo persisted", true, `${what}: ${NETPLAN_LO}, rendered to ${boot.file}`);
      }
    }
  }

  // iptables rules (REDIRECT on real servers, MARK on dsr-fwmark LBs)
  const rules: { what: string; table: string; v6: boolean; want: string[] }[] = [];
  for (const d of p.duties.filter((d) => d.method === "redirect")) {
    rules.push({
      what: "REDIRECT rule",
      table: "nat",
      v6: d.service.cfg.vip!.includes(":"),
      want: [...serviceMatch(d.service), "-j", "REDIRECT"],
    });
  }
  for (const s of fwmarkServices(p.cluster)) {
    rules.push({
      what: "MARK rule",
      table: "mangle",
      v6: false,
      want: [...serviceMatch(s), "-j", "MARK", "--set-mark", String(s.cfg.fwmark)],
    });
  }
  const seen = new Set<string>();
  for (const r of rules) {
    const text = `${r.table} ${r.want.join(" ")}`;
    if (seen.has(text)) continue;
    seen.add(text);
    const file = r.v6 ? RULES_V6 : RULES_V4;
    const saved = (f.get(r.v6 ? "p6" : "p4") ?? []).some((l) =>
      l.startsWith(`${r.table}|`) && ruleMatches(l.slice(r.table.length + 1), r.want)
    );
    // without systemd, boot enablement is the init's business (rc links, or none): only the
    // rules file is judged there, as the deploy does
    const enabled = !systemd || one(f, "nfp_enabled") === "1";
    const ok = saved && enabled;
    check(
      `${r.what} persisted`,
      ok,
      ok
        ? `${text}: in ${file}, ${
          systemd ? "netfilter-persistent enabled" : "no systemd: boot enablement not checked"
        }`
        : !saved
        ? `${text}: not in ${file}: the rule will be lost at reboot; run \`netfilter-persistent save\` (or ${fix})`
        : `${text}: in ${file} but netfilter-persistent is not enabled: no rule is restored at reboot; run \`systemctl enable netfilter-persistent\``,
    );
  }

  // fwmark ip rules and the local route
  const fw = fwmarkRules(p.cluster);
  if (fw.length) {
    const table = p.cluster!.cfg.fwmark_table;
    const pr = f.get("pr") ?? [];
    // neither systemd nor ifupdown: nothing replays anything at boot (the deploy installs no
    // hook there either), so only the script's lines are judged
    const noBoot = !systemd && one(f, "pr_ifup") === "na";
    const hook = systemd ? one(f, "pr_enabled") === "1" : noBoot || one(f, "pr_ifup") === "1";
    const hookName = systemd
      ? "haplay-policy-routing.service enabled"
      : noBoot
      ? "no systemd nor ifupdown: not replayed at boot on this host"
      : `${PR_IFUP} present`;
    const hookFix = systemd ? "run `systemctl enable haplay-policy-routing`" : fix;
    const pieces = [
      ...fw.map((r) => ({
        what: `fwmark ${r.mark} lookup ${table} (prio ${r.priority})`,
        marker: `# haplay:ip-rule:${r.priority}`,
      })),
      { what: `local 0.0.0.0/0 dev lo table ${table}`, marker: `# haplay:ip-route:${table}:` },
    ];
    for (const x of pieces) {
      const saved = pr.some((l) => l.includes(x.marker));
      const ok = saved && hook;
      check(
        x.marker.includes("ip-rule") ? "fwmark rule persisted" : "fwmark route persisted",
        ok,
        ok
          ? `${x.what}: in ${PR_SCRIPT}, ${hookName}`
          : !saved
          ? `${x.what}: not in ${PR_SCRIPT}: it will be lost at reboot; ${fix}`
          : `${x.what}: in ${PR_SCRIPT} but ${
            systemd ? "haplay-policy-routing.service is not enabled" : `${PR_IFUP} is missing`
          }: nothing replays it at boot; ${hookFix}`,
      );
    }
  }

  // sysctls
  for (const s of wantedSysctls(p, f)) {
    const b = bootSysctl(f, s.key);
    const ok = b?.value === s.value;
    check(
      "sysctl persisted",
      ok,
      ok
        ? `${s.key} = ${s.value} (${b!.file})`
        : !b
        ? `${s.key} = ${s.value}: in no sysctl.d file: reboot resets it to the kernel default; ${fix}`
        : `${s.key} = ${s.value}: ${b.file} sets ${b.value} after ${s.file}: reboot makes it ${b.value}; remove the line from ${b.file}`,
    );
  }

  if (p.cluster) {
    const on = one(f, "ka_enabled") === "1";
    check(
      "keepalived enabled",
      on,
      on
        ? "starts at boot"
        : `keepalived is not enabled: it will not start at reboot (no VRRP, no virtual servers); run \`${
          systemd ? "systemctl enable keepalived" : "update-rc.d keepalived enable"
        }\``,
    );
  }
  return out;
}

/**
 * Why a persisted sysctl is not live (text to append to the failure, "" when unknown): this
 * boot's `systemd-sysctl.service` failed (e.g. `Result: timeout`: its 90 s start limit hit, so
 * no sysctl.d file was applied), or it ran and something set the key since.
 */
export function sysctlBootCause(f: Facts, s: { key: string; value: string }): string {
  if (bootSysctl(f, s.key)?.value !== s.value) return "";
  const state = one(f, "sysctl_unit_ActiveState");
  const result = one(f, "sysctl_unit_Result");
  if (state === undefined) return "";
  if (state === "failed" || (result !== undefined && result !== "success")) {
    return `: systemd-sysctl.service failed at this boot (${state}, Result: ${
      result ?? "?"
    }), so the sysctl.d files were not applied; \`systemctl restart systemd-sysctl\` applies them, \`journalctl -b -u systemd-sysctl\` says why`;
  }
  if (state === "active") {
    return ": systemd-sysctl.service applied the sysctl.d files at boot, something changed it since";
  }
  return `: systemd-sysctl.service is ${state} at this boot`;
}

/** Live checks the persistence checks pair with that the base verify does not make. */
export function liveExtraChecks(p: PersistPlan, f: Facts): VerifyCheck[] {
  const out: VerifyCheck[] = [];
  const check = (check: string, ok: boolean, detail: string) =>
    out.push({ host: p.host, check, ok, detail });
  const live = new Map(
    (f.get("sysctl_live") ?? []).map((l) => [l.split(" ")[0], l.split(" ").slice(1).join(" ")]),
  );
  for (const s of wantedSysctls(p, f)) {
    const v = live.get(s.key);
    check(
      "sysctl live",
      v === s.value,
      `${s.key} = ${v || "?"}${v === s.value ? "" : ` (want ${s.value})${sysctlBootCause(f, s)}`}`,
    );
  }
  const fw = fwmarkRules(p.cluster);
  if (!fw.length) return out;
  const table = p.cluster!.cfg.fwmark_table;
  const mangle = f.get("mangle") ?? [];
  for (const s of fwmarkServices(p.cluster)) {
    const want = [...serviceMatch(s), "-j", "MARK", "--set-mark", String(s.cfg.fwmark)];
    const has = mangle.some((l) => ruleMatches(l, want));
    check("MARK rule", has, `${want.join(" ")} ${has ? "present" : "missing"}`);
  }
  const rules = f.get("iprule") ?? [];
  for (const r of fw) {
    const hex = `0x${r.mark.toString(16)}`;
    const has = rules.some((l) =>
      l.startsWith(`${r.priority}:`) && l.includes(`fwmark ${hex}`) &&
      new RegExp(`lookup ${table}\\b`).test(l)
    );
    check(
      "fwmark rule",
      has,
      `${r.priority}: fwmark ${hex} lookup ${table} ${has ? "present" : "missing"}`,
    );
  }
  const route = (f.get("iproute") ?? []).some((l) =>
    /^local (default|0\.0\.0\.0\/0) dev lo\b/.test(l)
  );
  check(
    "fwmark route",
    route,
    `local 0.0.0.0/0 dev lo table ${table} ${route ? "present" : "missing"}`,
  );
  return out;
}

/**
 * After a rollback: nothing of haplay's left on the host, live or persisted (keepalived stopped
 * and disabled, its include directory, the VIPs, rules, routes, haplay's files, the rendering of
 * lo). VRRP VIPs are judged across hosts by {@link absentVrrpChecks}.
 */
export function absentChecks(p: PersistPlan, f: Facts): VerifyCheck[] {
  const out: VerifyCheck[] = [];
  const left = (check: string, what: string[]) =>
    out.push({
      host: p.host,
      check,
      ok: what.length === 0,
      detail: what.length ? `left: ${what.join("; ")}` : "nothing left",
    });
  const exists = new Set(f.get("exists") ?? []);
  if (p.cluster) {
    const ka: string[] = [];
    const running = one(f, "running") === "1", haplayDir = one(f, "ka_dir") === "1";
    const enabled = one(f, "ka_enabled") === "1";
    if (running) ka.push("keepalived running");
    // an enabled unit alone is the package's own state (Debian enables keepalived on install;
    // a host that had keepalived before haplay keeps it after a rollback): it counts as left
    // only beside something of haplay's that it would start
    if (enabled && (running || haplayDir)) ka.push("keepalived enabled at boot");
    if (haplayDir) ka.push(HAPLAY_KEEPALIVED_DIR);
    left("keepalived absent", ka);
    if (!ka.length && enabled) {
      out[out.length - 1].detail = "nothing left (keepalived's unit is enabled, with no haplay " +
        "config: the package's own state)";
    }
  }
  const files = [...sysctlFiles(p), PR_SCRIPT, PR_UNIT, NETPLAN_LO].filter((x) => exists.has(x));
  left("haplay files absent", files);
  const loVips = p.duties.filter((d) => d.method === "lo").map((d) => `${d.service.cfg.vip}/32`);
  if (loVips.length) {
    const lo = new Set(f.get("lo") ?? []);
    const rendered = new Set(f.get("nw_live") ?? []);
    const boot = bootLoNetwork(f)?.addresses ?? [];
    left(
      "VIP on lo absent",
      [...new Set(loVips)].flatMap((v) => [
        ...(lo.has(v) ? [`${v} on lo`] : []),
        ...(rendered.has(v) ? [`${v} in /run/systemd/network/10-netplan-lo.network`] : []),
        ...(boot.includes(v) ? [`${v} rendered for lo at boot`] : []),
      ]),
    );
  }
  const rules: string[] = [];
  const nat = f.get("nat") ?? [];
  for (const d of p.duties.filter((d) => d.method === "redirect")) {
    const want = [...serviceMatch(d.service), "-j", "REDIRECT"];
    if (nat.some((l) => ruleMatches(l, want))) rules.push(`live ${want.join(" ")}`);
    if (
      (f.get("p4") ?? []).concat(f.get("p6") ?? []).some((l) =>
        l.startsWith("nat|") && ruleMatches(l.slice(4), want)
      )
    ) {
      rules.push(`${want.join(" ")} in ${RULES_V4}`);
    }
  }
  for (const s of fwmarkServices(p.cluster)) {
    const want = [...serviceMatch(s), "-j", "MARK", "--set-mark", String(s.cfg.fwmark)];
    if ((f.get("mangle") ?? []).some((l) => ruleMatches(l, want))) {
      rules.push(`live ${want.join(" ")}`);
    }
    if ((f.get("p4") ?? []).some((l) => l.startsWith("mangle|") && ruleMatches(l.slice(7), want))) {
      rules.push(`${want.join(" ")} in ${RULES_V4}`);
    }
  }
  const fw = fwmarkRules(p.cluster);
  for (const r of fw) {
    if ((f.get("iprule") ?? []).some((l) => l.includes(`fwmark 0x${r.mark.toString(16)}`))) {
      rules.push(`ip rule fwmark ${r.mark}`);
    }
  }
  if (fw.length && (f.get("iproute") ?? []).length) {
    rules.push(`routes in table ${p.cluster!.cfg.fwmark_table}`);
  }
  if (rules.length || p.duties.some((d) => d.method === "redirect") || fw.length) {
    left("rules and routes absent", rules);
  }
  return out;
}
