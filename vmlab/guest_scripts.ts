/**
 * The scripts that run inside the VM lab's guests (they have no Deno): the initramfs `/init`,
 * the guests' PID 1 and the test web server's init.d script, plus the sshd drop-in. They are
 * baked into the cached image by `build.ts`; changing one changes the image's recipe hash, so
 * the next `vmlab build` / `vmlab up` re-images (without re-running debootstrap).
 * @module
 */

/**
 * `/init` of the shared initramfs (busybox, no udev): loads the virtio/ext4/rng modules listed
 * in `/mods/order`, mounts `/dev/vda` (the guest's qcow2 overlay over the shared image), copies
 * the guest's own files (appended per guest as a second cpio archive under `/guest/`: hostname,
 * addresses, SSH host keys, authorized keys) into it and switches to `vmlab-init`, or to
 * Debian's systemd when the kernel command line says `vmlab.init=systemd`.
 */
export const INITRAMFS_INIT = `#!/bin/busybox sh
# haplay vmlab initramfs: drivers, root on /dev/vda, this guest's own files, switch_root
B=/bin/busybox
$B mkdir -p /proc /sys /dev /newroot
$B mount -t proc proc /proc
$B mount -t devtmpfs dev /dev
for m in $($B cat /mods/order); do $B insmod "/mods/$m" || echo "vmlab-initramfs: insmod $m failed"; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 400 ]; do $B sleep 0.05; i=$((i+1)); done
if ! $B mount -t ext4 -o rw,noatime /dev/vda /newroot; then
  echo "vmlab-initramfs: cannot mount /dev/vda"; $B poweroff -f
fi
# only files: the image already has every directory with its owner and mode
if [ -d /guest ]; then
  cd /guest && $B find . -type f | while read -r f; do $B cp -p "$f" "/newroot/\${f#./}"; done
  cd /
fi
init=/usr/local/sbin/vmlab-init
for a in $($B cat /proc/cmdline); do [ "$a" = vmlab.init=systemd ] && init=/lib/systemd/systemd; done
$B mount --move /dev /newroot/dev
$B umount /proc
exec $B switch_root /newroot $init
`;

/**
 * PID 1 of a guest (`/usr/local/sbin/vmlab-init`, bash; no systemd): pseudo filesystems,
 * interfaces renamed by MAC (`/etc/vmlab/links`) and addressed (`/etc/vmlab/net`, an
 * `ip -batch` file), busybox syslogd, what Debian's rcS would do that matters here (`/etc/modules`,
 * `sysctl --system`, saved iptables rules) without the init.d overhead (every fork is slow under
 * TCG), sshd, then the enabled init.d services of `/etc/rc2.d` (keepalived when configured and
 * enabled, vmlab-web, ...). Touches `/run/vmlab-ready` and prints `vmlab-ready NAME` on the
 * console when done; reaps orphans; powers off on SIGTERM.
 */
export const GUEST_INIT = `#!/bin/bash
# PID 1 of a haplay vmlab guest: a small sysvinit. Console: ttyS0 (a file on the VM host).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
cd /
exec </dev/null >/dev/console 2>&1
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=755,nosuid,nodev,size=64m tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mkdir -p /run/lock /run/sshd && chmod 1777 /run/lock && chmod 755 /run/sshd
ln -sf /proc/self/fd /dev/fd
hostname -F /etc/hostname
echo "vmlab-init: $(hostname) up $(cut -d' ' -f1 /proc/uptime)s"
# interfaces by MAC: park every listed one under a temporary name, then name it
n=0
while read -r mac name; do
  for d in /sys/class/net/*; do
    if [ "$(cat "$d/address")" = "$mac" ]; then ip link set dev "\${d##*/}" name "vmtmp$n"; fi
  done
  n=$((n + 1))
done < /etc/vmlab/links
n=0
while read -r mac name; do ip link set dev "vmtmp$n" name "$name"; n=$((n + 1)); done < /etc/vmlab/links
ip -batch /etc/vmlab/net || echo "vmlab-init: network setup failed"
busybox syslogd -O /var/log/syslog
# rcS: kmod, procps, netfilter-persistent (only when there is something to do)
mods=$(sed -e 's/#.*//' /etc/modules 2>/dev/null | xargs)
[ -n "$mods" ] && modprobe -a $mods
sysctl -q --system >/dev/null 2>&1
if [ -s /etc/iptables/rules.v4 ] || [ -s /etc/iptables/rules.v6 ]; then
  /usr/sbin/netfilter-persistent start >>/var/log/vmlab-boot.log 2>&1
fi
/usr/sbin/sshd || echo "vmlab-init: sshd failed"
for s in /etc/rc2.d/S*; do
  case $s in *ssh|*sudo|*ipvsadm) continue ;; esac
  [ -x "$s" ] && "$s" start </dev/null >>/var/log/vmlab-boot.log 2>&1
done
touch /run/vmlab-ready
echo "vmlab-ready $(hostname) $(cut -d' ' -f1 /proc/uptime)s"
stop() {
  echo "vmlab-init: stopping"
  for s in /etc/rc2.d/S*; do [ -x "$s" ] && "$s" stop >/dev/null 2>&1; done
  sync; echo o > /proc/sysrq-trigger; sleep 5; exit 0
}
trap stop TERM INT
while :; do sleep 3600 & wait $!; done
`;

/**
 * `/etc/init.d/vmlab-web`: the guests' test application. busybox httpd on every port listed in
 * `/etc/vmlab/web-ports` (none: the script does nothing), serving `/`, `/index.html`,
 * `/health` and `/check.html` with the host name as body, from `/run/vmlab-web` (nothing it
 * writes is under /etc or /usr/local). `stop` waits until the ports are closed.
 */
export const WEB_INITD = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          vmlab-web
# Required-Start:    $network $remote_fs
# Required-Stop:     $network $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: haplay vmlab test web server (answers its host name)
### END INIT INFO
PORTS=$(cat /etc/vmlab/web-ports 2>/dev/null)
DOC=/run/vmlab-web
[ -n "$PORTS" ] || exit 0
pidf() { echo "/run/vmlab-web-$1.pid"; }
running() { [ -s "$(pidf "$1")" ] && kill -0 "$(cat "$(pidf "$1")")" 2>/dev/null; }
case "$1" in
  start)
    mkdir -p "$DOC"
    for f in index.html health check.html; do hostname > "$DOC/$f"; done
    for p in $PORTS; do
      running "$p" && continue
      start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$(pidf "$p")" \\
        --exec /bin/busybox -- httpd -f -p "$p" -h "$DOC"
    done ;;
  stop)
    for p in $PORTS; do
      start-stop-daemon --stop --quiet --oknodo --retry 5 --pidfile "$(pidf "$p")" --exec /bin/busybox
      rm -f "$(pidf "$p")"
    done ;;
  restart) "$0" stop; "$0" start ;;
  status)
    rc=0
    for p in $PORTS; do
      if running "$p"; then echo "vmlab-web :$p running"; else echo "vmlab-web :$p stopped"; rc=3; fi
    done
    exit $rc ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 1 ;;
esac
exit 0
`;

/** `/etc/ssh/sshd_config.d/00-vmlab.conf`: key-only root login, per-guest host keys. */
export const SSHD_CONF = `# haplay vmlab guest
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
LogLevel VERBOSE
`;
