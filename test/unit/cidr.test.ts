/** The one address/CIDR parser (util/cidr.ts): FirewallRule sources and SshdMatchBlock addresses read by the same code. */
import { parseAddress, parseCidr, sshAddressProblem } from "../../provider/util/cidr";
import { addressProblem } from "../../provider/schema/sshdMatchBlock";

describe("parseAddress", () => {
  it("reads dotted quads without leading zeros and IPv6 (with an embedded IPv4 tail), nothing else", () => {
    expect(parseAddress("192.0.2.1")).toEqual({ family: "ipv4", words: [192, 0, 2, 1] });
    expect(parseAddress("::ffff:192.0.2.1")).toEqual({ family: "ipv6", words: [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201] });
    expect(parseAddress("2001:DB8::1")?.words).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    for (const bad of ["01.2.3.4", "256.1.1.1", "1.2.3", "fe80::1%eth0", "1::2::3", "host", ""]) expect(parseAddress(bad)).toBeNull();
  });
});

describe("parseCidr (FirewallRule: strict, canonical)", () => {
  it("refuses host bits, since the kernel would clear them and the rule would never match its spec", () => {
    expect(() => parseCidr("198.51.100.1/24")).toThrow('"198.51.100.1/24" has host bits set; the network is 198.51.100.0/24');
    expect(() => parseCidr("2001:db8::1/32")).toThrow('"2001:db8::1/32" has host bits set; the network is 2001:db8::/32');
    expect(() => parseCidr("10.0.0.0/08")).toThrow('prefix length "08" must be a number 0–32');
  });
});

describe("SshdMatchBlock addresses (as OpenSSH takes them)", () => {
  it("accepts host bits and zero-padded prefixes, refuses what is not an address or too long a prefix", () => {
    expect(sshAddressProblem("198.51.100.1/24", "198.51.100.1/24")).toBeUndefined();
    expect(addressProblem("!10.0.0.0/08")).toBeUndefined();
    expect(addressProblem("10.0.0.*")).toBeUndefined(); // wildcards are matched as text
    expect(addressProblem("10.0.0.0/33")).toBe('"10.0.0.0/33" has a prefix length above 32');
    expect(addressProblem("2001:db8::/129")).toBe('"2001:db8::/129" has a prefix length above 128');
    expect(addressProblem("300.1.1.1")).toBe('"300.1.1.1" is not an IP address or CIDR prefix');
    expect(addressProblem("10.0.0.0/8/8")).toBe('"10.0.0.0/8/8" is not an IP address or CIDR prefix');
  });
});
