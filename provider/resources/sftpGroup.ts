/**
 * SftpGroup: a local group on one host (the group a `Match Group` block and jailed users refer to).
 */
import * as pulumi from "@pulumi/pulumi";
import * as adapter from "../adapters/sftpGroup";
import { MODULE, dynamicProvider, secretConnection, withSecretConnection, ConnectionArgs, stackIdentity } from "./dynamic";

/** Arguments of {@link SftpGroup}. */
export interface SftpGroupArgs {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. Always stored encrypted. */
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** Group name (POSIX: `[a-z_][a-z0-9_-]*`, at most 32 characters). A new name replaces the group. */
  readonly name: pulumi.Input<string>;
  /** Numeric gid; omit to let the host choose. Changing it runs `groupmod` in place. */
  readonly gid?: pulumi.Input<number>;
  /** Create as a system group when the group does not exist yet. */
  readonly system?: pulumi.Input<boolean>;
}

/**
 * A local group on one host. Adopts a group that already exists with the same name (and gid, if given); destroy
 * removes only groups it created.
 */
export class SftpGroup extends pulumi.dynamic.Resource {
  /** The group's name. */
  declare readonly name: pulumi.Output<string>;
  /** The gid the program asked for, if any. */
  declare readonly gid: pulumi.Output<number | undefined>;
  /** The gid the host has. */
  declare readonly actualGid: pulumi.Output<number>;
  /** True when the group existed before and was adopted. */
  declare readonly adopted: pulumi.Output<boolean>;

  constructor(name: string, args: SftpGroupArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider(adapter),
      name,
      { ...args, connection: secretConnection(args.connection), ...stackIdentity(), actualGid: undefined, adopted: undefined },
      withSecretConnection(opts),
      MODULE,
      adapter.TYPE,
    );
  }
}
