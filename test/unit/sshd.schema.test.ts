import { check } from "../../provider/adapters/sshdMatchBlock";

/** A valid connection that goes nowhere: check dials it only for valid inputs, and port 1 refuses at once. */
const connection = { host: "127.0.0.1", port: 1, privateKey: "k", dangerouslyTrustAnyHostKey: true, dialErrorLimit: 1 };
const JAIL = {
  connection,
  name: "jail",
  match: { Group: ["sftp", "!admins"] },
  directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp", X11Forwarding: false, AllowTcpForwarding: "No" },
};

async function failures(news: Record<string, unknown>): Promise<Record<string, string>> {
  const r = await check({}, news);
  return Object.fromEntries((r.failures ?? []).map((f) => [f.property, f.reason]));
}

describe("SshdMatchBlock inputs", () => {
  it("accepts a jail block, normalising yes/no values and applying defaults", async () => {
    const r = await check({}, JAIL);
    expect(r.failures).toEqual([]);
    expect(r.inputs).toMatchObject({
      order: 50,
      subsystemInternalSftp: true,
      directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp", X11Forwarding: "no", AllowTcpForwarding: "no" },
    });
  });

  it("keeps the stack identity the resource class sets, and refuses one that is not <project>/<stack> (it is written into the block file)", async () => {
    const ok = await check({}, { ...JAIL, __owner: "sftp-jail/site-a" });
    expect(ok.failures).toEqual([]);
    expect(ok.inputs.__owner).toBe("sftp-jail/site-a");
    for (const bad of ["a/b\nMatch all", "only-project", "a/b/c", "a/b c", 42]) {
      expect((await failures({ ...JAIL, __owner: bad })).__owner).toMatch(/must be <project>\/<stack>/);
    }
  });

  it("keeps a component's look hint (adapters/base.ts LOOK_KEY) and refuses one that is not host paths (it reaches a host command) or names a file that is not a key file (read as root)", async () => {
    const ok = await check({}, { ...JAIL, __look: { paths: ["/srv/sftp/a"], files: ["/etc/ssh/k/a"] } });
    expect(ok.failures).toEqual([]);
    expect(ok.inputs.__look).toEqual({ paths: ["/srv/sftp/a"], files: ["/etc/ssh/k/a"] });
    for (const bad of [{ paths: ["relative"] }, { paths: ["/srv/$(reboot)"] }, { files: ["/srv/../etc/shadow"] }, { files: ["/etc/shadow"] }, { files: ["/root/.ssh/id_ed25519"] }, { files: ["/etc/ssh/ssh_host_ed25519_key"] }, { paths: "/srv" }, { other: [] }, ["/srv"], "x", { paths: [1] }]) {
      expect((await failures({ ...JAIL, __look: bad })).__look).toMatch(/^the look hint .*set by sftp-jail's components/);
    }
  });

  it("refuses keywords it does not allow inside Match, listing the allowed ones", async () => {
    const f = await failures({ ...JAIL, directives: { Subsystem: "sftp internal-sftp", chrootdirectory: "%h" } });
    expect(f["directives.Subsystem"]).toMatch(/not a keyword sftp-jail allows inside a Match block; allowed: ChrootDirectory, ForceCommand, .*Banner/);
    expect(f["directives.chrootdirectory"]).toBe('"chrootdirectory" must be spelled ChrootDirectory');
  });

  it("refuses values a config line cannot carry safely, every failure at once", async () => {
    const f = await failures({
      ...JAIL,
      directives: {
        ForceCommand: "internal-sftp; rm -rf /",
        Banner: "/etc/issue\nPermitRootLogin yes",
        ChrootDirectory: "/srv/#x",
        AuthorizedKeysFile: "%h/.ssh/keys %x",
        X11Forwarding: "maybe",
        PermitTunnel: '"yes"',
      },
    });
    expect(Object.keys(f).sort()).toEqual([
      "directives.AuthorizedKeysFile",
      "directives.Banner",
      "directives.ChrootDirectory",
      "directives.ForceCommand",
      "directives.PermitTunnel",
      "directives.X11Forwarding",
    ]);
    expect(f["directives.ForceCommand"]).toMatch(/no shell metacharacters/);
    expect(f["directives.Banner"]).toMatch(/newlines, "#", quotes/);
    expect(f["directives.X11Forwarding"]).toBe("X11Forwarding must be one of yes, no");
  });

  it("validates criteria: tokens, negation, at least one positive pattern, known criteria", async () => {
    expect(await failures({ ...JAIL, match: { Group: ["!admins"] } })).toEqual({
      "match.Group": expect.stringMatching(/only negated patterns, which OpenSSH never matches/),
    });
    expect(Object.keys(await failures({ ...JAIL, match: { User: ["a b"], Address: ["10.0.0.0/8", "x;y"] } }))).toEqual([
      "match.User[0]",
      "match.Address[1]",
    ]);
    expect(await failures({ ...JAIL, match: {} })).toEqual({ match: expect.stringMatching(/at least one criterion/) });
    expect(await failures({ ...JAIL, match: { all: true, User: ["x"] } })).toEqual({ match: "match.all cannot be combined with other criteria" });
    const unknown = (await check({}, { ...JAIL, match: { Port: ["22"] } })).failures ?? [];
    expect(unknown.map((f) => `${f.property}: ${f.reason}`).join("\n")).toMatch(/match: unknown Match criterion; allowed: all, User, Group/);
    expect(await failures({ ...JAIL, match: { LocalPort: 2222, Address: ["192.0.2.*", "!192.0.2.1"] } })).toEqual({});
  });

  it("refuses names that cannot be part of a file name, and orders outside 0-99", async () => {
    const f = await failures({ ...JAIL, name: "../etc", order: 100 });
    expect(f.name).toMatch(/letters, digits, _ or -/);
    expect(f.order).toBe("order must be between 0 and 99");
  });
});
