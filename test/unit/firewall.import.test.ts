/**
 * `pulumi import` of a hand-made FirewallRule: the ID parser (every value through the resource's schema) and the
 * lookup of the one rule it names, on firewall facts captured from sandbox hosts (test/unit/fixtures/firewall-*.txt).
 */
import * as fs from "fs";
import * as path from "path";
import { HostFacts, firewall } from "../../provider/observe/facts";
import { FirewallImportId, importedRule, parseFirewallId } from "../../provider/plugin/firewallImport";
import { PlanError } from "../../provider/plan/types";
import { debian12 } from "./fixtures";

function withFirewall(name: string, edit: (raw: string) => string = (s) => s): HostFacts {
  const raw = fs.readFileSync(path.join(__dirname, "fixtures", `firewall-${name}.txt`), "utf8");
  return { ...debian12(), firewall: firewall.parse(edit(raw)) };
}
const parsed = (id: string): FirewallImportId => {
  const p = parseFirewallId(id);
  if (typeof p === "string") throw new Error(p);
  return p;
};
const refusal = (f: () => unknown): PlanError => {
  try {
    f();
  } catch (e) {
    if (e instanceof PlanError) return e;
    throw e;
  }
  throw new Error("not refused");
};

describe("parseFirewallId", () => {
  it("reads the program's field names, fills the schema's defaults, and lists into ports and state", () => {
    expect(parsed("backend=iptables;port=2222;source=10.9.0.0/16")).toEqual({
      backend: "iptables",
      fields: { backend: "iptables", protocol: "tcp", port: 2222, source: "10.9.0.0/16", action: "ACCEPT" },
      sourceGiven: true,
    });
    expect(parsed(" backend=nftables ; table=inet filter;chain=input;port=22,2222;state=NEW,ESTABLISHED;action=DROP;protocol=udp;name=ssh-in").fields).toEqual({
      backend: "nftables",
      table: "inet filter",
      chain: "input",
      protocol: "udp",
      ports: [22, 2222],
      state: ["NEW", "ESTABLISHED"],
      action: "DROP",
      name: "ssh-in",
    });
    // The source is canonical, as the schema makes it (a bare address is a /32).
    expect(parsed("backend=iptables-legacy;port=22;source=203.0.113.7").fields.source).toBe("203.0.113.7/32");
    expect(parsed("backend=iptables;port=22").sourceGiven).toBe(false);
  });

  it.each([
    ["", /empty/],
    ["port=22", /backend is required/],
    ["backend=auto;port=22", /must name where the rule is/],
    ["backend=iptables", /port is required/],
    ["backend=iptables;port=22;port=23", /given twice/],
    ["backend=iptables;port=22;iface=eth0", /unknown key "iface"/],
    ["backend=iptables;port", /not <key>=<value>/],
    ["backend=iptables;port=", /has no value/],
    ["backend=ipfw;port=22", /backend must be/],
    ["backend=iptables;port=70000", /port/],
    ["backend=iptables;port=22x", /port/],
    ["backend=iptables;port=22;source=10.9.0.1/16", /source/],
    ["backend=iptables;port=22;source=$(reboot)", /source/],
    ["backend=iptables;port=22;chain=INPUT;x", /not <key>=<value>/],
    ["backend=iptables;port=22;chain=IN PUT", /chain must be/],
    ["backend=iptables;port=22;table=inet filter", /table applies to nftables only/],
    ["backend=nftables;port=22;table=inet filter; drop", /not <key>=<value>/],
    ["backend=iptables;port=22;state=new", /state entries/],
    ["backend=iptables;port=22;action=LOG", /action must be/],
    ["backend=iptables;port=22;name=a b", /name/],
    ["backend=iptables;port=22,22", /must not repeat/],
  ])("refuses %j", (id, why) => {
    const p = parseFirewallId(id);
    expect(typeof p).toBe("string");
    expect(p).toMatch(why);
  });
});

