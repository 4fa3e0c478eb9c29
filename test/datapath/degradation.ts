/**
 * The data-path features of health checks and degradation, on a deployed NAT pair (the NAT
 * mode's second deploy, `nat-sync.yaml`): a UDP service checked by UDP_CHECK balances and drops
 * a real server whose UDP port is closed (ICMP port unreachable); a TCP service with quorum 2
 * runs quorum_down when one of its two real servers fails, the sorry server answers when both
 * failed, quorum_up runs and the real servers answer again when they are back.
 * @module
 */
import assert from "node:assert/strict";
import { vmSh } from "../../vmlab/exec.ts";
import type { VmLab } from "../../vmlab/types.ts";
import { until } from "./fixture.ts";
import type { Scenario } from "./scenarios.ts";
import { ask, countText, startServer, stopServer } from "./services.ts";

/** Real servers (`A.B.C.D:PORT`) of one virtual server in `host`'s kernel table. */
async function reals(lab: VmLab, host: string, proto: "-t" | "-u", vs: string): Promise<string[]> {
  const out = await vmSh(lab, host, `ipvsadm -Ln ${proto} ${vs} 2>/dev/null || true`);
  return [...out.matchAll(/->\s+(\d+\.\d+\.\d+\.\d+:\d+)\s/g)].map((m) => m[1]);
}

/** True when `host` has file `f`. */
async function has(lab: VmLab, host: string, f: string): Promise<boolean> {
  return (await vmSh(lab, host, `[ -e ${f} ] && echo yes || true`)).trim() === "yes";
}

/** One feature row: runs `fn`, records its text (or the failure) and rethrows a failure. */
async function feature(
  out: { name: string; result: string; ok: boolean }[],
  name: string,
  log: (l: string) => void,
  fn: (note: (s: string) => void) => Promise<void>,
): Promise<void> {
  const parts: string[] = [];
  const row = { name, result: "", ok: false };
  out.push(row);
  try {
    await fn((s) => parts.push(s));
    row.ok = true;
    row.result = parts.join("; ");
  } catch (e) {
    row.result = [...parts, `FAILED: ${(e as Error).message.split("\n")[0]}`].join("; ");
    throw e;
  } finally {
    log(`${name}: ${row.result}`);
  }
}

/** The UDP and the sorry-server/quorum rows (`sc.degradation` must be set). */
export async function runDegradation(
  lab: VmLab,
  sc: Scenario,
  master: string,
  out: { name: string; result: string; ok: boolean }[],
  log: (l: string) => void,
): Promise<void> {
  const d = sc.degradation!;
  const vip = sc.longLived!.vip;
  const ip = (h: string) => lab.hosts.find((x) => x.name === h)!.data.split("/")[0];
  const w1 = `${ip("web1")}`, w2 = `${ip("web2")}`;

  await feature(out, "UDP service, UDP_CHECK", log, async (note) => {
    const vs = `${vip}:${d.udpPort}`;
    await until(`web1, web2 in ${vs} on ${master}`, 60_000, async () => {
      const r = await reals(lab, master, "-u", vs);
      return r.some((x) => x.startsWith(`${w1}:`)) && r.some((x) => x.startsWith(`${w2}:`));
    });
    const a = await ask(lab, "udp", vip, d.udpPort, 10);
    note(`10 datagrams: ${countText(a)}`);
    assert.deepEqual([...new Set(a)].sort(), ["web1", "web2"], `UDP balanced: ${a.join(" ")}`);
    await stopServer(lab, "web2", "udp", d.udpPort);
    const outS = await until(
      `web2 out of ${vs}`,
      45_000,
      async () => !(await reals(lab, master, "-u", vs)).some((x) => x.startsWith(`${w2}:`)),
    );
    const b = await ask(lab, "udp", vip, d.udpPort, 6);
    note(`web2's UDP server stopped: out after ${outS} s, then ${countText(b)}`);
    assert.deepEqual([...new Set(b)], ["web1"], `UDP with web2 down: ${b.join(" ")}`);
    await startServer(lab, "web2", "udp", d.udpPort);
    const backS = await until(
      `web2 back in ${vs}`,
      45_000,
      async () => (await reals(lab, master, "-u", vs)).some((x) => x.startsWith(`${w2}:`)),
    );
    const c = await ask(lab, "udp", vip, d.udpPort, 6);
    note(`started: back after ${backS} s, then ${countText(c)}`);
    assert.deepEqual([...new Set(c)].sort(), ["web1", "web2"], `UDP web2 back: ${c.join(" ")}`);
  });

  await feature(out, "quorum 2 and sorry_server", log, async (note) => {
    const vs = `${vip}:${d.quorumPort}`;
    const sorry = `${ip(d.sorry.host)}:${d.sorry.port}`;
    const port = sc.longLived!.port;
    await until(`web1, web2 in ${vs} on ${master}`, 60_000, async () => {
      const r = await reals(lab, master, "-t", vs);
      return r.some((x) => x.startsWith(`${w1}:`)) && r.some((x) => x.startsWith(`${w2}:`));
    });
    await vmSh(lab, master, "rm -f /tmp/dp-quorum-up /tmp/dp-quorum-down");
    const a = await ask(lab, "tcp", vip, d.quorumPort, 4);
    note(`both up: ${countText(a)}`);
    assert.deepEqual([...new Set(a)].sort(), ["web1", "web2"], `both up: ${a.join(" ")}`);
    await stopServer(lab, "web2", "tcp", port);
    const downS = await until(
      `quorum_down on ${master}`,
      45_000,
      () => has(lab, master, "/tmp/dp-quorum-down"),
    );
    const t1 = await reals(lab, master, "-t", vs);
    const b = await ask(lab, "tcp", vip, d.quorumPort, 4);
    note(
      `web2 down (weight 1 < quorum 2): quorum_down ran after ${downS} s; table ` +
        `${t1.join(", ") || "empty"}; ${countText(b)}`,
    );
    await stopServer(lab, "web1", "tcp", port);
    const sorryS = await until(`sorry server ${sorry} alone in ${vs}`, 45_000, async () => {
      const r = await reals(lab, master, "-t", vs);
      return r.length === 1 && r[0] === sorry;
    });
    const c = await ask(lab, "tcp", vip, d.quorumPort, 4);
    note(`web1 down too: the sorry server alone after ${sorryS} s, ${countText(c)}`);
    assert.deepEqual([...new Set(c)], ["sorry"], `every real server down: ${c.join(" ")}`);
    await Promise.all(["web1", "web2"].map((h) => startServer(lab, h, "tcp", port)));
    const upS = await until(
      `quorum_up on ${master}, web1 and web2 back in ${vs}`,
      45_000,
      async () => {
        const r = await reals(lab, master, "-t", vs);
        return await has(lab, master, "/tmp/dp-quorum-up") && !r.includes(sorry) &&
          r.some((x) => x.startsWith(`${w1}:`)) && r.some((x) => x.startsWith(`${w2}:`));
      },
    );
    const e = await ask(lab, "tcp", vip, d.quorumPort, 4);
    note(`both back: quorum_up ran, sorry server out after ${upS} s, ${countText(e)}`);
    assert.deepEqual([...new Set(e)].sort(), ["web1", "web2"], `both back: ${e.join(" ")}`);
  });
}
