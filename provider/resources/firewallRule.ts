/**
 * FirewallRule: one packet-filter rule on one host (e.g. the opening for SFTP), in iptables or nftables.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as adapter from "../adapters/firewallRule";
import { firewallRuleShape, TYPE } from "../schema/firewallRule";
import { AdapterRef, DynamicResource, MODULE, ResourceArgs, ResourceOutputs, outputProps, secretConnection, withSecretConnection, stackIdentity } from "./dynamic";

/** Its provider (loaded only where Pulumi runs it: the provider process; see provider/resources/dynamic.ts). */
const ADAPTER: AdapterRef = { file: require.resolve("../adapters/firewallRule"), load: () => require("../adapters/firewallRule") };

/** Arguments of {@link FirewallRule}: the fields of provider/schema/firewallRule.ts, each a `pulumi.Input`. */
export interface FirewallRuleArgs extends ResourceArgs<typeof firewallRuleShape, "name"> {}

/**
 * Outputs of {@link FirewallRule}: its fields as normalised, plus `comment`, `rule`, the resolved backend, table and
 * chain, and the drift markers `inPosition`, `matchesSpec` and `families` (see FirewallRuleState).
 */
export interface FirewallRule extends ResourceOutputs<adapter.FirewallRuleState, "family" | "created"> {}

/**
 * One firewall rule, found on the host by its comment `sftp-jail:<name>`. Every change is confirmed by a fresh SSH
 * login and reverted to the exact previous table if that fails; REJECT/DROP rules on sshd's port must be limited to
 * state NEW so the running session survives. Destroy removes exactly this rule, in every family.
 */
export class FirewallRule extends DynamicResource {
  constructor(name: string, args: FirewallRuleArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      ADAPTER,
      name,
      outputProps(firewallRuleShape, ["families", "comment", "rule", "resolvedBackend", "resolvedTable", "resolvedChain", "adopted"], {
        ...args,
        name: args.name ?? name,
        connection: secretConnection(args.connection),
        ...stackIdentity(),
        // Desired drift markers: read reports what it saw, so a moved or edited rule previews as an update of these.
        inPosition: true,
        matchesSpec: true,
      }),
      withSecretConnection(opts, args.connection),
      MODULE,
      TYPE,
    );
  }
}
