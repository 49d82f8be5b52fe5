/**
 * SftpGroup: a local group on one host (the group a `Match Group` block and jailed users refer to).
 */
import * as pulumi from "@pulumi/pulumi";
import type * as adapter from "../adapters/sftpGroup";
import { sftpGroupShape, TYPE } from "../schema/sftpGroup";
import { AdapterRef, DynamicResource, MODULE, ResourceArgs, ResourceOutputs, outputProps, secretConnection, withSecretConnection, stackIdentity } from "./dynamic";

/** Its provider (loaded only where Pulumi runs it: the provider process; see provider/resources/dynamic.ts). */
const ADAPTER: AdapterRef = { file: require.resolve("../adapters/sftpGroup"), load: () => require("../adapters/sftpGroup") };

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
      ADAPTER,
      name,
      outputProps(sftpGroupShape, ["actualGid", "adopted"], { ...args, connection: secretConnection(args.connection), ...stackIdentity() }),
      withSecretConnection(opts, args.connection),
      MODULE,
      TYPE,
    );
  }
}
