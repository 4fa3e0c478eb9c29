/**
 * First contact, through the real `deno task` commands run as subprocesses:
 * - no stack trace from any task (lab, vmlab, demo, bench, deploy, rollback, verify, history)
 *   on a missing program, a missing package, a busy lab name, a full disk under the state dir
 *   (tiny tmpfs in a private mount namespace) and no root (as `nobody`);
 * - bare `deno task rollback` (and `--check`, `history`, `verify`) after `deno task deploy`;
 * - the controller SIGKILLed mid-apply, then an immediate bare rollback: it waits for the host
 *   lock, the host script stopped at a task boundary (run state `interrupted`), every host is
 *   back to its pre-deploy snapshot.
 * Labs fc1..fc9 on 198.19.40.0/24 .. 198.19.49.0/24.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { e2e, withLab } from "./lab_fixture.ts";
import { type Lab, labExec } from "../lab/lab.ts";
import { snapshots } from "./snapshot.ts";
import { knownError } from "../engine/_cli_errors.ts";
import { when } from "../engine/last_run.ts";
import { CLI_PERMS } from "./_cli.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const RUNS = "/var/lib/haplay/runs";
const PERMS = CLI_PERMS;

interface Ran {
  code: number;
  out: string;
}

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

async function denoDir(): Promise<string> {
  const o = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  return JSON.parse(new TextDecoder().decode(o.stdout)).denoDir;
}

/**
 * `deno task ARGS` from the checkout, in a private mount namespace after `setup` (sh), as
 * `user` when given (the Deno cache bind-mounted where that user can read it).
 */
