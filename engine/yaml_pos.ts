/**
 * YAML parsing that keeps positions.
 *
 * Wraps the `yaml` library's `parseDocument` + `LineCounter` and turns its AST into a small
 * tree ({@link YNode}) where every map, list, scalar and map key carries its 1-based line and
 * column. Aliases are resolved, `<<` merge keys applied, duplicate keys reported. Tags are kept
 * as written (`!env`, `!file`, ...) for the caller to interpret; YAML 1.1 scalars are resolved the
 * way PyYAML (and so Ansible) does: `yes`/`no`/`on`/`off` are booleans, `0644` is octal.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
  type ScalarTag,
} from "yaml";

/** A 1-based position in a source text. */
export interface Loc {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
}

/** A scalar: string, number, boolean or null. */
export interface YScalar {
  /** Discriminator. */
  kind: "scalar";
  /** Where the value starts (the tag, if it has one). */
  loc: Loc;
  /** The resolved value (with core tags applied); the source text for unknown tags. */
  value: unknown;
  /** The scalar's text as written, without quotes. */
  source: string;
  /** Non-core tag as written (`!env`), if any. */
  tag?: string;
}

/** One key of a mapping. */
export interface YEntry {
  /** The key as a string. */
  key: string;
  /** Where the key starts. */
  keyLoc: Loc;
  /** The value node. */
  value: YNode;
}

/** A mapping. Entries keep source order; a duplicate key keeps its last value. */
export interface YMap {
  /** Discriminator. */
  kind: "map";
  /** Where the mapping starts. */
  loc: Loc;
  /** Key/value pairs in source order. */
  entries: YEntry[];
  /** Non-core tag as written, if any. */
  tag?: string;
}

/** A sequence. */
export interface YSeq {
  /** Discriminator. */
  kind: "seq";
  /** Where the sequence starts. */
  loc: Loc;
  /** Items in order. */
  items: YNode[];
  /** Non-core tag as written, if any. */
  tag?: string;
}

/** Any node of the positioned tree. */
export type YNode = YScalar | YMap | YSeq;

/** A problem found while parsing: a syntax error or a duplicate key. */
export interface YamlProblem {
  /** Where. */
  loc: Loc;
  /** Dotted path of the offending node ("" for syntax errors). */
  path: string;
  /** Plain-words message. */
  message: string;
}

/** Result of {@link parseYaml}. */
export interface ParsedYaml {
  /** The document's root, or null for an empty document or when syntax errors were found. */
  root: YNode | null;
  /** Syntax errors (then `root` is null) or structural problems such as duplicate keys. */
  problems: YamlProblem[];
}

const CORE_TAG_PREFIX = "tag:yaml.org,2002:";
const PY_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PY_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;

/** YAML 1.1 tags with PyYAML's booleans (yaml's 1.1 schema also takes `y` and `n`). */
function pyYamlTags(tags: unknown[]): unknown[] {
  return tags.map((t) => {
    const tag = t as ScalarTag;
    if (tag.tag !== `${CORE_TAG_PREFIX}bool`) return t;
    return { ...tag, test: tag.identify?.(true) ? PY_TRUE : PY_FALSE };
  });
}

/** Appends a key or index to a dotted path: `a.b`, `a[0]`. */
export function joinPath(base: string, seg: string | number): string {
  if (typeof seg === "number") return `${base}[${seg}]`;
  if (seg === "") seg = "''";
  return base === "" ? seg : `${base}.${seg}`;
}

