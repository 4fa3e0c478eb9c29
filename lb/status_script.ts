/**
 * `deno task status`, the host side and its pure parser: one POSIX sh script per director that
 * asks the running keepalived for its state (SIGUSR1 makes it write its data dump,
 * `/tmp/keepalived.data`; a lock keeps two status readers from truncating each other's dump),
 * and prints the host's addresses, the kernel's IPVS table (`/proc/net/ip_vs`: present
 * whenever IPVS is loaded, with or without ipvsadm) and the drain files of `deno task drain`.
 * Nothing of haplay's is changed.
 * @module
 */
import { KEEPALIVED_ALIVE_FNS } from "./alive_sh.ts";
import { KEEPALIVED_PIDS } from "./paths.ts";
import { DRAIN_GLOB } from "./_drain_files.ts";

/** Where keepalived writes its VRRP data dump on SIGUSR1 (2.0 … 2.3). */
export const KEEPALIVED_DATA = "/tmp/keepalived.data";
/** Lock held while a status reader waits for keepalived's dump. */
export const STATUS_LOCK = "/run/haplay-status.lock";

/** The director's script: sections `@@ NAME` then raw lines. */
export function statusScript(): string {
  return `${KEEPALIVED_ALIVE_FNS}
echo "@@ keepalived"
if hp_ka_main; then
  pid=$(cat ${KEEPALIVED_PIDS[0]})
  echo "running $pid $(hp_ka_children)"
  exec 9>${STATUS_LOCK}
  flock -w 5 9 2>/dev/null || true
  d=${KEEPALIVED_DATA}
  rm -f "$d"; kill -USR1 "$pid" 2>/dev/null
  # the dump is written in one go by the VRRP child: wait for its topology, then for its size to
  # stop growing (2 s bound; an old keepalived without the dump just shows no instances)
  i=0; last=-1
  while [ $i -lt 40 ]; do
    if grep -q 'VRRP Topology' "$d" 2>/dev/null; then
      s=$(wc -c < "$d"); [ "$s" = "$last" ] && break; last=$s
    fi
    i=$((i + 1)); sleep 0.05
  done
  echo "@@ vrrp"
  # only the VRRP Topology section: interfaces and track scripts have "State = ..." lines too
  awk '/^------< / { t = /VRRP Topology/; next }
    t && /^ *(VRRP Instance|State|Priority|Effective priority|Virtual Router ID) = /' "$d" 2>/dev/null
else
  echo "stopped"
fi
echo "@@ enabled"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then systemctl is-enabled keepalived 2>/dev/null
elif ls /etc/rc[2345].d/S*keepalived >/dev/null 2>&1; then echo enabled; else echo disabled; fi
echo "@@ addr"
ip -o addr show 2>/dev/null | awk '{ print $2, $4 }'
echo "@@ ipvs"
cat /proc/net/ip_vs 2>/dev/null || echo "none"
echo "@@ drain"
for f in ${DRAIN_GLOB}; do [ -e "$f" ] && echo "\${f##*/}"; done
echo "@@ end"
`;
}

/** One VRRP instance as the running keepalived reports it. */
export interface LiveInstance {
  name: string;
  state: string;
  vrid?: number;
  priority?: number;
  effectivePriority?: number;
}

/** A real server row of the kernel's IPVS table. */
export interface IpvsDest {
  address: string;
  port: number;
  forward: string;
  weight: number;
  active: number;
  inactive: number;
}

/** A virtual service of the kernel's IPVS table. */
export interface IpvsService {
  protocol: "TCP" | "UDP" | "SCTP" | "FWM";
  /** Address (TCP/UDP/SCTP) or the firewall mark as a decimal string (FWM). */
  address: string;
  port?: number;
  scheduler: string;
  /** `persistent` timeout in seconds (persistence_timeout), when set. */
  persistent?: number;
  /** One-packet scheduling (`ops`). */
  onePacket?: boolean;
  dests: IpvsDest[];
}

/** What one director reported. */
export interface DirectorFacts {
  keepalived: { running: boolean; pid?: number; children: number; enabled: string };
  instances: LiveInstance[];
  /** `dev address/prefix`, e.g. `lo 198.18.0.100/32`. */
  addresses: string[];
  /** The kernel's IPVS table; undefined when the kernel has no IPVS. */
  ipvs?: IpvsService[];
  /** Base names of the drain files (`deno task drain`) on the director. */
  drains: string[];
}

/** An IPv6 address in its RFC 5952 text form (the kernel prints all eight groups, zero-padded). */
export function canonicalIpv6(a: string): string {
  const [head, tail] = a.toLowerCase().split("::");
  const h = head ? head.split(":") : [];
  const t = tail === undefined ? [] : tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array(Math.max(0, 8 - h.length - t.length)).fill("0");
  const g = [...h, ...fill, ...t].map((x) => x.replace(/^0+(?=.)/, ""));
  if (g.length !== 8) return a.toLowerCase();
  // the longest run of two or more zero groups becomes "::" (the first of equal runs)
  let best = -1, len = 0;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === "0") j++;
    if (j - i > len && j - i >= 2) [best, len] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return g.join(":");
  return `${g.slice(0, best).join(":")}::${g.slice(best + len).join(":")}`;
}

