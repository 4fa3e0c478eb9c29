/**
 * haplay's task library (`@haplay/haplay/tasks`): idempotent primitives with check mode, diffs,
 * validation and rollback data. Each factory validates its arguments (a bad one throws a
 * message naming the field) and returns a `Task` for a play's `tasks(host)`; every primitive is
 * documented with its arguments in `docs/tasks.md`.
 *
 * @example
 * ```ts
 * import { file, service, serviceHandler } from "./mod.ts";
 * const tasks = [
 *   file({ path: "/etc/motd", content: "managed by haplay\n", notify: ["restart ssh"] }),
 *   service({ name: "ssh", state: "started" }),
 * ];
 * const handlers = [serviceHandler("ssh", "restart")];
 * ```
 * @module
 */
import { absent as _absent, type AbsentInput as _AbsentInput } from "./absent.ts";
import { apt as _apt, type AptInput as _AptInput } from "./apt.ts";
import { command as _command, type CommandInput as _CommandInput } from "./command.ts";
import { directory as _directory, type DirectoryInput as _DirectoryInput } from "./directory.ts";
import { file as _file, type FileInput as _FileInput } from "./file.ts";
import { group as _group, type GroupInput as _GroupInput } from "./group.ts";
import { ipRoute as _ipRoute, type IpRouteInput as _IpRouteInput } from "./ip_route.ts";
import { ipRule as _ipRule, type IpRuleInput as _IpRuleInput } from "./ip_rule.ts";
import {
  iptablesRule as _iptablesRule,
  type IptablesRuleInput as _IptablesRuleInput,
} from "./iptables_rule.ts";
import {
  lineInFile as _lineInFile,
  type LineInFileInput as _LineInFileInput,
} from "./line_in_file.ts";
import { loVip as _loVip, type LoVipInput as _LoVipInput } from "./lo_vip.ts";
import { netplan as _netplan, type NetplanInput as _NetplanInput } from "./netplan.ts";
import { service as _service, type ServiceInput as _ServiceInput } from "./service.ts";
import { serviceHandler as _serviceHandler } from "./service.ts";
import { sudoers as _sudoers, type SudoersInput as _SudoersInput } from "./sudoers.ts";
import { sysctl as _sysctl, type SysctlInput as _SysctlInput } from "./sysctl.ts";
import { template as _template, type TemplateInput as _TemplateInput } from "./template.ts";
import { user as _user, type UserInput as _UserInput } from "./user.ts";

/**
 * A path that must not exist (file, symlink or whole tree); the backup keeps what is removed.
 * @example
 * ```ts
 * import { absent } from "./mod.ts";
 * const task = absent({ path: "/etc/keepalived/old.conf" });
 * ```
 */
export const absent: typeof _absent = _absent;

/**
 * Arguments of {@link absent} (before defaults are applied).
 * @example
 * ```ts
 * import { absent, type AbsentInput } from "./mod.ts";
 * const args: AbsentInput = { path: "/etc/keepalived/old.conf" };
 * absent(args);
 * ```
 */
export type AbsentInput = _AbsentInput;

/**
 * Debian packages present, absent or latest; debconf answers preseeded; one dpkg read per probe.
 * @example
 * ```ts
 * import { apt } from "./mod.ts";
 * const task = apt({ name: ["keepalived", "ipvsadm"], state: "present" });
 * ```
 */
export const apt: typeof _apt = _apt;

/**
 * Arguments of {@link apt} (before defaults are applied).
 * @example
 * ```ts
 * import { apt, type AptInput } from "./mod.ts";
 * const args: AptInput = { name: ["keepalived", "ipvsadm"], state: "present" };
 * apt(args);
 * ```
 */
export type AptInput = _AptInput;

/**
 * A command run only when `creates` is missing or `unless` fails, with its own `restore` for rollback.
 * @example
 * ```ts
 * import { command } from "./mod.ts";
 * const task = command({ cmd: "ipvsadm --save > /etc/ipvsadm.rules", creates: "/etc/ipvsadm.rules" });
 * ```
 */
export const command: typeof _command = _command;

/**
 * Arguments of {@link command} (before defaults are applied).
 * @example
 * ```ts
 * import { command, type CommandInput } from "./mod.ts";
 * const args: CommandInput = { cmd: "ipvsadm --save > /etc/ipvsadm.rules", creates: "/etc/ipvsadm.rules" };
 * command(args);
 * ```
 */
export type CommandInput = _CommandInput;

/**
 * A directory with owner and mode (default root:root 0755); missing parents are created.
 * @example
 * ```ts
 * import { directory } from "./mod.ts";
 * const task = directory({ path: "/etc/keepalived", mode: "0750" });
 * ```
 */
export const directory: typeof _directory = _directory;

/**
 * Arguments of {@link directory} (before defaults are applied).
 * @example
 * ```ts
 * import { directory, type DirectoryInput } from "./mod.ts";
 * const args: DirectoryInput = { path: "/etc/keepalived", mode: "0750" };
 * directory(args);
 * ```
 */
