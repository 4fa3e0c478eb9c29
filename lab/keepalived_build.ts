/**
 * keepalived built from its upstream release trees (`keepalived-VERSION.tar.gz`: `build_setup`,
 * `configure`, `make`), packaged as a `.deb` named `keepalived` with Debian's file layout
 * (`/usr/sbin/keepalived`, `/etc/keepalived`, Debian's init script, systemd unit and
 * `/etc/default/keepalived`), so the roles and `apt-get install keepalived` work unchanged on a
 * lab host that runs another version than Debian's. Built once per tarball and cached in
 * `/var/cache/haplay/keepalived/VERSION/` (env `HAPLAY_KEEPALIVED_CACHE`), keyed by the tarball's
 * SHA256; concurrent builders are serialised by a lock file.
 *
 * `deno task keepalived-build [VERSION...]` builds (or finds) them from the command line.
 * @module
 */

import { exists, LabError, run } from "./util.ts";

/** The upstream versions the project tests (Ubuntu 20.04, 22.04, 24.04, upstream). */
export const KEEPALIVED_VERSIONS: readonly string[] = ["2.0.19", "2.2.4", "2.2.8", "2.3.4"];

/** Debian 12's own keepalived (the machine's package, used when no version is asked for). */
export const DEBIAN_KEEPALIVED = "2.2.7";

/** Root of the build cache: env `HAPLAY_KEEPALIVED_CACHE` or `/var/cache/haplay/keepalived`. */
export function keepalivedCacheRoot(): string {
  return Deno.env.get("HAPLAY_KEEPALIVED_CACHE") || "/var/cache/haplay/keepalived";
}

/**
 * Directory of the release trees: env `HAPLAY_KEEPALIVED_SRC`, else `../shared/keepalived-src`
 * beside the repository.
 */
export function keepalivedSrcDir(): string {
  return Deno.env.get("HAPLAY_KEEPALIVED_SRC") ||
    new URL("../../shared/keepalived-src", import.meta.url).pathname;
}

/** A built package in the cache. */
export interface KeepalivedBuild {
  version: string;
  /** Absolute path of the .deb. */
  deb: string;
  /** Its file name (`keepalived_1:VERSION-0haplay1_amd64.deb`, `:` as `%3a`). */
  file: string;
  /** SHA256 of the source tarball the .deb was built from (the cache key). */
  tarballSha256: string;
  /** Seconds the build took (0 when served from the cache). */
  seconds: number;
  /** {@link RECIPE} of the build (a changed recipe rebuilds). */
  recipe: number;
}

/** Version of the build recipe below (configure options, package layout): part of the key. */
export const RECIPE = 3;

/** Debian version string of a build: epoch 1 like Debian's `1:2.2.7-1+b2`. */
export function debVersion(version: string): string {
  return `1:${version}-0haplay1`;
}

/** Throws a clear error for a version the project does not build. */
export function checkVersion(version: string): void {
  if (!KEEPALIVED_VERSIONS.includes(version)) {
    throw new LabError(
      `keepalived ${version}: not a built version (one of ${KEEPALIVED_VERSIONS.join(", ")}; ` +
        `${DEBIAN_KEEPALIVED} is Debian's own package: omit --keepalived)`,
    );
  }
}

async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The cached build of `version`, when its record matches the tarball's hash (no build). */
export async function cachedKeepalived(version: string): Promise<KeepalivedBuild | undefined> {
  checkVersion(version);
  const tarball = `${keepalivedSrcDir()}/keepalived-${version}.tar.gz`;
  if (!(await exists(tarball))) return undefined;
  return await fromRecord(version, await sha256File(tarball));
}

async function fromRecord(version: string, sha: string): Promise<KeepalivedBuild | undefined> {
  const dir = `${keepalivedCacheRoot()}/${version}`;
  try {
    const rec = JSON.parse(await Deno.readTextFile(`${dir}/build.json`)) as KeepalivedBuild;
    if (
      rec.tarballSha256 === sha && rec.recipe === RECIPE && (await exists(`${dir}/${rec.file}`))
    ) {
      return { ...rec, deb: `${dir}/${rec.file}`, seconds: 0 };
    }
  } catch {
    // not built yet
  }
  return undefined;
}

/** Debian's packaging files the .deb reuses (from Debian's own keepalived .deb). */
const DEBIAN_FILES = [
  "etc/init.d/keepalived",
  "etc/default/keepalived",
  "lib/systemd/system/keepalived.service",
];

/**
 * Debian's keepalived .deb on this machine (apt's archive cache, else `apt-get download`) unpacked
 * into `dest`: the init script, unit and defaults file come from it.
 */
