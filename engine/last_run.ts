/**
 * The last deploy made from this checkout, so a bare `deno task rollback` / `verify` /
 * `history` knows which inventory and run to act on.
 *
 * Kept in `.haplay/last-run.json` at the checkout's root (git-ignored), not in the XDG state
 * dir: "the last deploy from this checkout" is a property of the checkout (two clones of the
 * project deploying to different inventories must not undo each other's runs), it stays next to
 * the inventories it names (relative paths keep working), and removing the clone removes it.
 * `HAPLAY_STATE_DIR` overrides the directory (tests).
 *
 * The record is written before the deploy contacts any host, so a controller killed mid-run
 * still leaves it for the rollback.
 * @module
 */
import { fileURLToPath } from "node:url";

/** What a deploy records. */
export interface LastRun {
  /** Inventory path as given on the command line (relative to the checkout's root). */
  inventory: string;
  /** Playbook path as given, when not the default. */
  playbook?: string;
  runId: string;
  /** ISO time the deploy started. */
  startedAt: string;
}

/** Directory of the record. */
export function stateDir(): string {
  return Deno.env.get("HAPLAY_STATE_DIR") ||
    fileURLToPath(new URL("../.haplay", import.meta.url));
}

const file = () => `${stateDir()}/last-run.json`;

/** Record a deploy (atomically: temp file + rename). */
export async function recordRun(r: LastRun): Promise<void> {
  const dir = stateDir();
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${file()}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(r, null, 2) + "\n");
  await Deno.rename(tmp, file());
}

/** The last recorded deploy, or undefined (none, or an unreadable record). */
export async function lastRun(): Promise<LastRun | undefined> {
  try {
    const r = JSON.parse(await Deno.readTextFile(file()));
    if (typeof r?.inventory === "string" && typeof r?.runId === "string") return r as LastRun;
  } catch { /* no record */ }
  return undefined;
}

/** "2026-12-01 16:10:03 UTC, 4 min ago". */
export function when(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  const ago = s < 90
    ? `${s} s`
    : s < 5400
    ? `${Math.round(s / 60)} min`
    : s < 172800
    ? `${Math.round(s / 3600)} h`
    : `${Math.round(s / 86400)} days`;
  return `${new Date(t).toISOString().slice(0, 19).replace("T", " ")} UTC, ${ago} ago`;
}

/** The inventory a bare command falls back to when nothing was recorded. */
export const FALLBACK_INVENTORY = "inventory/prod.yaml";
