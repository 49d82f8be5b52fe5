/**
 * The operator's envelope, judged on declared effects (pure): every planner's steps, for the operators the sandbox
 * has (root; opsudo with password sudo), plus the facts' parsers, privileged groups, shells and the account guard.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HostFacts, OperatorFacts, operator, parseSudoersGroups, realpathsFact } from "../../provider/observe/facts";
import { quoteArg } from "../../provider/util/shell";
import { accountGuard, changesExistingAccounts } from "../../provider/plan/accounts";
import { planChroot, planChrootDelete } from "../../provider/plan/chrootDir";
import { assumeExisting, envelopeOf, envelopeProblem, privilegedGroup } from "../../provider/plan/envelope";
import { planUser, planUserDelete } from "../../provider/plan/jailedUser";
import { planGroupCreate, planGroupDelete, planGroupUpdate } from "../../provider/plan/sftpGroup";
import { Plan, PlanError, Step } from "../../provider/plan/types";
import { parseSnapshot } from "../../provider/observe/snapshot";
import { captured, debian12 } from "./fixtures";

const OPSUDO: OperatorFacts = {
  user: "opsudo", uid: 1001, gid: 1001, gids: [1001, 27], home: "/home/opsudo", shell: "/bin/bash", via: "sudo", runAs: "root",
  sudoNopasswd: false, keyFiles: ["/home/opsudo/.ssh/authorized_keys", "/home/opsudo/.ssh/authorized_keys2"],
};
const ROOT: OperatorFacts = { ...OPSUDO, user: "root", uid: 0, gid: 0, gids: [0], home: "/root", via: "root", sudoNopasswd: null, keyFiles: ["/root/.ssh/authorized_keys"] };
const REALPATHS = { "/usr/sbin/nologin": "/usr/sbin/nologin", "/sbin/nologin": "/usr/sbin/nologin", "/bin/false": "/usr/bin/false", "/usr/bin/false": "/usr/bin/false", "/bin/bash": "/usr/bin/bash", "/tmp/nologin": "/usr/bin/bash" };

/** Debian 12 facts with the sandbox's opsudo account and sudoers, and `op` logged in. */
function host(op: OperatorFacts): HostFacts {
  const f = debian12({
    users: [{ name: "opsudo", uid: 1001, gid: 1001, home: "/home/opsudo", shell: "/bin/bash" }],
    groups: [{ name: "opsudo", gid: 1001, members: [] }, { name: "sftponly", gid: 2001, members: [] }, { name: "ops", gid: 2002, members: [] }],
  });
  f.groups = f.groups.map((g) => (g.name === "sudo" ? { ...g, members: [...g.members, "opsudo"] } : g));
  return { ...f, operator: op, sudoers: { files: ["/etc/sudoers", "/etc/sudoers.d/ops"], groups: ["ops", "sudo"], gids: [] }, realpaths: REALPATHS };
}

const user = { name: "alice", group: "sftponly", extraGroups: [] as string[], home: "/srv/sftp/alice", authorizedKeys: [], keysDir: "/etc/ssh/sftp-jail/authorized_keys", keyOnly: true };
const chroot = (path: string, fixAncestors = false) => ({ path, group: "root", mode: "0755", fixAncestors, subdirs: [] });
const refused = (plan: Plan, f: HostFacts) => envelopeProblem(plan, f)?.what;
const planOf = (fn: () => Plan) => fn();

