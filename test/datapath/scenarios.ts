/**
 * The data-path scenarios: one per LVS mode, each an inventory of `inventories/` plus what the
 * test must set up around haplay on the vmlab topology (routes of the client and the real
 * servers: the network an operator has, not what haplay deploys) and what it expects.
 *
 * Topology (vmlab/topology.ts): lan 198.18.10.0/24 (lb1 .11, lb2 .12, web1 .13, web2 .14),
 * client 198.18.11.15/24 on the same bridge in another subnet, so every path between client and
 * servers is a route the scenario chooses:
 * - NAT: real servers reach 198.18.11.0/24 only via the floating gateway 198.18.10.254 (a VIP of
 *   the directors): replies must pass the director. The client-side VIP is in the client's own
 *   subnet.
 * - DR (lo / REDIRECT), same-box DR: client and servers on-link to each other's subnet: replies
 *   go straight back, bypassing the director.
 * - DSR fwmark: like DR, and the client routes the service address (outside both subnets) via
 *   the directors' VRRP address.
 * @module
 */

/** One mode's scenario. */
export interface Scenario {
  /** Mode label of the results table. */
  mode: string;
  /** Inventory file under `inventories/`. */
  inventory: string;
  /** URL the client requests. */
  url: string;
  /** Address that moves with VRRP MASTER (shows who is MASTER). */
  vrrpVip: string;
  /** The directors (VRRP members). */
  directors: string[];
  /** Host names expected to answer (the real servers). */
  servers: string[];
  /** The real server whose web server the health-check step stops (not the MASTER). */
  victim: string;
  /** Replies pass the director (`director`: NAT) or go straight to the client (`direct`). */
  replies: "director" | "direct";
  /** Shell commands per host setting the scenario's network up (before the snapshot). */
  envUp: Record<string, string>;
  /** Shell commands per host undoing {@link envUp}. */
  envDown: Record<string, string>;
  /**
   * Long-lived TCP connections through a failover: the line-echo service (`echo` of the
   * inventory, port 7000 on the VIP) without connection sync, then again after deploying
   * `syncInventory` (the same plus connection_sync). `control`: the run without sync must break
   * every one (the new MASTER has no IPVS entry for them; NAT: its stack resets them, DR: it has
   * no route to the client, so the client's read times out). DR once kept all 4: the kernel's
   * sync daemons of the NAT mode's sync run were still running (fixed: lb/sync_daemons_sh.ts).
   */
  longLived?: { vip: string; port: number; syncInventory: string; control?: boolean };
  /**
   * Data-path features proven on the sync deploy (NAT): a UDP service with UDP_CHECK, and a
   * service with quorum 2 and a sorry server (`sorry`: the sorry server's host and port).
   */
  degradation?: { udpPort: number; quorumPort: number; sorry: { host: string; port: number } };
  /**
   * Drain web2 and undrain it, maintenance of the MASTER on and off (on the sync deploy; DR lo;
   * env HAPLAY_DP_DRAIN=0 leaves them out).
   */
  drain?: boolean;
}

const ONLINK_UP: Record<string, string> = {
  client: "ip route replace 198.18.10.0/24 dev eth0",
  web1: "ip route replace 198.18.11.0/24 dev eth0",
  web2: "ip route replace 198.18.11.0/24 dev eth0",
};
const ONLINK_DOWN: Record<string, string> = {
  client: "ip route del 198.18.10.0/24 dev eth0",
  web1: "ip route del 198.18.11.0/24 dev eth0",
  web2: "ip route del 198.18.11.0/24 dev eth0",
};

/** The five modes, in the order the test runs them. */
export const SCENARIOS: Scenario[] = [
  {
    mode: "NAT",
    inventory: "nat.yaml",
    url: "http://198.18.11.100/",
    vrrpVip: "198.18.11.100",
    directors: ["lb1", "lb2"],
    servers: ["web1", "web2"],
    victim: "web2",
    replies: "director",
    longLived: { vip: "198.18.11.100", port: 7000, syncInventory: "nat-sync.yaml", control: true },
    degradation: { udpPort: 5300, quorumPort: 7001, sorry: { host: "web1", port: 7002 } },
    envUp: {
      web1: "ip route replace 198.18.11.0/24 via 198.18.10.254",
      web2: "ip route replace 198.18.11.0/24 via 198.18.10.254",
    },
    envDown: {
      web1: "ip route del 198.18.11.0/24 via 198.18.10.254",
      web2: "ip route del 198.18.11.0/24 via 198.18.10.254",
    },
  },
  {
    mode: "DR (VIP on lo)",
    inventory: "dr-lo.yaml",
    url: "http://198.18.10.100/",
    vrrpVip: "198.18.10.100",
    directors: ["lb1", "lb2"],
    servers: ["web1", "web2"],
    victim: "web2",
    replies: "direct",
    longLived: {
      vip: "198.18.10.100",
      port: 7000,
      syncInventory: "dr-lo-sync.yaml",
      control: true,
    },
    // drain and maintenance under a request loop (HAPLAY_DP_DRAIN=0 leaves them out)
    drain: Deno.env.get("HAPLAY_DP_DRAIN") !== "0",
    envUp: ONLINK_UP,
    envDown: ONLINK_DOWN,
  },
  {
    mode: "DR (REDIRECT)",
    inventory: "dr-redirect.yaml",
    url: "http://198.18.10.101/",
    vrrpVip: "198.18.10.101",
    directors: ["lb1", "lb2"],
    servers: ["web1", "web2"],
    victim: "web2",
    replies: "direct",
    envUp: ONLINK_UP,
    envDown: ONLINK_DOWN,
  },
  {
    mode: "DSR (fwmark)",
    inventory: "dsr-fwmark.yaml",
    url: "http://198.18.12.100/",
    vrrpVip: "198.18.10.10",
    directors: ["lb1", "lb2"],
    servers: ["web1", "web2"],
    victim: "web2",
    replies: "direct",
    envUp: {
      ...ONLINK_UP,
      client: `${ONLINK_UP.client} && ip route replace 198.18.12.100/32 via 198.18.10.10`,
    },
    envDown: {
      ...ONLINK_DOWN,
      client: `ip route del 198.18.12.100/32 via 198.18.10.10; ${ONLINK_DOWN.client}`,
    },
  },
  {
    mode: "same-box DR",
    inventory: "same-box-dr.yaml",
    url: "http://198.18.10.5:8000/",
    vrrpVip: "198.18.10.5",
    directors: ["lb1", "lb2"],
    servers: ["lb1", "lb2"],
    victim: "lb2",
    replies: "direct",
    envUp: {
      client: ONLINK_UP.client,
      lb1: "ip route replace 198.18.11.0/24 dev eth0",
      lb2: "ip route replace 198.18.11.0/24 dev eth0",
    },
    envDown: {
      client: ONLINK_DOWN.client,
      lb1: "ip route del 198.18.11.0/24 dev eth0",
      lb2: "ip route del 198.18.11.0/24 dev eth0",
    },
  },
];
