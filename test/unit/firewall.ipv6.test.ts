/** The half-open IPv6 door (issue 11 item 5): an IPv4-only ACCEPT next to an ip6tables REJECT is told to the user. */
import { HostFacts } from "../../provider/observe/facts";
import { RuleDesired, Target, halfOpenDoor } from "../../provider/plan/firewall";

const v6 = (rules: string[], policy = "ACCEPT") =>
  ({ firewall: { ip6tables: ["*filter", `:INPUT ${policy} [0:0]`, ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...rules, "COMMIT", ""].join("\n") } }) as unknown as HostFacts;
const rule = (over: Partial<RuleDesired> = {}): RuleDesired => ({ name: "ssh", backend: "auto", protocol: "tcp", ports: [22], state: ["NEW"], action: "ACCEPT", position: "beforeReject", ...over });
const ipt: Target = { backend: "iptables", family: "ipv4", table: "filter", chain: "INPUT" };
const REJECT = "-A INPUT -j REJECT --reject-with icmp6-port-unreachable";

describe("halfOpenDoor", () => {
  it("warns when IPv4 is opened and ip6tables rejects the port, naming the rule and the fix", () => {
    const w = halfOpenDoor(rule(), ipt, v6(["-A INPUT -i lo -j ACCEPT", REJECT]));
    expect(w).toMatch(/^half-open door: this rule opens tcp port 22 for IPv4 only, and the ip6tables rule "-A INPUT -j REJECT --reject-with icmp6-port-unreachable" turns IPv6 clients away/);
    expect(w).toMatch(/source "::\/0"/);
    expect(halfOpenDoor(rule({ source: "0.0.0.0/0" }), ipt, v6([REJECT]))).not.toBeNull();
    expect(halfOpenDoor(rule(), ipt, v6(["-A INPUT -p tcp -m tcp --dport 22 -j DROP"]))).not.toBeNull();
    expect(halfOpenDoor(rule(), ipt, v6([], "DROP"))).toMatch(/the ip6tables INPUT policy DROP/);
  });
  it("is quiet when IPv6 is already open for the port, or closed only for other ports or other sources", () => {
    expect(halfOpenDoor(rule(), ipt, v6(["-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT", REJECT]))).toBeNull();
    expect(halfOpenDoor(rule(), ipt, v6(["-A INPUT -p tcp -m tcp --dport 25 -j REJECT"]))).toBeNull();
    expect(halfOpenDoor(rule(), ipt, v6(["-A INPUT -s 2001:db8::/32 -j DROP"]))).toBeNull();
    expect(halfOpenDoor(rule(), ipt, v6([]))).toBeNull();
    expect(halfOpenDoor(rule(), ipt, { firewall: { ip6tables: null } } as unknown as HostFacts)).toBeNull();
  });
  it("is quiet when IPv6 is not meant or is covered: an IPv4 source, a DROP rule, an IPv6 or inet target", () => {
    const facts = v6([REJECT]);
    expect(halfOpenDoor(rule({ source: "198.51.100.0/24" }), ipt, facts)).toBeNull();
    expect(halfOpenDoor(rule({ action: "DROP" }), ipt, facts)).toBeNull();
    expect(halfOpenDoor(rule({ source: "::/0" }), { ...ipt, family: "ipv6" }, facts)).toBeNull();
    expect(halfOpenDoor(rule(), { backend: "nftables", family: "any", table: "inet filter", chain: "input" }, facts)).toBeNull();
  });
});