describe("operator envelope", () => {
  it.each([
    ["JailedUser named after the sudo operator, its home kept", OPSUDO, () => planUser({ ...user, name: "opsudo", group: "users", home: "/home/opsudo" }, host(OPSUDO)).steps, /would change the account opsudo, and opsudo, the account sftp-jail logs in as \(becoming root through sudo\)/],
    ["JailedUser named after the sudo operator, with a new home", OPSUDO, () => planUser({ ...user, name: "opsudo", group: "users", home: "/srv/sftp/opsudo" }, host(OPSUDO)).steps, /set home of opsudo.*would change the account opsudo/],
    ["JailedUser joining the operator's primary group", OPSUDO, () => planUser({ ...user, extraGroups: ["opsudo"] }, host(OPSUDO)).steps, /add a member to the group opsudo/],
    ["SftpGroup renumbering the operator's group", OPSUDO, () => planGroupUpdate({ name: "opsudo", gid: 4242, system: false }, host(OPSUDO)), /would change the group opsudo, which opsudo/],
    ["SftpGroup deleting the operator's group", OPSUDO, () => planGroupDelete("opsudo", { ...host(OPSUDO), users: host(OPSUDO).users.filter((u) => u.name !== "opsudo") }), /delete group opsudo.*would change the group opsudo/],
    ["a step that only makes a directory exist (effects.dirs), on the operator's home", OPSUDO, () => [{ description: "mkdir", script: "true", effects: { dirs: ["/home/opsudo"] } }], /would change \/home\/opsudo, the home of opsudo/],
    ["ChrootDir on the operator's home", OPSUDO, () => planChroot(chroot("/home/opsudo", true), withPaths(host(OPSUDO))).steps, /would change \/home\/opsudo, the home of opsudo/],
    ["ChrootDir on the operator's key directory", OPSUDO, () => planChroot(chroot("/home/opsudo/.ssh", true), withPaths(host(OPSUDO))).steps, /\/home\/opsudo.*(the home of opsudo|key file sshd reads)/],
    ["ChrootDir under the operator's home, fixing its owner", OPSUDO, () => planChroot(chroot("/home/opsudo/jail", true), withPaths(host(OPSUDO))).steps, /chown|root-owned.*would change \/home\/opsudo, the home of opsudo/],
    ["ChrootDir destroy deleting an ancestor of the home", OPSUDO, () => planChrootDelete({ path: "/home/opsudo", subdirs: [], createdAncestors: [], onDelete: "delete" }, "x"), /would change \/home\/opsudo, the home of opsudo/],
    ["ChrootDir retained on destroy, moving an ancestor of the home", OPSUDO, () => planChrootDelete({ path: "/home/x", subdirs: [], createdAncestors: ["/home"], onDelete: "retain" }, "x"), /would change \/home, an ancestor of \/home\/opsudo/],
    ["JailedUser delete of the operator", OPSUDO, () => planUserDelete({ name: "opsudo", keysDir: "/etc/ssh/sftp-jail/authorized_keys" }, false, host(OPSUDO)), /would change the account opsudo/],
    ["ChrootDir inside root's key directory", ROOT, () => planChrootDelete({ path: "/root/.ssh/x", subdirs: [], createdAncestors: [], onDelete: "delete" }, "x"), /would change \/root\/\.ssh\/x, inside \/root\/\.ssh/],
    ["JailedUser delete of root (the account sudo runs as)", OPSUDO, () => planUserDelete({ name: "root", keysDir: "/etc/ssh/sftp-jail/authorized_keys" }, false, host(OPSUDO)), /would change the account root, and root is the account sudo makes opsudo/],
  ] as const)("%s is refused, naming the cause", (_t, op, plan, cause) => {
    expect(refused(planOf(plan), host(op))).toMatch(cause);
  });

  it.each([
    ["a jailed user of its own", () => planUser(user, host(OPSUDO)).steps],
    ["a chroot under /srv", () => planChroot(chroot("/srv/sftp/alice"), withPaths(host(OPSUDO))).steps],
    ["an SFTP group of its own", () => planGroupCreate({ name: "sftpnew", system: false }, host(OPSUDO)).steps],
  ])("%s passes (the check is not a blanket refusal)", (_t, plan) => {
    const p = plan();
    expect(p.length).toBeGreaterThan(0);
    expect(refused(p, host(OPSUDO))).toBeUndefined();
    expect(refused(p, host(ROOT))).toBeUndefined();
  });

  it("covers the home, its ancestors, the key files and their directories", () => {
    const e = envelopeOf(OPSUDO, host(OPSUDO));
    expect([...e.accounts].sort()).toEqual(["opsudo", "root"]);
    expect([...e.groups].sort()).toEqual(["opsudo", "sudo"]);
    for (const p of ["/", "/home", "/home/opsudo", "/home/opsudo/.ssh", "/home/opsudo/.ssh/authorized_keys", "/home/opsudo/.ssh/authorized_keys2"]) expect(e.paths.has(p)).toBe(true);
    expect(e.paths.has("/srv")).toBe(false);
  });

  it("refuses everything when the snapshot did not say who the operator is", () => {
    expect(refused(planUser(user, host(OPSUDO)).steps, { ...host(OPSUDO), operator: null })).toMatch(/did not say who sftp-jail logs in as/);
  });

  it("every step a planner builds declares its effects (the type requires it)", () => {
    // @ts-expect-error a step without `effects` does not compile
    const bad: Step = { description: "x", script: "true" };
    expect(bad.effects).toBeUndefined();
    const all = [...planUser(user, host(OPSUDO)).steps, ...planChroot(chroot("/srv/sftp/alice"), withPaths(host(OPSUDO))).steps];
    for (const s of all) expect(s.effects).toBeDefined();
  });
});

