/**
 * A lab's state on this machine: the record in `<dir>/lab.json`, the state directory and its
 * safety check, the per-name lock, the names every lab object is derived from.
 * @module
 */

import type { Lab, LabRecord } from "./types.ts";
import { LabError, readIf } from "./util.ts";

/** Non-root user created on every host (passwordless sudo, lab key). */
export const LAB_USER = "deploy";
/** Maximum number of hosts of one lab (1,000 need a /22: a /24 holds 244). */
export const MAX_HOSTS = 1000;
/** Port of the lab apt repository on the bridge address. */
export const APT_PORT = 8080;
/** A valid lab name (it prefixes interface names, limited to 15 characters). */
export const NAME_RE = /^[a-z][a-z0-9]{0,6}$/;

/** Default parent of lab state directories: env `HAPLAY_LAB_DIR` or `/tmp/haplay-lab`. */
export function defaultStateDir(): string {
  return Deno.env.get("HAPLAY_LAB_DIR") || "/tmp/haplay-lab";
}

/** Throw unless `name` is a valid lab name. */
export function checkName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new LabError(`lab name must match [a-z][a-z0-9]{0,6}, got '${name}'`);
  }
}

/**
 * `198.18.X.0/24` -> `198.18.X` (the /24 prefix); throws outside 198.18.0.0/15 or for other
 * prefix lengths (labs take /20../24: `lab/_addr.ts`).
 */
export function subnetPrefix(subnet: string): string {
  const m = subnet.match(/^(198\.1[89]\.(\d{1,3}))\.0\/24$/);
  if (!m || Number(m[2]) > 255 || (m[2].length > 1 && m[2].startsWith("0"))) {
    throw new LabError(`subnet must be 198.18.X.0/24 or 198.19.X.0/24, got '${subnet}'`);
  }
  return m[1];
}

/** The state directory of lab `name` (absolute). */
export function labDir(name: string, stateDir?: string): string {
  const base = (stateDir ?? defaultStateDir()).replace(/\/+$/, "") || "/";
  if (!base.startsWith("/")) return `${Deno.cwd()}/${base}/${name}`;
  return `${base}/${name}`;
}

/** Names of the bridge, netns and veths of a lab: everything the lab creates derives from them. */
export const names = {
  bridge: (lab: string) => `${lab}br`,
  netns: (lab: string, i: number) => `${lab}-h${i}`,
  veth: (lab: string, i: number) => `${lab}h${i}`,
};

/** Write `lab.json` atomically (temp file + rename). */
export async function writeRecord(rec: LabRecord) {
  const tmp = `${rec.dir}/lab.json.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(rec, null, 2) + "\n");
  await Deno.rename(tmp, `${rec.dir}/lab.json`);
}

/** The record in `<dir>/lab.json`, or undefined when missing or unreadable. */
export async function readRecord(dir: string): Promise<LabRecord | undefined> {
  const text = await readIf(`${dir}/lab.json`);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as LabRecord;
  } catch {
    return undefined;
  }
}

/** A PID from a pid file, or undefined when missing or not a number. */
export async function readPid(path: string): Promise<number | undefined> {
  const t = (await readIf(path))?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
}

/** The public {@link Lab} fields of a record. */
export function publicLab(rec: LabRecord): Lab {
  const lab: Lab = {
    name: rec.name,
    dir: rec.dir,
    subnet: rec.subnet,
    bridgeIp: rec.bridgeIp,
    hosts: rec.hosts.map((h) => ({ ...h })),
    keyFile: rec.keyFile,
    knownHosts: rec.knownHosts,
    sshConfig: rec.sshConfig,
    inventory: rec.inventory,
  };
  if (rec.aptRepoUrl) lab.aptRepoUrl = rec.aptRepoUrl;
  return lab;
}

/** The parent of lab state dirs; created (when `create`) and checked to be safe. */
export async function stateParent(stateDir: string | undefined, create: boolean): Promise<string> {
  const parent = labDir("", stateDir).replace(/\/$/, "") || "/";
  if (create) await Deno.mkdir(parent, { recursive: true, mode: 0o755 });
  // the default lives in /tmp: refuse a directory another user could have prepared for us
  const pst = await Deno.lstat(parent);
  if (!pst.isDirectory || pst.uid !== 0 || ((pst.mode ?? 0) & 0o022) !== 0) {
    throw new LabError(
      `state directory ${parent} must be a real directory owned by root, not group/world-writable`,
    );
  }
  return parent;
}

/**
 * Run `fn` holding an exclusive lock on `<parent>/.<name>.lock`: up and down of one lab name
 * never interleave, even from different processes (they wait for each other).
 */
export async function withNameLock<T>(
  parent: string,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  const file = await Deno.open(`${parent}/.${name}.lock`, { create: true, write: true });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close(); // releases the lock
  }
}
