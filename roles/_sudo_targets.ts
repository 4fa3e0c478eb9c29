/**
 * Who can change what sudo runs: a sudoers line naming `/opt/hooks/move-vip` grants root to
 * whoever can write that file, or any directory above it (they can replace the file, or a
 * directory with one of their own). So before the script user's drop-in lands (and on every run,
 * so a later `chmod` is caught), every program it names, every directory above it and, through
 * symlinks, their real paths must be owned by root and not group- or world-writable. A program
 * that does not exist yet is fine when its nearest existing directory passes (only root can
 * create it there).
 *
 * The probe prints one `sudo_target=` line per program; the plan refuses an unsafe one; the apply
 * checks again right before the file is written (the state may have changed since the probe).
 * @module
 */
import { q } from "../engine/shell.ts";

/**
 * sh: `hp_sudo_target PATH` prints `sudo_target=PATH|ok`, or
 * `sudo_target=PATH|bad|COMPONENT|OWNER|MODE|WHY` for the first unsafe component (lstat: a
 * symlink's own mode is not checked, its owner and its target are).
 */
export const SUDO_TARGET_FNS = `hp_sudo_comp() {
  # $1 component; sets _w to "OWNER|MODE|WHY" when unsafe, else to "" (no subshell per component)
  _w=
  _st=$(stat -c '%u|%U|%a|%F' -- "$1" 2>/dev/null) || return 0
  _u=\${_st%%|*}; _r=\${_st#*|}; _n=\${_r%%|*}; _r=\${_r#*|}; _m=\${_r%%|*}; _t=\${_r#*|}
  if [ "$_u" != 0 ]; then _w="$_n|$_m|not owned by root"; return 0; fi
  if [ "$_t" != "symbolic link" ] && [ $(( 0$_m & 022 )) -ne 0 ]; then
    _w="$_n|$_m|group- or world-writable"
  fi
}
hp_sudo_target() {
  _real=$(readlink -f -- "$1" 2>/dev/null || true)
  if [ -d "$1" ]; then echo "sudo_target=$1|bad|$1|-|-|a directory, not a program"; return 0; fi
  for _x in "$1" $_real; do
    _c=$_x
    while :; do
      if [ -e "$_c" ] || [ -L "$_c" ]; then
        hp_sudo_comp "$_c"
        if [ -n "$_w" ]; then echo "sudo_target=$1|bad|$_c|$_w"; return 0; fi
      fi
      [ "$_c" = / ] && break
      # dirname of an absolute path by expansion (no fork per component)
      case $_c in /*/*) _c=\${_c%/*} ;; /*) _c=/ ;; *) _c=$(dirname -- "$_c") ;; esac
    done
  done
  echo "sudo_target=$1|ok"
}`;

/** The probe: one `sudo_target=` line per program. */
export function sudoTargetProbe(programs: string[]): string {
  return [SUDO_TARGET_FNS, ...programs.map((p) => `hp_sudo_target ${q(p)}`)].join("\n");
}

/** The refusal message of one unsafe program, from its `sudo_target=` fact. */
function problem(line: string): string | undefined {
  const [path, verdict, comp, owner, mode, why] = line.split("|");
  if (verdict === "ok") return undefined;
  if (comp === path && why?.startsWith("a directory")) {
    return `sudo hook ${path} is a directory, not a program: refusing to grant it to the script user`;
  }
  return `sudo hook ${path}: ${comp} is owned by ${owner} with mode ${mode} (${why}); ` +
    "refusing to grant it to the script user (the program and every directory above it must " +
    "be root-owned and not group- or world-writable)";
}

/** Problems found by the probe; a program without a fact counts as a problem too. */
export function sudoTargetProblems(facts: string, programs: string[]): string[] {
  const lines = new Map<string, string>();
  for (const m of facts.matchAll(/^sudo_target=(.*)$/gm)) {
    lines.set(m[1].split("|")[0], m[1]);
  }
  return programs.flatMap((p) => {
    const l = lines.get(p);
    if (l === undefined) return [`sudo hook ${p}: not probed`];
    const why = problem(l);
    return why ? [why] : [];
  });
}

/** Apply snippet: checks every program again and fails (nothing written) on the first unsafe one. */
export function sudoTargetGuard(programs: string[]): string {
  return [
    SUDO_TARGET_FNS,
    ...programs.map((p) =>
      `_v=$(hp_sudo_target ${q(p)}); case "$_v" in *"|ok") ;; *) ` +
      `echo "haplay: sudo hook ${p} unsafe: $_v (must be root-owned, not group/world-writable, ` +
      `and so every directory above it); sudoers not changed" >&2; exit 1 ;; esac`
    ),
  ].join("\n");
}
