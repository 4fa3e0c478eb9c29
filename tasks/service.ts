/**
 * `service` and `serviceHandler`: a daemon's run state and boot enablement.
 *
 * Hosts whose PID 1 is systemd use systemctl; all others use `/etc/init.d/NAME` directly and
 * `update-rc.d` for enablement (lab hosts have a systemctl shim; it is deliberately bypassed).
 * After start/restart/reload the snippet waits a second and checks the daemon is still alive
 * (systemd: `is-active`; init.d: the pidfile's PID, else `pgrep -x PROCESS`) — keepalived's
 * init.d start returns 0 even when the daemon dies at once. `restarted` and `reloaded`
 * always report a change (use them as handlers); `reloaded` starts a stopped daemon. Handlers
 * (`serviceHandler`) for restart/reload act only on a running daemon.
 * The init system is detected again when the snippet runs, so snippets are self-contained.
 * @module
 */
import { z } from "zod";
import type { Fact, Handler, Plan, Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { absPath, common, parseArgs, withCommon } from "./_args.ts";
import { parseKv } from "./_facts.ts";
import { planFrom } from "./_fact_plan.ts";
import { need, ok } from "./_plan.ts";
import { CLOSE_FDS, END, IS_SYSTEMD } from "./_sh.ts";

const serviceName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/, "must be a service name");

/** How a daemon is found alive on non-systemd hosts. */
export const AliveOpts = z.object({
  /** Pidfile (default `/run/NAME.pid`). */
  pidfile: absPath.optional(),
  /** Process name for `pgrep -x` (default NAME). */
  process: z.string().regex(/^[A-Za-z0-9_.@:-]{1,15}$/, "must be a process name (max 15 chars)")
    .optional(),
});

/** Arguments of {@link service}. */
export const ServiceArgs = z.object({
  ...common,
  name: serviceName,
  state: z.enum(["started", "stopped", "restarted", "reloaded"]).optional(),
  enabled: z.boolean().optional(),
  /**
   * Handlers (of this daemon) that a start of the stopped daemon makes redundant: it reads
   * every file written before it, so a reload or restart notified earlier in the run is
   * dropped (see `PlanChange.satisfies`). Only `state: started`.
   */
  satisfies: z.array(z.string().min(1)).optional(),
}).extend(AliveOpts.shape).strict().refine(
  (a) => a.state !== undefined || a.enabled !== undefined,
  {
    message: "state or enabled is required",
    path: ["state"],
  },
);

/** Input of {@link service}. */
export type ServiceInput = z.input<typeof ServiceArgs>;

/** The daemon a service snippet acts on and how it is found alive. */
export interface Alive {
  name: string;
  pidfile?: string;
  process?: string;
}

/** sh function `hpt_alive` (exit 0 when the daemon runs) for the current init system. */
export function aliveFn(s: Alive): string {
  const pidfile = q(s.pidfile ?? `/run/${s.name}.pid`);
  return [
    `hpt_alive() {`,
    `  if ${IS_SYSTEMD}; then systemctl is-active --quiet ${q(s.name)}; return; fi`,
    `  if [ -s ${pidfile} ] && read -r _pid < ${pidfile} && [ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null; then return 0; fi`,
    `  pgrep -x ${q(s.process ?? s.name.slice(0, 15))} >/dev/null 2>&1`,
    `}`,
  ].join("\n");
}

/**
 * sh word (a quoted command substitution, an argument of `hp_fail`) with what systemd knows of
 * a unit that is not running as asked: its state and the last 3 lines of its journal (last
 * invocation; what the user would look up next with `journalctl -u NAME`); empty on other init
 * systems. Short, so that a handler's error (the last 5 lines of its log) keeps the headline.
 */
function systemdWhySh(name: string): string {
  return `"$(if ${IS_SYSTEMD}; then printf '\\njournalctl -u %s (unit %s):\\n' ${q(name)} ` +
    `"$(systemctl is-active ${q(name)} 2>&1)"; ${journalTailSh(name, 3)}; fi)"`;
}

