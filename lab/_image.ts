/**
 * The lab-wide base layer: an overlay over this machine's `/` that every host's root stacks on
 * (users, keys, sshd config, apt sources, init and systemd tweaks).
 * @module
 */

import { APT_REPO_PACKAGES } from "./apt_repo.ts";
import { LAB_INIT, SYSTEMCTL_SHIM } from "./scripts.ts";
import { LAB_USER } from "./_state.ts";
import type { LabRecord } from "./types.ts";
import { exists, inChroot, LabError, putFile, readIf, removeIf, run } from "./util.ts";

/** Units enabled in systemd hosts when installed (on top of what this machine's `/` enables). */
export const SYSTEMD_ENABLED = [
  "systemd-networkd.service",
  "netfilter-persistent.service",
  "ssh.service",
];

/** Mark `dir` as an overlayfs opaque directory (lower layers do not show through it). */
export async function setOpaque(dir: string) {
  // perl (essential in Debian) can call setxattr(2) directly; no attr/python needed
  const nr = ({ x86_64: 188, aarch64: 5 } as Record<string, number>)[Deno.build.arch];
  if (nr === undefined) throw new LabError(`setxattr: unsupported arch ${Deno.build.arch}`);
  await run("perl", [
    "-e",
    'my ($p,$n,$v)=($ARGV[0],"trusted.overlay.opaque","y"); ' +
    `syscall(${nr}, $p, $n, $v, 1, 0) == 0 or die "setxattr $p: $!\\n"`,
    dir,
  ]);
}

