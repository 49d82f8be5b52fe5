/**
 * `pulumi import` of a hand-made FirewallRule. A rule by hand has no sftp-jail comment, so its ID names it by what it
 * is: the backend, table and chain it sits in and its match and action, written with the program's own field names
 * and checked by the resource's own schema. The rule is found in the parsed firewall fact (no command is built from
 * the ID) and must be exactly one rule; the result is the inputs that describe it as it is, adopted (destroy leaves it).
 * Pure: the facts in, the fields out, or a PlanError that says what to do.
 */
import { HostFacts } from "../observe/facts";
import { locateRule, positionHolds } from "../plan/firewallLocate";
import {
  COMMENT_PREFIX,
  ObservedRule,
  Position,
  RuleDesired,
  Target,
  describeSpec,
  desiredSpec,
  familyParts,
  iptTable,
  resolveTarget,
  ruleDesired,
  sameSpec,
} from "../plan/firewallTarget";
import { PlanError } from "../plan/types";
import { FirewallRuleFields, firewallRuleSchema, firewallRuleShape } from "../schema/firewallRule";
import { failuresOf } from "../schema/common";

/** The ID format in short, for the schema's docs. */
export const FIREWALL_IMPORT_ID_SHORT =
  "backend=<iptables|iptables-legacy|nftables>;port=<port>[,<port>...][;source=<cidr>][;protocol=..][;state=..][;action=..][;chain=..][;table=..][;name=..], e.g. backend=iptables;port=2222;source=10.9.0.0/16";
/** The ID format, as errors give it. */
export const FIREWALL_IMPORT_ID =
  '"<key>=<value>;..." with the program\'s field names: backend (required: iptables, iptables-legacy or nftables), ' +
  "port (one port, or several comma-separated), and as the rule has them protocol (default tcp), source (default any), " +
  'state (comma-separated), action (default ACCEPT), chain (default INPUT, nftables input), table (nftables, default "inet filter"), ' +
  "name (default the resource name), e.g. backend=iptables;port=2222;source=10.9.0.0/16";

const KEYS = ["backend", "table", "chain", "protocol", "port", "source", "state", "action", "name"] as const;
type Key = (typeof KEYS)[number];

/** What an import ID says: the rule's fields (validated by the schema), without position and persist. */
export interface FirewallImportId {
  backend: "iptables" | "iptables-legacy" | "nftables";
  fields: Omit<FirewallRuleFields, "position" | "persist" | "name"> & { name?: string };
  /** The ID gave a source (else "any source", whichever families the rule is found in). */
  sourceGiven: boolean;
}

/** Parses an import ID; a string saying what is wrong with it otherwise (the caller adds the format). */
export function parseFirewallId(id: string): FirewallImportId | string {
  const pairs = id.split(";").map((p) => p.trim()).filter(Boolean);
  if (!pairs.length) return "it is empty";
  const raw: Partial<Record<Key, string>> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) return `"${p}" is not <key>=<value>`;
    const k = p.slice(0, eq).trim();
    const v = p.slice(eq + 1).trim();
    if (!(KEYS as readonly string[]).includes(k)) return `unknown key "${k}" (keys: ${KEYS.join(", ")})`;
    if (raw[k as Key] !== undefined) return `"${k}" is given twice`;
    if (!v) return `"${k}" has no value`;
    raw[k as Key] = v;
  }
  if (!raw.backend) return "backend is required (iptables, iptables-legacy or nftables: where the rule is)";
  if (raw.backend === "auto") return "backend must name where the rule is: iptables, iptables-legacy or nftables";
  if (!raw.port) return "port is required";
  const list = (v: string) => v.split(",").map((x) => x.trim());
  const ports = list(raw.port).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const candidate: Record<string, unknown> = {
    ...(raw.name !== undefined ? { name: raw.name } : { name: "import" }),
    backend: raw.backend,
    ...(raw.table !== undefined ? { table: raw.table } : {}),
    ...(raw.chain !== undefined ? { chain: raw.chain } : {}),
    ...(raw.protocol !== undefined ? { protocol: raw.protocol } : {}),
    ...(ports.length === 1 ? { port: ports[0] } : { ports }),
    ...(raw.source !== undefined ? { source: raw.source } : {}),
    ...(raw.state !== undefined ? { state: list(raw.state) } : {}),
    ...(raw.action !== undefined ? { action: raw.action } : {}),
  };
  // The resource's own schema: every value that can reach a program (and from there a host command) is validated.
  const r = firewallRuleSchema.safeParse(candidate);
  if (!r.success) return failuresOf(r.error).map((f) => `${f.property}: ${f.reason}`).join("; ");
  const { position: _p, persist: _q, name, ...fields } = r.data;
  return {
    backend: raw.backend as FirewallImportId["backend"],
    fields: { ...fields, ...(raw.name !== undefined ? { name } : {}) },
    sourceGiven: raw.source !== undefined,
  };
}

