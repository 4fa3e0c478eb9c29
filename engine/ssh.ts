/**
 * SSH transport: one connection per host per run (through a ProxyJump chain when configured),
 * every host key checked against known_hosts as OpenSSH does (see known_hosts.ts), scripts run
 * as root (directly, or through `sudo -n` / sudo's askpass answered once), exit code, stdout and
 * stderr kept apart and untrimmed (node-ssh's `exec()` rejects on stderr and trims; we use
 * the underlying ssh2 channel instead).
 * @module
 */
import { NodeSSH } from "node-ssh";
import { connect as tcpConnect, type Socket } from "node:net";
import {
  checkHostKey,
  decidingKeys,
  fingerprint,
  hostKeyNames,
  keysForIds,
  keyType,
  knownHostsLine,
  type KnownKey,
  parseKnownHosts,
} from "./known_hosts.ts";
import { parseProxyJump, resolveSshConfig } from "./ssh_config.ts";
import { q } from "./shell.ts";
import type { Connector } from "./connector.ts";

/** Where and how to reach one host. */
export interface SshTarget {
  /** Inventory name (a known_hosts name of last resort, see known_hosts.ts). */
  name: string;
  host: string;
  port: number;
  user: string;
  keyFile?: string;
  knownHosts?: string;
  become: boolean;
  becomePassword?: string;
  /** Which of user/port/key were set explicitly by the inventory (they win over ssh_config). */
  explicit?: { user?: boolean; port?: boolean; keyFile?: boolean };
}

/** Transport options of a run. */
export interface SshOptions {
  acceptNewHostKeys?: boolean;
  /** ssh_config file (default ~/.ssh/config when it exists). */
  sshConfigFile?: string;
  timeoutMs?: number;
}

/** Result of one exec. */
export interface ExecResult {
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

// ssh2 ships no types: the few shapes we use.
interface Stream {
  on(event: string, cb: (...args: never[]) => void): Stream;
  stderr: { on(event: "data", cb: (d: Uint8Array) => void): void };
  end(data?: string): void;
}
interface Client {
  exec(cmd: string, cb: (err: Error | undefined, stream: Stream) => void): void;
  forwardOut(
    srcIp: string,
    srcPort: number,
    dstIp: string,
    dstPort: number,
    cb: (err: Error | undefined, stream: Stream) => void,
  ): void;
}
type ConnectConfig = Record<string, unknown> & {
  privateKey?: string;
  agent?: string;
  sock?: unknown;
  algorithms?: unknown;
};

/** The host presented a key that known_hosts does not accept. */
export class HostKeyError extends Error {}

/** sudo could not make the login user root (wrong become password, none, not allowed). */
export class BecomeError extends Error {}

// The askpass helper answers once: when sudo asks again (wrong password) it gets nothing and
// gives up, so a run costs one failed attempt, not passwd_tries (3) of them (faillock).
const ASKPASS_BODY = [
  "#!/bin/sh",
  'mkdir "${0%/*}/used" 2>/dev/null || exit 1',
  'printf "%s\\n" "$HAPLAY_PW"',
].map((l) => q(l)).join(" ");
const SUDO_ASKPASS_WRAPPER = "/bin/sh -c " + q(
  "IFS= read -r HAPLAY_PW; export HAPLAY_PW; a=$(mktemp -d) || exit 1; " +
    `printf '%s\\n' ${ASKPASS_BODY} > "$a/p"; chmod 700 "$a/p"; ` +
    'SUDO_ASKPASS="$a/p" sudo -A -p "" -- /bin/sh -s; rc=$?; rm -rf "$a"; exit $rc',
);

const home = () => Deno.env.get("HOME") ?? "/root";
let knownHostsWrites: Promise<void> = Promise.resolve();

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/**
 * The text of a small file read again only when it changed (size, mtime, inode): every host
 * of a run reads the same ssh_config and known_hosts, and 1,000 hosts re-reading and
 * re-parsing a 2,000-line known_hosts each cost seconds. "" when it cannot be read.
 */
const fileCache = new Map<string, { stamp: string; text: string; keys?: KnownKey[] }>();
function cachedFile(path: string) {
  let stamp = "";
  try {
    const st = Deno.statSync(path);
    stamp = `${st.size}:${st.mtime?.getTime()}:${st.ino}`;
  } catch {
    // unreadable: "" (as readText)
  }
  const hit = fileCache.get(path);
  if (hit && stamp && hit.stamp === stamp) return hit;
  const entry: { stamp: string; text: string; keys?: KnownKey[] } = {
    stamp,
    text: readText(path),
  };
  if (stamp) fileCache.set(path, entry);
  return entry;
}

/** The parsed known_hosts of `path` (one array per file version: its lookup index is kept). */
function knownKeysOf(path: string): KnownKey[] {
  const f = cachedFile(path);
  return f.keys ??= parseKnownHosts(f.text);
}

/** One live SSH connection to a host; counts the exec round trips it makes. */
export class SshSession implements Connector {
  /** Exec channels opened so far (the round trips of this run). */
  execs = 0;
  /** The last connection-level error (reset, timeout), if any. */
  lastError?: Error;
  private constructor(
    readonly target: SshTarget,
    private readonly ssh: NodeSSH,
    private readonly jumps: NodeSSH[] = [],
  ) {}

