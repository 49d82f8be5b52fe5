/**
 * ChrootDir: a jail directory for OpenSSH's ChrootDirectory, plus writable subdirectories for uploads.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as adapter from "../adapters/chrootDir";
import { chrootDirShape, TYPE } from "../schema/chrootDir";
import type { chrootSubdirShape } from "../schema/chrootDir";
import type { PulumiInputs, ShapeInput } from "../schema/inputs";
import { AdapterRef, DynamicResource, MODULE, ResourceArgs, ResourceOutputs, outputProps, secretConnection, withSecretConnection, stackIdentity } from "./dynamic";

/** Its provider (loaded only where Pulumi runs it: the provider process; see provider/resources/dynamic.ts). */
const ADAPTER: AdapterRef = { file: require.resolve("../adapters/chrootDir"), load: () => require("../adapters/chrootDir") };

/** A directory inside the chroot that a user may write to (fields of `chrootSubdirShape`). */
export interface ChrootSubdir extends PulumiInputs<ShapeInput<typeof chrootSubdirShape>> {}

/** Arguments of {@link ChrootDir}: the fields of provider/schema/chrootDir.ts, each a `pulumi.Input`. */
export interface ChrootDirArgs extends ResourceArgs<typeof chrootDirShape> {}

/** Outputs of {@link ChrootDir}: its fields as normalised, plus `createdAncestors`, `adopted` and `createdSubdirs`. */
export interface ChrootDir extends ResourceOutputs<adapter.ChrootDirState> {}

/** A chroot jail directory that satisfies OpenSSH's ownership rule, with writable upload directories. */
export class ChrootDir extends DynamicResource {
  constructor(name: string, args: ChrootDirArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      ADAPTER,
      name,
      outputProps(chrootDirShape, ["createdAncestors", "adopted", "createdSubdirs"], { ...args, connection: secretConnection(args.connection), ...stackIdentity() }),
      withSecretConnection(opts, args.connection),
      MODULE,
      TYPE,
    );
  }
}
