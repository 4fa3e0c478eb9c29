/**
 * Load balancers that survive a real reboot: three QEMU guests booting Debian's systemd (lb1,
 * lb2, web1; `vmlab up --init systemd`) and the client in the lab's network namespace (curl
 * runs natively there: a client guest cost a quarter of every boot and starved the rebooting
 * guest with its TCG curl loops). One deploy serves a DR service (the VIP on
 * web1's lo, persisted by netplan) and a NAT service from the same director pair (like
 * inventory/prod.yaml), so every reboot is measured for both modes at once: while the client
 * requests each VIP every 0.1 s, the BACKUP (`systemctl reboot`), the MASTER (power cut) and
 * web1 (power cut) are rebooted one at a time. After each reboot, without any haplay command in
 * between: `deno task verify` exits 0 (keepalived enabled and running, exactly one MASTER, the
 * VIPs held once, the lo VIP on web1), the preempting MASTER holds every VIP again, both VIPs
 * answer; then a deploy changes nothing (1 exec per host). The failed requests and every
 * outage's gap are counted per mode, and bounded for the directors (web1 is the only real
 * server: its reboot is an outage, reported). Last (issue item 5c): a rollback with --purge-packages, then a power
 * cut of lb1 and web1 at once, and nothing haplay made comes back (`verify --absent`, and each
 * host's snapshot equal to the one before the deploy). Writes its section of `results.md`.
 *
 * Lab `s2rb`, management subnet 198.19.110.0/24.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadInventory } from "../../engine/inventory.ts";
import { rollbackHosts } from "../../engine/rollback.ts";
import { runPlaybook } from "../../engine/run.ts";
import { plays } from "../../playbooks/site.ts";
import { vmSh } from "../../vmlab/exec.ts";
import { withVmConnection } from "../../vmlab/inventory.ts";
import { vmReboot } from "../../vmlab/lab.ts";
import type { VmLab } from "../../vmlab/types.ts";
import { pidCpuSeconds } from "../../vmlab/util.ts";
import { denoRun } from "../_cli.ts";
import {
  holders,
  runEach,
  snapshotChanges,
  snapshots,
  until,
  vmTest,
  withVmLab,
} from "./fixture.ts";
import {
  type Answer,
  type ClientExec,
  curlsFrom,
  netnsClient,
  outages,
  type Prober,
  startProberOn,
  tallyText,
} from "./probe.ts";
import { rebootMarkdown, type RebootRow, writeResultsSection } from "./results.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = fileURLToPath(new URL("../../", import.meta.url));
const log = (l: string) => console.log(`[reboot ${new Date().toISOString().slice(11, 19)}] ${l}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;

/** No outage of a VIP during a director's reboot may be longer than this (s; see README). */
export const REBOOT_MAX_GAP_S = 8;
/** The BACKUP's reboot may fail at most this many requests per mode (measured: 0). */
export const BACKUP_MAX_FAILED = 1;
/**
 * `deno task verify` must start a green run within this many seconds of the guest booted
 * (the host's state, not verify's own run time, which a loaded machine stretches).
 */
export const VERIFY_MAX_S = 60;

const INVENTORY = "reboot-dr-nat.yaml";
/** The VRRP instance's addresses (DR VIP, NAT VIP, the real servers' NAT gateway). */
const VRRP_ADDRESSES = ["198.18.10.100", "198.18.11.100", "198.18.10.254"];
const DIRECTORS = ["lb1", "lb2"];

interface ModeProbe {
  mode: string;
  url: string;
  tag: string;
}

const MODES: ModeProbe[] = [
  { mode: "DR (VIP on lo, netplan)", url: "http://198.18.10.100/", tag: "rbdr" },
  { mode: "NAT", url: "http://198.18.11.100/", tag: "rbnat" },
];

interface Step {
  host: string;
  role: string;
  graceful: boolean;
}

