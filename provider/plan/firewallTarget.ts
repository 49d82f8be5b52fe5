/**
 * FirewallRule: what a rule is and where it goes. The desired rule and its canonical {@link RuleSpec} (the model both
 * parsers in observe/ read into), the argument vectors each backend writes it with, the backend `auto` picks, and the
 * target (backend, family, table, chain) and its family parts. Pure; reads the parsed firewall fact only.
 */
import { HostFacts } from "../observe/facts";
import { IptTable } from "../observe/iptables";
import { NftRuleset, isIptablesNftTable } from "../observe/nft";
import { Action, CT_STATES, CtState, Family, Protocol, RuleSpec, sortStates } from "../observe/ruleSpec";
import { parseCidr } from "../util/cidr";
import { PlanError } from "./types";
import type { FirewallRuleFields } from "../schema/firewallRule";

export { CT_STATES, parseCidr };
export type { Action, CtState, Family, Protocol, RuleSpec };

/** The backend as given (schema/firewallRule.ts), and as resolved at create. */
export type BackendChoice = FirewallRuleFields["backend"];
export type Backend = Exclude<BackendChoice, "auto">;
export type Position = FirewallRuleFields["position"];

/** Every rule sftp-jail owns carries a comment starting with this. */
export const COMMENT_PREFIX = "sftp-jail:";
/** iptables' multiport match takes at most 15 ports. */
export const MAX_PORTS = 15;
/** The comment that marks rule `name` as sftp-jail's. */
export const commentOf = (name: string) => COMMENT_PREFIX + name;

/**
 * The desired rule: the schema's parsed fields (schema/firewallRule.ts, the one place they are written, docs included),
 * normalised by {@link ruleDesired}: `port`|`ports` folded into `ports`, `state` always a list, `persist` left to
 * the adapter (plan/firewallPersist.ts takes it apart).
 */
export type RuleDesired = Omit<FirewallRuleFields, "port" | "ports" | "state" | "persist"> & {
  /** Sorted, unique, 1..15 ports. */
  ports: number[];
  /** Canonical order (see {@link CT_STATES}); empty: any state. */
  state: CtState[];
};

/** The desired rule of a FirewallRule's parsed fields (the adapter's and an import's). */
export function ruleDesired(f: Omit<FirewallRuleFields, "persist">): RuleDesired {
  return {
    name: f.name,
    backend: f.backend,
    chain: f.chain,
    table: f.table,
    protocol: f.protocol,
    ports: [...(f.ports ?? [f.port!])].sort((a, b) => a - b),
    source: f.source,
    state: f.state ?? [],
    action: f.action,
    position: f.position,
  };
}

/** Where a rule lives: resolved once at create and kept in state, so later runs never re-guess. */
export interface Target {
  backend: Backend;
  family: Family;
  /** iptables: "filter"; nftables: "<family> <name>". */
  table: string;
  chain: string;
}

