/**
 * Drain and maintenance on a deployed pair, as an operator runs them (`deno task drain /
 * undrain / maintenance` as subprocesses, the VRRP password in the env): under a steady request
 * loop (the client curls the VIP every 0.1 s) a drain loses no request, the drained real server
 * gets no new request once the drain returned, and its established long-lived connection
 * finishes; undrain brings it back. Maintenance on the MASTER moves the VIP (at most the
 * requests of one VRRP transition lost), off brings it back.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { VmLab } from "../../vmlab/types.ts";
import { vmSh } from "../../vmlab/exec.ts";
import { holders, until } from "./fixture.ts";
import { type Answer, outages, type Prober, startProber, tallyText } from "./probe.ts";
import type { Scenario } from "./scenarios.ts";
import { longLived, longLivedText } from "./services.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A `deno task NAME ARGS` subprocess in the repository (the VRRP password in its env). */
interface TaskRun {
  /** Resolves once a line of its stderr (progress, with --json) matches `re`. */
  seen(re: RegExp): Promise<void>;
  /** Its exit code, seconds, stdout and the last lines of its output. */
  done: Promise<{ code: number; s: number; stdout: string; tail: string }>;
}

/** Starts `deno task NAME ARGS`, reading its stderr as it comes. */
function startTask(name: string, args: string[], password: string): TaskRun {
  const t0 = performance.now();
  const p = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: ROOT,
    env: { HAPLAY_VRRP_PASS: password, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const errDone = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of p.stderr) {
      err += dec.decode(chunk, { stream: true });
      for (const w of waiters.filter((x) => x.re.test(err))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  })();
  const done = (async () => {
    const out = new TextDecoder().decode(await new Response(p.stdout).arrayBuffer());
    const { code } = await p.status;
    await errDone;
    for (const w of waiters) w.resolve(); // ended without the line: the caller sees the result
    return {
      code,
      s: Math.round((performance.now() - t0) / 100) / 10,
      stdout: out,
      tail: (err + out).trim().split("\n").slice(-6).join(" | "),
    };
  })();
  return {
    seen: (re) =>
      re.test(err) ? Promise.resolve() : new Promise((resolve) => {
        waiters.push({ re, resolve });
      }),
    done,
  };
}

/** Runs `deno task NAME ARGS` to its end. */
function task(name: string, args: string[], password: string) {
  return startTask(name, args, password).done;
}

/** A request loop that is stopped once, by the caller or (after a failure) by {@link endLoop}. */
function once(p: Prober): Prober & { endLoop(): Promise<void> } {
  let stopped: Promise<Answer[]> | undefined;
  const stop = () => stopped ??= p.stop();
  return { mark: p.mark, stop, endLoop: async () => void await stop().catch(() => []) };
}

/** IPVS weights of real server `ip` (any port) in `host`'s table. */
async function weights(lab: VmLab, host: string, ip: string): Promise<number[]> {
  const out = await vmSh(lab, host, "ipvsadm -Ln 2>/dev/null || true");
  const re = new RegExp(`->\\s+${ip.replaceAll(".", "\\.")}:\\d+\\s+\\S+\\s+(\\d+)`, "g");
  return [...out.matchAll(re)].map((m) => Number(m[1]));
}

/** The answers of `a` started between client times `from` and `to`. */
function between(a: Answer[], from: number, to: number): Answer[] {
  return a.filter((x) => x.t >= from && x.t < to);
}

/** One feature row, recorded even when it fails (then rethrown). */
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
  } catch (e) {
    parts.push(`FAILED: ${(e as Error).message.split("\n")[0]}`);
    throw e;
  } finally {
    row.result = parts.join("; ");
    log(`${name}: ${row.result}`);
  }
}