/** sh running one init action (start/stop/restart/reload) on either init system. */
function initAction(name: string, action: string): string {
  const N = q(name);
  // PID 1 is not systemd, so an init script must not redirect to systemctl even where
  // /run/systemd/system exists (`netplan generate` creates it)
  return `if ${IS_SYSTEMD}; then systemctl ${action} ${N} >&2 ${CLOSE_FDS} || hp_fail ${
    q(`systemctl ${action} ${name} failed.`)
  } ${
    systemdWhySh(name)
  }; else SYSTEMCTL_SKIP_REDIRECT=1 /etc/init.d/${N} ${action} >&2 ${CLOSE_FDS}; fi`;
}

/**
 * sh printing the last lines the unit's latest invocation logged to the journal (systemd), without
 * sudo's session lines (its notify scripts' sudo runs in the unit's cgroup).
 */
export function journalTailSh(name: string, lines = 12): string {
  const N = q(name);
  return `_inv=$(systemctl show -p InvocationID --value ${N} 2>/dev/null); ` +
    `if [ -n "$_inv" ]; then journalctl --no-pager -q -o short -n 50 _SYSTEMD_INVOCATION_ID="$_inv" + INVOCATION_ID="$_inv"; ` +
    `else journalctl --no-pager -q -o short -n 50 -u ${N}; fi 2>/dev/null | grep -v ' sudo\\[' | tail -n ${lines} | sed 's/^/  /'`;
}

/** sh performing `action` with the alive checks; needs {@link aliveFn}. */
export function actionSh(s: Alive, action: "start" | "stop" | "restart" | "reload"): string {
  const N = q(s.name);
  const confirm = [
    `sleep 1`,
    `if ! hpt_alive; then hp_fail ${
      q(`${s.name} is not running after ${action} (it died at once? check its log)`)
    } ${systemdWhySh(s.name)}; fi`,
  ].join("\n");
  const check = `if ! ${IS_SYSTEMD} && [ ! -x /etc/init.d/${N} ]; then hp_fail ${
    q(`/etc/init.d/${s.name} not found`)
  }; fi`;
  switch (action) {
    case "start":
      return `${check}\nif ! hpt_alive; then ${initAction(s.name, "start")}; fi\n${confirm}`;
    case "restart":
      return `${check}\n${initAction(s.name, "restart")}\n${confirm}`;
    case "reload":
      return `${check}\nif hpt_alive; then ${initAction(s.name, "reload")}; else ${
        initAction(s.name, "start")
      }; fi\n${confirm}`;
    case "stop":
      return [
        `if hpt_alive; then`,
        `  if ${IS_SYSTEMD}; then systemctl stop ${N}; else SYSTEMCTL_SKIP_REDIRECT=1 /etc/init.d/${N} stop; fi >&2`,
        `  _i=0; while hpt_alive && [ $_i -lt 20 ]; do sleep 0.5; _i=$((_i + 1)); done`,
        `  if hpt_alive; then hp_fail ${q(`${s.name} still running after stop`)}; fi`,
        `fi`,
      ].join("\n");
  }
}

/** sh enabling/disabling at boot on either init system. */
export function enableSh(name: string, enabled: boolean): string {
  const N = q(name);
  return enabled
    ? `if ${IS_SYSTEMD}; then systemctl enable ${N} >&2; else update-rc.d ${N} defaults >&2; update-rc.d ${N} enable >&2; fi`
    : `if ${IS_SYSTEMD}; then systemctl disable ${N} >&2; else update-rc.d ${N} disable >&2; fi`;
}

/** sh printing `enabled=enabled|disabled|none` (init.d: rc links) or systemctl's answer. */
function enabledProbe(name: string): string {
  const N = q(name);
  return `if ${IS_SYSTEMD}; then echo "enabled=$(systemctl is-enabled ${N} 2>/dev/null)"; ` +
    `elif ls /etc/rc[2345].d/S*${N} >/dev/null 2>&1; then echo enabled=enabled; ` +
    `elif ls /etc/rc[2345].d/K*${N} >/dev/null 2>&1; then echo enabled=disabled; else echo enabled=none; fi`;
}

