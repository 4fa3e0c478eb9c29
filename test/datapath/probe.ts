/**
 * Requests from the client guest: a loop of curl runs inside the client (one SSH exec per
 * loop, timestamps taken in the guest), and what the answers say.
 * @module
 */
import { vmExec } from "../../vmlab/exec.ts";
import type { VmLab } from "../../vmlab/types.ts";

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
export async function curls(
  lab: VmLab,
  url: string,
  count: number,
  seconds = 0,
  pauseS = 0,
  connectS = 3,
): Promise<Answer[]> {
  const r = await vmExec(lab, "client", curlLoop(url, count, seconds, pauseS, connectS), {
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
