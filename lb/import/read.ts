/**
 * The import's reader: ONE read-only exec per host that returns, framed, everything the mapper
 * needs (keepalived's config with its includes followed on the host, the scripts it names,
 * `/etc/default/keepalived`, sysctls, `lo` addresses and their persistence, nat/mangle rules,
 * fwmark policy routing, unit states). The script only reads: it writes no file (not even a
 * temp file), changes no rule, address or unit (the e2e test compares host snapshots before and
 * after and counts the execs in sshd's log).
 *
 * Framing: each item is a header line `@@HAPLAY-IMPORT <nonce> <kind> <name>` followed by one
 * line with the item's bytes in base64, so no content can break the frame.
 * @module
 */
import type { ConnectorFactory } from "../../engine/connector.ts";
import type { InventoryHost } from "../../engine/inventory.ts";

/** Depth limit of nested includes (a loop of includes must end). */
export const MAX_INCLUDE_DEPTH = 8;

/** What one host's read returned. */
export interface HostFacts {
  /** Files read, by absolute path (keepalived config and includes, scripts, persistence files). */
  files: Map<string, string>;
  /** Outputs of the read-only commands, by name (see {@link readScript}). */
  cmds: Map<string, string>;
  /** Paths named by the config (include or script) or probed that do not exist on the host. */
  missing: string[];
  /** The main keepalived config path (from DAEMON_ARGS `-f`, else the Debian default). */
  mainConf: string;
  /** Config files in the order the walk reached them (main first). */
  configFiles: string[];
}

/** The sh script of the one read exec; `nonce` marks the frame headers. */
export function readScript(nonce: string): string {
  return `export LC_ALL=C
M='@@HAPLAY-IMPORT ${nonce}'
b64() { base64 -w0 2>/dev/null; echo; }
item() { printf '%s %s %s\\n' "$M" "$1" "$2"; }
file() { if [ -f "$1" ] && [ -r "$1" ]; then item file "$1"; b64 < "$1"; else item missing "$1"; echo; fi; }
cmd() { n=$1; shift; item cmd "$n"; "$@" 2>&1 | b64; }
files() { for f in "$@"; do [ -e "$f" ] && file "$f"; done; }
conf=/etc/keepalived/keepalived.conf
if [ -f /etc/default/keepalived ]; then
  f=$(sed -n 's/^[^#]*DAEMON_ARGS=.*\\(-f\\|--use-file\\)[= ]*\\([^ "'"'"']*\\).*/\\2/p' /etc/default/keepalived | tail -n 1)
  [ -n "$f" ] && conf=$f
fi
item main "$conf"; echo
file /etc/default/keepalived
# every config file reached from the main one through include lines (globs and relative paths
# resolved as keepalived does: against the including file's directory), bounded depth
paths() {
  [ "$2" -gt ${MAX_INCLUDE_DEPTH} ] && return
  printf '%s\\n' "$1"
  [ -f "$1" ] || return
  dir=\${1%/*}
  sed -n 's/^[[:space:]]*include[[:space:]][[:space:]]*//p' "$1" | sed 's/[[:space:]]*[#!].*//; s/"//g' |
  while read -r pat; do
    case $pat in /*) ;; *) pat="$dir/$pat" ;; esac
    for g in $pat; do paths "$g" $(($2 + 1)); done
  done
}
cfgs=$(paths "$conf" 0 | awk '!s[$0]++')
item configs -; printf '%s\\n' "$cfgs" | b64
printf '%s\\n' "$cfgs" | while read -r f; do file "$f"; done
# the scripts the config names (vrrp_script script, notify*), absolute paths only
printf '%s\\n' "$cfgs" | while read -r f; do [ -f "$f" ] && sed -n \\
  's/^[[:space:]]*\\(script\\|notify[a-z_]*\\)[[:space:]][[:space:]]*"\\{0,1\\}\\(\\/[^" ]*\\).*/\\2/p' "$f"; done |
  awk '!s[$0]++' | while read -r s; do file "$s"; done
# haplay's own same-box DR files: the virtual servers a BACKUP's active link does not point at
files /etc/keepalived/haplay/vs-*.master.conf
files /etc/sysctl.conf /etc/sysctl.d/*.conf /etc/netplan/*.yaml /etc/network/interfaces \\
  /etc/network/interfaces.d/* /etc/iptables/rules.v4 /etc/iptables/rules.v6
net_sysctls() {
  sysctl -a 2>/dev/null |
    grep -E '^net\\.ipv4\\.(ip_forward|ip_nonlocal_bind|vs\\.[a-z_]+|conf\\.[^.]+\\.(arp_ignore|arp_announce|rp_filter)) '
}
cmd sysctl net_sysctls
cmd addr ip -o addr
cmd nat iptables-save -t nat
cmd mangle iptables-save -t mangle
cmd rule ip rule
ip rule 2>/dev/null | sed -n 's/.*fwmark.* lookup \\([^ ]*\\).*/\\1/p' | awk '!s[$0]++' |
  while read -r t; do cmd "route-$t" ip route show table "$t"; done
cmd keepalived-version keepalived --version
cmd keepalived-pid sh -c 'pidof keepalived || true'
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  cmd enabled-keepalived systemctl is-enabled keepalived
  cmd enabled-netfilter-persistent systemctl is-enabled netfilter-persistent
else
  cmd enabled-keepalived sh -c 'ls /etc/rc[2-5].d/ 2>/dev/null | grep -c "^S.*keepalived" || true'
  cmd enabled-netfilter-persistent sh -c 'ls /etc/rc[2-5].d/ 2>/dev/null | grep -c "^S.*netfilter-persistent" || true'
fi
exit 0
`;
}

const utf8 = new TextDecoder();

/** Parses the framed output of {@link readScript}. */
export function parseReadOutput(out: string, nonce: string): HostFacts {
  const facts: HostFacts = {
    files: new Map(),
    cmds: new Map(),
    missing: [],
    mainConf: "/etc/keepalived/keepalived.conf",
    configFiles: [],
  };
  const head = `@@HAPLAY-IMPORT ${nonce} `;
  const lines = out.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith(head)) continue;
    const rest = lines[i].slice(head.length);
    const sp = rest.indexOf(" ");
    const kind = rest.slice(0, sp);
    const name = rest.slice(sp + 1);
    const body = lines[i + 1] ?? "";
    const text = body.trim() === ""
      ? ""
      : utf8.decode(Uint8Array.from(atob(body.trim()), (c) => c.charCodeAt(0)));
    i++;
    if (kind === "file") facts.files.set(name, text);
    else if (kind === "missing") {
      if (!facts.missing.includes(name)) facts.missing.push(name);
    } else if (kind === "cmd") facts.cmds.set(name, text);
    else if (kind === "main") facts.mainConf = name;
    else if (kind === "configs") facts.configFiles = text.split("\n").filter(Boolean);
  }
  return facts;
}

/** Reads one host in exactly one exec (through the engine's connector: SSH, become as set). */
export async function readHost(host: InventoryHost, connect: ConnectorFactory): Promise<HostFacts> {
  const nonce = crypto.randomUUID().replaceAll("-", "");
  const c = await connect(host);
  try {
    const r = await c.runScript(readScript(nonce));
    if (!r.stdout.includes(`@@HAPLAY-IMPORT ${nonce} main `)) {
      const why = (r.stderr.trim().split("\n").pop() ?? "").slice(0, 200);
      throw new Error(`${host.name}: the read exec returned no facts (exit ${r.code}): ${why}`);
    }
    return parseReadOutput(r.stdout, nonce);
  } finally {
    c.close();
  }
}
