/**
 * Small test services of the data-path modes beyond HTTP, in python3 (the guest image has it:
 * netplan.io depends on it): a TCP line-echo server and a UDP echo server that prefix every
 * answer with a tag (the host name, or "sorry"), and the client side: long-lived TCP
 * connections that send and read a line every 100 ms, and one-shot UDP / TCP requests. Files
 * live under /tmp of the guests (not part of the snapshots) and are removed by {@link stopServer}.
 * @module
 */
import { vmExec, vmSh } from "../../vmlab/exec.ts";
import type { VmLab } from "../../vmlab/types.ts";

/** The echo server: `dp-echo.py tcp|udp PORT [TAG]` (TAG default: the host name). */
export const ECHO_PY = `import socket, socketserver, sys
kind, port = sys.argv[1], int(sys.argv[2])
tag = (sys.argv[3] if len(sys.argv) > 3 else socket.gethostname()).encode()
if kind == "tcp":
    class H(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(tag + b" " + line)
    class S(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
    S(("", port), H).serve_forever()
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", port))
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(tag + b" " + d, a)
`;

/**
 * Long-lived connections: \`dp-long.py VIP PORT N SECONDS [STOPFILE]\` opens N connections one
 * after the other, then each sends its counter as a line every 100 ms and reads the echo (15 s
 * timeout) until SECONDS passed or STOPFILE exists (then each closes cleanly). Prints one JSON list: per connection the server that answered, lines
 * exchanged, the longest wait for an echo, and why it broke (null: it did not).
 */
export const LONG_PY = `import json, os, socket, sys, threading, time
vip, port, n, dur = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stop = sys.argv[5] if len(sys.argv) > 5 else None
res = []
def conn(i):
    r = {"id": i, "server": None, "lines": 0, "maxWaitS": 0.0, "broken": None}
    res.append(r)
    try:
        s = socket.create_connection((vip, port), timeout=5)
    except Exception as e:
        r["broken"] = "connect: " + type(e).__name__
        return None
    s.settimeout(15)
    return (s, s.makefile("rb"), r)
def run(c, end):
    s, f, r = c
    k = 0
    try:
        while time.time() < end and not (stop and os.path.exists(stop)):
            k += 1
            t = time.time()
            s.sendall(b"%d\\n" % k)
            line = f.readline()
            if not line:
                r["broken"] = "closed by peer at line %d" % k
                return
            w = line.decode().split()
            if len(w) != 2 or w[1] != str(k) or (r["server"] and w[0] != r["server"]):
                r["broken"] = "wrong answer at line %d: %r" % (k, line)
                return
            r["server"] = w[0]
            r["lines"] = k
            r["maxWaitS"] = max(r["maxWaitS"], round(time.time() - t, 2))
            time.sleep(0.1)
    except Exception as e:
        r["broken"] = "%s at line %d" % (type(e).__name__, k)
    finally:
        s.close()
cs = [conn(i) for i in range(n)]
end = time.time() + dur
ts = [threading.Thread(target=run, args=(c, end)) for c in cs if c]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(sorted(res, key=lambda r: r["id"])))
`;

/** One-shot requests: \`dp-ask.py tcp|udp VIP PORT N\`: N requests, each from a new socket. */
export const ASK_PY = `import socket, sys
kind, vip, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
out = []
for i in range(n):
    try:
        if kind == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1.5)
            s.sendto(b"q%d\\n" % i, (vip, port))
            d = s.recv(2048)
        else:
            s = socket.create_connection((vip, port), timeout=3)
            s.settimeout(3)
            s.sendall(b"q%d\\n" % i)
            d = s.makefile("rb").readline()
        s.close()
        out.append(d.decode().split()[0] if d else "FAIL")
    except Exception:
        out.append("FAIL")
print(" ".join(out))
`;

