/**
 * The hostile-input table: one row per attack on one field, each with the failure `check` must report (property path
 * and reason). Shared by the pure schema test (test/unit/schema.hostile.test.ts: every row through each adapter's
 * `check`) and the end-to-end suite (test/e2e/hostile.test.ts: the same rows through the real `pulumi preview`).
 *
 * A row starts from a valid resource ({@link BASE}) and sets one or more paths; `null` deletes a path. Rows that touch
 * different paths of the same resource type can share one resource, so one preview refuses several at once
 * ({@link batches}): Pulumi stops a preview at the first invalid resource but prints every failure of that resource.
 */

export type ResourceType = "SftpGroup" | "JailedUser" | "ChrootDir" | "SshdMatchBlock" | "FirewallRule";

export interface HostileCase {
  /** Unique, short; also names the resource in the e2e preview (with its batch number). */
  readonly id: string;
  readonly type: ResourceType;
  /** What the attack is (test names and the report). */
  readonly what: string;
  /** Dot paths (array indexes as numbers) to set on the valid resource; `null` deletes. */
  readonly set: Readonly<Record<string, unknown>>;
  /** The property `check` must name, as Pulumi prints it ("" for the resource itself, e.g. an unknown field). */
  readonly property: string;
  /** The reason `check` must give. */
  readonly reason: RegExp;
  /**
   * Cross-field rules run only when every single field is valid, and connection-wide rules only when the connection's
   * fields are: such rows need the resource (or its connection) to themselves.
   */
  readonly alone?: "resource" | "connection";
}

/** Real public keys (generated for these tests; no private half is kept anywhere). */
export const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDmA+txTPK//C2FvgdYU/W9rn/BPBVFvJ+JmNEFfah/9 probe";
export const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M alice@laptop";
const BLOB_A = KEY_A.split(" ")[1];
/** JailedUser's valid keys: five, so rows can attack entries 0-4 of one authorizedKeys list at once. */
const KEYS = [
  KEY_A,
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDdMFFqQs8MyVDo0hrgNj+PVxWoJyrMwKKHGBn0EK+XI key1",
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFas2OLNDtaAS8Xq5vZhyMmt2DHfPlcqKKinEzysN8U key2",
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDVXJBl+K57S/o6oD9OAAw5ppHWogbjpucbKaZ8JLVQR key3",
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIC5H0tMVmBqly3XH5NXYJ5/smc2OlMpGfCsSxtFOw8b key4",
];

