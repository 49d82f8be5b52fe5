// The one desired state every tool builds: per host one SFTP group, a chroot base, N jailed users (key-only, nologin,
// password "*", root-owned chroot <base>/<user> with a writable upload/ dir, one root-owned key file each under
// /etc/ssh/sftp-jail/authorized_keys/), the sshd `Match Group` drop-in plus `Subsystem sftp internal-sftp`, and
// (when enabled) one firewall ACCEPT rule. The three tools get this same object, rendered into their own input format.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const GROUP = { name: "sftp", gid: 2200 };
const CHROOT_BASE = "/srv/sftp";
const KEYS_DIR = "/etc/ssh/sftp-jail/authorized_keys";
/** The drop-in our SshdMatchBlock writes for name "group-sftp", order 50 (the peers write the same path). */
const DROPIN = "/etc/ssh/sshd_config.d/50-sftp-jail-group-sftp.conf";
/** Same directives as provider/components/sftpJailHost.ts jailDirectives(). */
const DIRECTIVES = {
  ChrootDirectory: "%h",
  ForceCommand: "internal-sftp",
  AllowTcpForwarding: "no",
  AllowAgentForwarding: "no",
  X11Forwarding: "no",
  PermitTunnel: "no",
  AuthorizedKeysFile: `${KEYS_DIR}/%u`,
  AllowStreamLocalForwarding: "no",
  PermitTTY: "no",
  GatewayPorts: "no",
  PermitUserRC: "no",
};
/** The firewall opening: ACCEPT new TCP connections to port 22 (sshd inside the host) from the clients' network. */
const FIREWALL = { name: "sftp-in", port: 22, source: "198.18.0.0/15", action: "ACCEPT" };

/** Generates (once, cached in `dir`) one ed25519 key pair per user; returns [{name, uid, key}]. */
function users(dir, count) {
  fs.mkdirSync(dir, { recursive: true });
  const out = [];
  for (let i = 1; i <= count; i++) {
    const name = `sj${String(i).padStart(2, "0")}`;
    const file = path.join(dir, name);
    if (!fs.existsSync(file + ".pub")) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
    out.push({ name, uid: 3000 + i, key: fs.readFileSync(file + ".pub", "utf8").trim() });
  }
  return out;
}

/** The Match block as text (what the peers template; ours renders its own equivalent). */
function matchBlock() {
  const lines = ["# Managed by the bench (peer tool): SFTP-only jail for group " + GROUP.name, `Match Group ${GROUP.name}`];
  for (const [k, v] of Object.entries(DIRECTIVES)) lines.push(`    ${k} ${v}`);
  return lines.join("\n") + "\n";
}

module.exports = { GROUP, CHROOT_BASE, KEYS_DIR, DROPIN, DIRECTIVES, FIREWALL, users, matchBlock };
