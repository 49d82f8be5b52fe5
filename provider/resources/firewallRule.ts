/**
 * FirewallRule: one packet-filter rule on one host (e.g. the opening for SFTP), in iptables or nftables.
 */
import * as pulumi from "@pulumi/pulumi";
import * as adapter from "../adapters/firewallRule";
import { MODULE, dynamicProvider, secretConnection, withSecretConnection, ConnectionArgs, stackIdentity } from "./dynamic";

/** Arguments of {@link FirewallRule}. */
export interface FirewallRuleArgs {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. Always stored encrypted. */
  readonly connection: pulumi.Input<ConnectionArgs>;
  /**
   * Identifies the rule on the host through its comment `sftp-jail:<name>`; unique per host. Default: the resource
   * name. Letters, digits and `_.@+=-`, at most 100. A new name replaces the rule.
   */
  readonly name?: pulumi.Input<string>;
  /**
   * `iptables` (the host's default `iptables`, usually iptables-nft), `iptables-legacy`, `nftables`, or `auto`
   * (default): the backend that already holds filter rules; with none, a native nft input chain if one exists, else
   * iptables. Chosen once at create and kept. A change replaces the rule.
   */
  readonly backend?: pulumi.Input<"auto" | "iptables" | "iptables-legacy" | "nftables">;
  /** Chain. Default `INPUT` (iptables, table filter) or `input` (nftables; created as a base chain if missing). */
  readonly chain?: pulumi.Input<string>;
  /** nftables only: `"<family> <name>"`. Default `"inet filter"` (Debian's stock table; created if missing). */
  readonly table?: pulumi.Input<string>;
  /** `tcp` (default) or `udp`. */
  readonly protocol?: pulumi.Input<"tcp" | "udp">;
  /** Destination port, 1–65535. Give this or `ports`. */
  readonly port?: pulumi.Input<number>;
  /** Destination ports (at most 15). Give this or `port`. */
  readonly ports?: pulumi.Input<pulumi.Input<number>[]>;
  /**
   * Source CIDR, IPv4 or IPv6 (host bits zero; a bare address means /32 or /128). Omit for any source, IPv4 and IPv6:
   * with nftables `inet` one rule matches both; with iptables backends the rule gets an ip6tables twin wherever the
   * host filters IPv6 (its ip6tables filter table exists). `0.0.0.0/0` is every IPv4 address only, `::/0` every IPv6
   * one. An nftables `ip` or `ip6` table limits the rule to that family.
   */
  readonly source?: pulumi.Input<string>;
  /** conntrack states, e.g. `["NEW"]`. Omit for any state. */
  readonly state?: pulumi.Input<Array<"NEW" | "ESTABLISHED" | "RELATED" | "INVALID" | "UNTRACKED">>;
  /** `ACCEPT` (default), `DROP` or `REJECT`. */
  readonly action?: pulumi.Input<"ACCEPT" | "DROP" | "REJECT">;
  /**
   * `beforeReject` (default): before the chain's first REJECT/DROP rule, appended if there is none; `top`: before
   * every rule that is not sftp-jail's; `bottom`: after them. Checked on refresh: a moved rule shows as an update.
   */
  readonly position?: pulumi.Input<"top" | "bottom" | "beforeReject">;
  /** Also save the ruleset where the distro loads it at boot (Debian: /etc/iptables/rules.v4|v6, /etc/nftables.conf). */
  readonly persist?: pulumi.Input<boolean>;
}

/**
 * One firewall rule, found on the host by its comment `sftp-jail:<name>`. Every change is confirmed by a fresh SSH
 * login and reverted to the exact previous table if that fails; REJECT/DROP rules on sshd's port must be limited to
 * state NEW so the running session survives. Destroy removes exactly this rule, in every family.
 */
export class FirewallRule extends pulumi.dynamic.Resource {
  /** The comment that marks the rule on the host: `sftp-jail:<name>`. */
  declare readonly comment: pulumi.Output<string>;
  /** The rule in words, e.g. "ACCEPT tcp port 2222 from 203.0.113.0/24 state NEW". */
  declare readonly rule: pulumi.Output<string>;
  /** The backend in use (auto resolved). */
  declare readonly resolvedBackend: pulumi.Output<string>;
  /** `filter` (iptables) or `"<family> <name>"` (nftables). */
  declare readonly resolvedTable: pulumi.Output<string>;
  /** The chain in use. */
  declare readonly resolvedChain: pulumi.Output<string>;
  /** False when refresh found the rule where `position` does not allow it (the next update moves it back). */
  declare readonly inPosition: pulumi.Output<boolean>;
  /** False when refresh found the rule edited or duplicated (the next update rewrites it). */
  declare readonly matchesSpec: pulumi.Output<boolean>;
  /**
   * Per address family the rule is for (`ipv4`, `ipv6`): "ok", or the drift refresh found in that family's rule —
   * "missing", "duplicated", "edited" or "moved" (the next update puts it right).
   */
  declare readonly families: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: FirewallRuleArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider(adapter),
      name,
      {
        ...args,
        name: args.name ?? name,
        connection: secretConnection(args.connection), ...stackIdentity(),
        // Desired drift markers: read reports what it saw, so a moved or edited rule previews as an update of these.
        inPosition: true,
        matchesSpec: true,
        families: undefined,
        comment: undefined,
        rule: undefined,
        resolvedBackend: undefined,
        resolvedTable: undefined,
        resolvedChain: undefined,
      },
      withSecretConnection(opts),
      MODULE,
      adapter.TYPE,
    );
  }
}
