/**
 * SftpGroup: a local group on one host (the group a `Match Group` block and jailed users refer to).
 */
import * as pulumi from "@pulumi/pulumi";
import * as adapter from "../adapters/sftpGroup";
import type { sftpGroupShape } from "../schema/sftpGroup";
import { DynamicResource, MODULE, ResourceArgs, ResourceOutputs, outputProps, secretConnection, withSecretConnection, stackIdentity } from "./dynamic";

/** Arguments of {@link SftpGroup}: the fields of provider/schema/sftpGroup.ts, each a `pulumi.Input`. */
export interface SftpGroupArgs extends ResourceArgs<typeof sftpGroupShape> {}

/** Outputs of {@link SftpGroup}: its fields as normalised, `actualGid` and `adopted` (see SftpGroupState). */
export interface SftpGroup extends ResourceOutputs<adapter.SftpGroupState> {}

/**
 * A local group on one host. Adopts a group that already exists with the same name (and gid, if given); destroy
 * removes only groups it created.
 */
export class SftpGroup extends DynamicResource {
  constructor(name: string, args: SftpGroupArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      adapter,
      name,
      outputProps(adapter.sftpGroupShape, ["actualGid", "adopted"], { ...args, connection: secretConnection(args.connection), ...stackIdentity() }),
      withSecretConnection(opts),
      MODULE,
      adapter.TYPE,
    );
  }
}
