/**
 * FirewallRule's inputs: the single source of truth for their types, defaults, messages and docs. The resource's Args
 * (resources/firewallRule.ts) and the adapter's parsed fields are derived from it; the adapter's `desired()` turns
 * those into the planner's RuleDesired (port|ports folded into one sorted list).
 */
import { z } from "zod";
import { CT_STATES } from "../observe/ruleSpec";
import { MAX_PORTS } from "../plan/firewallTarget";
import { parseCidr } from "../util/cidr";
import { port } from "./common";

const chainName = z
  .string({ error: "chain must be a string" })
  .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,27}$/, {
    error: 'chain must be 1–28 letters, digits, "_" or "-", starting with a letter or "_" (e.g. INPUT, or input for nftables)',
  });

export const firewallRuleShape = {
  /**
   * Identifies the rule on the host through its comment `sftp-jail:<name>`; unique per host. Default: the resource
   * name. Letters, digits and `_.@+=-`, at most 100. A new name replaces the rule.
   */
  name: z
    .string({ error: "name must be a string" })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.@+=-]{0,99}$/, {
      error:
        'name (the rule\'s comment is "sftp-jail:<name>"; it defaults to the resource name) must be 1–100 letters, digits or _.@+=- starting with a letter or digit: no spaces, quotes, colons or newlines; set name explicitly',
    }),
  /**
   * `iptables` (the host's default `iptables`, usually iptables-nft), `iptables-legacy`, `nftables`, or `auto`
   * (default): the backend that already holds filter rules; with none, a native nft input chain if one exists, else
   * iptables. Chosen once at create and kept. A change replaces the rule.
   */
  backend: z
    .enum(["auto", "iptables", "iptables-legacy", "nftables"], { error: 'backend must be "auto", "iptables", "iptables-legacy" or "nftables"' })
    .default("auto"),
  /** Chain. Default `INPUT` (iptables, table filter) or `input` (nftables; created as a base chain if missing). */
  chain: chainName.optional(),
  /** nftables only: `"<family> <name>"`, family inet, ip or ip6. Default `"inet filter"` (Debian's stock table; created if missing). */
  table: z
    .string({ error: "table must be a string" })
    .regex(/^(inet|ip|ip6) [A-Za-z_][A-Za-z0-9_-]{0,31}$/, { error: 'table must be "<family> <name>" with family inet, ip or ip6, e.g. "inet filter"' })
    .optional(),
  /** `tcp` (default) or `udp`. */
  protocol: z.enum(["tcp", "udp"], { error: 'protocol must be "tcp" or "udp"' }).default("tcp"),
  /** Destination port, 1–65535. Give this or `ports`. */
  port: port("port").optional(),
  /** Destination ports (at most 15). Give this or `port`. */
  ports: z
    .array(port("ports[]"), { error: "ports must be a list of port numbers" })
    .min(1, { error: "ports must not be empty (or use port)" })
    .max(MAX_PORTS, { error: `ports may list at most ${MAX_PORTS} ports (iptables multiport limit); split the rule` })
    .refine((p) => new Set(p).size === p.length, { error: "ports must not repeat a port" })
    .optional(),
  /**
   * Source CIDR, IPv4 or IPv6 (host bits zero; a bare address means /32 or /128). Omit for any source, IPv4 and IPv6:
   * with nftables `inet` one rule matches both; with iptables backends the rule gets an ip6tables twin wherever the
   * host filters IPv6 (its ip6tables filter table exists). `0.0.0.0/0` is every IPv4 address only, `::/0` every IPv6
   * one. An nftables `ip` or `ip6` table limits the rule to that family.
   */
  source: z
    .string({ error: "source must be a string" })
    .transform((s, ctx) => {
      try {
        return parseCidr(s.trim()).text;
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `source: ${(e as Error).message}` });
        return z.NEVER;
      }
    })
    .optional(),
  /** conntrack states to match, e.g. `["NEW"]` (see CT_STATES). Omit for any state. */
  state: z
    .array(z.enum(CT_STATES, { error: `state entries must be one of ${CT_STATES.join(", ")} (upper case)` }), {
      error: 'state must be a list, e.g. ["NEW"]',
    })
    .min(1, { error: 'state must not be empty; omit it to match any state' })
    .refine((s) => new Set(s).size === s.length, { error: "state must not repeat a state" })
    .optional(),
  /** `ACCEPT` (default), `DROP` or `REJECT`. */
  action: z.enum(["ACCEPT", "DROP", "REJECT"], { error: 'action must be "ACCEPT", "DROP" or "REJECT"' }).default("ACCEPT"),
  /**
   * `beforeReject` (default): before the chain's first REJECT/DROP rule, appended if there is none; `top`: before
   * every rule that is not sftp-jail's; `bottom`: after them. Checked on refresh: a moved rule shows as an update.
   */
  position: z
    .enum(["top", "bottom", "beforeReject"], { error: 'position must be "top", "bottom" or "beforeReject"' })
    .default("beforeReject"),
  /** Also save the ruleset where the distro loads it at boot (Debian: /etc/iptables/rules.v4|v6, /etc/nftables.conf). */
  persist: z.boolean({ error: "persist must be true or false" }).default(false),
};

/** The fields with their cross-field rules (checked once every field is known). */
export const firewallRuleSchema = z.strictObject(firewallRuleShape).superRefine((f, ctx) => {
  if ((f.port === undefined) === (f.ports === undefined)) {
    ctx.addIssue({ code: "custom", path: ["port"], message: "give exactly one of port or ports" });
  }
  if (f.table !== undefined && f.backend !== "nftables" && f.backend !== "auto") {
    ctx.addIssue({ code: "custom", path: ["table"], message: `table applies to nftables only; remove it for backend ${f.backend}` });
  }
});
/** The fields as parsed (the planner's RuleDesired, plan/firewallTarget.ts, is derived from them; the adapter's `desired()` normalises). */
export type FirewallRuleFields = z.output<typeof firewallRuleSchema>;

/** The resource type (`sftpjail:FirewallRule` in previews, provider/resources/dynamic.ts MODULE). */
export const TYPE = "FirewallRule";
