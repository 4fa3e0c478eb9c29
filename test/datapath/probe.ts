/**
 * Requests from the client: a loop of curl runs inside the client guest (one SSH exec per
 * loop, timestamps taken in the guest), or, with {@link netnsClient}, in the lab's own network
 * namespace (no client guest to boot or to starve the others: curl runs natively), and what
 * the answers say.
 * @module
 */
import { vmExec } from "../../vmlab/exec.ts";
import { netNames } from "../../vmlab/net.ts";
import type { VmLab } from "../../vmlab/types.ts";
import { run, type RunResult } from "../../vmlab/util.ts";

/** Where the client's sh runs: a command line (and its stdin) to a result. */
export type ClientExec = (
  cmd: string,
  o: { stdin?: string; timeoutMs: number },
) => Promise<RunResult>;

/** The client guest (over SSH). */
export function guestClient(lab: VmLab): ClientExec {
  return (cmd, o) => vmExec(lab, "client", cmd, o);
}

/**
 * The lab's network namespace as the client (sh on this machine inside `vmlab-NAME`, where
 * the data bridge `brdata` is: the caller gives the bridge the client's data addresses).
 */
export function netnsClient(lab: VmLab): ClientExec {
  const ns = netNames(lab.name).netns;
  return (cmd, o) =>
    run("ip", ["netns", "exec", ns, "sh", "-c", cmd], {
      stdin: o.stdin,
      allowFail: true,
      timeoutMs: o.timeoutMs,
    });
}

/** One request: guest time (s), answer body (the server's host name) or null on failure. */
export interface Answer {
  t: number;
  duration: number;
  body: string | null;
}

/**
 * sh: curl `url` `count` times (or until `seconds` passed when count is 0), one line per
 * request: `START END BODY` or `START END FAIL`. Each request has `connectS` to connect and
 * twice that in total (a starved TCG guest answers slowly: the plain checks are generous, the
 * failover loop is short so the gap is measured tightly).
 */
export function curlLoop(
  url: string,
  count: number,
  seconds = 0,
  pauseS = 0,
  connectS = 3,
): string {
  const cond = count > 0 ? `[ "$i" -lt ${count} ]` : `[ "$(date +%s)" -lt "$end" ]`;
  return [
    `i=0; end=$(( $(date +%s) + ${seconds} ))`,
    `while ${cond}; do`,
    `  s=$(date +%s.%N)`,
    `  if b=$(curl -fsS --connect-timeout ${connectS} -m ${
      2 * connectS
    } ${url} 2>/dev/null); then :; else b=FAIL; fi`,
    `  echo "$s $(date +%s.%N) $(echo $b | tr -d ' ')"`,
    `  i=$((i + 1))`,
    pauseS > 0 ? `  sleep ${pauseS}` : "",
    `done`,
  ].filter(Boolean).join("\n");
}

/** Parses {@link curlLoop} output. */
export function parseAnswers(out: string): Answer[] {
  return out.trim().split("\n").filter((l) => l.trim()).map((l) => {
    const [s, e, b] = l.trim().split(" ");
    return {
      t: Number(s),
      duration: Number(e) - Number(s),
      body: !b || b === "FAIL" ? null : b,
    };
  });
}

/** Runs a curl loop in the client. */
export function curls(
  lab: VmLab,
  url: string,
  count: number,
  seconds = 0,
  pauseS = 0,
  connectS = 3,
): Promise<Answer[]> {
  return curlsFrom(guestClient(lab), url, count, seconds, pauseS, connectS);
}

/** {@link curls} from any client. */
export async function curlsFrom(
  on: ClientExec,
  url: string,
  count: number,
  seconds = 0,
  pauseS = 0,
  connectS = 3,
): Promise<Answer[]> {
  const r = await on(curlLoop(url, count, seconds, pauseS, connectS), {
    timeoutMs: (count * (2 * connectS + 2) + seconds + 60) * 1000,
  });
  if (r.code !== 0) throw new Error(`curl loop on client failed (${r.code}): ${r.stderr.trim()}`);
  return parseAnswers(r.stdout);
}

/** Answers per body (`FAIL` for failures). */
export function tally(a: Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of a) out[x.body ?? "FAIL"] = (out[x.body ?? "FAIL"] ?? 0) + 1;
  return out;
}

/** `web1 10 / web2 10` (failures last). */
export function tallyText(a: Answer[]): string {
  const t = tally(a);
  return Object.keys(t).sort((x, y) => (x === "FAIL" ? 1 : y === "FAIL" ? -1 : x.localeCompare(y)))
    .map((k) => `${k} ${t[k]}`).join(" / ");
}