/** The rules of one family part's chain, as locate reads them. */
function chainRules(t: Target, facts: HostFacts): ObservedRule[] {
  if (t.backend === "nftables") {
    const [fam, name] = t.table.split(" ");
    return (facts.firewall.ruleset?.rules ?? [])
      .filter((r) => r.family === fam && r.table === name && r.chain === t.chain)
      .map((r) => ({ chain: r.chain, comment: r.comment ?? null, terminal: r.spec.action === "DROP" || r.spec.action === "REJECT", spec: r.spec, handle: r.handle }));
  }
  return (iptTable(t, facts)?.rules ?? [])
    .filter((r) => r.chain === t.chain)
    .map((r) => ({ chain: r.chain, comment: r.comment, terminal: r.spec.action === "DROP" || r.spec.action === "REJECT", spec: r.spec, args: r.args }));
}

const POSITIONS: Position[] = ["beforeReject", "top", "bottom"];
const ANY_SOURCES = [undefined, "0.0.0.0/0", "::/0"];

/**
 * The FirewallRule fields that describe the one rule `id` names on this host, as it is: its source written so the
 * rule covers exactly the families it is found in, and the first position (beforeReject, top, bottom) its place
 * satisfies. Refuses (PlanError) when no rule or more than one matches, or when no input can describe its place.
 */
