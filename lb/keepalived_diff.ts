/**
 * Semantic diff of two keepalived configurations: both parsed ({@link parseKeepalivedConf}),
 * the difference said in words — "VI_1: priority 100 → 150", "virtual_server 198.18.1.10:80:
 * real server 198.18.1.14:80 added", "global_defs: router_id a → b" — or "same configuration,
 * canonical form only" when the texts differ but the trees are equal.
 *
 * Blocks are matched by their statement (`vrrp_instance VI_1`, `real_server 198.18.1.14 80`;
 * repeated ones such as two `url` blocks by their order), single statements by their keyword.
 * The value of `auth_pass` never appears in the words ("auth_pass changed (hidden)").
 * @module
 */
import {
  type KaNode,
  nodeHead,
  parseKeepalivedConf,
  quoteWord,
  treeEqual,
} from "./keepalived_parse.ts";

/** What {@link semanticDiff} found. */
export interface SemanticDiff {
  /** True when both texts parse to the same tree (formatting, comments and quotes aside). */
  same: boolean;
  /** The differences in words; [] when the texts are identical. */
  lines: string[];
}

/** Options of {@link semanticDiff}. */
export interface SemanticDiffOptions {
  /** Names shown before a virtual server's address, by `virtual_server` head ("198.18.1.10 80"). */
  serviceNames?: ReadonlyMap<string, string>;
}

/** The words for a formatting-only change. */
export const CANONICAL_ONLY = "same configuration, canonical form only";

/** Keywords whose values are secrets: never shown. */
const SECRET_KEYS = new Set(["auth_pass"]);

/** `addr port` → `addr:port` (IPv6 in brackets); other heads unchanged. */
function hostPort(args: string[]): string {
  if (args.length === 2 && /^\d+$/.test(args[1]) && !["fwmark", "group"].includes(args[0])) {
    return args[0].includes(":") ? `[${args[0]}]:${args[1]}` : `${args[0]}:${args[1]}`;
  }
  return args.map(quoteWord).join(" ");
}

/** How a block is named in the words. */
function label(n: KaNode, top: boolean, opts: SemanticDiffOptions): string {
  if (top && n.key === "vrrp_instance" && n.args.length === 1) return n.args[0];
  if (top && n.key === "virtual_server") {
    const name = opts.serviceNames?.get(n.args.join(" "));
    return `${name ?? "virtual_server"} ${hostPort(n.args)}`;
  }
  if (n.key === "real_server") return `real server ${hostPort(n.args)}`;
  if (n.key === "sorry_server") return `sorry server ${hostPort(n.args)}`;
  return nodeHead(n);
}

function value(n: KaNode): string {
  return n.args.map(quoteWord).join(" ");
}

/** A leaf statement, as said when added or removed. */
function leafWords(n: KaNode): string {
  if (SECRET_KEYS.has(n.key)) return `${n.key} (hidden)`;
  return nodeHead(n);
}

/** Groups nodes by an identity, keeping order. */
function groupBy(nodes: KaNode[], id: (n: KaNode) => string): Map<string, KaNode[]> {
  const m = new Map<string, KaNode[]>();
  for (const n of nodes) m.set(id(n), [...(m.get(id(n)) ?? []), n]);
  return m;
}