describe("privileged groups and shells", () => {
  it.each([
    ["sudo", /grants administrative rights/],
    ["ops", /named in the host's sudoers/],
    ["root", /gid 0/],
  ])("a jailed user in %s is refused", (g, why) => {
    expect(() => planUser({ ...user, extraGroups: [g] }, host(OPSUDO))).toThrow(why);
  });

  it("adopting an account that is in a sudoers group is refused, naming the group", () => {
    const f = host(OPSUDO);
    f.users.push({ name: "carol", uid: 1500, gid: 2001, home: "/srv/sftp/carol", shell: "/bin/bash" });
    f.groups = f.groups.map((g) => (g.name === "ops" ? { ...g, members: ["carol"] } : g));
    expect(() => planUser({ ...user, name: "carol", home: "/srv/sftp/carol" }, f)).toThrow(/group ops is named in the host's sudoers.*existing account carol is/);
  });

  it("an SFTP group that grants privilege is refused", () => {
    expect(() => planGroupCreate({ name: "ops", system: false }, host(OPSUDO))).toThrow(PlanError);
    expect(privilegedGroup("sftponly", host(OPSUDO))).toBeUndefined();
  });

  it.each([
    ["/bin/bash", false, /resolves to \/usr\/bin\/bash, which is not nologin or false/],
    ["/tmp/nologin", false, /\/tmp\/nologin resolves to \/usr\/bin\/bash/],
    ["/usr/local/bin/nosuch", false, /does not exist on the host/],
  ])("shell %s is refused", (shell, allowLoginShell, why) => {
    expect(() => planUser({ ...user, shell, allowLoginShell }, host(OPSUDO))).toThrow(why);
  });

  it.each([["/sbin/nologin"], ["/bin/false"], ["/usr/sbin/nologin"]])("shell %s (nologin or false once resolved) is accepted", (shell) => {
    expect(planUser({ ...user, shell }, host(OPSUDO)).steps[0].script).toContain(`--shell ${shell}`);
  });

  it("a login shell is accepted with allowLoginShell", () => {
    expect(planUser({ ...user, shell: "/bin/bash", allowLoginShell: true }, host(OPSUDO)).steps[0].script).toContain("--shell /bin/bash");
  });
});

describe("facts", () => {
  it("parses the groups a sudoers file names, ignoring comments and quoted strings", () => {
    const text = [
      "# %commented ALL=(ALL) ALL",
      "Defaults mailsub=\"%h is here\"",
      "#includedir /etc/sudoers.d",
      "%sudo   ALL=(ALL:ALL) ALL",
      "User_Alias ADMINS = %wheel2, bob, \\",
      "  %:domain_admins, %#4242",
      "#1000 ALL=(ALL) ALL",
      "alice ALL=(ALL) NOPASSWD: ALL # %trailing comment",
      "Defaults:%audit !lecture",
    ].join("\n");
    expect(parseSudoersGroups(text)).toEqual({ groups: ["audit", "domain_admins", "sudo", "wheel2"], gids: [4242] });
  });

  it("parses the operator section as the sandbox printed it", () => {
    const out = ["user\topsudo", "via\tsudo", "runas\troot", "passwd\topsudo:x:1001:1001::/home/opsudo:/bin/bash", "gids\t1001 27",
      `sudol\t${Buffer.from("User opsudo may run:\n    (ALL : ALL) ALL\n").toString("base64")}`, "keyfile\t/home/opsudo/.ssh/authorized_keys", "keyfile\t/home/opsudo/.ssh/authorized_keys"].join("\n");
    expect(operator.parse(out)).toEqual({ ...OPSUDO, keyFiles: ["/home/opsudo/.ssh/authorized_keys"] });
    expect(operator.parse("")).toBeNull();
  });

  it("resolves paths with readlink -e and keeps only those that exist", () => {
    expect(realpathsFact(["/bin/bash"]).command).toContain("readlink -z -e");
    expect(realpathsFact([]).parse("/sbin/nologin\t/usr/sbin/nologin\n")).toEqual({ "/sbin/nologin": "/usr/sbin/nologin" });
  });

  it("frames every resolution as one line, whatever names a jailed user gives the links it controls (run by sh here)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-realpaths-"));
    try {
      // a directory named to forge a section, one with a tab, and links to them from "upload" paths
      const forged = path.join(dir, "x\n@@sftp-jail:files\n/etc/ssh/sftp-jail/authorized_keys/mallory\t");
      fs.mkdirSync(forged, { recursive: true });
      fs.mkdirSync(path.join(dir, "tab\tdir"));
      fs.symlinkSync(forged, path.join(dir, "in"));
      fs.symlinkSync(path.join(dir, "tab\tdir"), path.join(dir, "log"));
      fs.mkdirSync(path.join(dir, "plain"));
      const asked = ["in", "log", "plain"].map((n) => path.join(dir, n));
      const run = (paths: string[]) => {
        const out = spawnSync("sh", ["-c", realpathsFact(paths.map(quoteArg)).command], { encoding: "utf8" }).stdout;
        expect(out).not.toMatch(/^@@sftp-jail/m);
        return realpathsFact([]).parse(out);
      };
      const all = run(asked);
      expect(all[asked[2]]).toBe(path.join(dir, "plain"));
      expect(all[asked[0]]).toBe(forged.replace(/\n/g, "\x01")); // a path no resolution sftp-jail expects equals
      expect(all[asked[1]]).toBe(path.join(dir, "tab\tdir"));
      // one asked path that does not resolve sends every path through the one-by-one branch: framed the same
      fs.symlinkSync(path.join(dir, "nowhere"), path.join(dir, "dangling"));
      fs.writeFileSync(path.join(dir, "file"), "");
      const one = run([...asked, path.join(dir, "file", "x"), path.join(dir, "dangling")]);
      expect(one[asked[0]]).toBe(all[asked[0]]);
      expect(one[asked[2]]).toBe(all[asked[2]]);
      expect(Object.keys(one).filter((k) => k.startsWith(dir)).sort()).toEqual([...asked].sort());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("account guard", () => {
  const adopt = () => {
    const f = host(OPSUDO);
    f.users.push({ name: "carol", uid: 1500, gid: 100, home: "/srv/sftp/carol", shell: "/bin/bash" });
    return { f, steps: planUser({ ...user, name: "carol", home: "/srv/sftp/carol" }, f).steps };
  };

  it("guards changes of existing accounts, not the creation of new ones", () => {
    const { f, steps } = adopt();
    expect(changesExistingAccounts(steps, f)).toBe(true);
    expect(changesExistingAccounts(planUser(user, host(OPSUDO)).steps, host(OPSUDO))).toBe(false);
  });

  it("saves and restores exactly the touched lines, host-side and root-only, never moving a hash over the wire", () => {
    const g = accountGuard("t1", adopt().steps)!;
    expect(g.save.script).toContain("install -d -m 0700 -o root -g root /run/sftp-jail /run/sftp-jail/accounts-t1");
    expect(g.save.script).toMatch(/awk -F: -v n=' carol ' .* \/etc\/shadow > \/run\/sftp-jail\/accounts-t1\/shadow/);
    expect(g.save.script).toMatch(/-v n=' sftponly ' .* \/etc\/gshadow/);
    expect(g.restore.script).toContain("sj_put /etc/shadow ' carol ' /run/sftp-jail/accounts-t1/shadow");
    expect(g.restore.script).not.toMatch(/base64|\$6\$/);
    expect(accountGuard("t2", planChroot(chroot("/srv/sftp/a"), withPaths(host(OPSUDO))).steps)).toBeUndefined();
  });

  it("assumes at preview the groups and users the program creates first", () => {
    const f = assumeExisting(host(OPSUDO), ["newuser"], ["newgroup"]);
    expect(f.groups.find((g) => g.name === "newgroup")).toEqual({ name: "newgroup", gid: -1, members: [] });
    expect(refused(planUser({ ...user, group: "newgroup" }, f).steps, f)).toBeUndefined();
  });
});

/** Facts with stats for the paths the chroot planner asks about (the fixture only has what it captured). */
function withPaths(f: HostFacts): HostFacts {
  const dir = (path: string, uid = 0, mode = 0o755) => ({ path, exists: true, uid, gid: uid, mode, type: "directory" as const });
  const missing = (path: string) => ({ path, exists: false, uid: -1, gid: -1, mode: 0, type: "missing" as const });
  const paths = { ...f.paths };
  for (const p of ["/", "/home", "/srv", "/root"]) paths[p] = dir(p);
  paths["/home/opsudo"] = dir("/home/opsudo", 1001);
  paths["/home/opsudo/.ssh"] = dir("/home/opsudo/.ssh", 1001, 0o700);
  for (const p of ["/home/opsudo/jail", "/srv/sftp", "/srv/sftp/alice", "/srv/sftp/a"]) paths[p] = missing(p);
  return { ...f, paths };
}

describe("operator facts captured from a sandbox host (opsudo, password sudo)", () => {
  const f = parseSnapshot(captured("debian12-opsudo"));

  it("knows who logs in, its groups, home, key files and how it becomes root", () => {
    expect(f.operator).toEqual({ ...OPSUDO, gids: [1001, 27] });
  });

  it("reads the sudoers files as root and finds the groups they name (comments are not rules)", () => {
    expect(f.sudoers).toEqual({ files: ["/etc/sudoers", "/etc/sudoers.d/README", "/etc/sudoers.d/operator"], groups: ["sudo"], gids: [] });
  });

  it("resolves shells through merged /usr", () => {
    expect(f.realpaths).toMatchObject({ "/sbin/nologin": "/usr/sbin/nologin", "/bin/false": "/usr/bin/false", "/bin/bash": "/usr/bin/bash" });
  });

  it("judges a JailedUser named after the captured operator by the envelope", () => {
    expect(refused(planUser({ ...user, name: "opsudo", group: "users", home: "/home/opsudo" }, f).steps, f)).toMatch(/would change the account opsudo/);
  });
});
