/**
 * sh snippets shared by the primitives (TS functions returning POSIX sh). Everything here is
 * self-contained: it relies only on the engine prelude and standard Debian tools.
 * @module
 */
import { q } from "../engine/shell.ts";

/** Condition true when PID 1 is systemd (not `/run/systemd/system`, which containers fake). */
export const IS_SYSTEMD = `[ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]`;

/** Probe printing `init=systemd` or `init=other`. */
export const INIT_PROBE = `if ${IS_SYSTEMD}; then echo init=systemd; else echo init=other; fi`;

/** Largest file whose content a probe ships back for diffs. */
export const CONTENT_LIMIT = 256 * 1024;

/**
 * Probe: `hp_stat` of a path (with `uid=`/`gid=`); special files (fifo, socket, device) print
 * `type=special` without being read (hp_stat would hash them, and reading a fifo blocks).
 */
export function statProbe(path: string): string {
  const P = q(path);
  return [
    `if [ -e ${P} ] && [ ! -L ${P} ] && [ ! -f ${P} ] && [ ! -d ${P} ]; then`,
    `  echo exists=1; echo type=special; stat -c 'uid=%u`,
    `gid=%g' -- ${P}`,
    `else`,
    `  hp_stat ${P}`,
    `fi`,
  ].join("\n");
}

/**
 * Probe: `content_b64=` line with a regular file's bytes when its size is at most `limit`.
 * With `unlessSha` (after {@link statProbe}, whose `hp_stat` leaves the hash in `_hp_h`): only
 * when the file's sha256 differs from it, i.e. only when the plan will show a diff — a no-op run
 * reads no file twice and sends none back.
 */
export function contentProbe(path: string, limit = CONTENT_LIMIT, unlessSha?: string): string {
  const P = q(path);
  const differs = unlessSha ? `[ "\${_hp_h%% *}" != ${unlessSha} ] && ` : "";
  return `if [ -f ${P} ] && [ ! -L ${P} ] && ${differs}[ "$(stat -c %s -- ${P})" -le ${limit} ]; then ` +
    `printf content_b64=; base64 -w0 < ${P}; echo; fi`;
}

/** Last line of every probe: lets `plan` tell complete output from truncated output. */
export const END = "echo end=1";

/** sh: true when a command of that name is available. */
export function has(cmd: string): string {
  return `command -v ${q(cmd)} >/dev/null 2>&1`;
}

/**
 * Characters `hp_put_file` can substitute for `%s` in a validate command without quoting:
 * the temp file lives in the destination's directory, so that directory must be plain.
 */
export const PLAIN_DIR = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Redirections closing fds 3..9 for commands that may leave daemons behind: a daemon must not
 * inherit the engine's descriptors (the apply script holds the host lock on fd 9).
 */
export const CLOSE_FDS = "3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-";