async function task(
  args: string[],
  o: { setup?: string; user?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<Ran> {
  const dd = await denoDir();
  const run = o.user
    ? `mkdir -p /tmp/.fc-denodir && mount --bind ${q(dd)} /tmp/.fc-denodir && ` +
      `export DENO_DIR=/tmp/.fc-denodir HOME=/tmp && ` +
      `exec setpriv --reuid ${o.user} --regid nogroup --clear-groups -- `
    : "exec ";
  const script = `set -e; mount --make-rprivate /\n${o.setup ?? ""}\ncd ${
    q(o.cwd ?? ROOT)
  }\n${run}${[Deno.execPath(), ...args].map(q).join(" ")}`;
  const r = await new Deno.Command("unshare", {
    args: ["--mount", "sh", "-c", script],
    env: { PATH, NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/root", ...o.env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** Lines a user reads (deno's own "Task ..." echo left out). */
const userLines = (out: string) => out.split("\n").filter((l) => l.trim() && !/^Task \S+ /.test(l));

function assertOneLine(r: Ran, want: RegExp, what: string) {
  if (Deno.env.get("FC_SHOW")) console.log(`--- ${what}\n${userLines(r.out).join("\n")}`);
  assert.notEqual(r.code, 0, `${what}: exit code\n${r.out}`);
  assert.doesNotMatch(r.out, /at file:\/\//, `${what}: stack trace\n${r.out}`);
  assert.doesNotMatch(r.out, /^\s+at /m, `${what}: stack trace\n${r.out}`);
  assert.doesNotMatch(r.out, /re-run with -v/, `${what}: should be a known error\n${r.out}`);
  assert.match(r.out, want, `${what}\n${r.out}`);
  // progress lines of bench and vmlab are theirs; the error itself must be one line
  const lines = userLines(r.out).filter((l) => !/^\[(bench|vmlab) [^\]]*\] (?!ERROR)/.test(l));
  assert.ok(lines.length <= 2, `${what}: at most 2 lines, got\n${r.out}`);
}

/** Whiteouts (overlay over /usr/sbin, /usr/bin) hiding programs in the namespace. */
function hide(sbin: string[], bin: string[] = []): string {
  return `W=$(mktemp -d); mkdir $W/s $W/b
for p in ${sbin.join(" ")}; do mknod $W/s/$p c 0 0; done
for p in ${bin.join(" ")}; do mknod $W/b/$p c 0 0; done
mount -t overlay overlay -o lowerdir=$W/s:/usr/sbin /usr/sbin
mount -t overlay overlay -o lowerdir=$W/b:/usr/bin /usr/bin`;
}

/** A tmpfs with no space and no inodes left over `dir`. */
function fullDisk(dir: string): string {
  return `mount -t tmpfs -o size=64k,nr_inodes=8,mode=0755 tmpfs ${q(dir)}
i=0; while touch ${q(dir)}/f$i 2>/dev/null; do i=$((i+1)); done
dd if=/dev/zero of=${q(dir)}/f0 bs=4k 2>/dev/null || true`;
}

const BENCH = (lab: string, tmp: string) => [
  "task",
  "bench",
  "--hosts",
  "4",
  "--runs",
  "1",
  "--tools",
  "haplay",
  "--phases",
  "direct",
  "--lab",
  lab,
  "--out",
  `${tmp}/bench.json`,
  "--log-dir",
  `${tmp}/bench-logs`,
];

e2e(
  "no task prints a stack: missing program, missing package, busy lab, full disk, no root",
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "haplay-fc-" });
    await Deno.chmod(tmp, 0o755);
    try {
      const sd = `${tmp}/labs`;
      // deploys record their run here, not in the checkout's .haplay/
      const stateEnv = { HAPLAY_STATE_DIR: `${tmp}/record` };
      await Deno.mkdir(sd);
      const lab = (name: string, net: number) =>
        ["task", "lab", "up", "--name", name, "--hosts", "1", "--subnet", `198.19.${net}.0/24`]
          .concat(["--state-dir", sd]);
      const vm = ["task", "vmlab", "up", "--name", "fc9", "--mgmt", "198.19.49.0/24"]
        .concat(["--state-dir", `${tmp}/vm`, "--cache", `${tmp}/vmcache`]);
      const missingSshd = hide(["sshd"]);
      const missingBusybox = hide([], ["busybox"]);

      // a missing program (sshd) and a missing package (busybox)
      for (
        const [setup, re] of [[missingSshd, /sshd.*openssh-server/], [missingBusybox, /busybox/]]
      ) {
        assertOneLine(await task(lab("fc2", 41), { setup: setup as string }), re as RegExp, "lab");
        assertOneLine(
          await task(["task", "demo", "--no-install"], { setup: setup as string }),
          re as RegExp,
          "demo",
        );
        assertOneLine(
          await task(BENCH("fc3", tmp), { setup: setup as string }),
          re as RegExp,
          "bench",
        );
      }
      assertOneLine(
        await task(["task", "vmlab", "build", "--cache", `${tmp}/vmcache`], {
          setup: hide(["debootstrap"]),
        }),
        /missing program 'debootstrap' \(Debian package debootstrap\)/,
        "vmlab",
      );
      // the VM lab's image cache on a full disk
      await Deno.mkdir(`${tmp}/vmfull`);
      assertOneLine(
        await task(["task", "vmlab", "build", "--cache", `${tmp}/vmfull`], {
          setup: fullDisk(`${tmp}/vmfull`),
        }),
        /no space left on device/,
        "vmlab full disk",
      );

      // a full disk under the lab state dir / the checkout's state dir
      assertOneLine(
        await task(lab("fc4", 43), { setup: fullDisk(sd) }),
        /no space left on device/,
        "lab",
      );

      // no root
      for (
        const [args, what] of [[lab("fc5", 44), "lab"], [vm, "vmlab"], [BENCH("fc6", tmp), "bench"]]
      ) {
        assertOneLine(await task(args as string[], { user: "nobody" }), /root/, what as string);
      }
      assertOneLine(
        await task(["task", "demo", "--no-install"], { user: "nobody" }),
        /root/,
        "demo",
      );

      await withLab({ name: "fc1", subnet: "198.19.40.0/24", hosts: 1 }, async (l) => {
        // a busy lab name
        assertOneLine(
          await task([
            "task",
            "lab",
            "up",
            "--name",
            "fc1",
            "--hosts",
            "1",
            "--subnet",
            "198.19.45.0/24",
          ]),
          /fc1.*already up|in use/,
          "lab busy",
        );
        // deploy / rollback / verify / history as nobody: the lab's files are root's
        const pb = `${tmp}/pb.ts`;
        await Deno.writeTextFile(pb, playbook(1, 0));
        for (const cmd of ["deploy", "rollback", "verify", "history"]) {
          const r = await task(["task", cmd, l.inventory, ...(cmd === "rollback" ? [] : [pb])], {
            user: "nobody",
          });
          assertOneLine(r, /[Pp]ermission denied|root/, `${cmd} as nobody`);
        }
        // deploy with its state dir (the last-run record) on a full disk
        await Deno.mkdir(`${tmp}/state`);
        assertOneLine(
          await task(["task", "deploy", l.inventory, pb], {
            setup: fullDisk(`${tmp}/state`),
            env: { HAPLAY_STATE_DIR: `${tmp}/state` },
          }),
          /no space left on device/,
          "deploy full disk",
        );
        // an unexpected error: one line with the hint; -v shows the stack
        const broken = `${tmp}/broken.ts`;
        await Deno.writeTextFile(
          broken,
          `export const plays = [{ name: "x", hosts: "all", tasks: () => { throw new RangeError("boom"); } }];\n`,
        );
        const u = await task(["task", "deploy", l.inventory, broken], { env: stateEnv });
        assert.doesNotMatch(u.out, /at file:\/\//, u.out);
        assert.match(u.out, /boom.*re-run with -v for the stack/, u.out);
        const uv = await task(["task", "deploy", l.inventory, broken, "-v"], { env: stateEnv });
        assert.match(uv.out, /at file:\/\//, uv.out);
      });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test("knownError: one actionable line for the known cases, undefined otherwise", () => {
  const e = (m: string, name = "Error") => Object.assign(new Error(m), { name });
  assert.match(
    knownError(e("missing program 'sshd' (needed by the lab)", "LabError"))!,
    /^missing program 'sshd' \(Debian package openssh-server\): install it with apt-get install openssh-server/,
  );
  assert.match(
    knownError(e(`Failed to spawn 'keepalived': No such file or directory`))!,
    /Debian package keepalived/,
  );
  assert.match(
    knownError(e("No space left on device (os error 28): open '/x/.lock'"))!,
    /^no space left on device writing \/x\/\.lock: free space/,
  );
  assert.equal(
    knownError(e("the lab needs root (namespaces)", "LabError")),
    "the lab needs root (namespaces)",
  );
  assert.equal(knownError(new RangeError("boom")), undefined);
  assert.equal(
    when("2026-12-01T16:00:00Z", Date.parse("2026-12-01T16:04:00Z")),
    "2026-12-01 16:00:00 UTC, 4 min ago",
  );
});

/** A playbook of `n` files per host, each validated by `sleep S`. */
function playbook(n: number, sleepS: number, tag = "a"): string {
  return `import { file } from ${JSON.stringify(`${ROOT}tasks/file.ts`)};
export const plays = [{ name: "first-contact", hosts: "all", tasks: () => Array.from({ length: ${n} }, (_, i) =>
  file({ path: "/etc/haplay-fc/f" + i + ".conf", content: ${JSON.stringify(tag)} + i + "\\n",
    validate: "sleep ${sleepS} && test -s %s" })) }];
`;
}

async function onHost(lab: Lab, host: string, cmd: string): Promise<string> {
  return (await labExec(lab, host, ["sh", "-c", cmd])).stdout;
}

e2e(
  "bare rollback, --check, history and verify act on the last deploy from this checkout",
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "haplay-fc-" });
    const env = { HAPLAY_STATE_DIR: `${tmp}/state` };
    try {
      // neither a record nor inventory/prod.yaml (run outside the checkout): one line, exit 4
      const none = await task(["run", ...PERMS, `${ROOT}engine/cli.ts`, "rollback"], {
        env,
        cwd: tmp,
      });
      assert.equal(none.code, 4, none.out);
      assert.equal(userLines(none.out).length, 1, none.out);
      assert.match(none.out, /no deploy recorded .* and no inventory\/prod\.yaml/);

      await withLab({ name: "fc7", subnet: "198.19.47.0/24", hosts: 2 }, async (lab) => {
        const hosts = lab.hosts.map((h) => h.name);
        const before = await snapshots(lab, hosts);
        const pb = `${tmp}/pb.ts`;
        await Deno.writeTextFile(pb, playbook(3, 0));
        const d = await task(["task", "deploy", lab.inventory, pb], { env });
        assert.equal(d.code, 0, d.out);
        const runId = /run (\S+): \d+ ms/.exec(d.out)![1];
        const deployed = await snapshots(lab, hosts);
        assert.notDeepEqual(deployed, before);

        const h = await task(["task", "history"], { env });
        assert.equal(h.code, 0, h.out);
        assert.match(
          h.out,
          new RegExp(`history of the last deploy from this checkout: run ${runId} of `),
        );
        assert.match(h.out, new RegExp(`${runId}\\s+done\\s+3/3 changed`));

        // bare verify: the recorded inventory and playbook (this one has no verify step)
        const v = await task(["task", "verify"], { env });
        assert.match(
          v.out,
          new RegExp(`verify of the last deploy from this checkout: run ${runId} of `),
        );
        assert.match(v.out, /this playbook has no verify step/);

        const c = await task(["task", "rollback", "--check"], { env });
        assert.equal(c.code, 0, c.out);
        assert.match(
          c.out,
          new RegExp(
            `would undo the last deploy from this checkout: run ${runId} of ${lab.inventory} \\(started \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC, \\d+ s ago\\)`,
          ),
        );
        for (const host of hosts) {
          assert.match(c.out, new RegExp(`${host}: would roll back run ${runId}`));
        }
        assert.deepEqual(await snapshots(lab, hosts), deployed, "--check changed a host");

        const r = await task(["task", "rollback"], { env });
        assert.equal(r.code, 0, r.out);
        assert.match(
          r.out,
          new RegExp(`undoing the last deploy from this checkout: run ${runId} of `),
        );
        for (const host of hosts) {
          assert.match(r.out, new RegExp(`${host}: rolled back run ${runId}`));
        }
        assert.deepEqual(await snapshots(lab, hosts), before, "rollback did not restore the hosts");
        for (const host of hosts) {
          assert.equal(
            (await onHost(lab, host, `cat ${RUNS}/${runId}/state`)).trim(),
            "rolled-back",
          );
        }
      });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);

e2e(
  "controller SIGKILLed mid-apply, then an immediate bare rollback: waits, restores every host",
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "haplay-fc-" });
    const env = { HAPLAY_STATE_DIR: `${tmp}/state` };
    try {
      await withLab({ name: "fc8", subnet: "198.19.48.0/24", hosts: 2 }, async (lab) => {
        const hosts = lab.hosts.map((h) => h.name);
        const before = await snapshots(lab, hosts);
        const pb = `${tmp}/slow.ts`;
        await Deno.writeTextFile(pb, playbook(3, 10, "slow"));
        const controller = new Deno.Command(Deno.execPath(), {
          args: ["run", ...PERMS, `${ROOT}engine/cli.ts`, "deploy", lab.inventory, pb],
          cwd: ROOT,
          env,
          stdout: "null",
          stderr: "null",
        }).spawn();
        // killed once every host finished its first slow task (the second one is in flight)
        const end = Date.now() + 60000;
        while (Date.now() < end) {
          const done = await Promise.all(
            hosts.map((h) => onHost(lab, h, `ls ${RUNS}/*/tasks/0000/done 2>/dev/null`)),
          );
          if (done.every((x) => x.trim())) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        controller.kill("SIGKILL");
        await controller.status;
        const killedAt = performance.now();
        const r = await task(["task", "rollback", "--purge-packages"], { env });
        const waited = /lock free after (\d+) s/.exec(r.out)?.[1];
        assert.equal(r.code, 0, r.out);
        assert.doesNotMatch(r.out, /locked/, r.out);
        assert.match(r.out, /undoing the last deploy from this checkout: run \S+ of /);
        assert.match(r.out, /waiting for the host lock held by \S+ pid \d+ run \S+/, r.out);
        for (const host of hosts) assert.match(r.out, new RegExp(`${host}: rolled back run `));
        assert.deepEqual(await snapshots(lab, hosts), before, "a host differs from its snapshot");
        for (const host of hosts) {
          // the host script stopped at the task boundary after the session was gone
          const marks = await onHost(
            lab,
            host,
            `cat ${RUNS}/*/interrupted; ls ${RUNS}/*/tasks | wc -l`,
          );
          assert.match(marks, /^session lost\n/, `${host}: ${marks}`);
          assert.ok(Number(marks.trim().split("\n").pop()) < 3, `${host} went on: ${marks}`);
          console.log(
            `${host}: ${marks.trim().split("\n").pop()} of 3 entries journaled, interrupted`,
          );
        }
        console.log(
          `bare rollback done ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the ` +
            `SIGKILL, after waiting ${waited} s for the lock`,
        );
      });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);

e2e(
  "host lock: deploy waits for a live holder; rollback takes over a lock whose holder is gone",
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "haplay-fc-" });
    const env = { HAPLAY_STATE_DIR: `${tmp}/state` };
    try {
      await withLab({ name: "fc9", subnet: "198.19.49.0/24", hosts: 1 }, async (lab) => {
        const pb = `${tmp}/pb.ts`;
        await Deno.writeTextFile(pb, playbook(2, 0));
        const HP = "/var/lib/haplay";
        // a live holder for 8 s, named in lock.owner as a run would be
        await onHost(
          lab,
          "h1",
          `mkdir -p ${HP}; { flock ${HP}/lock sleep 8 </dev/null >/dev/null 2>&1 & } ; sleep 0.3; ` +
            `echo "someone@elsewhere pid 1 run R-live host-pid $(pgrep -x sleep | head -1)" > ${HP}/lock.owner`,
        );
        assert.notEqual((await labExec(lab, "h1", ["flock", "-n", `${HP}/lock`, "true"])).code, 0);
        const t0 = performance.now();
        const d = await task(["task", "deploy", lab.inventory, pb, "--wait", "30"], { env });
        const waited = (performance.now() - t0) / 1000;
        assert.equal(d.code, 0, d.out);
        assert.match(
          d.out,
          /h1: waiting for the host lock held by someone@elsewhere pid 1 run R-live/,
        );
        assert.match(d.out, /h1: lock free after \d+ s/);
        assert.match(d.out, /h1: changed \(2 changed\)/);
        assert.ok(waited < 30, `deploy took ${waited} s`);

        // a leftover process keeps the lock file open and locked; the recorded holder is gone
        await onHost(
          lab,
          "h1",
          `{ flock ${HP}/lock sleep 600 </dev/null >/dev/null 2>&1 & } ; sleep 0.3; ` +
            `echo "someone@elsewhere pid 1 run R-dead host-pid 99999" > ${HP}/lock.owner`,
        );
        assert.notEqual((await labExec(lab, "h1", ["flock", "-n", `${HP}/lock`, "true"])).code, 0);
        const t1 = performance.now();
        const r = await task(["task", "rollback", lab.inventory, "--wait", "30"], { env });
        const took = (performance.now() - t1) / 1000;
        assert.equal(r.code, 0, r.out);
        assert.doesNotMatch(r.out, /locked/);
        assert.match(r.out, /h1: rolled back run /);
        assert.ok(took < 20, `rollback took ${took} s: it waited instead of taking over`);
        assert.equal(
          (await onHost(lab, "h1", `ls ${HP}/lock.stale && ls /etc/haplay-fc | wc -l`)).trim(),
          `${HP}/lock.stale\n0`,
        );
        console.log(
          `deploy waited ${waited.toFixed(1)} s for an 8 s holder; takeover rollback ${
            took.toFixed(1)
          } s`,
        );
      });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);