export type DirectoryInput = _DirectoryInput;

/**
 * A file with exact content, owner and mode, written atomically; `validate` checks the temp file before it lands.
 * @example
 * ```ts
 * import { file } from "./mod.ts";
 * const task = file({ path: "/etc/motd", content: "hello\n", mode: "0644", notify: ["reload motd"] });
 * ```
 */
export const file: typeof _file = _file;

/**
 * Arguments of {@link file} (before defaults are applied).
 * @example
 * ```ts
 * import { file, type FileInput } from "./mod.ts";
 * const args: FileInput = { path: "/etc/motd", content: "hello\n", mode: "0644", notify: ["reload motd"] };
 * file(args);
 * ```
 */
export type FileInput = _FileInput;

/**
 * A local group (present or absent).
 * @example
 * ```ts
 * import { group } from "./mod.ts";
 * const task = group({ name: "haproxy", system: true });
 * ```
 */
export const group: typeof _group = _group;

/**
 * Arguments of {@link group} (before defaults are applied).
 * @example
 * ```ts
 * import { group, type GroupInput } from "./mod.ts";
 * const args: GroupInput = { name: "haproxy", system: true };
 * group(args);
 * ```
 */
export type GroupInput = _GroupInput;

/**
 * An IPv4 route in a table (owns table, type and prefix), made live and persisted.
 * @example
 * ```ts
 * import { ipRoute } from "./mod.ts";
 * const task = ipRoute({ dest: "local 0.0.0.0/0", dev: "lo", table: 100 });
 * ```
 */
export const ipRoute: typeof _ipRoute = _ipRoute;

/**
 * Arguments of {@link ipRoute} (before defaults are applied).
 * @example
 * ```ts
 * import { ipRoute, type IpRouteInput } from "./mod.ts";
 * const args: IpRouteInput = { dest: "local 0.0.0.0/0", dev: "lo", table: 100 };
 * ipRoute(args);
 * ```
 */
export type IpRouteInput = _IpRouteInput;

/**
 * An IPv4 policy-routing rule at one priority (from or fwmark selector).
 * @example
 * ```ts
 * import { ipRule } from "./mod.ts";
 * const task = ipRule({ priority: 100, fwmark: 1, table: 100 });
 * ```
 */
export const ipRule: typeof _ipRule = _ipRule;

/**
 * Arguments of {@link ipRule} (before defaults are applied).
 * @example
 * ```ts
 * import { ipRule, type IpRuleInput } from "./mod.ts";
 * const args: IpRuleInput = { priority: 100, fwmark: 1, table: 100 };
 * ipRule(args);
 * ```
 */
export type IpRuleInput = _IpRuleInput;

/**
 * One iptables rule in a table and chain, at a position or appended.
 * @example
 * ```ts
 * import { iptablesRule } from "./mod.ts";
 * const task = iptablesRule({ chain: "INPUT", rule: ["-p", "vrrp", "-j", "ACCEPT"], position: 1 });
 * ```
 */
export const iptablesRule: typeof _iptablesRule = _iptablesRule;

/**
 * Arguments of {@link iptablesRule} (before defaults are applied).
 * @example
 * ```ts
 * import { iptablesRule, type IptablesRuleInput } from "./mod.ts";
 * const args: IptablesRuleInput = { chain: "INPUT", rule: ["-p", "vrrp", "-j", "ACCEPT"], position: 1 };
 * iptablesRule(args);
 * ```
 */
export type IptablesRuleInput = _IptablesRuleInput;

/**
 * One line of a file present (replacing what `regexp` matches) or absent.
 * @example
 * ```ts
 * import { lineInFile } from "./mod.ts";
 * const task = lineInFile({ path: "/etc/default/keepalived", regexp: "^DAEMON_ARGS=", line: 'DAEMON_ARGS="-D"' });
 * ```
 */
export const lineInFile: typeof _lineInFile = _lineInFile;

/**
 * Arguments of {@link lineInFile} (before defaults are applied).
 * @example
 * ```ts
 * import { lineInFile, type LineInFileInput } from "./mod.ts";
 * const args: LineInFileInput = { path: "/etc/default/keepalived", regexp: "^DAEMON_ARGS=", line: 'DAEMON_ARGS="-D"' };
 * lineInFile(args);
 * ```
 */
export type LineInFileInput = _LineInFileInput;

/**
 * VIPs on `lo` for LVS-DR real servers, made live and persisted in a netplan file (never applied).
 * @example
 * ```ts
 * import { loVip } from "./mod.ts";
 * const task = loVip({ address: "198.18.0.5" });
 * ```
 */
export const loVip: typeof _loVip = _loVip;

/**
 * Arguments of {@link loVip} (before defaults are applied).
 * @example
 * ```ts
 * import { loVip, type LoVipInput } from "./mod.ts";
 * const args: LoVipInput = { address: "198.18.0.5" };
 * loVip(args);
 * ```
 */
