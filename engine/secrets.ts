/**
 * Secrets by reference: `!env NAME` and `!file PATH` in inventories, and the redactor that keeps
 * every resolved secret out of logs, diffs, reports and error messages.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";

/** What a redacted secret is replaced by. */
export const MASK = "********";

/** Base64 of a secret shorter than this (after trimming unstable edges) is not redacted. */
const MIN_B64_FRAGMENT = 6;

/**
 * Replaces registered secrets in text. Besides the plain value it redacts the value's base64
 * forms: the standalone encoding (with padding) and, for each of the 3 byte alignments a secret
 * can have inside a longer base64 stream, the characters that depend on the secret's bytes only.
 */
export class Redactor {
  private secrets = new Set<string>();
  private needles = new Set<string>();
  private pattern: RegExp | null = null;

  /** Registers a secret (empty strings are ignored). */
  register(secret: string): void {
    if (secret === "" || this.secrets.has(secret)) return;
    this.secrets.add(secret);
    this.needles.add(secret);
    for (const f of base64Forms(secret)) this.needles.add(f);
    this.pattern = null;
  }

  /** Returns `text` with every registered secret (plain or base64) replaced by `********`. */
  redact(text: string): string {
    if (this.secrets.size === 0 || text === "") return text;
    if (!this.pattern) {
      const sorted = [...this.needles].sort((a, b) => b.length - a.length);
      this.pattern = new RegExp(sorted.map(escapeRegExp).join("|"), "g");
    }
    return text.replace(this.pattern, MASK);
  }

  /** Number of distinct secrets registered. */
  get size(): number {
    return this.secrets.size;
  }
}

/** The process-wide redactor: everything resolved by the inventory loader is registered here. */
export const redactor: Redactor = new Redactor();

/**
 * A resolved secret. Stringifies (and serializes to JSON) as `********`, so it cannot leak by
 * accident; read `.value` to use it.
 */
export class Secret {
  /**
   * Wraps a resolved value.
   * @param value the secret itself
   * @param ref where it came from: `env:NAME` or `file:path`
   */
  constructor(readonly value: string, readonly ref: string) {}

  /** Always `********`. */
  toString(): string {
    return MASK;
  }

  /** Always `********`. */
  toJSON(): string {
    return MASK;
  }

  /** What `console.log` and `Deno.inspect` show. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Secret(${this.ref})`;
  }
}

/** Raised when a secret reference cannot be resolved; the message is plain words, no position. */
export class SecretRefError extends Error {
  /**
   * Creates the error.
   * @param message what went wrong, e.g. "environment variable DB_PASS is not set"
   */
  constructor(message: string) {
    super(message);
    this.name = "SecretRefError";
  }
}

/** Options for {@link resolveSecretRef}. */
export interface ResolveOptions {
  /** Environment to read `!env` from (default: the process environment). */
  env?: Record<string, string | undefined>;
  /** Directory relative `!file` paths are resolved against. */
  baseDir: string;
  /** Redactor the resolved value is registered with (default: {@link redactor}). */
  redactor?: Redactor;
}

/**
 * Resolves `!env NAME` or `!file PATH` to a {@link Secret} and registers its value with the
 * redactor. A file's single trailing newline is dropped. Throws {@link SecretRefError}.
 */
export async function resolveSecretRef(
  kind: "env" | "file",
  arg: string,
  opts: ResolveOptions,
): Promise<Secret> {
  const name = arg.trim();
  let value: string;
  if (kind === "env") {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new SecretRefError(`!env needs an environment variable name, got '${arg}'`);
    }
    const v = opts.env ? opts.env[name] : Deno.env.get(name);
    if (v === undefined) throw new SecretRefError(`environment variable ${name} is not set`);
    value = v;
  } else {
    if (name === "") throw new SecretRefError("!file needs a path");
    const full = isAbsolute(name) ? name : join(opts.baseDir, name);
    try {
      value = (await Deno.readTextFile(full)).replace(/\r?\n$/, "");
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
      throw new SecretRefError(`cannot read secret file '${name}': ${why}`);
    }
  }
  (opts.redactor ?? redactor).register(value);
  return new Secret(value, `${kind}:${name}`);
}

/**
 * True for variable names that hold secrets and so must be given by reference:
 * `*password*`, `*_pass`, `auth_pass`, `*secret*`, `*token*` (case-insensitive).
 */
export function isSecretLikeKey(key: string): boolean {
  const k = key.toLowerCase();
  return k.includes("password") || k.endsWith("_pass") || k === "auth_pass" ||
    k.includes("secret") || k.includes("token");
}

/**
 * The base64 strings that reveal `secret`: its standalone encoding, and for prefix lengths 0, 1, 2
 * the part of the encoding that depends on the secret's bytes alone (edge characters that mix in
 * neighbouring bytes are cut). Fragments shorter than 6 characters are dropped: too likely to
 * appear by chance.
 */
export function base64Forms(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  const n = bytes.length;
  const out = new Set<string>([toBase64(bytes)]);
  for (let k = 0; k < 3; k++) {
    const buf = new Uint8Array(k + n);
    buf.set(bytes, k);
    const enc = toBase64(buf);
    const from = Math.ceil((8 * k) / 6);
    const to = Math.floor((8 * (k + n)) / 6);
    const frag = enc.slice(from, to);
    if (frag.length >= MIN_B64_FRAGMENT) out.add(frag);
  }
  return [...out].filter((f) => f.length >= MIN_B64_FRAGMENT);
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
