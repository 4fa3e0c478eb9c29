/**
 * The Debian mirror this machine's apt is configured with, for debootstrap (deb822
 * `/etc/apt/sources.list.d/*.sources` first, then one-line `sources.list` files).
 * @module
 */

/** Suite the VM lab's guests run. */
export const SUITE = "bookworm";

/** One apt source: its URIs and suites. */
interface Source {
  uris: string[];
  suites: string[];
  enabled: boolean;
}

/** Parses deb822 `.sources` text into its stanzas (only `Types: deb`). */
export function parseDeb822(text: string): Source[] {
  const out: Source[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const f: Record<string, string> = {};
    let last = "";
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1].toLowerCase();
        f[last] = m[2];
      } else if (/^\s+\S/.test(line) && last) f[last] += " " + line.trim();
    }
    if (!(f.types ?? "").split(/\s+/).includes("deb")) continue;
    out.push({
      uris: (f.uris ?? "").split(/\s+/).filter(Boolean),
      suites: (f.suites ?? "").split(/\s+/).filter(Boolean),
      enabled: (f.enabled ?? "yes").toLowerCase() !== "no",
    });
  }
  return out;
}

/** Parses one-line `deb [opts] URI suite comp...` sources. */
export function parseOneLine(text: string): Source[] {
  const out: Source[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m) out.push({ uris: [m[1]], suites: [m[2]], enabled: true });
  }
  return out;
}

/** The first mirror URI serving `suite` itself (not -updates / -security) among `sources`. */
export function pickMirror(sources: Source[], suite = SUITE): string | undefined {
  for (const s of sources) {
    if (s.enabled && s.suites.includes(suite) && s.uris.length) return s.uris[0];
  }
  return undefined;
}

async function readDirFiles(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(suffix)) out.push(`${dir}/${e.name}`);
    }
  } catch {
    // no such directory
  }
  return out.sort();
}

/**
 * The Debian mirror of this machine: env `HAPLAY_VMLAB_MIRROR`, else the first apt source
 * (deb822 files, then `sources.list` and `*.list`) serving the suite. Throws when none is.
 */
export async function debianMirror(etcApt = "/etc/apt"): Promise<string> {
  const env = Deno.env.get("HAPLAY_VMLAB_MIRROR");
  if (env) return env;
  const sources: Source[] = [];
  for (const f of await readDirFiles(`${etcApt}/sources.list.d`, ".sources")) {
    sources.push(...parseDeb822(await Deno.readTextFile(f)));
  }
  const lists = [
    `${etcApt}/sources.list`,
    ...await readDirFiles(`${etcApt}/sources.list.d`, ".list"),
  ];
  for (const f of lists) {
    try {
      sources.push(...parseOneLine(await Deno.readTextFile(f)));
    } catch {
      // absent
    }
  }
  const m = pickMirror(sources);
  if (!m) {
    throw new Error(
      `no apt source for Debian ${SUITE} in ${etcApt}/sources.list(.d); set HAPLAY_VMLAB_MIRROR`,
    );
  }
  return m;
}
