// End-state checks and cloning, out of band through the sandbox console (never over SSH, so no tool's counts move).
// - fingerprint(): the jail as OpenSSH and the account database see it; the three tools must leave the same one.
// - capture()/restore(): copies the files a peer tool wrote on one host to other hosts. Used only to prepare the
//   peers' 1- and 50-host fleets for the no-op check: Ansible and pyinfra keep no state of their own, so a host
//   holding the files their converge wrote is, to them, a host they converged (each check proves it by reporting
//   no change). Ours keeps state in the stack, so its fleets are always converged for real.
"use strict";
const fs = require("fs");
const crypto = require("crypto");
const D = require("./desired");
const os = require("os");
const path = require("path");
const { execFile } = require("child_process");
const { consoleCmd, knownHosts } = require("./sandbox");

const CLONED = [
  "etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/subuid", "etc/subgid",
  "srv/sftp", "etc/ssh/sftp-jail", "etc/ssh/sshd_config", "etc/ssh/sshd_config.d",
];

function fingerprintScript(users, firewall) {
  const u = users.map((x) => x.name).join(" ");
  const grep = "grep -Ei '^(chrootdirectory|forcecommand|subsystem|x11forwarding|allowtcpforwarding|permittunnel|allowagentforwarding|authorizedkeysfile) ' | sort";
  return [
    `getent group ${D.GROUP.name}`,
    `for u in ${u}; do getent passwd $u; grep "^$u:" /etc/shadow | cut -d: -f2; ` +
      `stat -c '%n %U:%G %a %F' ${D.CHROOT_BASE} ${D.CHROOT_BASE}/$u ${D.CHROOT_BASE}/$u/upload ${D.KEYS_DIR}/$u; ` +
      `sha256sum < ${D.KEYS_DIR}/$u; done`,
    `echo jailed:; sshd -T -C user=${users[0].name},host=x,addr=127.0.0.1 | ${grep}`,
    `echo root:; sshd -T -C user=root,host=x,addr=127.0.0.1 | ${grep}`,
    `pgrep -x sshd >/dev/null && echo sshd running`,
    firewall ? `iptables -S INPUT | grep -c 'sftp-jail:${D.FIREWALL.name}'` : "true",
  ].join("\n");
}

/** sha256 of the end state per host (and the text of the first host's, for a diff when they differ). */
async function fingerprint(hosts, users, firewall) {
  const script = fingerprintScript(users, firewall);
  const texts = await Promise.all(hosts.map((h) => consoleCmd(h.name, script).catch((e) => `error: ${e.message}`)));
  const sums = texts.map((t) => crypto.createHash("sha256").update(t).digest("hex").slice(0, 16));
  return { sums, first: texts[0], uniform: new Set(sums).size === 1 };
}

/** Tarball (base64) of the files a converge wrote on `host`, plus its iptables rules. */
async function capture(host) {
  await consoleCmd(host.name, `tar --numeric-owner -C / -czf /tmp/sj-bench-state.tgz ${CLONED.join(" ")} 2>/dev/null; iptables-save > /tmp/sj-bench-fw 2>/dev/null; true`);
  const root = `/proc/${host.pid}/root/tmp`;
  const blob = { tgz: fs.readFileSync(`${root}/sj-bench-state.tgz`), fw: fs.readFileSync(`${root}/sj-bench-fw`) };
  return blob;
}

/** Writes a captured state onto fresh hosts and reloads their sshd. */
async function restore(hosts, blob) {
  await Promise.all(
    hosts.map(async (h) => {
      const root = `/proc/${h.pid}/root/tmp`;
      fs.writeFileSync(`${root}/sj-bench-state.tgz`, blob.tgz);
      fs.writeFileSync(`${root}/sj-bench-fw`, blob.fw);
      await consoleCmd(
        h.name,
        "tar --numeric-owner -C / -xzpf /tmp/sj-bench-state.tgz && rm -f /tmp/sj-bench-state.tgz && " +
          "{ [ -s /tmp/sj-bench-fw ] && iptables-restore < /tmp/sj-bench-fw || true; } && rm -f /tmp/sj-bench-fw && " +
          "sshd -t && kill -HUP $(cat /run/sshd.pid)",
      );
    }),
  );
  await new Promise((r) => setTimeout(r, 300)); // sshd re-execs after a HUP and refuses connections for a moment
}

/** A real SFTP session as a jailed user (OpenSSH's sftp): proves sshd was reloaded and the jail works. */
function sftpLogin(host, user, keyFile) {
  const kh = path.join(os.tmpdir(), `sj-bench-kh-${process.pid}`);
  fs.writeFileSync(kh, knownHosts([host]));
  const args = ["-q", "-b", "-", "-P", String(host.port), "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", `UserKnownHostsFile=${kh}`,
    "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", `${user}@127.0.0.1`];
  return new Promise((resolve) => {
    const child = execFile("sftp", args, { timeout: 20_000 }, (err, stdout) => {
      fs.rmSync(kh, { force: true });
      const names = stdout.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("sftp>"));
      resolve({ ok: !err && names.join(" ") === "/upload", listing: names.join(" "), error: err ? String(err.message).slice(0, 300) : undefined });
    });
    child.stdin.end("ls /\n");
  });
}

module.exports = { fingerprint, capture, restore, sftpLogin };
