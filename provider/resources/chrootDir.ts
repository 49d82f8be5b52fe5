/**
 * ChrootDir: a jail directory for OpenSSH's ChrootDirectory, plus writable subdirectories for uploads.
 */
import * as pulumi from "@pulumi/pulumi";
import * as adapter from "../adapters/chrootDir";
import { MODULE, dynamicProvider, secretConnection, withSecretConnection, ConnectionArgs, stackIdentity } from "./dynamic";

/** A directory inside the chroot that a user may write to. */
export interface ChrootSubdir {
  /** Relative path inside the chroot, e.g. "upload". */
  readonly path: pulumi.Input<string>;
  /** Owning user (usually the jailed user). */
  readonly owner: pulumi.Input<string>;
  /** Owning group. */
  readonly group: pulumi.Input<string>;
  /** Octal mode string; default "0755". */
  readonly mode?: pulumi.Input<string>;
}

/** Arguments of {@link ChrootDir}. */
export interface ChrootDirArgs {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. Always stored encrypted. */
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** Absolute, normalised path of the jail. Every component must be root-owned and not group/other-writable. */
  readonly path: pulumi.Input<string>;
  /** Group of the jail directory (owner is always root); default "root". */
  readonly group?: pulumi.Input<string>;
  /** Octal mode of the jail directory; default "0755"; group/other write is refused. */
  readonly mode?: pulumi.Input<string>;
  /** Repair existing ancestors that break OpenSSH's rule instead of failing at preview; default false. */
  readonly fixAncestors?: pulumi.Input<boolean>;
  /** Writable subdirectories (e.g. `upload`), created after their owner exists. */
  readonly subdirs?: pulumi.Input<pulumi.Input<ChrootSubdir>[]>;
  /** On destroy: "retain" (default) keeps files in /var/lib/sftp-jail/retained; "delete" removes them. */
  readonly onDelete?: pulumi.Input<"retain" | "delete">;
}

/** A chroot jail directory that satisfies OpenSSH's ownership rule, with writable upload directories. */
export class ChrootDir extends pulumi.dynamic.Resource {
  declare readonly path: pulumi.Output<string>;
  declare readonly mode: pulumi.Output<string>;
  declare readonly group: pulumi.Output<string>;
  /** Ancestors this resource created (removed on destroy when empty). */
  declare readonly createdAncestors: pulumi.Output<string[]>;
  /** The jail existed before (made by hand) and was adopted: destroy leaves it and its files in place. */
  declare readonly adopted: pulumi.Output<boolean | undefined>;

  constructor(name: string, args: ChrootDirArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider(adapter),
      name,
      { ...args, connection: secretConnection(args.connection), ...stackIdentity(), createdAncestors: undefined, adopted: undefined },
      withSecretConnection(opts),
      MODULE,
      adapter.TYPE,
    );
  }
}
