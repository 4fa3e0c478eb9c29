/**
 * Where the load-balancer layer puts things on a host. One place, so the renderer, the roles,
 * the sudoers entries and verify agree.
 * @module
 */

/** keepalived's main configuration file. */
export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
/** Defaults file read by keepalived's init script / unit (DAEMON_ARGS). */
export const KEEPALIVED_DEFAULTS = "/etc/default/keepalived";
/** Directory of haplay's keepalived includes and notify scripts (root 0755). */
export const HAPLAY_KEEPALIVED_DIR = "/etc/keepalived/haplay";
/** The empty include a same-box-dr BACKUP points its active virtual_server link at. */
export const VS_EMPTY = `${HAPLAY_KEEPALIVED_DIR}/vs-empty.conf`;
/** Validator wrapping `keepalived -t -f` (handles the 2.2.7 quirks). */
export const CHECKER = "/usr/local/sbin/haplay-keepalived-check";
/** Root helper that swaps a same-box-dr instance's virtual_server include and reloads. */
export const VS_SWITCH = "/usr/local/sbin/haplay-vs-switch";
/** Root helper adding/removing the bypass_ipvs REDIRECT rule (seed 001). */
export const BYPASS_IPVS = "/usr/local/sbin/haplay-bypass-ipvs";
/**
 * Lock shared by the root helpers the script user may call (`haplay-vs-switch`,
 * `haplay-bypass-ipvs`) and by the deploy's repair of the include link: each decides from the
 * VIP's state while holding it, so the last one to run sees the last transition.
 */
export const NOTIFY_LOCK = "/run/haplay-notify.lock";
/** Sudoers drop-in of the script user. */
export const SUDOERS_NAME = "haplay-keepalived";
/** netplan file putting the DR VIPs on lo. */
export const NETPLAN_LO_NAME = "99-haplay-lo";
/** sysctl file of the load balancers. */
export const SYSCTL_LB = "/etc/sysctl.d/90-haplay-lb.conf";
/** sysctl file of the real servers. */
export const SYSCTL_RS = "/etc/sysctl.d/90-haplay-rs.conf";
/** keepalived's pid file (Debian default; 2.2.7 writes no per-child pid files there). */
export const KEEPALIVED_PIDS = ["/run/keepalived.pid"];

/** The virtual_server file of a same-box-dr instance (its MASTER content). */
export function vsMaster(instance: string): string {
  return `${HAPLAY_KEEPALIVED_DIR}/vs-${instance}.master.conf`;
}

/** The symlink keepalived.conf includes: points at {@link vsMaster} or {@link VS_EMPTY}. */
export function vsActive(instance: string): string {
  return `${HAPLAY_KEEPALIVED_DIR}/vs-${instance}.active.conf`;
}

/** The notify script of an instance for a state. */
export function notifyScript(
  instance: string,
  state: "master" | "backup" | "fault" | "stop",
): string {
  return `${HAPLAY_KEEPALIVED_DIR}/notify-${instance}-${state}.sh`;
}

/**
 * The environment file of a notify script (hooks' `env`, secrets included): root, group the
 * script user, 0640, sourced by the notify script only.
 */
export function notifyEnvFile(
  instance: string,
  state: "master" | "backup" | "fault" | "stop",
): string {
  return `${HAPLAY_KEEPALIVED_DIR}/notify-${instance}-${state}.env`;
}

/**
 * Prefix of the drain files (`deno task drain`): one per drained real-server address, holding
 * `weight 0`. They sit in /etc/keepalived itself, which the package always creates: keepalived
 * 2.2.4 and later print "Config files missing" for a glob into a directory that does not exist
 * (measured), and a deploy must not have to create one. Deploys never write them; only
 * drain/undrain (journaled) do.
 */
export const DRAIN_PREFIX = "/etc/keepalived/haplay-drain-";

/** A real-server address as a file name part (IPv6 `:` kept: valid in file names). */
function addrPart(address: string): string {
  return address.replace(/[^0-9A-Za-z.:]/g, "_");
}

/** The drain file of a real-server address. */
export function drainFile(address: string): string {
  return `${DRAIN_PREFIX}${addrPart(address)}.conf`;
}

/**
 * The include each real_server block carries: a glob (`[f]`) matching exactly its drain file,
 * so keepalived reads nothing while the file is absent (every supported release accepts a glob
 * that matches no file silently, measured with `keepalived -t`) and `weight 0` while drained.
 */
export function drainInclude(address: string): string {
  return `${DRAIN_PREFIX}${addrPart(address)}.con[f]`;
}

/**
 * The maintenance file (`deno task maintenance DIRECTOR on`): `1` in it lowers every VRRP
 * instance's priority by {@link MAINTENANCE_WEIGHT} through keepalived's vrrp_track_file;
 * absent (or `0`) changes nothing. Deploys never write it.
 */
export const MAINTENANCE_FILE = "/etc/keepalived/haplay-maintenance";
/** Name of the vrrp_track_file block every instance tracks. */
export const MAINTENANCE_TRACK = "haplay_maintenance";
/** Weight of the maintenance track file: any priority (1-254) drops to keepalived's floor of 1. */
export const MAINTENANCE_WEIGHT = -253;