/** Differences between two child lists, each line prefixed with `path`. */
function diffChildren(
  a: KaNode[],
  b: KaNode[],
  path: string[],
  top: boolean,
  opts: SemanticDiffOptions,
): string[] {
  const out: string[] = [];
  const at = (s: string) => [...path, s].join(": ");
  // single statements: by keyword when it occurs once on each side, else by the whole statement
  const leavesA = groupBy(a.filter((n) => !n.children), (n) => n.key);
  const leavesB = groupBy(b.filter((n) => !n.children), (n) => n.key);
  for (const key of new Set([...leavesA.keys(), ...leavesB.keys()])) {
    const xs = leavesA.get(key) ?? [], ys = leavesB.get(key) ?? [];
    if (xs.length === 1 && ys.length === 1) {
      const [x, y] = [xs[0], ys[0]];
      if (value(x) === value(y)) continue;
      out.push(
        SECRET_KEYS.has(key)
          ? at(`${key} changed (hidden)`)
          : at(`${key} ${value(x) || "(no value)"} → ${value(y) || "(no value)"}`),
      );
      continue;
    }
    const heads = (l: KaNode[]) => l.map((n) => nodeHead(n));
    const hx = heads(xs), hy = heads(ys);
    xs.forEach((n, i) => !hy.includes(hx[i]) && out.push(at(`${leafWords(n)} removed`)));
    ys.forEach((n, i) => !hx.includes(hy[i]) && out.push(at(`${leafWords(n)} added`)));
  }
  // blocks: by their statement, repeated ones in order
  const blocksA = groupBy(a.filter((n) => n.children), (n) => nodeHead(n));
  const blocksB = groupBy(b.filter((n) => n.children), (n) => nodeHead(n));
  for (const head of new Set([...blocksA.keys(), ...blocksB.keys()])) {
    const xs = blocksA.get(head) ?? [], ys = blocksB.get(head) ?? [];
    for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
      const x = xs[i], y = ys[i];
      // an instance is named by its name in paths, by its statement when it comes or goes
      const whole = (n: KaNode) => n.key === "vrrp_instance" ? nodeHead(n) : label(n, top, opts);
      if (x && !y) out.push(at(`${whole(x)} removed`));
      else if (!x && y) out.push(at(`${whole(y)} added`));
      else if (x && y) {
        out.push(
          ...diffChildren(x.children!, y.children!, [...path, label(x, top, opts)], false, opts),
        );
      }
    }
  }
  if (!out.length && !treeEqual(a, b)) {
    out.push(path.length ? at("order of statements changed") : "order of blocks changed");
  }
  return out;
}

/**
 * The differences between two keepalived configurations in words. Includes are not followed
 * (an `include` is compared as the statement it is). When either text does not parse, the words
 * say where and `same` is false.
 */
export function semanticDiff(
  before: string,
  after: string,
  opts: SemanticDiffOptions = {},
): SemanticDiff {
  if (before === after) return { same: true, lines: [] };
  const a = parseKeepalivedConf(before, { file: "live" });
  const b = parseKeepalivedConf(after, { file: "new" });
  const bad = [...a.errors, ...b.errors];
  if (bad.length) {
    return {
      same: false,
      lines: bad.map((e) =>
        `cannot compare: ${e.file === "live" ? "live" : "new"} config line ${e.line}: ${e.message}`
      ),
    };
  }
  if (treeEqual(a.nodes, b.nodes)) return { same: true, lines: [CANONICAL_ONLY] };
  return { same: false, lines: diffChildren(a.nodes, b.nodes, [], true, opts) };
}

/**
 * Matches an `auth_pass` value (quoted or bare) the way the host-side `sed` of
 * {@link REDACT_SED} does, so both sides redact the same bytes.
 */
const AUTH_PASS_RE = /(auth_pass[ \t]+)("[^"\n]*"|[^ \t\n}#!"]+)/g;

/** `sed -E` expression replacing every auth_pass value by `HIDDEN` (as {@link redactSecrets}). */
export const REDACT_SED = `s/(auth_pass[[:blank:]]+)("[^"]*"|[^[:blank:]}#!"]+)/\\1HIDDEN/g`;

/** `sed -nE` expression printing each auth_pass value on its own line (for a hash). */
export const SECRETS_SED = `s/.*auth_pass[[:blank:]]+("[^"]*"|[^[:blank:]}#!"]+).*/\\1/p`;

/** The text with every auth_pass value replaced by `HIDDEN`. */
export function redactSecrets(text: string): string {
  return text.replace(AUTH_PASS_RE, "$1HIDDEN");
}

/** The auth_pass values of a text, one a line (what `sed -nE SECRETS_SED` prints). */
export function secretValues(text: string): string {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = [...line.matchAll(AUTH_PASS_RE)];
    // sed's greedy `.*` takes the last match of a line
    if (m.length) out.push(m[m.length - 1][2]);
  }
  return out.map((v) => v + "\n").join("");
}
