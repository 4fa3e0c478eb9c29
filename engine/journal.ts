/**
 * Reading the on-host journal: rollback and history scripts, and their parsers.
 *
 * Layout on each host (root-only, 0700): `/var/lib/haplay/runs/<run-id>/` with `meta.json`,
 * `state` (running | done | failed | interrupted | rolled-back; interrupted: the apply script lost
 * its SSH session and stopped at a task boundary), `handlers/<hex name>` and one
 * `tasks/<NNNN>/` per change: `summary`, `resource`, `restore.sh`, `notify`, `log`, and the
 * marks `saved` (pre-state recorded, change may have started), `done`, `restored`.
 * @module
 */
import { PRELUDE } from "./prelude.ts";
import { handlerName, STATE_DIR } from "./script.ts";
import { q } from "./shell.ts";
import { LOCK_SH } from "./lock_wait.ts";

/** Options of a rollback. */
export interface RollbackScriptOptions {
  nonce: string;
  /** Roll back this run and every later one (default: the newest run not rolled back). */
  runId?: string;
  check?: boolean;
  purgePackages?: boolean;
  owner: string;
}

const HEADER = `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
${PRELUDE}`;

/** Build the rollback script: one exec per host. */
export function rollbackScript(o: RollbackScriptOptions): string {
  const n = o.nonce;
  return `${HEADER}
hp_main() {
HP=${STATE_DIR}; TARGET=${q(o.runId ?? "")}; CHECK=${o.check ? 1 : 0}
export HAPLAY_ROLLBACK=1 HAPLAY_PURGE_PACKAGES=${o.purgePackages ? 1 : 0}
[ -d "$HP/runs" ] || { printf '@@${n}:none\\n'; return 0; }
if ! hp_lock; then printf '@@${n}:locked:%s\\n' "$(cat "$HP/lock.owner" 2>/dev/null)"; exit 75; fi
[ $CHECK = 1 ] || printf '%s host-pid %s\\n' ${q(o.owner + " rollback")} "$$" > "$HP/lock.owner"
sel=""; found=0
for r in $(ls -1 "$HP/runs" | sort -r); do
  st=$(cat "$HP/runs/$r/state" 2>/dev/null)
  if [ -n "$TARGET" ]; then
    [ "$st" = rolled-back ] || sel="$sel $r"
    if [ "$r" = "$TARGET" ]; then found=1; break; fi
  else
    [ "$st" = rolled-back ] && continue
    [ -n "$(ls "$HP/runs/$r/tasks" 2>/dev/null)" ] || continue
    sel="$r"; found=1; break
  fi
done
if [ $found = 0 ]; then
  if [ -n "$TARGET" ]; then printf '@@${n}:norun:%s\\n' "$TARGET"; exit 3; fi
  printf '@@${n}:none\\n'; return 0
fi
for r in $sel; do
  R="$HP/runs/$r"; : > "$R/rollback-notify"
  printf '@@${n}:run:%s\\n' "$r"
  for t in $(ls -1 "$R/tasks" 2>/dev/null | sort -r); do
    J="$R/tasks/$t"
    [ -f "$J/saved" ] || continue
    [ -f "$J/restored" ] && continue
    _s=$(base64 < "$J/summary" | tr -d '\\n')
    if [ -f "$J/purged" ]; then printf '@@${n}:purged:%s:%s:%s\\n' "$r" "$t" "$_s"; continue; fi
    if [ $CHECK = 1 ]; then printf '@@${n}:would:%s:%s:%s\\n' "$r" "$t" "$_s"; continue; fi
    ( set -e; umask "$HP_UMASK"; . "$J/restore.sh"; if [ -f "$J/tmpfiles" ]; then xargs rm -f -- < "$J/tmpfiles"; fi ) >> "$J/rollback.log" 2>&1 9>&-; _rc=$?
    if [ $_rc != 0 ]; then
      printf '@@${n}:failed:%s:%s:%s\\n' "$r" "$t" "$_rc"; tail -c 2000 "$J/rollback.log" | base64 | tr -d '\\n'; echo
      return 1
    fi
    : > "$J/restored"; [ -f "$J/notify" ] && cat "$J/notify" >> "$R/rollback-notify"
    [ -f "$J/notify" ] && while read -r _k; do rm -f "$HP/pending/$_k"; done < "$J/notify"
    printf '@@${n}:restored:%s:%s:%s\\n' "$r" "$t" "$_s"
  done
  [ $CHECK = 1 ] && continue
  for _k in $(sort -u "$R/rollback-notify"); do
    [ -f "$R/handlers/$_k" ] || continue
    ( set -e; umask "$HP_UMASK"; . "$R/handlers/$_k" ) > "$R/rollback-handler.$_k.log" 2>&1 9>&-; _rc=$?
    if [ $_rc = 0 ]; then printf '@@${n}:handler:%s\\n' "$_k"
    else printf '@@${n}:hfail:%s:%s\\n' "$_k" "$_rc"; tail -c 2000 "$R/rollback-handler.$_k.log" | base64 | tr -d '\\n'; echo; fi
  done
  echo rolled-back > "$R/state"; date -u +%Y-%m-%dT%H:%M:%SZ > "$R/rolled-back-at"
done
[ $CHECK = 1 ] || echo $(( $(cat "$HP/generation" 2>/dev/null || echo 0) + 1 )) > "$HP/generation"
printf '@@${n}:finished\\n'
}
${LOCK_SH}
hp_main </dev/null
`;
}

