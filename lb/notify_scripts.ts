/**
 * Text of the scripts the `notify` role installs: one notify script per instance and state
 * (run by keepalived as the script user) and the two root helpers they call through sudo
 * (same-box-dr virtual_server swap, seed 001's bypass_ipvs). Pure.
 * @module
 */
import { q } from "../engine/shell.ts";
import type { NotifyState, NotifyStep } from "./notify_plan.ts";
import {
  HAPLAY_KEEPALIVED_DIR,
  KEEPALIVED_PIDS,
  NOTIFY_LOCK,
  notifyEnvFile,
  VS_EMPTY,
} from "./paths.ts";

/**
 * sh: `hp_vip_held VIP` succeeds when this host holds VIP on an interface other than `lo` (what
 * keepalived does while MASTER; same-box real servers carry it on `lo`).
 */
export const VIP_HELD_FN =
  `hp_vip_held() { ip -o addr show to "$1" 2>/dev/null | awk '$2 != "lo" { f = 1 } END { exit !f }'; }`;

/** sh: take {@link NOTIFY_LOCK} on fd 9 (up to 30 s) when flock exists. */
export const NOTIFY_LOCK_SH = `if command -v flock >/dev/null 2>&1; then
  exec 9>${NOTIFY_LOCK} && flock -w 30 9
fi`;

const PATH_LINE = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH";

/** The sh command line of a step. */
export function stepCommand(s: NotifyStep): string {
  const core = s.sudo ? ["sudo", "-n", ...s.argv!].map(q).join(" ") : `sh -c ${q(s.shell!)}`;
  return s.timeout !== undefined ? `timeout -k 5 ${s.timeout} ${core}` : core;
}

/** True when some step of a notify script has an environment (so it has an env file). */
export function needsEnvFile(steps: NotifyStep[]): boolean {
  return steps.some((s) => s.env !== undefined);
}

/**
 * The env file of a notify script: one function `hp_env_N` per step N with an environment,
 * exporting its variables (sourced by the notify script, called in the step's subshell: the
 * values reach the step's environment, never a command line).
 */
export function notifyEnvText(instance: string, state: NotifyState, steps: NotifyStep[]): string {
  return [
    `# Managed by haplay: environment of the notify_${state} hooks of vrrp_instance ${instance}.`,
    "# Secrets: root:keepalived_script 0640, read by the notify script only.",
    ...steps.flatMap((s, i) =>
      s.env
        ? [
          `hp_env_${i}() {`,
          ...Object.entries(s.env).map(([k, v]) => `  export ${k}=${q(v)}`),
          "}",
        ]
        : []
    ),
    "",
  ].join("\n");
}

/** A notify script: logs the transition, runs every step, logs failures, exits 1 if any failed. */
export function notifyScriptText(
  instance: string,
  state: NotifyState,
  steps: NotifyStep[],
  user: string,
): string {
  const tag = `${instance} ${state.toUpperCase()}`;
  const env = needsEnvFile(steps)
    ? [
      `. ${q(notifyEnvFile(instance, state))} || exit 1`,
      `hp_with_env() { _n=$1; shift; ( "hp_env_$_n" && exec "$@" ); }`,
    ]
    : [];
  return [
    "#!/bin/sh",
    `# Managed by haplay: notify_${state} of vrrp_instance ${instance}.`,
    `# keepalived runs it as ${user} (enable_script_security); steps that need root go through`,
    "# sudo -n with the exact command lines granted in /etc/sudoers.d/haplay-keepalived.",
    PATH_LINE,
    "rc=0",
    "step() {",
    "  _what=$1; shift",
    '  "$@" && return 0',
    "  _rc=$?",
    `  logger -t haplay-notify ${q(`${tag}:`)} "$_what failed (exit $_rc)" 2>/dev/null || true`,
    "  rc=1",
    "}",
    ...env,
    `logger -t haplay-notify ${q(`${tag}: running ${steps.length} step(s)`)} 2>/dev/null || true`,
    ...steps.flatMap((s, i) => [
      `# ${s.what}`,
      `step ${q(s.what)} ${s.env ? `hp_with_env ${i} ` : ""}${stepCommand(s)}`,
    ]),
    "exit $rc",
    "",
  ].join("\n");
}

/**
 * Root helper `haplay-vs-switch INSTANCE master|backup|stop VIP`: points the instance's active
 * include at its virtual_server file while this host is MASTER, at the empty one otherwise, and
 * reloads keepalived only when the link changed (never for `stop`: keepalived is exiting, the
 * next start must come up without).
 *
 * keepalived starts each notify script as its own process, so a slow notify_master (sudo on a
 * busy host) can finish after the notify_backup that followed it, and a BACKUP would keep its
 * virtual servers: IPVS on both directors bounces requests between them. So the helper takes a
 * lock and trusts the state of the addresses, not its argument: keepalived adds the VIP before
 * notify_master and removes it before notify_backup, and the VIP held on any interface but `lo`
 * (same-box real servers carry it on `lo`) means MASTER. The last helper to run sees the last
 * transition. The reload re-runs no switch that changes anything: no reload loop (the seed's
 * RELOAD_FLG guard, for both directions).
 */
