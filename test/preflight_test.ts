/**
 * The set-up check of `deno task demo` / `deno task test` (engine/preflight.ts), run in a
 * private mount namespace where some of the lab's programs are hidden (overlay whiteouts over
 * /usr/bin and /usr/sbin) and dpkg's status lacks some packages, with apt-get,
 * debconf-set-selections and dpkg replaced by tattletales: it must name every missing package,
 * print the exact apt-get command, exit 1 and run or change nothing.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { e2e } from "./lab_fixture.ts";
import { aptCommand, installedPackages } from "../engine/preflight.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const HIDDEN_SBIN = ["sshd", "keepalived", "iptables", "netplan"];
const HIDDEN_BIN = ["busybox", "dpkg-scanpackages", "setfattr"];
const NOT_IN_DPKG = ["sudo", "python3"];
/** README's order. */
const EXPECTED = [
  "openssh-server",
  "keepalived",
  "iptables",
  "sudo",
  "netplan.io",
  "busybox",
  "dpkg-dev",
  "attr",
  "python3",
];

Deno.test("installedPackages reads dpkg's status stanzas", () => {
  const st = "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: deinstall ok " +
    "config-files\n\nPackage: c\nVersion: 1\nStatus: install ok installed\n";
  assert.deepEqual([...installedPackages(st)], ["a", "c"]);
  assert.equal(
    aptCommand({ missing: ["x", "y"], noLists: true }),
    "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends x y",
  );
});