/** Writes the scripts to `/tmp` of `host`. */
export async function installScripts(lab: VmLab, host: string): Promise<void> {
  for (
    const [name, text] of [["dp-echo.py", ECHO_PY], ["dp-long.py", LONG_PY], [
      "dp-ask.py",
      ASK_PY,
    ]]
  ) {
    const r = await vmExec(lab, host, `cat > /tmp/${name}`, { stdin: text, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${host}: writing /tmp/${name}: ${r.stderr}`);
  }
}

/** Starts an echo server on `host` and waits until it listens. */
export async function startServer(
  lab: VmLab,
  host: string,
  kind: "tcp" | "udp",
  port: number,
  tag = "",
): Promise<void> {
  const pid = `/tmp/dp-echo-${kind}-${port}.pid`;
  const flag = kind === "tcp" ? "-ltn" : "-lun";
  await vmSh(
    lab,
    host,
    `setsid python3 /tmp/dp-echo.py ${kind} ${port} ${tag} </dev/null >/dev/null 2>&1 & ` +
      `echo $! > ${pid}; i=0; until ss -H ${flag} "sport = :${port}" | grep -q .; do ` +
      `i=$((i+1)); [ $i -lt 150 ] || exit 1; sleep 0.2; done`,
  );
}

/** Stops an echo server on `host` (and waits until its port is closed). */
export async function stopServer(
  lab: VmLab,
  host: string,
  kind: "tcp" | "udp",
  port: number,
): Promise<void> {
  const pid = `/tmp/dp-echo-${kind}-${port}.pid`;
  const flag = kind === "tcp" ? "-ltn" : "-lun";
  await vmSh(
    lab,
    host,
    `[ -f ${pid} ] && kill $(cat ${pid}) 2>/dev/null; rm -f ${pid}; i=0; ` +
      `while ss -H ${flag} "sport = :${port}" | grep -q .; do i=$((i+1)); [ $i -lt 100 ] || exit 1; ` +
      `sleep 0.1; done`,
  );
}

/** Removes every file of these services from `host` (servers stopped first). */
export async function cleanServices(lab: VmLab, host: string): Promise<void> {
  await vmSh(
    lab,
    host,
    'for p in /tmp/dp-echo-*.pid; do [ -f "$p" ] && kill $(cat "$p") 2>/dev/null; done; ' +
      "rm -f /tmp/dp-echo-*.pid /tmp/dp-echo.py /tmp/dp-long.py /tmp/dp-ask.py /tmp/dp-quorum-*; true",
  );
}

/** One long-lived connection's fate. */
export interface LongLived {
  id: number;
  server: string | null;
  lines: number;
  maxWaitS: number;
  broken: string | null;
}

/**
 * Runs {@link LONG_PY} in the client (resolves when every connection ended: after `seconds`,
 * or once the client's file `stopFile` exists).
 */
export async function longLived(
  lab: VmLab,
  vip: string,
  port: number,
  n: number,
  seconds: number,
  stopFile = "",
): Promise<LongLived[]> {
  const cmd = `python3 /tmp/dp-long.py ${vip} ${port} ${n} ${seconds} ${stopFile}`.trim();
  const r = await vmExec(lab, "client", cmd, { timeoutMs: (seconds + 60) * 1000 });
  if (r.code !== 0) throw new Error(`long-lived client failed (${r.code}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

/** `2 of 4 broken (web1: closed by peer at line 61; ...)`, servers listed. */
export function longLivedText(c: LongLived[]): string {
  const broken = c.filter((x) => x.broken);
  const servers = [...new Set(c.map((x) => x.server ?? "-"))].sort().join("/");
  const wait = Math.max(...c.filter((x) => !x.broken).map((x) => x.maxWaitS), 0);
  return `${broken.length} of ${c.length} broken (servers ${servers}` +
    (broken.length ? `; ${broken.map((x) => x.broken).slice(0, 2).join("; ")}` : "") +
    (broken.length < c.length ? `; longest echo wait ${wait} s` : "") + ")";
}

/** Runs {@link ASK_PY}: the tag of each answer, or FAIL. */
export async function ask(
  lab: VmLab,
  kind: "tcp" | "udp",
  vip: string,
  port: number,
  n: number,
): Promise<string[]> {
  const r = await vmExec(lab, "client", `python3 /tmp/dp-ask.py ${kind} ${vip} ${port} ${n}`, {
    timeoutMs: (n * 4 + 60) * 1000,
  });
  if (r.code !== 0) throw new Error(`${kind} requests failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim().split(/\s+/);
}

/** `web1 3 / web2 3` of a list of answers. */
export function countText(a: string[]): string {
  const t: Record<string, number> = {};
  for (const x of a) t[x] = (t[x] ?? 0) + 1;
  return Object.keys(t).sort((x, y) => (x === "FAIL" ? 1 : y === "FAIL" ? -1 : x.localeCompare(y)))
    .map((k) => `${k} ${t[k]}`).join(" / ");
}
