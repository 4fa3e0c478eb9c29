/**
 * Round trip 1 and what it found: every probe of a host, for every play of the run it is in
 * (plus each play's `orderProbe`), in one exec, sliced back into per-play {@link HostFacts}.
 * @module
 */
import type { Connector } from "./connector.ts";
import type { Progress } from "./progress.ts";
import { newNonce, parseProbe, probeScript } from "./script.ts";
import { mapPool } from "./pool.ts";
import type { PreparedPlay } from "./prepare.ts";
import { rollingOf } from "./rolling.ts";
import type { Task } from "./types.ts";

/** What a probe found on one host for one play. */
export interface HostFacts {
  /** Probe output of each of the play's tasks on the host, in task order. */
  facts: string[];
  /** Exit code of each task's probe. */
  rcs: number[];
  /** The host's journal generation (the apply refuses to run when it moved). */
  generation: string;
  /** Handlers an earlier run left pending (given to the first play the host is in only). */
  pending: string[];
  /** Output of the play's `orderProbe` on the host, when it has one. */
  order?: string;
  /** Time to connect and to probe, reported with the play the probe was for (else 0). */
  connectMs: number;
  probeMs: number;
  /** Why the host could not be probed (then every other field is empty). */
  error?: string;
  /** The error was connecting. */
  unreachable?: boolean;
}

/** Per host, per play (by index into the probed plays): what the probe found. */
export type ProbeRound = Map<string, Array<HostFacts | undefined>>;

/** What a probe round needs of the run. */
export interface ProbeEnv {
  connect(host: string): Promise<Connector>;
  progress: Progress;
  log(line: string): void;
  verbose?: boolean;
  forks?: number;
}

const NONE: HostFacts = {
  facts: [],
  rcs: [],
  generation: "0",
  pending: [],
  connectMs: 0,
  probeMs: 0,
};

/** Every host of `plays` probed in one exec each; `onProbed` hears of each host as it is done. */
export async function probeRound(
  plays: PreparedPlay[],
  env: ProbeEnv,
  onProbed?: (host: string, facts: Array<HostFacts | undefined>) => void,
): Promise<ProbeRound> {
  const hosts = new Set<string>();
  for (const { items } of plays) for (const p of items) hosts.add(p.host.name);
  const out: ProbeRound = new Map();
  const list = [...hosts];
  await mapPool(list, Math.max(1, env.forks ?? Math.min(50, list.length)), async (name) => {
    // The host's tasks of every play in one list, and where each play's slice starts.
    const tasks: Task[] = [];
    const slices: Array<{ from: number; n: number; order?: number } | undefined> = [];
    for (const { play, items } of plays) {
      const mine = items.find((x) => x.host.name === name);
      if (!mine) {
        slices.push(undefined);
        continue;
      }
      const from = tasks.length;
      tasks.push(...mine.tasks);
      const snippet = rollingOf(play).orderProbe?.(mine.ctx);
      let order: number | undefined;
      if (snippet) {
        order = tasks.length;
        tasks.push(orderProbeTask(snippet));
      }
      slices.push({ from, n: mine.tasks.length, order });
    }
    const first = slices.findIndex((s) => s);
    const each = (f: (i: number) => HostFacts) => slices.map((s, i) => s && f(i));
    env.progress.set(name, "connecting");
    const t0 = performance.now();
    let conn: Connector;
    try {
      conn = await env.connect(name);
    } catch (err) {
      const error = (err as Error).message;
      out.set(name, each(() => ({ ...NONE, error, unreachable: true })));
      return;
    }
    const connectMs = Math.round(performance.now() - t0);
    env.progress.set(name, "probing");
    try {
      const pr = await probeHost(conn, tasks, name, env);
      const probeMs = Math.round(performance.now() - t0) - connectMs;
      const facts = each((i) => {
        const s = slices[i]!;
        const own = i === first;
        return {
          facts: pr.facts.slice(s.from, s.from + s.n),
          rcs: pr.rcs.slice(s.from, s.from + s.n),
          generation: pr.generation,
          pending: own ? pr.pending : [],
          order: s.order === undefined ? undefined : pr.facts[s.order],
          connectMs: own ? connectMs : 0,
          probeMs: own ? probeMs : 0,
        };
      });
      out.set(name, facts);
      onProbed?.(name, facts);
    } catch (err) {
      const error = `probe failed: ${(err as Error).message}`;
      out.set(name, each(() => ({ ...NONE, error })));
    }
  });
  return out;
}

/** One probe exec on an open connection; throws when it fails or its output is incomplete. */
export async function probeHost(
  conn: Connector,
  tasks: Task[],
  name: string,
  env: { log(line: string): void; verbose?: boolean },
) {
  const nonce = newNonce();
  const res = await conn.runScript(probeScript(tasks, nonce));
  const pr = parseProbe(res.stdout, tasks.length, nonce);
  if (env.verbose && res.stderr) env.log(`${name}: probe stderr:\n${res.stderr}`);
  return pr;
}

function orderProbeTask(snippet: string): Task {
  return {
    name: "order probe",
    module: "engine",
    resource: "",
    probe: snippet,
    plan: () => ({ kind: "ok", reason: "" }),
  };
}
