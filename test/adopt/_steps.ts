/**
 * What the adoption test does around haplay's CLI: run a `deno task` as a user would, probe the
 * VIP while a deploy runs, read a host's keepalived config tree, flatten parsed configs to
 * comparable lines.
 * @module
 */
import { fileURLToPath } from "node:url";
import { type Lab, labExec } from "../../lab/lab.ts";
import { type KaNode, parseKeepalivedConf } from "../../lb/keepalived_parse.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A finished `deno task` run. */
export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `deno task NAME ARGS...` in the repository, as a user's shell would. */
export async function denoTask(name: string, ...args: string[]): Promise<TaskRun> {
  const t = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return {
    code: r.code,
    stdout: dec.decode(r.stdout),
    stderr: dec.decode(r.stderr),
    ms: Math.round(performance.now() - t),
  };
}

/** A run's output for assertion messages. */
export function shown(r: TaskRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${
    r.stderr.slice(-3000)
  }`;
}

/** Every file under `dir` on a lab host, by path (read inside the host, not over SSH). */
export async function readTree(lab: Lab, host: string, dir: string): Promise<Map<string, string>> {
  const r = await labExec(lab, host, [
    "sh",
    "-c",
    `find ${dir} -type f | sort | while read -r f; do printf '%s ' "$f"; base64 -w0 "$f"; echo; done`,
  ]);
  const out = new Map<string, string>();
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    const [path, b64 = ""] = line.split(" ");
    out.set(path, new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
  }
  return out;
}

function globRe(pattern: string): RegExp {
  const esc = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(
    /\?/g,
    "[^/]",
  );
  return new RegExp(`^${esc}$`);
}

/** Parses a host's keepalived.conf with its includes followed, from a {@link readTree} map. */
export function parseTree(files: Map<string, string>, main = "/etc/keepalived/keepalived.conf") {
  return parseKeepalivedConf(files.get(main) ?? "", {
    file: main,
    read: (p) => files.get(p),
    glob: (pat) => [...files.keys()].filter((k) => globRe(pat).test(k)).sort(),
  });
}

/**
 * A parsed config as lines `block > block > key args`, one per statement (blocks included by
 * their head), so two configs compare as sets of statements.
 */
export function flatten(nodes: KaNode[], path = ""): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    const head = [n.key, ...n.args].join(" ");
    const line = path ? `${path} > ${head}` : head;
    out.push(line);
    if (n.children) out.push(...flatten(n.children, line));
  }
  return out;
}
