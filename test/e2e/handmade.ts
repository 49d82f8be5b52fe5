/**
 * Hosts set up by hand, exactly as admins do it, for the adoption suite (test/e2e/adopt.test.ts) and for capturing
 * the unit tests' migrate fixtures (test/unit/fixtures/README.md). Each function returns a script for a sandbox host's
 * out-of-band console (root, no ssh).
 */

/** Exactly what the admin typed, per user: account, membership, shell, root-owned home, upload dir, keys. */
export function handMadeJail(users: Array<{ name: string; key: string }>): string {
  return [
    "set -e",
    "groupadd sftp",
    ...users.flatMap(({ name, key }) => [
      `useradd -m ${name}`,
      `usermod -G sftp ${name}`,
      `chsh -s /usr/sbin/nologin ${name}`,
      `chown root /home/${name} && chmod 750 /home/${name}`,
      `mkdir /home/${name}/upload && chown ${name}:${name} /home/${name}/upload`,
      `mkdir -p /home/${name}/.ssh && echo '${key}' > /home/${name}/.ssh/authorized_keys`,
      `chown -R ${name}:${name} /home/${name}/.ssh && chmod 700 /home/${name}/.ssh && chmod 600 /home/${name}/.ssh/authorized_keys`,
    ]),
    // Debian's "Subsystem sftp /usr/lib/openssh/sftp-server" replaced, the block appended at the end.
    "sed -i 's|^Subsystem\\s.*|Subsystem sftp internal-sftp|' /etc/ssh/sshd_config",
    "printf '\\nMatch Group sftp\\n    ChrootDirectory %%h\\n    ForceCommand internal-sftp\\n    X11Forwarding no\\n    AllowTcpForwarding no\\n' >> /etc/ssh/sshd_config",
    "sshd -t && kill -HUP $(cat /run/sshd.pid)",
    "iptables -A INPUT -i lo -j ACCEPT",
    "iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
    "iptables -A INPUT -p tcp --dport 22 -j ACCEPT",
    "iptables -A INPUT -j REJECT",
  ].join("\n");
}

/**
 * A host that moved from rssh to internal-sftp by hand and kept the leftovers: /etc/rssh.conf (with chroot paths,
 * and erin, whom only rssh jails), group "partners", homes in two different places (one root:root 0755 with a
 * group-owned "incoming", one root:dave 0750 with a nested "files/drop" 0700), the Match block in a drop-in with
 * ForceCommand "internal-sftp -u 0002" and Debian's Subsystem line untouched, dave's password field already "*",
 * and an ACCEPT for port 22 limited to 127.0.0.0/8 and state NEW before a DROP.
 */
export function rsshLeftovers(keys: { carol: string; dave: string }): string {
  return [
    "set -e",
    "groupadd partners",
    "mkdir -p /srv/jail /data/partners",
    "useradd -m -d /srv/jail/carol carol && usermod -G partners carol && chsh -s /usr/sbin/nologin carol",
    "chown root:root /srv/jail/carol && chmod 755 /srv/jail/carol",
    "mkdir /srv/jail/carol/incoming /srv/jail/carol/outgoing && chown carol:partners /srv/jail/carol/incoming",
    `mkdir /srv/jail/carol/.ssh && echo '${keys.carol}' > /srv/jail/carol/.ssh/authorized_keys && chown -R carol:carol /srv/jail/carol/.ssh`,
    "useradd -m -d /data/partners/dave dave && usermod -aG partners dave && chsh -s /usr/sbin/nologin dave && usermod -p '*' dave",
    "chown root:dave /data/partners/dave && chmod 750 /data/partners/dave",
    "mkdir -p /data/partners/dave/files/drop && chown dave:dave /data/partners/dave/files/drop && chmod 700 /data/partners/dave/files/drop",
    `mkdir /data/partners/dave/.ssh && echo '${keys.dave}' > /data/partners/dave/.ssh/authorized_keys && chown -R dave:dave /data/partners/dave/.ssh`,
    "useradd -m -s /usr/bin/rssh erin",
    `printf '%s\\n' '# rssh, before internal-sftp' 'logfacility = LOG_USER' allowsftp 'umask = 022' 'chrootpath = "/srv/rssh"' 'user=carol:011:00010:/srv/jail/carol' 'user = "dave:022:00010:/data/partners/dave"' 'user=erin:011:00011' > /etc/rssh.conf`,
    `printf '%s\\n' '# SFTP partners (moved off rssh)' 'Match Group partners' '\tChrootDirectory %h' '\tForceCommand internal-sftp -u 0002' '\tAllowTcpForwarding no' '\tPermitTunnel no' > /etc/ssh/sshd_config.d/partners.conf`,
    "sshd -t && kill -HUP $(cat /run/sshd.pid)",
    "iptables -A INPUT -i lo -j ACCEPT",
    "iptables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "iptables -A INPUT -s 127.0.0.0/8 -p tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT",
    "iptables -A INPUT -j DROP",
  ].join("\n");
}
