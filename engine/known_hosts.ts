/**
 * OpenSSH `known_hosts` parsing and host key verification.
 * Supports plain and hashed (`|1|salt|hash`) host patterns, `[host]:port`, wildcards and
 * negation, and skips `@cert-authority` lines; `@revoked` keys are always refused.
 * @module
 */
import { createHmac } from "node:crypto";

/** One key line of a known_hosts file. */
export interface KnownKey {
  patterns: string[];
  type: string;
  key: string;
  revoked: boolean;
}

/** Result of checking a presented host key. */
export type HostKeyVerdict = "match" | "unknown" | "mismatch" | "revoked";

/** Parse known_hosts text (comments and blank lines ignored). */
export function parseKnownHosts(text: string): KnownKey[] {
  const out: KnownKey[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const f = line.split(/\s+/);
    let revoked = false;
    if (f[0].startsWith("@")) {
      if (f[0] === "@revoked") revoked = true;
      else continue;
      f.shift();
    }
    if (f.length < 3) continue;
    out.push({ patterns: f[0].split(","), type: f[1], key: f[2], revoked });
  }
  return out;
}

function hostId(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, text: string): boolean {
  const re = "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(
    /\?/g,
    ".",
  ) + "$";
  return new RegExp(re, "i").test(text);
}

function patternMatches(patterns: string[], id: string): boolean {
  let hit = false;
  for (const p of patterns) {
    if (p.startsWith("|1|")) {
      const [, , salt, hash] = p.split("|");
      const h = createHmac("sha1", Buffer.from(salt, "base64")).update(id).digest("base64");
      if (h === hash) hit = true;
      continue;
    }
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), id)) return false;
      continue;
    }
    if (globMatch(p, id)) hit = true;
  }
  return hit;
}

/** Keys recorded for any of `names` (addresses or aliases) at `port`. */
export function keysFor(keys: KnownKey[], names: string[], port: number): KnownKey[] {
  const ids = names.map((n) => hostId(n, port));
  return keys.filter((k) => ids.some((id) => patternMatches(k.patterns, id)));
}

/** Decide whether a presented key (raw SSH wire blob) is the recorded one. */
export function verifyHostKey(
  keys: KnownKey[],
  names: string[],
  port: number,
  presented: Uint8Array,
): HostKeyVerdict {
  const mine = keysFor(keys, names, port);
  const b64 = Buffer.from(presented).toString("base64");
  if (mine.some((k) => k.revoked && k.key === b64)) return "revoked";
  if (mine.some((k) => !k.revoked && k.key === b64)) return "match";
  const type = keyType(presented);
  if (mine.some((k) => !k.revoked && k.type === type)) return "mismatch";
  return "unknown";
}

/** The key type name inside an SSH public key blob ("ssh-ed25519", ...). */
export function keyType(blob: Uint8Array): string {
  const len = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0);
  return new TextDecoder().decode(blob.subarray(4, 4 + len));
}

/** SHA256 fingerprint as OpenSSH prints it ("SHA256:..."). */
export async function fingerprint(blob: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(blob)));
  return "SHA256:" + btoa(String.fromCharCode(...d)).replace(/=+$/, "");
}

/** A known_hosts line recording `blob` for `names` at `port`. */
export function knownHostsLine(names: string[], port: number, blob: Uint8Array): string {
  return `${names.map((n) => hostId(n, port)).join(",")} ${keyType(blob)} ${
    Buffer.from(blob).toString("base64")
  }\n`;
}
