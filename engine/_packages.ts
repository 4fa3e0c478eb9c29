/**
 * README's Debian packages, each with the programs (or, when absolute, files) that prove it is
 * there. Shared by the set-up check and the CLI error wrapper.
 * @module
 */

/** README's packages and, per package, programs (or files, when absolute) that prove it. */
export const PACKAGES: ReadonlyArray<{ pkg: string; needs: string[] }> = [
  { pkg: "openssh-server", needs: ["sshd"] },
  { pkg: "openssh-client", needs: ["ssh", "ssh-keygen"] },
  { pkg: "keepalived", needs: ["keepalived"] },
  { pkg: "iptables", needs: ["iptables"] },
  {
    pkg: "iptables-persistent",
    needs: ["netfilter-persistent", "/usr/share/netfilter-persistent/plugins.d/15-ip4tables"],
  },
  { pkg: "sudo", needs: ["sudo", "visudo"] },
  { pkg: "netplan.io", needs: ["netplan"] },
  { pkg: "busybox", needs: ["busybox"] },
  { pkg: "dpkg-dev", needs: ["dpkg-scanpackages"] },
  { pkg: "iproute2", needs: ["ip"] },
  { pkg: "util-linux", needs: ["unshare", "nsenter", "flock", "setsid", "pivot_root"] },
  { pkg: "attr", needs: ["setfattr"] },
  { pkg: "python3", needs: ["python3"] },
  // the lab's default hosts boot systemd with networkd and D-Bus, like an Ubuntu server
  { pkg: "systemd", needs: ["/lib/systemd/systemd", "networkctl"] },
  { pkg: "dbus", needs: ["dbus-daemon"] },
  // directors get ipvsadm; the lab's hosts share this machine's root, so a purging rollback
  // only leaves them as before when the machine has it (and its libpopt0) itself
  { pkg: "ipvsadm", needs: ["ipvsadm"] },
];
