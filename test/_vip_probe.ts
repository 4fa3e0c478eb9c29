/**
 * The client side of "the VIP keeps answering": a loop that fetches a URL every 100 ms from this
 * machine while a deploy, takeover or failover runs, and counts answers by body and failures.
 * @module
 */

/** Probe statistics. */
export interface ProbeStats {
  ok: number;
  failed: number;
  failures: string[];
  answers: Map<string, number>;
  slowestMs: number;
}

/**
 * Probes `url` every `everyMs` until stopped (a request fails after 3 s, a lost SYN is retransmitted
 * after 1 s: a 1 s limit counted one dropped packet on a busy CI machine as an outage; real clients
 * wait far longer). The slowest answer is reported.
 */
export function probeLoop(url: string, everyMs = 100): { stop: () => Promise<ProbeStats> } {
  const s: ProbeStats = { ok: 0, failed: 0, failures: [], answers: new Map(), slowestMs: 0 };
  let running = true;
  const done = (async () => {
    while (running) {
      const t = performance.now();
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
        const body = (await r.text()).trim();
        s.slowestMs = Math.max(s.slowestMs, Math.round(performance.now() - t));
        if (r.ok) {
          s.ok++;
          s.answers.set(body, (s.answers.get(body) ?? 0) + 1);
        } else {
          s.failed++;
          s.failures.push(`HTTP ${r.status}`);
        }
      } catch (e) {
        s.failed++;
        s.failures.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (performance.now() - t))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return s;
    },
  };
}