function hexIp(h: string): string {
  if (h.length === 8) return [0, 2, 4, 6].map((i) => parseInt(h.slice(i, i + 2), 16)).join(".");
  // IPv6 in /proc/net/ip_vs: [2001:0db8:0000:...:0001], textual but not compressed
  return canonicalIpv6(h.replace(/^\[|\]$/g, ""));
}

function hostPort(s: string): { address: string; port: number } {
  const i = s.lastIndexOf(":");
  return { address: hexIp(s.slice(0, i)), port: parseInt(s.slice(i + 1), 16) };
}

/** The flags after a service's scheduler: `ops`, `persistent SECONDS NETMASK`. */
function serviceFlags(rest: string): Pick<IpvsService, "persistent" | "onePacket"> {
  const p = /\bpersistent\s+(\d+)/.exec(rest);
  return {
    ...(p ? { persistent: Number(p[1]) } : {}),
    ...(/\bops\b/.test(rest) ? { onePacket: true } : {}),
  };
}

/**
 * Parses `/proc/net/ip_vs` (pure). Its format (the kernel's `ip_vs_info_seq_show`): a service
 * line `PROTO  ADDR:PORT SCHED [ops] [persistent SECONDS NETMASK]` (IPv4 and ports in hex,
 * IPv6 in brackets) or `FWM  MARK SCHED ...` (mark in hex), then one `  -> ADDR:PORT FORWARD
 * WEIGHT ACTIVE INACTIVE` line per real server, FORWARD one of Masq, Local, Tunnel, Route.
 */
export function parseIpVs(lines: string[]): IpvsService[] {
  const out: IpvsService[] = [];
  for (const l of lines) {
    const dest = /^\s+->\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(l);
    if (dest) {
      if (!out.length) continue;
      out.at(-1)!.dests.push({
        ...hostPort(dest[1]),
        forward: dest[2],
        weight: Number(dest[3]),
        active: Number(dest[4]),
        inactive: Number(dest[5]),
      });
      continue;
    }
    const svc = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)(.*)$/.exec(l);
    if (svc) {
      const hp = hostPort(svc[2]);
      out.push({
        protocol: svc[1] as IpvsService["protocol"],
        address: hp.address,
        port: hp.port,
        scheduler: svc[3],
        ...serviceFlags(svc[4]),
        dests: [],
      });
      continue;
    }
    const fwm = /^FWM\s+([0-9A-Fa-f]+)\s+(\S+)(.*)$/.exec(l);
    if (fwm) {
      out.push({
        protocol: "FWM",
        address: String(parseInt(fwm[1], 16)),
        scheduler: fwm[2],
        ...serviceFlags(fwm[3]),
        dests: [],
      });
    }
  }
  return out;
}

/** Parses the status script's output (pure; unknown lines are ignored). */
export function parseStatus(stdout: string): DirectorFacts {
  const sec = new Map<string, string[]>();
  let cur = "";
  for (const l of stdout.split("\n")) {
    const m = /^@@ (\w+)$/.exec(l);
    if (m) {
      cur = m[1];
      sec.set(cur, []);
    } else if (cur) sec.get(cur)!.push(l);
  }
  if (!sec.has("end")) throw new Error("status: the host's output is incomplete");
  const ka = (sec.get("keepalived") ?? [])[0]?.split(" ") ?? [];
  const instances: LiveInstance[] = [];
  for (const l of sec.get("vrrp") ?? []) {
    const m = /^\s*([A-Za-z ]+?) = (.*)$/.exec(l);
    if (!m) continue;
    const k = m[1].toLowerCase(), v = m[2].trim();
    if (k === "vrrp instance") instances.push({ name: v, state: "UNKNOWN" });
    const i = instances.at(-1);
    if (!i) continue;
    if (k === "state" && i.state === "UNKNOWN") i.state = v;
    else if (k === "virtual router id") i.vrid = Number(v);
    else if (k === "priority") i.priority = Number(v);
    else if (k === "effective priority") i.effectivePriority = Number(v);
  }
  const ipvsLines = sec.get("ipvs") ?? [];
  return {
    keepalived: {
      running: ka[0] === "running",
      pid: ka[0] === "running" ? Number(ka[1]) : undefined,
      children: ka[0] === "running" ? Number(ka[2] ?? 0) : 0,
      enabled: (sec.get("enabled") ?? [])[0]?.trim() || "unknown",
    },
    instances,
    addresses: (sec.get("addr") ?? []).filter((l) => l.trim()),
    ipvs: ipvsLines[0]?.trim() === "none" ? undefined : parseIpVs(ipvsLines),
    drains: (sec.get("drain") ?? []).map((l) => l.trim()).filter(Boolean),
  };
}
