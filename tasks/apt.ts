/**
 * `apt`: Debian packages present, latest or absent.
 *
 * Runs apt-get with `DEBIAN_FRONTEND=noninteractive` and `-o DPkg::Lock::Timeout=60`, keeping
 * existing conffiles. `apt-get update` runs (with `updateCache: "auto"`) only when the cache is
 * stale — no `*_Packages` lists, or the newer of `/var/lib/apt/periodic/update-success-stamp`
 * and `/var/lib/apt/lists` is older than one hour — or a package has no candidate; after an
 * update the stamp is touched. Rollback purges the packages this run installed only when
 * `HAPLAY_PURGE_PACKAGES=1` (`rollback --purge-packages`); upgrades are not rolled back;
 * packages removed by `state: "absent"` are reinstalled (same version when still available).
 * @module
 */
import { z } from "zod";
import type { Fact, Plan, Task } from "../engine/types.ts";
import { b64, q } from "../engine/shell.ts";
import { common, parseArgs, withCommon } from "./_args.ts";
import { allValues, parseKv } from "./_facts.ts";
import { planFrom } from "./_fact_plan.ts";
import { FactsError, need, ok } from "./_plan.ts";
import { END } from "./_sh.ts";

/** Seconds after which the apt cache is stale. */
export const CACHE_MAX_AGE = 3600;

const pkgName = z.string().regex(
  /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$/,
  "must be a Debian package name (optionally :arch)",
);

/** Arguments of {@link apt}. */
export const AptArgs = z.object({
  notify: common.notify,
  tags: common.tags,
  /** Package name(s), like Ansible's apt module (the display name is `title`). */
  name: z.union([pkgName, z.array(pkgName).min(1)]).transform((n) => [...new Set([n].flat())]),
  state: z.enum(["present", "absent", "latest"]).default("present"),
  /** debconf-set-selections lines, applied before installing (may hold secrets: never shown). */
  preseed: z.string().optional(),
  updateCache: z.enum(["auto", "always", "never"]).default("auto"),
  /** `state: "absent"` purges configuration files too. */
  purge: z.boolean().default(false),
  /** Install Recommends (default: apt's own setting). */
  installRecommends: z.boolean().optional(),
  /** Display name. */
  title: z.string().min(1).optional(),
}).strict();

/** Input of {@link apt}. */
export type AptInput = z.input<typeof AptArgs>;

const APT = "apt-get -y -q -o DPkg::Lock::Timeout=60";
/** sh listing every installed package, sorted (for the packages an install added). */
const INSTALLED = "dpkg-query -W -f='${binary:Package} ${db:Status-Abbrev}\\n' 2>/dev/null | " +
  "awk '$2 ~ /^.i/ { print $1 }' | LC_ALL=C sort";

/** sh printing `now=` and `cache_mtime=` (0 when no package lists exist); two forks. */
export const CACHE_AGE_SH = [
  `_m=0`,
  `for _f in /var/lib/apt/lists/*_Packages*; do`,
  `  [ -e "$_f" ] || break`,
  `  for _t in $(stat -c %Y -- /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists 2>/dev/null); do`,
  `    if [ "$_t" -gt "$_m" ]; then _m=$_t; fi`,
  `  done`,
  `  break`,
  `done`,
].join("\n");

/** dpkg's `Status:` words and their `db:Status-Abbrev` letters (dpkg-query(1)). */
const WANT = { unknown: "u", install: "i", hold: "h", deinstall: "r", purge: "p" };
const EFLAG = { ok: " ", reinstreq: "R" };
const STATUS = {
  "not-installed": "n",
  "config-files": "c",
  "half-installed": "H",
  unpacked: "U",
  "half-configured": "F",
  "triggers-awaited": "W",
  "triggers-pending": "t",
  installed: "i",
};

/** awk assignments `NAME["word"] = "letter"` of a map. */
const awkMap = (name: string, m: Record<string, string>) =>
  Object.entries(m).map(([k, v]) => `${name}["${k}"] = "${v}"`).join("; ");

/**
 * sh printing `PACKAGE|BINARY:PACKAGE|STATUS-ABBREV|VERSION` for each of `names` dpkg knows, as
 * `dpkg-query -W -f='${Package}|${binary:Package}|${db:Status-Abbrev}|${Version}\n'` does, but
 * by one awk pass over `/var/lib/dpkg/status` (~5 ms of host CPU where dpkg-query takes ~17: it
 * runs on every host of every run). dpkg-query itself when dpkg has journal entries in `updates/`
 * not yet folded into the status file (an interrupted dpkg run), or without awk.
 */
