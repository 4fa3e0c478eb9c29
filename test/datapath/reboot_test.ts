/**
 * Load balancers that survive a real reboot: four QEMU guests booting Debian's systemd (lb1,
 * lb2, web1, client; `vmlab up --init systemd`), haplay deploys DR with the VIP on web1's lo
 * (persisted by netplan) and then NAT; while the client requests the VIP every 0.1 s, the
 * BACKUP and then the MASTER are rebooted one at a time (DR: power cuts, and web1 too; NAT:
 * `systemctl reboot`). After each reboot, without any haplay command in between: `deno task
 * verify` exits 0 (keepalived enabled and running, exactly one MASTER, the VIP held once, the lo
 * VIP on web1), the preempting MASTER holds the VIP again, the VIP answers; the failed requests
 * and every outage's gap are counted, and bounded for the directors (web1 is the only real
 * server: its reboot is an outage, reported). Writes its section of `results.md`.
 *
 * Lab `s2rb`, management subnet 198.19.110.0/24.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadInventory } from "../../engine/inventory.ts";
import { rollbackHosts } from "../../engine/rollback.ts";
import { runPlaybook } from "../../engine/run.ts";
import { plays } from "../../playbooks/site.ts";
import { vmExec, vmSh } from "../../vmlab/exec.ts";
import { withVmConnection } from "../../vmlab/inventory.ts";
import { vmReboot } from "../../vmlab/lab.ts";
import type { VmLab } from "../../vmlab/types.ts";
import { denoRun } from "../_cli.ts";
import { holders, runEach, until, vmTest, withVmLab } from "./fixture.ts";
import { curls, outages, startProber, tallyText } from "./probe.ts";
import { rebootMarkdown, type RebootRow, writeResultsSection } from "./results.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = fileURLToPath(new URL("../../", import.meta.url));
const log = (l: string) => console.log(`[reboot ${new Date().toISOString().slice(11, 19)}] ${l}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** HAPLAY_REBOOT_MODES=DR (or NAT) runs only the scenarios whose mode starts with it. */
const only = Deno.env.get("HAPLAY_REBOOT_MODES")?.split(",").map((m) => m.trim());

/** No outage of the VIP during a reboot may be longer than this (s; measured: see README). */
export const REBOOT_MAX_GAP_S = 8;
/** The BACKUP's reboot may fail at most this many requests (measured: 0). */
export const BACKUP_MAX_FAILED = 1;
/** `deno task verify` must be green within this many seconds of the guest booted. */
export const VERIFY_MAX_S = 60;

interface Step {
  host: string;
  role: string;
  graceful: boolean;
}

interface RebootScenario {
  mode: string;
  inventory: string;
  url: string;
  vip: string;
  /** The operator's network (routes), live; `persist`: the same as netplan files (rebooted). */
  envUp: Record<string, string>;
  envDown: Record<string, string>;
  steps: Step[];
}

/** web1's route to the client subnet, as the operator's netplan file (web1 is rebooted in DR). */
const WEB1_ONLINK_NETPLAN = `network:
  version: 2
  ethernets:
    eth0:
      routes:
        - to: 198.18.11.0/24
          scope: link
`;

const SCENARIOS: RebootScenario[] = [
  {
    mode: "DR (VIP on lo, netplan)",
    inventory: "reboot-dr-lo.yaml",
    url: "http://198.18.10.100/",
    vip: "198.18.10.100",
    envUp: {
      client: "ip route replace 198.18.10.0/24 dev eth0",
      web1: `cat > /etc/netplan/50-dptest.yaml <<'EOF'\n${WEB1_ONLINK_NETPLAN}EOF\n` +
        "chmod 600 /etc/netplan/50-dptest.yaml && ip route replace 198.18.11.0/24 dev eth0",
    },
    envDown: {
      client: "ip route del 198.18.10.0/24 dev eth0",
      web1: "rm -f /etc/netplan/50-dptest.yaml; ip route del 198.18.11.0/24 dev eth0",
    },
    steps: [
      { host: "lb2", role: "BACKUP", graceful: false },
      { host: "lb1", role: "MASTER", graceful: false },
      { host: "web1", role: "real server", graceful: false },
    ],
  },
  {
    mode: "NAT",
    inventory: "reboot-nat.yaml",
    url: "http://198.18.11.100/",
    vip: "198.18.11.100",
    envUp: { web1: "ip route replace 198.18.11.0/24 via 198.18.10.254" },
    envDown: { web1: "ip route del 198.18.11.0/24 via 198.18.10.254" },
    steps: [
      { host: "lb2", role: "BACKUP", graceful: true },
      { host: "lb1", role: "MASTER", graceful: true },
    ],
  },
];

