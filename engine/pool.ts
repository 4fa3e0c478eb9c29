/**
 * Bounded parallelism and Ansible-style `serial` batches.
 * @module
 */

/** Run `fn` over `items` with at most `limit` in flight; results keep input order. */
export async function mapPool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * Split hosts into batches. `serial` is a count, a percentage ("30%"), or a list of them
 * (the last one repeats), as in Ansible.
 */
export function batches<T>(hosts: T[], serial?: number | string | Array<number | string>): T[][] {
  if (serial === undefined) return hosts.length ? [hosts] : [];
  const steps = Array.isArray(serial) ? serial : [serial];
  const size = (s: number | string) => {
    if (typeof s === "number") return Math.max(1, Math.floor(s));
    const m = s.trim().match(/^(\d+(?:\.\d+)?)%$/);
    if (m) return Math.max(1, Math.floor(hosts.length * Number(m[1]) / 100));
    const n = Number(s);
    if (!Number.isFinite(n)) throw new Error(`serial: not a count or percentage: ${s}`);
    return Math.max(1, Math.floor(n));
  };
  const out: T[][] = [];
  let i = 0;
  let k = 0;
  while (i < hosts.length) {
    const n = size(steps[Math.min(k++, steps.length - 1)]);
    out.push(hosts.slice(i, i + n));
    i += n;
  }
  return out;
}