/** A valid resource of each type (the connection is added by the caller). */
export const BASE: Readonly<Record<ResourceType, Record<string, unknown>>> = {
  SftpGroup: { name: "sftp", gid: 2300 },
  JailedUser: { name: "alice", group: "sftp", extraGroups: ["ftp", "users"], home: "/srv/sftp/alice", authorizedKeys: KEYS, chroot: { subdirs: [{ path: "upload", owner: "alice", group: "sftp" }] } },
  ChrootDir: { path: "/srv/sftp/alice", subdirs: [{ path: "upload", owner: "alice", group: "sftp" }] },
  SshdMatchBlock: { name: "jail", match: { Group: ["sftp"] }, directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp" } },
  FirewallRule: { name: "sftp", port: 2222 },
};

const NAME_CHARS = /must start with a lower-case letter or "_" and contain only a-z, 0-9, "_" and "-"/;
const ABS_PATH = /must be an absolute path of letters, digits and ._@\+=,- \(no spaces, quotes or control characters\)/;
const NORMALISED = /must be normalised: no "\.\.", "\.", "\/\/" or trailing "\/"/;
const KEY_LINE = /each key must be one public key line "type base64 \[comment\]"/;
const WELL_FORMED = /each key must be a well-formed public key: /;
const PORT_RANGE = /must be between 1 and 65535/;

const c = (row: HostileCase): HostileCase => row;

export const CASES: readonly HostileCase[] = [
  // ---- the connection (rides on every resource type) --------------------------------------------------------------
  c({ id: "conn-host-semicolon", type: "SftpGroup", what: "host with a shell separator", set: { "connection.host": "127.0.0.1;id" }, property: "connection.host", reason: /host must be a DNS name, an IPv4 address or an IPv6 address/ }),
  c({ id: "conn-host-option", type: "JailedUser", what: "host that is an ssh option (leading dash)", set: { "connection.host": "-oProxyCommand=id" }, property: "connection.host", reason: /host must be a DNS name/ }),
  c({ id: "conn-host-ipv6", type: "ChrootDir", what: "host that only looks like IPv6", set: { "connection.host": "::::" }, property: "connection.host", reason: /host must be a DNS name/ }),
  c({ id: "conn-port-0", type: "SftpGroup", what: "port 0", set: { "connection.port": 0 }, property: "connection.port", reason: PORT_RANGE }),
  c({ id: "conn-port-65536", type: "SshdMatchBlock", what: "port above 65535", set: { "connection.port": 65536 }, property: "connection.port", reason: PORT_RANGE }),
  c({ id: "conn-port-string", type: "FirewallRule", what: "port as a string", set: { "connection.port": "22" }, property: "connection.port", reason: /port must be a number/ }),
  c({ id: "conn-user-subst", type: "JailedUser", what: "login user with command substitution", set: { "connection.user": "root$(id)" }, property: "connection.user", reason: /user must be a POSIX login name/ }),
  c({ id: "conn-user-dash", type: "ChrootDir", what: "login user that is an option", set: { "connection.user": "-l" }, property: "connection.user", reason: /user must be a POSIX login name/ }),
  c({ id: "conn-hostkey-short", type: "SftpGroup", what: "hostKey whose base64 is no key", set: { "connection.hostKey": "ssh-ed25519 AAAA" }, property: "connection.hostKey", reason: /hostKey is not a well-formed public key: its base64 part is not an SSH public key/ }),
  c({ id: "conn-hostkey-type", type: "FirewallRule", what: "hostKey whose blob is another type", set: { "connection.hostKey": `ssh-rsa ${BLOB_A}` }, property: "connection.hostKey", reason: /hostKey is not a well-formed public key: its base64 part is a "ssh-ed25519" key, not ssh-rsa/ }),
  c({ id: "conn-hostkey-two", type: "SshdMatchBlock", what: "hostKey with a second key after a newline", set: { "connection.hostKey": `ssh-ed25519 ${BLOB_A}\nssh-ed25519 ${BLOB_A}` }, property: "connection.hostKey", reason: /hostKey must be one public key in authorized_keys format/ }),
  c({ id: "conn-knownhosts-rel", type: "JailedUser", what: "relative knownHostsFile", set: { "connection.knownHostsFile": "known_hosts" }, property: "connection.knownHostsFile", reason: /knownHostsFile must be an absolute path without control characters/ }),
  c({ id: "conn-knownhosts-nul", type: "SftpGroup", what: "knownHostsFile with NUL", set: { "connection.knownHostsFile": "/tmp/kh\u0000x" }, property: "connection.knownHostsFile", reason: /knownHostsFile must be an absolute path without control characters/ }),
  c({ id: "conn-sudo-newline", type: "SftpGroup", what: "sudo password with a newline (rest would reach the script's stdin)", set: { "connection.user": "operator", "connection.sudo": { password: "pw\nrm -rf /" } }, property: "connection.sudo.password", reason: /sudo.password must not contain line breaks or NUL/ }),
  c({ id: "conn-unknown-field", type: "FirewallRule", what: "unknown connection field (identityFile)", set: { "connection.identityFile": "/root/.ssh/id_ed25519" }, property: "connection", reason: /Unrecognized key: "identityFile"/ }),
  c({ id: "conn-keyfile-relative", type: "SftpGroup", what: "relative privateKeyFile", set: { "connection.privateKeyFile": "id_ed25519" }, property: "connection.privateKeyFile", reason: /privateKeyFile must be an absolute path/ }),
  c({ id: "conn-proxy-subst", type: "SshdMatchBlock", what: "bastion host with command substitution", set: { "connection.proxy": { host: "$(id)" } }, property: "connection.proxy.host", reason: /host must be a DNS name/ }),
  c({ id: "conn-dial-limit-0", type: "SftpGroup", what: "dialErrorLimit 0", set: { "connection.dialErrorLimit": 0 }, property: "connection.dialErrorLimit", reason: /dialErrorLimit must be at least 1/ }),
  c({ id: "conn-trust-and-pin", type: "JailedUser", what: "dangerouslyTrustAnyHostKey together with a pinned key", set: { "connection.dangerouslyTrustAnyHostKey": true }, property: "connection.dangerouslyTrustAnyHostKey", reason: /contradict each other/, alone: "connection" }),
  c({ id: "conn-no-credentials", type: "SshdMatchBlock", what: "no credentials at all", set: { "connection.privateKey": null }, property: "connection.privateKey", reason: /give one of privateKey, privateKeyFile, password or agentSocketPath/, alone: "connection" }),

  // ---- SftpGroup ---------------------------------------------------------------------------------------------------
  c({ id: "group-name-subst", type: "SftpGroup", what: "name with $(id)", set: { name: "$(id)" }, property: "name", reason: NAME_CHARS }),
  c({ id: "group-name-nul", type: "SftpGroup", what: "name with NUL", set: { name: "sftp\u0000x" }, property: "name", reason: NAME_CHARS }),
  c({ id: "chroot-group-long", type: "ChrootDir", what: "group name of 33 characters", set: { group: "g".repeat(33) }, property: "group", reason: /group name must be at most 32 characters/ }),
  c({ id: "group-gid-root", type: "SftpGroup", what: "gid 0 (root)", set: { gid: 0 }, property: "gid", reason: /gid must be at least 1 \(0 is root\)/ }),
  c({ id: "group-gid-nogroup", type: "SftpGroup", what: "gid 65534 (nogroup)", set: { gid: 65534 }, property: "gid", reason: /gid 65534 is reserved/ }),
  c({ id: "sshd-order-fraction", type: "SshdMatchBlock", what: "order 1.5", set: { order: 1.5 }, property: "order", reason: /order must be a whole number/ }),
  c({ id: "group-system-string", type: "SftpGroup", what: "system as a string", set: { system: "yes; id" }, property: "system", reason: /system must be true or false/ }),
  c({ id: "group-unknown-field", type: "SftpGroup", what: "unknown field (members)", set: { members: ["root"] }, property: "", reason: /Unrecognized key: "members"/ }),

  // ---- JailedUser --------------------------------------------------------------------------------------------------
  c({ id: "user-name-dotdot", type: "JailedUser", what: "name ../root", set: { name: "../root" }, property: "name", reason: NAME_CHARS }),
  c({ id: "user-name-backtick", type: "JailedUser", what: "name with backticks", set: { name: "`id`" }, property: "name", reason: NAME_CHARS }),
  c({ id: "user-extra-dash", type: "JailedUser", what: "extraGroups entry that is an option", set: { "extraGroups.1": "-G" }, property: "extraGroups[1]", reason: NAME_CHARS }),
  c({ id: "user-uid-root", type: "JailedUser", what: "uid 0 (root)", set: { uid: 0 }, property: "uid", reason: /uid must be at least 1 \(0 is root\)/ }),
  c({ id: "user-uid-overflow", type: "JailedUser", what: "uid 2^32-1 (the -1 sentinel)", set: { uid: 4294967295 }, property: "uid", reason: /uid must be below 4294967295/ }),
  c({ id: "user-group-semicolon", type: "JailedUser", what: "group with a shell separator", set: { group: "sftp;id" }, property: "group", reason: NAME_CHARS }),
  c({ id: "user-extra-subst", type: "JailedUser", what: "extraGroups entry with $(id)", set: { "extraGroups.0": "$(id)" }, property: "extraGroups[0]", reason: NAME_CHARS }),
  c({ id: "user-home-relative", type: "JailedUser", what: "relative home", set: { home: "srv/sftp/alice" }, property: "home", reason: ABS_PATH }),
  c({ id: "user-home-dotdot", type: "JailedUser", what: "home escaping with ..", set: { home: "/srv/sftp/../../etc" }, property: "home", reason: NORMALISED }),
  c({ id: "user-home-newline", type: "JailedUser", what: "home with a newline", set: { home: "/srv/sftp/alice\n/etc" }, property: "home", reason: ABS_PATH }),
  c({ id: "user-shell-subst", type: "JailedUser", what: "shell with $(id)", set: { shell: "/bin/$(id)" }, property: "shell", reason: ABS_PATH }),
  c({ id: "user-keysdir-nul", type: "JailedUser", what: "keysDir with NUL", set: { keysDir: "/etc/ssh/keys\u0000" }, property: "keysDir", reason: ABS_PATH }),
  c({ id: "user-keysdir-long", type: "JailedUser", what: "keysDir longer than PATH_MAX", set: { keysDir: "/" + "k".repeat(4096) }, property: "keysDir", reason: /keysDir is longer than PATH_MAX/ }),
  c({ id: "user-shell-args", type: "JailedUser", what: "shell with arguments", set: { shell: "/bin/sh -c id" }, property: "shell", reason: ABS_PATH }),
  c({ id: "user-key-options", type: "JailedUser", what: "authorized key with a command= option", set: { "authorizedKeys.0": `command="/bin/sh" ${KEY_A}` }, property: "authorizedKeys[0]", reason: KEY_LINE }),
  c({ id: "user-key-two-lines", type: "JailedUser", what: "two keys in one entry (newline)", set: { "authorizedKeys.1": `${KEY_A}\n${KEY_B}` }, property: "authorizedKeys[1]", reason: KEY_LINE }),
  c({ id: "user-key-malformed", type: "JailedUser", what: "key whose base64 is no key", set: { "authorizedKeys.2": "ssh-ed25519 AAAAB3NzaC1yc2E= x" }, property: "authorizedKeys[2]", reason: WELL_FORMED }),
  c({ id: "user-key-type-mismatch", type: "JailedUser", what: "ed25519 blob labelled ssh-rsa", set: { "authorizedKeys.3": `ssh-rsa ${BLOB_A} x` }, property: "authorizedKeys[3]", reason: /its base64 part is a "ssh-ed25519" key, not ssh-rsa/ }),
  c({ id: "user-key-dss", type: "JailedUser", what: "ssh-dss key (not accepted by OpenSSH 9)", set: { "authorizedKeys.4": "ssh-dss AAAAB3NzaC1kc3MAAACBAP" }, property: "authorizedKeys[4]", reason: KEY_LINE }),
  c({ id: "user-keysdir-dotdot", type: "JailedUser", what: "keysDir escaping with ..", set: { keysDir: "/etc/ssh/../.." }, property: "keysDir", reason: NORMALISED }),
  c({ id: "user-keyonly-string", type: "JailedUser", what: "keyOnly as a string", set: { keyOnly: "no" }, property: "keyOnly", reason: /expected boolean/i }),
  c({ id: "user-root", type: "JailedUser", what: "name root (would take over the operator's account)", set: { name: "root" }, property: "name", reason: /name must not be root/ }),
  c({ id: "user-home-root", type: "JailedUser", what: "home / (the jail would be the whole host)", set: { home: "/" }, property: "home", reason: /home must be at least two levels deep/ }),
  c({ id: "user-home-system", type: "JailedUser", what: "home inside /etc", set: { home: "/etc/ssh" }, property: "home", reason: /home must not be inside \/etc \(a system directory\)/ }),
  c({ id: "user-keysdir-etc", type: "JailedUser", what: "keysDir /etc (name passwd would overwrite /etc/passwd)", set: { keysDir: "/etc" }, property: "keysDir", reason: /keysDir must be a directory of its own under \/etc\/ssh\// }),
  c({ id: "user-keysdir-dropins", type: "JailedUser", what: "keysDir sshd_config.d (sshd would read key files as config)", set: { keysDir: "/etc/ssh/sshd_config.d" }, property: "keysDir", reason: /keysDir must be a directory of its own/ }),
  c({ id: "user-key-twice", type: "JailedUser", what: "the same key twice (cross-field, at preview)", set: { "authorizedKeys.1": KEY_A }, property: "authorizedKeys", reason: /authorizedKeys lists the same key twice/, alone: "resource" }),
  c({ id: "user-extra-repeats", type: "JailedUser", what: "extraGroups repeating group (cross-field, at preview)", set: { extraGroups: ["sftp"] }, property: "extraGroups", reason: /extraGroups repeats group "sftp"/, alone: "resource" }),

  // ---- ChrootDir ---------------------------------------------------------------------------------------------------
  c({ id: "chroot-dotdot", type: "ChrootDir", what: "path escaping with ..", set: { path: "/srv/../etc" }, property: "path", reason: NORMALISED }),
  c({ id: "chroot-root", type: "ChrootDir", what: "path / (the whole host)", set: { path: "/" }, property: "path", reason: /path must be at least two levels deep/ }),
  c({ id: "chroot-etc", type: "ChrootDir", what: "path /etc/x (a system directory; destroy could move it)", set: { path: "/etc/ssh" }, property: "path", reason: /path must not be inside \/etc \(a system directory\)/ }),
  c({ id: "chroot-var-lib", type: "ChrootDir", what: "path /var/lib/dpkg", set: { path: "/var/lib/dpkg" }, property: "path", reason: /path must not be inside \/var\/lib/ }),
  c({ id: "chroot-subdir-long", type: "ChrootDir", what: "subdir path of 1025 characters", set: { "subdirs.0.path": "a".repeat(1025) }, property: "subdirs[0].path", reason: /subdirs\[\]\.path must be at most 1024 characters/ }),
  c({ id: "chroot-owner", type: "ChrootDir", what: "owner other than root", set: { owner: "alice" }, property: "owner", reason: /owner must be "root"/ }),
  c({ id: "chroot-group-dash", type: "ChrootDir", what: "group that is an option", set: { group: "-g" }, property: "group", reason: NAME_CHARS }),
  c({ id: "chroot-mode-writable", type: "ChrootDir", what: "mode 0777 (OpenSSH refuses)", set: { mode: "0777" }, property: "mode", reason: /mode must not let group or others write/ }),
  c({ id: "chroot-mode-inject", type: "ChrootDir", what: "mode with a shell separator", set: { mode: "0755;id" }, property: "mode", reason: /mode must be an octal string/ }),
  c({ id: "chroot-subdir-dotdot", type: "ChrootDir", what: "subdir escaping with ..", set: { "subdirs.0.path": "../../etc" }, property: "subdirs[0].path", reason: /must be a relative path like "upload"/ }),
  c({ id: "chroot-subdir-abs", type: "ChrootDir", what: "absolute subdir", set: { "subdirs.1": { path: "/etc", owner: "alice", group: "sftp" } }, property: "subdirs[1].path", reason: /must be a relative path like "upload"/ }),
  c({ id: "chroot-subdir-owner", type: "ChrootDir", what: "subdir owner with a shell separator", set: { "subdirs.0.owner": "alice;id" }, property: "subdirs[0].owner", reason: NAME_CHARS }),
  c({ id: "chroot-subdir-mode", type: "ChrootDir", what: "subdir mode of 3 digits", set: { "subdirs.0.mode": "777" }, property: "subdirs[0].mode", reason: /subdirs\[\]\.mode must be an octal string/ }),
  c({ id: "chroot-ondelete", type: "ChrootDir", what: "unknown onDelete", set: { onDelete: "purge" }, property: "onDelete", reason: /onDelete must be "retain" or "delete"/ }),
  // The jail a JailedUser owns: ChrootDir's fields and messages, under `chroot`.
  c({ id: "user-chroot-mode", type: "JailedUser", what: "its jail's mode 0777 (OpenSSH refuses)", set: { "chroot.mode": "0777" }, property: "chroot.mode", reason: /mode must not let group or others write/ }),
  c({ id: "user-chroot-subdir-dotdot", type: "JailedUser", what: "its jail's subdir escaping with ..", set: { "chroot.subdirs.0.path": "../../etc" }, property: "chroot.subdirs[0].path", reason: /must be a relative path like "upload"/ }),
  c({ id: "user-chroot-subdir-owner", type: "JailedUser", what: "its jail's subdir owner with a shell separator", set: { "chroot.subdirs.0.owner": "alice;id" }, property: "chroot.subdirs[0].owner", reason: NAME_CHARS }),
  c({ id: "user-chroot-path", type: "JailedUser", what: "a path for its jail (the home is its path)", set: { "chroot.path": "/etc" }, property: "chroot", reason: /Unrecognized key: "path"/ }),
  c({ id: "user-chroot-subdir-twice", type: "JailedUser", what: "its jail's subdir twice", set: { "chroot.subdirs.1": { path: "upload", owner: "alice", group: "sftp" } }, property: "chroot.subdirs[1].path", reason: /subdir "upload" is listed twice/, alone: "resource" }),
  c({ id: "chroot-subdir-twice", type: "ChrootDir", what: "the same subdir twice", set: { "subdirs.1": { path: "upload", owner: "alice", group: "sftp" } }, property: "subdirs[1].path", reason: /subdir "upload" is listed twice/, alone: "resource" }),

  // ---- SshdMatchBlock ----------------------------------------------------------------------------------------------
  c({ id: "sshd-name-dotdot", type: "SshdMatchBlock", what: "name ../etc (part of a file name)", set: { name: "../etc" }, property: "name", reason: /name must be 1-64 letters, digits, _ or -/ }),
  c({ id: "sshd-name-long", type: "SshdMatchBlock", what: "name of 65 characters", set: { name: "b".repeat(65) }, property: "name", reason: /name must be 1-64 letters/ }),
  c({ id: "sshd-order", type: "SshdMatchBlock", what: "order 100", set: { order: 100 }, property: "order", reason: /order must be between 0 and 99/ }),
  c({ id: "sshd-group-semicolon", type: "SshdMatchBlock", what: "Match Group pattern with a shell separator", set: { "match.Group": ["sftp", "x;y"] }, property: "match.Group[1]", reason: /match.Group entries may contain only/ }),
  c({ id: "sshd-user-subst", type: "SshdMatchBlock", what: "Match User pattern with $(id)", set: { "match.User": ["$(id)"] }, property: "match.User[0]", reason: /match.User entries may contain only/ }),
  c({ id: "sshd-address-newline", type: "SshdMatchBlock", what: "Match Address with a newline and a second Match", set: { "match.Address": ["192.0.2.0/24\nMatch all"] }, property: "match.Address[0]", reason: /match.Address entries may contain only/ }),
  c({ id: "sshd-banner-shadow", type: "SshdMatchBlock", what: "Banner /etc/shadow (sent to clients before login)", set: { "directives.Banner": "/etc/shadow" }, property: "directives.Banner", reason: /Banner must be \/etc\/issue/ }),
  c({ id: "sshd-address-prefix", type: "SshdMatchBlock", what: "Match Address 10.0.0.0/33", set: { "match.Address": ["10.0.0.0/33"] }, property: "match.Address[0]", reason: /has a prefix length above 32/ }),
  c({ id: "sshd-address-octet", type: "SshdMatchBlock", what: "Match Address 300.1.1.1", set: { "match.LocalAddress": ["300.1.1.1"] }, property: "match.LocalAddress[0]", reason: /is not an IP address or CIDR prefix/ }),
  c({ id: "sshd-localport", type: "SshdMatchBlock", what: "Match LocalPort 70000", set: { "match.LocalPort": 70000 }, property: "match.LocalPort", reason: PORT_RANGE }),
  c({ id: "sshd-unknown-directive", type: "SshdMatchBlock", what: "unknown directive", set: { "directives.Foo": "bar" }, property: "directives.Foo", reason: /"Foo" is not a keyword sftp-jail allows inside a Match block/ }),
  c({ id: "sshd-subsystem", type: "SshdMatchBlock", what: "Subsystem inside Match (a shell as sftp server)", set: { "directives.Subsystem": "sftp /bin/sh" }, property: "directives.Subsystem", reason: /not a keyword sftp-jail allows inside a Match block/ }),
  c({ id: "sshd-permitrootlogin", type: "SshdMatchBlock", what: "PermitRootLogin (not a jail directive)", set: { "directives.PermitRootLogin": "yes" }, property: "directives.PermitRootLogin", reason: /not a keyword sftp-jail allows/ }),
  c({ id: "sshd-inherited-name", type: "SshdMatchBlock", what: "a directive named like an object's own property (constructor)", set: { "directives.constructor": "yes" }, property: "directives.constructor", reason: /"constructor" is not a keyword sftp-jail allows inside a Match block/ }),
  c({ id: "sshd-misspelled", type: "SshdMatchBlock", what: "directive in the wrong case", set: { "directives.chrootdirectory": "%h" }, property: "directives.chrootdirectory", reason: /"chrootdirectory" must be spelled ChrootDirectory/ }),
  c({ id: "sshd-forcecommand-chain", type: "SshdMatchBlock", what: "ForceCommand chaining a shell command", set: { "directives.ForceCommand": "internal-sftp; /bin/sh" }, property: "directives.ForceCommand", reason: /no shell metacharacters/ }),
  c({ id: "sshd-chroot-newline", type: "SshdMatchBlock", what: "ChrootDirectory with a newline and more directives", set: { "directives.ChrootDirectory": "%h\nMatch all\nPermitRootLogin yes" }, property: "directives.ChrootDirectory", reason: /must not contain newlines, "#", quotes or backslashes/ }),
  c({ id: "sshd-banner-relative", type: "SshdMatchBlock", what: "relative Banner path", set: { "directives.Banner": "../../etc/shadow" }, property: "directives.Banner", reason: /Banner must be an absolute path/ }),
  c({ id: "sshd-x11-comment", type: "SshdMatchBlock", what: "value with a trailing comment", set: { "directives.X11Forwarding": "no # yes" }, property: "directives.X11Forwarding", reason: /must not contain newlines, "#"/ }),
  c({ id: "sshd-subsystem-flag", type: "SshdMatchBlock", what: "subsystemInternalSftp as a string", set: { subsystemInternalSftp: "yes" }, property: "subsystemInternalSftp", reason: /subsystemInternalSftp must be true or false/ }),
  c({ id: "sshd-unknown-criterion", type: "SshdMatchBlock", what: "unknown Match criterion", set: { "match.Port": ["22"] }, property: "match", reason: /unknown Match criterion/ }),

  // ---- FirewallRule ------------------------------------------------------------------------------------------------
  c({ id: "fw-name-quote", type: "FirewallRule", what: "name with a quote and a command", set: { name: 'x"; iptables -F; "' }, property: "name", reason: /no spaces, quotes, colons or newlines/ }),
  c({ id: "fw-name-newline", type: "FirewallRule", what: "name with a newline", set: { name: "sftp\n-A INPUT -j ACCEPT" }, property: "name", reason: /no spaces, quotes, colons or newlines/ }),
  c({ id: "fw-port-0", type: "FirewallRule", what: "port 0", set: { port: 0 }, property: "port", reason: PORT_RANGE }),
  c({ id: "fw-port-65536", type: "FirewallRule", what: "port 65536", set: { port: 65536 }, property: "port", reason: PORT_RANGE }),
  c({ id: "fw-ports-repeat", type: "FirewallRule", what: "ports repeating a port", set: { ports: [22, 22] }, property: "ports", reason: /ports must not repeat a port/ }),
  c({ id: "fw-source-hostbits", type: "FirewallRule", what: "CIDR with host bits set", set: { source: "10.0.0.1/8" }, property: "source", reason: /host bits set; the network is 10\.0\.0\.0\/8/ }),
  c({ id: "fw-source-inject", type: "FirewallRule", what: "CIDR followed by an nft command", set: { source: "10.0.0.0/8; flush ruleset" }, property: "source", reason: /prefix length "8; flush ruleset" must be a number/ }),
  c({ id: "fw-state-lower", type: "FirewallRule", what: "conntrack state in lower case", set: { state: ["new"] }, property: "state[0]", reason: /state entries must be one of/ }),
  c({ id: "fw-action", type: "FirewallRule", what: "action LOG", set: { action: "LOG" }, property: "action", reason: /action must be "ACCEPT", "DROP" or "REJECT"/ }),
  c({ id: "fw-chain-dash", type: "FirewallRule", what: "chain that is an option (-F)", set: { chain: "-F" }, property: "chain", reason: /chain must be 1–28 letters/ }),
  c({ id: "fw-chain-semicolon", type: "FirewallRule", what: "chain with a shell separator", set: { chain: "INPUT;reboot" }, property: "chain", reason: /chain must be 1–28 letters/ }),
  c({ id: "fw-table-inject", type: "FirewallRule", what: "nft table with a second command", set: { backend: "nftables", table: "inet filter; flush ruleset" }, property: "table", reason: /table must be "<family> <name>"/ }),
  c({ id: "fw-protocol", type: "FirewallRule", what: "protocol icmp", set: { protocol: "icmp" }, property: "protocol", reason: /protocol must be "tcp" or "udp"/ }),
  c({ id: "fw-port-and-ports", type: "FirewallRule", what: "both port and ports", set: { ports: [2223] }, property: "port", reason: /give exactly one of port or ports/, alone: "resource" }),
];

// ---- composition ------------------------------------------------------------------------------------------------

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Sets a dot path (numeric parts index arrays); `null` deletes the last part. */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur: Record<string, unknown> = obj;
  for (const p of parts.slice(0, -1)) {
    if (cur[p] === undefined || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1];
  if (value === null) delete cur[last];
  else cur[last] = clone(value);
}

/** The arguments of one resource carrying every row of `rows` (all of one type), over `connection`. */
export function compose(type: ResourceType, rows: readonly HostileCase[], connection: Record<string, unknown>): Record<string, unknown> {
  const args: Record<string, unknown> = { ...clone(BASE[type]), connection: clone(connection) };
  for (const row of rows) for (const [p, v] of Object.entries(row.set)) setPath(args, p, v);
  return args;
}

const touches = (row: HostileCase) => Object.keys(row.set);
const overlaps = (a: string, b: string) => a === b || a.startsWith(b + ".") || b.startsWith(a + ".");

function compatible(a: HostileCase, b: HostileCase): boolean {
  if (a.alone === "resource" || b.alone === "resource") return false;
  if (a.property === b.property) return false;
  const conn = (r: HostileCase) => touches(r).some((p) => p.startsWith("connection."));
  if ((a.alone === "connection" && conn(b)) || (b.alone === "connection" && conn(a))) return false;
  return !touches(a).some((p) => touches(b).some((q) => overlaps(p, q)));
}

/** Rows packed into resources: each batch is one resource whose rows touch disjoint fields. Deterministic. */
export function batches(rows: readonly HostileCase[] = CASES): { type: ResourceType; rows: HostileCase[] }[] {
  const out: { type: ResourceType; rows: HostileCase[] }[] = [];
  for (const row of rows) {
    const home = out.find((b) => b.type === row.type && b.rows.every((r) => compatible(r, row)));
    if (home) home.rows.push(row);
    else out.push({ type: row.type, rows: [row] });
  }
  return out;
}
