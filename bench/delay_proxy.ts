/**
 * A delaying TCP proxy: the round trip this machine cannot make with netem. One listener per
 * target on an ephemeral 127.0.0.1 port; every chunk read from either side is written to the
 * other side `delayMs` later (25 ms each way = 50 ms RTT), in order, while reading goes on.
 *
 * Run as its own process so its work never counts as the measured tool's:
 * `deno run --allow-net bench/delay_proxy.ts 25 198.19.240.11:22 198.19.240.12:22 ...`
 * prints `{"ports":[...]}` (same order as the targets) once listening; stops when stdin closes.
 * @module
 */

/** Copy `from` to `to`, holding each chunk `delayMs` (order kept, reads never wait for writes). */
export async function delayedPipe(
  from: Deno.Conn,
  to: Deno.Conn,
  delayMs: number,
): Promise<void> {
  const queue: Array<{ due: number; data: Uint8Array }> = [];
  let wake: (() => void) | undefined;
  let eof = false;
  const reader = (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        queue.push({ due: performance.now() + delayMs, data: buf.slice(0, n) });
        wake?.();
      }
    } catch {
      // reset by peer: treat as end of stream
    }
    eof = true;
    wake?.();
  })();
  try {
    while (true) {
      if (!queue.length) {
        if (eof) break;
        await new Promise<void>((r) => wake = r);
        wake = undefined;
        continue;
      }
      const head = queue[0];
      const wait = head.due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      queue.shift();
      let off = 0;
      while (off < head.data.length) off += await to.write(head.data.subarray(off));
    }
    await to.closeWrite().catch(() => {});
  } catch {
    // the other side went away
  }
  await reader;
}

/** Proxy one accepted connection to `target`. */
async function serve(client: Deno.Conn, target: Deno.ConnectOptions, delayMs: number) {
  let server: Deno.TcpConn | undefined;
  try {
    server = await Deno.connect(target);
    server.setNoDelay(true);
    (client as Deno.TcpConn).setNoDelay(true);
    await Promise.all([delayedPipe(client, server, delayMs), delayedPipe(server, client, delayMs)]);
  } catch {
    // connection refused or reset: close both
  } finally {
    for (const c of [client, server]) {
      try {
        c?.close();
      } catch { /* closed */ }
    }
  }
}

/** Listen for every target; returns the listeners (same order). */
export function startProxies(
  targets: Array<{ hostname: string; port: number }>,
  delayMs: number,
): Deno.TcpListener[] {
  return targets.map((t) => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    (async () => {
      for await (const c of l) serve(c, t, delayMs);
    })().catch(() => {});
    return l;
  });
}

if (import.meta.main) {
  const [delay, ...specs] = Deno.args;
  const targets = specs.map((s) => {
    const [hostname, port] = s.split(":");
    return { hostname, port: Number(port) };
  });
  const ls = startProxies(targets, Number(delay));
  console.log(JSON.stringify({ ports: ls.map((l) => (l.addr as Deno.NetAddr).port) }));
  // run until the parent closes our stdin
  for await (const _ of Deno.stdin.readable) { /* ignore */ }
  Deno.exit(0);
}