const STEPS: Step[] = [
  { host: "lb2", role: "BACKUP", graceful: true },
  { host: "lb1", role: "MASTER", graceful: false },
  { host: "web1", role: "real server", graceful: false },
];

/**
 * web1's routes as the operator's netplan file (web1 is rebooted): the DR client's subnet
 * on-link (DR replies bypass the directors), the NAT client's subnet through the floating
 * gateway (NAT replies must be de-NATed).
 */
const WEB1_NETPLAN = `network:
  version: 2
  ethernets:
    eth0:
      routes:
        - to: 198.18.12.0/24
          scope: link
        - to: 198.18.11.0/24
          via: 198.18.10.254
`;

/**
 * The operator's network, not haplay's: the client's second address (the DR client) and its
 * on-link route to the LAN; web1's routes applied the way networkd applies them at boot
 * (`netplan generate` + `networkctl reload`), so the snapshots before and after a reboot agree.
 */
const ENV_UP: Record<string, string> = {
  web1: `cat > /etc/netplan/50-dptest.yaml <<'EOF'\n${WEB1_NETPLAN}EOF\n` +
    "chmod 600 /etc/netplan/50-dptest.yaml && netplan generate && networkctl reload && " +
    "i=0; until ip route show 198.18.11.0/24 | grep -q 198.18.10.254; do " +
    "i=$((i+1)); [ $i -lt 120 ] || exit 1; sleep 0.5; done",
};
/** The client's addresses on the lab namespace's data bridge (its NAT and DR addresses). */
const CLIENT_UP = "ip addr replace 198.18.11.15/24 dev brdata && " +
  "ip addr replace 198.18.12.15/24 dev brdata && " +
  "ip route replace 198.18.10.0/24 dev brdata src 198.18.12.15";
/** A request loop on this machine ends by itself after this long (s), whatever the test does. */
const PROBER_MAX_S = 900;
const ENV_DOWN: Record<string, string> = {
  web1: "rm -f /etc/netplan/50-dptest.yaml && netplan generate && networkctl reload; true",
};

/**
 * Snapshot lines that differ between two boots of any host, haplay or not: per-boot random
 * keys. Everything else must be equal.
 */
const PER_BOOT = /^net\.(ipv4\.tcp_fastopen_key|core\.netdev_rss_key) = /;

/** `deno task verify INVENTORY [--absent]` as a user runs it: exit code and output's tail. */
async function verifyCli(
  inv: string,
  password: string,
  absent = false,
): Promise<{ code: number; tail: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: denoRun(
      "engine/cli.ts",
      "verify",
      inv,
      "--timeout",
      "120",
      ...(absent ? ["--absent"] : []),
    ),
    cwd: repo,
    env: { HAPLAY_VRRP_PASS: password },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const bad = text.split("\n").filter((l) => /FAILED|error/i.test(l));
  return { code: out.code, tail: (bad.length ? bad : text.split("\n")).slice(-6).join(" | ") };
}

/**
 * Runs verify until it exits 0: the seconds from `t0` to the start of the green run (the state
 * verify checked was there when it started), or throws after {@link VERIFY_MAX_S}.
 */
async function verifyGreen(inv: string, password: string, t0: number): Promise<number> {
  while (true) {
    const start = secs(t0);
    const v = await verifyCli(inv, password);
    if (v.code === 0) return start;
    if (secs(t0) > VERIFY_MAX_S) {
      throw new Error(`verify not green ${secs(t0)} s after the boot: ${v.tail}`);
    }
    await sleep(1000);
  }
}

