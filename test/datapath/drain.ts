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
import { holders, until } from "./fixture.ts";
import { type Answer, outages, startProber, tallyText } from "./probe.ts";
import type { Scenario } from "./scenarios.ts";
import { longLived, longLivedText } from "./services.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `deno task NAME ARGS` in the repository; returns its exit code, seconds and output tail. */
async function task(
  name: string,
  args: string[],
  password: string,
): Promise<{ code: number; s: number; tail: string }> {
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: ROOT,
    env: { HAPLAY_VRRP_PASS: password, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const out = (dec.decode(r.stdout) + dec.decode(r.stderr)).trim().split("\n");
  return {
    code: r.code,
    s: Math.round((performance.now() - t0) / 100) / 10,
    tail: out.slice(-6).join(" | "),
  };
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
  await feature(out, `drain ${victim} under a request loop, then undrain`, log, async (note) => {
    // two long-lived connections (round robin: one on each server) are established first
    const ll = longLived(lab, sc.longLived!.vip, sc.longLived!.port, 2, 15);
    const prober = await startProber(lab, sc.url, "dp-drain");
    await sleep(3000);
    const t0 = await prober.mark();
    const d = await task("drain", [path, victim, "--wait", "60"], password);
    const t1 = await prober.mark();
    await sleep(3000);
    const t2 = await prober.mark();
    const u = await task("undrain", [path, victim], password);
    await sleep(4000);
    const all = await prober.stop();
    const conns = await ll;
    const o = outages(all);
    const after = between(all, t1, t2);
    const back = all.filter((x) => x.t > t2);
    note(
      `drain exit ${d.code} after ${d.s} s (waited for ${victim}'s established connection); ` +
        `${all.filter((x) => x.body === null).length} of ${all.length} requests failed; ` +
        `before: ${tallyText(between(all, 0, t0))}; after the drain returned: ${
          tallyText(after)
        }; ` +
        `long-lived: ${longLivedText(conns)}; undrain exit ${u.code} (${u.s} s), then ` +
        `${tallyText(back)}`,
    );
    assert.equal(d.code, 0, `drain: ${d.tail}`);
    assert.equal(u.code, 0, `undrain: ${u.tail}`);
    assert.deepEqual(o.map((x) => x.failed), [], "requests lost during the drain");
    assert.ok(after.length >= 3, `few requests after the drain (${after.length})`);
    assert.ok(
      after.every((x) => x.body !== victim),
      `${victim} got new requests: ${tallyText(after)}`,
    );
    assert.ok(conns.some((x) => x.server === victim), `no long-lived connection on ${victim}`);
    assert.deepEqual(conns.filter((x) => x.broken).map((x) => x.broken), [], "established ones");
    assert.ok(
      back.some((x) => x.body === victim),
      `${victim} back after undrain: ${tallyText(back)}`,
    );
  });

  const peer = sc.directors.find((x) => x !== master)!;
  await feature(out, `maintenance ${master} (MASTER) on, then off`, log, async (note) => {
    const prober = await startProber(lab, sc.url, "dp-maint");
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
  });
}
