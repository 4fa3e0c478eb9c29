/**
 * haplay's task library: idempotent primitives with check mode, diffs, validation and
 * rollback data. Each factory validates its arguments and returns a {@link Task}.
 * @module
 */
export type { Handler, Plan, Task } from "../engine/types.ts";
export { absent, type AbsentInput } from "./absent.ts";
export { apt, type AptInput } from "./apt.ts";
export { command, type CommandInput } from "./command.ts";
export { directory, type DirectoryInput } from "./directory.ts";
export { file, type FileInput, sha256 } from "./file.ts";
export { group, type GroupInput } from "./group.ts";
export { ipRoute, type IpRouteInput } from "./ip_route.ts";
export { ipRule, type IpRuleInput } from "./ip_rule.ts";
export { iptablesRule, type IptablesRuleInput } from "./iptables_rule.ts";
export { lineInFile, type LineInFileInput } from "./line_in_file.ts";
export { loVip, type LoVipInput } from "./lo_vip.ts";
export { netplan, type NetplanInput, netplanYaml } from "./netplan.ts";
export { enabledAtBootSh, service, serviceHandler, type ServiceInput } from "./service.ts";
export { sudoers, type SudoersInput } from "./sudoers.ts";
export { sysctl, type SysctlInput } from "./sysctl.ts";
export { render, type Template, template, type TemplateInput } from "./template.ts";
export { user, type UserInput } from "./user.ts";
export { unifiedDiff } from "./_diff.ts";