/** One rule as observed, in chain order. */
export interface ObservedRule {
  chain: string;
  comment: string | null;
  /** Target/verdict is REJECT or DROP. */
  terminal: boolean;
  spec: RuleSpec;
  /** iptables: the tokens after `-A <chain>` as iptables-save printed them. */
  args?: string[];
  /** nftables: the rule's handle. */
  handle?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Specs

/** The spec a desired rule has on `target`. */
export function desiredSpec(d: RuleDesired, target: Target): RuleSpec {
  const src = d.source ? parseCidr(d.source) : null;
  return {
    family: target.family,
    protocol: d.protocol,
    ports: [...d.ports].sort((a, b) => a - b),
    source: src && !src.any ? src.text : null,
    state: sortStates(d.state),
    action: d.action,
    extra: [],
  };
}

export function sameSpec(a: RuleSpec, b: RuleSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A rule in words, for logs, previews and the `rule` output. */
export function describeSpec(s: RuleSpec): string {
  const parts = [s.action ?? "(no action)", s.protocol ?? "any protocol"];
  if (s.ports.length) parts.push(`port${s.ports.length > 1 ? "s" : ""} ${s.ports.join(",")}`);
  parts.push(s.source ? `from ${s.source}` : s.family === "any" ? "from anywhere" : `from any ${s.family} address`);
  if (s.state.length) parts.push(`state ${s.state.join(",")}`);
  if (s.extra.length) parts.push(`plus ${s.extra.join(" ")}`);
  return parts.join(" ");
}

// ---------------------------------------------------------------------------------------------------------------
// Argument vectors

/** The argument list sftp-jail writes for a rule (after `-I/-A <chain>`). */
export function iptablesArgs(d: RuleDesired, comment: string): string[] {
  const src = d.source ? parseCidr(d.source) : null;
  const ports = [...d.ports].sort((a, b) => a - b);
  return [
    ...(src && !src.any ? ["-s", src.text] : []),
    "-p",
    d.protocol,
    ...(ports.length === 1 ? ["-m", d.protocol, "--dport", String(ports[0])] : ["-m", "multiport", "--dports", ports.join(",")]),
    ...(d.state.length ? ["-m", "conntrack", "--ctstate", sortStates(d.state).join(",")] : []),
    "-m",
    "comment",
    "--comment",
    comment,
    "-j",
    d.action,
  ];
}

/** The nft tokens sftp-jail writes for a rule (after `nft add rule <family> <table> <chain>`). */
export function nftTokens(d: RuleDesired, target: Target, comment: string): string[] {
  const src = d.source ? parseCidr(d.source) : null;
  const ports = [...d.ports].sort((a, b) => a - b);
  const states = sortStates(d.state).map((s) => s.toLowerCase());
  const t: string[] = [];
  if (src && src.any && target.family === "any") t.push("meta", "nfproto", src.family);
  else if (src && !src.any) t.push(src.family === "ipv4" ? "ip" : "ip6", "saddr", src.text);
  t.push(d.protocol, "dport", ports.length === 1 ? String(ports[0]) : `{ ${ports.join(", ")} }`);
  if (states.length) t.push("ct", "state", states.length === 1 ? states[0] : `{ ${states.join(", ")} }`);
  // The comment is validated (letters, digits and _.@+=-:), so it is safe inside nft's own double quotes.
  t.push(d.action === "ACCEPT" ? "accept" : d.action === "DROP" ? "drop" : "reject", "comment", `"${comment}"`);
  return t;
}

// ---------------------------------------------------------------------------------------------------------------
// Choosing the backend and the target

function hasInputRules(t: IptTable | null): boolean {
  return !!t && t.rules.length > 0;
}

/** Native nft base chains hooked on input that filter something. */
function nftInputRules(rs: NftRuleset | null): number {
  if (!rs) return 0;
  const native = rs.tables.filter((t) => !isIptablesNftTable(rs, t));
  let n = 0;
  for (const t of native) {
    for (const c of rs.chains.filter((c) => c.family === t.family && c.table === t.name && c.hook === "input")) {
      n += rs.rules.filter((r) => r.family === t.family && r.table === t.name && r.chain === c.name).length;
    }
  }
  return n;
}

/**
 * Picks the backend for `auto`: the one that already holds filtering rules (a rule in another backend would be
 * evaluated separately and could not open what this one rejects); with none, native nftables if a base input chain
 * exists, else the default iptables, else nft. Several backends in use is ambiguous and refused.
 */
export function chooseBackend(facts: HostFacts): Backend {
  const fw = facts.firewall;
  const rs = fw.ruleset;
  const used: Backend[] = [];
  if (nftInputRules(rs) > 0) used.push("nftables");
  if (hasInputRules(fw.iptables) || hasInputRules(fw.ip6tables)) {
    used.push(fw.iptablesVariant === "legacy" ? "iptables-legacy" : "iptables");
  }
  if (fw.iptablesVariant !== "legacy" && (hasInputRules(fw.iptablesLegacy) || hasInputRules(fw.ip6tablesLegacy))) {
    used.push("iptables-legacy");
  }
  if (used.length === 1) return used[0];
  if (used.length > 1) {
    throw new PlanError(
      `backend "auto" is ambiguous: filter rules exist in ${used.join(" and ")}`,
      `set backend to the one that holds your REJECT/DROP rules (${used.map((u) => `"${u}"`).join(" or ")})`,
    );
  }
  const nativeInput = rs?.chains.some((c) => c.hook === "input" && !isIptablesNftTable(rs, rs.tables.find((t) => t.family === c.family && t.name === c.table)!));
  if (nativeInput) return "nftables";
  if (fw.iptablesVariant) return fw.iptablesVariant === "legacy" ? "iptables-legacy" : "iptables";
  if (rs) return "nftables";
  throw new PlanError("neither iptables nor nft was found on the host", "install nftables (Debian/Ubuntu: apt-get install nftables) or iptables");
}

/**
 * The address families a rule is for, from its inputs alone: a source's family; else the family of an nftables `ip`
 * or `ip6` table; else both ("any": no source means every address, IPv4 and IPv6, on every backend).
 */
export function ruleFamily(d: Pick<RuleDesired, "source" | "table">, backend: Backend): Family {
  const src = d.source ? parseCidr(d.source) : null;
  if (src) return src.family;
  if (backend !== "nftables") return "any";
  const fam = (d.table ?? "inet filter").split(" ")[0];
  return fam === "ip" ? "ipv4" : fam === "ip6" ? "ipv6" : "any";
}

/**
 * Where the rule goes. `previous` is the backend state recorded at create, so later runs never switch backends.
 * Defaults: iptables table filter chain INPUT; nftables table `inet filter` chain `input` (Debian's stock layout).
 * An iptables target for both families is the iptables rule and its ip6tables twin (see {@link familyParts}).
 */
export function resolveTarget(d: RuleDesired, facts: HostFacts, previous?: Backend): Target {
  const backend = previous ?? (d.backend === "auto" ? chooseBackend(facts) : d.backend);
  const src = d.source ? parseCidr(d.source) : null;
  if (backend === "nftables") {
    if (facts.firewall.nft === null) {
      throw new PlanError("backend nftables was chosen but `nft` is not available on the host", "install nftables, or choose backend iptables");
    }
    const table = d.table ?? "inet filter";
    const fam = table.split(" ")[0];
    if (src && fam !== "inet" && (fam === "ip") !== (src.family === "ipv4")) {
      throw new PlanError(`source ${src.text} is ${src.family} but table "${table}" is family ${fam}`, `use table "inet ${table.split(" ")[1]}" or a ${fam === "ip" ? "IPv4" : "IPv6"} source`);
    }
    return { backend, family: ruleFamily(d, backend), table, chain: d.chain ?? "input" };
  }
  if (d.table !== undefined) {
    throw new PlanError(`table "${d.table}" applies to nftables only, but the backend is ${backend}`, "remove table (iptables rules go in the filter table), or set backend: \"nftables\"");
  }
  if (backend === "iptables" && !facts.firewall.iptablesVariant) {
    throw new PlanError("backend iptables was chosen but `iptables` is not available on the host", "install iptables, or choose backend nftables");
  }
  return { backend, family: ruleFamily(d, backend), table: "filter", chain: d.chain ?? "INPUT" };
}

/**
 * The rules a target is made of, one per address family, each a target of one family. nftables: the target itself
 * (an `inet` rule without an address matches both families). iptables keeps IPv4 and IPv6 in separate tables, so a
 * rule for both families is the iptables rule plus an ip6tables twin (same comment, same spec, same place in its own
 * chain). The twin exists only where that iptables filters IPv6 at all, i.e. its ip6tables filter table exists: where
 * it does not, nothing turns IPv6 clients away, and adding a twin would only create the table (which iptables-legacy
 * can never remove again). If the table appears later, the twin shows as missing drift.
 */
export function familyParts(t: Target, facts: HostFacts): Target[] {
  if (t.backend === "nftables" || t.family !== "any") return [t];
  const v6: Target = { ...t, family: "ipv6" };
  return iptTable(v6, facts) ? [{ ...t, family: "ipv4" }, v6] : [{ ...t, family: "ipv4" }];
}

/** Every place a target's rule may be found in, whatever the families it is for now (strays of an earlier source). */
export function everyPart(t: Target): Target[] {
  if (t.backend === "nftables") return [t];
  return [{ ...t, family: "ipv4" }, { ...t, family: "ipv6" }];
}

/** The iptables binary for a target: `iptables`/`ip6tables`, or the `-legacy` ones when legacy is not the default. */
export function iptBin(t: Target, facts: HostFacts): string {
  const base = t.family === "ipv6" ? "ip6tables" : "iptables";
  return legacyBeside(t, facts) ? `${base}-legacy` : base;
}

const legacyBeside = (t: Target, facts: HostFacts) => t.backend === "iptables-legacy" && facts.firewall.iptablesVariant !== "legacy";

/** The filter table (parsed) a one-family iptables target is read from. */
export function iptTable(t: Target, facts: HostFacts): IptTable | null {
  const fw = facts.firewall;
  if (t.family === "ipv6") return legacyBeside(t, facts) ? fw.ip6tablesLegacy : fw.ip6tables;
  return legacyBeside(t, facts) ? fw.iptablesLegacy : fw.iptables;
}

