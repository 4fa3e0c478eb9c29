/**
 * YAML playbooks: Ansible-style plays that reuse haplay's roles and primitives without
 * TypeScript. A file is a list of plays:
 *
 * ```yaml
 * - name: motd
 *   hosts: web:&prod          # Ansible host patterns
 *   serial: "50%"
 *   max_fail_percentage: 0
 *   roles:
 *     - lo_vip
 *     - role: keepalived
 *       vars: { vrrp_interface: eth1 }
 *   tasks:
 *     - name: the motd
 *       file: { path: /etc/motd, content: "hello\n" }
 *       notify: restart ssh
 *       tags: [motd]
 *       when: env is defined and env == "prod"
 *   handlers:
 *     - service: { name: ssh, state: restarted }   # notified as "restart ssh"
 * ```
 *
 * The loader builds the same {@link Play} and {@link Task} objects a TypeScript playbook
 * builds, so a run is the same: two round trips per host, check/diff, journal, rollback. Every
 * problem is reported at once, each with file, line, column and field, before any host is
 * contacted ({@link PlaybookError}).
 * @module
 */
import { InventoryError, type Issue } from "./inventory.ts";
import type { Playbook } from "./playbook_types.ts";
import { parseRole, type RoleUse } from "./_yaml_roles.ts";
import { parseHandler, parseTask, type YamlHandler, type YamlTask } from "./_yaml_tasks.ts";
import { ansibleOnly, hint, Problems } from "./_yaml_issues.ts";
import { text } from "./_yaml_fields.ts";
import { splitPattern } from "./patterns.ts";
import type { Handler, HostContext, Play } from "./types.ts";
import { joinPath, parseYaml, type YMap, type YNode } from "./yaml_pos.ts";
import { lintLb } from "../lb/lint.ts";
import { verifyLb } from "../lb/verify.ts";
import { holdsVipScript, lbGateScript, liveOrder, rollingIf, vipGate } from "../lb/gate.ts";

/** Every problem of a YAML playbook (the CLI prints them and exits 3, contacting no host). */
export class PlaybookError extends InventoryError {
  /** @param issues the errors, in file order */
  constructor(issues: Issue[]) {
    super(issues);
    this.name = "PlaybookError";
  }
}

const PLAY_KEYS = ["name", "hosts", "serial", "max_fail_percentage", "roles", "tasks", "handlers"];

/** Keys whose values are secrets: they belong in the inventory, as references. */
const SECRET_KEY = /password|_pass$|secret|token/i;

