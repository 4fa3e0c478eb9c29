/**
 * The keepalived binaries of the version matrix: Debian's 2.2.7 (this machine's package) and the
 * upstream builds of lab/keepalived_build.ts, unpacked into a temp prefix, plus a runner of a
 * command in a fresh network namespace that has an `eth0` (keepalived -t checks interfaces).
 * @module
 */
import {
  DEBIAN_KEEPALIVED,
  ensureKeepalived,
  KEEPALIVED_VERSIONS,
  unpackKeepalived,
} from "../../lab/keepalived_build.ts";

/** Every version of the matrix, oldest first. */
export const ALL_VERSIONS: string[] = [...KEEPALIVED_VERSIONS, DEBIAN_KEEPALIVED].sort((a, b) =>
  a.localeCompare(b, "en", { numeric: true })
);

/** A directory whose `keepalived` is `version`'s binary (for PATH), under `tmp`. */
export async function keepalivedDir(version: string, tmp: string): Promise<string> {
  const bin = `${tmp}/bin-${version}`;
  await Deno.mkdir(bin, { recursive: true });
  const target = version === DEBIAN_KEEPALIVED
    ? "/usr/sbin/keepalived"
    : await unpackKeepalived(await ensureKeepalived(version), `${tmp}/root-${version}`);
  await Deno.symlink(target, `${bin}/keepalived`);
  return bin;
}

/** Result of {@link inNetns}. */
export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` (sh) in a new network namespace with a veth `eth0` (198.19.70.11/24) up, with
 * `pathDir` first in PATH.
 */
export async function inNetns(pathDir: string, script: string): Promise<ShResult> {
  const setup = "ip link add eth0 type veth peer name eth1 && ip link set eth1 up && " +
    "ip link set eth0 up && ip addr add 198.19.70.11/24 dev eth0";
  const r = await new Deno.Command("unshare", {
    args: ["--net", "sh", "-c", `${setup} || exit 99\n${script}`],
    env: {
      PATH: `${pathDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      LANG: "C",
    },
    clearEnv: true,
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}
