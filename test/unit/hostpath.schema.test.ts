/**
 * The one host-path type (schema/common.ts hostPath) as every resource sees it: each path field of each resource,
 * crossed with each path trick, must be refused by `check` with that field's property path. The cases are generated
 * (fields × tricks) rather than listed, so a new path field only needs a row in FIELDS to be covered by every trick.
 */
import * as jailedUser from "../../provider/adapters/jailedUser";
import * as chrootDir from "../../provider/adapters/chrootDir";
import * as sshdMatchBlock from "../../provider/adapters/sshdMatchBlock";
import { hostPathProblem } from "../../provider/schema/common";
import { expandKeysFile } from "../../provider/components/sftpJailHost";
import { planBlock } from "../../provider/plan/sshd";
import { debian12 } from "./fixtures";

const KEY1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M alice@laptop";

const connection = { host: "127.0.0.1", port: 1, user: "root", privateKey: "k", dangerouslyTrustAnyHostKey: true, dialErrorLimit: 1 };
type Check = (olds: unknown, news: Record<string, unknown>) => Promise<{ failures?: { property: string; reason: string }[] }>;

const USER = { connection, name: "alice", group: "sftp", home: "/srv/sftp/alice", authorizedKeys: [KEY1] };
const CHROOT = { connection, path: "/srv/sftp/alice", subdirs: [{ path: "upload", owner: "alice", group: "sftp" }] };
const BLOCK = { connection, name: "jail", match: { Group: ["sftp"] }, directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp" } };

/** Every path field: a valid value, how to set it on a valid resource, and the property `check` must name. */
const FIELDS: Array<{ property: string; valid: string; check: Check; with: (v: string) => Record<string, unknown> }> = [
  { property: "home", valid: "/srv/sftp/alice", check: jailedUser.check, with: (v) => ({ ...USER, home: v }) },
  { property: "shell", valid: "/usr/sbin/nologin", check: jailedUser.check, with: (v) => ({ ...USER, shell: v }) },
  { property: "keysDir", valid: "/etc/ssh/sftp-jail/authorized_keys", check: jailedUser.check, with: (v) => ({ ...USER, keysDir: v }) },
  { property: "authorizedKeysFile", valid: "/srv/sftp/alice/.ssh/authorized_keys", check: jailedUser.check, with: (v) => ({ ...USER, authorizedKeysFile: v }) },
  { property: "path", valid: "/srv/sftp/alice", check: chrootDir.check, with: (v) => ({ ...CHROOT, path: v }) },
  { property: "subdirs[0].path", valid: "in/new", check: chrootDir.check, with: (v) => ({ ...CHROOT, subdirs: [{ path: v, owner: "alice", group: "sftp" }] }) },
  { property: "directives.ChrootDirectory", valid: "/srv/sftp/%u", check: sshdMatchBlock.check, with: (v) => ({ ...BLOCK, directives: { ...BLOCK.directives, ChrootDirectory: v } }) },
  { property: "directives.ChrootDirectory", valid: "%h/jail", check: sshdMatchBlock.check, with: (v) => ({ ...BLOCK, directives: { ...BLOCK.directives, ChrootDirectory: v } }) },
  { property: "directives.Banner", valid: "/etc/sftp-jail/banner", check: sshdMatchBlock.check, with: (v) => ({ ...BLOCK, directives: { ...BLOCK.directives, Banner: v } }) },
  { property: "directives.AuthorizedKeysFile", valid: "/etc/ssh/sftp-jail/authorized_keys/%u", check: sshdMatchBlock.check, with: (v) => ({ ...BLOCK, directives: { ...BLOCK.directives, AuthorizedKeysFile: v } }) },
  { property: "directives.AuthorizedKeysFile", valid: ".ssh/authorized_keys", check: sshdMatchBlock.check, with: (v) => ({ ...BLOCK, directives: { ...BLOCK.directives, AuthorizedKeysFile: v } }) },
];

/** Tricks applied to a valid value: each turns it into something that must be refused. */
const TRICKS: Array<[string, (v: string) => string]> = [
  ["dot-dot after the allowed prefix", (v) => `${v}/../shadow`],
  ["dot-dot back to the prefix", (v) => `${v}/../${v.split("/").pop()}`],
  ["a dot component", (v) => `${v}/./x`],
  ["a double slash", (v) => v.replace(/\/([^/]*)$/, "//$1")],
  ["a trailing slash", (v) => `${v}/`],
  ["a newline", (v) => `${v}\nPermitRootLogin yes`],
  ["a zero-width space", (v) => `${v}\u200b`],
  ["a non-ASCII letter (Cyrillic in place of the last Latin one)", (v) => v.replace(/[a-z](?=[^a-z]*$)/, (c) => String.fromCharCode(c.charCodeAt(0) + 0x3df))],
  ["a tab", (v) => `${v}\tx`],
  ["a NUL", (v) => `${v}\u0000`],
  ["a space", (v) => `${v} x`],
  ["a shell substitution", (v) => `${v}$(id)`],
  ["a right-to-left override", (v) => `${v}\u202e`],
];

describe("the one host-path type, for every path field", () => {
  // AuthorizedKeysFile is a space-separated list: there a space separates two paths (each judged on its own).
  const cases = FIELDS.flatMap((f) =>
    TRICKS.filter(([t]) => !(t === "a space" && f.property === "directives.AuthorizedKeysFile")).map(([trick, make]) => ({ ...f, trick, value: make(f.valid) })),
  );

  it("accepts every field's valid value", async () => {
    for (const f of FIELDS) expect({ property: f.property, valid: f.valid, failures: (await f.check({}, f.with(f.valid))).failures ?? [] }).toEqual({ property: f.property, valid: f.valid, failures: [] });
  });

  it.each(cases.map((c) => [c.property, c.valid, c.trick, c] as const))("%s (%s) refuses %s", async (_p, _v, _t, c) => {
    const failures = (await c.check({}, c.with(c.value))).failures ?? [];
    expect(failures.map((x) => x.property)).toContain(c.property);
  });
});

describe("path tricks named in the issue", () => {
  const block = async (directives: Record<string, string>) =>
    Object.fromEntries(((await sshdMatchBlock.check({}, { ...BLOCK, directives: { ...BLOCK.directives, ...directives } })).failures ?? []).map((f) => [f.property, f.reason]));

  it("refuses Banner /etc/sftp-jail/../shadow (leaked /etc/shadow before login) as not normalised", async () => {
    expect(await block({ Banner: "/etc/sftp-jail/../shadow" })).toEqual({ "directives.Banner": 'Banner must be normalised: no "..", ".", "//" or trailing "/"' });
    expect(await block({ Banner: "/etc/ssh/ssh_host_ed25519_key" })).toEqual({ "directives.Banner": expect.stringMatching(/^Banner must be \/etc\/issue/) });
  });

  it("refuses ChrootDirectory / (no confinement), system directories, and %h tricks", async () => {
    expect(await block({ ChrootDirectory: "/" })).toEqual({ "directives.ChrootDirectory": expect.stringMatching(/ChrootDirectory \/ is no confinement at all/) });
    expect(await block({ ChrootDirectory: "/etc/%u" })).toEqual({ "directives.ChrootDirectory": expect.stringMatching(/must not be inside \/etc/) });
    expect(await block({ ChrootDirectory: "%h/../.." })).toEqual({ "directives.ChrootDirectory": expect.stringMatching(/must be normalised/) });
    expect(await block({ ChrootDirectory: "/srv/%h" })).toEqual({ "directives.ChrootDirectory": expect.stringMatching(/%h only at the start/) });
    expect(await block({ ChrootDirectory: "%hx" })).toEqual({ "directives.ChrootDirectory": expect.stringMatching(/%h only at the start/) });
    expect(await block({ AuthorizedKeysFile: ".ssh/authorized_keys %h/../../etc/shadow" })).toEqual({ "directives.AuthorizedKeysFile": expect.stringMatching(/must be normalised/) });
    expect(await block({ ChrootDirectory: "%h", AuthorizedKeysFile: "none", Banner: "none" })).toEqual({});
  });

  it("refuses an authorizedKeysFile pattern of SftpJailHost that escapes once expanded", async () => {
    const file = expandKeysFile("%h/../../../etc/shadow", "alice", "/srv/sftp/alice");
    const f = (await jailedUser.check({}, { ...USER, authorizedKeysFile: file })).failures ?? [];
    expect(f).toEqual([{ property: "authorizedKeysFile", reason: 'authorizedKeysFile must be normalised: no "..", ".", "//" or trailing "/"' }]);
  });

  it("judges normalisation first, as written (never resolves a path before checking it)", () => {
    expect(hostPathProblem("p", "/srv/sftp/../../etc")).toMatch(/normalised/);
    expect(hostPathProblem("p", "srv/sftp")).toMatch(/absolute path/);
    expect(hostPathProblem("p", "/srv/sftp")).toBeUndefined();
    expect(hostPathProblem("p", "/")).toBeUndefined();
  });
});

describe("Banner at apply time", () => {
  const JAIL = {
    name: "jail",
    order: 50,
    match: { Group: ["sftp"] },
    directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp", Banner: "/etc/sftp-jail/banner" },
    subsystemInternalSftp: true,
  };

  it("checks the file on the host (root-owned regular file, no symlink on the way) before any change", () => {
    const steps = planBlock(JAIL, debian12(), { user: "root", auth: ["publickey"] }).steps;
    expect(steps[0].script).toBe("sj_file_ok /etc/sftp-jail/banner");
    expect(steps.slice(1).map((s) => s.description)).toContainEqual(expect.stringMatching(/^write /));
    const none = planBlock({ ...JAIL, directives: { ...JAIL.directives, Banner: "none" } }, debian12(), { user: "root", auth: ["publickey"] }).steps;
    expect(none.some((s) => s.script.includes("sj_file_ok"))).toBe(false);
  });
});
