/**
 * sh that stops the kernel's IPVS sync daemons once keepalived.conf no longer asks for them.
 *
 * keepalived starts, switches and stops them only while its configuration has
 * `lvs_sync_daemon`: its VRRP process stops leftover daemons at (re)load and the current one at
 * exit only when the loaded configuration names one (`vrrp_ipvs_needed()`). A reload onto a
 * configuration without the line (a deploy that dropped `connection_sync`, a rollback of the run
 * that added it) leaves the kernel threads running: the backup one keeps loading the peer's
 * connection table into the BACKUP, so connections survive a failover nobody configured sync
 * for (measured in the VM lab: DR failovers kept 4 of 4 connections after the NAT mode's sync
 * run had been rolled back). The kernel threads are named `ipvs-m:*` / `ipvs-b:*`; looking for
 * them in /proc loads no module. Stopping them needs `ipvsadm`, which deploys install on
 * directors with virtual servers.
 * @module
 */
import { KEEPALIVED_CONF } from "./paths.ts";

/** sh (one block, always exit status 0): stops master and backup sync daemons when unconfigured. */
export const SYNC_DAEMONS_OFF_SH = [
  `if ! grep -qsE '^[[:space:]]*lvs_sync_daemon[[:space:]]' ${KEEPALIVED_CONF} && ` +
  `cat /proc/[0-9]*/comm 2>/dev/null | grep -qE '^ipvs-[mb]:' && command -v ipvsadm >/dev/null; then`,
  `  ipvsadm --stop-daemon master 2>/dev/null || true`,
  `  ipvsadm --stop-daemon backup 2>/dev/null || true`,
  `  echo "haplay: stopped the kernel's IPVS sync daemons (keepalived.conf has no lvs_sync_daemon)" >&2`,
  `fi`,
].join("\n");
