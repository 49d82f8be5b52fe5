/**
 * FirewallRule planner: one rule, marked by its comment `sftp-jail:<name>`, in the host's packet filter.
 *
 * Pure: parsers for what the host printed (`iptables-save` text, `nft -j list ruleset` JSON) and planners that turn
 * (desired rule, facts) into steps. Both backends are reduced to the same model: an ordered list of rules per chain,
 * each with its comment, whether it is a REJECT/DROP, and a canonical {@link RuleSpec} of its match and action.
 * Our rule is found by its comment (never by position), so runs are idempotent and drift is visible:
 * - missing: no rule carries our comment;
 * - moved: it carries our comment but its place no longer satisfies `position`;
 * - edited: its match/action differs from the spec (or it appears more than once).
 *
 * Commands are argument vectors built from validated fields only; the one exception is deleting an iptables rule by
 * the exact tokens `iptables-save` printed for it, which are passed as quoted arguments, never interpreted by a shell.
 */
import { isIPv6 } from "net";
import { HostFacts } from "../observe/facts";
import { quote, quoteArg } from "../util/shell";
import { Effects, Plan, PlanError, Step, cmd as stepOf } from "./types";
import { RecordOp, isRecordKey, rec } from "../observe/record";

/** Rule changes touch the ruleset only (guarded by confirm-or-revert); files they write say so themselves. */
const FIREWALL: Effects = { service: "firewall" };
const cmd = (description: string, argv: ReadonlyArray<string | number>, record?: RecordOp[]): Step => stepOf(description, argv, FIREWALL, record);

export type Backend = "iptables" | "iptables-legacy" | "nftables";
export type BackendChoice = Backend | "auto";
export type Protocol = "tcp" | "udp";
export type Action = "ACCEPT" | "DROP" | "REJECT";
export type Position = "top" | "bottom" | "beforeReject";
/** conntrack states in the order iptables prints them. */
export const CT_STATES = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"] as const;
export type CtState = (typeof CT_STATES)[number];
/** ipv4/ipv6: the rule matches one family; any: both (nftables `inet` tables only). */
export type Family = "ipv4" | "ipv6" | "any";

/** Every rule sftp-jail owns carries a comment starting with this. */
export const COMMENT_PREFIX = "sftp-jail:";
/** Where confirm-or-revert keeps the ruleset as it was before a change (tmpfs: gone after a reboot, as is the change). */
export const BACKUP_DIR = "/run/sftp-jail/firewall";
/** iptables' multiport match takes at most 15 ports. */
export const MAX_PORTS = 15;

/** The desired rule, as the adapter's schema normalised it. */
export interface RuleDesired {
  /** Identifies the rule on the host: its comment is `sftp-jail:<name>`. */
  name: string;
  backend: BackendChoice;
  /** Chain; default INPUT (iptables) or input (nftables). */
  chain?: string;
  /** nftables only: "<family> <table>", default "inet filter". */
  table?: string;
  protocol: Protocol;
  /** Sorted, unique, 1..15 ports. */
  ports: number[];
  /** Canonical CIDR (see {@link parseCidr}). */
  source?: string;
  /** Canonical order (see {@link CT_STATES}); empty: any state. */
  state: CtState[];
  action: Action;
  position: Position;
}

/** Match + action of a rule in one canonical form for both backends: two rules are the same iff their specs are. */
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
// Addresses

function v4Bytes(s: string): number[] | null {
  const m = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.exec(s);
  return m ? m.slice(1).map(Number) : null;
}

