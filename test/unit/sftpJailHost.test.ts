/**
 * The component's composition, with Pulumi's mocks (no engine, no host): which resources it declares, in which
 * dependency order, and the cross-resource rules it enforces at preview.
 */
import * as pulumi from "@pulumi/pulumi";

const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      registered.push({ type: args.type, name: args.name, inputs: args.inputs });
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  "project",
  "stack",
  true,
);

// The installed package (scripts/build.js puts it in node_modules, as users get it): Pulumi serializes dynamic
// providers even under mocks, and only code under node_modules is captured by reference.
import { SftpJailHost } from "sftp-jail";

const connection = { host: "127.0.0.1", privateKeyFile: "/root/.ssh/id_ed25519", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M" };
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M a@b";

/** Resolves once the mocks have registered the component and every child it exposes (each URN is known only then). */
function registeredAll(host: SftpJailHost): Promise<unknown> {
  const children: pulumi.Resource[] = [host, host.group, host.matchBlock, ...Object.values(host.users)];
  if (host.firewallRule) children.push(host.firewallRule);
  return Promise.all(children.map((r) => new Promise((resolve) => r.urn.apply(resolve))));
}

describe("SftpJailHost", () => {
  it("declares group, users (each owning its jail), the firewall opening and the Match block: one resource per user", async () => {
    registered.length = 0;
    const host = new SftpJailHost("h1", {
      connection,
      group: { name: "sftp", gid: 2200 },
      users: [{ name: "alice", authorizedKeys: [KEY] }, { name: "bob", authorizedKeys: [KEY], writableDirs: ["in", "out"] }],
      firewall: { port: 2222 },
    });
    await registeredAll(host);
    const byName = Object.fromEntries(registered.map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(
      ["h1", "h1-alice", "h1-bob", "h1-firewall", "h1-group", "h1-match"].sort(),
    );
    expect(byName["h1-match"].inputs.match).toEqual({ Group: ["sftp"] });
    expect(byName["h1-match"].inputs.directives).toMatchObject({ ChrootDirectory: "%h", ForceCommand: "internal-sftp", AuthorizedKeysFile: "/etc/ssh/sftp-jail/authorized_keys/%u" });
    expect(byName["h1-bob"].inputs.home).toBe("/srv/sftp/bob");
    expect(byName["h1-bob"].inputs.chroot).toEqual({
      subdirs: [
        { path: "in", owner: "bob", group: "sftp", mode: "0755" },
        { path: "out", owner: "bob", group: "sftp", mode: "0755" },
      ],
    });
    expect((byName["h1-alice"].inputs.chroot as { subdirs: unknown[] }).subdirs).toEqual([{ path: "upload", owner: "alice", group: "sftp", mode: "0755" }]);
    expect(byName["h1-firewall"].inputs).toMatchObject({ port: 2222, action: "ACCEPT", position: "beforeReject" });
  });

  it("hints its group's check at every path and file its users and chroots will look at (one look for the host)", async () => {
    registered.length = 0;
    const host = new SftpJailHost("h9", {
      connection,
      group: { name: "sftp" },
      users: [{ name: "alice", authorizedKeys: [KEY] }, { name: "bob", authorizedKeys: [KEY], writableDirs: ["in"], chroot: { path: "/data/bob" } }],
    });
    await registeredAll(host);
    const group = registered.find((r) => r.name === "h9-group")!;
    expect(group.inputs.__look).toEqual({
      paths: ["/data/bob", "/data/bob/in", "/etc/ssh/sftp-jail/authorized_keys", "/srv/sftp/alice", "/srv/sftp/alice/upload"],
      files: ["/etc/ssh/sftp-jail/authorized_keys/alice", "/etc/ssh/sftp-jail/authorized_keys/bob"],
    });
    // Only the group carries it.
    expect(registered.filter((r) => r.inputs.__look !== undefined).map((r) => r.name)).toEqual(["h9-group"]);
  });

  it("never hints a file that is not a key file (the JailedUser refuses it, naming the field; the group's look must not read it first)", async () => {
    registered.length = 0;
    const host = new SftpJailHost("h10", { connection, group: { name: "sftp" }, authorizedKeysFile: "/etc/shadow", users: [{ name: "alice", authorizedKeys: [KEY] }] });
    await registeredAll(host);
    const look = registered.find((r) => r.name === "h10-group")!.inputs.__look as { files: string[] };
    expect(look.files).toEqual([]);
    expect(registered.find((r) => r.name === "h10-alice")!.inputs.authorizedKeysFile).toBe("/etc/shadow");
  });

  it("opens port 22 unless the firewall names port or ports (never both)", async () => {
    const cases: Array<[string, { ports?: number[] }, Record<string, unknown>]> = [
      ["h3", {}, { port: 22 }],
      ["h4", { ports: [2222, 2223] }, { ports: [2222, 2223] }],
    ];
    for (const [name, firewall, want] of cases) {
      registered.length = 0;
      const host = new SftpJailHost(name, { connection, group: { name: "sftp" }, users: [{ name: "alice", authorizedKeys: [KEY] }], firewall });
      await registeredAll(host);
      const rule = registered.find((r) => r.name === `${name}-firewall`)!.inputs;
      expect(rule).toMatchObject(want);
      expect("ports" in want ? rule.port : rule.ports).toBeUndefined();
    }
  });

  it("refuses two users with the same name or uid, at preview", () => {
    expect(
      () =>
        new SftpJailHost("h2", {
          connection,
          group: { name: "sftp" },
          users: [{ name: "alice", uid: 3001, authorizedKeys: [KEY] }, { name: "bob", uid: 3001, authorizedKeys: [KEY] }],
        }),
    ).toThrow(/users lists uid 3001 twice \(alice and bob\)/);
  });

  it("refuses a misspelt field, of a user or of its own, naming it and the known one (it would be dropped without a word)", () => {
    const host = (args: object) => () => new SftpJailHost("h12", { connection, group: { name: "sftp" }, users: [{ name: "alice", authorizedKeys: [KEY] }], ...args } as never);
    expect(host({ users: [{ name: "alice", authorizedKeys: [KEY], writeableDirs: ["in"] }] })).toThrow(
      /SftpJailHost "h12": users\[0\] \(alice\) has an unknown field "writeableDirs" \(did you mean "writableDirs"\?\); known fields: name, uid, /,
    );
    expect(host({ chrootbase: "/srv/x" })).toThrow(/SftpJailHost "h12": has an unknown field "chrootbase" \(did you mean "chrootBase"\?\)/);
    expect(host({ onDelete: "retain" })).not.toThrow();
  });

  it("refuses a user's jail inside another user's jail, at preview (destroying the outer one would take the inner one's files)", () => {
    expect(
      () =>
        new SftpJailHost("h11", {
          connection,
          group: { name: "sftp" },
          users: [{ name: "alice", authorizedKeys: [KEY] }, { name: "bob", authorizedKeys: [KEY], chroot: { path: "/srv/sftp/alice/bob" } }],
        }),
    ).toThrow(/bob's jail \/srv\/sftp\/alice\/bob is inside alice's jail \/srv\/sftp\/alice/);
  });
});
