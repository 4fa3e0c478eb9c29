/**
 * The guests' small initramfs (uncompressed: nothing to decompress under TCG): the image's
 * busybox and the few libraries it links, the virtio/ext4/rng modules in load order, and
 * {@link INITRAMFS_INIT}. Built from the image's root directory; nothing from this machine.
 * @module
 */
import { cpioArchive, type CpioEntry, parentsOf } from "./cpio.ts";
import { INITRAMFS_INIT } from "./guest_scripts.ts";
import { VmlabError } from "./util.ts";

/** Modules the initramfs loads (with their dependencies): disk, root fs, NICs, entropy. */
export const INITRAMFS_MODULES = [
  "virtio_pci",
  "virtio_blk",
  "crc32c_generic", // ext4 soft dependency (crypto-crc32c)
  "ext4",
  "virtio_net",
  "virtio_rng",
];

/** Libraries of Debian's (dynamically linked) busybox, under `/usr/lib/x86_64-linux-gnu`. */
const BUSYBOX_LIBS = ["libc.so.6", "libresolv.so.2"];

/**
 * Resolves `rel` inside `root` the way the guest would (absolute symlink targets are relative
 * to `root`, never to this machine's `/`). Returns the path on this machine.
 */
export async function realIn(root: string, rel: string): Promise<string> {
  const parts = rel.replace(/^\/+/, "").split("/").filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === ".") continue;
    if (p === "..") {
      done.pop();
      continue;
    }
    const here = `${root}/${[...done, p].join("/")}`;
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(here);
    } catch {
      throw new VmlabError(`${rel} not found in ${root}`);
    }
    if (st.isSymlink) {
      if (++hops > 40) throw new VmlabError(`too many symlinks resolving ${rel} in ${root}`);
      const t = await Deno.readLink(here);
      if (t.startsWith("/")) done.length = 0;
      parts.unshift(...t.split("/").filter(Boolean));
    } else done.push(p);
  }
  return `${root}/${done.join("/")}`;
}

/** `modules.dep` → module name (`-` as `_`) → [relative path, dependency paths]. */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const out = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split("\n")) {
    const m = /^(\S+\.ko(?:\.\w+)?):\s*(.*)$/.exec(line);
    if (!m) continue;
    out.set(modName(m[1]), { path: m[1], deps: m[2].split(/\s+/).filter(Boolean) });
  }
  return out;
}

function modName(path: string): string {
  return path.split("/").pop()!.replace(/\.ko(\.\w+)?$/, "").replace(/-/g, "_");
}

/** Module paths to load for `wanted`, dependencies first, each once. */
export function moduleLoadOrder(
  dep: Map<string, { path: string; deps: string[] }>,
  wanted: string[],
): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]) => {
    if (seen.has(name)) return;
    const m = dep.get(name);
    if (!m) {
      throw new VmlabError(`module ${name} not in modules.dep (needed by ${chain.join(" < ")})`);
    }
    seen.add(name);
    for (const d of m.deps) visit(modName(d), [name, ...chain]);
    order.push(m.path);
  };
  for (const w of wanted) visit(w.replace(/-/g, "_"), ["initramfs"]);
  return order;
}

/** The initramfs of the image rooted at `root` for kernel `kver`. */
export async function buildInitramfs(root: string, kver: string): Promise<Uint8Array> {
  const modDir = `usr/lib/modules/${kver}`;
  const dep = parseModulesDep(await Deno.readTextFile(`${root}/${modDir}/modules.dep`));
  const order = moduleLoadOrder(dep, INITRAMFS_MODULES);
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string) => {
    for (const d of [...parentsOf(p), p]) {
      if (!dirs.has(d)) entries.push({ type: "dir", path: d });
      dirs.add(d);
    }
  };
  const file = async (path: string, src: string, mode = 0o644) => {
    for (const d of parentsOf(path)) dir(d);
    entries.push({ type: "file", path, data: await Deno.readFile(await realIn(root, src)), mode });
  };
  for (const d of ["proc", "sys", "dev", "newroot", "mods"]) dir(d);
  entries.push({ type: "chardev", path: "dev/console", major: 5, minor: 1 });
  await file("bin/busybox", "usr/bin/busybox", 0o755);
  for (const l of BUSYBOX_LIBS) {
    await file(`lib/x86_64-linux-gnu/${l}`, `usr/lib/x86_64-linux-gnu/${l}`, 0o755);
  }
  await file("lib64/ld-linux-x86-64.so.2", "usr/lib64/ld-linux-x86-64.so.2", 0o755);
  const names: string[] = [];
  for (const [i, p] of order.entries()) {
    const n = `${String(i + 1).padStart(2, "0")}-${p.split("/").pop()}`;
    names.push(n);
    await file(`mods/${n}`, `${modDir}/${p}`);
  }
  entries.push({ type: "file", path: "mods/order", data: names.join("\n") + "\n" });
  entries.push({ type: "file", path: "init", data: INITRAMFS_INIT, mode: 0o755 });
  return cpioArchive(entries, Math.floor(Date.now() / 1000));
}