/** True when consecutive answers never repeat a server (strict round robin), failures aside. */
export function alternates(a: Answer[]): boolean {
  const b = a.map((x) => x.body).filter((x): x is string => x !== null);
  return b.every((x, i) => i === 0 || x !== b[i - 1]);
}

/** The outage seen by a request loop: failures, and the gap between the last answer before the
 * first failure and the first answer after the last one (0 when nothing failed). */
export function outage(a: Answer[]): { failed: number; total: number; gapS: number } {
  const failed = a.filter((x) => x.body === null).length;
  if (!failed) return { failed, total: a.length, gapS: 0 };
  const first = a.findIndex((x) => x.body === null);
  const last = a.length - 1 - [...a].reverse().findIndex((x) => x.body === null);
  const before = first > 0 ? a[first - 1].t + a[first - 1].duration : a[first].t;
  const after = last < a.length - 1
    ? a[last + 1].t + a[last + 1].duration
    : a[last].t + a[last].duration;
  return { failed, total: a.length, gapS: Math.round((after - before) * 10) / 10 };
}

/**
 * sh script of a detached request loop: {@link curlLoop}'s lines appended to `out` every
 * `pauseS` until the file `stop` exists, then `END`.
 */
export function backgroundLoop(
  url: string,
  out: string,
  stop: string,
  pauseS = 0.1,
  connectS = 1,
  maxS?: number,
): string {
  return [
    maxS === undefined
      ? `while [ ! -e ${stop} ]; do`
      : `end=$(( $(date +%s) + ${maxS} )); while [ ! -e ${stop} ] && [ "$(date +%s)" -lt "$end" ]; do`,
    `  s=$(date +%s.%N)`,
    `  if b=$(curl -fsS --connect-timeout ${connectS} -m ${
      2 * connectS
    } ${url} 2>/dev/null); then :; else b=FAIL; fi`,
    `  echo "$s $(date +%s.%N) $(echo $b | tr -d ' ')" >> ${out}`,
    `  sleep ${pauseS}`,
    `done`,
    `echo END >> ${out}`,
    "",
  ].join("\n");
}

/** A request loop running in the client until stopped (survives any director's reboot). */
export interface Prober {
  /** Client clock now (s): marks an event on the loop's time line. */
  mark(): Promise<number>;
  /** Stops the loop and returns every answer. */
  stop(): Promise<Answer[]>;
}

/** Starts {@link backgroundLoop} in the client (tag: file names under /tmp). */
export function startProber(lab: VmLab, url: string, tag: string): Promise<Prober> {
  return startProberOn(guestClient(lab), url, `/tmp/${tag}`);
}

/**
 * {@link startProber} on any client, its files at `f`.* (`maxS`: the loop ends by itself after
 * that many seconds, for a client that outlives the test, such as this machine).
 */
export async function startProberOn(
  on: ClientExec,
  url: string,
  f: string,
  maxS?: number,
): Promise<Prober> {
  const sh = async (cmd: string, stdin?: string) => {
    const r = await on(cmd, { stdin, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`client: ${cmd.slice(0, 60)}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  await sh(
    `rm -f ${f}.out ${f}.stop; cat > ${f}.sh`,
    backgroundLoop(url, `${f}.out`, `${f}.stop`, 0.1, 1, maxS),
  );
  await sh(`setsid sh ${f}.sh </dev/null >/dev/null 2>&1 &`);
  return {
    mark: async () => Number((await sh("date +%s.%N")).trim()),
    stop: async () => {
      const out = await sh(
        `touch ${f}.stop; i=0; until grep -q '^END' ${f}.out 2>/dev/null; do ` +
          `i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.1; done; grep -v '^END' ${f}.out; ` +
          `rm -f ${f}.out ${f}.stop ${f}.sh`,
      );
      return parseAnswers(out);
    },
  };
}

/** One run of consecutive failures: how many, and the gap between the answers around it. */
export interface Outage {
  failed: number;
  /** Client time of the last answer before it (s). */
  from: number;
  /** Client time the first answer after it ended (s; the loop's end when none came). */
  to: number;
  gapS: number;
}

/** Every run of consecutive failed requests of a loop, in order. */
export function outages(a: Answer[]): Outage[] {
  const out: Outage[] = [];
  let i = 0;
  while (i < a.length) {
    if (a[i].body !== null) {
      i++;
      continue;
    }
    let j = i;
    while (j < a.length && a[j].body === null) j++;
    const from = i > 0 ? a[i - 1].t + a[i - 1].duration : a[i].t;
    const to = j < a.length ? a[j].t + a[j].duration : a[j - 1].t + a[j - 1].duration;
    out.push({ failed: j - i, from, to, gapS: Math.round((to - from) * 10) / 10 });
    i = j;
  }
  return out;
}
