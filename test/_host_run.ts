/**
 * The last deploy run's journal as the host keeps it (`/var/lib/haplay/last-run`, then
 * `runs/<id>/state`, `meta.json`'s task count and the `tasks/NNNN/done` marks): what a test
 * asserts after killing the controller, read inside the lab host.
 * @module
 */
import { type Lab, labExec } from "../lab/lab.ts";

/** A run's state on the host. */
export interface HostRun {
  id: string;
  /** `running`, `done`, `failed`, `rolled-back`, ... (empty when the file is missing). */
  state: string;
  /** Tasks the run was started with (meta.json). */
  tasks: number;
  /** Tasks marked `done`. */
  done: number;
}

/** The last run started on `host` (throws when there is none). */
export async function lastRun(lab: Lab, host: string): Promise<HostRun> {
  const r = await labExec(lab, host, [
    "sh",
    "-c",
    `HP=/var/lib/haplay; id=$(cat "$HP/last-run") || exit 1; R="$HP/runs/$id"
     echo "$id"; cat "$R/state" 2>/dev/null || echo; cat "$R/meta.json"; echo
     ls "$R"/tasks/*/done 2>/dev/null | wc -l`,
  ]);
  const [id, state, meta, done] = r.stdout.split("\n");
  if (r.code !== 0 || !id) throw new Error(`no run journal on ${host}: ${r.stderr}`);
  return { id, state, tasks: JSON.parse(meta).tasks, done: Number(done) };
}
