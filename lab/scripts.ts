/**
 * Shell scripts the namespace lab installs: the boot script that becomes each host's PID 1
 * (before `pivot_root`), the tiny init that keeps running as PID 1 afterwards, and the
 * `systemctl` shim for hosts without systemd. They are plain POSIX sh / bash on purpose: they
 * run inside the hosts, where there is no Deno.
 * @module
 */

/**
 * Boot script, written to `<lab dir>/boot.sh` and run by bash as PID 1 of a fresh PID namespace,
 * already inside the host's network, mount, UTS and IPC namespaces (started through
 * `nsenter --net=... unshare --mount --uts --ipc --pid --fork --propagation private`).
 *
 * Arguments: `FS HOST ADDR/BITS PIDFILE LAB INIT` where FS is the lab tmpfs (holding `base/` and
 * `HOST/{upper,work,root}`) and INIT is `lab` or `systemd`.
 *
 * It records its outer PID, configures the host's network (IPv6 off, `eth0` address, no default
 * route), mounts the host's overlay root (`lowerdir=FS/base:/`) and the pseudo filesystems,
 * makes /proc/sys read-only except /proc/sys/net, pivots into the new root and execs the init.
 */
export const BOOT_SH = `#!/bin/bash
# haplay lab host boot (PID 1 of the host's pid namespace, before pivot_root)
set -euo pipefail
FS=$1 H=$2 ADDR=$3 PIDF=$4 LAB=$5 INIT=$6
D=$FS/$H R=$FS/$H/root
# outer (root pid ns) PIDs: the inherited /proc still belongs to the parent pid namespace
read -r outer _ _ parent _ < /proc/self/stat
echo "$parent" > "$PIDF.parent"
echo "$outer" > "$PIDF"
echo "boot: $H pid $outer"
# network: this process already lives in the host's netns
for c in all default lo eth0; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6; done
# the NIC is plugged in; lab init hosts get their address here, systemd hosts from their own
# netplan file (the installer's) through networkd
if [ "$INIT" = systemd ]; then
  printf 'link set lo up\\nlink set eth0 up\\n' | ip -b -
else
  printf 'link set lo up\\naddr add %s dev eth0\\nlink set eth0 up\\n' "$ADDR" | ip -b -
fi
hostname "$H"
mount --make-rprivate /
mount -t overlay "haplay-$LAB-$H" -o "lowerdir=$FS/base:/,upperdir=$D/upper,workdir=$D/work" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
# only net.* sysctls are per network namespace: everything else under /proc/sys is global
mount --bind "$R/proc/sys" "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,ro "$R/proc/sys"
if [ -e "$R/proc/sysrq-trigger" ]; then mount --bind -o ro /dev/null "$R/proc/sysrq-trigger"; fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
if [ "$INIT" = systemd ]; then  # our cgroup ns root is this host's own cgroup2 subtree
  mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
fi
mount -t tmpfs -o mode=755,nosuid,nodev,size=64m tmpfs "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
mount -t tmpfs -o mode=755,nosuid,size=1m tmpfs "$R/dev"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r a b c <<<"$n"; mknod -m 666 "$R/dev/$a" c "$b" "$c"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
cd "$R"; mkdir -p .lab-oldroot
pivot_root . .lab-oldroot
cd /; umount -l /.lab-oldroot; rmdir /.lab-oldroot
if [ "$INIT" = systemd ]; then
  exec env -i container=haplay-lab PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --log-target=journal
fi
exec env -i /usr/local/sbin/lab-init
`;

/**
 * PID 1 of a host with the default (`lab`) init, installed as `/usr/local/sbin/lab-init` in the
 * base layer: starts busybox syslogd and sshd (logging to /var/log/sshd.log), starts init.d
 * services enabled through the systemctl shim, touches /run/lab-ready once sshd listens,
 * reaps orphans and stops on TERM.
 */
export const LAB_INIT = `#!/bin/bash
# PID 1 of a haplay lab host: syslogd + sshd, reaps orphans, stops on TERM.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
cd /
exec </dev/null >>/var/log/lab-init.log 2>&1
echo "lab-init: $(hostname) starting"
stop_all() {
  echo "lab-init: stopping"
  for s in $(ls /etc/lab/enabled 2>/dev/null); do /etc/init.d/$s stop; done
  [ -f /run/sshd.pid ] && kill "$(cat /run/sshd.pid)"
  exit 0
}
trap stop_all TERM INT
busybox syslogd -n -O /var/log/syslog &
mkdir -p /run/sshd /run/lock; chmod 0755 /run/sshd; chmod 1777 /run/lock
/usr/sbin/sshd -E /var/log/sshd.log || echo "lab-init: sshd failed"
# sshd writes its pid file once its listening sockets are bound
for i in $(seq 200); do [ -s /run/sshd.pid ] && break; sleep 0.02; done
for s in $(ls /etc/lab/enabled 2>/dev/null); do /etc/init.d/$s start; done
touch /run/lab-ready
while :; do sleep 3600 & wait $!; done
`;

/**
 * `systemctl` shim for hosts without systemd (installed as /usr/local/bin/systemctl): maps
 * units to /etc/init.d scripts. Unlike raw init.d scripts, `stop` waits for the daemon to exit
 * and `start`/`restart` fail (rc 1) if the daemon is not alive 1 s later.
 */
