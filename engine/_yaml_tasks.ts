/**
 * Tasks and handlers of a YAML playbook: one entry of `tasks:` is any primitive of `tasks/` by
 * its module name (`file: {path: ..., content: ...}`, or `module: file` + `args:`), its
 * arguments checked by that primitive's own schema; `name`, `notify`, `tags` and `when` beside
 * it. Handlers are `service:` (by the action its state names) or `command:` snippets.
 * @module
 */
import { z } from "zod";
import { ANSIBLE_MODULES, MODULE_CANONICAL, MODULE_NAMES, MODULES } from "../tasks/_registry.ts";
import { serviceHandler } from "../tasks/service.ts";
import { holds, names, text, type When, when } from "./_yaml_fields.ts";
import { ansibleOnly, describe, hint, type Problems } from "./_yaml_issues.ts";
import type { Handler, HostContext, Task } from "./types.ts";
import { joinPath, type Loc, toPlain, type YMap, type YNode } from "./yaml_pos.ts";

/** Keys of a task besides its module. */
const TASK_KEYS = ["name", "when", "notify", "tags", "module", "args"];

/** A notify reference, checked against the play's handlers once they are all known. */
export interface NotifyRef {
  name: string;
  loc: Loc;
  path: string;
}

/** A task entry, ready to build per host. */
export interface YamlTask {
  /** Builds the host's task, or undefined when `when` is false for it. */
  forHost(h: HostContext): Task | undefined;
  /** Its `notify:` references. */
  notify: NotifyRef[];
}

/** The module key of a task entry, its arguments node and where they are. */
function moduleOf(
  p: Problems,
  node: YMap,
  path: string,
):
  | { module: string; key: Loc; modPath: string; args: YNode | undefined; argsPath: string }
  | undefined {
  const mods = node.entries.filter((e) => !TASK_KEYS.includes(e.key));
  const explicit = node.entries.find((e) => e.key === "module");
  if (explicit) {
    const m = text(p, explicit.value, joinPath(path, "module"));
    for (const e of mods) {
      p.add(
        e.keyLoc,
        joinPath(path, e.key),
        ansibleOnly(e.key) ?? `unknown key '${e.key}' beside module:`,
      );
    }
    if (m === undefined) return undefined;
    const args = node.entries.find((e) => e.key === "args");
    return {
      module: m,
      key: explicit.value.loc,
      modPath: joinPath(path, "module"),
      args: args?.value,
      argsPath: joinPath(path, "args"),
    };
  }
  if (node.entries.some((e) => e.key === "args")) {
    const a = node.entries.find((e) => e.key === "args")!;
    p.add(a.keyLoc, joinPath(path, "args"), "args: needs module: NAME beside it");
  }
  if (mods.length === 0) {
    p.add(node.loc, path, `a task needs a module (one of ${MODULE_CANONICAL.join(", ")})`);
    return undefined;
  }
  if (mods.length > 1) {
    const known = mods.filter((e) => MODULES.has(e.key));
    const unknown = mods.filter((e) => !MODULES.has(e.key));
    for (const e of unknown) {
      p.add(e.keyLoc, joinPath(path, e.key), unknownModule(e.key));
    }
    if (known.length > 1) {
      p.add(
        known[1].keyLoc,
        joinPath(path, known[1].key),
        `one module per task: found ${known.map((e) => e.key).join(" and ")}`,
      );
    }
    return undefined;
  }
  const e = mods[0];
  const at = joinPath(path, e.key);
  return { module: e.key, key: e.keyLoc, modPath: at, args: e.value, argsPath: at };
}

function unknownModule(name: string): string {
  const instead = ANSIBLE_MODULES[name];
  if (instead) return `unknown module '${name}': use ${instead}`;
  return ansibleOnly(name) ??
    `unknown module '${name}'${hint(name, [...MODULE_NAMES, ...TASK_KEYS])}`;
}