/** `deno task verify INVENTORY` as a user runs it: the exit code and the output's tail. */
async function verifyCli(inv: string, password: string): Promise<{ code: number; tail: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: denoRun("engine/cli.ts", "verify", inv, "--timeout", "60"),
    cwd: repo,
    env: { HAPLAY_VRRP_PASS: password },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const bad = text.split("\n").filter((l) => /FAILED|error/i.test(l));
  return { code: out.code, tail: (bad.length ? bad : text.split("\n")).slice(-6).join(" | ") };
}

/** What the rebooted guest's own boot must have brought back (beyond what verify checks). */
async function bootChecks(lab: VmLab, sc: RebootScenario, host: string): Promise<void> {
  assert.equal((await vmSh(lab, host, "cat /proc/1/comm")).trim(), "systemd", `${host}: PID 1`);
  if (host.startsWith("lb")) {
    assert.equal(
      (await vmSh(lab, host, "systemctl is-enabled keepalived; systemctl is-active keepalived"))
        .trim(),
      "enabled\nactive",
      `${host}: keepalived after the reboot`,
    );
    if (sc.mode === "NAT") {
      assert.equal(
        (await vmSh(lab, host, "sysctl -n net.ipv4.ip_forward")).trim(),
        "1",
        `${host}: ip_forward from /etc/sysctl.d after the reboot`,
      );
    }
  } else {
    const lo = await vmSh(lab, host, "ip -o -4 addr show dev lo");
    assert.match(lo, new RegExp(` ${sc.vip.replace(/\./g, "\\.")}/32 `), `${host}: VIP on lo`);
    assert.match(
      await vmSh(
        lab,
        host,
        "networkctl status lo --no-pager 2>&1 | head -3; ls /run/systemd/network",
      ),
      /10-netplan-lo\.network/,
      `${host}: lo configured by networkd from netplan`,
    );
  }
}

