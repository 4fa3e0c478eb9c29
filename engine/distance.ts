/**
 * String distance for "did you mean" hints (inventory group keys, lint's LB variable keys, YAML
 * playbook modules, roles and fields).
 * @module
 */

/** Levenshtein edit distance (insertions, deletions, substitutions all cost 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The closest of `known` to `word` within `maxDistance` edits (ties: the first), if any. */
export function closest(
  word: string,
  known: readonly string[],
  maxDistance = 2,
): string | undefined {
  let best: string | undefined;
  let bestD = maxDistance + 1;
  for (const c of known) {
    const d = c === word ? 0 : editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}
