/**
 * The one address and CIDR parser: FirewallRule sources (strict, canonical, as iptables-save and nft print them) and
 * SshdMatchBlock address patterns (as OpenSSH accepts them) are read by the same code.
 */
import { isIPv6 } from "net";

/** The four bytes of a dotted-quad IPv4 address (no leading zeros), or null. */
function v4Bytes(s: string): number[] | null {
  const m = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.exec(s);
  return m ? m.slice(1).map(Number) : null;
}

/** The eight 16-bit groups of an IPv6 address (embedded IPv4 tail allowed, no zone), or null. */
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

/** A literal address: its family and its words (bytes for IPv4, 16-bit groups for IPv6). */
export interface Address {
  family: "ipv4" | "ipv6";
  words: number[];
}

/** Parses one literal IPv4 or IPv6 address (no prefix, no zone), or null. */
export function parseAddress(s: string): Address | null {
  const b4 = v4Bytes(s);
  if (b4) return { family: "ipv4", words: b4 };
  const g6 = v6Groups(s);
  return g6 ? { family: "ipv6", words: g6 } : null;
}

/** Bits in an address of the family. */
export const addressBits = (family: Address["family"]): number => (family === "ipv4" ? 32 : 128);

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
  const a = parseAddress(addr);
  if (!a) throw new Error(`"${addr}" is not an IPv4 or IPv6 address (write e.g. 203.0.113.0/24 or 2001:db8::/32)`);
  const bits = addressBits(a.family);
  if (len !== undefined && !/^(0|[1-9]\d{0,2})$/.test(len)) throw new Error(`prefix length "${len}" must be a number 0–${bits}`);
  const prefix = len === undefined ? bits : Number(len);
  if (prefix > bits) throw new Error(`prefix length /${prefix} is longer than ${bits} bits`);
  const v4 = a.family === "ipv4";
  const width = v4 ? 8 : 16;
  const masked = a.words.map((w, i) => {
    const keep = Math.max(0, Math.min(width, prefix - i * width));
    return keep === 0 ? 0 : (w >> (width - keep)) << (width - keep);
  });
  if (masked.some((w, i) => w !== a.words[i])) {
    const net = v4 ? masked.join(".") : v6Text(masked);
    throw new Error(`"${input}" has host bits set; the network is ${net}/${prefix}`);
  }
  const text = (v4 ? a.words.join(".") : v6Text(a.words)) + "/" + prefix;
  return { family: a.family, text, any: prefix === 0 };
}

/**
 * Why `p` (an address or `address/prefix`, no wildcards) is not one OpenSSH's Match Address/LocalAddress can use, or
 * undefined. OpenSSH takes host bits and a zero-padded prefix, so only the address and the prefix's range are checked;
 * `raw` is the pattern as written, for the message.
 */
export function sshAddressProblem(p: string, raw: string): string | undefined {
  const [addr, prefix, extra] = p.split("/");
  const a = parseAddress(addr);
  if (!a || extra !== undefined) return `"${raw}" is not an IP address or CIDR prefix`;
  const bits = addressBits(a.family);
  if (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits)) return `"${raw}" has a prefix length above ${bits}`;
  return undefined;
}