export type LoVipInput = _LoVipInput;

/**
 * A netplan file from data, checked by `netplan generate` before it lands.
 * @example
 * ```ts
 * import { netplan } from "./mod.ts";
 * const task = netplan({
 *   name: "99-haplay-lo",
 *   config: { network: { version: 2, ethernets: { lo: { addresses: ["198.18.0.5/32"] } } } },
 * });
 * ```
 */
export const netplan: typeof _netplan = _netplan;

/**
 * Arguments of {@link netplan} (before defaults are applied).
 * @example
 * ```ts
 * import { netplan, type NetplanInput } from "./mod.ts";
 * const args: NetplanInput = {
 *   name: "99-haplay-lo",
 *   config: { network: { version: 2, ethernets: { lo: { addresses: ["198.18.0.5/32"] } } } },
 * };
 * netplan(args);
 * ```
 */
export type NetplanInput = _NetplanInput;

/**
 * A service started, stopped, restarted or reloaded, and enabled at boot or not; checked alive.
 * @example
 * ```ts
 * import { service } from "./mod.ts";
 * const task = service({ name: "keepalived", state: "started", enabled: true });
 * ```
 */
export const service: typeof _service = _service;

/**
 * Arguments of {@link service} (before defaults are applied).
 * @example
 * ```ts
 * import { service, type ServiceInput } from "./mod.ts";
 * const args: ServiceInput = { name: "keepalived", state: "started", enabled: true };
 * service(args);
 * ```
 */
export type ServiceInput = _ServiceInput;

/**
 * A handler (name "<action> <service>", e.g. "reload keepalived") that runs the action and
 * checks the daemon is alive afterwards.
 * @example
 * ```ts
 * import { serviceHandler } from "./mod.ts";
 * const h = serviceHandler("keepalived", "reload");
 * console.assert(h.name === "reload keepalived");
 * ```
 */
export const serviceHandler: typeof _serviceHandler = _serviceHandler;

/**
 * A drop-in in /etc/sudoers.d (root:root 0440), checked by `visudo -cf` before it lands.
 * @example
 * ```ts
 * import { sudoers } from "./mod.ts";
 * const task = sudoers({ name: "haplay-deploy", content: "deploy ALL=(root) NOPASSWD: /usr/sbin/ipvsadm -Ln\n" });
 * ```
 */
export const sudoers: typeof _sudoers = _sudoers;

/**
 * Arguments of {@link sudoers} (before defaults are applied).
 * @example
 * ```ts
 * import { sudoers, type SudoersInput } from "./mod.ts";
 * const args: SudoersInput = { name: "haplay-deploy", content: "deploy ALL=(root) NOPASSWD: /usr/sbin/ipvsadm -Ln\n" };
 * sudoers(args);
 * ```
 */
export type SudoersInput = _SudoersInput;

/**
 * A kernel parameter set live (`sysctl -w`) and persisted in a sysctl.d file.
 * @example
 * ```ts
 * import { sysctl } from "./mod.ts";
 * const task = sysctl({ key: "net.ipv4.conf.all.arp_ignore", value: 1 });
 * ```
 */
export const sysctl: typeof _sysctl = _sysctl;

/**
 * Arguments of {@link sysctl} (before defaults are applied).
 * @example
 * ```ts
 * import { sysctl, type SysctlInput } from "./mod.ts";
 * const args: SysctlInput = { key: "net.ipv4.conf.all.arp_ignore", value: 1 };
 * sysctl(args);
 * ```
 */
export type SysctlInput = _SysctlInput;

/**
 * A {@link file} rendered from a `{{ var }}` template string or a function of `vars`.
 * @example
 * ```ts
 * import { template } from "./mod.ts";
 * const task = template({ path: "/etc/default/keepalived", template: 'DAEMON_ARGS="{{ args }}"\n', vars: { args: "-D" } });
 * ```
 */
export const template: typeof _template = _template;

/**
 * Arguments of {@link template} (before defaults are applied).
 * @example
 * ```ts
 * import { template, type TemplateInput } from "./mod.ts";
 * const args: TemplateInput = { path: "/etc/default/keepalived", template: 'DAEMON_ARGS="{{ args }}"\n', vars: { args: "-D" } };
 * template(args);
 * ```
 */
export type TemplateInput = _TemplateInput;

/**
 * A local user (system accounts get a nologin shell and no home by default).
 * @example
 * ```ts
 * import { user } from "./mod.ts";
 * const task = user({ name: "keepalived_script", system: true });
 * ```
 */
export const user: typeof _user = _user;

/**
 * Arguments of {@link user} (before defaults are applied).
 * @example
 * ```ts
 * import { user, type UserInput } from "./mod.ts";
 * const args: UserInput = { name: "keepalived_script", system: true };
 * user(args);
 * ```
 */
export type UserInput = _UserInput;
