/**
 * FirewallRule: locating our rule. Finds the rule carrying our comment (never by position) in each family part of
 * its target, in the parsed firewall fact, and says what drifted: missing, moved, edited or duplicated. Pure.
 */
import { HostFacts } from "../observe/facts";
import { BUILTIN_CHAINS, NftChain } from "../observe/nft";
import { RuleSpec } from "../observe/ruleSpec";
import { COMMENT_PREFIX, Family, ObservedRule, Position, RuleDesired, Target, commentOf, desiredSpec, everyPart, familyParts, iptTable, sameSpec } from "./firewallTarget";

/** The chain as observed, and our rule in it. */
export interface Located {
  target: Target;
  /** The table exists (iptables: built-in chains always count as existing). */
  tableExists: boolean;
  chainExists: boolean;
  /** Rules of the target chain, in order. */
  rules: ObservedRule[];
  /** Rules carrying our comment anywhere in the table (normally one, in the target chain), or the adopted rule. */
  ours: ObservedRule[];
  /**
   * The rule tracked is not one sftp-jail wrote but an existing one adopted as it is: no rule carries our comment,
   * and a rule without an sftp-jail comment in the target chain has exactly the spec adoption looked for.
   */
  adopted: boolean;
  /** Our rule exists exactly once, in the target chain, where `position` wants it. */
  inPosition: boolean;
  /** Our rule exists exactly once and its match and action are exactly the desired ones. */
  matchesSpec: boolean;
  /** nft: the table's chains, rules and other objects (for removing a table sftp-jail created). */
  nft?: { chains: NftChain[]; rules: number; others: number };
}

const isOurs = (r: ObservedRule) => !!r.comment && r.comment.startsWith(COMMENT_PREFIX);

/**
 * Whether `position` holds for our rule at `index` of `rules`. Only rules that are not sftp-jail's count, so several
 * sftp-jail rules never fight over the same place:
 * - top: no foreign rule before it; bottom: no foreign rule after it;
 * - beforeReject: no foreign REJECT/DROP rule before it (with none in the chain, anywhere is fine).
 */
export function positionHolds(position: Position, rules: ObservedRule[], index: number): boolean {
  const before = rules.slice(0, index).filter((r) => !isOurs(r));
  const after = rules.slice(index + 1).filter((r) => !isOurs(r));
  if (position === "top") return before.length === 0;
  if (position === "bottom") return after.length === 0;
  return !before.some((r) => r.terminal);
}

/** Where our rule goes in `others` (the chain without our rule): the index to insert before. */
export function insertIndex(position: Position, others: ObservedRule[]): number {
  if (position === "top") return 0;
  if (position === "bottom") return others.length;
  const i = others.findIndex((r) => r.terminal && !isOurs(r));
  return i < 0 ? others.length : i;
}

/**
 * Finds our rule. `adopt`: with no rule carrying our comment, take the first rule of the target chain that has no
 * sftp-jail comment and exactly this spec as ours (an admin's hand-made opening, adopted instead of duplicated).
 */
