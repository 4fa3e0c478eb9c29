/**
 * `vmlab build`: the guests' disk image, kernel and initramfs, built once and cached.
 *
 * Two cached stages under the cache directory (default `/var/cache/haplay/vmlab`, env
 * `HAPLAY_VMLAB_CACHE`), each keyed by a hash of its recipe:
 * 1. `base/`: Debian bookworm minbase debootstrap'd from this machine's configured mirror, the
 *    guest packages installed with apt (services never started: `policy-rc.d`), Debian's
 *    `linux-image-amd64` unpacked into `/boot` and `/usr/lib/modules` (modules trimmed to what a
 *    virtio guest and the LB layer need), `depmod`.
 * 2. `image/`: the base plus the VM lab's guest setup (PID 1, sshd drop-in, test web server,
 *    `deploy` sudo user), as `rootfs.img` (ext4, the shared read-only backing file of every
 *    guest's qcow2 overlay), `vmlinux` (the uncompressed kernel: QEMU boots its PVH entry, no
 *    firmware or decompression under TCG) and `initrd.cpio`.
 * Changing a guest script re-images (stage 2, seconds) without a new debootstrap.
 * @module
 */
import { GUEST_INIT, SSHD_CONF, WEB_INITD } from "./guest_scripts.ts";
import {
  MODPROBE_BLACKLIST,
  SYSTEMD_DROPINS,
  SYSTEMD_MANAGER_CONF,
  SYSTEMD_MASKED,
  SYSTEMD_SETUP_SH,
  SYSTEMD_UNITS,
} from "./guest_systemd.ts";
import { buildInitramfs, INITRAMFS_MODULES } from "./initramfs.ts";
import { INITRAMFS_INIT } from "./guest_scripts.ts";
import { debianMirror, SUITE } from "./mirror.ts";
import { exists, inChroot, readIf, removeIf, run, secondsSince, VmlabError } from "./util.ts";

/** Packages of every guest (besides minbase and kmod). */
export const GUEST_PACKAGES = [
  "ipvsadm",
  "keepalived",
  "openssh-server",
  "sudo",
  "curl",
  "iproute2",
  "iptables",
  "iptables-persistent",
  "busybox",
  "procps",
  "iputils-ping",
  "tcpdump",
  // systemd guests (`vmlab up --init systemd`); the bash-init guests never start them
  "systemd",
  "systemd-sysv",
  "udev",
  "dbus",
  "netplan.io",
];

/** Kernel module directories kept under `kernel/drivers/` (everything else there is removed). */
const KEEP_DRIVERS =
  "^\\./(virtio/|block/virtio_blk|net/(virtio_net|net_failover|dummy|veth)|char/virtio_console|char/hw_random/virtio-rng)";

/** Non-root sudo user of every guest (lab key, passwordless sudo). */
export const GUEST_USER = "deploy";

const BASE_VERSION = 2;
const IMAGE_VERSION = 2;

/** A built image, as recorded in `image/image.json`. */
export interface VmImage {
  /** Directory holding the files below. */
  dir: string;
  /** ext4 root file system (read-only backing file of the guests' overlays). */
  rootfs: string;
  /** Uncompressed kernel (ELF with a PVH entry). */
  vmlinux: string;
  /** Shared initramfs (newc cpio, uncompressed). */
  initrd: string;
  /** Kernel release, e.g. `6.1.0-50-amd64`. */
  kernelVersion: string;
  /** Mirror the base was debootstrap'd from. */
  mirror: string;
  /** Recipe hash of the image. */
  recipe: string;
  /** When it was built (ISO time). */
  builtAt: string;
  /** uid and gid of {@link GUEST_USER} in the image. */
  userIds: [number, number];
}

/** What {@link vmBuild} did. */
export interface BuildResult {
  /** The image. */
  image: VmImage;
  /** Seconds the base stage took (0: cached). */
  baseSeconds: number;
  /** Seconds the image stage took (0: cached). */
  imageSeconds: number;
  /** Nothing was built. */
  cached: boolean;
}

/** Options of {@link vmBuild}. */
export interface BuildOptions {
  /** Cache directory (default env `HAPLAY_VMLAB_CACHE` or `/var/cache/haplay/vmlab`). */
  cacheDir?: string;
  /** Rebuild both stages even when cached. */
  force?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** Default cache directory. */
export function defaultCacheDir(): string {
  return Deno.env.get("HAPLAY_VMLAB_CACHE") || "/var/cache/haplay/vmlab";
}

async function sha(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 16);
}

