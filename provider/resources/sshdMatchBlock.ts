/**
 * SshdMatchBlock: one `Match` block of sshd_config on one host, kept in its own drop-in file.
 */
import * as pulumi from "@pulumi/pulumi";
import * as adapter from "../adapters/sshdMatchBlock";
import { MODULE, dynamicProvider, secretConnection, withSecretConnection, ConnectionArgs, stackIdentity } from "./dynamic";

/** Match criteria; all given ones must hold. Pattern lists allow the wildcards `*` `?` and `!` negation. */
export interface SshdMatchCriteria {
  /** `Match all`: every connection (cannot be combined with other criteria). */
  readonly all?: true;
  /** User name patterns, e.g. `["alice", "bob"]`. */
  readonly User?: string[];
  /** Group name patterns, e.g. `["sftp"]` or `["sftp", "!admins"]`. */
  readonly Group?: string[];
  /** Client host name patterns (reverse DNS when sshd has UseDNS yes). */
  readonly Host?: string[];
  /** Server addresses the client connected to: patterns or CIDR. */
  readonly LocalAddress?: string[];
  /** The server port the client connected to (OpenSSH takes a single port here). */
  readonly LocalPort?: number;
  /** Client addresses: patterns (`192.0.2.*`) or CIDR (`192.0.2.0/24`), `!` to exclude. */
  readonly Address?: string[];
}

/** Arguments of {@link SshdMatchBlock}. */
export interface SshdMatchBlockArgs {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. Always stored encrypted. */
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** Names the block on the host (1-64 of `A-Za-z0-9_-`). Default: the resource name. */
  readonly name?: pulumi.Input<string>;
  /**
   * 0–99 (default 50). Blocks are read in this order (file `NN-sftp-jail-<name>.conf`); when several matching blocks
   * set the same keyword, the lowest order wins, as OpenSSH takes the first value.
   */
  readonly order?: pulumi.Input<number>;
  /** Who the block applies to, e.g. `{ Group: ["sftp"] }`. */
  readonly match: pulumi.Input<SshdMatchCriteria>;
  /**
   * sshd keywords allowed inside Match → value, e.g. `{ ChrootDirectory: "%h", ForceCommand: "internal-sftp",
   * X11Forwarding: "no", AllowTcpForwarding: "no" }`. Allowed: ChrootDirectory, ForceCommand, AllowTcpForwarding,
   * AllowStreamLocalForwarding, AllowAgentForwarding, X11Forwarding, GatewayPorts, PermitTunnel, DisableForwarding,
   * PermitTTY, PermitUserRC, PasswordAuthentication, KbdInteractiveAuthentication, PubkeyAuthentication,
   * AuthorizedKeysFile, Banner. Booleans are written as yes/no.
   */
  readonly directives: pulumi.Input<Record<string, pulumi.Input<string | boolean>>>;
  /**
   * Keep `Subsystem sftp internal-sftp` on the host while this block exists (default true). Shared by all blocks of a
   * host: the main file's Subsystem line is changed while any block wants it and restored byte for byte after the last.
   */
  readonly subsystemInternalSftp?: pulumi.Input<boolean>;
}

/**
 * A `Match` block in sshd_config.d on one host. Every change is checked by `sshd -t` and by `sshd -T -C` for the
 * operator's own connection, reloaded, and confirmed by a fresh login; a change that would lock the operator out is
 * reverted and fails.
 */
export class SshdMatchBlock extends pulumi.dynamic.Resource {
  /** The block's name on the host. */
  declare readonly name: pulumi.Output<string>;
  /** Its order. */
  declare readonly order: pulumi.Output<number>;
  /** The drop-in file that holds it. */
  declare readonly path: pulumi.Output<string>;
  /** The file's content as written. */
  declare readonly content: pulumi.Output<string>;

  constructor(name: string, args: SshdMatchBlockArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider(adapter),
      name,
      {
        ...args,
        name: args.name ?? name,
        connection: secretConnection(args.connection), ...stackIdentity(),
        path: undefined,
        content: undefined,
      },
      withSecretConnection(opts),
      MODULE,
      adapter.TYPE,
    );
  }
}