async function debianFiles(dest: string): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "haplay-ka-deb-" });
  try {
    let deb: string | undefined;
    for await (const e of Deno.readDir("/var/cache/apt/archives")) {
      if (/^keepalived_1%3a2\.2\.7.*\.deb$/.test(e.name)) deb = `/var/cache/apt/archives/${e.name}`;
    }
    if (!deb) {
      await run("apt-get", ["download", "-q", "keepalived"], { cwd: tmp });
      for await (const e of Deno.readDir(tmp)) {
        if (e.name.endsWith(".deb")) deb = `${tmp}/${e.name}`;
      }
    }
    if (!deb) throw new LabError("Debian's keepalived .deb could not be found or downloaded");
    await run("dpkg-deb", ["-x", deb, `${tmp}/x`]);
    for (const f of DEBIAN_FILES) {
      const to = `${dest}/${f}`;
      await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      await Deno.copyFile(`${tmp}/x/${f}`, to);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * The systemd unit for a build. Debian's is `Type=notify`, right for a binary with systemd
 * notify support (linked with libsystemd: 2.1 and later, configured `--with-init=systemd`);
 * 2.0.x has none and gets the forking unit Ubuntu 20.04 shipped with it.
 */
export function unitFor(notify: boolean, debianUnit: string): string {
  if (notify) return debianUnit;
  return debianUnit.replace(
    "Type=notify",
    "Type=forking\nPIDFile=/run/keepalived.pid\nKillMode=process",
  )
    .replace(
      "ExecStart=/usr/sbin/keepalived --dont-fork $DAEMON_ARGS",
      "ExecStart=/usr/sbin/keepalived $DAEMON_ARGS",
    );
}

/** The libraries a binary links (absolute paths, from ldd). */
async function linkedLibs(binary: string): Promise<string[]> {
  const ldd = await run("ldd", [binary]);
  return [...ldd.stdout.matchAll(/=> (\/\S+)/g)].map((m) => m[1]);
}

/** Runtime Depends of a binary: the packages owning the libraries it links, plus iproute2. */
async function dependsOf(binary: string): Promise<string> {
  const libs = await linkedLibs(binary);
  const pkgs = new Set<string>(["iproute2"]);
  for (const lib of libs) {
    const real = await Deno.realPath(lib);
    for (
      const p of [
        lib,
        real,
        lib.replace(/^\/lib\//, "/usr/lib/"),
        real.replace(/^\/lib\//, "/usr/lib/"),
      ]
    ) {
      const r = await run("dpkg", ["-S", p], { allowFail: true });
      if (r.code === 0) {
        pkgs.add(r.stdout.split(":")[0].split(",")[0].trim());
        break;
      }
    }
  }
  return [...pkgs].sort().join(", ");
}

/**
 * configure options: Debian's paths and init (systemd: notify support where the release has
 * it, which configure would not detect on a machine not booted with systemd), no SNMP/DBus (not
 * needed by the roles).
 */
const CONFIGURE = [
  "--prefix=/usr",
  "--sysconfdir=/etc",
  "--localstatedir=/var",
  "--with-init=systemd",
];

/** Runs a build step niced, with a clean environment; its output goes to `log`. */
async function step(log: string, cwd: string, cmd: string, args: string[]): Promise<void> {
  const r = await run("nice", ["-n", "10", cmd, ...args], { cwd, allowFail: true });
  await Deno.writeTextFile(log, `$ ${cmd} ${args.join(" ")}\n${r.stdout}${r.stderr}`, {
    append: true,
  });
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ");
    throw new LabError(`keepalived build: ${cmd} failed (exit ${r.code}): ${tail} (log: ${log})`);
  }
}

/**
 * Return the .deb of keepalived `version`, building it first when the cache has none for this
 * tarball (~40-90 s per version on 2 shared cores, `make -j2` under nice).
 */
export async function ensureKeepalived(version: string): Promise<KeepalivedBuild> {
  checkVersion(version);
  const tarball = `${keepalivedSrcDir()}/keepalived-${version}.tar.gz`;
  if (!(await exists(tarball))) {
    throw new LabError(`keepalived ${version}: source tarball not found: ${tarball}`);
  }
  const sha = await sha256File(tarball);
  const hit = await fromRecord(version, sha);
  if (hit) return hit;
  const root = keepalivedCacheRoot();
  const dir = `${root}/${version}`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  const lock = await Deno.open(`${dir}/.lock`, { create: true, write: true });
  try {
    await lock.lock(true);
    const again = await fromRecord(version, sha); // another builder may have finished meanwhile
    if (again) return again;
    return await build(version, tarball, sha, dir);
  } finally {
    lock.close();
  }
}

async function build(
  version: string,
  tarball: string,
  sha: string,
  dir: string,
): Promise<KeepalivedBuild> {
  const t0 = performance.now();
  const work = await Deno.makeTempDir({ prefix: `haplay-ka-${version}-` });
  const log = `${dir}/build.log`;
  await Deno.writeTextFile(log, `# keepalived ${version} from ${tarball} (sha256 ${sha})\n`);
  try {
    await run("tar", ["-xzf", tarball, "-C", work]);
    const src = `${work}/keepalived-${version}`;
    if (!(await exists(`${src}/configure.ac`))) {
      throw new LabError(`${tarball}: no keepalived-${version}/configure.ac inside`);
    }
    await step(log, src, "./build_setup", []);
    await step(log, src, "./configure", CONFIGURE);
    await step(log, src, "make", ["-j2"]);
    const stage = `${work}/stage`;
    await Deno.mkdir(`${stage}/usr/sbin`, { recursive: true });
    await Deno.mkdir(`${stage}/etc/keepalived`, { recursive: true });
    await Deno.copyFile(`${src}/keepalived/keepalived`, `${stage}/usr/sbin/keepalived`);
    await Deno.chmod(`${stage}/usr/sbin/keepalived`, 0o755);
    await run("strip", ["--strip-unneeded", `${stage}/usr/sbin/keepalived`]);
    await debianFiles(stage);
    const unit = `${stage}/lib/systemd/system/keepalived.service`;
    const notify = (await linkedLibs(`${stage}/usr/sbin/keepalived`))
      .some((l) => l.includes("libsystemd.so"));
    await Deno.writeTextFile(unit, unitFor(notify, await Deno.readTextFile(unit)));
    await Deno.chmod(`${stage}/etc/init.d/keepalived`, 0o755);
    const doc = `${stage}/usr/share/doc/keepalived`;
    await Deno.mkdir(doc, { recursive: true });
    await Deno.copyFile(`${src}/COPYING`, `${doc}/copyright`);
    await Deno.chmod(`${doc}/copyright`, 0o644);
    const depends = await dependsOf(`${stage}/usr/sbin/keepalived`);
    const size = Math.ceil((await Deno.stat(`${stage}/usr/sbin/keepalived`)).size / 1024) + 40;
    await Deno.mkdir(`${stage}/DEBIAN`);
    await Deno.writeTextFile(
      `${stage}/DEBIAN/control`,
      [
        "Package: keepalived",
        `Version: ${debVersion(version)}`,
        "Architecture: amd64",
        "Maintainer: haplay lab <haplay@localhost>",
        `Installed-Size: ${size}`,
        `Depends: ${depends}`,
        "Section: admin",
        "Priority: optional",
        "Homepage: https://keepalived.org",
        `Description: keepalived ${version} built from upstream for the haplay lab`,
        ` Upstream release ${version} (source sha256 ${sha.slice(0, 16)}), with Debian's`,
        " init script, systemd unit and /etc/default/keepalived.",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      `${stage}/DEBIAN/conffiles`,
      "/etc/default/keepalived\n/etc/init.d/keepalived\n",
    );
    const file = `keepalived_1%3a${version}-0haplay1_amd64.deb`;
    await run("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", stage, `${work}/${file}`]);
    await Deno.copyFile(`${work}/${file}`, `${dir}/${file}.tmp`);
    await Deno.rename(`${dir}/${file}.tmp`, `${dir}/${file}`);
    const seconds = Math.round((performance.now() - t0) / 100) / 10;
    const rec: KeepalivedBuild = {
      version,
      deb: `${dir}/${file}`,
      file,
      tarballSha256: sha,
      seconds,
      recipe: RECIPE,
    };
    await Deno.writeTextFile(`${dir}/build.json.tmp`, JSON.stringify(rec, null, 2) + "\n");
    await Deno.rename(`${dir}/build.json.tmp`, `${dir}/build.json`);
    return rec;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/**
 * Unpack a build into `dest` (a temp prefix: `dest/usr/sbin/keepalived`), for tests that run
 * the binary directly.
 */
export async function unpackKeepalived(b: KeepalivedBuild, dest: string): Promise<string> {
  await run("dpkg-deb", ["-x", b.deb, dest]);
  return `${dest}/usr/sbin/keepalived`;
}

if (import.meta.main) {
  const versions = Deno.args.length ? Deno.args : [...KEEPALIVED_VERSIONS];
  let code = 0;
  for (const v of versions) {
    try {
      const b = await ensureKeepalived(v);
      console.log(
        `keepalived ${v}: ${b.deb} (${b.seconds ? `built in ${b.seconds}s` : "cached"})`,
      );
    } catch (e) {
      console.error(`keepalived-build: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
      code = 1;
    }
  }
  Deno.exit(code);
}