export function locate(d: RuleDesired, target: Target, facts: HostFacts, adopt?: RuleSpec): Located {
  const comment = commentOf(d.name);
  const want = desiredSpec(d, target);
  let all: ObservedRule[] = [];
  let tableExists = false;
  let chainExists = false;
  let nft: Located["nft"];
  if (target.backend === "nftables") {
    const rs = facts.firewall.ruleset;
    const [fam, name] = target.table.split(" ");
    tableExists = !!rs?.tables.some((t) => t.family === fam && t.name === name);
    if (rs && tableExists) {
      const chains = rs.chains.filter((c) => c.family === fam && c.table === name);
      chainExists = chains.some((c) => c.name === target.chain);
      const rules = rs.rules.filter((r) => r.family === fam && r.table === name);
      all = rules.map((r) => ({ chain: r.chain, comment: r.comment ?? null, terminal: r.spec.action === "DROP" || r.spec.action === "REJECT", spec: r.spec, handle: r.handle }));
      nft = { chains, rules: rules.length, others: rs.others[target.table] ?? 0 };
    }
  } else {
    const t = iptTable(target, facts);
    tableExists = !!t;
    chainExists = BUILTIN_CHAINS.has(target.chain) || !!t?.chains.some((c) => c.name === target.chain);
    all = (t?.rules ?? []).map((r) => ({ chain: r.chain, comment: r.comment, terminal: r.spec.action === "DROP" || r.spec.action === "REJECT", spec: r.spec, args: r.args }));
  }
  const rules = all.filter((r) => r.chain === target.chain);
  let ours = all.filter((r) => r.comment === comment);
  let idx = rules.findIndex((r) => r.comment === comment);
  let adopted = false;
  if (ours.length === 0 && adopt) {
    idx = rules.findIndex((r) => !isOurs(r) && sameSpec(r.spec, adopt));
    if (idx >= 0) {
      ours = [rules[idx]];
      adopted = true;
    }
  }
  const single = ours.length === 1 && idx >= 0;
  return {
    target,
    tableExists,
    chainExists,
    rules,
    ours,
    adopted,
    inPosition: single && positionHolds(d.position, rules, idx),
    matchesSpec: single && sameSpec(ours[0].spec, want),
    nft,
  };
}

/** One family's rule as observed: "ok", or what is wrong with it (the drift a preview shows per family). */
export type FamilyStatus = "ok" | "missing" | "duplicated" | "edited" | "moved";

/** The families a rule of this family covers, in a fixed order. */
export const familiesOf = (f: Family): Array<"ipv4" | "ipv6"> => (f === "any" ? ["ipv4", "ipv6"] : [f]);

function statusOf(loc: Located): FamilyStatus {
  if (!loc.ours.length) return "missing";
  if (loc.ours.length > 1) return "duplicated";
  if (!loc.matchesSpec) return "edited";
  return loc.inPosition ? "ok" : "moved";
}

/** Our rule in every family it is for (see {@link familyParts}), and copies of it left where it no longer belongs. */
export interface LocatedRule {
  target: Target;
  /** One per family part, in {@link familyParts} order. */
  parts: Located[];
  /** Rules carrying our comment in an iptables family the rule is no longer for (its source changed family). */
  strays: Located[];
  /** Every part is in position (and there is no stray). */
  inPosition: boolean;
  /** Every part matches the spec exactly once (and there is no stray). */
  matchesSpec: boolean;
  /** Some part is an admin's rule adopted as it is (see {@link Located.adopted}). */
  adopted: boolean;
  /** Per family the rule is for: "ok" (also when no twin is needed, see familyParts) or the drift found. */
  families: Partial<Record<"ipv4" | "ipv6", FamilyStatus>>;
}

/**
 * Finds our rule in each of its family parts. `adoptFrom`: the rule whose spec an existing rule may have to be adopted
 * (per part, see {@link locate}).
 */
export function locateRule(d: RuleDesired, target: Target, facts: HostFacts, adoptFrom?: RuleDesired): LocatedRule {
  const wanted = familyParts(target, facts);
  const parts = wanted.map((p) => locate(d, p, facts, adoptFrom ? desiredSpec(adoptFrom, p) : undefined));
  const strays = everyPart(target)
    .filter((p) => !wanted.some((w) => w.family === p.family))
    .map((p) => locate(d, p, facts))
    .filter((l) => l.ours.length > 0);
  const families: LocatedRule["families"] = {};
  for (const f of familiesOf(target.family)) {
    const part = parts.find((l) => l.target.family === f || l.target.family === "any");
    families[f] = part ? statusOf(part) : "ok";
  }
  return {
    target,
    parts,
    strays,
    inPosition: parts.every((l) => l.inPosition) && !strays.length,
    matchesSpec: parts.every((l) => l.matchesSpec) && !strays.length,
    adopted: parts.some((l) => l.adopted),
    families,
  };
}