async function runScenario(
  lab: VmLab,
  sc: RebootScenario,
  password: string,
  rows: RebootRow[],
): Promise<void> {
  const path = `${lab.dir}/${sc.inventory}`;
  await Deno.writeTextFile(
    path,
    withVmConnection(await Deno.readTextFile(`${here}inventories/${sc.inventory}`), lab),
  );
  const inv = await loadInventory(path, { env: { HAPLAY_VRRP_PASS: password } });
  const lines: string[] = [];
  const tail = () => lines.slice(-25).join("\n");
  await runEach(lab, sc.envUp);
  let failure: unknown;
  try {
    const t0 = performance.now();
    const rep = await runPlaybook(inv, plays, { log: (l) => lines.push(l), timeoutMs: 60_000 });
    log(`${sc.mode}: deployed in ${Math.round((performance.now() - t0) / 100) / 10} s`);
    assert.equal(rep.ok, true, `deploy failed:\n${tail()}`);
    await until(`lb1 MASTER holding ${sc.vip}`, 30_000, async () => {
      const h = await holders(lab, ["lb1", "lb2"], sc.vip);
      return h.length === 1 && h[0] === "lb1";
    });
    const first = await curls(lab, sc.url, 4);
    assert.ok(first.every((a) => a.body === "web1"), `before the reboots: ${tallyText(first)}`);
    // the deploy's files are on the guest's disk before the first power cut (ext4 commits every
    // 5 s; a user's host would have had minutes)
    await runEach(lab, { lb1: "sync", lb2: "sync", web1: "sync" });

    for (const st of sc.steps) {
      const row: RebootRow = {
        mode: sc.mode,
        host: `${st.host} (${st.role})`,
        how: st.graceful ? "graceful (systemctl reboot)" : "power cut",
        sshUpS: 0,
        bootedS: 0,
        requests: "not reached",
        outages: "not reached",
        verify: "not reached",
        ok: false,
      };
      rows.push(row);
      const prober = await startProber(lab, sc.url, "rb");
      let answers;
      try {
        await sleep(3000);
        const [r] = await vmReboot(lab, [st.host], { graceful: st.graceful, log });
        row.sshUpS = Math.round(r.sshUpMs / 100) / 10;
        row.bootedS = Math.round(r.readyMs / 100) / 10;
        log(`${sc.mode}: ${st.host} rebooted: booted ${row.bootedS} s, SSH ${row.sshUpS} s`);
        // no haplay command: the guest's own boot brought everything back, or verify fails
        const tv = performance.now();
        let v = await verifyCli(path, password);
        while (v.code !== 0 && performance.now() - tv < VERIFY_MAX_S * 1000) {
          await sleep(2000);
          v = await verifyCli(path, password);
        }
        const verifyS = Math.round((performance.now() - tv) / 100) / 10;
        row.verify = v.code === 0
          ? `${verifyS} s`
          : `FAILED after ${verifyS} s: ${v.tail.slice(0, 200)}`;
        assert.equal(v.code, 0, `verify after ${st.host}'s reboot: ${v.tail}`);
        await bootChecks(lab, sc, st.host);
        await until(`lb1 MASTER holding ${sc.vip} again`, 30_000, async () => {
          const h = await holders(lab, ["lb1", "lb2"], sc.vip);
          return h.length === 1 && h[0] === "lb1";
        });
        await sleep(2000);
      } finally {
        answers = await prober.stop();
      }
      const out = outages(answers);
      const failed = answers.filter((a) => a.body === null).length;
      row.requests = `${failed} of ${answers.length} failed`;
      row.outages = out.length
        ? out.map((o) => `${o.gapS} s (${o.failed} failed)`).join(", ")
        : "none";
      log(`${sc.mode}: ${row.host}: ${row.requests}; outages ${row.outages}; verify ${row.verify}`);
      assert.ok(answers.length >= 20, `too few requests during the reboot (${answers.length})`);
      // the directors are a redundant pair; web1 is the only real server: while it is down the
      // service is (its outage is reported, not bounded)
      if (st.role !== "real server") {
        assert.ok(
          out.every((o) => o.gapS <= REBOOT_MAX_GAP_S),
          `${st.host}'s reboot: outages ${row.outages} (each at most ${REBOOT_MAX_GAP_S} s)`,
        );
      }
      if (st.role === "BACKUP") {
        assert.ok(failed <= BACKUP_MAX_FAILED, `the BACKUP's reboot failed ${failed} requests`);
      }
      const after = await curls(lab, sc.url, 4);
      assert.ok(after.every((a) => a.body === "web1"), `after the reboot: ${tallyText(after)}`);
      row.ok = true;
    }
  } catch (e) {
    failure = e;
  }
  try {
    const rb = await rollbackHosts(inv, { log: (l) => lines.push(l), timeoutMs: 60_000 });
    assert.deepEqual(rb.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`), [], "rollback");
    await Promise.all(Object.entries(sc.envDown).map(([h, c]) => vmExec(lab, h, c)));
  } catch (e) {
    failure ??= e;
  }
  if (failure !== undefined) throw failure;
}

vmTest("data path across real reboots (systemd guests): DR with the lo VIP, NAT", async (t) => {
  const t0 = performance.now();
  const rows: RebootRow[] = [];
  let about = "";
  await withVmLab({
    name: "s2rb",
    mgmtSubnet: "198.19.110.0/24",
    init: "systemd",
    guests: ["lb1", "lb2", "web1", "client"],
    log,
  }, async (lab) => {
    log(`4 systemd guests up in ${lab.bootSeconds} s (${lab.accel}, kernel ${lab.kernelVersion})`);
    // what a user's host runs: systemd, networkd from netplan, the packages' units
    const units = await vmSh(
      lab,
      "web1",
      "cat /proc/1/comm; systemctl is-active systemd-networkd systemd-journald systemd-sysctl " +
        "systemd-udevd ssh; systemctl is-enabled netfilter-persistent keepalived; " +
        "ls /run/systemd/network",
    );
    assert.match(units, /^systemd\nactive\nactive\nactive\nactive\nactive\nenabled\nenabled\n/);
    assert.match(units, /10-netplan-eth0\.network/);
    const password = "Vr" + crypto.randomUUID().slice(0, 6);
    const run = SCENARIOS.filter((sc) => !only || only.some((o) => sc.mode.startsWith(o)));
    assert.ok(run.length > 0, `HAPLAY_REBOOT_MODES=${only} matches no scenario`);
    for (const sc of run) {
      await t.step({
        name: sc.mode,
        sanitizeOps: false,
        sanitizeResources: false,
        fn: () => runScenario(lab, sc, password, rows),
      });
    }
    about = `Run ${new Date().toISOString().slice(0, 16)}Z: QEMU ${lab.accel.toUpperCase()}, ` +
      `Debian kernel ${lab.kernelVersion}, systemd as PID 1, 4 guests (lb1, lb2, web1, client; ` +
      `256 MiB, 1 vCPU each) on a ${navigator.hardwareConcurrency}-core machine; boot ` +
      `${lab.bootSeconds} s; whole test ${Math.round((performance.now() - t0) / 1000)} s. ` +
      "Seconds from power-off (QEMU gone); verify: from the guest booted to `deno task verify` " +
      "exiting 0 (includes its own run time).";
  });
  const md = rebootMarkdown(rows, about);
  console.log("\n" + md);
  await writeResultsSection(`${here}results.md`, "reboot", md);
  assert.deepEqual(rows.filter((r) => !r.ok).map((r) => `${r.mode} ${r.host}`), [], "failed");
});