/** Arguments as plain data: a mapping; `command: "sh line"` is `{cmd: ...}`; empty is `{}`. */
function argsOf(
  p: Problems,
  module: string,
  node: YNode | undefined,
  path: string,
): Record<string, unknown> | undefined {
  if (!node || (node.kind === "scalar" && node.value === null)) return {};
  if (module === "command" && node.kind === "scalar" && typeof node.value === "string") {
    return { cmd: node.value };
  }
  if (node.kind !== "map") {
    p.add(
      node.loc,
      path,
      `arguments of ${module} must be a mapping, got ${describe(toPlain(node))}`,
    );
    return undefined;
  }
  return toPlain(node) as Record<string, unknown>;
}

/** Reads `name`, `notify`, `tags` and `when` of a task or role entry. */
export function commonFields(p: Problems, src: string, node: YMap, path: string) {
  const get = (k: string) => node.entries.find((e) => e.key === k)?.value;
  const n = get("name");
  const name = n === undefined ? undefined : text(p, n, joinPath(path, "name"));
  const nt = get("notify");
  const notify = nt === undefined ? [] : names(p, nt, joinPath(path, "notify"));
  const tg = get("tags");
  const tags = tg === undefined ? [] : names(p, tg, joinPath(path, "tags")).map((t) => t.name);
  const w = get("when");
  const cond: When | undefined = w === undefined
    ? undefined
    : when(p, src, w, joinPath(path, "when"));
  return { name, notify, tags, when: cond };
}

/** Reads one entry of `tasks:`; undefined when it has errors (recorded). */
export function parseTask(
  p: Problems,
  src: string,
  node: YNode,
  path: string,
): YamlTask | undefined {
  if (node.kind !== "map") {
    p.add(
      node.loc,
      path,
      `a task must be a mapping (name: ..., MODULE: {args}), got ${describe(toPlain(node))}`,
    );
    return undefined;
  }
  const before = p.issues.length;
  const c = commonFields(p, src, node, path);
  const m = moduleOf(p, node, path);
  if (!m) return undefined;
  const def = MODULES.get(m.module);
  if (!def) {
    p.add(m.key, m.modPath, unknownModule(m.module));
    return undefined;
  }
  const written = argsOf(p, def.name, m.args, m.argsPath);
  if (!written) return undefined;
  const issues = def.validate(written);
  if (issues.length && m.args) p.addZod(m.args, m.argsPath, issues, def.name, def.argNames);
  else if (issues.length) p.add(m.key, m.argsPath, `${def.name}: arguments are required`);
  if (p.issues.length > before) return undefined;
  // The entry's name, notify and tags go into the arguments, as a TypeScript playbook passes them
  const args = { ...written };
  if (c.name !== undefined && def.displayKey && args[def.displayKey] === undefined) {
    args[def.displayKey] = c.name;
  }
  const own = Array.isArray(written.notify) ? written.notify as string[] : [];
  const notify = [...new Set([...own, ...c.notify.map((x) => x.name)])];
  if (notify.length) args.notify = notify;
  const ownTags = Array.isArray(written.tags) ? written.tags as string[] : [];
  const tags = [...new Set([...ownTags, ...c.tags])];
  if (tags.length) args.tags = tags;
  const rename = c.name !== undefined && args[def.displayKey ?? ""] !== c.name;
  let built: Task | undefined;
  if (!def.perHost) {
    try {
      built = def.build(args);
    } catch (e) {
      p.add(m.key, m.argsPath, (e as Error).message);
      return undefined;
    }
  }
  return {
    notify: [
      ...c.notify,
      ...own.map((n, i) => ({
        name: n,
        loc: m.args!.loc,
        path: joinPath(joinPath(m.argsPath, "notify"), i),
      })),
    ],
    forHost(h) {
      if (!holds(c.when, h)) return undefined;
      let t = built;
      if (!t) {
        try {
          t = def.build(args, h);
        } catch (e) {
          throw new Error(
            `${p.file}:${m.key.line}:${m.key.col} ${m.argsPath}: ${(e as Error).message}`,
          );
        }
      }
      return rename ? { ...t, name: c.name! } : t;
    },
  };
}