/** The drain and the maintenance rows (inventory `path` deployed, `master` MASTER). */
export async function runDrainAndMaintenance(
  lab: VmLab,
  sc: Scenario,
  path: string,
  password: string,
  master: string,
  maxFailed: number,
  out: { name: string; result: string; ok: boolean }[],
  log: (l: string) => void,
): Promise<void> {
  const victim = "web2";
  let prober: ReturnType<typeof once> | undefined;
  const vAddr = lab.hosts.find((h) => h.name === victim)!.data.split("/")[0];
  await feature(out, `drain ${victim} under a request loop, then undrain`, log, async (note) => {
    // two long-lived connections (round robin: one on each server) stay open until the drain
    // is waiting for them: the one on web2 must then finish unbroken after its weight went 0
    const stop = "/tmp/dp-drain-long.stop";
    await vmSh(lab, "client", `rm -f ${stop}`);
    const ll = longLived(lab, sc.longLived!.vip, sc.longLived!.port, 2, 600, stop);
    ll.catch(() => {}); // awaited below; a failure before that must not go unhandled
    prober = once(await startProber(lab, sc.url, "dp-drain"));
    await sleep(3000);
    const t0 = await prober.mark();
    const run = startTask("drain", [path, victim, "--wait", "120", "--json"], password);
    // every director at weight 0 for web2: from here no new request may reach it
    await until(`${victim} at weight 0 on ${sc.directors.join(", ")}`, 300_000, async () => {
      const w = await Promise.all(sc.directors.map((d) => weights(lab, d, vAddr)));
      return w.every((x) => x.length > 0 && x.every((y) => y === 0));
    });
    const tZero = await prober.mark();
    // the drain's live line: it counts web2's established connection and waits for it
    await Promise.race([run.seen(/active/), sleep(120_000)]);
    await sleep(2000);
    await vmSh(lab, "client", `touch ${stop}`);
    const d = await run.done;
    const conns = await ll;
    await sleep(3000);
    const t2 = await prober.mark();
    const u = await task("undrain", [path, victim], password);
    await sleep(4000);
    const all = await prober.stop();
    await vmSh(lab, "client", `rm -f ${stop}`);
    let res: { waitedS?: number; connections?: { active: number } } = {};
    try {
      res = JSON.parse(d.stdout);
    } catch { /* the assertion on the exit code names the output */ }
    const o = outages(all);
    const drained = between(all, tZero, t2);
    const back = all.filter((x) => x.t > t2);
    note(
      `drain exit ${d.code} after ${d.s} s (it waited ${res.waitedS} s for ${victim}'s ` +
        `established connection, which the client then closed); ` +
        `${all.filter((x) => x.body === null).length} of ${all.length} requests failed; ` +
        `before: ${tallyText(between(all, 0, t0))}; from weight 0 on to the undrain: ${
          tallyText(drained)
        }; long-lived: ${longLivedText(conns)}; undrain exit ${u.code} (${u.s} s), then ` +
        `${tallyText(back)}`,
    );
    assert.equal(d.code, 0, `drain: ${d.tail}`);
    assert.equal(u.code, 0, `undrain: ${u.tail}`);
    assert.ok((res.waitedS ?? 0) > 0, `the drain did not wait for ${victim}: ${d.stdout}`);
    assert.deepEqual(o.map((x) => x.failed), [], "requests lost during the drain");
    assert.ok(drained.length >= 3, `few requests while drained (${drained.length})`);
    assert.ok(
      drained.every((x) => x.body !== victim),
      `${victim} got new requests while drained: ${tallyText(drained)}`,
    );
    assert.ok(conns.some((x) => x.server === victim), `no long-lived connection on ${victim}`);
    assert.deepEqual(conns.filter((x) => x.broken).map((x) => x.broken), [], "established ones");
    assert.ok(
      back.some((x) => x.body === victim),
      `${victim} back after undrain: ${tallyText(back)}`,
    );
  }).finally(async () => {
    // a failure before the stop: end the client's loop and connections anyway
    await prober?.endLoop();
    await vmSh(
      lab,
      "client",
      "touch /tmp/dp-drain-long.stop; sleep 1; rm -f /tmp/dp-drain-long.stop",
    )
      .catch(() => {});
  });

  const peer = sc.directors.find((x) => x !== master)!;
  await feature(out, `maintenance ${master} (MASTER) on, then off`, log, async (note) => {
    prober = once(await startProber(lab, sc.url, "dp-maint"));
    await sleep(2000);
    const on = await task("maintenance", [path, master, "on"], password);
    const h1 = await holders(lab, sc.directors, sc.vrrpVip);
    await sleep(2000);
    const off = await task("maintenance", [path, master, "off"], password);
    const backS = await until(`${sc.vrrpVip} back on ${master}`, 30_000, async () => {
      const h = await holders(lab, sc.directors, sc.vrrpVip);
      return h.length === 1 && h[0] === master;
    });
    await sleep(2000);
    const all = await prober.stop();
    const o = outages(all);
    note(
      `on: exit ${on.code} in ${on.s} s, VIP on ${h1.join(", ") || "nobody"}; off: exit ` +
        `${off.code} in ${off.s} s, VIP back on ${master} ${backS} s later; ` +
        `${all.filter((x) => x.body === null).length} of ${all.length} requests failed` +
        (o.length
          ? ` (outages: ${o.map((x) => `${x.failed} failed, gap ${x.gapS} s`).join("; ")})`
          : ""),
    );
    assert.equal(on.code, 0, `maintenance on: ${on.tail}`);
    assert.deepEqual(h1, [peer], `maintenance on moves the VIP to ${peer}`);
    assert.equal(off.code, 0, `maintenance off: ${off.tail}`);
    assert.ok(o.length <= 2, `more outages than two VRRP transitions: ${o.length}`);
    assert.ok(o.every((x) => x.failed <= maxFailed), `an outage lost more than ${maxFailed}`);
  }).finally(() => prober?.endLoop());
}