export function dpkgStatusSh(names: string[]): string {
  const words = names.map(q).join(" ");
  const want = ` ${names.join(" ")} `;
  const prog = [
    `BEGIN { RS = ""; FS = "\\n"; ${awkMap("W", WANT)}; ${awkMap("E", EFLAG)}; ${
      awkMap("S", STATUS)
    } }`,
    `{ p = ""; for (i = 1; i <= NF; i++) if (substr($i, 1, 9) == "Package: ") { p = substr($i, 10); break }`,
    `  if (p == "" || (!index(want, " " p " ") && !index(want, " " p ":"))) next`,
    `  st = ""; v = ""; ar = ""; ma = ""`,
    `  for (i = 1; i <= NF; i++) {`,
    `    if (substr($i, 1, 8) == "Status: ") st = substr($i, 9)`,
    `    else if (substr($i, 1, 9) == "Version: ") v = substr($i, 10)`,
    `    else if (substr($i, 1, 14) == "Architecture: ") ar = substr($i, 15)`,
    `    else if (substr($i, 1, 12) == "Multi-Arch: ") ma = substr($i, 13)`,
    `  }`,
    `  split(st, s, " ")`,
    `  print p "|" (ma == "same" ? p ":" ar : p) "|" W[s[1]] S[s[3]] E[s[2]] "|" v }`,
  ].join("\n");
  return [
    `_fast=1`,
    `for _u in /var/lib/dpkg/updates/*; do [ -e "$_u" ] && _fast=0; break; done`,
    `command -v awk >/dev/null 2>&1 && [ -r /var/lib/dpkg/status ] || _fast=0`,
    `if [ "$_fast" = 1 ]; then`,
    `  awk -v want=${q(want)} ${q(prog)} /var/lib/dpkg/status`,
    `else`,
    `  dpkg-query -W -f='\${Package}|\${binary:Package}|\${db:Status-Abbrev}|\${Version}\\n' ${words} 2>/dev/null`,
    `fi`,
  ].join("\n");
}

/**
 * Probe: one `pkg=NAME|STATUS|VERSION|CANDIDATE` line per package, then the cache age (only
 * where the plan reads it: a package to install, or state "latest"). One pass over dpkg's
 * status for all names ({@link dpkgStatusSh}); names match dpkg's `Package` or
 * `binary:Package` (`libc6:amd64`), in the shell.
 */
export function aptProbe(names: string[], candidates: "all" | "missing" = "all"): string {
  // `apt-cache policy` costs ~70 ms of host CPU per package: ask it only where the plan reads
  // the candidate (packages not installed, or every package for state "latest").
  const ask = candidates === "all" ? "true" : `[ "\${_s%%|*}" != "ii " ]`;
  const NL = `"\n"`; // a quoted newline inside the patterns below
  return [
    `_all="`,
    `$(${dpkgStatusSh(names)}
)`,
    `"`,
    `for _p in ${names.map(q).join(" ")}; do`,
    `  _s=""`,
    `  case $_all in`,
    `    *${NL}"$_p|"*) _r=\${_all#*${NL}"$_p|"}; _r=\${_r#*|}; _s=\${_r%%${NL}*} ;;`,
    `    *"|$_p|"*) _r=\${_all#*"|$_p|"}; _s=\${_r%%${NL}*} ;;`,
    `  esac`,
    `  _c=""`,
    `  if ${ask}; then _age=1; _c=$(apt-cache policy "$_p" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n1); fi`,
    `  printf 'pkg=%s|%s|%s\\n' "$_p" "\${_s:-|}" "$_c"`,
    `done`,
    `if [ -n "\${_age:-}" ]; then`,
    CACHE_AGE_SH,
    `echo "cache_mtime=$_m"`,
    `echo "now=$(date +%s)"`,
    `fi`,
    END,
  ].join("\n");
}

/** One probed package. */
export interface PkgState {
  name: string;
  /** dpkg status abbreviation, e.g. "ii ", "rc ", "" when unknown to dpkg. */
  status: string;
  version: string;
  /** Candidate version; "" or "(none)" when apt does not know the package. */
  candidate: string;
}

