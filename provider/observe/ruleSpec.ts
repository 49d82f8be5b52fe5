/**
 * The one model of a packet-filter rule both firewall parsers read into (observe/iptables.ts, observe/nft.ts) and the
 * FirewallRule planner compares against: two rules are the same iff their {@link RuleSpec}s are.
 */
export type Protocol = "tcp" | "udp";
export type Action = "ACCEPT" | "DROP" | "REJECT";
/** conntrack states in the order iptables prints them. */
export const CT_STATES = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"] as const;
export type CtState = (typeof CT_STATES)[number];
/** ipv4/ipv6: the rule matches one family; any: both (nftables `inet` tables only). */
export type Family = "ipv4" | "ipv6" | "any";

/** Match + action of a rule in one canonical form for both backends. */
export interface RuleSpec {
  family: Family;
  protocol: Protocol | null;
  ports: number[];
  /** Canonical CIDR; null for "any address" (including 0.0.0.0/0 and ::/0). */
  source: string | null;
  state: CtState[];
  action: Action | null;
  /** Matches or options sftp-jail does not write (their presence means the rule was edited). */
  extra: string[];
}

/** conntrack states upper-cased, deduplicated, in {@link CT_STATES} order. */
export const sortStates = (s: string[]): CtState[] =>
  [...new Set(s.map((x) => x.toUpperCase()))].sort((a, b) => CT_STATES.indexOf(a as CtState) - CT_STATES.indexOf(b as CtState)) as CtState[];
