/**
 * Every string-carrying input the schema property attacks: each field of each resource schema (provider/schema/*.ts
 * shapes), of the connection, and of the root program's stack config (provider/schema/stackConfig.ts). A field added
 * to a schema without a row here is caught by schemas.property.test.ts, which compares this table with the shapes' keys.
 */
import { DIRECTIVE_NAMES } from "../../../provider/plan/sshdRender";
import { KEY_A } from "../../e2e/programs/hostile/cases";

export type Target = "SftpGroup" | "JailedUser" | "ChrootDir" | "SshdMatchBlock" | "FirewallRule";

export interface Field {
  /** Where the value goes: a resource's inputs, its connection, or the stack config. */
  on: Target | "connection" | "config";
  /** Dot path (numeric parts index arrays) in the valid base value. */
  path: string;
  /** A valid value of the field (hostile values are glued to it, too). */
  valid: string;
  /**
   * Stack config only: where an accepted value lands, as the root program and SftpJailHost pass it on: resource,
   * field path, and the value there (e.g. a chrootBase becomes `<base>/<user>`).
   */
  lands?: Array<{ on: Target | "connection"; path: string; value: (v: string) => string }>;
}

/** A valid value of each directive (the rest take yes/no). */
export const VALID_DIRECTIVE: Record<string, string> = {
  ChrootDirectory: "%h",
  ForceCommand: "internal-sftp",
  AuthorizedKeysFile: "/etc/ssh/sftp-jail/authorized_keys/%u",
  Banner: "/etc/issue.net",
  AllowUsers: "alice",
  DenyUsers: "mallory",
  AllowGroups: "sftp",
  DenyGroups: "wheel",
  GatewayPorts: "no",
  PermitTunnel: "no",
};

const same = (v: string) => v;