/** Parses YAML text into a positioned tree. Never throws on bad input. */
export function parseYaml(text: string): ParsedYaml {
  const lc = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lc,
    prettyErrors: false,
    version: "1.1",
    uniqueKeys: false,
    merge: false,
    customTags: pyYamlTags as never,
  });
  const locOf = (offset: number): Loc => lc.linePos(offset);
  const problems: YamlProblem[] = doc.errors.map((e) => {
    const loc = locOf(e.pos[0]);
    const message = syntaxMessage(e.code, e.message);
    const quote = /^YAML syntax error: missing closing (['"])quote/.exec(message);
    const open = quote ? unclosedQuote(text) : undefined;
    if (!quote || !open) return { loc, path: "", message };
    const end = lc.linePos(text.length);
    const endLine = text.endsWith("\n") ? end.line - 1 : end.line;
    return {
      loc: open,
      path: "",
      message:
        `YAML syntax error: missing closing ${quote[1]} quote: opened at line ${open.line}, ` +
        `still open where the file ends at line ${endLine}`,
    };
  });
  if (problems.length > 0) return { root: null, problems };
  if (doc.contents === null) return { root: null, problems };
  const b = new TreeBuilder(doc, text, locOf, problems);
  return { root: b.build(doc.contents as YamlNode, ""), problems };
}

/**
 * Where the quoted scalar that never closes opens: a `'` or `"` that starts a value (at the start
 * of a line or after `: `, `- `, `[`, `{`, `,`, `? `), not one inside a plain scalar (`it's`) or a
 * comment.
 */
function unclosedQuote(text: string): Loc | undefined {
  let line = 1;
  let col = 0;
  let open: { q: string; loc: Loc } | undefined;
  let prev = ""; // last non-blank character on this line outside quotes
  let prevRaw = "\n";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    col++;
    if (c === "\n") {
      line++;
      col = 0;
    }
    if (open) {
      if (open.q === '"' && c === "\\") {
        i++;
        col++;
      } else if (c === open.q) {
        if (open.q === "'" && text[i + 1] === "'") {
          i++;
          col++;
        } else {
          open = undefined;
          prev = c;
        }
      }
      prevRaw = c;
      continue;
    }
    if (c === "\n") {
      prev = "";
    } else if (c === "#" && (prevRaw === " " || prevRaw === "\t" || prevRaw === "\n")) {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
    } else if (
      (c === "'" || c === '"') && (prev === "" || /[:\-\[{,?]/.test(prev)) &&
      (prev === "" || prev === "[" || prev === "{" || prev === "," || /\s/.test(prevRaw))
    ) {
      open = { q: c, loc: { line, col } };
    } else if (c !== " " && c !== "\t") prev = c;
    prevRaw = c;
  }
  return open?.loc;
}

function syntaxMessage(code: string, message: string): string {
  const m = message.replace(/ at line \d+, column \d+[\s\S]*$/, "");
  const plain = m.charAt(0).toLowerCase() + m.slice(1);
  return code === "TAB_AS_INDENT" ? plain : `YAML syntax error: ${plain}`;
}

/** Most nodes a document may expand to through aliases (guards against "billion laughs"). */
const MAX_NODES = 100_000;

class TreeBuilder {
  private resolving = new Set<YamlNode>();
  private budget = MAX_NODES;

  constructor(
    private doc: Document,
    private text: string,
    private locOf: (offset: number) => Loc,
    private problems: YamlProblem[],
  ) {}

  build(node: YamlNode | null, path: string, fallback?: Loc): YNode {
    if (--this.budget === 0) {
      const loc = node ? this.nodeLoc(node) : fallback ?? { line: 1, col: 1 };
      this.problems.push({
        loc,
        path,
        message: `too many nodes (over ${MAX_NODES}) once aliases are expanded`,
      });
    }
    if (this.budget <= 0) {
      return { kind: "scalar", loc: fallback ?? { line: 1, col: 1 }, value: null, source: "" };
    }
    if (node === null) {
      return { kind: "scalar", loc: fallback ?? { line: 1, col: 1 }, value: null, source: "" };
    }
    if (isAlias(node)) {
      const target = node.resolve(this.doc) as YamlNode | undefined;
      const loc = this.nodeLoc(node);
      if (!target || this.resolving.has(target)) {
        this.problems.push({ loc, path, message: `alias *${node.source} cannot be resolved` });
        return { kind: "scalar", loc, value: null, source: "" };
      }
      this.resolving.add(target);
      try {
        return { ...this.build(target, path), loc };
      } finally {
        this.resolving.delete(target);
      }
    }
    const tag = node.tag && !node.tag.startsWith(CORE_TAG_PREFIX) ? node.tag : undefined;
    const loc = this.nodeLoc(node, tag);
    if (isMap(node)) return { kind: "map", loc, entries: this.entries(node, path), tag };
    if (isSeq(node)) {
      const items = node.items.map((it, i) =>
        this.build(it as YamlNode | null, joinPath(path, i), loc)
      );
      return { kind: "seq", loc, items, tag };
    }
    if (isScalar(node)) {
      const source = typeof node.source === "string" ? node.source : String(node.value ?? "");
      const empty = node.value === null && source === "" && fallback;
      return { kind: "scalar", loc: empty ? fallback : loc, value: node.value, source, tag };
    }
    return { kind: "scalar", loc, value: null, source: "" };
  }

  private entries(node: YamlNode, path: string): YEntry[] {
    if (!isMap(node)) return [];
    const out: YEntry[] = [];
    const seen = new Map<string, number>();
    const merged: YEntry[] = [];
    for (const pair of node.items) {
      const k = pair.key as YamlNode | null;
      const keyLoc = k ? this.nodeLoc(k) : this.nodeLoc(node);
      if (k && !isScalar(k) && !isAlias(k)) {
        this.problems.push({ loc: keyLoc, path, message: "mapping keys must be plain scalars" });
        continue;
      }
      const keyNode = k && isAlias(k) ? k.resolve(this.doc) : k;
      const raw = keyNode && isScalar(keyNode) ? keyNode.value : "";
      const key = typeof raw === "symbol" ? raw.description ?? "" : String(raw ?? "");
      if (key === "<<" && keyNode && isScalar(keyNode) && keyNode.source === "<<") {
        merged.push(...this.mergeSources(pair.value as YamlNode | null, path, keyLoc));
        continue;
      }
      const value = this.build(pair.value as YamlNode | null, joinPath(path, key), keyLoc);
      const prev = seen.get(key);
      if (prev !== undefined) {
        const first = out[prev].keyLoc;
        this.problems.push({
          loc: keyLoc,
          path: joinPath(path, key),
          message: `duplicate key '${key}' (first defined at line ${first.line})`,
        });
        out[prev] = { key, keyLoc, value };
        continue;
      }
      seen.set(key, out.length);
      out.push({ key, keyLoc, value });
    }
    for (const e of merged) {
      if (seen.has(e.key)) continue;
      seen.set(e.key, out.length);
      out.push(e);
    }
    return out;
  }

  private mergeSources(value: YamlNode | null, path: string, keyLoc: Loc): YEntry[] {
    const src = this.build(value, path, keyLoc);
    const maps = src.kind === "seq" ? src.items : [src];
    const out: YEntry[] = [];
    for (const m of maps) {
      if (m.kind !== "map") {
        this.problems.push({
          loc: m.loc,
          path,
          message: "'<<' merge key needs a mapping or a list of mappings",
        });
        continue;
      }
      for (const e of m.entries) if (!out.some((o) => o.key === e.key)) out.push(e);
    }
    return out;
  }

  /** Position of a node; for a tagged node, the position of its tag when it is on the same line. */
  private nodeLoc(node: YamlNode, tag?: string): Loc {
    const start = node.range?.[0] ?? 0;
    if (tag) {
      const lineStart = this.text.lastIndexOf("\n", start - 1) + 1;
      const at = this.text.lastIndexOf(tag, start);
      if (at >= lineStart) return this.locOf(at);
    }
    return this.locOf(start);
  }
}

/** Converts a positioned node to plain JS, ignoring tags (scalars keep their resolved value). */
export function toPlain(node: YNode): unknown {
  switch (node.kind) {
    case "scalar":
      return node.value;
    case "seq":
      return node.items.map(toPlain);
    case "map":
      return Object.fromEntries(node.entries.map((e) => [e.key, toPlain(e.value)]));
  }
}

/** Follows a path (keys and indices) down from `node`; returns the deepest node reached. */
export function locate(
  node: YNode,
  path: readonly PropertyKey[],
): { node: YNode; keyLoc?: Loc; depth: number } {
  let cur: YNode = node;
  let keyLoc: Loc | undefined;
  let depth = 0;
  for (const seg of path) {
    if (cur.kind === "map") {
      const e = cur.entries.find((x) => x.key === String(seg));
      if (!e) break;
      cur = e.value;
      keyLoc = e.keyLoc;
    } else if (cur.kind === "seq" && typeof seg === "number" && cur.items[seg]) {
      cur = cur.items[seg];
      keyLoc = undefined;
    } else break;
    depth++;
  }
  return { node: cur, keyLoc, depth };
}
