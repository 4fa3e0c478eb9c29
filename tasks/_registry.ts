/**
 * Every primitive of `tasks/` by its module name, for YAML playbooks: the zod schema its
 * arguments are validated with and the factory that builds the task (the same one TypeScript
 * playbooks call). Names are the factories' (`lineInFile`), with snake_case and Ansible aliases
 * (`line_in_file`, `lineinfile`).
 * @module
 */
import { z } from "zod";
import type { HostContext, Task } from "../engine/types.ts";
import { absent, AbsentArgs } from "./absent.ts";
import { apt, AptArgs } from "./apt.ts";
import { command, CommandArgs } from "./command.ts";
import { directory, DirectoryArgs } from "./directory.ts";
import { file, FileArgs } from "./file.ts";
import { group, GroupArgs } from "./group.ts";
import { ipRoute, IpRouteArgs } from "./ip_route.ts";
import { ipRule, IpRuleArgs } from "./ip_rule.ts";
import { iptablesRule, IptablesRuleArgs } from "./iptables_rule.ts";
import { lineInFile, LineInFileArgs } from "./line_in_file.ts";
import { loVip, LoVipArgs } from "./lo_vip.ts";
import { netplan, NetplanArgs } from "./netplan.ts";
import { service, ServiceArgs } from "./service.ts";
import { sudoers, SudoersArgs } from "./sudoers.ts";
import { sysctl, SysctlArgs } from "./sysctl.ts";
import { template } from "./template.ts";
import { user, UserArgs } from "./user.ts";

/** One primitive as a YAML playbook sees it. */
export interface ModuleDef {
  /** Canonical name (the factory's). */
  name: string;
  /** Argument names (for "did you mean"). */
  argNames: readonly string[];
  /** Validates the arguments as written; `safeParse` issues locate the bad field. */
  validate(args: unknown): z.core.$ZodIssue[];
  /** Builds the task (of `host` for {@link ModuleDef.perHost} modules). */
  build(args: Record<string, unknown>, host?: HostContext): Task;
  /** The argument holding the task's display name (`name`, apt's `title`), if it has one. */
  displayKey?: string;
  /** True when the task depends on the host (built per host); otherwise built once. */
  perHost?: boolean;
}

/** Issues of `schema` on `args` (none when valid). */
function issues(schema: z.ZodType, args: unknown): z.core.$ZodIssue[] {
  const r = schema.safeParse(args);
  return r.success ? [] : r.error.issues;
}

// deno-lint-ignore no-explicit-any
type Factory = (args: any) => Task;

/** The keys of an object schema. */
function keysOf(schema: z.ZodType): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function plain(
  name: string,
  schema: z.ZodType,
  factory: Factory,
  displayKey: string | undefined = "name",
): ModuleDef {
  return {
    name,
    displayKey,
    argNames: keysOf(schema),
    validate: (a) => issues(schema, a),
    build: (a) => factory(a),
  };
}

/** `template`'s own fields; the rest are `file`'s (checked with a placeholder content). */
const TemplateOwn = z.object({
  template: z.string(),
  vars: z.record(z.string(), z.unknown()).optional(),
});

/** The variables a template sees: Ansible's magic names, the host's, then its own `vars`. */
export function templateVars(host: HostContext, own?: Record<string, unknown>) {
  return {
    inventory_hostname: host.name,
    group_names: host.groups.filter((g) => g !== "all"),
    ...host.vars,
    ...own,
  };
}

const templateDef: ModuleDef = {
  name: "template",
  displayKey: "name",
  perHost: true,
  argNames: [...keysOf(TemplateOwn), ...keysOf(FileArgs).filter((k) => k !== "content")],
  validate(args) {
    const own = issues(TemplateOwn, args);
    if (args === null || typeof args !== "object" || Array.isArray(args)) return own;
    const { template: _t, vars: _v, ...rest } = args as Record<string, unknown>;
    const fileIssues = issues(FileArgs, { ...rest, content: "" })
      .map((i) =>
        i.code === "unrecognized_keys" ? { ...i, keys: i.keys.filter((k) => k !== "content") } : i
      );
    return [...own, ...fileIssues];
  },
  build(args, host) {
    if (!host) throw new Error("template: built per host");
    const { vars, ...rest } = args as { vars?: Record<string, unknown>; template: string };
    return template({ ...rest, vars: templateVars(host, vars) } as never);
  },
};

const DEFS: ModuleDef[] = [
  plain("absent", AbsentArgs, absent),
  plain("apt", AptArgs, apt, "title"),
  plain("command", CommandArgs, command),
  plain("directory", DirectoryArgs, directory),
  plain("file", FileArgs, file),
  plain("group", GroupArgs, group, undefined),
  plain("ipRoute", IpRouteArgs, ipRoute),
  plain("ipRule", IpRuleArgs, ipRule),
  plain("iptablesRule", IptablesRuleArgs, iptablesRule),
  plain("lineInFile", LineInFileArgs, lineInFile),
  plain("loVip", LoVipArgs, loVip),
  plain("netplan", NetplanArgs, netplan),
  plain("service", ServiceArgs, service, undefined),
  plain("sudoers", SudoersArgs, sudoers, undefined),
  plain("sysctl", SysctlArgs, sysctl),
  templateDef,
  plain("user", UserArgs, user, undefined),
];

/** Other spellings accepted for a module. */
const ALIASES: Record<string, string> = {
  ip_route: "ipRoute",
  ip_rule: "ipRule",
  iptables_rule: "iptablesRule",
  line_in_file: "lineInFile",
  lineinfile: "lineInFile",
  lo_vip: "loVip",
};

/** Ansible modules with a haplay counterpart under another name or shape. */
export const ANSIBLE_MODULES: Readonly<Record<string, string>> = {
  copy: "file: {path, content} (or template:)",
  shell: "command: (it runs with sh -c)",
  systemd: "service:",
  systemd_service: "service:",
  package: "apt:",
  iptables: "iptablesRule: {table, chain, rule: [...]}",
  sysctl_set: "sysctl:",
  authorized_key: "file: with the key's content",
};

/** Modules by every accepted name. */
export const MODULES: ReadonlyMap<string, ModuleDef> = new Map([
  ...DEFS.map((d) => [d.name, d] as const),
  ...Object.entries(ALIASES).map(([a, n]) => [a, DEFS.find((d) => d.name === n)!] as const),
]);

/** The canonical module names, sorted. */
export const MODULE_CANONICAL: readonly string[] = DEFS.map((d) => d.name).sort();

/** Every accepted module name, sorted (for "did you mean" and docs). */
export const MODULE_NAMES: readonly string[] = [...MODULES.keys()].sort();