/** Probe of a service. */
export function serviceProbe(s: Alive): string {
  const N = q(s.name);
  return [
    aliveFn(s),
    `if ${IS_SYSTEMD}; then echo init=systemd; if systemctl cat ${N} >/dev/null 2>&1; then echo unit=1; else echo unit=0; fi`,
    `else echo init=other; if [ -x /etc/init.d/${N} ]; then echo unit=1; else echo unit=0; fi; fi`,
    `if hpt_alive; then echo running=1; else echo running=0; fi`,
    enabledProbe(s.name),
    END,
  ].join("\n");
}

/** What the service probe found. */
export interface ServiceFact {
  /** PID 1 is systemd, or anything else (init.d scripts are used). */
  init: "systemd" | "other";
  /** A unit (systemd) or an executable /etc/init.d script exists. */
  unit: boolean;
  /** The daemon is alive (see {@link aliveFn}). */
  running: boolean;
  /** `systemctl is-enabled`'s answer, or enabled/disabled/none from the rc links. */
  enabled: string;
}

/** Parse the service probe's output (throws on output it cannot read). */
export function parseService(stdout: string): ServiceFact {
  const f = parseKv(stdout);
  need(f, "end");
  const running = need(f, "running") === "1";
  const unit = need(f, "unit") === "1";
  const enabled = need(f, "enabled");
  return { init: f.init === "systemd" ? "systemd" : "other", unit, running, enabled };
}

/** The service fact of a daemon. */
export function serviceFact(s: Alive): Fact<ServiceFact> {
  return { sh: serviceProbe(s), parse: parseService };
}

/** Pure planner of {@link service} from the probe's raw output (throws on unreadable output). */
export function planService(a: z.output<typeof ServiceArgs>, facts: string): Plan {
  return planServiceFact(a, parseService(facts));
}

/** Pure planner of {@link service} from its {@link ServiceFact}. */
export function planServiceFact(a: z.output<typeof ServiceArgs>, f: ServiceFact): Plan {
  const { running, unit } = f;
  const enabledNow = f.enabled === "enabled" || f.enabled === "enabled-runtime" ||
    f.enabled === "alias";
  const todo: string[] = [];
  const sh: string[] = [];
  const satisfies: string[] = [];
  const via = f.init === "systemd" ? "systemd" : "init.d";
  switch (a.state) {
    case "started":
      if (!running) {
        todo.push(`start ${a.name}${unit ? "" : " (not installed yet)"}`);
        // `$J/satisfied` only when this apply really started it (not found running then)
        sh.push(
          a.satisfies?.length
            ? `if hpt_alive; then _hp_fresh=0; else _hp_fresh=1; fi\n${
              actionSh(a, "start")
            }\nif [ "$_hp_fresh" = 1 ] && [ -n "\${J:-}" ]; then : > "$J/satisfied"; fi`
            : actionSh(a, "start"),
        );
        if (a.satisfies?.length) satisfies.push(...a.satisfies);
      }
      break;
    case "stopped":
      if (running) {
        todo.push(`stop ${a.name}`);
        sh.push(actionSh(a, "stop"));
      }
      break;
    case "restarted":
    case "reloaded": {
      const act = a.state === "restarted" ? "restart" : "reload";
      todo.push(`${running || act === "restart" ? act : "start (was stopped)"} ${a.name}`);
      sh.push(actionSh(a, act));
      break;
    }
  }
  if (a.enabled !== undefined && a.enabled !== enabledNow && (unit || a.enabled)) {
    todo.push(`${a.enabled ? "enable" : "disable"} ${a.name} at boot`);
    sh.push(enableSh(a.name, a.enabled));
  }
  if (!todo.length) {
    return ok(
      `${a.name}: ${
        [
          a.state ? (running ? "running" : unit ? "stopped" : "not installed") : "",
          a.enabled === undefined ? "" : enabledNow ? "enabled" : "disabled",
        ].filter(Boolean).join(", ")
      }`,
    );
  }
  const N = q(a.name);
  return {
    kind: "change",
    summary: `${todo.join(", ")} (${via})`,
    backup: [
      aliveFn(a),
      `if hpt_alive; then echo 1; else echo 0; fi > "$J/svc.running"`,
      `(${enabledProbe(a.name)}) | sed 's/^enabled=//' > "$J/svc.enabled"`,
    ].join("\n"),
    apply: [aliveFn(a), ...sh].join("\n"),
    ...(satisfies.length ? { satisfies } : {}),
    restore: [
      aliveFn(a),
      `case $(cat "$J/svc.running" 2>/dev/null) in`,
      // Wait for the daemon to be gone: later restores (e.g. a package purge) depend on it.
      `  0)\n${actionSh(a, "stop")}\n  ;;`,
      `  1)\n${actionSh(a, "start")}\n  ;;`,
      `esac`,
      a.enabled === undefined ? "" : [
        `case $(cat "$J/svc.enabled" 2>/dev/null) in`,
        `  enabled) ${enableSh(a.name, true)} ;;`,
        `  none) if ! ${IS_SYSTEMD}; then update-rc.d -f ${N} remove >&2; fi ;;`,
        `  "") ;;`,
        `  *) ${enableSh(a.name, false)} ;;`,
        `esac`,
      ].join("\n"),
    ].filter(Boolean).join("\n"),
  };
}