function v6Groups(s: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !isIPv6(s)) return null;
  let str = s.toLowerCase();
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(str);
  if (m) {
    const b = v4Bytes(m[2]);
    if (!b) return null;
    str = m[1] + ((b[0] << 8) | b[1]).toString(16) + ":" + ((b[2] << 8) | b[3]).toString(16);
  }
  const parts = str.split("::");
  const head = parts[0] ? parts[0].split(":") : [];
  const tail = parts.length === 2 && parts[1] ? parts[1].split(":") : [];
  const fill = parts.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(fill).fill("0"), ...tail].map((x) => parseInt(x, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

/** RFC 5952 text (what inet_ntop, iptables-save and nft print): lower case, longest zero run of 2+ groups as "::". */
function v6Text(g: number[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestLen < 2) return hex.join(":");
  return hex.slice(0, best).join(":") + "::" + hex.slice(best + bestLen).join(":");
}

/** A parsed CIDR: family and canonical text as iptables-save and nft print it (a bare address gets /32 or /128). */
export interface Cidr {
  family: "ipv4" | "ipv6";
  text: string;
  /** True for 0.0.0.0/0 and ::/0: every address of the family. */
  any: boolean;
}

/**
 * Parses a CIDR strictly. Throws an Error whose message says what is wrong and what to write instead; host bits must
 * be zero because the kernel would silently clear them and the rule would then never match its own spec.
 */
export function parseCidr(input: string): Cidr {
  const [addr, len, ...rest] = input.split("/");
  if (rest.length) throw new Error(`"${input}" has more than one "/"`);
  const b4 = v4Bytes(addr);
  const g6 = b4 ? null : v6Groups(addr);
  if (!b4 && !g6) throw new Error(`"${addr}" is not an IPv4 or IPv6 address (write e.g. 203.0.113.0/24 or 2001:db8::/32)`);
  const bits = b4 ? 32 : 128;
  if (len !== undefined && !/^(0|[1-9]\d{0,2})$/.test(len)) throw new Error(`prefix length "${len}" must be a number 0–${bits}`);
  const prefix = len === undefined ? bits : Number(len);
  if (prefix > bits) throw new Error(`prefix length /${prefix} is longer than ${bits} bits`);
  const words = b4 ?? g6!;
  const width = b4 ? 8 : 16;
  const masked = words.map((w, i) => {
    const keep = Math.max(0, Math.min(width, prefix - i * width));
    return keep === 0 ? 0 : (w >> (width - keep)) << (width - keep);
  });
  if (masked.some((w, i) => w !== words[i])) {
    const net = b4 ? masked.join(".") : v6Text(masked);
    throw new Error(`"${input}" has host bits set; the network is ${net}/${prefix}`);
  }
  const text = (b4 ? b4.join(".") : v6Text(g6!)) + "/" + prefix;
  return { family: b4 ? "ipv4" : "ipv6", text, any: prefix === 0 };
}

// ---------------------------------------------------------------------------------------------------------------
// Specs

const sortStates = (s: string[]): CtState[] =>
  [...new Set(s.map((x) => x.toUpperCase()))].sort((a, b) => CT_STATES.indexOf(a as CtState) - CT_STATES.indexOf(b as CtState)) as CtState[];

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
// iptables

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

/** One table of an iptables-save dump. */
export interface IptTable {
  /** Chains in the order declared, with their policy ("-" for user chains). */
  chains: Array<{ name: string; policy: string }>;
  /** `-A` lines in order, split into chain and tokens. */
  rules: Array<{ chain: string; args: string[] }>;
}

/** Parses the `*<table>` section of iptables-save output; null when the table is absent. */
export function parseIptablesSave(text: string | null, table = "filter"): IptTable | null {
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
      if (toks[0] === "-A" && toks[1]) found.rules.push({ chain: toks[1], args: toks.slice(2) });
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

// ---------------------------------------------------------------------------------------------------------------
// nftables

interface NftTable {
  family: string;
  name: string;
}
interface NftChain {
  family: string;
  table: string;
  name: string;
  type?: string;
  hook?: string;
  prio?: number;
  policy?: string;
}
interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment?: string;
  expr: unknown[];
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
    else if (kind === "rule") r.rules.push(body as unknown as NftRule);
    else if (kind !== "metainfo" && body && typeof body.table === "string") {
      const k = `${body.family} ${body.table}`;
      r.others[k] = (r.others[k] ?? 0) + 1;
    }
  }
  return r;
}

const IPTABLES_TABLES = new Set(["filter", "nat", "mangle", "raw", "security"]);
const BUILTIN_CHAINS = new Set(["INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"]);

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
  for (const e of expr as Array<Record<string, any>>) {
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

const commentOf = (name: string) => COMMENT_PREFIX + name;

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
  const rs = parseNft(fw.nft);
  const used: Backend[] = [];
  if (nftInputRules(rs) > 0) used.push("nftables");
  if (hasInputRules(parseIptablesSave(fw.iptables)) || hasInputRules(parseIptablesSave(fw.ip6tables))) {
    used.push(fw.iptablesVariant === "legacy" ? "iptables-legacy" : "iptables");
  }
  if (fw.iptablesVariant !== "legacy" && (hasInputRules(parseIptablesSave(fw.iptablesLegacy)) || hasInputRules(parseIptablesSave(fw.ip6tablesLegacy ?? null)))) {
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
  return parseIptablesSave(iptSave(v6, facts)) ? [{ ...t, family: "ipv4" }, v6] : [{ ...t, family: "ipv4" }];
}

/** Every place a target's rule may be found in, whatever the families it is for now (strays of an earlier source). */
function everyPart(t: Target): Target[] {
  if (t.backend === "nftables") return [t];
  return [{ ...t, family: "ipv4" }, { ...t, family: "ipv6" }];
}

/** The iptables binary for a target: `iptables`/`ip6tables`, or the `-legacy` ones when legacy is not the default. */
function iptBin(t: Target, facts: HostFacts): string {
  const base = t.family === "ipv6" ? "ip6tables" : "iptables";
  return legacyBeside(t, facts) ? `${base}-legacy` : base;
}

const legacyBeside = (t: Target, facts: HostFacts) => t.backend === "iptables-legacy" && facts.firewall.iptablesVariant !== "legacy";

/** The save output a one-family iptables target is read from. */
function iptSave(t: Target, facts: HostFacts): string | null {
  const fw = facts.firewall;
  if (t.family === "ipv6") return legacyBeside(t, facts) ? (fw.ip6tablesLegacy ?? null) : fw.ip6tables;
  return legacyBeside(t, facts) ? fw.iptablesLegacy : fw.iptables;
}

// ---------------------------------------------------------------------------------------------------------------
// Locating our rule

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
    const rs = parseNft(facts.firewall.nft);
    const [fam, name] = target.table.split(" ");
    tableExists = !!rs?.tables.some((t) => t.family === fam && t.name === name);
    if (rs && tableExists) {
      const chains = rs.chains.filter((c) => c.family === fam && c.table === name);
      chainExists = chains.some((c) => c.name === target.chain);
      const rules = rs.rules.filter((r) => r.family === fam && r.table === name);
      all = rules.map((r) => {
        const spec = nftRule(r.expr, fam);
        return { chain: r.chain, comment: r.comment ?? null, terminal: spec.action === "DROP" || spec.action === "REJECT", spec, handle: r.handle };
      });
      nft = { chains, rules: rules.length, others: rs.others[target.table] ?? 0 };
    }
  } else {
    const t = parseIptablesSave(iptSave(target, facts));
    tableExists = !!t;
    chainExists = BUILTIN_CHAINS.has(target.chain) || !!t?.chains.some((c) => c.name === target.chain);
    all = (t?.rules ?? []).map((r) => {
      const { spec, comment: c } = iptablesRule(r.args, target.family === "ipv6" ? "ipv6" : "ipv4");
      return { chain: r.chain, comment: c, terminal: spec.action === "DROP" || spec.action === "REJECT", spec, args: r.args };
    });
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

// ---------------------------------------------------------------------------------------------------------------
// Plans

/** A guarded change: steps, the steps that restore the exact previous ruleset, and words for errors. */
export interface FirewallPlan {
  steps: Plan;
  revert: Plan;
  what: string;
  /** Run once the change is confirmed: the saved tables only a revert needed go (nothing of ours stays behind). */
  cleanup?: Plan;
}

/** Drops the tables saved for reverting a change to these parts, once it is confirmed (the timer is disarmed then). */
function dropBackups(name: string, parts: Target[]): Plan {
  if (!parts.length) return [];
  const files = parts.flatMap((t) => [backupFile(name, t), ...(t.backend === "nftables" ? [] : [backupFile(name, t) + ".chains"])]);
  return [
    {
      description: "drop the tables saved for a revert",
      script: `${quote(["rm", "-f", ...files])} && { rmdir ${quoteArg(BACKUP_DIR)} 2>/dev/null || true; }`,
      effects: { paths: files },
    },
  ];
}

const backupFile = (name: string, t: Target) => `${BACKUP_DIR}/${name}.${t.backend === "nftables" ? "nft" : t.family === "ipv6" ? "v6" : "v4"}`;

/** Saves the table as it is, so revert can restore it exactly (iptables with counters; nft as a reloadable script). */
function backupStep(name: string, t: Target, facts: HostFacts): Step {
  const f = quoteArg(backupFile(name, t));
  const mk = quote(["mkdir", "-p", BACKUP_DIR]);
  if (t.backend === "nftables") {
    const [fam, tbl] = t.table.split(" ");
    // "table X" + "delete table X" + the listing: loading it replaces the table atomically, whether or not it exists.
    return {
      description: `save nft table ${t.table} for revert`,
      effects: { paths: [backupFile(name, t)] },
      script: `${mk} && { echo ${quoteArg(`table ${fam} ${tbl}`)}; echo ${quoteArg(`delete table ${fam} ${tbl}`)}; ${quote(["nft", "list", "table", fam, tbl])} 2>/dev/null || true; } > ${f}`,
    };
  }
  const save = `${iptBin(t, facts)}-save`;
  const nt = nftOfIptables(t, facts);
  // iptables-nft keeps the table in nft: which of its chains exist (or that it does not) is part of "as it was",
  // since the change (or iptables-restore) creates the table and its built-in chains on demand.
  const chains = nt
    ? ` && { if command -v nft >/dev/null && ${quote(["nft", "list", "table", ...nt])} >/dev/null 2>&1; then echo table; ${NFT_CHAINS(nt)}; else echo none; fi; } > ${quoteArg(backupFile(name, t) + ".chains")}`
    : "";
  return {
    description: `save ${save} filter table for revert`,
    effects: { paths: [backupFile(name, t), backupFile(name, t) + ".chains"] },
    script: `${mk} && { ${quote([save, "-c", "-t", "filter"])} 2>/dev/null || true; } > ${f}${chains}`,
  };
}

/** Chain names of an nft table, one per line (from `nft list table`, whose chain lines read "\tchain NAME {"). */
const NFT_CHAINS = (nt: [string, string]) => `${quote(["nft", "list", "table", ...nt])} 2>/dev/null | sed -n 's/^[[:space:]]*chain \\([^ ]*\\) {$/\\1/p'`;

/** The nft table iptables-nft keeps a target's filter table in (`ip filter` / `ip6 filter`), or undefined. */
function nftOfIptables(t: Target, facts: HostFacts): [string, string] | undefined {
  if (t.backend !== "iptables" || facts.firewall.iptablesVariant !== "nf_tables") return undefined;
  return [t.family === "ipv6" ? "ip6" : "ip", "filter"];
}

/** The nft table a target lives in: its own (nftables), iptables-nft's (`ip`/`ip6 filter`), or none (legacy). */
export function nftTableOf(t: Target, facts: HostFacts): [string, string] | undefined {
  if (t.backend === "nftables") return t.table.split(" ") as [string, string];
  return nftOfIptables(t, facts);
}

/** The nft tables a target's rule may live in, one per family part (see {@link createdObjects}). */
export function nftTablesOf(t: Target, facts: HostFacts): Array<[string, string]> {
  const all = everyPart(t)
    .map((p) => nftTableOf(p, facts))
    .filter((nt): nt is [string, string] => nt !== undefined);
  return all.filter((nt, i) => all.findIndex((x) => x.join(" ") === nt.join(" ")) === i);
}

/** One nft table as `nft -j list ruleset` showed it. */
function nftObjects(facts: HostFacts, [fam, name]: [string, string]) {
  const rs = parseNft(facts.firewall.nft);
  return {
    exists: !!rs?.tables.some((t) => t.family === fam && t.name === name),
    chains: (rs?.chains ?? []).filter((c) => c.family === fam && c.table === name).map((c) => c.name),
    rules: (rs?.rules ?? []).filter((r) => r.family === fam && r.table === name),
    others: rs?.others[`${fam} ${name}`] ?? 0,
  };
}

/**
 * What a change created in nft (a part's table, or chains of it), from the facts before and after it: destroy
 * removes exactly these again once they are empty, so the ruleset is as it was before sftp-jail. Each entry names its
 * nft table: "<family> <table>:table" or "<family> <table>:chain:<name>" (e.g. "ip6 filter:chain:INPUT"). Empty for
 * iptables-legacy (its tables cannot be removed) and when nft is not installed.
 */
export function createdObjects(t: Target, before: HostFacts, after: HostFacts): string[] {
  if (before.firewall.nft === null || after.firewall.nft === null) return [];
  return everyPart(t).flatMap((p) => {
    const nt = nftTableOf(p, after);
    if (!nt) return [];
    const b = nftObjects(before, nt);
    const a = nftObjects(after, nt);
    const key = nt.join(" ");
    if (!a.exists) return [];
    if (!b.exists) return [`${key}:table`];
    return a.chains.filter((c) => !b.chains.includes(c)).map((c) => `${key}:chain:${c}`);
  });
}

/**
 * `created` as recorded in state, each entry naming its nft table. State written before rules had an IPv6 twin holds
 * "table" / "chain:<name>" for the one table of its target; those are qualified with it.
 */
export function qualifyCreated(created: string[], t: Target, facts: HostFacts): string[] {
  const nt = nftTableOf(t, facts);
  return created.flatMap((c) => (/^(table$|chain:)/.test(c) ? (nt ? [`${nt.join(" ")}:${c}`] : []) : [c]));
}

/**
 * The revert of a change: `inverse` says what the change did to the chain — inserted our rule (`added`), removed these
 * rules (`removed`, with their 1-based positions). iptables: when every removed rule was in the target chain, the exact
 * inverse (delete what was inserted, re-insert what was removed where it was) is run; iptables-nft's restore would
 * re-create the whole table (new handles, a new place in `nft list ruleset`). Otherwise the saved table is restored.
 */
function revertStep(
  d: RuleDesired,
  t: Target,
  facts: HostFacts,
  inverse?: { added: boolean; removed: Array<{ at: number; args: string[]; chain: string }>; tableExisted?: boolean; chainExisted?: boolean },
): Step {
  // What the revert removes again leaves the host's record with it (each entry only if its object is really gone).
  const nt = nftTableOf(t, facts);
  const drops = [rec.drop("w", d.name), ...(nt ? [rec.drop("n", nt.join(":")), rec.drop("c", [...nt, t.chain].join(":"))] : [])];
  return { ...revertOnly(d, t, facts, inverse), record: drops };
}

function revertOnly(
  d: RuleDesired,
  t: Target,
  facts: HostFacts,
  inverse?: { added: boolean; removed: Array<{ at: number; args: string[]; chain: string }>; tableExisted?: boolean; chainExisted?: boolean },
): Step {
  const f = quoteArg(backupFile(d.name, t));
  if (t.backend === "nftables") {
    if (inverse?.added && inverse.removed.length === 0) {
      // A pure insert: delete the rule(s) carrying our comment (found by handle now), then the table or chain the
      // change created. Loading the saved table instead would re-create it (a new place in `nft list ruleset`).
      const [fam, tbl] = t.table.split(" ");
      const sed = `s/.* comment "${commentOf(d.name).replace(/\./g, "\\.")}" # handle \\([0-9][0-9]*\\)$/\\1/p`;
      const del = `for h in $(${quote(["nft", "-a", "list", "chain", fam, tbl, t.chain])} 2>/dev/null | sed -n ${quoteArg(sed)}); do ${quote(["nft", "delete", "rule", fam, tbl, t.chain, "handle"])} "$h" || sj_failed=1; done; [ -z "\${sj_failed:-}" ]`;
      const created = !inverse.tableExisted ? [quote(["nft", "delete", "table", fam, tbl])] : !inverse.chainExisted ? [quote(["nft", "delete", "chain", fam, tbl, t.chain])] : [];
      return { description: `remove ${commentOf(d.name)} from nft table ${t.table} again`, script: [del, ...created].join(" && "), effects: FIREWALL };
    }
    return { description: `restore nft table ${t.table} as it was`, script: quote(["nft", "-f", backupFile(d.name, t)]), effects: FIREWALL };
  }
  const bin = iptBin(t, facts);
  const del = `while ${quote([bin, "-w", "-t", "filter", "-D", t.chain, ...iptablesArgs(d, commentOf(d.name))])} 2>/dev/null; do :; done`;
  const exact = inverse && inverse.removed.every((r) => r.chain === t.chain);
  const reinsert = exact
    ? [...inverse.removed].sort((a, b) => a.at - b.at).map((r) => quote([bin, "-w", "-t", "filter", "-I", t.chain, r.at, ...r.args]))
    : [];
  const restore = exact
    ? [...(inverse.added ? [del] : []), ...reinsert].join(" && ") || "true"
    : // Without a saved filter table (it did not exist), removing our rule is the exact inverse.
      `if grep -q '^\\*filter' ${f}; then ${quote([`${bin}-restore`, "-w", "-c"])} < ${f}; else ${del}; fi`;
  const nt = nftOfIptables(t, facts);
  if (!nt) return { description: `restore the ${bin} filter table as it was`, script: restore, effects: FIREWALL };
  // iptables-nft: then remove what the change or the restore created in nft — the table itself when it was not there
  // (and holds no rule now), else the (empty) chains that were not there. `nft delete chain` refuses a chain with rules.
  const chainsFile = quoteArg(backupFile(d.name, t) + ".chains");
  const prune = [
    `if command -v nft >/dev/null && [ -s ${chainsFile} ]; then`,
    `if [ "$(head -n 1 ${chainsFile})" = none ]; then`,
    `if ! ${quote([`${bin}-save`, "-t", "filter"])} 2>/dev/null | grep -q '^-A'; then ${quote(["nft", "delete", "table", ...nt])} 2>/dev/null || true; fi;`,
    `else for c in $(${NFT_CHAINS(nt)}); do tail -n +2 ${chainsFile} | grep -qxF -- "$c" || ${quote(["nft", "delete", "chain", ...nt])} "$c" 2>/dev/null || true; done; fi;`,
    "fi",
  ].join(" ");
  return { description: `restore the ${bin} filter table as it was`, script: `{ ${restore}; } && ${prune}`, effects: FIREWALL };
}

/** The rules a plan deletes (ours, or the adopted one being replaced), each with its 1-based place in its chain. */
function removedRules(loc: Located): Array<{ at: number; args: string[]; chain: string }> {
  return loc.ours.map((r) => ({ at: loc.rules.indexOf(r) + 1, args: r.args ?? [], chain: loc.rules.includes(r) ? r.chain : "" }));
}

/** A removed rule of ours leaves the host's record (once no rule carries its comment any more). */
const dropRule = (r: ObservedRule): RecordOp[] => {
  const name = r.comment?.startsWith(COMMENT_PREFIX) ? r.comment.slice(COMMENT_PREFIX.length) : "";
  return isRecordKey("w", name) ? [rec.drop("w", name)] : [];
};

function deleteSteps(loc: Located, facts: HostFacts): Step[] {
  const t = loc.target;
  if (t.backend === "nftables") {
    const [fam, tbl] = t.table.split(" ");
    return loc.ours.map((r) => cmd(`delete rule ${r.comment} (handle ${r.handle}) from ${t.table} ${r.chain}`, ["nft", "delete", "rule", fam, tbl, r.chain, "handle", r.handle!], dropRule(r)));
  }
  const bin = iptBin(t, facts);
  return loc.ours.map((r) => cmd(`delete rule ${r.comment} from ${bin} ${r.chain}`, [bin, "-w", "-t", "filter", "-D", r.chain, ...r.args!], dropRule(r)));
}

const NFT_HOOKS = new Set(["input", "forward", "output"]);

function insertSteps(d: RuleDesired, loc: Located, facts: HostFacts): Step[] {
  const t = loc.target;
  const comment = commentOf(d.name);
  // Without the rules about to be deleted (ours, or the adopted one being replaced).
  const others = loc.rules.filter((r) => r.comment !== comment && !loc.ours.includes(r));
  const at = insertIndex(d.position, others);
  const where = at === others.length ? "at the end" : `before rule ${at + 1}`;
  const desc = `insert ${describeSpec(desiredSpec(d, t))} as ${comment} into ${t.backend} ${t.table} ${t.chain} ${where}`;
  // The host's record of what sftp-jail created (observe/record.ts): the rule, and the nft table and chain it brought
  // into being (iptables-nft makes them on demand), each recorded only if the step created it.
  const nt = nftTableOf(t, facts);
  const made = nt ? [rec.add("n", nt.join(":")), rec.add("c", [...nt, t.chain].join(":"))] : [];
  if (t.backend === "nftables") {
    const [fam, tbl] = t.table.split(" ");
    const steps: Step[] = [];
    if (!loc.tableExists) steps.push(cmd(`create nft table ${t.table}`, ["nft", "add", "table", fam, tbl], [made[0]]));
    if (!loc.chainExists) {
      if (!NFT_HOOKS.has(t.chain)) {
        throw new PlanError(`chain "${t.chain}" does not exist in nft table ${t.table}`, `create it first, or use chain "input"`);
      }
      steps.push(cmd(`create base chain ${t.chain} in ${t.table}`, ["nft", "add", "chain", fam, tbl, t.chain, `{ type filter hook ${t.chain} priority filter ; policy accept ; }`], [made[1]]));
    }
    const tokens = nftTokens(d, t, comment);
    const argv =
      at === others.length
        ? ["nft", "add", "rule", fam, tbl, t.chain, ...tokens]
        : ["nft", "insert", "rule", fam, tbl, t.chain, "position", others[at].handle!, ...tokens];
    return [...steps, cmd(desc, argv, [rec.add("w", d.name)])];
  }
  if (!loc.chainExists) {
    throw new PlanError(`chain "${t.chain}" does not exist in the ${t.backend} filter table`, "create it first, or use chain INPUT");
  }
  const bin = iptBin(t, facts);
  const argv = at === others.length ? [bin, "-w", "-t", "filter", "-A", t.chain] : [bin, "-w", "-t", "filter", "-I", t.chain, at + 1];
  return [cmd(desc, [...argv, ...iptablesArgs(d, comment)], [rec.add("w", d.name), ...made])];
}

/** Ports sshd listens on (`sshd -T`), default 22. */
export function sshPorts(facts: HostFacts): number[] {
  const p = (facts.sshd.effective.port ?? []).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  return p.length ? p : [22];
}

/**
 * Refuses a REJECT/DROP on sshd's port that also hits established connections: it would cut the SSH session sftp-jail
 * needs to confirm the change and, if a fresh login fails, to revert it. Limited to NEW (and INVALID) connections,
 * existing sessions survive, so a lockout is detected by the fresh login and reverted.
 */
function refuseSshCut(d: RuleDesired, facts: HostFacts): void {
  if (d.action === "ACCEPT" || d.protocol !== "tcp") return;
  const hit = d.ports.filter((p) => sshPorts(facts).includes(p));
  if (!hit.length) return;
  const newOnly = d.state.length > 0 && d.state.every((s) => s === "NEW" || s === "INVALID");
  if (newOnly) return;
  throw new PlanError(
    `a ${d.action} rule on tcp port ${hit.join(",")} (the port sshd listens on) that is not limited to state NEW would cut established SSH sessions, including the one sftp-jail needs to confirm or revert this change`,
    `add state: ["NEW"] (existing sessions keep working and a lockout of new logins is detected and reverted), or use another port`,
  );
}

/**
 * Create or converge. `adoptFrom`: the rule whose spec an existing rule may have to be adopted (create: the desired
 * rule itself; update of an adopted rule: the previous one). An adopted rule that already is what `d` wants is kept
 * as it is (no steps); otherwise it is replaced by ours, in place of nothing else.
 *
 * Every family part (the iptables rule and its ip6tables twin) is planned on its own chain, and all of them form one
 * guarded change: one dead-man timer and one fresh login cover both families, and a revert undoes every part. Our
 * rule left in a family the rule is no longer for (its source changed family) is removed in the same change, after
 * the new one is in, so an opening is never gone in between.
 */
export function planRuleConverge(d: RuleDesired, facts: HostFacts, previous?: Backend, adoptFrom?: RuleDesired): FirewallPlan & { located: LocatedRule } {
  const target = resolveTarget(d, facts, previous);
  const loc = locateRule(d, target, facts, adoptFrom);
  const what = `firewall rule ${commentOf(d.name)} (${describeSpec(desiredSpec(d, target))}) in ${target.backend} ${target.table} ${target.chain}`;
  if (loc.inPosition && loc.matchesSpec) return { steps: [], revert: [], what, located: loc };
  refuseSshCut(d, facts);
  const steps: Step[] = [];
  const revert: Step[] = [];
  const stale = loc.parts.filter((l) => !(l.inPosition && l.matchesSpec));
  for (const part of stale) {
    steps.push(backupStep(d.name, part.target, facts), ...deleteSteps(part, facts), ...insertSteps(d, part, facts));
    revert.unshift(revertStep(d, part.target, facts, { added: true, removed: removedRules(part), tableExisted: part.tableExists, chainExisted: part.chainExists }));
  }
  for (const stray of loc.strays) {
    steps.push(backupStep(d.name, stray.target, facts), ...deleteSteps(stray, facts));
    revert.unshift(revertStep(d, stray.target, facts, { added: false, removed: removedRules(stray) }));
  }
  return { steps, revert, what, located: loc, cleanup: dropBackups(d.name, [...stale, ...loc.strays].map((l) => l.target)) };
}

/**
 * Removes exactly our rule(s), in every family. `created`: what this rule's changes created in nft (see
 * {@link createdObjects}), removed too once nothing but our rule was in it, so destroy leaves the ruleset as it found
 * it. Without that record (state written before it existed), an nftables table left with nothing but the one empty,
 * accept-policy base chain sftp-jail would have created is removed (it filters nothing).
 */
export function planRuleDelete(d: RuleDesired, target: Target, facts: HostFacts, created?: string[]): FirewallPlan {
  const what = `removing firewall rule ${commentOf(d.name)} from ${target.backend} ${target.table} ${target.chain}`;
  const all = created && qualifyCreated(created, target, facts);
  const parts = everyPart(target).map((p) => ({ target: p, ...planPartDelete(d, p, facts, all) }));
  const cleanup = dropBackups(d.name, parts.filter((p) => p.steps.length).map((p) => p.target));
  return { steps: parts.flatMap((p) => p.steps), revert: [...parts].reverse().flatMap((p) => p.revert), what, cleanup };
}

function planPartDelete(d: RuleDesired, target: Target, facts: HostFacts, created?: string[]): { steps: Plan; revert: Plan } {
  const loc = locate(d, target, facts);
  if (!loc.ours.length) return { steps: [], revert: [] };
  const steps = [backupStep(d.name, target, facts), ...deleteSteps(loc, facts)];
  const revert = [revertStep(d, target, facts, { added: false, removed: removedRules(loc) })];
  const nt = nftTableOf(target, facts);
  if (created && nt) {
    // Exactly what this rule's changes created in this part's nft table, once nothing but our rules is in it.
    const key = `${nt.join(" ")}:`;
    const mine = created.filter((c) => c.startsWith(key)).map((c) => c.slice(key.length));
    const o = nftObjects(facts, nt);
    // Rules that stay after ours go (iptables-nft: judged on iptables-save, which names our comment the same way).
    const rules: Array<{ chain: string; comment: string | null }> =
      target.backend === "nftables"
        ? o.rules.map((r) => ({ chain: r.chain, comment: r.comment ?? null }))
        : (parseIptablesSave(iptSave(target, facts))?.rules ?? []).map((r) => ({ chain: r.chain, comment: iptablesRule(r.args, "ipv4").comment }));
    const left = (chain?: string) => rules.filter((r) => (chain === undefined || r.chain === chain) && r.comment !== commentOf(d.name)).length;
    if (mine.includes("table") && o.exists && left() === 0 && o.others === 0) {
      steps.push(cmd(`delete nft table ${nt.join(" ")} (sftp-jail created it; now empty)`, ["nft", "delete", "table", ...nt], [rec.drop("n", nt.join(":")), ...o.chains.map((c) => [...nt, c].join(":")).filter((k) => isRecordKey("c", k)).map((k) => rec.drop("c", k))]));
    } else {
      for (const c of mine.filter((x) => x.startsWith("chain:")).map((x) => x.slice(6))) {
        if (o.chains.includes(c) && left(c) === 0) steps.push(cmd(`delete nft chain ${nt.join(" ")} ${c} (sftp-jail created it; now empty)`, ["nft", "delete", "chain", ...nt, c], isRecordKey("c", [...nt, c].join(":")) ? [rec.drop("c", [...nt, c].join(":"))] : []));
      }
    }
    return { steps, revert };
  }
  if (target.backend === "nftables" && loc.nft) {
    const onlyOurs = loc.nft.rules === loc.ours.length && loc.nft.others === 0;
    const c = loc.nft.chains;
    const bare = c.length === 1 && c[0].name === target.chain && c[0].hook === target.chain && c[0].type === "filter" && (c[0].prio ?? 0) === 0 && c[0].policy === "accept";
    if (onlyOurs && bare) {
      const [fam, tbl] = target.table.split(" ");
      steps.push(cmd(`delete nft table ${target.table} (now empty)`, ["nft", "delete", "table", fam, tbl]));
    }
  }
  return { steps, revert };
}

// ---------------------------------------------------------------------------------------------------------------
// Persistence

const isDebianLike = (f: HostFacts) => f.os.id === "debian" || f.os.id === "ubuntu" || f.os.idLike.includes("debian");
const isRhelLike = (f: HostFacts) => ["rhel", "centos", "fedora", "rocky", "almalinux"].includes(f.os.id) || f.os.idLike.some((x) => x === "rhel" || x === "fedora");

/** Where the distro loads the saved ruleset from at boot. */
export function persistPath(t: Target, facts: HostFacts): string {
  if (isDebianLike(facts)) {
    if (t.backend === "nftables") return "/etc/nftables.conf";
    return t.family === "ipv6" ? "/etc/iptables/rules.v6" : "/etc/iptables/rules.v4";
  }
  if (isRhelLike(facts)) {
    if (t.backend === "nftables") return "/etc/sysconfig/nftables.conf";
    return t.family === "ipv6" ? "/etc/sysconfig/ip6tables" : "/etc/sysconfig/iptables";
  }
  throw new PlanError(`persist: do not know where ${facts.os.prettyName} keeps its saved ${t.backend} ruleset`, "set persist: false and save the ruleset with your distribution's tool");
}

/** Where sftp-jail keeps, per persistence file, the file as it was before it first wrote it (survives reboots). */
export const PERSIST_STATE = "/var/lib/sftp-jail/firewall";

/** The bookkeeping files of one persistence file: `<key>.orig` (or `.absent`, `.mkdir`), `.rules/<name>`, `.sha256`. */
function persistState(path: string) {
  const k = `${PERSIST_STATE}/${path.replace(/^\//, "").replace(/\//g, "_")}`;
  return { orig: `${k}.orig`, absent: `${k}.absent`, mkdir: `${k}.mkdir`, rules: `${k}.rules`, sha: `${k}.sha256` };
}

/** Records the sha256 of what sftp-jail just wrote, so a later restore can tell whether anyone edited the file since. */
const recordSha = (path: string) => `sha256sum < ${quoteArg(path)} | cut -c1-64 > ${quoteArg(persistState(path).sha)}`;

/**
 * Writes the live ruleset where the distro loads it at boot, atomically (temp file, then rename), after the change
 * was confirmed. nftables: every native table as "table X / delete table X / listing", so loading it replaces those
 * tables without flushing iptables-nft's or anyone else's; checked with `nft -c` before the rename.
 *
 * `rule` (a rule with `persist`): registers it as a user of the file, and before sftp-jail first writes the file keeps
 * it as it was (or notes it was absent), so that {@link planUnpersist} can put it back byte for byte.
 * Without `rule`, `onlyIfMentions`: re-saves only if the saved file mentions that text (a rule without persist that
 * another rule's persist saved while it existed; when it goes, the file is re-saved so a reboot does not bring it back).
 */
export function planPersist(t: Target, facts: HostFacts, onlyIfMentions?: string, rule?: string): Plan {
  const path = persistPath(t, facts);
  const st = persistState(path);
  const base = planPersistTo(path, t, facts);
  if (rule !== undefined) {
    const dir = path.slice(0, path.lastIndexOf("/"));
    const keep = [
      quote(["install", "-d", "-m", "0700", PERSIST_STATE]),
      `{ [ -e ${quoteArg(st.orig)} ] || [ -e ${quoteArg(st.absent)} ] || if [ -e ${quoteArg(path)} ]; then ${quote(["cp", "-p", path, st.orig])}; else : > ${quoteArg(st.absent)} && { [ -d ${quoteArg(dir)} ] || : > ${quoteArg(st.mkdir)}; }; fi; }`,
      quote(["install", "-d", "-m", "0700", st.rules]),
      `: > ${quoteArg(`${st.rules}/${rule}`)}`,
    ].join(" && ");
    return base.map((x) => ({ description: x.description, script: `${keep} && ${x.script} && ${recordSha(path)}`, effects: { paths: [...(x.effects.paths ?? []), `${st.rules}/${rule}`, st.sha] } }));
  }
  const steps = base.map((x) => ({ ...x, script: `${x.script} && { if [ -e ${quoteArg(st.sha)} ]; then ${recordSha(path)}; fi; }` }));
  if (onlyIfMentions === undefined) return steps;
  return steps.map((x) => ({
    description: `${x.description} (it still mentions ${onlyIfMentions})`,
    script: `if grep -qF -- ${quoteArg(onlyIfMentions)} ${quoteArg(path)} 2>/dev/null; then ${x.script}; fi`,
    effects: x.effects,
  }));
}

/**
 * Rule `rule` no longer wants the ruleset persisted (destroyed, or persist turned off). When it was the file's last
 * sftp-jail user and nobody edited the file since sftp-jail last wrote it, the file goes back to exactly what it was
 * before sftp-jail first wrote it (byte for byte, owner and mode; removed if there was none). Otherwise the live
 * ruleset (now without the rule) is saved again, as before.
 */
export function planUnpersist(t: Target, facts: HostFacts, rule: string, onlyIfRegistered = false): Plan {
  const path = persistPath(t, facts);
  const st = persistState(path);
  const dir = path.slice(0, path.lastIndexOf("/"));
  const tmp = `${path}.sftp-jail.tmp`;
  const save = planPersistTo(path, t, facts).map((x) => x.script).join(" && ");
  const restore = [
    `if [ -e ${quoteArg(st.orig)} ]; then ${quote(["cp", "-p", st.orig, tmp])} && ${quote(["mv", "-f", tmp, path])};`,
    `else rm -f ${quoteArg(path)} && { [ ! -e ${quoteArg(st.mkdir)} ] || rmdir ${quoteArg(dir)} 2>/dev/null || true; }; fi`,
  ].join(" ");
  // The bookkeeping goes with the last rule that wanted the file, and its directories once empty (nothing of ours stays).
  const forget = `${quote(["rm", "-rf", st.orig, st.absent, st.mkdir, st.rules, st.sha])} && { rmdir ${quoteArg(PERSIST_STATE)} ${quoteArg(PERSIST_STATE.slice(0, PERSIST_STATE.lastIndexOf("/")))} 2>/dev/null || true; }`;
  const script = [
    `rm -f ${quoteArg(`${st.rules}/${rule}`)};`,
    `if [ -e ${quoteArg(st.sha)} ] && [ -z "$(ls -A ${quoteArg(st.rules)} 2>/dev/null)" ]; then`,
    `if [ "$(sha256sum < ${quoteArg(path)} 2>/dev/null | cut -c1-64)" = "$(cat ${quoteArg(st.sha)})" ]; then ${restore};`,
    `else ${save}; fi && ${forget};`,
    `else ${save} && { if [ -e ${quoteArg(st.sha)} ]; then ${recordSha(path)}; fi; }; fi`,
  ].join(" ");
  return [
    {
      description: `put ${path} back as it was before sftp-jail, or save the ruleset without ${COMMENT_PREFIX}${rule}`,
      script: onlyIfRegistered ? `if [ -e ${quoteArg(`${st.rules}/${rule}`)} ]; then ${script}; fi` : script,
      effects: { paths: [path, tmp, dir, st.orig, st.absent, st.mkdir, st.rules, st.sha, PERSIST_STATE, PERSIST_STATE.slice(0, PERSIST_STATE.lastIndexOf("/"))] },
    },
  ];
}

/**
 * {@link planPersist} for every family part of a rule: the rule and its ip6tables twin are saved each where the distro
 * loads that family from (Debian: rules.v4 and rules.v6). Re-saving a file that mentions a rule looks in every family.
 * With `rule`, a family the rule is not in (any more) is handed back as {@link planUnpersist} does, where it registered.
 */
export function planPersistRule(t: Target, facts: HostFacts, onlyIfMentions?: string, rule?: string): Plan {
  if (rule === undefined) return (onlyIfMentions !== undefined ? everyPart(t) : familyParts(t, facts)).flatMap((p) => planPersist(p, facts, onlyIfMentions));
  // A family the rule no longer has (no twin any more, or its source changed family) gives its saved file back.
  const wanted = familyParts(t, facts);
  const gone = everyPart(t).filter((p) => !wanted.some((w) => w.family === p.family));
  return [...wanted.flatMap((p) => planPersist(p, facts, undefined, rule)), ...gone.flatMap((p) => planUnpersist(p, facts, rule, true))];
}

/**
 * {@link planUnpersist} for every family the rule may have been saved in, in the reverse order of
 * {@link planPersistRule} (the file written first may have created the directory both live in). Families other than
 * the target's own one are touched only where this rule registered a save (a twin that existed), so no file is written
 * where sftp-jail never wrote one.
 */
export function planUnpersistRule(t: Target, facts: HostFacts, rule: string): Plan {
  const own = t.family === "ipv6" ? "ipv6" : t.backend === "nftables" ? t.family : "ipv4";
  return everyPart(t)
    .reverse()
    .flatMap((p) => planUnpersist(p, facts, rule, p.family !== own));
}

function planPersistTo(path: string, t: Target, facts: HostFacts): Plan {
  const tmp = `${path}.sftp-jail.tmp`;
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (t.backend === "nftables") {
    const rs = parseNft(facts.firewall.nft);
    const tables = (rs?.tables ?? []).filter((x) => !isIptablesNftTable(rs!, x));
    const body = tables
      .map((x) => `echo ${quoteArg(`table ${x.family} ${x.name}`)}; echo ${quoteArg(`delete table ${x.family} ${x.name}`)}; ${quote(["nft", "list", "table", x.family, x.name])}`)
      .join("; ");
    const script = [
      `{ echo '#!/usr/sbin/nft -f'; echo '# Written by sftp-jail from the live ruleset; each table is replaced as a whole.'; ${body || "true"}; } > ${quoteArg(tmp)}`,
      quote(["nft", "-c", "-f", tmp]),
      quote(["chmod", "0755", tmp]),
      quote(["mv", "-f", tmp, path]),
    ].join(" && ");
    return [{ description: `save the nftables ruleset to ${path}`, script, effects: { paths: [path, tmp] } }];
  }
  const save = `${iptBin(t, facts)}-save`;
  const script = [quote(["mkdir", "-p", dir]), `${quote([save])} > ${quoteArg(tmp)}`, quote(["chmod", "0640", tmp]), quote(["mv", "-f", tmp, path])].join(" && ");
  return [{ description: `save the ${save} ruleset to ${path}`, script, effects: { paths: [path, tmp] } }];
}

// ---------------------------------------------------------------------------------------------------------------
// IPv6: the half-open door

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
  const t = parseIptablesSave(iptSave(v6, facts));
  if (!t) return null;
  const bin = iptBin(v6, facts);
  for (const r of t.rules.filter((x) => x.chain === target.chain)) {
    const s = iptablesRule(r.args, "ipv6").spec;
    if (opensFor(d, s)) return null;
    if (closesFor(d, s)) return `the ${bin} rule "-A ${target.chain} ${r.args.join(" ")}"`;
  }
  const policy = t.chains.find((c) => c.name === target.chain)?.policy;
  return policy === "DROP" || policy === "REJECT" ? `the ${bin} ${target.chain} policy ${policy}` : null;
}

/** What in the host's native nft input chains (tables ip6 and inet) turns IPv6 clients of `d`'s ports away, or null. */
function nftV6Closer(d: RuleDesired, facts: HostFacts): string | null {
  const rs = parseNft(facts.firewall.nft);
  if (!rs) return null;
  for (const t of rs.tables.filter((x) => (x.family === "ip6" || x.family === "inet") && !isIptablesNftTable(rs, x))) {
    for (const c of rs.chains.filter((x) => x.family === t.family && x.table === t.name && x.hook === "input")) {
      // The first rule that sees IPv6 clients of the port decides; with none, the chain's policy.
      const specs = rs.rules.filter((x) => x.family === t.family && x.table === t.name && x.chain === c.name).map((r) => nftRule(r.expr, t.family));
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
