/**
 * OpenSSH `known_hosts` parsing and host key verification.
 * Supports plain and hashed (`|1|salt|hash`) host patterns, `[host]:port`, wildcards and
 * negation, and skips `@cert-authority` lines; `@revoked` keys are always refused.
 *
 * Lookup order (see {@link hostKeyNames}): the address actually connected to, then the host
 * name connected to (or ssh_config's HostKeyAlias), as OpenSSH does with CheckHostIP=yes;
 * haplay's own names (inventory name, ssh_config alias) only when none of those has a key on
 * record, since OpenSSH never looks them up. A key that is contradicted under any name looked
 * up (a different key of the same type) is refused, wherever else it matches; a key marked
 * `@revoked` under any of the names is refused.
 * @module
 */
import { createHmac } from "node:crypto";

/** One key line of a known_hosts file. */
export interface KnownKey {
  patterns: string[];
  type: string;
  key: string;
  revoked: boolean;
  /** 1-based line number in its file. */
  line: number;
}

/** Result of checking a presented host key. */
export type HostKeyVerdict = "match" | "unknown" | "mismatch" | "revoked";

/** A verdict with where it was decided. */
export interface HostKeyCheck {
  verdict: HostKeyVerdict;
  /** The known_hosts name (`host`, `[host]:port`) the verdict was decided under. */
  name?: string;
  /** The known_hosts line that decided it (the offending one for mismatch/revoked). */
  line?: number;
}

/** Parse known_hosts text (comments and blank lines ignored). */
export function parseKnownHosts(text: string): KnownKey[] {
  const out: KnownKey[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const f = line.split(/\s+/);
    let revoked = false;
    if (f[0].startsWith("@")) {
      if (f[0] === "@revoked") revoked = true;
      else return;
      f.shift();
    }
    if (f.length < 3) return;
    out.push({ patterns: f[0].split(","), type: f[1], key: f[2], revoked, line: i + 1 });
  });
  return out;
}

