/**
 * JailedUser: a chrooted, key-only SFTP account.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as adapter from "../adapters/jailedUser";
import { jailedUserShape, TYPE } from "../schema/jailedUser";
import { AdapterRef, DynamicResource, MODULE, ResourceArgs, ResourceOutputs, outputProps, secretConnection, withSecretConnection, stackIdentity } from "./dynamic";

/** Its provider (loaded only where Pulumi runs it: the provider process; see provider/resources/dynamic.ts). */
const ADAPTER: AdapterRef = { file: require.resolve("../adapters/jailedUser"), load: () => require("../adapters/jailedUser") };

/** Arguments of {@link JailedUser}: the fields of provider/schema/jailedUser.ts, each a `pulumi.Input`. */
export interface JailedUserArgs extends ResourceArgs<typeof jailedUserShape> {}

/** Outputs of {@link JailedUser}: its fields as normalised, plus `uidActual`, `defaultShell`, `adopted` and `jail`. */
export interface JailedUser extends ResourceOutputs<adapter.JailedUserState> {}

/**
 * A chrooted, key-only SFTP account. Adopts an account that already exists (changing only what differs); destroy
 * deletes only accounts it created, and never their files.
 */
export class JailedUser extends DynamicResource {
  constructor(name: string, args: JailedUserArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      ADAPTER,
      name,
      outputProps(jailedUserShape, ["uidActual", "defaultShell", "adopted", "jail"], { ...args, connection: secretConnection(args.connection), ...stackIdentity() }),
      withSecretConnection(opts, args.connection),
      MODULE,
      TYPE,
    );
  }
}
