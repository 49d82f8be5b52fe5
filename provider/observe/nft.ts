/**
 * The nftables part of the firewall fact: `nft -j list ruleset` parsed once, when the snapshot is, into tables, chains
 * and rules, each rule already read into a {@link RuleSpec}. Captured examples: test/unit/fixtures/firewall-nftables*.txt
 * and firewall-iptables-nft.txt. What the host prints (one line; shortened):
 *
 *     {"nftables": [{"metainfo": {...}}, {"table": {"family": "inet", "name": "filter", "handle": 1}},
 *      {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input",
 *                 "prio": 0, "policy": "accept"}},
 *      {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "comment": "sftp-jail:partner-a",
 *                "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
 *                         {"accept": null}]}}]}
 */
import { parseCidr } from "../util/cidr";
import { RuleSpec, sortStates } from "./ruleSpec";

export interface NftTable {
  family: string;
  name: string;
}
export interface NftChain {
  family: string;
  table: string;
  name: string;
  type?: string;
  hook?: string;
  prio?: number;
  policy?: string;
}
export interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment?: string;
  expr: unknown[];
  /** The expressions read as a rule of the rule's table family. */
  spec: RuleSpec;
}
/** `nft -j list ruleset`, split by object kind. */
export interface NftRuleset {
  tables: NftTable[];
  chains: NftChain[];
  rules: NftRule[];
  /** Other objects (sets, maps, counters, ...) per "family name" of their table. */
  others: Record<string, number>;
}

/** Splits the `nft -j` document into tables, chains and rules (rules keep their listed order: chain order). */
export function parseNft(json: unknown): NftRuleset | null {
  const items = (json as { nftables?: unknown[] } | null)?.nftables;
  if (!Array.isArray(items)) return null;
  const r: NftRuleset = { tables: [], chains: [], rules: [], others: {} };
  for (const it of items as Array<Record<string, Record<string, unknown>>>) {
    const [kind, body] = Object.entries(it)[0] ?? [];
    if (kind === "table") r.tables.push(body as unknown as NftTable);
    else if (kind === "chain") r.chains.push(body as unknown as NftChain);
    else if (kind === "rule") {
      const rule = body as unknown as Omit<NftRule, "spec">;
      r.rules.push({ ...rule, spec: nftRule(rule.expr, rule.family) });
    } else if (kind !== "metainfo" && body && typeof body.table === "string") {
      const k = `${body.family} ${body.table}`;
      r.others[k] = (r.others[k] ?? 0) + 1;
    }
  }
  return r;
}

const IPTABLES_TABLES = new Set(["filter", "nat", "mangle", "raw", "security"]);
/** The chains iptables creates itself (they always exist in its filter table). */
export const BUILTIN_CHAINS = new Set(["INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"]);

/** True for the tables iptables-nft makes (`ip filter` with chain INPUT, ...): they belong to the iptables backend. */
export function isIptablesNftTable(rs: NftRuleset, t: NftTable): boolean {
  return (
    (t.family === "ip" || t.family === "ip6") &&
    IPTABLES_TABLES.has(t.name) &&
    rs.chains.some((c) => c.family === t.family && c.table === t.name && BUILTIN_CHAINS.has(c.name))
  );
}

const asList = (v: unknown): unknown[] =>
  Array.isArray(v) ? v : v && typeof v === "object" && Array.isArray((v as { set?: unknown[] }).set) ? (v as { set: unknown[] }).set : [v];

/** Reads one nft rule's expressions into a spec. */
export function nftRule(expr: unknown[], tableFamily: string): RuleSpec {
  const spec: RuleSpec = {
    family: tableFamily === "ip" ? "ipv4" : tableFamily === "ip6" ? "ipv6" : "any",
    protocol: null,
    ports: [],
    source: null,
    state: [],
    action: null,
    extra: [],
  };
  for (const e of (Array.isArray(expr) ? expr : []) as Array<Record<string, any>>) {
    const m = e.match;
    const left = m?.left;
    if (m && m.op === "==" && left?.payload?.field === "saddr" && (left.payload.protocol === "ip" || left.payload.protocol === "ip6")) {
      const r = m.right;
      const txt = typeof r === "string" ? r : r?.prefix ? `${r.prefix.addr}/${r.prefix.len}` : null;
      try {
        const c = parseCidr(String(txt));
        spec.source = c.text;
        spec.family = c.family;
      } catch {
        spec.extra.push(JSON.stringify(e));
      }
    } else if (m && m.op === "==" && left?.payload?.field === "dport" && (left.payload.protocol === "tcp" || left.payload.protocol === "udp")) {
      spec.protocol = left.payload.protocol;
      for (const p of asList(m.right)) {
        if (typeof p === "number") spec.ports.push(p);
        else spec.extra.push(JSON.stringify(p));
      }
    } else if (m && m.op === "==" && left?.meta?.key === "l4proto" && (m.right === "tcp" || m.right === "udp")) {
      spec.protocol = m.right;
    } else if (m && m.op === "==" && left?.meta?.key === "nfproto" && (m.right === "ipv4" || m.right === "ipv6")) {
      spec.family = m.right;
    } else if (m && (m.op === "in" || m.op === "==") && left?.ct?.key === "state") {
      spec.state = sortStates(asList(m.right).map(String));
    } else if ("counter" in e) {
      /* counters are bookkeeping, not part of the rule's meaning */
    } else if ("accept" in e) spec.action = "ACCEPT";
    else if ("drop" in e) spec.action = "DROP";
    else if ("reject" in e) spec.action = "REJECT";
    else spec.extra.push(JSON.stringify(e));
  }
  spec.ports.sort((a, b) => a - b);
  return spec;
}
