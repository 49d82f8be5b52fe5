/**
 * FirewallRule: the IPv6 half-open door warning (an opening for IPv4 whose IPv6 side the host turns away). Pure;
 * reads the parsed firewall fact.
 */
import { HostFacts } from "../observe/facts";
import { isIptablesNftTable } from "../observe/nft";
import { RuleSpec } from "../observe/ruleSpec";
import { parseCidr } from "../util/cidr";
import { RuleDesired, Target, describeSpec, familyParts, iptBin, iptTable } from "./firewallTarget";

/**
 * Does an observed rule open every port of `d` to new connections from every address (of its family), or turn new
 * connections to some of them away? (An ACCEPT for RELATED,ESTABLISHED only opens nothing.)
 */
function opensFor(d: RuleDesired, s: RuleSpec): boolean {
  return s.action === "ACCEPT" && !s.extra.length && !s.source && seesNew(s) && (s.protocol === null || s.protocol === d.protocol) && (s.ports.length === 0 || d.ports.every((p) => s.ports.includes(p)));
}
function closesFor(d: RuleDesired, s: RuleSpec): boolean {
  return (s.action === "REJECT" || s.action === "DROP") && !s.extra.length && !s.source && seesNew(s) && (s.protocol === null || s.protocol === d.protocol) && (s.ports.length === 0 || d.ports.some((p) => s.ports.includes(p)));
}
const seesNew = (s: RuleSpec) => s.state.length === 0 || s.state.includes("NEW");

/** What in the ip6tables chain of an iptables target turns IPv6 clients of `d`'s ports away, in words, or null. */
function ip6tablesCloser(d: RuleDesired, target: Target, facts: HostFacts): string | null {
  const v6: Target = { ...target, family: "ipv6" };
  const t = iptTable(v6, facts);
  if (!t) return null;
  const bin = iptBin(v6, facts);
  for (const r of t.rules.filter((x) => x.chain === target.chain)) {
    const s = r.spec;
    if (opensFor(d, s)) return null;
    if (closesFor(d, s)) return `the ${bin} rule "-A ${target.chain} ${r.args.join(" ")}"`;
  }
  const policy = t.chains.find((c) => c.name === target.chain)?.policy;
  return policy === "DROP" || policy === "REJECT" ? `the ${bin} ${target.chain} policy ${policy}` : null;
}

/** What in the host's native nft input chains (tables ip6 and inet) turns IPv6 clients of `d`'s ports away, or null. */
function nftV6Closer(d: RuleDesired, facts: HostFacts): string | null {
  const rs = facts.firewall.ruleset;
  if (!rs) return null;
  for (const t of rs.tables.filter((x) => (x.family === "ip6" || x.family === "inet") && !isIptablesNftTable(rs, x))) {
    for (const c of rs.chains.filter((x) => x.family === t.family && x.table === t.name && x.hook === "input")) {
      // The first rule that sees IPv6 clients of the port decides; with none, the chain's policy.
      const specs = rs.rules.filter((x) => x.family === t.family && x.table === t.name && x.chain === c.name).map((r) => r.spec);
      const first = specs.find((s) => s.family !== "ipv4" && (opensFor(d, s) || closesFor(d, s)));
      if (first && closesFor(d, first)) return `the nft rule "${describeSpec(first)}" in ${t.family} ${t.name} ${c.name}`;
      if (!first && (c.policy === "drop" || c.policy === "reject")) return `the nft chain ${t.family} ${t.name} ${c.name} policy ${c.policy}`;
    }
  }
  return null;
}

/**
 * The half-open door: tcp port P open to IPv4 clients and IPv6 clients turned away. Returns what to tell the user, or
 * null. Pure. Two ways to get there with an ACCEPT for every address:
 * - the rule is limited to IPv4 (source 0.0.0.0/0, or an nftables `ip` table) and the host's IPv6 side (ip6tables, or
 *   an nft `ip6`/`inet` input chain) rejects or drops the port;
 * - `existing` rule for every address on iptables whose ip6tables twin is missing (the host started filtering IPv6
 *   after the rule was made, or someone deleted it), seen at preview before a refresh would show the drift.
 * A rule for every address that is about to be created or converged gets its twin, so there is no door to tell.
 *
 * A warning, not a failure: the IPv6 side errs closed (no one gets in who should not), and many hosts have no routable
 * IPv6 address at all; refusing would block every IPv4-only rollout to say something the user may not care about.
 */
export function halfOpenDoor(d: RuleDesired, target: Target, facts: HostFacts, existing = false): string | null {
  if (d.action !== "ACCEPT" || target.family === "ipv6") return null;
  const src = d.source ? parseCidr(d.source) : null;
  if (src && !src.any) return null; // limited to some IPv4 addresses: IPv6 is not meant
  const port = `${d.protocol} port${d.ports.length > 1 ? "s" : ""} ${d.ports.join(",")}`;
  // (An iptables target of family ipv4 without source is state written before rules had twins: for both, too.)
  if (target.family === "any" || (!src && target.backend !== "nftables")) {
    if (target.backend === "nftables" || !existing) return null;
    const v6 = familyParts({ ...target, family: "any" }, facts).find((p) => p.family === "ipv6");
    const closedBy = v6 && ip6tablesCloser(d, target, facts);
    if (!closedBy) return null;
    return (
      `half-open door: ${port} is open for IPv4 only: this rule is for every address, but its IPv6 twin is missing from ${iptBin(v6, facts)} ${target.chain} ` +
      `or comes after ${closedBy}, which turns IPv6 clients away (the host started filtering IPv6 after the rule was made, or the twin was deleted or moved). ` +
      "Run `pulumi up --refresh`: it puts the twin in place"
    );
  }
  const closedBy = target.backend === "nftables" ? nftV6Closer(d, facts) : ip6tablesCloser(d, target, facts);
  if (!closedBy) return null;
  const why = src ? `source ${src.text}` : `table "${target.table}"`;
  const fix =
    src || target.backend !== "nftables"
      ? "remove source (a rule without source opens both IPv4 and IPv6)"
      : `use table "inet ${target.table.split(" ")[1]}" (a rule without source there opens both), or add a second FirewallRule with table "ip6 ${target.table.split(" ")[1]}"`;
  return (
    `half-open door: ${port} is open for IPv4 only: this rule is limited to IPv4 (${why}), and ${closedBy} turns IPv6 clients away. ` +
    `If IPv6 clients should get in too, ${fix}; if not, ignore this warning`
  );
}
