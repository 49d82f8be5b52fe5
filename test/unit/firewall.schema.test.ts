/**
 * FirewallRule's check: every input validated by the zod schema, every failure reported at once with its field and fix.
 */
import { check } from "../../provider/adapters/firewallRule";

const connection = { host: "127.0.0.1", port: 22, user: "root", privateKey: "k", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAuYxh83aS+MM3H0a6ITRgKqlpiRDjej4c/eMwhi6kas" };

async function failures(news: Record<string, unknown>): Promise<Record<string, string>> {
  const r = await check({}, { connection, name: "sftp", port: 2222, ...news });
  return Object.fromEntries((r.failures ?? []).map((f) => [f.property, f.reason]));
}

describe("FirewallRule check", () => {
  it("applies defaults and canonicalises the source", async () => {
    const r = await check({}, { connection, name: "sftp", port: 2222, source: "2001:DB8::0/32", inPosition: true });
    expect(r.failures).toEqual([]);
    expect(r.inputs).toMatchObject({ backend: "auto", protocol: "tcp", action: "ACCEPT", position: "beforeReject", persist: false, source: "2001:db8::/32", inPosition: true, matchesSpec: true });
  });

  it("names each bad field and the fix, all at once", async () => {
    const f = await failures({ name: 'x"; rm -rf /', source: "10.0.0.1/8", port: 0, state: ["new"], action: "LOG", protocol: "icmp" });
    expect(f.name).toMatch(/no spaces, quotes, colons or newlines/);
    expect(f.source).toMatch(/host bits set; the network is 10\.0\.0\.0\/8/);
    expect(f.port).toMatch(/between 1 and 65535/);
    expect(f["state[0]"]).toMatch(/NEW, RELATED/);
    expect(f.action).toMatch(/ACCEPT/);
    expect(f.protocol).toMatch(/tcp/);
  });

  it("refuses a newline in the name (the rule's comment)", async () => {
    expect((await failures({ name: "a\nb" })).name).toBeDefined();
  });

  it("requires exactly one of port and ports, and table only for nftables", async () => {
    expect((await failures({ ports: [1, 2] })).port).toMatch(/exactly one of port or ports/);
    expect((await failures({ port: undefined })).port).toMatch(/exactly one of port or ports/);
    expect((await failures({ port: undefined, ports: [80, 80] })).ports).toMatch(/repeat/);
    expect((await failures({ backend: "iptables", table: "inet filter" })).table).toMatch(/nftables only/);
    expect((await failures({ backend: "nftables", table: "inet filter; flush ruleset" })).table).toMatch(/<family> <name>/);
    expect((await failures({ chain: "-F" })).chain).toMatch(/chain must be/);
  });
});
