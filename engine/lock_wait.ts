/**
 * Waiting for a host's lock (`--wait SECONDS` of deploy and rollback).
 *
 * The host lock is `flock` on `/var/lib/haplay/lock` (fd 9 of the apply / rollback script), and
 * `lock.owner` names the holder: `user@controller pid N run ID host-pid P`, P being the holding
 * script's PID on the host. A controller killed mid-apply leaves its host script running to
 * the next task boundary (it stops there, see engine/script.ts), so a rollback started at once
 * finds the lock held: it waits, printing a live line naming the holder, polling the lock with
 * one small exec per second, and proceeds as soon as the lock is free.
 *
 * A holder whose process is gone: the kernel drops a flock when its last fd closes, so the lock
 * is normally free already. Should a leftover process still hold the lock file open (the
 * recorded host-pid is dead but `flock -n` fails), {@link LOCK_SH}'s `hp_lock` takes the lock
 * over: under a second lock (`lock.takeover`, so two contenders cannot both do it), and only if
 * `lock` is still the file the contender opened, it moves the stale file aside and locks a
 * fresh one. Everyone opens `lock` by path, so from then on they all contend on the fresh file.
 * @module
 */

/**
 * POSIX sh: `hp_lock` takes the host lock on fd 9 (needs `$HP`); returns 1 when a live process
 * holds it. Callers then write `lock.owner` ending in `host-pid $$`.
 */
export const LOCK_SH = `hp_lock() {
  exec 9>>"$HP/lock"
  flock -n 9 && return 0
  _lo=$(cat "$HP/lock.owner" 2>/dev/null); _lp=\${_lo##* host-pid }
  case "$_lp" in ''|*[!0-9]*) return 1;; esac
  kill -0 "$_lp" 2>/dev/null && return 1
  exec 8>>"$HP/lock.takeover"; flock -w 10 8 || return 1
  if [ "$(stat -c %i "$HP/lock")" = "$(stat -L -c %i /proc/$$/fd/9)" ]; then
    mv -f "$HP/lock" "$HP/lock.stale"
  fi
  exec 9>>"$HP/lock"; flock -n 9; _lr=$?; exec 8>&-; return $_lr
}`;

/** Read-only look at the lock: prints `free`, `held:OWNER` or `stale:OWNER`. */
export const LOCK_STATUS_SH = `HP=/var/lib/haplay
[ -e "$HP/lock" ] || { echo free; exit 0; }
exec 9<"$HP/lock"
if flock -n -s 9; then echo free; exit 0; fi
_lo=$(cat "$HP/lock.owner" 2>/dev/null); _lp=\${_lo##* host-pid }
case "$_lp" in ''|*[!0-9]*) echo "held:$_lo"; exit 0;; esac
if kill -0 "$_lp" 2>/dev/null; then echo "held:$_lo"; else echo "stale:$_lo"; fi
`;

/** Default `--wait`, in seconds. */
export const DEFAULT_WAIT_S = 60;

/** Options of {@link waitForLock}. */
export interface LockWaitOptions {
  /** Give up after this many seconds. */
  waitS: number;
  log: (line: string) => void;
  /** Poll interval in ms (default 1000). */
  pollMs?: number;
}

/** The holder's name without the host-pid suffix, for messages. */
export function holderName(owner: string): string {
  return owner.trim().replace(/ host-pid \d+$/, "") || "unknown holder";
}

/**
 * Wait until `host`'s lock is free (or held only by a dead holder, which the next `hp_lock`
 * takes over). `run` runs a script on the host. Returns true when the caller should try again,
 * false on timeout.
 */
export async function waitForLock(
  run: (script: string) => Promise<{ stdout: string }>,
  host: string,
  holder: string,
  o: LockWaitOptions,
): Promise<boolean> {
  const t0 = performance.now();
  const live = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let current = holderName(holder);
  const line = (s: number) =>
    `${host}: waiting for the host lock held by ${current} (${s} s of ${o.waitS} s)`;
  o.log(line(0));
  try {
    while (true) {
      const s = Math.round((performance.now() - t0) / 1000);
      if (s >= o.waitS) {
        o.log(`${host}: gave up after ${o.waitS} s: the lock is still held by ${current}`);
        return false;
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
      const st = (await run(LOCK_STATUS_SH)).stdout.trim();
      if (st === "free") {
        o.log(`${host}: lock free after ${Math.round((performance.now() - t0) / 1000)} s`);
        return true;
      }
      if (st.startsWith("stale:")) {
        o.log(`${host}: holder ${holderName(st.slice(6))} is gone; taking its lock over`);
        return true;
      }
      if (st.startsWith("held:")) current = holderName(st.slice(5));
      if (live) {
        Deno.stderr.writeSync(
          enc.encode(`\r\x1b[K${line(Math.round((performance.now() - t0) / 1000))}`),
        );
      }
    }
  } finally {
    if (live) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
  }
}

const deadlines = new WeakMap<object, number>();

/**
 * Deploy's hook: after an apply found the lock held, wait (up to `waitS` in all per `key`;
 * undefined or 0: no wait, the library's default; the CLI passes {@link DEFAULT_WAIT_S});
 * true means re-probe and apply again.
 */
export async function waitedForLock(
  key: object,
  waitS: number | undefined,
  session: { runScript(script: string): Promise<{ stdout: string }> },
  host: string,
  holder: string,
  log: (line: string) => void,
): Promise<boolean> {
  if (!waitS) return false;
  if (!deadlines.has(key)) deadlines.set(key, Date.now() + waitS * 1000);
  const left = Math.round((deadlines.get(key)! - Date.now()) / 1000);
  if (left <= 0) return false;
  return await waitForLock((s) => session.runScript(s), host, holder, { waitS: left, log });
}