  /**
   * Connect (through every ProxyJump hop, each checked against known_hosts under its own
   * names with its own key types), verifying the host key; throws {@link HostKeyError} or a
   * connection error.
   */
  static async open(target: SshTarget, opts: SshOptions = {}): Promise<SshSession> {
    const cfgFile = opts.sshConfigFile ?? `${home()}/.ssh/config`;
    const cfgText = cachedFile(cfgFile).text;
    const cfg = resolveSshConfig(cfgText, target.host, home());
    const ex = target.explicit ?? {};
    const host = cfg.hostName ?? target.host;
    const port = ex.port ? target.port : (cfg.port ?? target.port);
    const user = ex.user ? target.user : (cfg.user ?? target.user);
    const keyFiles = target.keyFile && ex.keyFile !== false
      ? [target.keyFile]
      : cfg.identityFiles.length
      ? cfg.identityFiles
      : [target.keyFile].filter((k): k is string => !!k);
    const khFile = target.knownHosts ?? `${home()}/.ssh/known_hosts`;
    const known = knownKeysOf(khFile);
    const key = keyFiles.map(readText).find((k) => k);
    const ctx: HopContext = { known, khFile, opts, agent: Deno.env.get("SSH_AUTH_SOCK") };
    // ProxyJump hops, first hop first; each hop's own ssh_config entry applies to it.
    let jumpList: ReturnType<typeof parseProxyJump> = [];
    try {
      jumpList = cfg.proxyJump ? parseProxyJump(cfg.proxyJump) : [];
    } catch (e) {
      throw new Error(`${cfgFile}: Host ${target.host}: ${(e as Error).message}`);
    }
    const hops: Hop[] = jumpList.map((j) => {
      const jc = resolveSshConfig(cfgText, j.host, home());
      return {
        label: `jump host ${j.host}`,
        names: [j.host],
        hostName: jc.hostName ?? j.host,
        hostKeyAlias: jc.hostKeyAlias,
        port: j.port ?? jc.port ?? 22,
        user: j.user ?? jc.user ?? user,
        key: jc.identityFiles.map(readText).find((k) => k) ?? key,
      };
    });
    const final: Hop = {
      label: target.name,
      names: [target.name, target.host],
      hostName: host,
      hostKeyAlias: cfg.hostKeyAlias,
      port,
      user,
      key,
    };
    const jumps: NodeSSH[] = [];
    let sock: unknown;
    try {
      for (const [i, hop] of hops.entries()) {
        const j = await connectHop(hop, ctx, sock);
        jumps.push(j);
        const next = hops[i + 1] ?? final;
        sock = await new Promise((resolve, reject) =>
          (j.connection as Client).forwardOut(
            "127.0.0.1",
            0,
            next.hostName,
            next.port,
            (e, s) =>
              e
                ? reject(
                  new Error(
                    `${hop.label}: cannot reach ${next.hostName}:${next.port}: ${e.message}`,
                  ),
                )
                : resolve(s),
          )
        );
      }
      const ssh = await connectHop(final, ctx, sock);
      // A reset after connect (host gone, sshd killed) must fail the pending exec, not the
      // process: the exec's stream reports it; the connection-level event is only noted.
      const session = new SshSession({ ...target, host, port, user }, ssh, jumps);
      for (const c of [ssh, ...jumps]) {
        (c.connection as unknown as { on(e: string, f: (err: Error) => void): void } | null)
          ?.on("error", (err) => session.lastError = err);
      }
      return session;
    } catch (e) {
      for (const j of jumps.reverse()) j.dispose();
      throw e;
    }
  }

