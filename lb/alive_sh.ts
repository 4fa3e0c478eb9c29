/**
 * sh that tells whether keepalived really runs: its main process (pidfile) and at least one
 * child (the VRRP process; with IPVS also the checker). keepalived 2.2.7 on Debian writes only
 * `/run/keepalived.pid`, so children are found by parent PID in `/proc` (no procps needed).
 * @module
 */
import { KEEPALIVED_PIDS } from "./paths.ts";

/** sh functions: `hp_ka_main` (exit 0 when the main process runs), `hp_ka_children` (prints the count). */
export const KEEPALIVED_ALIVE_FNS = `hp_ka_main() {
  _kp=$(cat ${KEEPALIVED_PIDS[0]} 2>/dev/null) && [ -n "$_kp" ] && kill -0 "$_kp" 2>/dev/null
}
hp_ka_children() {
  _kp=$(cat ${KEEPALIVED_PIDS[0]} 2>/dev/null); _kn=0
  if [ -n "$_kp" ]; then
    for _ks in /proc/[0-9]*/stat; do
      _kl=$(cat "$_ks" 2>/dev/null) || continue
      case "$_kl" in *"(keepalived) "*) ;; *) continue ;; esac
      set -- \${_kl##*) }
      [ "$2" = "$_kp" ] && _kn=$((_kn + 1))
    done
  fi
  echo "$_kn"
}`;
