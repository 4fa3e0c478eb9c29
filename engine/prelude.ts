/**
 * Shell functions available to every probe, apply, backup and restore snippet.
 *
 * Journal helpers take the task's journal directory from `$J`:
 * - `hp_save_path PATH [KEY]` records PATH's pre-state (bytes, owner and mode of a file or
 *   symlink; owner and mode of a directory; or "absent").
 * - `hp_restore_path PATH [KEY]` puts it back exactly (absent paths are removed).
 * - `hp_mkparents PATH` creates PATH's missing parent directories and records them, so
 *   `hp_rm_created` can remove them again on rollback.
 * Umask: the scripts write their journal under `umask 077`; task apply/restore snippets and
 * handlers run under the login's own umask (`$HP_UMASK`), so what they create on the system
 * (directories, package files, daemons' files) keeps the host's usual modes.
 * - `hp_write PATH TEXT` writes TEXT to PATH with the builtin printf (no fork); a failed write is
 *   repeated through `cat`, whose error names the cause ("No space left on device"), which
 *   dash's builtin reduces to "I/O error".
 * File helpers:
 * - `hp_stat PATH` prints `exists=`, `type=`, `owner=`, `group=`, `mode=`, `uid=`, `gid=`, `size=`
 *   and (regular files) `sha256=` lines, with two forks at most.
 * - `hp_put_file DEST B64 OWNER GROUP MODE [VALIDATE]` writes atomically (temp file in the
 *   same directory + rename); VALIDATE is a command with `%s` for the temp path, run before the
 *   rename: if it fails the temp file is removed and DEST stays byte-identical. The temp path
 *   is recorded in `$J/tmpfiles`, so a run killed mid-write leaves nothing rollback misses.
 * @module
 */

/** `hp_fail` and `hp_stat`: the helpers a probe may call. */
const PROBE_FUNCTIONS = `
hp_fail() { echo "haplay: $*" >&2; exit 1; }
hp_stat() {
  if [ -L "$1" ]; then echo exists=1; echo type=link; echo "target=$(readlink -- "$1")"
  elif [ -d "$1" ]; then echo exists=1; echo type=dir
  elif [ -f "$1" ]; then echo exists=1; echo type=file; _hp_h=$(sha256sum < "$1"); echo "sha256=\${_hp_h%% *}"
  elif [ -e "$1" ]; then echo exists=1; echo type=special
  else echo exists=0; return 0; fi
  stat -c 'owner=%U
group=%G
mode=%a
uid=%u
gid=%g
size=%s' -- "$1"
}
`;

/**
 * What a probe script carries: {@link PROBE_FUNCTIONS} only, not the journal and file-writing
 * helpers, because the probe goes to every host on every run (a no-op included) and probes
 * never write (the umask is set, the login's is not saved: no `$(umask)` fork).
 */
export const PROBE_PRELUDE = `
umask 077${PROBE_FUNCTIONS}`;

/** POSIX sh source of the helper functions. */
export const PRELUDE = `
HP_UMASK=$(umask); umask 077${PROBE_FUNCTIONS}hp_write() {
  printf '%s' "$2" > "$1" 2>/dev/null || { printf '%s' "$2" | cat > "$1"; }
}
hp_save_path() {
  _k=\${2:-0}
  if [ -L "$1" ] || [ -f "$1" ]; then cp -a -- "$1" "$J/path.$_k" && echo file > "$J/path.$_k.state"
  elif [ -d "$1" ]; then stat -c '%u %g %a' -- "$1" > "$J/path.$_k.meta" && echo dir > "$J/path.$_k.state"
  elif [ -e "$1" ]; then hp_fail "$1: unsupported file type"
  else echo absent > "$J/path.$_k.state"; fi
}
hp_restore_path() {
  _k=\${2:-0}
  [ -f "$J/path.$_k.state" ] || return 0
  case $(cat "$J/path.$_k.state") in
    absent) rm -rf -- "$1" ;;
    dir) mkdir -p -- "$1"; read -r _u _g _m < "$J/path.$_k.meta"; chown "$_u:$_g" -- "$1"; chmod "$_m" -- "$1" ;;
    file)
      _d=$(dirname -- "$1"); mkdir -p -- "$_d"; _t="$_d/.haplay-restore.$$"
      rm -rf -- "$_t"; cp -a -- "$J/path.$_k" "$_t" && mv -fT -- "$_t" "$1" ;;
  esac
}
hp_mkparents() {
  _p=$(dirname -- "$1"); _missing=""
  while [ ! -e "$_p" ] && [ "$_p" != / ]; do _missing="$_p"; _p=$(dirname -- "$_p"); done
  if [ -n "$_missing" ]; then umask 077; echo "$_missing" >> "$J/created-dirs"; umask "$HP_UMASK"; fi
  mkdir -p -- "$(dirname -- "$1")"
}
hp_rm_created() {
  [ -f "$J/created-dirs" ] || return 0
  while read -r _d; do rm -rf -- "$_d"; done < "$J/created-dirs"
}
hp_put_file() {
  _dest=$1; _b64=$2; _own=$3; _grp=$4; _mode=$5; _val=\${6:-}
  _tmp=$(mktemp "$(dirname -- "$_dest")/.haplay.XXXXXX") || return 1
  if [ -n "\${J:-}" ]; then umask 077; echo "$_tmp" >> "$J/tmpfiles"; umask "$HP_UMASK"; fi
  if ! printf '%s' "$_b64" | base64 -d > "$_tmp"; then rm -f -- "$_tmp"; return 1; fi
  chown "$_own:$_grp" -- "$_tmp" && chmod "$_mode" -- "$_tmp" || { rm -f -- "$_tmp"; return 1; }
  if [ -n "$_val" ]; then
    _cmd=$(printf '%s' "$_val" | sed 's|%s|"$HP_TMP"|g')
    if ! HP_TMP=$_tmp sh -c "$_cmd" >&2; then rm -f -- "$_tmp"; echo "haplay: validate failed: $_val" >&2; return 1; fi
  fi
  mv -fT -- "$_tmp" "$_dest"
}
`;
