/**
 * SshdMatchBlock: one `Match` block of sshd_config on one host, kept in its own drop-in file.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as adapter from "../adapters/sshdMatchBlock";
import { sshdMatchBlockShape, TYPE } from "../schema/sshdMatchBlock";
import type { matchSchema } from "../schema/sshdMatchBlock";
import type { PulumiInputs } from "../schema/inputs";
import type { z } from "zod";
import { AdapterRef, DynamicResource, MODULE, ResourceArgs, ResourceOutputs, outputProps, secretConnection, withSecretConnection, stackIdentity } from "./dynamic";

/** Its provider (loaded only where Pulumi runs it: the provider process; see provider/resources/dynamic.ts). */
const ADAPTER: AdapterRef = { file: require.resolve("../adapters/sshdMatchBlock"), load: () => require("../adapters/sshdMatchBlock") };

/** Match criteria; all given ones must hold (the fields of `matchSchema`). */
export interface SshdMatchCriteria extends PulumiInputs<z.input<typeof matchSchema>> {}

/** Arguments of {@link SshdMatchBlock}: the fields of provider/schema/sshdMatchBlock.ts, each a `pulumi.Input`. */
export interface SshdMatchBlockArgs extends ResourceArgs<typeof sshdMatchBlockShape, "name"> {}

/** Outputs of {@link SshdMatchBlock}: its fields as normalised, plus the drop-in's `path` and `content`. */
export interface SshdMatchBlock extends ResourceOutputs<adapter.SshdMatchBlockState, "inPlace" | typeof adapter.OWNER_KEY> {}

/**
 * A `Match` block in sshd_config.d on one host. Every change is checked by `sshd -t` and by `sshd -T -C` for the
 * operator's own connection, reloaded, and confirmed by a fresh login; a change that would lock the operator out is
 * reverted and fails.
 */
export class SshdMatchBlock extends DynamicResource {
  constructor(name: string, args: SshdMatchBlockArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      ADAPTER,
      name,
      outputProps(sshdMatchBlockShape, ["path", "content"], {
        ...args,
        name: args.name ?? name,
        connection: secretConnection(args.connection),
        ...stackIdentity(),
      }),
      withSecretConnection(opts, args.connection),
      MODULE,
      TYPE,
    );
  }
}