export const VS_SWITCH_SCRIPT = `#!/bin/sh
# Managed by haplay: same-box DR virtual_server switch (run as root through sudo by notify scripts).
# usage: haplay-vs-switch INSTANCE master|backup|stop VIP   (stop: off, without reload)
# master/backup is what keepalived announced; the VIP on a non-lo interface decides; stop is
# refused while the VIP is held here.
set -u
${PATH_LINE}
usage() { echo "usage: $0 INSTANCE master|backup|stop VIP" >&2; exit 2; }
inst=\${1:-}
case "$inst" in '' | *[!A-Za-z0-9_.-]*) usage ;; esac
said=\${2:-}
case "$said" in master | backup | stop) ;; *) usage ;; esac
vip=\${3:-}
case "$vip" in '' | *[!0-9A-Fa-f.:]*) usage ;; esac
dir=${HAPLAY_KEEPALIVED_DIR}
link="$dir/vs-$inst.active.conf"
${NOTIFY_LOCK_SH}
${VIP_HELD_FN}
if [ "$said" = stop ] && hp_vip_held "$vip"; then
  # keepalived releases its addresses before notify_stop: the VIP still here means this host is
  # MASTER and serving; pointing the include at the empty file would drop the virtual servers
  # at the next reload
  echo "haplay-vs-switch: refused: $vip is held on this host (MASTER); virtual servers stay on" >&2
  logger -t haplay-vs-switch "$inst: stop refused, $vip held (MASTER)" 2>/dev/null || true
  exit 1
fi
state=backup
if [ "$said" != stop ] && hp_vip_held "$vip"; then
  state=master
fi
if [ "$said" != stop ] && [ "$state" != "$said" ]; then
  logger -t haplay-vs-switch "$inst: notify said $said, VIP $vip says $state" 2>/dev/null || true
fi
case "$state" in
  master) target="$dir/vs-$inst.master.conf" ;;
  *) target=${VS_EMPTY} ;;
esac
[ -f "$target" ] || { echo "haplay-vs-switch: $target missing" >&2; exit 1; }
if [ "$(readlink "$link" 2>/dev/null)" = "$target" ]; then exit 0; fi
ln -sfn "$target" "$link.new" && mv -Tf "$link.new" "$link"
if [ "$said" = stop ]; then
  logger -t haplay-vs-switch "$inst: virtual servers off (keepalived stopping)" 2>/dev/null || true
  exit 0
fi
pid=$(cat ${KEEPALIVED_PIDS[0]} 2>/dev/null || true)
if [ -n "$pid" ] && kill -HUP "$pid" 2>/dev/null; then
  logger -t haplay-vs-switch "$inst: virtual servers $state, keepalived reloaded" 2>/dev/null || true
else
  logger -t haplay-vs-switch "$inst: virtual servers $state, keepalived not running" 2>/dev/null || true
fi
`;

/**
 * Root helper `haplay-bypass-ipvs add|del VIP` (seed 001's bypass_ipvs.sh): on BACKUP/FAULT the
 * LB accepts TCP for the VIP locally (nat PREROUTING REDIRECT), on MASTER it must not (the
 * REDIRECT would take the VIP's traffic away from IPVS). Like the switch, it decides from the
 * VIP under the shared lock, not from its argument: held here (MASTER) means no rule, not held
 * means the rule. An argument that contradicts the VIP (a late notify, or the script user
 * calling it by hand) is refused (exit 1) and the state the VIP calls for is kept. `purge`
 * (root only: never granted in sudoers) removes the rule whatever the state, for rollback.
 */
export const BYPASS_IPVS_SCRIPT = `#!/bin/sh
# Managed by haplay: bypass_ipvs (run as root through sudo by notify scripts).
# usage: haplay-bypass-ipvs add|del|purge IPV4   (the VIP on a non-lo interface decides add/del)
set -u
${PATH_LINE}
usage() { echo "usage: $0 add|del|purge IPV4" >&2; exit 2; }
op=\${1:-}
case "$op" in add | del | purge) ;; *) usage ;; esac
vip=\${2:-}
case "$vip" in '' | *[!0-9.]*) usage ;; esac
rule() { iptables -w -t nat "$1" PREROUTING -d "$vip/32" -p tcp -j REDIRECT; }
del_all() { while rule -C 2>/dev/null; do rule -D; done; }
if [ "$op" = purge ]; then del_all; exit 0; fi
${NOTIFY_LOCK_SH}
${VIP_HELD_FN}
if hp_vip_held "$vip"; then want=del; else want=add; fi
case "$want" in
  add) rule -C 2>/dev/null || rule -A ;;
  del) del_all ;;
esac
if [ "$op" != "$want" ]; then
  if [ "$want" = del ]; then why="$vip is held on this host (MASTER): no REDIRECT"
  else why="$vip is not held on this host (BACKUP): REDIRECT kept"; fi
  echo "haplay-bypass-ipvs: refused $op: $why" >&2
  logger -t haplay-bypass-ipvs "refused $op: $why" 2>/dev/null || true
  exit 1
fi
`;
