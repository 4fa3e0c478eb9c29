/**
 * The stat fact of one path: what `hp_stat` prints, parsed into a {@link PathStat}. Shared by
 * the primitives that own a path and plan from its type, owner and mode.
 * @module
 */
import type { Fact } from "../engine/types.ts";
import { octal, parseKv } from "./_facts.ts";
import { FactsError, need } from "./_plan.ts";
import { END, statProbe } from "./_sh.ts";

/** What a path is on the host. */
export type PathStat =
  | { exists: false }
  | {
    exists: true;
    type: "file" | "dir" | "link" | "special";
    /** Owner and group names (hp_stat prints them for all but special files). */
    owner?: string;
    group?: string;
    uid?: string;
    gid?: string;
    /** Permission bits, 4 octal digits ("0644"; absent for special files only). */
    mode?: string;
    /** Regular files. */
    sha256?: string;
    size?: number;
    /** Symlinks. */
    target?: string;
  };

const TYPES = ["file", "dir", "link", "special"] as const;

/** Parse the stat probe's output (its last line must be `end=1`). */
export function parseStat(stdout: string): PathStat {
  const f = parseKv(stdout);
  need(f, "end");
  if (need(f, "exists") === "0") return { exists: false };
  const type = need(f, "type") as (typeof TYPES)[number];
  if (!TYPES.includes(type)) throw new FactsError(`bad type ${type}`);
  // Only what every planner needs is required: a planner that reads more checks it is there.
  const st: PathStat = { exists: true, type };
  for (const k of ["owner", "group", "uid", "gid"] as const) if (f[k] !== undefined) st[k] = f[k];
  if (f.mode !== undefined) st.mode = octal(f.mode).toString(8).padStart(4, "0");
  if (f.sha256 !== undefined) st.sha256 = f.sha256;
  if (f.size !== undefined) st.size = Number(f.size);
  if (f.target !== undefined) st.target = f.target;
  return st;
}

/** The stat fact of `path`. */
export function statFact(path: string): Fact<PathStat> {
  return { sh: [statProbe(path), END].join("\n"), parse: parseStat };
}