/** Reads and checks a YAML playbook file; throws {@link PlaybookError} listing every problem. */
export async function loadYamlPlaybook(file: string): Promise<Playbook> {
  let src: string;
  try {
    src = await Deno.readTextFile(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new PlaybookError([{
      file,
      line: 1,
      col: 1,
      path: "",
      message: `cannot read the playbook: ${why}`,
      severity: "error",
    }]);
  }
  return parseYamlPlaybook(src, file);
}

/** Checks a YAML playbook's text (`file` names it in errors); throws {@link PlaybookError}. */
export function parseYamlPlaybook(src: string, file: string): Playbook {
  const p = new Problems(file);
  const parsed = parseYaml(src);
  for (const y of parsed.problems) p.add(y.loc, y.path, y.message);
  const root = parsed.root;
  if (p.issues.length) throw new PlaybookError(p.sorted());
  if (!root || root.kind !== "seq" || root.items.length === 0) {
    p.add(
      root?.loc ?? { line: 1, col: 1 },
      "",
      "a playbook is a non-empty list of plays (- name: ..., hosts: ...)",
    );
    throw new PlaybookError(p.sorted());
  }
  noTagsNoSecrets(p, root, "");
  const plays: Play[] = [];
  const uses: RoleUse[] = [];
  root.items.forEach((node, i) => {
    const r = parsePlay(p, src, node, joinPath("", i), i);
    if (r) {
      plays.push(r.play);
      uses.push(...r.roles);
    }
  });
  if (p.issues.length) throw new PlaybookError(p.sorted());
  return withLbHooks(plays, uses);
}

/** Rejects `!tags` (secrets are resolved in the inventory only) and inline secrets. */
function noTagsNoSecrets(p: Problems, node: YNode, path: string): void {
  if (node.tag) {
    p.add(
      node.loc,
      path,
      `${node.tag} is not read in a playbook: put secrets in the inventory (auth_pass: !env NAME)`,
    );
    return;
  }
  if (node.kind === "seq") node.items.forEach((it, i) => noTagsNoSecrets(p, it, joinPath(path, i)));
  if (node.kind !== "map") return;
  for (const e of node.entries) {
    const ep = joinPath(path, e.key);
    if (SECRET_KEY.test(e.key) && e.value.kind === "scalar" && typeof e.value.value === "string") {
      p.add(
        e.value.loc,
        ep,
        "a secret is never written in a playbook: set it in the inventory as !env NAME or !file PATH",
      );
      continue;
    }
    noTagsNoSecrets(p, e.value, ep);
  }
}

/** Lint, verify and the rolling LB hooks when the plays use the load-balancer roles. */
function withLbHooks(plays: Play[], uses: RoleUse[]): Playbook {
  const lb = uses.filter((u) => u.def.lb);
  // The inventory's haplay_lb is what lint and verify read; a play that sets its own through a
  // role's vars is checked by the role's schema instead.
  const fromInventory = lb.length > 0 && lb.every((u) => !("haplay_lb" in u.vars));
  return {
    plays,
    lint: fromInventory ? lintLb : undefined,
    verify: fromInventory && lb.some((u) => u.def.keepalived) ? verifyLb : undefined,
  };
}

/** The site playbook's order and gates for a play deploying keepalived (as that role sees hosts). */
function rollingHooks(use: RoleUse): Partial<Play> {
  const v = use.view;
  return {
    orderProbe: (h) => holdsVipScript(v(h)),
    order: (hosts, ctx) => liveOrder(hosts.map(v), ctx),
    rollingIf: (hosts, ctx) => rollingIf(hosts.map(v), ctx),
    gateScript: {
      script: (h) => lbGateScript.script(v(h)),
      check: (h, out) => lbGateScript.check(v(h), out),
    },
    gate: (h, ctx, applied) => vipGate(v(h), ctx, applied),
  };
}

function parsePlay(
  p: Problems,
  src: string,
  node: YNode,
  path: string,
  index: number,
): { play: Play; roles: RoleUse[] } | undefined {
  if (node.kind !== "map") {
    p.add(node.loc, path, "a play must be a mapping (name:, hosts:, roles:, tasks:, handlers:)");
    return undefined;
  }
  const before = p.issues.length;
  const get = (k: string) => node.entries.find((e) => e.key === k)?.value;
  for (const e of node.entries) {
    if (!PLAY_KEYS.includes(e.key)) {
      p.add(
        e.keyLoc,
        joinPath(path, e.key),
        ansibleOnly(e.key) ??
          `unknown key '${e.key}' of a play${hint(e.key, PLAY_KEYS)} (a play has ${
            PLAY_KEYS.join(", ")
          })`,
      );
    }
  }
  const nameNode = get("name");
  const name = nameNode ? text(p, nameNode, joinPath(path, "name")) : `play ${index + 1}`;
  const hosts = hostsOf(p, node, get("hosts"), joinPath(path, "hosts"));
  const serial = serialOf(p, get("serial"), joinPath(path, "serial"));
  const maxFail = maxFailOf(p, get("max_fail_percentage"), joinPath(path, "max_fail_percentage"));

  const handlers: YamlHandler[] = listOf(p, get("handlers"), joinPath(path, "handlers"))
    .flatMap(([n, hp]) => parseHandler(p, n, hp) ?? []);
  const seen = new Map<string, YamlHandler>();
  for (const h of handlers) {
    const first = seen.get(h.handler.name);
    if (first) {
      p.add(
        h.loc,
        h.path,
        `handler '${h.handler.name}' is defined twice (first at line ${first.loc.line})`,
      );
    } else seen.set(h.handler.name, h);
  }
  const roles: RoleUse[] = listOf(p, get("roles"), joinPath(path, "roles"))
    .flatMap(([n, rp]) => parseRole(p, src, n, rp) ?? []);
  const tasks: YamlTask[] = listOf(p, get("tasks"), joinPath(path, "tasks"))
    .flatMap(([n, tp]) => parseTask(p, src, n, tp) ?? []);
  if (!get("roles") && !get("tasks")) {
    p.add(node.loc, path, "a play needs roles:, tasks: or both");
  }

  const known = [...seen.keys(), ...roles.flatMap((r) => r.def.handlerNames)];
  for (const t of tasks) {
    for (const n of t.notify) {
      if (!known.includes(n.name)) {
        p.add(n.loc, n.path, `no handler '${n.name}' in this play${hint(n.name, known)}`);
      }
    }
  }
  if (p.issues.length > before || name === undefined || hosts === undefined) return undefined;

  const own: Handler[] = [...seen.values()].map((h) => h.handler);
  const play: Play = {
    name,
    hosts,
    ...(serial !== undefined ? { serial } : {}),
    ...(maxFail !== undefined ? { maxFailPercentage: maxFail } : {}),
    tasks: (h: HostContext) => [
      ...roles.flatMap((r) => r.tasks(h)),
      ...tasks.flatMap((t) => t.forHost(h) ?? []),
    ],
    handlers: (h: HostContext) => {
      const out = new Map<string, Handler>();
      for (const x of [...roles.flatMap((r) => r.handlers(h)), ...own]) out.set(x.name, x);
      return [...out.values()];
    },
  };
  const ka = roles.find((r) => r.def.keepalived);
  return { play: ka ? { ...play, ...rollingHooks(ka) } : play, roles };
}

/** The items of a list field with their paths (none when absent; an error when not a list). */
function listOf(p: Problems, node: YNode | undefined, path: string): Array<[YNode, string]> {
  if (!node || (node.kind === "scalar" && node.value === null)) return [];
  if (node.kind !== "seq") {
    p.add(node.loc, path, "must be a list (each item on a line starting with '- ')");
    return [];
  }
  return node.items.map((n, i) => [n, joinPath(path, i)]);
}

function hostsOf(p: Problems, play: YMap, node: YNode | undefined, path: string) {
  if (!node) {
    p.add(play.loc, path, "is required: a host pattern (all, lb, web:&prod, ...)");
    return undefined;
  }
  const parts = node.kind === "seq" ? node.items : [node];
  const terms: string[] = [];
  for (const [i, n] of parts.entries()) {
    const v = text(p, n, node.kind === "seq" ? joinPath(path, i) : path);
    if (v === undefined) return undefined;
    if (splitPattern(v).length === 0) {
      p.add(n.loc, path, "must name hosts or groups (all, lb, web:&prod, ...)");
      return undefined;
    }
    terms.push(v);
  }
  return terms.join(":");
}

const SERIAL_ITEM = /^(?:[1-9][0-9]*|(?:100|[1-9][0-9]?)%)$/;

function serialOf(p: Problems, node: YNode | undefined, path: string) {
  if (!node) return undefined;
  const items = node.kind === "seq" ? node.items : [node];
  const out: Array<number | string> = [];
  for (const [i, n] of items.entries()) {
    const v = n.kind === "scalar" ? n.value : undefined;
    const ok = (typeof v === "number" && Number.isInteger(v) && v >= 1) ||
      (typeof v === "string" && SERIAL_ITEM.test(v));
    if (!ok) {
      p.add(
        n.loc,
        node.kind === "seq" ? joinPath(path, i) : path,
        `must be a host count (1, 2, ...) or a percentage ("30%"), or a list of them`,
      );
      return undefined;
    }
    out.push(typeof v === "string" && !v.endsWith("%") ? Number(v) : v as number | string);
  }
  return node.kind === "seq" ? out : out[0];
}

function maxFailOf(p: Problems, node: YNode | undefined, path: string) {
  if (!node) return undefined;
  const v = node.kind === "scalar" ? node.value : undefined;
  if (typeof v !== "number" || v < 0 || v > 100) {
    p.add(node.loc, path, "must be a percentage from 0 to 100");
    return undefined;
  }
  return v;
}
