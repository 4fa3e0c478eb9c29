/**
 * A reader for the subset of `~/.ssh/config` haplay honours: Host, HostName, User, Port,
 * IdentityFile, ProxyJump, HostKeyAlias (first match wins per keyword, as in OpenSSH), and
 * the parser of ProxyJump / `-J` hop lists.
 * @module
 */

/** Settings that apply to one host alias. */
export interface SshHostConfig {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  proxyJump?: string;
  hostKeyAlias?: string;
}

/** One hop of a ProxyJump chain (`[user@]host[:port]`, or `ssh://[user@]host[:port]`). */
export interface JumpHop {
  user?: string;
  host: string;
  port?: number;
}

/**
 * Parse a ProxyJump value (`a,b`, `user@host:port`, `[v6addr]:port`, `ssh://...`) into hops,
 * first hop first. Throws with the offending hop on a malformed entry.
 */
export function parseProxyJump(value: string): JumpHop[] {
  return value.split(",").map((raw) => {
    const s = raw.trim().replace(/^ssh:\/\//, "");
    const m = s.match(/^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s\[\]]+)(?::(\d+))?$/);
    if (!m) throw new Error(`ProxyJump: cannot read hop "${raw.trim()}" (want [user@]host[:port])`);
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && !(port >= 1 && port <= 65535)) {
      throw new Error(`ProxyJump: port out of range in hop "${raw.trim()}"`);
    }
    return { user: m[1], host: m[2].replace(/^\[(.*)\]$/, "$1"), port };
  });
}

function matchHost(patterns: string[], name: string): boolean {
  let hit = false;
  for (const p of patterns) {
    const neg = p.startsWith("!");
    const glob = neg ? p.slice(1) : p;
    const re = new RegExp(
      "^" + glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$",
    );
    if (re.test(name)) {
      if (neg) return false;
      hit = true;
    }
  }
  return hit;
}

/** Resolve the settings of `alias` from ssh_config text; `home` expands `~`. */
export function resolveSshConfig(text: string, alias: string, home: string): SshHostConfig {
  const cfg: SshHostConfig = { identityFiles: [] };
  let active = true;
  const seen = new Set<string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^(\S+?)\s*(?:=\s*|\s+)(.*)$/);
    if (!m) continue;
    const key = m[1].toLowerCase();
    const value = m[2].trim().replace(/^"(.*)"$/, "$1");
    if (key === "host") {
      active = matchHost(value.split(/\s+/), alias);
      continue;
    }
    if (key === "match") {
      active = false;
      continue;
    }
    if (!active) continue;
    const expand = (v: string) => v.replace(/^~(?=\/)/, home).replaceAll("%h", alias);
    if (key === "identityfile") {
      cfg.identityFiles.push(expand(value));
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    if (key === "hostname") cfg.hostName = value.replaceAll("%h", alias);
    else if (key === "user") cfg.user = value;
    else if (key === "port") cfg.port = Number(value);
    else if (key === "proxyjump" && value.toLowerCase() !== "none") cfg.proxyJump = value;
    else if (key === "hostkeyalias") cfg.hostKeyAlias = value;
  }
  return cfg;
}