/** Arguments of a `service:` handler. */
const ServiceHandlerArgs = z.strictObject({
  name: z.string().min(1),
  state: z.enum(["started", "stopped", "restarted", "reloaded"]),
  pidfile: z.string().optional(),
  process: z.string().optional(),
});

const ACTIONS = { started: "start", stopped: "stop", restarted: "restart", reloaded: "reload" };

/** A handler entry, with where its name was written. */
export interface YamlHandler {
  handler: Handler;
  loc: Loc;
  path: string;
}

/** Reads one entry of `handlers:`; undefined when it has errors (recorded). */
export function parseHandler(
  p: Problems,
  node: YNode,
  path: string,
): YamlHandler | undefined {
  if (node.kind !== "map") {
    p.add(node.loc, path, `a handler must be a mapping, got ${describe(toPlain(node))}`);
    return undefined;
  }
  const get = (k: string) => node.entries.find((e) => e.key === k);
  const n = get("name");
  const name = n ? text(p, n.value, joinPath(path, "name")) : undefined;
  const others = node.entries.filter((e) => e.key !== "name");
  const kinds = ["service", "command"];
  for (const e of others.filter((x) => !kinds.includes(x.key))) {
    p.add(
      e.keyLoc,
      joinPath(path, e.key),
      `unknown key '${e.key}' of a handler${hint(e.key, kinds)}: handlers are service: or command:`,
    );
  }
  const svc = get("service");
  const cmd = get("command");
  if (!svc && !cmd) {
    if (!others.length) p.add(node.loc, path, "a handler needs service: or command:");
    return undefined;
  }
  if (svc && cmd) {
    p.add(cmd.keyLoc, joinPath(path, "command"), "one of service: or command:, not both");
    return undefined;
  }
  if (cmd) {
    const cp = joinPath(path, "command");
    const v = cmd.value;
    const run = v.kind === "map"
      ? (() => {
        const c = v.entries.find((e) => e.key === "cmd");
        for (const e of v.entries.filter((e) => e.key !== "cmd")) {
          p.add(e.keyLoc, joinPath(cp, e.key), `unknown argument '${e.key}' of a command handler`);
        }
        return c
          ? text(p, c.value, joinPath(cp, "cmd"))
          : (p.add(v.loc, cp, "cmd is required"), undefined);
      })()
      : text(p, v, cp);
    if (run === undefined) return undefined;
    if (name === undefined) {
      if (!n) {
        p.add(
          node.loc,
          joinPath(path, "name"),
          "a command handler needs a name (what tasks notify)",
        );
      }
      return undefined;
    }
    return { handler: { name, run }, loc: n!.value.loc, path: joinPath(path, "name") };
  }
  const sp = joinPath(path, "service");
  const plain = toPlain(svc!.value);
  const r = ServiceHandlerArgs.safeParse(plain);
  if (!r.success) {
    p.addZod(
      svc!.value,
      sp,
      r.error.issues,
      "a service handler",
      Object.keys(ServiceHandlerArgs.shape),
    );
    return undefined;
  }
  let h: Handler;
  try {
    h = serviceHandler(r.data.name, ACTIONS[r.data.state] as never, {
      pidfile: r.data.pidfile,
      process: r.data.process,
    });
  } catch (e) {
    p.add(svc!.value.loc, sp, (e as Error).message.replace(/^serviceHandler: /, ""));
    return undefined;
  }
  if (name !== undefined) h = { ...h, name };
  return {
    handler: h,
    loc: n ? n.value.loc : svc!.keyLoc,
    path: n ? joinPath(path, "name") : sp,
  };
}