/** Parse the probe's `pkg=` lines. */
export function parsePkgs(facts: string): Map<string, PkgState> {
  const out = new Map<string, PkgState>();
  for (const v of allValues(facts, "pkg")) {
    const [name, status = "", version = "", candidate = ""] = v.split("|");
    out.set(name, { name, status: status.trim() === "" ? "" : status, version, candidate });
  }
  return out;
}

/** Installed (dpkg status "ii"/"hi"). */
export function installed(p: PkgState): boolean {
  return p.status[1] === "i";
}

/** Some trace left in dpkg's database (anything but not-installed). */
function present(p: PkgState, purge: boolean): boolean {
  const s = p.status[1];
  return s !== undefined && s !== "n" && (purge || s !== "c");
}

function known(p: PkgState): boolean {
  return p.candidate !== "" && p.candidate !== "(none)";
}

/** sh deciding at apply time whether to `apt-get update`, then doing it. */
function updateSh(mode: "auto" | "always" | "never", names: string[]): string {
  if (mode === "never") return ":";
  const run = [
    `${APT} update >&2`,
    `mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp`,
  ].join("\n");
  if (mode === "always") return run;
  return [
    CACHE_AGE_SH,
    `_upd=0; if [ $(( $(date +%s) - _m )) -gt ${CACHE_MAX_AGE} ]; then _upd=1; fi`,
    `for _p in ${names.map(q).join(" ")}; do`,
    `  _c=$(apt-cache policy "$_p" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n1)`,
    `  if [ -z "$_c" ] || [ "$_c" = "(none)" ]; then _upd=1; fi`,
    `done`,
    `if [ "$_upd" = 1 ]; then`,
    run,
    `fi`,
  ].join("\n");
}

/** What the apt probe found. */
export interface AptFact {
  /** One entry per probed package, in probe order. */
  packages: PkgState[];
  /** The apt cache's age inputs (seconds since the epoch; `mtime` 0: no package lists). */
  cache?: { mtime: number; now: number };
}

/** Parse the apt probe's output (throws on output it cannot read). */
export function parseApt(stdout: string): AptFact {
  const f = parseKv(stdout);
  need(f, "end");
  const packages = [...parsePkgs(stdout).values()];
  // the probe reports the cache age only where it asked apt for candidates
  if (f.now === undefined && f.cache_mtime === undefined) return { packages };
  return {
    packages,
    cache: { now: Number(need(f, "now")), mtime: Number(need(f, "cache_mtime")) },
  };
}

/** The apt fact of packages (candidates of all, or of those not installed only). */
export function aptFact(names: string[], candidates: "all" | "missing" = "all"): Fact<AptFact> {
  return { sh: aptProbe(names, candidates), parse: parseApt };
}

/** Pure planner of {@link apt} from the probe's raw output (throws on unreadable output). */
export function planApt(a: z.output<typeof AptArgs>, facts: string): Plan {
  return planAptFact(a, parseApt(facts));
}