export const FIELDS: readonly Field[] = [
  // SftpGroup
  { on: "SftpGroup", path: "name", valid: "sftp" },
  { on: "SftpGroup", path: "gid", valid: "2300" },
  { on: "SftpGroup", path: "system", valid: "false" },
  // JailedUser
  { on: "JailedUser", path: "name", valid: "alice" },
  { on: "JailedUser", path: "uid", valid: "3000" },
  { on: "JailedUser", path: "group", valid: "sftp" },
  { on: "JailedUser", path: "extraGroups.0", valid: "ftp" },
  { on: "JailedUser", path: "home", valid: "/srv/sftp/alice" },
  { on: "JailedUser", path: "shell", valid: "/usr/sbin/nologin" },
  { on: "JailedUser", path: "authorizedKeys.0", valid: KEY_A },
  { on: "JailedUser", path: "keysDir", valid: "/etc/ssh/sftp-jail/authorized_keys" },
  { on: "JailedUser", path: "authorizedKeysFile", valid: "/srv/sftp/alice/.ssh/authorized_keys" },
  { on: "JailedUser", path: "keyOnly", valid: "true" },
  { on: "JailedUser", path: "allowLoginShell", valid: "true" },
  { on: "JailedUser", path: "reachedFrom.0.address", valid: "198.51.100.7" },
  { on: "JailedUser", path: "reachedFrom.0.localAddress", valid: "198.51.100.1" },
  { on: "JailedUser", path: "reachedFrom.0.localPort", valid: "22" },
  { on: "JailedUser", path: "jailOptOut.0", valid: "PermitTTY" },
  { on: "JailedUser", path: "chroot.owner", valid: "root" },
  { on: "JailedUser", path: "chroot.group", valid: "sftp" },
  { on: "JailedUser", path: "chroot.mode", valid: "0750" },
  { on: "JailedUser", path: "chroot.fixAncestors", valid: "false" },
  { on: "JailedUser", path: "chroot.subdirs.0.path", valid: "upload" },
  { on: "JailedUser", path: "chroot.subdirs.0.owner", valid: "alice" },
  { on: "JailedUser", path: "chroot.subdirs.0.group", valid: "sftp" },
  { on: "JailedUser", path: "chroot.subdirs.0.mode", valid: "0755" },
  { on: "JailedUser", path: "chroot.onDelete", valid: "retain" },
  // ChrootDir
  { on: "ChrootDir", path: "path", valid: "/srv/sftp/alice" },
  { on: "ChrootDir", path: "owner", valid: "root" },
  { on: "ChrootDir", path: "group", valid: "sftp" },
  { on: "ChrootDir", path: "mode", valid: "0750" },
  { on: "ChrootDir", path: "fixAncestors", valid: "false" },
  { on: "ChrootDir", path: "subdirs.0.path", valid: "upload" },
  { on: "ChrootDir", path: "subdirs.0.owner", valid: "alice" },
  { on: "ChrootDir", path: "subdirs.0.group", valid: "sftp" },
  { on: "ChrootDir", path: "subdirs.0.mode", valid: "0755" },
  { on: "ChrootDir", path: "onDelete", valid: "retain" },
  // SshdMatchBlock: criteria, then every directive it allows
  { on: "SshdMatchBlock", path: "name", valid: "jail" },
  { on: "SshdMatchBlock", path: "order", valid: "50" },
  { on: "SshdMatchBlock", path: "match.User.0", valid: "alice" },
  { on: "SshdMatchBlock", path: "match.Group.0", valid: "sftp" },
  { on: "SshdMatchBlock", path: "match.Host.0", valid: "*.example.com" },
  { on: "SshdMatchBlock", path: "match.Address.0", valid: "192.0.2.0/24" },
  { on: "SshdMatchBlock", path: "match.LocalAddress.0", valid: "198.51.100.7" },
  { on: "SshdMatchBlock", path: "match.LocalPort", valid: "2222" },
  { on: "SshdMatchBlock", path: "subsystemInternalSftp", valid: "true" },
  ...DIRECTIVE_NAMES.map((k): Field => ({ on: "SshdMatchBlock", path: `directives.${k}`, valid: VALID_DIRECTIVE[k] ?? "no" })),
  // FirewallRule
  { on: "FirewallRule", path: "name", valid: "sftp" },
  { on: "FirewallRule", path: "backend", valid: "auto" },
  { on: "FirewallRule", path: "chain", valid: "INPUT" },
  { on: "FirewallRule", path: "table", valid: "inet filter" },
  { on: "FirewallRule", path: "protocol", valid: "tcp" },
  { on: "FirewallRule", path: "port", valid: "2222" },
  { on: "FirewallRule", path: "ports.0", valid: "2222" },
  { on: "FirewallRule", path: "source", valid: "203.0.113.0/24" },
  { on: "FirewallRule", path: "state.0", valid: "NEW" },
  { on: "FirewallRule", path: "action", valid: "ACCEPT" },
  { on: "FirewallRule", path: "position", valid: "beforeReject" },
  { on: "FirewallRule", path: "persist", valid: "false" },
  // The connection (on every resource; attacked through SftpGroup)
  { on: "connection", path: "host", valid: "127.0.0.1" },
  { on: "connection", path: "port", valid: "22" },
  { on: "connection", path: "user", valid: "root" },
  { on: "connection", path: "privateKeyFile", valid: "/root/.ssh/id_ed25519" },
  { on: "connection", path: "agentSocketPath", valid: "/run/ssh-agent.sock" },
  { on: "connection", path: "knownHostsFile", valid: "/root/.ssh/known_hosts" },
  { on: "connection", path: "hostKey", valid: KEY_A },
  { on: "connection", path: "sudo.password", valid: "secret" },
  { on: "connection", path: "proxy.host", valid: "bastion.example.com" },
  { on: "connection", path: "proxy.user", valid: "jump" },
  { on: "connection", path: "revertAfterSeconds", valid: "60" },
  // The root program's stack config: refused with its config path, or passed on to a resource that refuses or renders it
  { on: "config", path: "hosts.0.name", valid: "files1" },
  { on: "config", path: "hosts.0.labels.site", valid: "fra" },
  { on: "config", path: "hosts.0.connection.host", valid: "10.0.0.5", lands: [{ on: "connection", path: "host", value: same }] },
  { on: "config", path: "hosts.0.connection.user", valid: "root", lands: [{ on: "connection", path: "user", value: same }] },
  { on: "config", path: "hosts.0.connection.privateKeyFile", valid: "/root/.ssh/id_ed25519", lands: [{ on: "connection", path: "privateKeyFile", value: same }] },
  { on: "config", path: "hosts.0.connection.hostKey", valid: KEY_A, lands: [{ on: "connection", path: "hostKey", value: same }] },
  { on: "config", path: "groups.0.name", valid: "auditors", lands: [{ on: "SftpGroup", path: "name", value: same }] },
  {
    on: "config",
    path: "jails.0.group.name",
    valid: "sftp",
    lands: [
      { on: "SftpGroup", path: "name", value: same },
      { on: "JailedUser", path: "group", value: same },
      { on: "SshdMatchBlock", path: "match.Group.0", value: same },
    ],
  },
  {
    on: "config",
    path: "jails.0.chrootBase",
    valid: "/srv/sftp",
    lands: [
      { on: "ChrootDir", path: "path", value: (v) => `${v}/alice` },
      { on: "JailedUser", path: "home", value: (v) => `${v}/alice` },
    ],
  },
  { on: "config", path: "jails.0.users.0.name", valid: "alice", lands: [{ on: "JailedUser", path: "name", value: same }] },
  { on: "config", path: "jails.0.users.0.keys.0", valid: KEY_A, lands: [{ on: "JailedUser", path: "authorizedKeys.0", value: same }] },
  { on: "config", path: "jails.0.users.0.writableDirs.0", valid: "upload", lands: [{ on: "ChrootDir", path: "subdirs.0.path", value: same }] },
  {
    on: "config",
    path: "jails.0.users.0.chroot.path",
    valid: "/srv/sftp/alice",
    lands: [
      { on: "ChrootDir", path: "path", value: same },
      { on: "JailedUser", path: "home", value: same },
    ],
  },
  { on: "config", path: "jails.0.users.0.chroot.mode", valid: "0755", lands: [{ on: "ChrootDir", path: "mode", value: same }] },
  { on: "config", path: "jails.0.sshdDirectives.X11Forwarding", valid: "no", lands: [{ on: "SshdMatchBlock", path: "directives.X11Forwarding", value: same }] },
  { on: "config", path: "jails.0.authorizedKeysFile", valid: ".ssh/authorized_keys", lands: [{ on: "SshdMatchBlock", path: "directives.AuthorizedKeysFile", value: same }] },
  { on: "config", path: "rollout.canary", valid: "10%" },
];