/** One restored (or would-be restored) journal entry. */
export interface RestoredEntry {
  run: string;
  task: string;
  summary: string;
}

/** What a rollback script reported. */
export interface RollbackResult {
  none: boolean;
  finished: boolean;
  runs: string[];
  restored: RestoredEntry[];
  would: RestoredEntry[];
  handlers: string[];
  handlerFailures: Array<{ name: string; rc: number; log: string }>;
  failed?: { run: string; task: string; rc: number; log: string };
  /** Entries whose saved pre-state `history --purge-secrets` deleted: not restorable. */
  purged: RestoredEntry[];
  locked?: string;
  noRun?: string;
}

const unb64 = (s: string | undefined) => {
  try {
    return new TextDecoder().decode(
      Uint8Array.from(atob((s ?? "").trim()), (c) => c.charCodeAt(0)),
    );
  } catch {
    return s ?? "";
  }
};

/** Parse the rollback script's stdout. */
export function parseRollback(stdout: string, nonce: string): RollbackResult {
  const r: RollbackResult = {
    none: false,
    finished: false,
    runs: [],
    restored: [],
    would: [],
    handlers: [],
    handlerFailures: [],
    purged: [],
  };
  const lines = stdout.split("\n");
  const p = `@@${nonce}:`;
  lines.forEach((l, i) => {
    if (!l.startsWith(p)) return;
    const [k, ...a] = l.slice(p.length).split(":");
    if (k === "none") r.none = true;
    else if (k === "finished") r.finished = true;
    else if (k === "run") r.runs.push(a[0]);
    else if (k === "restored" || k === "would" || k === "purged") {
      (k === "restored" ? r.restored : k === "would" ? r.would : r.purged).push({
        run: a[0],
        task: a[1],
        summary: unb64(a[2]).trim(),
      });
    } else if (k === "handler") r.handlers.push(handlerName(a[0]));
    else if (k === "hfail") {
      r.handlerFailures.push({
        name: handlerName(a[0]),
        rc: Number(a[1]),
        log: unb64(lines[i + 1]),
      });
    } else if (k === "failed") {
      r.failed = { run: a[0], task: a[1], rc: Number(a[2]), log: unb64(lines[i + 1]) };
    } else if (k === "locked") r.locked = a.join(":");
    else if (k === "norun") r.noRun = a[0];
  });
  return r;
}