/** What the rebooted guest's own boot must have brought back (beyond what verify checks). */
async function bootChecks(lab: VmLab, host: string): Promise<void> {
  // a unit that failed at boot (a starved TCG guest hitting one of systemd's own start limits
  // would be one) is named here, not left for a later check to report as its consequence
  assert.equal(
    (await vmSh(lab, host, "cat /proc/1/comm; systemctl --failed --plain --no-legend")).trim(),
    "systemd",
    `${host}: PID 1 systemd, and no unit failed at boot`,
  );
  if (host.startsWith("lb")) {
    assert.equal(
      (await vmSh(
        lab,
        host,
        "systemctl is-enabled keepalived; systemctl is-active keepalived; " +
          "sysctl -n net.ipv4.ip_forward",
      )).trim(),
      "enabled\nactive\n1",
      `${host}: keepalived, and ip_forward from /etc/sysctl.d (NAT), after the reboot`,
    );
  } else {
    const lo = await vmSh(
      lab,
      host,
      "ip -o -4 addr show dev lo; ls /run/systemd/network; ip route show 198.18.11.0/24",
    );
    assert.match(lo, / 198\.18\.10\.100\/32 /, `${host}: the DR VIP on lo`);
    assert.match(lo, /10-netplan-lo\.network/, `${host}: lo configured by networkd from netplan`);
    assert.match(lo, /via 198\.18\.10\.254/, `${host}: the NAT return route from netplan`);
  }
}

/** Every VRRP address held once, by lb1 (the preempting MASTER). */
async function lb1HoldsAll(lab: VmLab): Promise<boolean> {
  for (const a of VRRP_ADDRESSES) {
    const h = await holders(lab, DIRECTORS, a);
    if (h.length !== 1 || h[0] !== "lb1") return false;
  }
  return true;
}

/** Both VIPs answer (web1) from the client, 3 requests each. */
async function bothAnswer(client: ClientExec, when: string): Promise<void> {
  for (const m of MODES) {
    const a = await curlsFrom(client, m.url, 3);
    assert.ok(a.every((x) => x.body === "web1"), `${m.mode} ${when}: ${tallyText(a)}`);
  }
}

/** A deploy right after a reboot: nothing changed, one exec per host. */
async function deployNoop(inv: Awaited<ReturnType<typeof loadInventory>>, what: string) {
  const lines: string[] = [];
  const t0 = performance.now();
  const rep = await runPlaybook(inv, plays, { log: (l) => lines.push(l), timeoutMs: 180_000 });
  const execs = Math.max(...rep.hosts.map((h) => h.execs));
  log(`${what}: deploy in ${secs(t0)} s, changed ${rep.changed}, at most ${execs} exec per host`);
  assert.equal(rep.ok, true, `deploy after ${what} failed:\n${lines.slice(-20).join("\n")}`);
  assert.equal(rep.changed, false, `deploy after ${what} changed:\n${lines.slice(-20).join("\n")}`);
  assert.deepEqual(
    [...new Set(rep.hosts.map((h) => `${h.host} ${h.execs}`))].sort(),
    ["lb1 1", "lb2 1", "web1 1"],
    `${what}: execs per host`,
  );
}

/** CPU seconds all guests' QEMUs have used so far (what the lab's work cost, load aside). */
async function guestCpu(lab: VmLab): Promise<number> {
  let s = 0;
  for (const h of lab.hosts) s += await pidCpuSeconds(h.pid);
  return s;
}

