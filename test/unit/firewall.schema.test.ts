/**
 * FirewallRule's check: every input validated by the zod schema, every failure reported at once with its field and fix.
 */
import { check, diff } from "../../provider/adapters/firewallRule";

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

  it("sets the per-family drift marker from the inputs alone: no source is both families", async () => {
    const families = async (news: Record<string, unknown>) => (await check({}, { connection, name: "sftp", port: 2222, ...news })).inputs.families;
    expect(await families({})).toEqual({ ipv4: "ok", ipv6: "ok" });
    expect(await families({ families: { ipv6: "missing" } })).toEqual({ ipv4: "ok", ipv6: "ok" }); // not an input
    expect(await families({ source: "0.0.0.0/0" })).toEqual({ ipv4: "ok" });
    expect(await families({ source: "2001:db8::/32" })).toEqual({ ipv6: "ok" });
    expect(await families({ backend: "nftables", table: "ip6 filter" })).toEqual({ ipv6: "ok" });
  });
});

describe("FirewallRule diff", () => {
  const olds = {
    connection, name: "sftp", backend: "auto", protocol: "tcp", port: 2222, state: ["NEW"], action: "ACCEPT", position: "beforeReject", persist: false,
    resolvedBackend: "iptables", resolvedTable: "filter", resolvedChain: "INPUT", family: "any", comment: "sftp-jail:sftp", rule: "", inPosition: true, matchesSpec: true,
    families: { ipv4: "ok", ipv6: "ok" },
  };
  const news = { connection, name: "sftp", backend: "auto", protocol: "tcp", port: 2222, state: ["NEW"], action: "ACCEPT", position: "beforeReject", persist: false, inPosition: true, matchesSpec: true, families: { ipv4: "ok", ipv6: "ok" } };

  it("is no change when every family is ok, an update when refresh found one family's rule missing", async () => {
    expect((await diff("firewall/sftp", olds as never, news)).changes).toBe(false);
    expect(await diff("firewall/sftp", { ...olds, families: { ipv4: "ok", ipv6: "missing" } } as never, news)).toMatchObject({ changes: true, replaces: [] });
  });

  it("converges in place (no replace) when the source changes family, and updates state made before rules had twins", async () => {
    expect(await diff("firewall/sftp", olds as never, { ...news, source: "::/0" })).toMatchObject({ changes: true, replaces: [] });
    const { families: _, ...old } = olds;
    expect(await diff("firewall/sftp", { ...old, family: "ipv4" } as never, news)).toMatchObject({ changes: true, replaces: [] });
  });
});
