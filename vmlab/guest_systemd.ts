/**
 * What the image carries for guests booted with Debian's systemd as PID 1 (`vmlab up --init
 * systemd`): two units of the VM lab's own and the set-up run in the image's chroot. Everything
 * else is Debian's: systemd-networkd (enabled here) renders `/etc/netplan/*.yaml` through
 * netplan.io's generator at boot, udev applies netplan's `.link` files, systemd-sysctl loads
 * `/etc/sysctl.d`, the packages' own units (ssh, keepalived, netfilter-persistent) start as the
 * packages enabled them. The bash-init guests ignore all of it (their PID 1 is `vmlab-init`).
 * @module
 */

/** `/etc/systemd/system/NAME`: the test web server and the readiness marker the lab waits for. */
export const SYSTEMD_UNITS: Record<string, string> = {
  "vmlab-web.service": `[Unit]
Description=haplay vmlab test web server (answers its host name)
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/etc/init.d/vmlab-web start
ExecStop=/etc/init.d/vmlab-web stop

[Install]
WantedBy=multi-user.target
`,
  // after the services a deployed host runs: "ready" means what the host's own boot brings up
  // has been started (ordering only: a failed unit does not hold it back)
  "vmlab-ready.service": `[Unit]
Description=haplay vmlab: guest booted
Wants=network-online.target
After=network-online.target ssh.service keepalived.service vmlab-web.service netfilter-persistent.service systemd-sysctl.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'touch /run/vmlab-ready; echo "vmlab-ready $(hostname) $(cut -d" " -f1 /proc/uptime)s" >/dev/console'

[Install]
WantedBy=multi-user.target
`,
};

/**
 * `/etc/systemd/system/NAME` drop-ins of Debian's own units. systemd-sysctl.service carries
 * `TimeoutSec=90s`: a TCG guest starved by a loaded machine (a 511 s boot at load 27-77) can
 * spend longer than that in it, systemd kills it and boots on with no sysctl.d file applied
 * (`ip_forward` 0 on a director although haplay's file is in place: reproduced by delaying the
 * unit past 90 s). That is the emulator's slowness, not the host's configuration, so the lab
 * lifts the limit for this one unit (a real host applies its few keys in milliseconds).
 */
export const SYSTEMD_DROPINS: Record<string, string> = {
  "systemd-sysctl.service.d/vmlab-slow-guest.conf": `[Service]
TimeoutStartSec=infinity
`,
};

/**
 * `/etc/systemd/system.conf.d/vmlab-slow-guest.conf`: the same for every unit and device
 * without a limit of its own. Under load the guests' boots also hit systemd's default 90 s:
 * "Failed to start systemd-networkd.service" (then restarted) and "Timed out waiting for
 * device /dev/ttyS0" on a 312 s boot.
 */
export const SYSTEMD_MANAGER_CONF = `[Manager]
DefaultTimeoutStartSec=10min
DefaultDeviceTimeoutSec=10min
`;

/**
 * Units masked in the image: timers that would run apt or fs maintenance in a guest (no network
 * to fetch from), debug/hugepage/mqueue mounts, binfmt and the early modprobe@ units for DRM and
 * device-mapper: every one of them cost 14-41 s of a TCG boot on a loaded machine
 * (`systemd-analyze blame`). Nothing a load balancer relies on.
 */
export const SYSTEMD_MASKED = [
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "e2scrub_all.timer",
  "e2scrub_reap.service",
  "fstrim.timer",
  "dev-hugepages.mount",
  "dev-mqueue.mount",
  "sys-kernel-debug.mount",
  "sys-kernel-tracing.mount",
  "systemd-binfmt.service",
  "proc-sys-fs-binfmt_misc.automount",
  "modprobe@drm.service",
  "modprobe@dm_mod.service",
  // 10-13 s each on a TCG boot (systemd-analyze blame): modules and static device nodes
  // (fuse, loop, configfs, pstore) nothing of a load balancer uses
  "modprobe@efi_pstore.service",
  "modprobe@configfs.service",
  "modprobe@fuse.service",
  "modprobe@loop.service",
  "kmod-static-nodes.service",
  // a login prompt on the serial console, which is a file on the VM host: under load its
  // device wait alone timed out after 90 s ("Timed out waiting for device /dev/ttyS0")
  "serial-getty@ttyS0.service",
];

/**
 * `/etc/modprobe.d/vmlab.conf`: modules udev would load for the virtual CPU and platform
 * (KVM inside a TCG guest, wireless regulatory, crypto acceleration): seconds each under TCG,
 * useless to a guest. IPVS, netfilter and the NIC drivers are untouched.
 */
export const MODPROBE_BLACKLIST = [
  "kvm",
  "kvm_intel",
  "kvm_amd",
  "irqbypass",
  "cfg80211",
  "rfkill",
  "ghash_clmulni_intel",
  "aesni_intel",
  "sha1_ssse3",
  "sha256_ssse3",
  "sha512_ssse3",
  "crct10dif_pclmul",
  "crc32_pclmul",
].map((m) => `blacklist ${m}\n`).join("");

/** sh run in the image's chroot (offline `systemctl`: links only, nothing is started). */
export const SYSTEMD_SETUP_SH = [
  "systemctl -q enable systemd-networkd.service vmlab-web.service vmlab-ready.service ssh.service",
  `systemctl -q mask ${SYSTEMD_MASKED.join(" ")}`,
  "install -d -m 755 /etc/netplan",
].join("\n");
