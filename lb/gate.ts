/**
 * The rolling order and the VIP gate of a load-balancer rollout: which LB goes first (BACKUPs
 * by priority, the host holding the VIP right now last), whether a rollout is needed at all
 * (nothing serving: all at once), and the gate each changed LB must pass before the next one is
 * touched (keepalived alive with a clean config test, then the VIP held by exactly one LB,
 * steadily). Used by the site playbook's LB play (`rolling`), next to `verify`.
 * @module
 */
import type { GateResult, HookContext, HostContext } from "../engine/types.ts";
import { parseKv, q } from "../engine/shell.ts";
import { KEEPALIVED_ALIVE_FNS } from "./alive_sh.ts";
import { CHECKER, KEEPALIVED_CONF } from "./paths.ts";
import { lbView } from "./context.ts";
import { allClusters, instanceVips, interfaceOf, rollingOrder } from "./cluster.ts";

/**
 * Rolling order from static facts: load balancers by ascending VRRP priority of their first
 * instance (BACKUPs first, the expected MASTER last); other hosts keep their place before them.
 */
export function rollingHosts(hosts: HostContext[]): HostContext[] {
  if (!hosts.length) return hosts;
  const all = hosts[0].all;
  const rank = new Map<string, number>();
  for (const c of allClusters(all)) rollingOrder(c).forEach((n, i) => rank.set(n, i));
  return hosts.map((h, i) => ({ h, i, r: rank.get(h.name) ?? -1 }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.h);
}

/** The first VIP of the host's first VRRP instance, its device, and VRRP's settle time. */
function firstVip(host: HostContext): { vip: string; dev: string; settleS: number } | undefined {
  const v = lbView(host);
  const inst = v?.cluster.cfg.vrrp_instances[0];
  if (!v || !inst) return undefined;
  const vip = instanceVips(inst)[0];
  // keepalived's master-down interval (3 × advert_int + skew < 1 s): a host that stops hearing
  // its MASTER (e.g. after a virtual_router_id change) claims the VIP only after it
  return {
    vip: vip.address,
    dev: vip.dev ?? interfaceOf(v.cluster.cfg, v.member, inst),
    settleS: 3 * (inst.advert_int ?? 1) + 1,
  };
}

/** sh printing `master=1` when the host holds its first instance's first VIP, else `master=0`. */
export function holdsVipScript(host: HostContext): string | undefined {
  const f = firstVip(host);
  if (!f) return undefined;
  return `if ip -o addr show dev ${q(f.dev)} 2>/dev/null | grep -qF ${q(` ${f.vip}/`)}; ` +
    `then echo master=1; else echo master=0; fi`;
}

/**
 * The live rolling order: {@link rollingHosts}, then whichever load balancer holds the VIP right
 * now (the current MASTER, whatever its priority) moved to the very end. One short exec per LB.
 */
export async function liveOrder(hosts: HostContext[], ctx: HookContext): Promise<string[]> {
  const sorted = rollingHosts(hosts);
  const masters = new Set<string>();
  await Promise.all(sorted.map(async (h) => {
    if (!holdsVipScript(h)) return;
    try {
      // the play's orderProbe (holdsVipScript), answered by the run's first probe round trip
      if (/^master=1$/m.test(await ctx.probed(h.name))) masters.add(h.name);
    } catch {
      // unreachable now: its deploy will say so; keep its static place
    }
  }));
  return [
    ...sorted.filter((h) => !masters.has(h.name)),
    ...sorted.filter((h) => masters.has(h.name)),
  ]
    .map((h) => h.name);
}

/**
 * Whether the load-balancer play must roll one host at a time: yes as soon as any load balancer
 * holds its VIP now (from the first probe's `orderProbe`, no extra exec). When none does (a first
 * install, or keepalived down everywhere) nothing is serving, and all load balancers converge at
 * once; their gates still run.
 */
export async function rollingIf(hosts: HostContext[], ctx: HookContext): Promise<boolean> {
  const held = await Promise.all(hosts.map(async (h) => {
    if (!holdsVipScript(h)) return false;
    try {
      return /^master=1$/m.test(await ctx.probed(h.name));
    } catch {
      return true; // unknown: roll, to be safe
    }
  }));
  return held.some(Boolean);
}

/**
 * Whether the load-balancer play may run at the same time as the real-server play before it:
 * only on a first install, when no load balancer holds a VIP ({@link rollingIf} false, from the
 * first probe, no extra exec). Nothing is serving then, so no client can be forwarded to a real
 * server that is not ready yet; the run still ends (and verify runs) after both plays, and every
 * load balancer is still gated.
 */
export async function firstInstall(hosts: HostContext[], ctx: HookContext): Promise<boolean> {
  return !(await rollingIf(hosts, ctx));
}

/** sh: keepalived (and a child) running and the live keepalived.conf passing the validator. */
export const GATE_SCRIPT = `${KEEPALIVED_ALIVE_FNS}
if hp_ka_main; then echo running=1; else echo running=0; fi
echo "children=$(hp_ka_children)"
_out=$(${CHECKER} ${KEEPALIVED_CONF} 2>&1); echo "conftest=$?"
printf 'conftest_out=%s\n' "$(printf '%s' "$_out" | tail -n 3 | tr '\n' ' ' | cut -c1-200)"
`;

/** Reads the gate script's output. */
export function gateResult(stdout: string): GateResult {
  const f = parseKv(stdout);
  if (f.running !== "1" || !(Number(f.children) >= 1)) {
    return { ok: false, detail: "keepalived (or its VRRP process) is not running" };
  }
  if (f.conftest !== "0") {
    return { ok: false, detail: `keepalived.conf fails its test: ${f.conftest_out ?? ""}` };
  }
  return { ok: true, detail: "keepalived running, config test clean" };
}

/** Samples taken over one VIP window, and the pause between them (1 s in all). */
const SAMPLES = 6;
const SAMPLE_GAP_S = 0.2;

/**
 * sh: after `waitS` seconds, samples whether the host holds its first VIP six times over 1 s;
 * prints `vip_samples=` and a 0/1 per sample (empty for a host that is no load balancer).
 */
export function vipSamplesScript(host: HostContext, waitS = 0): string {
  const f = firstVip(host);
  if (!f) return "echo vip_samples=";
  const holds = `ip -o addr show dev ${q(f.dev)} 2>/dev/null | grep -qF ${q(` ${f.vip}/`)}`;
  // VRRP settle, the whole time even once this host holds the VIP: a peer that starts later
  // with a higher priority takes it over within that time, and a window taken before would be
  // stale (the gate would then resample every member: one more exec each)
  const settle = waitS > 0 ? `sleep ${waitS}\n` : "";
  return `${settle}_s=; _i=0
while [ "$_i" -lt ${SAMPLES} ]; do
  if ${holds}; then _s="\${_s}1"; else _s="\${_s}0"; fi
  _i=$((_i + 1)); [ "$_i" -lt ${SAMPLES} ] && sleep ${SAMPLE_GAP_S}
done
echo "vip_samples=$_s"
`;
}

/**
 * After a load balancer changed, before the next one is touched: keepalived must run with a
 * clean config, or the engine rolls this host back and stops the rollout. Runs at the end of
 * the host's own apply script (no extra round trip), and then waits there for VRRP to settle
 * and samples the host's own VIP ownership for {@link vipGate}.
 */
export const lbGateScript = {
  script: (host: HostContext): string | undefined =>
    lbView(host)
      ? `${GATE_SCRIPT}${vipSamplesScript(host, firstVip(host)?.settleS ?? 0)}`
      : undefined,
  check: (host: HostContext, out: { stdout: string }): GateResult =>
    lbView(host) ? gateResult(out.stdout) : { ok: true, detail: "not a load balancer" },
};

/** The same gate as a hook (one exec): for playbooks that check a host outside its apply. */
export async function lbGate(host: HostContext, ctx: HookContext): Promise<GateResult> {
  if (!lbView(host)) return { ok: true, detail: "not a load balancer" };
  const r = await ctx.run(host.name, GATE_SCRIPT);
  return gateResult(r.stdout);
}

/** One VIP window of each host: its samples ("" when unreachable or no load balancer). */
async function windows(
  names: string[],
  host: HostContext,
  ctx: HookContext,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(names.map(async (m) => {
    const peer = host.all.get(m);
    if (!peer || !firstVip({ ...peer, all: host.all })) return;
    const r = await ctx.run(m, vipSamplesScript({ ...peer, all: host.all }))
      .catch(() => ({ stdout: "" }));
    out.set(m, parseKv(r.stdout).vip_samples ?? "");
  }));
  return out;
}

/** The hosts steadily holding the VIP in `w`, or undefined when some window was not steady. */
function steadyHolders(w: Map<string, string>): string[] | undefined {
  const holders: string[] = [];
  for (const [m, s] of w) {
    if (/^1+$/.test(s)) holders.push(m);
    else if (!/^0+$/.test(s)) return undefined; // flapping, or not sampled
  }
  return holders;
}

/**
 * The VRRP part of the gate: the first VIP of the host's first instance is held by exactly one
 * load balancer of its cluster, steadily over a 1 s window, once VRRP had time to settle after
 * the change. The changed host waited and sampled itself at the end of its apply script
 * ({@link lbGateScript}); each peer samples one window now, so a converge costs each peer one
 * exec. While an election is still going on (a window not steady, or not exactly one holder),
 * every member samples again, for up to 6 s more.
 */
export async function vipGate(
  host: HostContext,
  ctx: HookContext,
  applied?: { stdout: string },
): Promise<GateResult> {
  const v = lbView(host);
  const f = firstVip(host);
  if (!v || !f) return { ok: true, detail: v ? "no VRRP instance" : "not a load balancer" };
  const members = v.cluster.members.map((m) => m.name);
  const own = applied && parseKv(applied.stdout).vip_samples;
  let w: Map<string, string>;
  if (own) {
    w = await windows(members.filter((m) => m !== host.name), host, ctx);
    w.set(host.name, own);
  } else {
    await new Promise((r) => setTimeout(r, f.settleS * 1000));
    w = await windows(members, host, ctx);
  }
  const deadline = Date.now() + 6000;
  let holders = steadyHolders(w);
  while (holders?.length !== 1 && Date.now() < deadline) {
    w = await windows(members, host, ctx);
    holders = steadyHolders(w);
  }
  if (holders?.length === 1) return { ok: true, detail: `VIP ${f.vip} held by ${holders[0]} only` };
  const seen = [...w].map(([m, s]) => `${m} ${s || "unreachable"}`).join(", ");
  return {
    ok: false,
    detail: holders
      ? `VIP ${f.vip} held by ${holders.length ? holders.join(" and ") : "no load balancer"}`
      : `VIP ${f.vip} ownership not steady (samples: ${seen})`,
  };
}
