/**
 * keepalived.conf parser: text (plus the files it includes) to a tree of {@link KaNode}s,
 * a canonical printer and a tree equality that ignores formatting.
 *
 * The lexical rules follow keepalived's own reader (lib/parser.c, 2.2.x):
 * - `#` and `!` start a comment anywhere outside double quotes (`\#` and `\!` are literal);
 * - `{` and `}` outside quotes are tokens of their own wherever they appear, so
 *   `vrrp_instance VI_1 { state MASTER }` is three statements, and a `{` alone on the next line
 *   opens the block of the statement before it;
 * - a double-quoted string is one argument, without its quotes;
 * - `include PATTERN` (a line of its own, anywhere, also inside a block; also the variants
 *   `includer`, `includem`, `includew`, `includeb`) splices in every file the glob matches, in
 *   sorted order; the pattern is the rest of the line, so csh brace expressions
 *   (`{web,db}.conf`) are part of it; a relative pattern is resolved against the directory of the
 *   including file (keepalived changes into that directory while it reads the file).
 * keepalived has no generic line continuation (a trailing `\` only continues `$NAME=` definitions,
 * which this parser keeps as ordinary statements); `@id` conditional lines and `~SEQ` are kept
 * as ordinary statements too.
 *
 * The parser never throws: everything wrong is collected in `errors` with its file and line.
 * @module
 */

/** One statement of a keepalived config: `key args...`, with its block's children if it has one. */
export type KaNode = {
  key: string;
  args: string[];
  children?: KaNode[];
  file: string;
  line: number;
};

/** A problem found while parsing, at the file and line where it is. */
export interface KaParseError {
  file: string;
  line: number;
  message: string;
}

/** Options of {@link parseKeepalivedConf}. */
export interface KaParseOptions {
  /** Name of the file `text` comes from (positions and relative includes use it). */
  file: string;
  /** Reads an included file; undefined when it does not exist. Without it, includes stay nodes. */
  read?: (path: string) => string | undefined;
  /** Expands a glob pattern to the matching paths. Without it, a pattern is a literal path. */
  glob?: (pattern: string) => string[];
}

/** The parse result: top-level nodes and every error found. */
export interface KaParseResult {
  nodes: KaNode[];
  errors: KaParseError[];
}

type Token =
  | { kind: "word"; words: string[]; file: string; line: number }
  | { kind: "open" | "close"; file: string; line: number };

const MAX_INCLUDE_DEPTH = 32;

