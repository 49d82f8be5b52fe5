/**
 * The iptables part of the firewall fact: `iptables-save` text (any of the four: iptables, ip6tables and their
 * -legacy twins) parsed once, when the snapshot is, into the filter table's chains and rules, each rule already read
 * into a {@link RuleSpec}. Captured examples: test/unit/fixtures/firewall-*.txt. What the host prints, e.g.:
 *
 *     *filter
 *     :INPUT ACCEPT [0:0]
 *     :FORWARD ACCEPT [0:0]
 *     :OUTPUT ACCEPT [0:0]
 *     -A INPUT -s 198.51.100.0/24 -p tcp -m multiport --dports 2222,2223 -m comment --comment sftp-jail:partner-a -j ACCEPT
 *     -A INPUT -j REJECT --reject-with icmp-port-unreachable
 *     COMMIT
 */
import { parseCidr } from "../util/cidr";
import { RuleSpec, sortStates } from "./ruleSpec";

/** Splits one iptables-save line into tokens; double quotes group, and `\"` / `\\` inside them are escapes. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      has = true;
      for (i++; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === "\\" && i + 1 < line.length) i++;
        cur += line[i];
      }
    } else if (c === " " || c === "\t") {
      if (has) out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** One `-A` line of a table: its chain, its tokens as printed, and what they mean. */
export interface IptRule {
  chain: string;
  /** The tokens after `-A <chain>` as iptables-save printed them (deleting the rule passes them back verbatim). */
  args: string[];
  spec: RuleSpec;
  comment: string | null;
}

/** One table of an iptables-save dump. */
export interface IptTable {
  /** Chains in the order declared, with their policy ("-" for user chains). */
  chains: Array<{ name: string; policy: string }>;
  /** `-A` lines in order. */
  rules: IptRule[];
}

/**
 * Parses the `*<table>` section of iptables-save output; null when the table (or the whole output) is absent.
 * `family`: what the dump is of (iptables: ipv4, ip6tables: ipv6), the family every rule's spec is for.
 */
export function parseIptablesSave(text: string | null, family: "ipv4" | "ipv6" = "ipv4", table = "filter"): IptTable | null {
  if (!text) return null;
  let inTable = false;
  let found: IptTable | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    if (line.startsWith("*")) {
      inTable = line.slice(1) === table;
      if (inTable) found = { chains: [], rules: [] };
    } else if (!inTable || !found) continue;
    else if (line === "COMMIT") inTable = false;
    else if (line.startsWith(":")) {
      const [name, policy] = line.slice(1).split(/\s+/);
      found.chains.push({ name, policy });
    } else {
      // `iptables-save -c` prefixes "[packets:bytes] "; the facts do not, but tolerate it.
      const toks = tokenize(line.replace(/^\[\d+:\d+\]\s+/, ""));
      if (toks[0] === "-A" && toks[1]) found.rules.push({ chain: toks[1], args: toks.slice(2), ...iptablesRule(toks.slice(2), family) });
    }
  }
  return found;
}

const DEFAULT_REJECT = new Set(["icmp-port-unreachable", "icmp6-port-unreachable"]);
// "state" is the older module RHEL-style rulesets use (`-m state --state NEW`): the same match as conntrack's ctstate.
const KNOWN_MODULES = new Set(["tcp", "udp", "multiport", "conntrack", "state", "comment"]);

/** Reads the tokens of one iptables rule into a spec plus its comment. */
export function iptablesRule(args: string[], family: "ipv4" | "ipv6"): { spec: RuleSpec; comment: string | null } {
  const spec: RuleSpec = { family, protocol: null, ports: [], source: null, state: [], action: null, extra: [] };
  let comment: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === "!") spec.extra.push(a);
    else if (a === "-s" && v !== undefined) {
      i++;
      try {
        const c = parseCidr(v);
        spec.source = c.any ? null : c.text;
      } catch {
        spec.extra.push(`-s ${v}`);
      }
    } else if (a === "-p" && v !== undefined) {
      i++;
      if (v === "tcp" || v === "udp") spec.protocol = v;
      else spec.extra.push(`-p ${v}`);
    } else if (a === "-m" && v !== undefined) {
      i++;
      if (!KNOWN_MODULES.has(v)) spec.extra.push(`-m ${v}`);
    } else if ((a === "--dport" || a === "--dports") && v !== undefined) {
      i++;
      for (const p of v.split(",")) {
        if (/^\d+$/.test(p)) spec.ports.push(Number(p));
        else spec.extra.push(`${a} ${p}`);
      }
    } else if ((a === "--ctstate" || a === "--state") && v !== undefined) {
      i++;
      spec.state = sortStates(v.split(","));
    } else if (a === "--comment" && v !== undefined) {
      i++;
      comment = v;
    } else if (a === "-j" && v !== undefined) {
      i++;
      if (v === "ACCEPT" || v === "DROP" || v === "REJECT") spec.action = v;
      else spec.extra.push(`-j ${v}`);
    } else if (a === "--reject-with" && v !== undefined) {
      i++;
      if (!DEFAULT_REJECT.has(v)) spec.extra.push(`--reject-with ${v}`);
    } else spec.extra.push(a);
  }
  spec.ports.sort((x, y) => x - y);
  return { spec, comment };
}
