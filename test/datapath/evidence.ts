/**
 * What the guests show around a failover of long-lived connections: the client's neighbour
 * entry for the VIP, each director's IPVS sync daemons, connection entries for the echo port and
 * `net.ipv4.vs.*` sysctls, and (tcpdump, inbound) which guest the client's packets for the echo
 * port reach with the client's own source MAC (a real server seeing them means the client sends
 * to it directly: the DR ARP trap) or with a director's (forwarded).
 * @module
 */
import { vmExec, vmSh } from "../../vmlab/exec.ts";
import type { VmLab } from "../../vmlab/types.ts";
import type { Answer } from "./probe.ts";

/** One look at the guests. */
export interface Look {
  /** `ip neigh show to VIP` in the client (MAC and state). */
  clientNeigh: string;
  /** Per director: sync daemons, echo-port connection entries, vs sysctls. */
  directors: Record<string, { daemons: string; conns: number; sysctls: string }>;
}

/** Started captures; {@link Evidence.stop} ends them and counts. */
export interface Evidence {
  /** Takes a look now. */
  look(): Promise<Look>;
  /** Ends the captures: per guest, client packets for the port (from the client's MAC / other). */
  stop(): Promise<Record<string, { fromClient: number; forwarded: number }>>;
  /** MAC of each guest's eth0 (to name the client's neighbour entry). */
  macs: Record<string, string>;
}

/** Starts tcpdump on `hosts` for packets from the client to `vip:port`. */
export async function startEvidence(
  lab: VmLab,
  directors: string[],
  hosts: string[],
  vip: string,
  port: number,
): Promise<Evidence> {
  const macs: Record<string, string> = {};
  await Promise.all(["client", ...hosts].map(async (h) => {
    macs[h] = (await vmSh(lab, h, "cat /sys/class/net/eth0/address")).trim();
  }));
  const filter = `tcp and dst host ${vip} and dst port ${port}`;
  await Promise.all(hosts.map((h) =>
    vmSh(
      lab,
      h,
      "rm -f /tmp/dp-ev.pcap /tmp/dp-ev.err; " +
        `setsid tcpdump -p -n -U -i eth0 -Q in -w /tmp/dp-ev.pcap '${filter}' ` +
        ">/dev/null 2>/tmp/dp-ev.err </dev/null & echo $! >/tmp/dp-ev.pid; " +
        "i=0; until grep -q listening /tmp/dp-ev.err; do i=$((i+1)); [ $i -lt 150 ] || exit 1; " +
        "sleep 0.2; done",
    )
  ));
  const look = async (): Promise<Look> => {
    const out: Look = { clientNeigh: "", directors: {} };
    await Promise.all([
      (async () => {
        const n = (await vmSh(lab, "client", `ip neigh show to ${vip} dev eth0`)).trim();
        const mac = /lladdr (\S+)/.exec(n)?.[1];
        const who = Object.entries(macs).find(([, m]) => m === mac)?.[0];
        out.clientNeigh = `${n || "none"}${who ? ` (${who})` : ""}`;
      })(),
      ...directors.map(async (d) => {
        const r = await vmSh(
          lab,
          d,
          "ipvsadm -L --daemon 2>&1 | tr '\\n' ';'; echo; " +
            `ipvsadm -Lnc 2>/dev/null | grep -c ' ${vip}:${port} ' ; ` +
            "cd /proc/sys/net/ipv4/vs 2>/dev/null && grep . sloppy_tcp expire_nodest_conn " +
            "conntrack conn_reuse_mode backup_only | tr '\\n' ' '; true",
        );
        const [daemons, conns, sysctls] = r.split("\n");
        out.directors[d] = {
          daemons: daemons.trim() || "none",
          conns: Number(conns.trim()),
          sysctls: (sysctls ?? "").trim(),
        };
      }),
    ]);
    return out;
  };
  const stop = async () => {
    const out: Record<string, { fromClient: number; forwarded: number }> = {};
    await Promise.all(hosts.map(async (h) => {
      const r = await vmSh(
        lab,
        h,
        "kill -INT $(cat /tmp/dp-ev.pid) 2>/dev/null; sleep 1; " +
          `echo $(tcpdump -n -r /tmp/dp-ev.pcap 'ether src ${macs.client}' 2>/dev/null | wc -l) ` +
          `$(tcpdump -n -r /tmp/dp-ev.pcap 'not ether src ${macs.client}' 2>/dev/null | wc -l); ` +
          "rm -f /tmp/dp-ev.pcap /tmp/dp-ev.err /tmp/dp-ev.pid",
      );
      const [a, b] = r.trim().split(/\s+/).map(Number);
      out[h] = { fromClient: a, forwarded: b };
    }));
    return out;
  };
  return { look, stop, macs };
}