export const SYSTEMCTL_SHIM = `#!/bin/sh
# haplay lab systemctl shim: there is no systemd in lab hosts; units map to /etc/init.d scripts.
# Real systemd is detectable with: [ "$(cat /proc/1/comm)" = systemd ]  (not here).
# Unlike raw init.d scripts, stop waits for the daemon to exit and start/restart
# fail (rc 1) if the daemon is not alive 1s later (approximates systemd semantics).
# SYSTEMCTL_SKIP_REDIRECT: /lib/lsb/init-functions.d/40-systemd would bounce init.d
# scripts back to "systemctl" once /run/systemd/system exists (netplan generate creates it).
export SYSTEMCTL_SKIP_REDIRECT=1
# update-rc.d mirrors init.d enablement into systemd with "systemctl --root=/ enable|disable";
# with no systemd here that is a no-op (as if systemd were not installed).
for a; do case $a in --root|--root=*) exit 0;; esac; done
q=0; now=0; for a; do [ "$a" = --now ] && now=1; done
set -- $(for a; do case $a in -q|--quiet) echo "-q";; -*) ;; *) echo "$a";; esac; done)
[ "\${1:-}" = -q ] && { q=1; shift; }
cmd=\${1:-}; [ $# -gt 0 ] && shift
say() { [ $q = 1 ] || echo "$@"; }
oneshot() { case $1 in netfilter-persistent|procps|kmod) return 0;; esac; return 1; }
pidfile() { case $1 in ssh) echo /run/sshd.pid;; *) echo /run/$1.pid;; esac; }
alive() { if oneshot "$1"; then [ -f /run/lab-oneshot.$1 ]; return; fi
          f=$(pidfile "$1"); [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
unit() { u=\${1%.service}; [ "$u" = sshd ] && u=ssh; echo "$u"; }
do_stop() { /etc/init.d/$1 stop >/dev/null 2>&1; rm -f /run/lab-oneshot.$1
            i=0; while alive "$1" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ! alive "$1"; }
do_start() { /etc/init.d/$1 start >/dev/null 2>&1 || return 1
             if oneshot "$1"; then touch /run/lab-oneshot.$1; return 0; fi
             sleep 1; alive "$1"; }
rc=0
case $cmd in
  daemon-reload|daemon-reexec|reset-failed) exit 0;;
  start|stop|restart|reload|force-reload|try-restart|reload-or-restart|condrestart)
    for x; do u=$(unit "$x")
      [ -x /etc/init.d/$u ] || { echo "Failed to $cmd $x: Unit $u.service not found." >&2; exit 5; }
      case $cmd in
        start) alive $u || do_start $u || rc=1;;
        stop) do_stop $u || rc=1;;
        restart) do_stop $u; do_start $u || rc=1;;
        try-restart|condrestart) if alive $u; then do_stop $u; do_start $u || rc=1; fi;;
        reload|force-reload|reload-or-restart)
          if alive $u && ! oneshot $u; then /etc/init.d/$u reload >/dev/null 2>&1 || rc=1
          elif [ $cmd = reload-or-restart ] || oneshot $u; then do_stop $u; do_start $u || rc=1
          else echo "$u.service is not active, cannot reload." >&2; rc=1; fi;;
      esac
    done; exit $rc;;
  is-active) for x; do u=$(unit "$x"); if alive $u; then say active; else say inactive; rc=3; fi; done; exit $rc;;
  status) for x; do u=$(unit "$x"); if alive $u; then echo "* $u.service - active (running) pid $(cat $(pidfile $u) 2>/dev/null)"; else echo "* $u.service - inactive (dead)"; rc=3; fi; done; exit $rc;;
  enable|disable) for x; do u=$(unit "$x"); mkdir -p /etc/lab/enabled
      if [ $cmd = enable ]; then touch /etc/lab/enabled/$u; [ $now = 1 ] && { alive $u || do_start $u || rc=1; }
      else rm -f /etc/lab/enabled/$u; [ $now = 1 ] && { do_stop $u || rc=1; }; fi; done; exit $rc;;
  is-enabled) for x; do u=$(unit "$x"); if [ -e /etc/lab/enabled/$u ]; then say enabled; else say disabled; rc=1; fi; done; exit $rc;;
  is-system-running) say offline; exit 1;;
  *) echo "lab systemctl shim: unsupported command '$cmd'" >&2; exit 1;;
esac
`;

/**
 * Wrapper run by `setsid -f /bin/sh -c WRAPPER sh CONSOLE CGROUP CMD...`: sends all output to the
 * host's console file, optionally moves itself into a cgroup (systemd hosts), then execs CMD.
 */
export const DETACH_SH =
  'c=$1; g=$2; shift 2; exec </dev/null >>"$c" 2>&1; if [ -n "$g" ]; then echo $$ > "$g/cgroup.procs" || exit 1; fi; exec "$@"';

/** Name of the boot-address netplan file of systemd hosts (as Ubuntu's installer names it). */
export const BOOT_NETPLAN = "00-installer-config.yaml";

/**
 * The installer's netplan file of a systemd host: `eth0` with its lab address, no gateway, no
 * IPv6 (no link-local addresses, no router advertisements), like the lab's bash-init hosts.
 */
export function bootNetplan(ip: string, bits = 24): string {
  return [
    "# written by the haplay lab at create time, like an installer's netplan file",
    "network:",
    "  version: 2",
    "  renderer: networkd",
    "  ethernets:",
    "    eth0:",
    `      addresses: [${ip}/${bits}]`,
    "      link-local: []",
    "      accept-ra: false",
    "",
  ].join("\n");
}