/** Whether a pattern has glob characters. */
function isGlob(p: string): boolean {
  return /[*?[{]/.test(p);
}

/** `include` and its variants (`includer`, `includem`, `includew`, `includeb`, `includea`). */
const INCLUDE_LINE = /^[ \t]*(include[rmwba]?)[ \t]+(.*)$/;

/**
 * An include line as keepalived reads it: the whole rest of the line (comment removed) is the
 * pattern, braces included (`include conf.d/{web,db}.conf` is a csh brace expression, not a block).
 */
function includeToken(raw: string, file: string, line: number): Token | undefined {
  const m = INCLUDE_LINE.exec(raw);
  if (!m) return undefined;
  const pattern = m[2].replace(/[#!].*$/, "").trim();
  if (!pattern) return undefined;
  return { kind: "word", words: [m[1], pattern], file, line };
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/** `path` against `dir`, with `.` and `..` segments folded (`/etc/k/../x` → `/etc/x`). */
function resolve(dir: string, path: string): string {
  const joined = path.startsWith("/") || dir === "." ? path : `${dir.replace(/\/$/, "")}/${path}`;
  const abs = joined.startsWith("/");
  const out: string[] = [];
  for (const seg of joined.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && out.length && out[out.length - 1] !== "..") out.pop();
    else if (seg !== ".." || !abs) out.push(seg);
  }
  return (abs ? "/" : "") + out.join("/");
}

/** Splits one physical line into statements and braces (an unterminated quote is an error). */
function lexLine(raw: string, file: string, line: number, errors: KaParseError[]): Token[] {
  const out: Token[] = [];
  let words: string[] = [];
  let cur = "";
  let inWord = false;
  const flush = () => {
    if (inWord) words.push(cur);
    cur = "";
    inWord = false;
  };
  const endStatement = () => {
    flush();
    if (words.length) out.push({ kind: "word", words, file, line });
    words = [];
  };
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === '"') {
      const end = raw.indexOf('"', i + 1);
      if (end < 0) {
        errors.push({ file, line, message: `unterminated quote: ${raw.trim()}` });
        cur += raw.slice(i + 1);
        inWord = true;
        break;
      }
      cur += raw.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (ch === "\\" && (raw[i + 1] === "#" || raw[i + 1] === "!")) {
      cur += raw[++i];
      inWord = true;
    } else if (ch === "#" || ch === "!") {
      break;
    } else if (ch === "{" || ch === "}") {
      endStatement();
      out.push({ kind: ch === "{" ? "open" : "close", file, line });
    } else if (ch === " " || ch === "\t" || ch === "\r") {
      flush();
    } else {
      cur += ch;
      inWord = true;
    }
  }
  endStatement();
  return out;
}

/** Lexes a file, following includes into the token stream at the place they appear. */
function lexFile(
  text: string,
  file: string,
  opts: KaParseOptions,
  errors: KaParseError[],
  stack: string[],
): Token[] {
  const out: Token[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const inc = includeToken(lines[n], file, n + 1);
    if (inc && opts.read) {
      out.push(...lexInclude(inc as Extract<Token, { kind: "word" }>, opts, errors, stack));
    } else if (inc) out.push(inc);
    else out.push(...lexLine(lines[n], file, n + 1, errors));
  }
  return out;
}

function lexInclude(
  t: Extract<Token, { kind: "word" }>,
  opts: KaParseOptions,
  errors: KaParseError[],
  stack: string[],
): Token[] {
  const at = { file: t.file, line: t.line };
  const pattern = resolve(dirname(t.file), t.words[1]);
  const glob = isGlob(pattern);
  const paths = glob ? [...(opts.glob?.(pattern) ?? [])].sort() : [pattern];
  const out: Token[] = [];
  for (const path of paths) {
    if (stack.includes(path) || stack.length >= MAX_INCLUDE_DEPTH) {
      errors.push({ ...at, message: `include ${t.words[1]}: include loop through ${path}` });
      continue;
    }
    const text = opts.read!(path);
    if (text === undefined) {
      errors.push({ ...at, message: `include ${t.words[1]}: ${path} not found` });
      continue;
    }
    out.push(...lexFile(text, path, opts, errors, [...stack, path]));
  }
  return out;
}

/** Builds the tree from the token stream. */
function build(tokens: Token[], errors: KaParseError[]): KaNode[] {
  const top: KaNode[] = [];
  // each open level: its node list and the node that opened it (undefined for a stray `{`)
  const levels: { nodes: KaNode[]; owner?: KaNode; file: string; line: number }[] = [
    { nodes: top, file: "", line: 0 },
  ];
  // the last statement of the current level that has no block yet (a `{` may open its block)
  let pending: KaNode | undefined;
  for (const t of tokens) {
    const level = levels[levels.length - 1];
    if (t.kind === "word") {
      const node: KaNode = { key: t.words[0], args: t.words.slice(1), file: t.file, line: t.line };
      level.nodes.push(node);
      pending = node;
    } else if (t.kind === "open") {
      if (pending) {
        pending.children = [];
        levels.push({ nodes: pending.children, owner: pending, file: t.file, line: t.line });
      } else {
        errors.push({ file: t.file, line: t.line, message: "'{' without a keyword before it" });
        // its content still belongs somewhere: keep it at the current level
        levels.push({ nodes: level.nodes, file: t.file, line: t.line });
      }
      pending = undefined;
    } else {
      if (levels.length === 1) {
        errors.push({ file: t.file, line: t.line, message: "'}' without a block to close" });
      } else levels.pop();
      pending = undefined;
    }
  }
  for (const l of levels.slice(1).reverse()) {
    const what = l.owner ? [l.owner.key, ...l.owner.args].join(" ") : "'{'";
    errors.push({
      file: l.file,
      line: l.line,
      message: `block ${what} is not closed (missing '}')`,
    });
  }
  return top;
}

/** Errors sorted by file (in the order the files were read), then line. */
function inFileOrder(errors: KaParseError[], files: string[]): KaParseError[] {
  const rank = new Map<string, number>();
  for (const f of [...files, ...errors.map((e) => e.file)]) {
    if (!rank.has(f)) rank.set(f, rank.size);
  }
  return [...errors].sort((a, b) => rank.get(a.file)! - rank.get(b.file)! || a.line - b.line);
}

/**
 * Parses keepalived configuration text into a tree. Includes are followed through `read` (and
 * `glob` for patterns); without `read` they stay as `include` nodes. Never throws.
 */
export function parseKeepalivedConf(text: string, opts: KaParseOptions): KaParseResult {
  const errors: KaParseError[] = [];
  try {
    const tokens = lexFile(text, opts.file, opts, errors, [opts.file]);
    const nodes = build(tokens, errors);
    return { nodes, errors: inFileOrder(errors, [opts.file, ...tokens.map((t) => t.file)]) };
  } catch (e) {
    // a callback that threw: report it where parsing started rather than propagate
    errors.push({ file: opts.file, line: 0, message: `cannot parse: ${(e as Error).message}` });
    return { nodes: [], errors };
  }
}

/** Quotes a word for output when keepalived would otherwise split or drop part of it. */
export function quoteWord(w: string): string {
  return w === "" || /[\s{}#!"]/.test(w) ? `"${w}"` : w;
}

/** The statement of a node as one line (`key args...`, without its block). */
export function nodeHead(n: KaNode): string {
  // an include's pattern is the rest of its line, as written (keepalived does not unquote it)
  if (/^include[rmwba]?$/.test(n.key) && !n.children) return [n.key, ...n.args].join(" ");
  return [n.key, ...n.args].map(quoteWord).join(" ");
}

/**
 * Canonical text of a tree: one statement per line, four spaces per level, `{` on the
 * statement's line, a blank line between top-level blocks, no comments.
 */
export function printKeepalivedConf(nodes: KaNode[]): string {
  const out: string[] = [];
  const walk = (n: KaNode, depth: number) => {
    const pad = "    ".repeat(depth);
    if (!n.children) return void out.push(pad + nodeHead(n));
    out.push(`${pad}${nodeHead(n)} {`);
    for (const c of n.children) walk(c, depth + 1);
    out.push(`${pad}}`);
  };
  nodes.forEach((n, i) => {
    if (i > 0 && (n.children || nodes[i - 1].children)) out.push("");
    walk(n, 0);
  });
  return out.length ? out.join("\n") + "\n" : "";
}

/** Whether two nodes are the same statement with the same block (positions ignored). */
export function nodeEqual(a: KaNode, b: KaNode): boolean {
  if (a.key !== b.key || a.args.length !== b.args.length) return false;
  if (a.args.some((x, i) => x !== b.args[i])) return false;
  if (!a.children || !b.children) return !a.children && !b.children;
  return treeEqual(a.children, b.children);
}

/** Whether two trees are the same configuration up to formatting (whitespace, comments, quotes). */
export function treeEqual(a: KaNode[], b: KaNode[]): boolean {
  return a.length === b.length && a.every((n, i) => nodeEqual(n, b[i]));
}