/** Build the history script: lists the runs on a host. */
export function historyScript(nonce: string): string {
  return `export LC_ALL=C
HP=${STATE_DIR}
for r in $(ls -1 "$HP/runs" 2>/dev/null | sort); do
  R="$HP/runs/$r"
  printf '@@${nonce}:run:%s:%s:%s:%s:%s:%s:%s\\n' "$r" "$(cat "$R/state" 2>/dev/null)" \\
    "$(ls "$R/tasks" 2>/dev/null | wc -l)" \\
    "$(ls "$R"/tasks/*/done 2>/dev/null | wc -l)" \\
    "$(ls "$R"/tasks/*/restored 2>/dev/null | wc -l)" \\
    "$(cat "$R/rolled-back-at" 2>/dev/null | tr -d ':')" \\
    "$(base64 < "$R/meta.json" 2>/dev/null | tr -d '\\n')"
done
`;
}

/** One run in a host's history. */
export interface HistoryEntry {
  id: string;
  state: string;
  tasks: number;
  done: number;
  restored: number;
  rolledBackAt?: string;
  started?: string;
  owner?: string;
  play?: string;
}

/** Parse the history script's stdout. */
export function parseHistory(stdout: string, nonce: string): HistoryEntry[] {
  const p = `@@${nonce}:run:`;
  return stdout.split("\n").filter((l) => l.startsWith(p)).map((l) => {
    const [id, state, tasks, done, restored, rb, meta] = l.slice(p.length).split(":");
    let m: { started?: string; owner?: string; play?: string } = {};
    try {
      m = JSON.parse(unb64(meta));
    } catch { /* older or damaged meta */ }
    return {
      id,
      state,
      tasks: Number(tasks),
      done: Number(done),
      restored: Number(restored),
      rolledBackAt: rb || undefined,
      started: m.started,
      owner: m.owner,
      play: m.play,
    };
  });
}

/**
 * Build the purge script of `history --purge-secrets`: under the host lock, in every run,
 * delete the saved pre-state copies of files that were not world-readable (keepalived.conf
 * with its auth_pass is 0640, secret files 0600/0640), mark those entries `purged` (rollback
 * then reports them as not restorable) and keep everything else, the run list included.
 */
export function purgeSecretsScript(nonce: string): string {
  const n = nonce;
  return `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
umask 077
hp_main() {
HP=${STATE_DIR}
[ -d "$HP/runs" ] || { printf '@@${n}:finished\\n'; return 0; }
exec 9>>"$HP/lock"
if ! flock -n 9; then printf '@@${n}:locked:%s\\n' "$(cat "$HP/lock.owner" 2>/dev/null)"; exit 75; fi
for r in $(ls -1 "$HP/runs" | sort); do
  for J in "$HP/runs/$r"/tasks/*; do
    [ -d "$J" ] || continue
    _hit=0
    for f in "$J"/path.*; do
      case $f in *.state|*.meta) continue ;; esac
      [ -f "$f" ] && [ ! -L "$f" ] || continue
      [ $(( 0$(stat -c %a -- "$f") & 4 )) = 0 ] || continue
      rm -f -- "$f" && printf '%s\\n' "\${f##*/}" >> "$J/purged" && _hit=1
    done
    [ $_hit = 1 ] || continue
    date -u +%Y-%m-%dT%H:%M:%SZ > "$J/purged-at"
    printf '@@${n}:purged:%s:%s:%s\\n' "$r" "\${J##*/}" "$(base64 < "$J/summary" | tr -d '\\n')"
  done
done
printf '@@${n}:finished\\n'
}
hp_main </dev/null
`;
}

/** What the purge script reported. */
export interface PurgeResult {
  finished: boolean;
  purged: RestoredEntry[];
  locked?: string;
}

/** Parse the purge script's stdout. */
export function parsePurge(stdout: string, nonce: string): PurgeResult {
  const r = parseRollback(stdout, nonce);
  return { finished: r.finished, purged: r.purged, locked: r.locked };
}
