/**
 * Set-up check run first by `deno task demo` and `deno task test`: finds the Debian packages of
 * README's list that are missing (a package counts as missing when dpkg's status does not say
 * "install ok installed" or one of its programs is on no PATH directory), the kernel features
 * the lab needs (network namespaces, overlayfs, veth, bridge) and root, then says in one line
 * what it installs and installs it with apt-get (root only). With `--no-install` (or env
 * `HAPLAY_NO_INSTALL=1`) it installs nothing, prints the exact apt-get command and exits 1.
 *
 * ```
 * deno run ... engine/preflight.ts demo|test [--no-install]
 * ```
 * @module
 */
import { SYSTEM_PATH } from "../labkit/sys.ts";
import { PACKAGES } from "./_packages.ts";
import { runMain } from "./_cli_errors.ts";

export { PACKAGES };

/** iptables-persistent asks two debconf questions on install; answered as `.ci/run` does. */
export const DEBCONF_PRESEED = [
  "iptables-persistent iptables-persistent/autosave_v4 boolean false",
  "iptables-persistent iptables-persistent/autosave_v6 boolean false",
];

/** What the machine lacks. */
export interface PreflightFindings {
  /** Packages to install, in README's order. */
  missing: string[];
  /** Per missing package, why (program not found, dpkg status). */
  why: Record<string, string>;
  /** Kernel features the lab needs and this kernel lacks (apt cannot fix these). */
  kernel: string[];
  /** apt's package lists are absent (`apt-get update` needed; the lab's apt repo needs them). */
  noLists: boolean;
  root: boolean;
}

/** Where the check looks (overridable so unit tests can point it at fixtures). */
export interface PreflightEnv {
  path?: string;
  dpkgStatus?: string;
  aptLists?: string;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}

async function readOr(p: string, d = ""): Promise<string> {
  try {
    return await Deno.readTextFile(p);
  } catch {
    return d;
  }
}

/** Package names dpkg's status file lists as installed. */
export function installedPackages(status: string): Set<string> {
  const out = new Set<string>();
  for (const stanza of status.split(/\n\n+/)) {
    const pkg = /^Package: (\S+)$/m.exec(stanza)?.[1];
    if (pkg && /^Status: install ok installed$/m.test(stanza)) out.add(pkg);
  }
  return out;
}

/** Exit code of a command, or -1 when it cannot start (the program is missing). */
async function status(cmd: string, args: string[]): Promise<number> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      env: { PATH: SYSTEM_PATH },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return o.code;
  } catch {
    return -1;
  }
}

/**
 * Kernel features the lab needs, tried for real where that is cheap and leaves nothing behind:
 * a veth pair and a bridge are created inside a throwaway network namespace (gone with the
 * process); overlayfs is read from /proc/filesystems (or a loadable module). Deno reads /proc
 * only with --allow-all, so programs read it.
 */
async function kernelMissing(): Promise<string[]> {
  const out: string[] = [];
  const rel = Deno.osRelease();
  const mods = await readOr(`/lib/modules/${rel}/modules.builtin`) +
    await readOr(`/lib/modules/${rel}/modules.dep`);
  // Deno reads /proc only with --allow-all: ask grep
  const fs = await status("grep", ["-q", "[[:space:]]overlay$", "/proc/filesystems"]);
  if (fs !== 0 && !/\/overlay\.ko/.test(mods)) out.push("overlayfs");
  const ns = Deno.uid() === 0 ? ["--net"] : ["--user", "--map-root-user", "--net"];
  const probe = (what: string) =>
    status("unshare", [...ns, "ip", "link", "add", ...what.split(" ")]);
  const u = await status("unshare", [...ns, "true"]);
  // without util-linux / iproute2 this cannot be tried: the missing packages are reported
  if (u < 0 || (await status("ip", ["-V"])) < 0) return out;
  if (u !== 0) return Deno.uid() === 0 ? ["network namespaces", ...out] : out;
  if ((await probe("hpv0 type veth peer name hpv1")) !== 0) out.push("veth");
  if ((await probe("hpbr0 type bridge")) !== 0) out.push("bridge");
  return out;
}

/** Look at the machine; changes nothing. */
export async function findMissing(env: PreflightEnv = {}): Promise<PreflightFindings> {
  const dirs = [
    ...new Set([...(env.path ?? Deno.env.get("PATH") ?? "").split(":"), ...SYSTEM_PATH.split(":")]),
  ].filter(Boolean);
  const onPath = async (prog: string) => {
    for (const d of dirs) if (await isFile(`${d}/${prog}`)) return true;
    return false;
  };
  const installed = installedPackages(await readOr(env.dpkgStatus ?? "/var/lib/dpkg/status"));
  const missing: string[] = [];
  const why: Record<string, string> = {};
  for (const { pkg, needs } of PACKAGES) {
    const reasons: string[] = [];
    if (!installed.has(pkg)) reasons.push("not installed (dpkg)");
    for (const n of needs) {
      const found = n.startsWith("/") ? await isFile(n) : await onPath(n);
      if (!found) reasons.push(`no ${n}`);
    }
    if (reasons.length) {
      missing.push(pkg);
      why[pkg] = reasons.join(", ");
    }
  }
  let noLists = true;
  try {
    for await (const e of Deno.readDir(env.aptLists ?? "/var/lib/apt/lists")) {
      if (e.name.endsWith("_Packages") || e.name.includes("_Packages.")) noLists = false;
    }
  } catch { /* no lists directory */ }
  return { missing, why, kernel: await kernelMissing(), noLists, root: Deno.uid() === 0 };
}

