/**
 * JailedUser: a chrooted, key-only SFTP account.
 */
import * as pulumi from "@pulumi/pulumi";
import * as adapter from "../adapters/jailedUser";
import { MODULE, dynamicProvider, secretConnection, withSecretConnection, ConnectionArgs, stackIdentity } from "./dynamic";

/** Arguments of {@link JailedUser}. */
export interface JailedUserArgs {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. Always stored encrypted. */
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** Login name. A new name replaces the account. */
  readonly name: pulumi.Input<string>;
  /** Numeric uid; omit to let the host choose. A new uid replaces the account. */
  readonly uid?: pulumi.Input<number>;
  /** The SFTP group; new accounts get it as primary group. */
  readonly group: pulumi.Input<string>;
  /** More supplementary groups. */
  readonly extraGroups?: pulumi.Input<pulumi.Input<string>[]>;
  /** Home directory = the chroot (a root-owned ChrootDir). */
  readonly home: pulumi.Input<string>;
  /** Login shell; default: the host's nologin. Must resolve on the host to nologin or false unless allowLoginShell. */
  readonly shell?: pulumi.Input<string>;
  /** Allow `shell` to be a real login shell (default false: refused, the Match block would be the only confinement). */
  readonly allowLoginShell?: pulumi.Input<boolean>;
  /** Exact set of public keys allowed to log in ("type base64 [comment]"). */
  readonly authorizedKeys?: pulumi.Input<pulumi.Input<string>[]>;
  /** Root-owned directory with one key file per user; default /etc/ssh/sftp-jail/authorized_keys. */
  readonly keysDir?: pulumi.Input<string>;
  /**
   * Adopt a key file kept elsewhere (e.g. ~/.ssh/authorized_keys inside a hand-made jail) read-only: its keys must
   * equal `authorizedKeys`; sftp-jail reports drift, refuses to write it, and destroy leaves it.
   */
  readonly authorizedKeysFile?: pulumi.Input<string>;
  /** Keep the password field "*" (key-only, not locked); default true. */
  readonly keyOnly?: pulumi.Input<boolean>;
  /**
   * Clients the jail is reached from, e.g. `[{ address: "203.0.113.7" }]` (optionally with the server's
   * `localAddress` and `localPort` they connect to). Every run proves the jail in effect (`sshd -T -C`) for a neutral
   * client and for each of these, so a `Match Address` block that loosens it for the partner shows as drift.
   */
  readonly reachedFrom?: pulumi.Input<pulumi.Input<{ address: string; localAddress?: string; localPort?: number }>[]>;
  /**
   * Jail keywords this account deliberately does not need at "no" (default none), of AllowTcpForwarding,
   * AllowStreamLocalForwarding, AllowAgentForwarding, X11Forwarding, PermitTunnel, PermitTTY, GatewayPorts,
   * PermitUserRC: e.g. to adopt a hand-made block that does not set them. Every other one must resolve to "no".
   */
  readonly jailOptOut?: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * A chrooted, key-only SFTP account. Adopts an account that already exists (changing only what differs); destroy
 * deletes only accounts it created, and never their files.
 */
export class JailedUser extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  /** The uid the host assigned. */
  declare readonly uidActual: pulumi.Output<number>;
  declare readonly adopted: pulumi.Output<boolean>;
  /** The jail as sshd evaluates it (keyword -> value); a keyword not in effect shows sshd's value. */
  declare readonly jail: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: JailedUserArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider(adapter),
      name,
      { ...args, connection: secretConnection(args.connection), ...stackIdentity(), uidActual: undefined, defaultShell: undefined, adopted: undefined, jail: undefined },
      withSecretConnection(opts),
      MODULE,
      adapter.TYPE,
    );
  }
}
