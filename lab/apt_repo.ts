/**
 * A cached, flat Debian repository for lab hosts (they have no route to any mirror): the
 * packages a load balancer deploy installs plus their recursive `Depends`, fetched once on this
 * machine with `apt-get download` and indexed with `dpkg-scanpackages`. Served to the hosts by
 * `busybox httpd` on the lab bridge (see `lab.ts`).
 * @module
 */

import { exists, LabError, run } from "./util.ts";

/** Top-level packages of the lab apt repository (their recursive Depends are added). */
export const APT_REPO_PACKAGES: readonly string[] = [
  "keepalived",
  "iptables-persistent",
  "netfilter-persistent",
  "ipvsadm",
];

/** Root of the repository cache: env `HAPLAY_LAB_APT_CACHE` or `/var/cache/haplay/lab-apt`. */
export function aptCacheRoot(): string {
  return Deno.env.get("HAPLAY_LAB_APT_CACHE") || "/var/cache/haplay/lab-apt";
}

/** One .deb of the repository as apt would fetch it. */
export interface AptDeb {
  /** Package name. */
  name: string;
  /** File name of the .deb (`name_version_arch.deb`, `:` escaped as `%3a`). */
  file: string;
  /** Expected SHA256 (hex), when apt knows it. */
  sha256?: string;
}

/**
 * Resolve `packages` and their recursive Depends (no Recommends/Suggests) to the .deb files of
 * their candidate versions, via `apt-cache depends --recurse` and `apt-get download --print-uris`.
 */
export async function resolveDebs(packages: readonly string[]): Promise<AptDeb[]> {
  const deps = await run("apt-cache", [
    "depends",
    "--recurse",
    "--no-recommends",
    "--no-suggests",
    "--no-conflicts",
    "--no-breaks",
    "--no-replaces",
    "--no-enhances",
    ...packages,
  ]);
  // package names start in column 0; "<virtual>" names are not real packages
  const names = [
    ...new Set(
      deps.stdout.split("\n").filter((l) => /^[a-z0-9][a-z0-9+.-]*$/.test(l)),
    ),
  ].sort();
  if (!names.length) throw new LabError(`apt-cache knows none of: ${packages.join(" ")}`);
  const uris = await run("apt-get", ["download", "--print-uris", ...names]);
  const debs: AptDeb[] = [];
  for (const line of uris.stdout.split("\n")) {
    // 'URI' FILE SIZE SHA256:HEX
    const m = line.match(/^'[^']+' (\S+\.deb) \d+ (?:SHA256:([0-9a-f]{64}))?/);
    if (m) debs.push({ name: m[1].split("_")[0], file: m[1], sha256: m[2] });
  }
  if (!debs.length) throw new LabError("apt-get download --print-uris listed no packages");
  return debs.sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * {@link resolveDebs}, memoised in the cache root for as long as apt's package lists and the
 * dpkg database are unchanged (resolving costs ~2.5 s; a lab up should not).
 */
async function cachedResolve(root: string, packages: readonly string[]): Promise<AptDeb[]> {
  const stamps: string[] = [...packages];
  for (const p of ["/var/lib/apt/lists", "/var/cache/apt/pkgcache.bin", "/var/lib/dpkg/status"]) {
    try {
      const st = await Deno.stat(p);
      stamps.push(`${p}:${st.mtime?.getTime()}:${st.size}`);
    } catch {
      stamps.push(`${p}:-`);
    }
  }
  const file = `${root}/resolve-${(await sha256Hex(stamps.join("\n"))).slice(0, 16)}.json`;
  try {
    const debs = JSON.parse(await Deno.readTextFile(file)) as AptDeb[];
    if (Array.isArray(debs) && debs.length) return debs;
  } catch {
    // not cached yet
  }
  const debs = await resolveDebs(packages);
  await Deno.mkdir(root, { recursive: true, mode: 0o755 });
  const tmp = `${file}.${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(debs));
  await Deno.rename(tmp, file);
  return debs;
}

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Return the directory of the flat repository for `packages`, building it first when the cache
 * has none for exactly this set of .deb versions (cache key: SHA256 of the sorted file names).
 * .debs already in /var/cache/apt/archives with the expected hash are copied, the rest are
 * fetched with `apt-get download`. `extraDebs` (paths of local .debs, e.g. a keepalived built
 * from upstream by `keepalived_build.ts`) are added as they are; their names and hashes are part
 * of the cache key. Concurrent builders are safe (atomic rename).
 */
export async function ensureAptRepo(
  packages: readonly string[] = APT_REPO_PACKAGES,
  extraDebs: readonly string[] = [],
): Promise<string> {
  const root = aptCacheRoot();
  const debs = await cachedResolve(root, packages);
  const extra: { file: string; bytes: Uint8Array }[] = [];
  for (const path of extraDebs) {
    extra.push({ file: path.slice(path.lastIndexOf("/") + 1), bytes: await Deno.readFile(path) });
  }
  const extraKeys = await Promise.all(
    extra.map(async (x) => `${x.file}:${await sha256Hex(x.bytes)}`),
  );
  const key = (await sha256Hex([...debs.map((d) => d.file), ...extraKeys].join("\n"))).slice(0, 16);
  const dir = `${root}/${key}`;
  if (await exists(`${dir}/Packages.gz`)) return dir;
  await Deno.mkdir(root, { recursive: true, mode: 0o755 });
  const tmp = `${root}/.build-${key}-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { mode: 0o755 });
  try {
    const missing: string[] = [];
    for (const d of debs) {
      const cached = `/var/cache/apt/archives/${d.file}`;
      try {
        const bytes = await Deno.readFile(cached);
        if (d.sha256 && (await sha256Hex(bytes)) !== d.sha256) throw new Error("hash mismatch");
        await Deno.writeFile(`${tmp}/${d.file}`, bytes, { mode: 0o644 });
      } catch {
        missing.push(d.name);
      }
    }
    if (missing.length) {
      await run("apt-get", ["download", "-q", ...missing], { cwd: tmp });
    }
    for (const x of extra) await Deno.writeFile(`${tmp}/${x.file}`, x.bytes, { mode: 0o644 });
    for (const d of debs) {
      if (!(await exists(`${tmp}/${d.file}`))) {
        throw new LabError(`apt repo: ${d.file} was not downloaded`);
      }
    }
    const scan = await run("dpkg-scanpackages", ["--multiversion", ".", "/dev/null"], {
      cwd: tmp,
    });
    const index = new TextEncoder().encode(scan.stdout);
    await Deno.writeFile(`${tmp}/Packages`, index, { mode: 0o644 });
    await Deno.writeFile(`${tmp}/Packages.gz`, await gzip(index), { mode: 0o644 });
    await Deno.writeTextFile(
      `${tmp}/haplay-packages.txt`,
      `# haplay lab apt repo for: ${packages.join(" ")}\n` +
        [...debs.map((d) => d.file), ...extra.map((x) => x.file)].join("\n") + "\n",
    );
    await Deno.chmod(tmp, 0o755);
    try {
      await Deno.rename(tmp, dir);
    } catch (e) {
      if (!(await exists(`${dir}/Packages.gz`))) throw e; // else: another builder won the race
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return dir;
}