/** The exact command that installs `missing` (with `apt-get update` first when needed). */
export function aptCommand(f: Pick<PreflightFindings, "missing" | "noLists">): string {
  const parts: string[] = [];
  if (f.noLists) parts.push("apt-get update");
  if (f.missing.length) {
    parts.push(
      `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${
        f.missing.join(" ")
      }`,
    );
  }
  return parts.join(" && ");
}

const WHY_ROOT: Record<string, string> = {
  demo: "the demo's lab creates network namespaces, overlay mounts and veth links, " +
    "which only root can do: run it as root (sudo -E deno task demo)",
  test: "the end-to-end tests build labs (network namespaces, overlay mounts, veth links), " +
    "which only root can do: they will be skipped; run as root to run them",
};

async function labsUp(): Promise<string[]> {
  const dir = Deno.env.get("HAPLAY_LAB_DIR") || "/tmp/haplay-lab";
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && await isFile(`${dir}/${e.name}/lab.json`)) out.push(e.name);
    }
  } catch { /* none */ }
  return out;
}

async function apt(args: string[], stdin?: string): Promise<{ ok: boolean; tail: string }> {
  const child = new Deno.Command(args[0], {
    args: args.slice(1),
    env: { DEBIAN_FRONTEND: "noninteractive", PATH: SYSTEM_PATH },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await child.output();
  const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  return { ok: o.success, tail: text.trim().split("\n").slice(-5).join("\n") };
}

/**
 * Check, then install what is missing (root, unless `install` is false). Returns the exit
 * code: 0 ready (or, for `test` without root, ready for the non-root part), 1 not ready.
 */
export async function preflight(
  o: { for: "demo" | "test"; install: boolean; log?: (l: string) => void; env?: PreflightEnv },
): Promise<number> {
  const log = o.log ?? ((l: string) => console.error(l));
  const f = await findMissing(o.env);
  const what = `deno task ${o.for}`;
  if (f.kernel.length) {
    log(
      `${what}: this kernel lacks ${f.kernel.join(", ")}, which the lab needs ` +
        `(apt cannot add them): use a Linux kernel with them built in or as modules`,
    );
    return 1;
  }
  // The lab's apt repository (demo, tests) is built with apt-get download: lists must exist.
  if (!f.missing.length && !f.noLists) {
    if (!f.root) {
      log(`${what}: not root: ${WHY_ROOT[o.for]}`);
      return o.for === "test" ? 0 : 1;
    }
    return 0;
  }
  const cmd = aptCommand(f);
  const list = f.missing.map((p) => `${p} (${f.why[p]})`).join(", ");
  if (!o.install) {
    log(
      `${what}: missing ${list || "apt package lists"}; --no-install given, nothing installed. ` +
        `Install with: ${cmd}`,
    );
    return 1;
  }
  if (!f.root) {
    log(
      `${what}: missing ${list || "apt package lists"}; installing needs root (apt-get), ` +
        `and ${WHY_ROOT[o.for]}. As root run: ${cmd}`,
    );
    // without root the tests' non-root part (fmt, lint, check, unit tests) needs none of it
    return o.for === "test" ? 0 : 1;
  }
  const up = await labsUp();
  if (up.length) {
    log(
      `${what}: missing ${list}, but lab(s) ${up.join(", ")} are up and share this machine's ` +
        `root: take them down (deno task lab down --name NAME), or run: ${cmd}`,
    );
    return 1;
  }
  log(
    `${what}: installing ${f.missing.join(" ") || "nothing"}${
      f.noLists ? " (apt-get update first: no package lists)" : ""
    } with apt-get`,
  );
  if (f.noLists || f.missing.length) {
    const u = await apt(["apt-get", "update"]);
    if (!u.ok && f.noLists) {
      log(`${what}: apt-get update failed:\n${u.tail}`);
      return 1;
    }
  }
  if (f.missing.length) {
    const pre = await apt(["debconf-set-selections"], DEBCONF_PRESEED.join("\n") + "\n");
    if (!pre.ok) log(`${what}: debconf-set-selections failed (going on): ${pre.tail}`);
    const r = await apt(["apt-get", "install", "-y", "--no-install-recommends", ...f.missing]);
    if (!r.ok) {
      log(`${what}: apt-get install failed:\n${r.tail}\nRun it yourself: ${cmd}`);
      return 1;
    }
    const again = await findMissing(o.env);
    if (again.missing.length) {
      log(`${what}: still missing after apt-get: ${again.missing.join(" ")}`);
      return 1;
    }
  }
  return 0;
}

/** CLI: `preflight.ts demo|test [--no-install]`. */
export async function main(argv: string[]): Promise<number> {
  const target = argv.find((a) => !a.startsWith("-")) ?? "test";
  if (target !== "demo" && target !== "test") {
    console.error("usage: preflight.ts demo|test [--no-install]");
    return 4;
  }
  const noInstall = argv.includes("--no-install") || !!Deno.env.get("HAPLAY_NO_INSTALL");
  return await preflight({ for: target, install: !noInstall });
}

if (import.meta.main) await runMain("preflight", main);