/** Recipe hash of the base stage. */
export function baseRecipe(): Promise<string> {
  return sha(JSON.stringify({ BASE_VERSION, SUITE, GUEST_PACKAGES, KEEP: KEEP_DRIVERS }));
}

/** Recipe hash of the image stage (includes the base's). */
export async function imageRecipe(): Promise<string> {
  return sha(JSON.stringify({
    base: await baseRecipe(),
    IMAGE_VERSION,
    GUEST_INIT,
    WEB_INITD,
    SSHD_CONF,
    INITRAMFS_INIT,
    INITRAMFS_MODULES,
    GUEST_USER,
    SYSTEMD_UNITS,
    SYSTEMD_DROPINS,
    SYSTEMD_MANAGER_CONF,
    SYSTEMD_MASKED,
    SYSTEMD_SETUP_SH,
    MODPROBE_BLACKLIST,
  }));
}

/** Reads a stage's JSON record, if its recipe matches. */
async function stageRecord<T extends { recipe: string }>(
  file: string,
  recipe: string,
): Promise<T | undefined> {
  const t = await readIf(file);
  if (!t) return undefined;
  try {
    const r = JSON.parse(t) as T;
    return r.recipe === recipe ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The cached image, when present and current (no build). */
export async function cachedImage(cacheDir = defaultCacheDir()): Promise<VmImage | undefined> {
  const img = await stageRecord<VmImage>(`${cacheDir}/image/image.json`, await imageRecipe());
  if (!img) return undefined;
  for (const f of [img.rootfs, img.vmlinux, img.initrd]) if (!(await exists(f))) return undefined;
  return img;
}

const INSTALL_SH = `set -e
export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
printf '%s\\n' 'iptables-persistent iptables-persistent/autosave_v4 boolean false' \\
  'iptables-persistent iptables-persistent/autosave_v6 boolean false' | debconf-set-selections
apt-get install -y -q --no-install-recommends "$@" >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log >&2; exit 1; }
K=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$K" ] || { echo "no kernel package behind linux-image-amd64" >&2; exit 1; }
rm -rf /tmp/kernel && mkdir /tmp/kernel && cd /tmp/kernel
apt-get download "$K" >/tmp/apt.log 2>&1 || { tail -5 /tmp/apt.log >&2; exit 1; }
dpkg-deb -x ./*.deb x
rm -f ./*.deb /tmp/apt.log
apt-get clean
`;

/** Stage 1 into `dir` (a fresh directory). Returns the kernel release. */
async function buildBase(dir: string, mirror: string, log: (l: string) => void): Promise<string> {
  const root = `${dir}/rootfs`;
  log(`debootstrap ${SUITE} minbase from ${mirror}`);
  // own mount namespace: whatever debootstrap mounts goes away with it, even on failure
  await run("unshare", [
    "--mount",
    "--propagation",
    "private",
    "--",
    "debootstrap",
    "--variant=minbase",
    "--include=kmod",
    SUITE,
    root,
    mirror,
  ]);
  log(`apt-get install ${GUEST_PACKAGES.join(" ")} + linux-image-amd64 (unpacked)`);
  await inChroot(root, ["/bin/sh", "-s", "--", ...GUEST_PACKAGES], { stdin: INSTALL_SH });
  // the kernel package's files, moved in by hand: unpacking it over the root would replace the
  // merged-/usr symlinks (/lib -> usr/lib) with directories
  const kx = `${root}/tmp/kernel/x`;
  const kvers: string[] = [];
  for await (const e of Deno.readDir(`${kx}/lib/modules`)) kvers.push(e.name);
  if (kvers.length !== 1) throw new VmlabError(`expected one kernel, got ${kvers.join(" ")}`);
  const kver = kvers[0];
  await Deno.mkdir(`${root}/usr/lib/modules`, { recursive: true });
  await Deno.rename(`${kx}/lib/modules/${kver}`, `${root}/usr/lib/modules/${kver}`);
  for await (const e of Deno.readDir(`${kx}/boot`)) {
    await Deno.rename(`${kx}/boot/${e.name}`, `${root}/boot/${e.name}`);
  }
  await removeIf(`${root}/tmp/kernel`, true);
  log(`trim modules of ${kver}, depmod`);
  const kdir = `${root}/usr/lib/modules/${kver}/kernel`;
  await removeIf(`${kdir}/sound`, true);
  await run("/bin/sh", [
    "-c",
    `cd "$1" && find . -name '*.ko*' | grep -vE "$2" | xargs -r rm -f && find . -type d -empty -delete`,
    "sh",
    `${kdir}/drivers`,
    KEEP_DRIVERS,
  ]);
  await inChroot(root, ["depmod", kver]);
  return kver;
}

async function putFile(path: string, data: string, mode = 0o644) {
  await removeIf(path);
  await Deno.writeTextFile(path, data, { mode });
  await Deno.chmod(path, mode);
}

/** Stage 2: the guest setup inside `root` (a copy of the base). Returns the user's ids. */
async function customize(root: string): Promise<[number, number]> {
  for await (const e of Deno.readDir(`${root}/etc/ssh`)) {
    if (e.name.startsWith("ssh_host_")) await Deno.remove(`${root}/etc/ssh/${e.name}`);
  }
  await putFile(`${root}/etc/ssh/sshd_config.d/00-vmlab.conf`, SSHD_CONF);
  await removeIf(`${root}/usr/sbin/policy-rc.d`); // a real host: dpkg starts what it installs
  await putFile(`${root}/etc/resolv.conf`, "# haplay vmlab guest: no DNS\n");
  await putFile(`${root}/etc/hostname`, "vmlab\n");
  await removeIf(`${root}/etc/machine-id`); // per guest, from the initramfs
  await putFile(`${root}/usr/local/sbin/vmlab-init`, GUEST_INIT, 0o755);
  await putFile(`${root}/etc/init.d/vmlab-web`, WEB_INITD, 0o755);
  await putFile(`${root}/etc/modprobe.d/vmlab.conf`, MODPROBE_BLACKLIST);
  for (const [name, text] of Object.entries(SYSTEMD_UNITS)) {
    await putFile(`${root}/etc/systemd/system/${name}`, text);
  }
  await Deno.mkdir(`${root}/etc/systemd/system.conf.d`, { recursive: true });
  await putFile(`${root}/etc/systemd/system.conf.d/vmlab-slow-guest.conf`, SYSTEMD_MANAGER_CONF);
  for (const [name, text] of Object.entries(SYSTEMD_DROPINS)) {
    await Deno.mkdir(`${root}/etc/systemd/system/${name.split("/")[0]}`, { recursive: true });
    await putFile(`${root}/etc/systemd/system/${name}`, text);
  }
  await Deno.mkdir(`${root}/etc/vmlab`, { recursive: true });
  await putFile(`${root}/etc/vmlab/links`, "");
  await putFile(`${root}/etc/vmlab/net`, "link set lo up\n");
  await putFile(
    `${root}/etc/sudoers.d/vmlab-${GUEST_USER}`,
    `${GUEST_USER} ALL=(ALL) NOPASSWD:ALL\n`,
    0o440,
  );
  const sh = [
    "set -e",
    `useradd -m -s /bin/bash -G sudo ${GUEST_USER}`,
    `usermod -p '*' ${GUEST_USER}`,
    `install -d -m 700 /root/.ssh`,
    `install -d -m 700 -o ${GUEST_USER} -g ${GUEST_USER} /home/${GUEST_USER}/.ssh`,
    "update-rc.d vmlab-web defaults >/dev/null",
    SYSTEMD_SETUP_SH,
    "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log",
    "mkdir -p /var/lib/apt/lists/partial",
  ].join("\n");
  await inChroot(root, ["/bin/sh", "-s"], { stdin: sh });
  const pw = (await Deno.readTextFile(`${root}/etc/passwd`)).split("\n")
    .map((l) => l.split(":")).find((f) => f[0] === GUEST_USER);
  if (!pw) throw new VmlabError(`user ${GUEST_USER} missing in the image`);
  return [Number(pw[2]), Number(pw[3])];
}

/** Extracts the uncompressed kernel (ELF) from a bzImage whose payload is xz. */
async function extractVmlinux(bzImage: string, out: string) {
  const data = await Deno.readFile(bzImage);
  const magic = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
  let off = -1;
  for (let i = 0; i + 6 <= data.length && off < 0; i++) {
    if (magic.every((b, k) => data[i + k] === b)) off = i;
  }
  if (off < 0) throw new VmlabError(`${bzImage}: no xz payload`);
  await Deno.writeFile(`${out}.xz`, data.subarray(off));
  // --single-stream: the payload is followed by padding and other data
  await run("/bin/sh", ["-c", 'xz -dc --single-stream < "$1" > "$2"', "sh", `${out}.xz`, out]);
  await Deno.remove(`${out}.xz`);
  const head = (await Deno.readFile(out)).subarray(0, 4);
  if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
    throw new VmlabError(`${out}: extracted kernel is not an ELF file`);
  }
}

/** Stage 2 into `dir` from the base root `baseRoot`. */
async function buildImage(
  dir: string,
  baseRoot: string,
  kver: string,
  log: (l: string) => void,
): Promise<[number, number]> {
  const root = `${dir}/root`;
  log("image: copy base, guest setup");
  await run("cp", ["-a", "--reflink=auto", baseRoot, root]);
  const ids = await customize(root);
  log("image: initramfs, vmlinux");
  await Deno.writeFile(`${dir}/initrd.cpio`, await buildInitramfs(root, kver));
  await extractVmlinux(`${root}/boot/vmlinuz-${kver}`, `${dir}/vmlinux`);
  log("image: mkfs.ext4 rootfs.img");
  const used = Number((await run("du", ["-sm", root])).stdout.split(/\s/)[0]);
  const size = Math.max(2048, Math.ceil(used * 2 / 256) * 256);
  await run("truncate", ["-s", `${size}M`, `${dir}/rootfs.img`]);
  await run("mkfs.ext4", ["-q", "-F", "-L", "vmlab-root", "-d", root, `${dir}/rootfs.img`]);
  await removeIf(root, true);
  return ids;
}

/**
 * Builds what is missing or out of date (or everything with `force`), under an exclusive lock
 * of the cache directory. Needs root, debootstrap, xz and mkfs.ext4.
 */
export async function vmBuild(o: BuildOptions = {}): Promise<BuildResult> {
  const log = o.log ?? ((l: string) => console.error(`[vmlab build] ${l}`));
  const cache = o.cacheDir ?? defaultCacheDir();
  await Deno.mkdir(cache, { recursive: true, mode: 0o755 });
  const lock = await Deno.open(`${cache}/.lock`, { create: true, write: true });
  try {
    await lock.lock(true);
    const bRecipe = await baseRecipe();
    const iRecipe = await imageRecipe();
    let baseSeconds = 0, imageSeconds = 0;
    type BaseRec = { recipe: string; kernelVersion: string; mirror: string; builtAt: string };
    let base = o.force ? undefined : await stageRecord<BaseRec>(`${cache}/base/base.json`, bRecipe);
    if (base && !(await exists(`${cache}/base/rootfs/usr/sbin/ipvsadm`))) base = undefined;
    if (!base) {
      const t0 = performance.now();
      const mirror = await debianMirror();
      const work = `${cache}/base.work`;
      await removeIf(work, true);
      await Deno.mkdir(work);
      const kver = await buildBase(work, mirror, log);
      base = { recipe: bRecipe, kernelVersion: kver, mirror, builtAt: new Date().toISOString() };
      await Deno.writeTextFile(`${work}/base.json`, JSON.stringify(base, null, 2) + "\n");
      await removeIf(`${cache}/base`, true);
      await Deno.rename(work, `${cache}/base`);
      baseSeconds = secondsSince(t0);
      log(`base done in ${baseSeconds} s`);
    }
    let image = o.force || baseSeconds ? undefined : await cachedImage(cache);
    if (!image) {
      const t0 = performance.now();
      const work = `${cache}/image.work`;
      await removeIf(work, true);
      await Deno.mkdir(work);
      const userIds = await buildImage(work, `${cache}/base/rootfs`, base.kernelVersion, log);
      const dir = `${cache}/image`;
      image = {
        dir,
        rootfs: `${dir}/rootfs.img`,
        vmlinux: `${dir}/vmlinux`,
        initrd: `${dir}/initrd.cpio`,
        kernelVersion: base.kernelVersion,
        mirror: base.mirror,
        recipe: iRecipe,
        builtAt: new Date().toISOString(),
        userIds,
      };
      await Deno.writeTextFile(`${work}/image.json`, JSON.stringify(image, null, 2) + "\n");
      // running guests keep their open backing file: replacing the directory is safe for them
      await removeIf(`${dir}.old`, true);
      if (await exists(dir)) await Deno.rename(dir, `${dir}.old`);
      await Deno.rename(work, dir);
      await removeIf(`${dir}.old`, true);
      imageSeconds = secondsSince(t0);
      log(`image done in ${imageSeconds} s`);
    }
    return { image, baseSeconds, imageSeconds, cached: !baseSeconds && !imageSeconds };
  } finally {
    lock.close();
  }
}
