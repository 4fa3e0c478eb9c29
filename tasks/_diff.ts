/**
 * A small unified diff (Myers' O(ND) algorithm) for showing file changes in plans.
 * @module
 */

/** One line of an edit script: kept (" "), removed ("-") or added ("+"). */
export interface Edit {
  op: " " | "-" | "+";
  /** The line including its "\n", if it had one. */
  text: string;
}

/** Split text into lines that keep their trailing "\n" (the last may lack it). */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const out = text.split(/(?<=\n)/);
  return out;
}

/** Shortest edit script turning `a` into `b` (lists of lines). */
export function diffLines(a: string[], b: string[]): Edit[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (
    suf < a.length - pre && suf < b.length - pre &&
    a[a.length - 1 - suf] === b[b.length - 1 - suf]
  ) suf++;
  const A = a.slice(pre, a.length - suf);
  const B = b.slice(pre, b.length - suf);
  const middle = myers(A, B);
  return [
    ...a.slice(0, pre).map((text): Edit => ({ op: " ", text })),
    ...middle,
    ...a.slice(a.length - suf).map((text): Edit => ({ op: " ", text })),
  ];
}

function myers(a: string[], b: string[]): Edit[] {
  const n = a.length, m = b.length, max = n + m;
  if (n === 0) return b.map((text) => ({ op: "+", text }));
  if (m === 0) return a.map((text) => ({ op: "-", text }));
  const off = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    const nv = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1])
        ? v[off + k + 1]
        : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      nv[off + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
    v = nv;
  }
  trace.push(v);
  // Backtrack from (n, m).
  const edits: Edit[] = [];
  let x = n, y = m;
  for (let d = trace.length - 2; d >= 0 && (x > 0 || y > 0); d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[off + k - 1] < vd[off + k + 1]) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : vd[off + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      edits.push({ op: " ", text: a[--x] });
      y--;
    }
    if (d === 0) break;
    if (x === prevX) edits.push({ op: "+", text: b[--y] });
    else edits.push({ op: "-", text: a[--x] });
  }
  while (x > 0 && y > 0) {
    edits.push({ op: " ", text: a[--x] });
    y--;
  }
  return edits.reverse();
}

/** Options of {@link unifiedDiff}. */
export interface DiffOptions {
  /** Path shown in the `--- a/PATH` and `+++ b/PATH` headers (leading "/" dropped). */
  path: string;
  /** Lines of context around each change (default 3). */
  context?: number;
}

function range(start: number, len: number): string {
  // GNU style: an empty range names the line before it; a one-line range omits ",1".
  if (len === 0) return `${start},0`;
  if (len === 1) return `${start + 1}`;
  return `${start + 1},${len}`;
}

function fmt(e: Edit): string {
  if (e.text.endsWith("\n")) return e.op + e.text;
  return `${e.op}${e.text}\n\\ No newline at end of file\n`;
}

/** Unified diff of two texts; "" when they are equal. */
export function unifiedDiff(oldText: string, newText: string, opts: DiffOptions): string {
  if (oldText === newText) return "";
  const ctx = opts.context ?? 3;
  const edits = diffLines(splitLines(oldText), splitLines(newText));
  const changed: number[] = [];
  edits.forEach((e, i) => e.op !== " " && changed.push(i));
  const p = opts.path.replace(/^\/+/, "");
  let out = `--- a/${p}\n+++ b/${p}\n`;
  // Old/new line numbers at each edit index.
  const oldAt: number[] = [], newAt: number[] = [];
  let o = 0, nn = 0;
  for (const e of edits) {
    oldAt.push(o);
    newAt.push(nn);
    if (e.op !== "+") o++;
    if (e.op !== "-") nn++;
  }
  let i = 0;
  while (i < changed.length) {
    const start = Math.max(0, changed[i] - ctx);
    let end = Math.min(edits.length, changed[i] + ctx + 1);
    let j = i + 1;
    while (j < changed.length && changed[j] - ctx <= end) {
      end = Math.min(edits.length, changed[j] + ctx + 1);
      j++;
    }
    const hunk = edits.slice(start, end);
    const oldLen = hunk.filter((e) => e.op !== "+").length;
    const newLen = hunk.filter((e) => e.op !== "-").length;
    out += `@@ -${range(oldAt[start], oldLen)} +${range(newAt[start], newLen)} @@\n`;
    out += hunk.map(fmt).join("");
    i = j;
  }
  return out;
}
