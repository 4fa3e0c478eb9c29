/**
 * A writer of `newc` cpio archives, the format of Linux initramfs images (no `cpio` program is
 * needed on this machine). The kernel unpacks several archives concatenated into one initrd in
 * order, later entries replacing earlier ones: the VM lab appends a small per-guest archive to
 * the shared one.
 * @module
 */

/** One archive member. Paths are relative (`etc/hostname`), parents listed before children. */
export type CpioEntry =
  | { type: "dir"; path: string; mode?: number; uid?: number; gid?: number }
  | {
    type: "file";
    path: string;
    data: Uint8Array | string;
    mode?: number;
    uid?: number;
    gid?: number;
  }
  | { type: "symlink"; path: string; target: string }
  | { type: "chardev"; path: string; major: number; minor: number; mode?: number };

const enc = new TextEncoder();

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

interface Head {
  ino: number;
  mode: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  rdev?: [number, number];
}

function header(h: Head, name: string): Uint8Array {
  const nameBytes = enc.encode(name + "\0");
  const [ma, mi] = h.rdev ?? [0, 0];
  const fields = [
    h.ino,
    h.mode,
    h.uid ?? 0,
    h.gid ?? 0,
    1,
    h.mtime ?? 0,
    h.size ?? 0,
    0,
    0,
    ma,
    mi,
  ];
  fields.push(nameBytes.length, 0);
  const head = enc.encode("070701" + fields.map(hex8).join(""));
  const out = new Uint8Array(head.length + nameBytes.length + pad4(head.length + nameBytes.length));
  out.set(head, 0);
  out.set(nameBytes, head.length);
  return out;
}

/** The archive of `entries` (with its TRAILER!!! entry); `mtime` in seconds for all. */
export function cpioArchive(entries: CpioEntry[], mtime = 0): Uint8Array {
  const parts: Uint8Array[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, "");
    if (e.type === "dir") {
      const mode = 0o040000 | (e.mode ?? 0o755);
      parts.push(header({ ino: ino++, mode, uid: e.uid, gid: e.gid, mtime }, path));
      continue;
    }
    if (e.type === "chardev") {
      const mode = 0o020000 | (e.mode ?? 0o600);
      parts.push(header({ ino: ino++, mode, mtime, rdev: [e.major, e.minor] }, path));
      continue;
    }
    const data = e.type === "symlink"
      ? enc.encode(e.target)
      : typeof e.data === "string"
      ? enc.encode(e.data)
      : e.data;
    const mode = e.type === "symlink" ? 0o120777 : 0o100000 | (e.mode ?? 0o644);
    const uid = e.type === "file" ? e.uid ?? 0 : 0;
    const gid = e.type === "file" ? e.gid ?? 0 : 0;
    const head = header({ ino: ino++, mode, uid, gid, size: data.length, mtime }, path);
    parts.push(head, data, new Uint8Array(pad4(data.length)));
  }
  parts.push(header({ ino: 0, mode: 0 }, "TRAILER!!!"));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total + pad4(total));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Every directory above `path` (`a/b/c` → `a`, `a/b`), for listing parents first. */
export function parentsOf(path: string): string[] {
  const segs = path.replace(/^\/+/, "").split("/").slice(0, -1);
  return segs.map((_, i) => segs.slice(0, i + 1).join("/"));
}