/** The lab-wide middle layer between this machine's `/` and each host's upper directory. */
export async function buildBase(rec: LabRecord) {
  const fs = `${rec.dir}/fs`;
  const B = `${fs}/base`, W = `${fs}/base.w`, M = `${fs}/base.m`;
  for (const d of [B, W, M]) await Deno.mkdir(d, { mode: 0o755 });
  // this machine's /root (dotfiles, caches, tokens) must not show in hosts: opaque /root with
  // Debian's stock root dotfiles
  await Deno.mkdir(`${B}/root`, { mode: 0o700 });
  await Deno.chmod(`${B}/root`, 0o700);
  await setOpaque(`${B}/root`);
  for (const f of ["bashrc", "profile"]) {
    const src = await readIf(`/usr/share/base-files/dot.${f}`);
    if (src !== undefined) await putFile(`${B}/root/.${f}`, src, 0o644);
  }
  await run("mount", [
    "-t",
    "overlay",
    `haplay-${rec.name}-base`,
    "-o",
    `lowerdir=/,upperdir=${B},workdir=${W}`,
    M,
  ]);
  try {
    // this machine's host keys must not be shared: whiteout them, each host gets its own
    for await (const e of Deno.readDir(`${M}/etc/ssh`)) {
      if (e.name.startsWith("ssh_host_")) await Deno.remove(`${M}/etc/ssh/${e.name}`);
    }
    const hostLines = rec.hosts.map((h) => `${h.ip} ${h.name}`);
    await putFile(
      `${M}/etc/hosts`,
      [
        "127.0.0.1 localhost",
        "::1 localhost ip6-localhost ip6-loopback",
        `${rec.bridgeIp} labgw`,
        ...hostLines,
        "",
      ].join("\n"),
    );
    // unprivileged sudo user (key auth only)
    const pw = await inChroot(M, ["getent", "passwd", LAB_USER], { allowFail: true });
    if (pw.code !== 0) {
      await inChroot(M, ["useradd", "-m", "-s", "/bin/bash", "-G", "sudo", LAB_USER]);
    }
    await inChroot(M, ["usermod", "-p", "*", LAB_USER]); // not locked, no password
    const [, , uid, gid, , home] = (await inChroot(M, ["getent", "passwd", LAB_USER])).stdout
      .trim().split(":");
    await putFile(
      `${M}/etc/sudoers.d/haplay-lab-${LAB_USER}`,
      `${LAB_USER} ALL=(ALL) NOPASSWD:ALL\n`,
      0o440,
    );
    const pub = await Deno.readTextFile(`${rec.keyFile}.pub`);
    for (const [h, u, g] of [["/root", 0, 0], [home, Number(uid), Number(gid)]] as const) {
      await Deno.mkdir(`${M}${h}/.ssh`, { recursive: true, mode: 0o700 });
      await Deno.chmod(`${M}${h}/.ssh`, 0o700);
      await putFile(`${M}${h}/.ssh/authorized_keys`, pub, 0o600);
      await Deno.chown(`${M}${h}/.ssh`, u, g);
      await Deno.chown(`${M}${h}/.ssh/authorized_keys`, u, g);
    }
    await removeIf(`${M}/root/.ssh/known_hosts`);
    await Deno.mkdir(`${M}/etc/ssh/sshd_config.d`, { recursive: true });
    await putFile(
      `${M}/etc/ssh/sshd_config.d/00-haplay-lab.conf`,
      [
        "# haplay lab host",
        "HostKey /etc/ssh/ssh_host_ed25519_key",
        "HostKey /etc/ssh/ssh_host_ecdsa_key",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "UseDNS no",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    await removeIf(`${M}/etc/motd`);
    // like container images: no man-db index rebuilds in dpkg triggers (saves seconds per
    // apt-get install in hosts, and when purging packages below)
    await removeIf(`${M}/var/lib/man-db/auto-update`);
    // services are never auto-started by dpkg maintainer scripts (as in Docker images)
    await putFile(`${M}/usr/sbin/policy-rc.d`, "#!/bin/sh\nexit 101\n", 0o755);
    // no DNS and no route out: resolver and apt fail fast and locally
    await putFile(`${M}/etc/resolv.conf`, "# haplay lab host: no DNS\n");
    await removeIf(`${M}/etc/apt/sources.list`);
    for await (const e of Deno.readDir(`${M}/etc/apt/sources.list.d`)) {
      await Deno.remove(`${M}/etc/apt/sources.list.d/${e.name}`);
    }
    if (rec.aptRepoUrl) {
      await putFile(
        `${M}/etc/apt/sources.list.d/haplay-lab.list`,
        `deb [trusted=yes] ${rec.aptRepoUrl} ./\n`,
      );
      // the packages the repo serves must really be installable: not installed in hosts
      await inChroot(M, ["dpkg", "--purge", ...APT_REPO_PACKAGES]);
    }
    for (const d of ["etc/lab", "usr/local/sbin", "usr/local/bin"]) {
      await Deno.mkdir(`${M}/${d}`, { recursive: true, mode: 0o755 });
    }
    await putFile(`${M}/usr/local/sbin/lab-init`, LAB_INIT, 0o755);
    if (rec.init === "lab") {
      await putFile(`${M}/usr/local/bin/systemctl`, SYSTEMCTL_SHIM, 0o755);
    } else {
      await removeIf(`${M}/usr/sbin/policy-rc.d`); // like a real systemd host
      await Deno.mkdir(`${M}/etc/systemd/journald.conf.d`, { recursive: true });
      await putFile(
        `${M}/etc/systemd/journald.conf.d/haplay-lab.conf`,
        "[Journal]\nStorage=volatile\nRuntimeMaxUse=4M\n",
      );
      // sshd logs to /var/log/sshd.log like in lab-init hosts
      await Deno.mkdir(`${M}/etc/systemd/system/ssh.service.d`, { recursive: true });
      await putFile(
        `${M}/etc/systemd/system/ssh.service.d/haplay-lab.conf`,
        "[Service]\nExecStart=\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS -E /var/log/sshd.log\n",
      );
      // like an Ubuntu server: networkd renders netplan (its generator runs at boot), the
      // firewall is restored by netfilter-persistent, sshd is a unit; ifupdown has no say
      // (with --apt-repo, netfilter-persistent is not installed yet: its package enables it)
      const units: string[] = [];
      for (const u of SYSTEMD_ENABLED) {
        if (await exists(`${M}/lib/systemd/system/${u}`)) units.push(u);
      }
      await inChroot(M, ["systemctl", "enable", ...units]);
      for await (const e of Deno.readDir(`${M}/etc/netplan`)) {
        await Deno.remove(`${M}/etc/netplan/${e.name}`); // this machine's, not a host's
      }
      // units of a VM image that make no sense in a lab host
      for (
        const u of [
          "postgresql.service",
          "systemd-timesyncd.service",
          "getty@tty1.service",
          "console-getty.service",
          "systemd-pstore.service",
          "e2scrub_reap.service",
          "apt-daily.timer",
          "apt-daily-upgrade.timer",
          "e2scrub_all.timer",
          "fstrim.timer",
          "man-db.timer",
          "dpkg-db-backup.timer",
          "uml-utilities.service",
          "networking.service",
        ]
      ) {
        await removeIf(`${M}/etc/systemd/system/${u}`);
        await Deno.symlink("/dev/null", `${M}/etc/systemd/system/${u}`);
      }
    }
  } finally {
    await run("umount", [M]);
  }
  await Deno.remove(M);
  await Deno.remove(W, { recursive: true });
}
