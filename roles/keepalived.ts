/**
 * Role `keepalived`: the package, DAEMON_ARGS, the validator, keepalived.conf (validated on the
 * host before it lands; its probe reads the host's keepalived version, see
 * `keepalived_version.ts`), the service, and the handlers that reload/restart it and then confirm
 * the daemon (and its VRRP child) is alive — keepalived's init.d start returns 0 even when the
 * daemon dies at once.
 *
 * Split in two so a playbook can put the script user and notify scripts in between: the
 * package first ({@link keepalivedPackageTasks}), the configuration last
 * ({@link keepalivedTasks}), since the validator needs the script user and every included file.
 * @module
 */
import { z } from "zod";
import type { Handler, HostContext, Task } from "../engine/types.ts";
import { apt, file, service, serviceHandler } from "../tasks/mod.ts";
import { enabledAtBootSh } from "../tasks/service.ts";
import { lbView, requireLb } from "../lb/context.ts";
import { daemonArgsTask } from "./_daemon_args.ts";
import { CHECKER_SCRIPT } from "../lb/keepalived_check.ts";
import { renderKeepalived, virtualServerHead } from "../lb/keepalived_conf.ts";
import { semanticConf } from "../lb/keepalived_conf_plan.ts";
import { LbSection } from "../lb/schema.ts";
import { CHECKER, KEEPALIVED_CONF } from "../lb/paths.ts";
import { KEEPALIVED_ALIVE_FNS } from "../lb/alive_sh.ts";
import { SYNC_DAEMONS_OFF_SH } from "../lb/sync_daemons_sh.ts";
import { versionedConf } from "../lb/keepalived_version.ts";

/** The role's variables: the `haplay_lb` section (its `ipvs` and everything rendered). */
export const KeepalivedVars = z.object({ haplay_lb: LbSection });

/** Handler names of this role. */
export const RELOAD = "reload keepalived";
/** Restart (DAEMON_ARGS changed). */
export const RESTART = "restart keepalived";

/** Tags of every task of the LB layer's keepalived part. */
const TAGS = ["keepalived"];

/**
 * Whether a director's kernel table is haplay's business: its cluster has virtual servers (a
 * service other than vrrp-only) and does not run keepalived `--vrrp` by choice (`ipvs: false`).
 */
export function usesIpvs(host: HostContext): boolean {
  const v = lbView(host);
  return !!v && v.cluster.cfg.ipvs !== false &&
    v.cluster.services.some((s) => s.mode !== "vrrp-only");
}

/**
 * The keepalived package, and `ipvsadm` on directors that use IPVS ({@link usesIpvs}): the
 * standard tool an operator reads the kernel's table with (verify and status read
 * /proc/net/ip_vs, which needs no tool). Each is installed by its own task, keepalived without
 * Recommends, so rollback with `--purge-packages` removes both again.
 */
export function keepalivedPackageTasks(host: HostContext): Task[] {
  return [
    // not its Recommends (ipvsadm): a package pulled in that way is not this task's to purge
    // on rollback, and a VRRP-only director has no use for it
    apt({ name: "keepalived", state: "present", installRecommends: false, tags: TAGS }),
    ...(usesIpvs(host) ? [apt({ name: "ipvsadm", state: "present", tags: TAGS })] : []),
  ];
}

/** DAEMON_ARGS, validator, keepalived.conf, service. */
export function keepalivedTasks(host: HostContext): Task[] {
  const { cluster } = requireLb(host);
  const r = renderKeepalived(cluster, host.name);
  const serviceNames = new Map(
    cluster.services.filter((s) => s.mode !== "vrrp-only").map((s) => [
      virtualServerHead(s),
      s.cfg.name,
    ]),
  );
  return [
    daemonArgsTask(cluster.cfg.ipvs, [RESTART]),
    file({
      name: "keepalived config validator",
      path: CHECKER,
      content: CHECKER_SCRIPT,
      mode: "0755",
      tags: TAGS,
    }),
    // the probe reads the host's keepalived version (installed, else apt's candidate); the plan
    // says in words what changes, and a formatting-only rewrite reloads nothing
    versionedConf(
      semanticConf(
        file({
          name: "keepalived.conf",
          path: KEEPALIVED_CONF,
          content: r.main,
          mode: "0640",
          validate: `${CHECKER} %s`,
          sensitive: r.sensitive,
          notify: [RELOAD],
          tags: TAGS,
        }),
        r.main,
        { serviceNames },
      ),
      r.main,
    ),
    // a first start reads the config and DAEMON_ARGS just written: no reload or restart after it
    service({
      name: "keepalived",
      state: "started",
      enabled: true,
      satisfies: [RELOAD, RESTART],
      tags: TAGS,
    }),
  ];
}

/** sh: wait until keepalived and a child (the VRRP process) run (up to ~3 s), else fail with its log. */
export const KEEPALIVED_ALIVE = [
  KEEPALIVED_ALIVE_FNS,
  `_i=0; _ok=0`,
  `while [ $_i -lt 6 ]; do`,
  `  if hp_ka_main && [ "$(hp_ka_children)" -ge 1 ]; then _ok=1; break; fi`,
  `  sleep 0.5; _i=$((_i + 1))`,
  `done`,
  `if [ $_ok != 1 ]; then`,
  `  echo "haplay: keepalived or its VRRP process is not running (config, or no IPVS without --vrrp?)" >&2`,
  `  grep -h -i keepalived /var/log/syslog /var/log/messages 2>/dev/null | tail -n 10 >&2 || true`,
  `  exit 1`,
  `fi`,
].join("\n");

/**
 * The handlers: reload, and restart (DAEMON_ARGS changed), each confirming that keepalived and
 * its VRRP process run afterwards. Restart is stop-wait-start: Debian's init.d `restart` sleeps
 * one second between stop and start, and a keepalived still removing its VIPs then makes the
 * start fail ("already running") and exit.
 */
export function keepalivedHandlers(_host: HostContext): Handler[] {
  const reload = serviceHandler("keepalived", "reload");
  const stop = serviceHandler("keepalived", "stop");
  const start = serviceHandler("keepalived", "start");
  // In a rollback (HAPLAY_ROLLBACK=1) a keepalived that is not running is started again only
  // when it is enabled at boot and has a config (it may have died on the config the rollback
  // just removed); otherwise (a fresh install being undone) it stays stopped.
  const rollbackGuard = [
    `if [ "\${HAPLAY_ROLLBACK:-0}" = 1 ]; then`,
    KEEPALIVED_ALIVE_FNS,
    `  if ! hp_ka_main; then`,
    `    if ${enabledAtBootSh("keepalived")} && [ -s ${KEEPALIVED_CONF} ]; then`,
    `      ( ${start.run}\n${KEEPALIVED_ALIVE}\n ) || exit 1`,
    `    else echo "haplay: keepalived not running and not enabled: left stopped" >&2; fi`,
    SYNC_DAEMONS_OFF_SH,
    `    exit 0`,
    `  fi`,
    `fi`,
  ].join("\n");
  return [
    {
      name: RELOAD,
      run: `${rollbackGuard}\n${reload.run}\n${KEEPALIVED_ALIVE}\n${SYNC_DAEMONS_OFF_SH}`,
    },
    {
      name: RESTART,
      run:
        `${rollbackGuard}\n${stop.run}\n${start.run}\n${KEEPALIVED_ALIVE}\n${SYNC_DAEMONS_OFF_SH}`,
    },
  ];
}
