/**
 * The keepalived config validator installed on every LB (`haplay-keepalived-check FILE`), used
 * as the `validate` command of keepalived.conf: the new file never lands unless it passes.
 *
 * keepalived 2.2.7 quirks it handles (see the lab notes):
 * - `keepalived -t -f /missing` returns 0: a missing or empty file is refused up front;
 * - `keepalived -t` kills itself (exit 143) when a script runs as a non-root `script_user`
 *   (fixed in 2.2.8), after printing any problem found while parsing: 143 is accepted only
 *   when nothing was printed and the installed keepalived is 2.2.7 (on any other version a
 *   143 is a real kill and refused);
 * - the exit codes differ by version (a config with errors: 4 on 2.0.19, 5 on 2.2.x and 2.3.x;
 *   a missing file: 3 on 2.0.19, 0 from 2.2 on), so the verdict rests on the output first, the
 *   exit code second (see docs/keepalived-versions.md);
 * - every problem keepalived prints (even the ones it "ignores" and runs anyway) fails the
 *   check: the renderer writes configurations keepalived accepts silently.
 * @module
 */

/** The validator script (POSIX sh, root:root 0755). */
export const CHECKER_SCRIPT = `#!/bin/sh
# Managed by haplay: validate a keepalived configuration file.
# usage: haplay-keepalived-check FILE
# Refuses a missing or empty FILE (keepalived -t returns 0 for a missing one) and any output of
# keepalived -t; accepts exit 0, and exit 143 without output on keepalived 2.2.7 only (it kills
# itself after a clean parse when scripts run as a non-root script_user; fixed in 2.2.8).
f=\${1:-}
if [ -z "$f" ] || [ ! -f "$f" ] || [ ! -s "$f" ]; then
  echo "haplay-keepalived-check: \${f:-(no file given)}: missing or empty" >&2
  exit 1
fi
if ! command -v keepalived >/dev/null 2>&1; then
  echo "haplay-keepalived-check: keepalived is not installed" >&2
  exit 1
fi
# the shell's own "Terminated" notice (exit 143) is not keepalived output: silence the shell's
# stderr around the command substitution only
exec 3>&2 2>/dev/null
out=$(keepalived -t -f "$f" 2>&1 </dev/null)
rc=$?
exec 2>&3 3>&-
if [ -n "$out" ]; then
  printf '%s\\n' "$out" >&2
  echo "haplay-keepalived-check: keepalived -t reported problems (exit $rc)" >&2
  exit 1
fi
v=$(keepalived --version 2>&1 </dev/null | sed -n '1s/^Keepalived v\\([0-9][0-9.]*\\).*/\\1/p')
case $rc:$v in
  0:*) exit 0 ;;
  143:2.2.7) exit 0 ;;
  *)
    echo "haplay-keepalived-check: keepalived \${v:-(unknown version)} -t failed (exit $rc)" >&2
    exit 1
    ;;
esac
`;