vmTest("data path across real reboots (systemd guests): DR with the lo VIP and NAT", async () => {
  const t0 = performance.now();
  const rows: RebootRow[] = [];
  const phases: string[] = [];
  let labInfo = "";
  /** Writes the results section: after every step (a run killed later leaves its rows), last. */
  const report = async (state: string) => {
    const about = `Run ${new Date().toISOString().slice(0, 16)}Z (${state}): ${labInfo}3 guests ` +
      `(lb1, lb2, web1; 256 MiB, 1 vCPU each; the client in the lab's network namespace) on a ${navigator.hardwareConcurrency}-core ` +
      `machine; one deploy serving both modes (${INVENTORY}); ${Math.round(secs(t0))} s: ` +
      `${phases.join(", ")}. Seconds from power-off (QEMU gone); verify: from the guest booted ` +
      "to the start of the `deno task verify` run that exits 0.";
    const md = rebootMarkdown(rows, about) + `\nAfter the rollback (issue #14, 5c): ${absent}.\n`;
    await writeResultsSection(`${here}results.md`, "reboot", md);
    return md;
  };
  let absent = "not reached";
  let failure: unknown;
  await withVmLab({
    name: "s2rb",
    mgmtSubnet: "198.19.110.0/24",
    init: "systemd",
    guests: ["lb1", "lb2", "web1"],
    log,
  }, async (lab) => {
    // guests' CPU before a phase, wall clock of the phase
    let cpu0 = 0, wall0 = 0;
    const phase = async (what: string) => {
      const cpu = await guestCpu(lab);
      phases.push(`${what} ${secs(wall0)} s (${Math.round(cpu - cpu0)} guest CPU s)`);
      cpu0 = cpu;
      wall0 = performance.now();
    };
    wall0 = t0;
    await phase("boot of 3 guests");
    labInfo = `QEMU ${lab.accel.toUpperCase()}, Debian kernel ${lab.kernelVersion}, systemd as ` +
      "PID 1, ";
    log(`3 systemd guests up in ${lab.bootSeconds} s (${lab.accel}, kernel ${lab.kernelVersion})`);
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
    const path = `${lab.dir}/${INVENTORY}`;
    await Deno.writeTextFile(
      path,
      withVmConnection(await Deno.readTextFile(`${here}inventories/${INVENTORY}`), lab),
    );
    const inv = await loadInventory(path, { env: { HAPLAY_VRRP_PASS: password } });
    const client = netnsClient(lab);
    const cup = await client(CLIENT_UP, { timeoutMs: 30_000 });
    assert.equal(cup.code, 0, `client addresses in the lab's namespace: ${cup.stderr}`);
    await runEach(lab, ENV_UP);
    const before = await snapshots(lab);
    const lines: string[] = [];
    try {
      const rep = await runPlaybook(inv, plays, {
        log: (l) => lines.push(l),
        timeoutMs: 180_000,
      });
      assert.equal(rep.ok, true, `deploy failed:\n${lines.slice(-25).join("\n")}`);
      await until("lb1 MASTER holding every VRRP address", 60_000, () => lb1HoldsAll(lab));
      await bothAnswer(client, "before the reboots");
      // the deploy's files are on the guests' disks before the first power cut (ext4 commits
      // every 5 s; a user's host would have had minutes)
      await runEach(lab, { lb1: "sync", lb2: "sync", web1: "sync" });
      await phase("deploy");

      for (const st of STEPS) {
        const stepRows = MODES.map((m): RebootRow => ({
          mode: m.mode,
          host: `${st.host} (${st.role})`,
          how: st.graceful ? "graceful (systemctl reboot)" : "power cut",
          sshUpS: 0,
          bootedS: 0,
          requests: "not reached",
          outages: "not reached",
          verify: "not reached",
          ok: false,
        }));
        rows.push(...stepRows);
        const probers: Prober[] = [];
        for (const m of MODES) {
          probers.push(await startProberOn(client, m.url, `${lab.dir}/${m.tag}`, PROBER_MAX_S));
        }
        const answers: Answer[][] = [];
        try {
          await sleep(3000);
          const [r] = await vmReboot(lab, [st.host], { graceful: st.graceful, log });
          const booted = performance.now();
          // no haplay command: the guest's own boot brought everything back, or verify fails
          const verifyS = await verifyGreen(path, password, booted).catch((e) => {
            for (const row of stepRows) row.verify = `FAILED: ${(e as Error).message}`;
            throw e;
          });
          for (const row of stepRows) {
            row.sshUpS = Math.round(r.sshUpMs / 100) / 10;
            row.bootedS = Math.round(r.readyMs / 100) / 10;
            row.verify = `${verifyS} s`;
          }
          log(
            `${st.host}: booted ${r.readyMs} ms (${r.bootCpuS} CPU s); verify green ${verifyS} s`,
          );
          await bootChecks(lab, st.host);
          await until(
            "lb1 MASTER holding every VRRP address again",
            60_000,
            () => lb1HoldsAll(lab),
          );
          await sleep(2000);
        } finally {
          for (const p of probers) answers.push(await p.stop());
        }
        MODES.forEach((m, i) => {
          const a = answers[i];
          const out = outages(a);
          const failed = a.filter((x) => x.body === null).length;
          const row = stepRows[i];
          row.requests = `${failed} of ${a.length} failed`;
          row.outages = out.length
            ? out.map((o) => `${o.gapS} s (${o.failed} failed)`).join(", ")
            : "none";
          log(`${m.mode}: ${row.host}: ${row.requests}; outages ${row.outages}`);
          assert.ok(a.length >= 10, `${m.mode}: too few requests during the reboot (${a.length})`);
          // the directors are a redundant pair; web1 is the only real server: while it is down
          // the service is (its outage is reported, not bounded)
          if (st.role !== "real server") {
            assert.ok(
              out.every((o) => o.gapS <= REBOOT_MAX_GAP_S),
              `${m.mode}, ${st.host}'s reboot: outages ${row.outages} (at most ${REBOOT_MAX_GAP_S} s)`,
            );
          }
          if (st.role === "BACKUP") {
            assert.ok(
              failed <= BACKUP_MAX_FAILED,
              `${m.mode}: the BACKUP's reboot failed ${failed}`,
            );
          }
        });
        await bothAnswer(client, `after ${st.host}'s reboot`);
        await deployNoop(inv, `${st.host}'s reboot`);
        for (const row of stepRows) {
          row.verify += "; deploy after: 0 changed, 1 exec per host";
          row.ok = true;
        }
        await phase(`${st.host} reboot`);
        await report("in progress");
      }
    } catch (e) {
      failure = e;
    }
    // (c) rollback, then a power cut: nothing haplay made may come back from the boot
    try {
      // --purge-packages, as a user undoing the whole deploy: keepalived installed by the deploy
      // stays installed otherwise (the image's own keepalived, enabled by its package, stays)
      const rb = await rollbackHosts(inv, {
        log: (l) => lines.push(l),
        timeoutMs: 180_000,
        purgePackages: true,
      });
      assert.deepEqual(rb.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`), [], "rollback");
      await runEach(lab, { lb1: "sync", lb2: "sync", web1: "sync" });
      if (failure === undefined) {
        absent = "FAILED";
        const up = await vmReboot(lab, ["lb1", "web1"], { log });
        const v = await verifyCli(path, password, true);
        assert.equal(v.code, 0, `verify --absent after the rollback and the reboot: ${v.tail}`);
        const after = await snapshots(lab);
        const diffs = ["lb1", "lb2", "web1"].flatMap((h) =>
          snapshotChanges(before[h], after[h]).filter((l) => !PER_BOOT.test(l.slice(2)))
            .map((l) => `${h}: ${l}`)
        );
        assert.deepEqual(diffs, [], "snapshots after the rollback and the reboot");
        absent = `rollback, then lb1 and web1 power cut at once (booted ${
          up.map((u) => `${u.host} ${Math.round(u.readyMs / 100) / 10} s`).join(", ")
        }): \`verify --absent\` exits 0, lb1, lb2 and web1 equal to their snapshots before the ` +
          "deploy";
        await phase("rollback, reboot, absent");
      }
      await runEach(lab, ENV_DOWN);
    } catch (e) {
      failure ??= e;
    }
  }).catch((e) => {
    failure ??= e;
  });
  console.log("\n" + await report(failure === undefined ? "complete" : "failed"));
  if (failure !== undefined) throw failure;
  assert.deepEqual(rows.filter((r) => !r.ok).map((r) => `${r.mode} ${r.host}`), [], "failed");
});
