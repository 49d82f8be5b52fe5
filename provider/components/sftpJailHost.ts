/**
 * SftpJailHost: the whole chrooted-SFTP set-up of one host from one compact declaration — the group, the sshd Match
 * block that jails it, one chroot with writable directories per user, the users with their keys, and (optionally)
 * the firewall opening.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConnectionArgs } from "../resources/dynamic";
import { SftpGroup } from "../resources/sftpGroup";
import { SshdMatchBlock } from "../resources/sshdMatchBlock";
import { ChrootDir } from "../resources/chrootDir";
import { JailedUser } from "../resources/jailedUser";
import { FirewallRule, FirewallRuleArgs } from "../resources/firewallRule";
import { DEFAULT_KEYS_DIR } from "../plan/jailedUser";

/** One jailed user of a {@link SftpJailHost}. */
export interface SftpJailUser {
  /** Login name. */
  readonly name: string;
  /** Numeric uid; omit to let the host choose. */
  readonly uid?: number;
  /** Exact set of public keys allowed to log in. */
  readonly authorizedKeys: pulumi.Input<pulumi.Input<string>[]>;
  /** Directories inside the chroot the user may write to; default ["upload"]. */
  readonly writableDirs?: string[];
}

/** Arguments of {@link SftpJailHost}. */
export interface SftpJailHostArgs {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. */
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** The SFTP group whose members are jailed. */
  readonly group: { readonly name: string; readonly gid?: number };
  /** Parent of the per-user chroots (each user's chroot and home is `<chrootBase>/<user>`); default /srv/sftp. */
  readonly chrootBase?: string;
  /** Repair existing ancestors of chrootBase that break OpenSSH's rule; default false. */
  readonly fixAncestors?: boolean;
  readonly users: SftpJailUser[];
  /** Extra or overriding directives for the Match block (e.g. { PasswordAuthentication: "no" }). */
  readonly sshdDirectives?: Record<string, string>;
  /** Position of the Match block among other managed blocks; default 50. */
  readonly sshdOrder?: number;
  /** Root-owned directory of per-user key files; default /etc/ssh/sftp-jail/authorized_keys. */
  readonly keysDir?: string;
  /** On destroy, what happens to files in the chroots: "retain" (default) or "delete". */
  readonly onDelete?: "retain" | "delete";
  /**
   * A firewall opening for the SFTP clients (the admin's "ACCEPT tcp 2222 before the REJECT rule"). Defaults:
   * port 22, action ACCEPT, position beforeReject, backend auto.
   */
  readonly firewall?: Omit<FirewallRuleArgs, "connection" | "action">;
}

/** The directives that make a jail: what the admin's hand-written `Match Group` block held. */
export function jailDirectives(keysDir: string): Record<string, string> {
  return {
    ChrootDirectory: "%h",
    ForceCommand: "internal-sftp",
    X11Forwarding: "no",
    AllowTcpForwarding: "no",
    PermitTunnel: "no",
    AllowAgentForwarding: "no",
    AuthorizedKeysFile: `${keysDir}/%u`,
  };
}

export class SftpJailHost extends pulumi.ComponentResource {
  readonly group: SftpGroup;
  readonly matchBlock: SshdMatchBlock;
  readonly users: Record<string, JailedUser> = {};
  readonly chroots: Record<string, ChrootDir> = {};
  readonly firewallRule?: FirewallRule;

  constructor(name: string, args: SftpJailHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sftpjail:index:SftpJailHost", name, {}, opts);
    const parent = { parent: this };
    const base = args.chrootBase ?? "/srv/sftp";
    const keysDir = args.keysDir ?? DEFAULT_KEYS_DIR;
    const connection = args.connection;

    this.group = new SftpGroup(`${name}-group`, { connection, name: args.group.name, gid: args.group.gid }, parent);

    const jailed: pulumi.Resource[] = [];
    for (const u of args.users) {
      const home = `${base}/${u.name}`;
      const user = new JailedUser(
        `${name}-${u.name}`,
        { connection, name: u.name, uid: u.uid, group: args.group.name, home, authorizedKeys: u.authorizedKeys, keysDir },
        { ...parent, dependsOn: [this.group] },
      );
      const chroot = new ChrootDir(
        `${name}-${u.name}-chroot`,
        {
          connection,
          path: home,
          fixAncestors: args.fixAncestors,
          onDelete: args.onDelete,
          subdirs: (u.writableDirs ?? ["upload"]).map((d) => ({ path: d, owner: u.name, group: args.group.name, mode: "0755" })),
        },
        { ...parent, dependsOn: [user] },
      );
      this.users[u.name] = user;
      this.chroots[u.name] = chroot;
      jailed.push(user, chroot);
    }

    // Last: the jail goes live once its users and chroots exist, and goes first on destroy.
    this.matchBlock = new SshdMatchBlock(
      `${name}-match`,
      {
        connection,
        name: `group-${args.group.name}`,
        order: args.sshdOrder ?? 50,
        match: { Group: [args.group.name] },
        directives: { ...jailDirectives(keysDir), ...(args.sshdDirectives ?? {}) },
        subsystemInternalSftp: true,
      },
      { ...parent, dependsOn: [this.group, ...jailed] },
    );
    if (args.firewall) {
      this.firewallRule = new FirewallRule(
        `${name}-firewall`,
        { port: 22, position: "beforeReject", ...args.firewall, connection, action: "ACCEPT" },
        parent,
      );
    }
    this.registerOutputs({});
  }
}
