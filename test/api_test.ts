/**
 * The public API: what each entry point of deno.json's `exports` exports, read by `deno doc`
 * (so re-exports are followed): the authoring API only, every export with an `@example` (which
 * `deno test --doc` type-checks and runs, in `deno task test`), and `roles/` importing nothing
 * from `lab/`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface DocSymbol {
  name: string;
  declarations: Array<{ jsDoc?: { tags?: Array<{ kind: string }> } }>;
}

async function exportsOf(entry: string): Promise<{ names: string[]; noExample: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", `${ROOT}${entry}`],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(out.code, 0, `deno doc ${entry} failed`);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const node = doc.nodes[`file://${ROOT}${entry}`];
  const symbols: DocSymbol[] = node.symbols;
  const hasExample = (s: DocSymbol) =>
    s.declarations.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example"));
  return {
    names: symbols.map((s) => s.name).sort(),
    noExample: symbols.filter((s) => !hasExample(s)).map((s) => s.name),
  };
}

const ENTRY_POINTS = ["mod.ts", "tasks/mod.ts", "roles/mod.ts", "lab/mod.ts"];

Deno.test("api: deno.json exports the four entry points", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assert.deepEqual(cfg.exports, {
    ".": "./mod.ts",
    "./tasks": "./tasks/mod.ts",
    "./roles": "./roles/mod.ts",
    "./lab": "./lab/mod.ts",
  });
  assert.match(cfg.tasks.test, /deno test --doc .*mod\.ts engine\/mod\.ts tasks\/mod\.ts/);
});

Deno.test("api: every export of every entry point has an @example", async () => {
  for (const entry of ENTRY_POINTS) {
    const { names, noExample } = await exportsOf(entry);
    assert.ok(names.length > 0, entry);
    assert.deepEqual(noExample, [], `${entry}: exports without @example`);
  }
});

Deno.test("api: mod.ts exports the authoring API and nothing internal", async () => {
  const { names } = await exportsOf("mod.ts");
  const internal = [
    "PRELUDE",
    "q",
    "b64",
    "unb64",
    "parseKv",
    "SshSession",
    "SshTarget",
    "HostKeyError",
    "redactor",
    "Redactor",
    "Secret",
    "newRunId",
    "targetOf",
    "prepare",
    "selectHosts",
    "sha256",
    "unifiedDiff",
    "labInventoryText",
    "writeLabInventory",
    "labUp",
    "site",
    "paths",
  ];
  assert.deepEqual(names.filter((n) => internal.includes(n)), []);
  // The whole list: changing the public API is a deliberate edit of this test.
  assert.deepEqual(names, [
    "AbsentInput",
    "AptInput",
    "CommandInput",
    "Connector",
    "ConnectorFactory",
    "DirectoryInput",
    "ExecResult",
    "FileInput",
    "GateResult",
    "GroupInput",
    "Handler",
    "HookContext",
    "HostContext",
    "HostReport",
    "HostRollback",
    "HostStatus",
    "Inventory",
    "InventoryHost",
    "IpRouteInput",
    "IpRuleInput",
    "IptablesRuleInput",
    "Issue",
    "LineInFileInput",
    "LoVipInput",
    "LocalConnectors",
    "NetplanInput",
    "Plan",
    "PlanChange",
    "PlanOk",
    "Play",
    "Playbook",
    "RollbackOptions",
    "Rolling",
    "RunOptions",
    "RunReport",
    "Serial",
    "ServiceInput",
    "SudoersInput",
    "SysctlInput",
    "Task",
    "TaskReport",
    "TaskStatus",
    "TemplateInput",
    "UserInput",
    "VerifyCheck",
    "VerifyContext",
    "absent",
    "apt",
    "command",
    "directory",
    "dsrFwmarkHandlers",
    "dsrFwmarkTasks",
    "file",
    "formatIssue",
    "group",
    "historyHosts",
    "ipRoute",
    "ipRule",
    "iptablesRule",
    "keepalivedHandlers",
    "keepalivedPackageTasks",
    "keepalivedTasks",
    "lbSysctlTasks",
    "lineInFile",
    "lintLb",
    "loVip",
    "loVipTasks",
    "loadInventory",
    "loadPlaybook",
    "netplan",
    "notifyTasks",
    "realServerSysctlTasks",
    "recapTable",
    "redirectHandlers",
    "redirectTasks",
    "rollbackHosts",
    "runPlaybook",
    "scriptUserTasks",
    "service",
    "serviceHandler",
    "sudoers",
    "sysctl",
    "template",
    "user",
    "verifyLb",
  ]);
});

Deno.test("api: roles/ imports nothing from lab/", async () => {
  const offenders: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}roles`)) {
    if (!e.name.endsWith(".ts")) continue;
    const src = await Deno.readTextFile(`${ROOT}roles/${e.name}`);
    if (/(?:from|import)\s*\(?\s*["']\.\.\/lab\//.test(src)) offenders.push(e.name);
  }
  assert.deepEqual(offenders, []);
});

Deno.test("api: lb/ (the LB domain) imports nothing from roles/, playbooks/ or lab/", async () => {
  const offenders: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}lb`)) {
    if (!e.name.endsWith(".ts")) continue;
    const src = await Deno.readTextFile(`${ROOT}lb/${e.name}`);
    if (/(?:from|import)\s*\(?\s*["']\.\.\/(roles|playbooks|lab)\//.test(src)) {
      offenders.push(e.name);
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("api: roles/ imports nothing from playbooks/ (no roles → playbooks → roles cycle)", async () => {
  const offenders: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}roles`)) {
    if (!e.name.endsWith(".ts")) continue;
    const src = await Deno.readTextFile(`${ROOT}roles/${e.name}`);
    if (/(?:from|import)\s*\(?\s*["']\.\.\/playbooks\//.test(src)) offenders.push(e.name);
  }
  assert.deepEqual(offenders, []);
});

Deno.test("api: engine/ imports nothing from playbooks/ (the site playbook is loaded by path)", async () => {
  const offenders: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}engine`)) {
    if (!e.name.endsWith(".ts")) continue;
    const src = await Deno.readTextFile(`${ROOT}engine/${e.name}`);
    if (/(?:from|import)\s*\(?\s*["']\.\.\/playbooks\//.test(src)) offenders.push(e.name);
  }
  assert.deepEqual(offenders, []);
});