/** Pure planner of {@link apt} from its {@link AptFact}. */
export function planAptFact(a: z.output<typeof AptArgs>, fact: AptFact): Plan {
  const pkgs = new Map(fact.packages.map((p) => [p.name, p]));
  const states = a.name.map((n) => {
    const p = pkgs.get(n);
    if (!p) throw new FactsError(`no probe line for package ${n}`);
    return p;
  });
  const isStale = () => {
    if (!fact.cache) throw new FactsError("missing now=");
    const age = fact.cache.now - fact.cache.mtime;
    return !(fact.cache.mtime > 0) || !(age <= CACHE_MAX_AGE);
  };
  const names = a.name.map(q).join(" ");
  const env = `export DEBIAN_FRONTEND=noninteractive`;
  const restoreInstalled = [
    `if [ "\${HAPLAY_PURGE_PACKAGES:-0}" = 1 ] && [ -s "$J/apt.new" ]; then`,
    `  DEBIAN_FRONTEND=noninteractive ${APT} purge $(sort -u "$J/apt.new") >&2`,
    `fi`,
  ].join("\n");
  if (a.state === "absent") {
    const rm = states.filter((p) => present(p, a.purge));
    if (!rm.length) return ok(`${a.name.join(", ")} not installed`);
    return {
      kind: "change",
      summary: `${a.purge ? "purge" : "remove"} ${
        rm.map((p) => `${p.name} ${p.version}`.trim()).join(", ")
      }`,
      backup: [
        `for _p in ${names}; do`,
        `  _v=$(dpkg-query -W -f='\${db:Status-Abbrev}|\${Version}\\n' "$_p" 2>/dev/null | head -n1)`,
        `  case $_v in ?i*) printf '%s %s\\n' "$_p" "\${_v#*|}" >> "$J/apt.removed" ;; esac`,
        `done`,
      ].join("\n"),
      apply: `${env}\n${APT} ${a.purge ? "purge" : "remove"} ${names} >&2`,
      restore: [
        `if [ -s "$J/apt.removed" ]; then`,
        `  export DEBIAN_FRONTEND=noninteractive`,
        `  while read -r _p _v; do ${APT} install "$_p=$_v" >&2 || ${APT} install "$_p" >&2; done < "$J/apt.removed"`,
        `fi`,
      ].join("\n"),
    };
  }
  const missing = states.filter((p) => !installed(p));
  const outdated = a.state === "latest"
    ? states.filter((p) => installed(p) && known(p) && p.version !== p.candidate)
    : [];
  const unknown = states.filter((p) => !known(p) && !installed(p));
  // present: nothing missing means nothing to do, whatever the cache's age
  if (a.state === "present" && !missing.length) return ok(`${a.name.join(", ")} installed`);
  const stale = a.updateCache === "auto" && isStale();
  const needUpdate = a.updateCache === "always" ||
    (a.updateCache === "auto" && (stale || unknown.length > 0));
  const latestCheck = a.state === "latest" && a.updateCache !== "never" && needUpdate;
  if (!missing.length && !outdated.length && !latestCheck) {
    return ok(
      `${a.name.join(", ")} ${a.state === "latest" ? "at candidate version" : "installed"}`,
    );
  }
  const parts: string[] = [];
  if (missing.length) {
    parts.push(
      `install ${missing.map((p) => known(p) ? `${p.name} (${p.candidate})` : p.name).join(", ")}`,
    );
  }
  if (outdated.length) {
    parts.push(
      `upgrade ${outdated.map((p) => `${p.name} ${p.version} → ${p.candidate}`).join(", ")}`,
    );
  }
  if (!missing.length && !outdated.length) {
    parts.push(`upgrade ${a.name.join(", ")} if newer after refresh`);
  }
  if (needUpdate) {
    parts.push(
      `after apt-get update (${
        a.updateCache === "always" ? "always" : stale ? "cache older than 1 h" : "unknown package"
      })`,
    );
  }
  const rec = a.installRecommends === undefined
    ? ""
    : a.installRecommends
    ? " --install-recommends"
    : " --no-install-recommends";
  return {
    kind: "change",
    summary: parts.join(", "),
    backup: [
      `for _p in ${names}; do`,
      `  _s=$(dpkg-query -W -f='\${db:Status-Abbrev}\\n' "$_p" 2>/dev/null | head -n1)`,
      `  case $_s in ?i*) ;; *) echo "$_p" >> "$J/apt.new" ;; esac`,
      `done`,
      // what apt pulls in beside the named packages (dependencies, Recommends) is new too: a
      // purging rollback removes it as well (the apply appends the difference)
      `${INSTALLED} > "$J/apt.pre"`,
    ].join("\n"),
    apply: [
      env,
      a.preseed ? `printf '%s' ${q(b64(a.preseed))} | base64 -d | debconf-set-selections` : "",
      updateSh(a.updateCache, a.name),
      `${APT} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold${rec} ` +
      `install ${a.state === "latest" ? "" : "--no-upgrade "}${names} >&2`,
      `${INSTALLED} | LC_ALL=C comm -13 "$J/apt.pre" - >> "$J/apt.new"`,
    ].filter(Boolean).join("\n"),
    restore: restoreInstalled,
  };
}

/**
 * Debian packages.
 *
 * @example
 * apt({ name: ["keepalived", "ipvsadm"], state: "present" })
 */
export function apt(args: AptInput): Task {
  const a = parseArgs("apt", AptArgs, args);
  const list = a.name.join(" ");
  const fact = aptFact(a.name, a.state === "latest" ? "all" : "missing");
  return withCommon({
    name: a.title ?? `apt ${a.state} ${list}`,
    module: "apt",
    resource: `apt:${a.name.join(",")}`,
    probe: fact.sh,
    plan: planFrom(`apt ${list}`, fact, (f) => planAptFact(a, f)),
  }, a);
}