describe("importedRule", () => {
  it("iptables-nft: a hand-made IPv4-only rule (no ip6tables twin) is read as source 0.0.0.0/0, before the REJECT", () => {
    const f = importedRule(parsed("backend=iptables;port=22"), withFirewall("iptables-nft"), "ssh");
    expect(f).toEqual({ name: "ssh", backend: "iptables", protocol: "tcp", port: 22, source: "0.0.0.0/0", action: "ACCEPT", position: "beforeReject", persist: false });
  });

  it("iptables: a rule and its ip6tables twin are one rule without source", () => {
    const twin = (raw: string) => raw.replace("--ip6tables\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n", (m) => m + "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n");
    const facts = withFirewall("iptables-nft", twin);
    const f = importedRule(parsed("backend=iptables;port=22"), facts, "ssh");
    expect(f.source).toBeUndefined();
    expect(f.position).toBe("beforeReject");
  });

  it("nftables: the inet rule, top of the chain (beforeReject holds too, and is preferred)", () => {
    const f = importedRule(parsed("backend=nftables;port=22"), withFirewall("nftables"), "ssh");
    expect(f).toMatchObject({ backend: "nftables", port: 22, position: "beforeReject" });
    expect(f.source).toBeUndefined();
  });

  it("takes the name from the ID over the resource name, and refuses a resource name that is no rule name", () => {
    expect(importedRule(parsed("backend=iptables;port=22;name=ssh-in"), withFirewall("iptables-nft"), "x").name).toBe("ssh-in");
    expect(refusal(() => importedRule(parsed("backend=iptables;port=22"), withFirewall("iptables-nft"), "my rule")).fix).toMatch(/name=/);
  });

  it("refuses an ID that matches no rule, naming the rules there for the port", () => {
    const e = refusal(() => importedRule(parsed("backend=iptables;port=2222;source=10.9.0.0/16"), withFirewall("iptables-nft"), "r"));
    expect(e.what).toMatch(/no rule "ACCEPT tcp port 2222 from 10.9.0.0\/16" in iptables filter INPUT/);
    expect(e.what).toMatch(/comment sftp-jail:partner-a/);
    // A rule with a match sftp-jail cannot express is no match.
    const iface = (raw: string) => raw.replace("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", "-A INPUT -i eth0 -p tcp -m tcp --dport 22 -j ACCEPT");
    expect(refusal(() => importedRule(parsed("backend=iptables;port=22"), withFirewall("iptables-nft", iface), "r")).what).toMatch(/plus -i eth0/);
  });

  it("refuses an ID that matches more than one rule", () => {
    const dup = (raw: string) => raw.replace("-A INPUT -p icmp -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT");
    expect(refusal(() => importedRule(parsed("backend=iptables;port=22"), withFirewall("iptables-nft", dup), "r")).what).toMatch(/2 identical rules/);
  });

  it("refuses sftp-jail's own rule (declare it: create takes it back)", () => {
    const e = refusal(() => importedRule(parsed("backend=iptables;port=2222,2223;source=198.51.100.0/24;state=NEW"), withFirewall("iptables-nft"), "r"));
    expect(e.what).toMatch(/sftp-jail:partner-a/);
    expect(e.fix).toMatch(/name "partner-a"/);
  });

  it("picks top or bottom when beforeReject does not hold, and refuses a place no position describes", () => {
    const after = (raw: string) => raw.replace("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", "").replace("-A INPUT -j REJECT --reject-with icmp-port-unreachable\n", "-A INPUT -j REJECT --reject-with icmp-port-unreachable\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n");
    expect(importedRule(parsed("backend=iptables;port=22"), withFirewall("iptables-nft", after), "r").position).toBe("bottom");
    const middle = (raw: string) => after(raw).replace("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n");
    expect(refusal(() => importedRule(parsed("backend=iptables;port=22"), withFirewall("iptables-nft", middle), "r")).what).toMatch(/no position describes/);
  });

  it("refuses an nftables ID whose chain does not hold the rule", () => {
    expect(refusal(() => importedRule(parsed("backend=nftables;port=22;chain=forward"), withFirewall("nftables"), "r")).what).toMatch(/no rule .* in nftables inet filter forward/);
  });
});