export function importedRule(id: FirewallImportId, facts: HostFacts, resourceName: string): FirewallRuleFields {
  const name = id.fields.name ?? resourceName;
  const named = firewallRuleShape.name.safeParse(name);
  if (!named.success) {
    throw new PlanError(`the resource name "${resourceName}" is not a valid rule name`, "add name=<letters, digits, _.@+=-> to the ID");
  }
  const base = { ...id.fields, name, position: "beforeReject" as Position, persist: false };
  const desiredOf = (source: string | undefined): RuleDesired => ruleDesired({ ...base, backend: id.backend, source });
  // "Any source": the rule as the host has it may be for one family (iptables without its ip6tables twin, nft's
  // `meta nfproto`), so each reading of it is tried and the one that finds the rule in every family part wins.
  const sources = id.sourceGiven ? [base.source] : ANY_SOURCES;
  const found: Array<{ d: RuleDesired; t: Target; hits: Array<{ part: Target; rules: ObservedRule[]; index: number }> }> = [];
  const sftpJails: string[] = [];
  let where = "";
  for (const source of sources) {
    const d = desiredOf(source);
    let t: Target;
    try {
      t = resolveTarget(d, facts, id.backend);
    } catch (e) {
      if (id.sourceGiven || source === undefined) throw e;
      continue; // e.g. ::/0 against an nftables ip table
    }
    where = `${t.backend} ${t.table} ${t.chain}`;
    const hits = familyParts(t, facts).map((part) => {
      const rules = chainRules(part, facts);
      const want = desiredSpec(d, part);
      const same = rules.map((r, index) => ({ r, index })).filter(({ r }) => sameSpec(r.spec, want));
      for (const { r } of same) if (r.comment?.startsWith(COMMENT_PREFIX)) sftpJails.push(r.comment);
      const theirs = same.filter(({ r }) => !r.comment?.startsWith(COMMENT_PREFIX));
      return { part, rules, theirs };
    });
    if (hits.some((h) => h.theirs.length > 1)) {
      const n = Math.max(...hits.map((h) => h.theirs.length));
      throw new PlanError(
        `${n} identical rules "${describeSpec(desiredSpec(d, hits[0].part))}" in ${where}: the ID matches more than one rule`,
        "delete the duplicates by hand (they do the same), then import again",
      );
    }
    if (hits.every((h) => h.theirs.length === 1)) {
      found.push({ d, t, hits: hits.map((h) => ({ part: h.part, rules: h.rules, index: h.theirs[0].index })) });
    }
  }
  if (found.length === 0) {
    const d = desiredOf(base.source);
    const near = (() => {
      try {
        const t = resolveTarget(d, facts, id.backend);
        return familyParts(t, facts).flatMap((p) => chainRules(p, facts)).filter((r) => r.spec.ports.some((p) => d.ports.includes(p)));
      } catch {
        return [];
      }
    })();
    if (sftpJails.length) {
      const c = sftpJails[0];
      throw new PlanError(
        `the rule in ${where} carries sftp-jail's comment "${c}": it is a FirewallRule's, not a hand-made one`,
        `declare FirewallRule with name "${c.slice(COMMENT_PREFIX.length)}" and these fields: create takes the rule back`,
      );
    }
    throw new PlanError(
      `no rule "${describeSpec(desiredSpec(d, { backend: id.backend, table: "", chain: "", family: d.source ? (d.source.includes(":") ? "ipv6" : "ipv4") : "any" }))}" in ${where || id.backend}` +
        (near.length ? `; rules there for the port: ${near.map((r) => `"${describeSpec(r.spec)}"${r.comment ? ` (comment ${r.comment})` : ""}`).join(", ")}` : ""),
      "give the ID exactly as the rule is (backend, table, chain, protocol, port, source, state, action); a rule with other matches (interface, ...) cannot be imported",
    );
  }
  // Readings of "any source" that find the same rules (iptables: the rule and its twin, or the IPv4 rule alone) are
  // one rule: the reading covering most families describes it (ties: no source, as the rule was written). Readings
  // that find different rules (nft: one rule for both families and an `nfproto ipv4` one) are ambiguous.
  const key = (h: { part: Target; index: number }) => `${h.part.backend === "nftables" ? "" : h.part.family}:${h.index}`;
  const [best, ...others] = [...found].sort((a, b) => b.hits.length - a.hits.length);
  const covered = new Set(best.hits.map(key));
  if (others.some((o) => o.hits.some((h) => !covered.has(key(h))))) {
    throw new PlanError(`the ID matches rules for different address families in ${where}`, "give source (0.0.0.0/0 for the IPv4-only one, ::/0 for the IPv6-only one)");
  }
  const { d, t, hits } = best;
  const position = POSITIONS.find((p) => hits.every((h) => positionHolds(p, h.rules, h.index)));
  if (!position) {
    throw new PlanError(
      `the rule "${describeSpec(desiredSpec(d, hits[0].part))}" in ${where} sits after a REJECT/DROP rule and before other rules: no position describes its place`,
      "move it before the chain's first REJECT/DROP rule (or to the top or bottom), then import again",
    );
  }
  // The rule as the program will declare it must be found where it is, adopted, with no drift at all.
  const fields: FirewallRuleFields = { ...base, position, ...(d.source !== undefined ? { source: d.source } : {}) };
  if (d.source === undefined) delete (fields as Partial<FirewallRuleFields>).source;
  const check = locateRule({ ...d, position }, t, facts, { ...d, position });
  if (!check.adopted || !check.inPosition || !check.matchesSpec || Object.values(check.families).some((v) => v !== "ok")) {
    throw new PlanError(`the rule in ${where} cannot be described without drift (${JSON.stringify(check.families)})`, "declare it in the program instead: create adopts a matching rule");
  }
  return fields;
}
