/**
 * Benchmark scenario 3 for haplay: 20 templated files on every host. The generation number
 * comes from env `BENCH_GEN` (the Ansible side gets `-e bench_gen=N`), so every run changes
 * all 20 files. The content is byte-identical to `bench/ansible/roles/bench_files`.
 * @module
 */
import type { HostContext, Play, Task } from "../engine/types.ts";
import { directory } from "../tasks/directory.ts";
import { template } from "../tasks/template.ts";

/** Directory of the benchmark files on every host. */
export const BENCH_DIR = "/etc/haplay-bench";
/** Number of files per host. */
export const BENCH_FILES = 20;

/** The host's service address (data_address without its prefix, else ansible_host). */
export function serviceAddress(vars: Record<string, unknown>): string {
  const da = vars.data_address ?? vars.ansible_host;
  return String(da).replace(/\/\d+$/, "");
}

/** Path of file `n` (1-based). */
export function benchFile(n: number): string {
  return `${BENCH_DIR}/f${String(n).padStart(2, "0")}.conf`;
}

/** Content of file `n` of `host` at generation `gen` (same bytes as the Jinja2 template). */
export function benchContent(host: string, address: string, n: number, gen: string): string {
  const lines = [
    `# haplay benchmark file ${n}/${BENCH_FILES} of ${host} (generation ${gen})`,
    `host = ${host}`,
    `address = ${address}`,
    `generation = ${gen}`,
  ];
  for (let i = 1; i <= 32; i++) lines.push(`key${i} = ${host}-${n}-${i}-${gen}`);
  return lines.join("\n") + "\n";
}

/** The tasks of one host: the directory and 20 templates. */
export function benchTasks(h: HostContext, gen: string): Task[] {
  const vars = { host: h.name, address: serviceAddress(h.vars), gen };
  const tasks: Task[] = [directory({ path: BENCH_DIR, mode: "0755" })];
  for (let n = 1; n <= BENCH_FILES; n++) {
    tasks.push(template({
      path: benchFile(n),
      mode: "0644",
      template: (v) => benchContent(String(v.host), String(v.address), n, String(v.gen)),
      vars,
    }));
  }
  return tasks;
}

/** The play (generation from env `BENCH_GEN`, default "0"). */
export const plays: Play[] = [{
  name: "bench files",
  hosts: "all",
  tasks: (h) => benchTasks(h, Deno.env.get("BENCH_GEN") ?? "0"),
}];