  /** Run one command on a fresh exec channel, feeding `stdin`. */
  exec(command: string, stdin?: string): Promise<ExecResult> {
    this.execs++;
    const conn = this.ssh.connection as Client | null;
    if (!conn) return Promise.reject(this.lastError ?? new Error("connection closed"));
    return new Promise((resolve, reject) => {
      const ev = conn as unknown as {
        once(e: string, f: () => void): void;
        removeListener(e: string, f: () => void): void;
      };
      const onGone = () => reject(this.lastError ?? new Error("connection closed during exec"));
      ev.once("close", onGone);
      conn.exec(command, (err, stream) => {
        if (err) return reject(err);
        const out: Uint8Array[] = [];
        const errs: Uint8Array[] = [];
        let code = -1;
        let signal: string | undefined;
        stream.on("data", (d: Uint8Array) => out.push(d));
        stream.stderr.on("data", (d: Uint8Array) => errs.push(d));
        stream.on("exit", (c: number | null, sig?: string | null) => {
          code = c ?? -1;
          signal = sig ?? undefined;
        });
        stream.on("close", () => {
          ev.removeListener("close", onGone);
          const dec = (parts: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(parts));
          resolve({ code, signal, stdout: dec(out), stderr: dec(errs) });
        });
        stream.on("error", reject);
        stream.end(stdin ?? "");
      });
    });
  }

  /** Run a POSIX sh script as root (through sudo when the login user is not root). */
  runScript(script: string): Promise<ExecResult> {
    const t = this.target;
    if (t.user === "root" || !t.become) return this.exec("/bin/sh -s", script);
    if (t.becomePassword !== undefined) {
      // The password travels as the first stdin line, is read by the login shell and handed to
      // sudo through an askpass helper (never on a command line, never on disk), so sudo
      // consumes it only when it really asks: with NOPASSWD it cannot leak into `sh -s`.
      return becomeChecked(
        this.exec(SUDO_ASKPASS_WRAPPER, t.becomePassword + "\n" + script),
        t.user,
      );
    }
    return becomeChecked(this.exec("sudo -n -- /bin/sh -s", script), t.user);
  }