/** One line of a {@link Look}. */
export function lookText(l: Look): string {
  return `client neigh ${l.clientNeigh}; ` +
    Object.entries(l.directors).map(([d, x]) =>
      `${d}: daemons ${x.daemons}, ${x.conns} echo entries, ${x.sysctls}`
    ).join("; ");
}

/** One request of {@link curlsExplained}: the answer, plus curl's error and local port. */
export interface ExplainedAnswer extends Answer {
  /** curl's exit code and message (failures only). */
  error?: string;
  /** The client's source port (0 when curl had none). */
  localPort: number;
}

/**
 * Like `curls` of probe.ts (`count` requests, one after the other, `connectS` to connect), but
 * each failure keeps curl's exit code and message and every request its source port: what a
 * failed request's message needs (a refused connect names a real server that is down, a
 * timeout a packet dropped, a reused source port an IPVS connection entry).
 */
export async function curlsExplained(
  lab: VmLab,
  url: string,
  count: number,
  connectS = 3,
): Promise<ExplainedAnswer[]> {
  const sh = [
    `i=0; while [ "$i" -lt ${count} ]; do`,
    `  s=$(date +%s.%N)`,
    `  b=$(curl -fsS --connect-timeout ${connectS} -m ${2 * connectS} ` +
    `-w ' %{local_port}' ${url} 2>/tmp/dp-curl.err); rc=$?`,
    `  e=$(date +%s.%N)`,
    `  if [ $rc = 0 ]; then echo "$s $e $rc $(echo $b | tr -s ' ')";`,
    `  else echo "$s $e $rc - $(echo "0 $b" | awk '{print $NF}') $(tr '\\n' ' ' </tmp/dp-curl.err)"; fi`,
    `  i=$((i + 1))`,
    `done; rm -f /tmp/dp-curl.err`,
  ].join("\n");
  const r = await vmExec(lab, "client", sh, {
    timeoutMs: (count * (2 * connectS + 2) + 60) * 1000,
  });
  if (r.code !== 0) throw new Error(`curl loop on client failed (${r.code}): ${r.stderr.trim()}`);
  return parseExplained(r.stdout);
}

/** Parses {@link curlsExplained}'s lines (`S E 0 BODY PORT` or `S E RC - PORT MESSAGE`). */
export function parseExplained(out: string): ExplainedAnswer[] {
  return out.trim().split("\n").filter((l) => l.trim()).map((l) => {
    const [s, e, rc, body, port, ...msg] = l.trim().split(" ");
    const ok = rc === "0" && body !== "-";
    return {
      t: Number(s),
      duration: Number(e) - Number(s),
      body: ok ? body : null,
      localPort: Number(port) || 0,
      ...(ok ? {} : { error: `exit ${rc}: ${msg.join(" ").trim()}` }),
    };
  });
}

/** `2 failed: port 40022 exit 7: curl: (7) ... ; ...` (empty when none failed). */
export function failuresText(a: ExplainedAnswer[]): string {
  const f = a.filter((x) => x.body === null);
  if (!f.length) return "";
  return `${f.length} failed: ` +
    f.map((x) => `#${a.indexOf(x) + 1} port ${x.localPort} ${x.error}`).join("; ");
}

/** `ipvsadm -Lnc` of `host` on one line (entries separated by `|`; the header dropped). */
export async function ipvsConns(lab: VmLab, host: string): Promise<string> {
  const out = await vmSh(lab, host, "ipvsadm -Lnc 2>&1 | tail -n +3 || true");
  const lines = out.trim().split("\n").map((l) => l.trim().replace(/\s+/g, " ")).filter(Boolean);
  return lines.length ? `${lines.length} entries: ${lines.join(" | ")}` : "no entries";
}