/**
 * A service's run state and/or boot enablement.
 *
 * @example
 * service({ name: "keepalived", state: "started", enabled: true })
 */
export function service(args: ServiceInput): Task {
  const a = parseArgs("service", ServiceArgs, args);
  return withCommon({
    name: `service ${a.name}${a.state ? " " + a.state : ""}${
      a.enabled === undefined ? "" : a.enabled ? " enabled" : " disabled"
    }`,
    module: "service",
    resource: `service:${a.name}`,
    probe: serviceFact(a).sh,
    plan: planFrom(`service ${a.name}`, serviceFact(a), (f) => planServiceFact(a, f)),
  }, a);
}

/** sh condition: NAME is enabled at boot (systemd unit, or an init.d S link in rc2..5). */
export function enabledAtBootSh(name: string): string {
  const N = q(name);
  return `{ if ${IS_SYSTEMD}; then systemctl -q is-enabled ${N} 2>/dev/null; ` +
    `else ls /etc/rc[2345].d/S*${N} >/dev/null 2>&1; fi; }`;
}

/**
 * A handler (`"<action> <name>"`, e.g. "reload keepalived") with the same alive check.
 *
 * @example
 * serviceHandler("keepalived", "reload")
 */

export function serviceHandler(
  name: string,
  action: "start" | "stop" | "restart" | "reload",
  opts: z.input<typeof AliveOpts> = {},
): Handler {
  const n = serviceName.safeParse(name);
  if (!n.success) {
    throw new Error(`serviceHandler: invalid arguments: name: must be a service name`);
  }
  if (!["start", "stop", "restart", "reload"].includes(action)) {
    throw new Error(
      `serviceHandler: invalid arguments: action: must be start, stop, restart or reload`,
    );
  }
  const o = parseArgs("serviceHandler", AliveOpts.strict(), opts);
  const s = { name, ...o };
  return {
    name: `${action} ${name}`,
    run: `hp_fail() { echo "haplay: $*" >&2; exit 1; }\n${aliveFn(s)}\n` +
      (action === "restart" || action === "reload"
        // A handler applies new configuration to a running daemon; it never starts a stopped
        // one (e.g. after a rollback that stopped it, or before the service task started it).
        ? `if hpt_alive; then\n${actionSh(s, action)}\n` +
          // After a rollback an enabled daemon must run again (e.g. it died on the config the
          // rollback just removed); a disabled or uninstalled one stays stopped.
          `elif [ "\${HAPLAY_ROLLBACK:-0}" = 1 ] && ${enabledAtBootSh(name)}; then\n` +
          `${actionSh(s, "start")}\nelse echo ${
            q(`haplay: ${name} not running, nothing to ${action}`)
          } >&2; fi`
        : actionSh(s, action)),
  };
}