async function fingerprint(): Promise<string> {
  const o = await new Deno.Command("sh", {
    args: [
      "-c",
      "sha256sum /var/lib/dpkg/status /var/cache/debconf/config.dat; " +
      "ls -l --time-style=full-iso /var/lib/apt/lists /var/cache/apt/archives; " +
      `git -C ${ROOT} status --porcelain`,
    ],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(o.stdout);
}

/** Run the preflight in a private mount namespace with programs hidden. */
async function hiddenRun(
  tmp: string,
  args: string[],
  user?: string,
): Promise<{ code: number; out: string }> {
  const status = (await Deno.readTextFile("/var/lib/dpkg/status")).split(/\n\n+/)
    .filter((s) => !NOT_IN_DPKG.some((p) => s.startsWith(`Package: ${p}\n`))).join("\n\n");
  await Deno.writeTextFile(`${tmp}/status`, status + "\n");
  await Deno.writeTextFile(`${tmp}/tattle`, `#!/bin/sh\necho "$0 $*" >> ${tmp}/ran\n`);
  await Deno.chmod(`${tmp}/tattle`, 0o755);
  await Deno.mkdir(`${tmp}/deno`, { recursive: true });
  await Deno.chmod(tmp, 0o777);
  await Deno.chmod(`${tmp}/deno`, 0o777);
  const cmd = [Deno.execPath(), "run", "--allow-run", "--allow-read", "--allow-write"]
    .concat(["--allow-env", "--allow-sys", `${ROOT}engine/preflight.ts`, ...args]);
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const script = `set -e
mount --make-rprivate /
W=${tmp}/wh; mkdir -p $W/bin $W/sbin
for p in ${HIDDEN_SBIN.join(" ")}; do mknod $W/sbin/$p c 0 0; done
for p in ${HIDDEN_BIN.join(" ")}; do mknod $W/bin/$p c 0 0; done
mount -t overlay overlay -o lowerdir=$W/sbin:/usr/sbin /usr/sbin
mount -t overlay overlay -o lowerdir=$W/bin:/usr/bin /usr/bin
mount --bind ${tmp}/status /var/lib/dpkg/status
for p in apt-get apt debconf-set-selections dpkg; do mount --bind ${tmp}/tattle /usr/bin/$p; done
${user ? `exec setpriv --reuid ${user} --regid nogroup --clear-groups --` : "exec"} ${
    cmd.map(q).join(" ")
  }`;
  const o = await new Deno.Command("unshare", {
    args: ["--mount", "sh", "-c", script],
    env: { PATH, DENO_DIR: `${tmp}/deno`, HOME: tmp, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

async function ran(tmp: string): Promise<string> {
  try {
    return await Deno.readTextFile(`${tmp}/ran`);
  } catch {
    return "";
  }
}

e2e(
  "preflight --no-install names every missing package, prints apt-get, touches nothing",
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "haplay-preflight-" });
    try {
      const before = await fingerprint();
      const r = await hiddenRun(tmp, ["demo", "--no-install"]);
      assert.equal(r.code, 1, r.out);
      const lines = r.out.trim().split("\n");
      assert.equal(lines.length, 1, r.out);
      for (const p of EXPECTED) assert.match(r.out, new RegExp(`\\b${p} \\(`), `${p}: ${r.out}`);
      for (const p of ["openssh-client", "iproute2", "util-linux", "iptables-persistent"]) {
        assert.doesNotMatch(r.out, new RegExp(`missing.*\\b${p} \\(`), r.out);
      }
      assert.ok(
        r.out.includes(
          `apt-get install -y --no-install-recommends ${EXPECTED.join(" ")}`,
        ),
        r.out,
      );
      assert.match(r.out, /no sshd/);
      assert.equal(await ran(tmp), "", "apt/dpkg must not run");
      assert.equal(await fingerprint(), before, "nothing on the machine may change");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);

e2e(
  "preflight as a non-root user: one line saying why root is needed, the command, no apt",
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "haplay-preflight-" });
    try {
      const before = await fingerprint();
      const r = await hiddenRun(tmp, ["demo"], "nobody");
      assert.equal(r.code, 1, r.out);
      assert.equal(r.out.trim().split("\n").length, 1, r.out);
      assert.match(r.out, /needs root \(apt-get\).*only root can do/, r.out);
      assert.ok(r.out.includes(`--no-install-recommends ${EXPECTED.join(" ")}`), r.out);
      assert.doesNotMatch(r.out, /at file:\/\//);
      assert.equal(await ran(tmp), "");
      assert.equal(await fingerprint(), before);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);

e2e("preflight on a machine with everything: silent, exit 0, no apt", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "haplay-preflight-" });
  try {
    const o = await new Deno.Command("unshare", {
      args: [
        "--mount",
        "sh",
        "-c",
        `mount --make-rprivate / && printf '#!/bin/sh\\necho "$0" >> ${tmp}/ran\\n' > ${tmp}/t && ` +
        `chmod 755 ${tmp}/t && mount --bind ${tmp}/t /usr/bin/apt-get && exec "$@"`,
        "sh",
        Deno.execPath(),
        "run",
        "--allow-run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        `${ROOT}engine/preflight.ts`,
        "test",
        "--no-install",
      ],
      env: { PATH, NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/root" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
    assert.equal(o.code, 0, out);
    assert.equal(out.trim(), "");
    assert.equal(await ran(tmp), "");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

e2e(
  "preflight as root installs: one line, debconf preseed, apt-get update first, then install",
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "haplay-preflight-" });
    try {
      // apt-get stand-in: records its arguments; "install" brings the hidden programs back
      await Deno.writeTextFile(
        `${tmp}/apt-get`,
        `#!/bin/sh\necho "apt-get $*" >> ${tmp}/ran\n[ "$1" = install ] && umount -l /usr/sbin\nexit 0\n`,
      );
      await Deno.writeTextFile(
        `${tmp}/debconf`,
        `#!/bin/sh\necho "debconf-set-selections" >> ${tmp}/ran\ncat >> ${tmp}/ran\n`,
      );
      await Deno.chmod(`${tmp}/apt-get`, 0o755);
      await Deno.chmod(`${tmp}/debconf`, 0o755);
      await Deno.mkdir(`${tmp}/lists`);
      const script = `set -e
mount --make-rprivate /
W=${tmp}/wh; mkdir -p $W
for p in sshd keepalived; do mknod $W/$p c 0 0; done
mount --bind ${tmp}/apt-get /usr/bin/apt-get
mount --bind ${tmp}/debconf /usr/bin/debconf-set-selections
mount --bind ${tmp}/lists /var/lib/apt/lists
mount -t overlay overlay -o lowerdir=$W:/usr/sbin /usr/sbin
exec "$@"`;
      const o = await new Deno.Command("unshare", {
        args: ["--mount", "sh", "-c", script, "sh", Deno.execPath(), "run", "--allow-run"]
          .concat(["--allow-read", "--allow-write", "--allow-env", "--allow-sys"])
          .concat([`${ROOT}engine/preflight.ts`, "demo"]),
        env: { PATH, NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/root", HAPLAY_LAB_DIR: tmp },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
      assert.equal(o.code, 0, out);
      assert.equal(
        out.trim(),
        "deno task demo: installing openssh-server keepalived (apt-get update first: no package " +
          "lists) with apt-get",
      );
      assert.equal(
        await ran(tmp),
        "apt-get update\ndebconf-set-selections\n" +
          "iptables-persistent iptables-persistent/autosave_v4 boolean false\n" +
          "iptables-persistent iptables-persistent/autosave_v6 boolean false\n" +
          "apt-get install -y --no-install-recommends openssh-server keepalived\n",
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);