  /** Close the connection (and the jump hosts', last hop first). */
  close(): void {
    this.ssh.dispose();
    for (const j of [...this.jumps].reverse()) j.dispose();
  }
}

/**
 * Every haplay script prints to stdout before anything else, so a failed exec with no stdout
 * and a `sudo:` line on stderr is sudo refusing: report sudo's own last line.
 */
async function becomeChecked(res: Promise<ExecResult>, user: string): Promise<ExecResult> {
  const r = await res;
  if (r.code === 0 || r.stdout !== "") return r;
  const line = r.stderr.split("\n").filter((l) => l.startsWith("sudo: ")).pop();
  if (line) throw new BecomeError(`become failed: sudo as ${user}: ${line.slice(6).trim()}`);
  return r;
}

/** One SSH connection of a chain: a ProxyJump hop or the target itself. */
interface Hop {
  /** How messages name it: the inventory name, or "jump host NAME". */
  label: string;
  /** haplay's own names of it (inventory name, ssh_config alias). */
  names: string[];
  hostName: string;
  hostKeyAlias?: string;
  port: number;
  user: string;
  key?: string;
}

interface HopContext {
  known: KnownKey[];
  khFile: string;
  opts: SshOptions;
  agent?: string;
}

function tcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/**
 * Connect one hop: directly (the TCP peer address is then looked up in known_hosts first), or
 * over `sock`, a channel forwarded by the previous hop (no address of its own, as with
 * OpenSSH's ProxyJump).
 */
async function connectHop(hop: Hop, ctx: HopContext, sock?: unknown): Promise<NodeSSH> {
  const timeoutMs = ctx.opts.timeoutMs ?? 15000;
  let tcpSock: Socket | undefined;
  if (!sock) sock = tcpSock = await tcp(hop.hostName, hop.port, timeoutMs);
  const tiers = hostKeyNames({
    address: tcpSock?.remoteAddress,
    hostName: hop.hostName,
    hostKeyAlias: hop.hostKeyAlias,
    names: hop.names,
    port: hop.port,
  });
  // Ask for the key types on record (the host name's first, as OpenSSH orders them), so a
  // host known by one key type is not offered another and judged "unknown".
  const byName = keysForIds(ctx.known, [tiers[0][tiers[0].length - 1]]);
  const types = [...new Set([...byName, ...decidingKeys(ctx.known, tiers)].map((k) => k.type))];
  let rejection: Error | undefined;
  const hostVerifier = (blob: Uint8Array, done: (ok: boolean) => void): void => {
    const c = checkHostKey(ctx.known, tiers, blob);
    if (c.verdict === "match") return done(true);
    if (c.verdict === "unknown" && ctx.opts.acceptNewHostKeys) {
      const line = knownHostsLine([...new Set([hop.names[0], hop.hostName])], hop.port, blob);
      knownHostsWrites = knownHostsWrites.then(() =>
        Deno.writeTextFile(ctx.khFile, line, { append: true, create: true, mode: 0o600 })
      );
      return done(true);
    }
    fingerprint(blob).then((fp) => {
      const who = `the ${keyType(blob)} host key of ${hop.label} (${hop.hostName}:${hop.port}, ` +
        fp + ")";
      const at = `${ctx.khFile}:${c.line}`;
      rejection = new HostKeyError(
        c.verdict === "unknown"
          ? `${who} is not in ${ctx.khFile} under ${tiers.flat().join(", ")}; check it and ` +
            `add it, or run with --accept-new-host-keys`
          : c.verdict === "revoked"
          ? `REVOKED HOST KEY: ${who} is marked @revoked for ${c.name} in ${at}; refusing`
          : `REMOTE HOST IDENTIFICATION HAS CHANGED: ${who} does NOT match the key recorded ` +
            `for ${c.name} in ${at} (offending line); possible man-in-the-middle, or the host ` +
            `was reinstalled; refusing (once the new key is checked: ssh-keygen -R ` +
            `'${c.name}' -f ${ctx.khFile})`,
      );
      done(false);
    });
  };
  const config: ConnectConfig = {
    host: hop.hostName,
    port: hop.port,
    username: hop.user,
    readyTimeout: timeoutMs,
    keepaliveInterval: 5000,
    keepaliveCountMax: 3,
    hostVerifier,
    sock,
  };
  if (ctx.agent) config.agent = ctx.agent;
  if (types.length) config.algorithms = { serverHostKey: types };
  if (hop.key) config.privateKey = hop.key;
  const ssh = new NodeSSH();
  try {
    await ssh.connect(config as never);
  } catch (e) {
    ssh.dispose();
    tcpSock?.destroy();
    if (rejection) throw rejection;
    throw e;
  }
  return ssh;
}
