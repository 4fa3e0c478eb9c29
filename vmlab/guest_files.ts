/**
 * Per-guest files, delivered as a second cpio archive appended to the shared initramfs (the
 * initramfs copies them into the guest's root before switching to it): host name, addresses,
 * the guest's OWN SSH host keys (made here, so `known_hosts` is written before any boot), the
 * lab key in root's and `deploy`'s authorized_keys.
 * @module
 */
import { cpioArchive, type CpioEntry, parentsOf } from "./cpio.ts";
import { GUEST_USER } from "./build.ts";
import { type GuestSpec, macFor, netBatch, netplanGuest } from "./topology.ts";
import { keygen } from "./util.ts";

/** What {@link guestArchive} needs to know about the lab. */
export interface GuestContext {
  /** The guest's management address. */
  mgmtIp: string;
  /** Every guest with its management address (for /etc/hosts). */
  all: Array<{ spec: GuestSpec; mgmtIp: string }>;
  /** Public lab key (authorized_keys line). */
  publicKey: string;
  /** uid/gid of the image's sudo user. */
  userIds: [number, number];
  /** Scratch directory for ssh-keygen. */
  tmpDir: string;
  /** PID 1 the guest boots (`systemd`: its NICs come from a netplan file; default `bash`). */
  init?: "bash" | "systemd";
}

/** Result of {@link guestArchive}: the cpio and the guest's known_hosts lines. */
export interface GuestArchive {
  cpio: Uint8Array;
  knownHosts: string[];
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The archive of guest `g` (paths under `guest/`). */
export async function guestArchive(g: GuestSpec, c: GuestContext): Promise<GuestArchive> {
  const files: Array<
    { path: string; data: string | Uint8Array; mode?: number; ids?: [number, number] }
  > = [];
  const known: string[] = [];
  for (const t of ["ed25519", "ecdsa"] as const) {
    const f = `${c.tmpDir}/${g.name}_${t}`;
    const pub = await keygen(t, f, `root@${g.name}`);
    files.push({ path: `etc/ssh/ssh_host_${t}_key`, data: await Deno.readFile(f), mode: 0o600 });
    files.push({ path: `etc/ssh/ssh_host_${t}_key.pub`, data: pub });
    const [type, key] = pub.trim().split(/\s+/);
    known.push(`${g.name},${c.mgmtIp} ${type} ${key}`);
    await Deno.remove(f);
    await Deno.remove(`${f}.pub`);
  }
  const hosts = [
    "127.0.0.1 localhost",
    ...c.all.map((x) => `${x.spec.data.split("/")[0]} ${x.spec.name}`),
  ];
  files.push(
    { path: "etc/hostname", data: `${g.name}\n` },
    { path: "etc/hosts", data: hosts.join("\n") + "\n" },
    {
      path: "etc/machine-id",
      data: hex(crypto.getRandomValues(new Uint8Array(16))) + "\n",
      mode: 0o444,
    },
    {
      path: "etc/vmlab/links",
      data: `${macFor(g.data, 0)} eth0\n${macFor(c.mgmtIp, 1)} eth1\n`,
    },
    { path: "etc/vmlab/net", data: netBatch(g, c.mgmtIp) },
    { path: "etc/vmlab/web-ports", data: g.webPorts.join(" ") + "\n" },
    ...(c.init === "systemd"
      ? [{ path: "etc/netplan/00-vmlab.yaml", data: netplanGuest(g, c.mgmtIp), mode: 0o600 }]
      : []),
    { path: "root/.ssh/authorized_keys", data: c.publicKey, mode: 0o600 },
    {
      path: `home/${GUEST_USER}/.ssh/authorized_keys`,
      data: c.publicKey,
      mode: 0o600,
      ids: c.userIds,
    },
  );
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  for (const f of files) {
    const path = `guest/${f.path}`;
    for (const d of parentsOf(path)) {
      if (!dirs.has(d)) entries.push({ type: "dir", path: d });
      dirs.add(d);
    }
    entries.push({
      type: "file",
      path,
      data: f.data,
      mode: f.mode ?? 0o644,
      uid: f.ids?.[0] ?? 0,
      gid: f.ids?.[1] ?? 0,
    });
  }
  return { cpio: cpioArchive(entries, Math.floor(Date.now() / 1000)), knownHosts: known };
}