/** The known_hosts form of a host at a port: `host`, or `[host]:port` off port 22. */
export function hostId(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

const globs = new Map<string, RegExp>();

function globMatch(pattern: string, text: string): boolean {
  let re = globs.get(pattern);
  if (!re) {
    const src = "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")
      .replace(/\?/g, ".") +
      "$";
    re = new RegExp(src, "i");
    if (globs.size > 10_000) globs.clear();
    globs.set(pattern, re);
  }
  return re.test(text);
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

/** A plain name pattern: matched by case-insensitive equality (no wildcard, negation, hash). */
function isLiteral(p: string): boolean {
  return !p.startsWith("|1|") && !p.startsWith("!") && !/[*?]/.test(p);
}

/**
 * A lookup index of a parsed file, built once per array: keys whose patterns are all plain
 * names by lower-cased name, the others (wildcards, negations, hashed names) in a list that
 * every lookup still scans, and per looked-up id the answer. A file with a line per host makes
 * lookups O(1) instead of O(lines): 1,000 hosts, 2,000 lines, used to cost O(n²) pattern
 * matches (a RegExp built for each) in a run.
 */
interface KeyIndex {
  byName: Map<string, KnownKey[]>;
  other: KnownKey[];
  memo: Map<string, KnownKey[]>;
}
const indexes = new WeakMap<KnownKey[], KeyIndex>();

function indexOf(keys: KnownKey[]): KeyIndex {
  let ix = indexes.get(keys);
  if (ix) return ix;
  ix = { byName: new Map(), other: [], memo: new Map() };
  for (const k of keys) {
    if (!k.patterns.every(isLiteral)) {
      ix.other.push(k);
      continue;
    }
    for (const p of new Set(k.patterns.map((x) => x.toLowerCase()))) {
      const l = ix.byName.get(p);
      if (l) l.push(k);
      else ix.byName.set(p, [k]);
    }
  }
  indexes.set(keys, ix);
  return ix;
}

function keysForId(keys: KnownKey[], id: string): KnownKey[] {
  const ix = indexOf(keys);
  let hit = ix.memo.get(id);
  if (hit) return hit;
  hit = [
    ...(ix.byName.get(id.toLowerCase()) ?? []),
    ...ix.other.filter((k) => patternMatches(k.patterns, id)),
  ].sort((a, b) => a.line - b.line);
  if (ix.memo.size > 100_000) ix.memo.clear();
  ix.memo.set(id, hit);
  return hit;
}

/** Keys recorded for any of `names` (addresses or aliases) at `port`. */
export function keysFor(keys: KnownKey[], names: string[], port: number): KnownKey[] {
  return keysForIds(keys, names.map((n) => hostId(n, port)));
}

/**
 * Keys recorded under any of the known_hosts names `ids` (already `[host]:port` formed), in
 * file order. The array must not be changed after its first lookup (it is indexed).
 */
export function keysForIds(keys: KnownKey[], ids: string[]): KnownKey[] {
  if (ids.length === 1) return keysForId(keys, ids[0]);
  return [...new Set(ids.flatMap((id) => keysForId(keys, id)))].sort((a, b) => a.line - b.line);
}

/** What a connection is known as, for {@link hostKeyNames}. */
export interface HostKeyLookup {
  /** Numeric address the TCP connection went to (absent through a jump host). */
  address?: string;
  /** Host name connected to (ssh_config HostName, or the inventory's ansible_host). */
  hostName: string;
  /** ssh_config HostKeyAlias: replaces the host name, used verbatim (no port). */
  hostKeyAlias?: string;
  /** haplay's own names: inventory name, ssh_config alias. */
  names: string[];
  port: number;
}

/**
 * The known_hosts names to look up, as tiers in order. Tier 1 is what OpenSSH looks up with
 * CheckHostIP=yes: the address (`[addr]:port` off port 22), then the host name or HostKeyAlias.
 * Tier 2 (haplay's names) is consulted only when tier 1 has no key on record.
 */
export function hostKeyNames(o: HostKeyLookup): string[][] {
  const first = [
    ...(o.address ? [hostId(o.address, o.port)] : []),
    o.hostKeyAlias ?? hostId(o.hostName, o.port),
  ];
  const tier1 = [...new Set(first)];
  const tier2 = [...new Set(o.names.map((n) => hostId(n, o.port)))].filter((n) =>
    !tier1.includes(n)
  );
  return tier2.length ? [tier1, tier2] : [tier1];
}

/** The tier whose keys decide (the first with any key on record), or undefined. */
export function decidingKeys(keys: KnownKey[], tiers: string[][]): KnownKey[] {
  for (const ids of tiers) {
    const mine = keysForIds(keys, ids);
    if (mine.length) return mine;
  }
  return [];
}

/**
 * Check a presented key (raw SSH wire blob) against the tiers of names of
 * {@link hostKeyNames}: `@revoked` under any name of any tier wins; then the first tier with
 * any key on record decides: a different key of the same type under any of its names (and no
 * match under that name) is a mismatch, else a match under any of its names is a match.
 */
export function checkHostKey(
  keys: KnownKey[],
  tiers: string[][],
  presented: Uint8Array,
): HostKeyCheck {
  const b64 = Buffer.from(presented).toString("base64");
  const type = keyType(presented);
  // A revoked key is refused under whichever of the names it is revoked, every tier included.
  for (const id of tiers.flat()) {
    const r = keysForIds(keys, [id]).find((k) => k.revoked && k.key === b64);
    if (r) return { verdict: "revoked", name: id, line: r.line };
  }
  for (const ids of tiers) {
    if (!keysForIds(keys, ids).length) continue;
    const per = ids.map((id) => {
      const mine = keysForIds(keys, [id]);
      const match = mine.find((k) => !k.revoked && k.key === b64);
      const other = mine.find((k) => !k.revoked && k.type === type && k.key !== b64);
      return { id, match, other };
    });
    // Within one name a matching line wins over another line of the same type (key rotation,
    // several lines), as in OpenSSH; across names, any contradiction is a mismatch.
    const m = per.find((p) => p.other && !p.match);
    if (m) return { verdict: "mismatch", name: m.id, line: m.other!.line };
    const ok = per.find((p) => p.match);
    if (ok) return { verdict: "match", name: ok.id, line: ok.match!.line };
    return { verdict: "unknown" };
  }
  return { verdict: "unknown" };
}

/** Decide whether a presented key (raw SSH wire blob) is the recorded one for `names`. */
export function verifyHostKey(
  keys: KnownKey[],
  names: string[],
  port: number,
  presented: Uint8Array,
): HostKeyVerdict {
  return checkHostKey(keys, [names.map((n) => hostId(n, port))], presented).verdict;
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
