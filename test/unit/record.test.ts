/**
 * The host-side record of what sftp-jail created (provider/observe/record.ts): its framing and parser, what a planner
 * makes of it (an object is sftp-jail's only while its identity is the recorded one), where apply writes it, and the
 * host-side writer and reader run by /bin/sh on scratch files (never the machine's own /etc or /var/lib).
 * The e2e suite test/e2e/record.test.ts proves it on a real host after a network cut and a lost checkpoint.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { HostFacts, PathStat, firewall, pathsFact } from "../../provider/observe/facts";
import {
  ACCOUNT_COMMENT,
  RECORD_FILE,
  changing,
  createdBlock,
  createdDir,
  createdGroup,
  createdNft,
  createdRule,
  createdUser,
  emptyRecord,
  ownedBy,
  parseRecord,
  whoseIsIt,
  rec,
  recordLib,
  recordReader,
} from "../../provider/observe/record";
import { SCRIPT_PREFIX, parseSnapshot, snapshotScript } from "../../provider/observe/snapshot";
import { LOCK_FILE, applyScript } from "../../provider/apply/apply";
import { deadman } from "../../provider/apply/guarded";
import { planGroupCreate, planGroupDelete, planGroupUpdate } from "../../provider/plan/sftpGroup";
import { planUser, planUserDelete } from "../../provider/plan/jailedUser";
import { planChroot, planChrootDelete } from "../../provider/plan/chrootDir";
import { planBlock, planBlockDelete } from "../../provider/plan/sshd";
import { MAIN_CONFIG, blockPath, renderBlock, transformMain } from "../../provider/plan/sshdRender";
import { planRuleConverge, planRuleDelete, resolveTarget } from "../../provider/plan/firewall";
import { debian12 } from "./fixtures";

const dir = (path: string, ident?: string): PathStat => ({ path, exists: true, uid: 0, gid: 0, mode: 0o755, type: "directory", ...(ident ? { ident } : {}) });
const missing = (path: string): PathStat => ({ path, exists: false, uid: -1, gid: -1, mode: 0, type: "missing" });
/** The stack that made the entries in these tests, and the record text with it on every line. */
const O = "acme/prod";
const own = (text: string, owner = O) => text.split("\n").map((l) => (l ? `${l} ${owner}` : l)).join("\n");
/** The maps of a record, without its list of entries. */
const maps = ({ entries: _e, ...m }: ReturnType<typeof parseRecord>) => m;

describe("the record's framing: one entry a line, each field in a fixed character set", () => {
  it("parses every kind of entry", () => {
    const r = parseRecord(
      own([
        "g sftp 2200",
        "u acme 1001",
        "d /srv/sftp 1234:1700000000",
        "f /etc/ssh/sftp-jail/authorized_keys/acme -",
        "s /etc/ssh/sshd_config.d/50-sftp-jail-jail.conf -",
        "w h1-sftp-firewall -",
        "n ip:filter 3",
        "c inet:filter:input 4:1",
        "",
      ].join("\n")),
    );
    expect(maps(r)).toEqual({
      groups: { sftp: 2200 },
      users: { acme: 1001 },
      dirs: { "/srv/sftp": "1234:1700000000" },
      files: ["/etc/ssh/sftp-jail/authorized_keys/acme"],
      blocks: ["/etc/ssh/sshd_config.d/50-sftp-jail-jail.conf"],
      rules: ["h1-sftp-firewall"],
      tables: { "ip filter": 3 },
      chains: { "inet filter input": "4:1" },
    });
    expect(r.entries.map((e) => e.owner)).toEqual(Array(8).fill(O));
    expect(parseRecord("g sftp 2200 -\n").entries).toEqual([{ kind: "g", key: "sftp", id: "2200", owner: "-" }]);
  });

  it("a line that is not exactly its kind's grammar is no entry: no name can forge one", () => {
    const forged = [
      "u root 0 extra", // a fourth field
      "u acme 1001 ", // trailing space
      " u acme 1001", // leading space
      "u acme\t1001",
      "u acme 1001\r",
      "u Acme 1001", // not a name sftp-jail creates
      "u a$(id) 1001",
      "u acme 10x1",
      "g sftp -",
      "d relative/path 1:2",
      "d /srv/../etc 1:2",
      "d /srv//x 1:2",
      "d /srv/./x 1:2",
      "d /srv/a b 1:2", // a space in a path would shift the fields
      "d /srv/\u200bzw 1:2",
      "d /srv/x 12", // identity of another kind
      "f /etc/shadow 1:2", // identity of another kind
      "s /etc/ssh/sshd_config -", // not one of sftp-jail's block paths
      "s /etc/ssh/sshd_config.d/50-sftp-jail-x.conf 1",
      "w sftp-jail:x -", // colon
      "w -x -",
      "n ip filter 3",
      "n arp:filter 3",
      "c ip:filter 3:1",
      "x /srv/sftp 1:2",
      "U acme 1001",
      "uacme 1001",
      "# a comment",
      "",
    ];
    expect(parseRecord(own(forged.join("\n")))).toEqual(emptyRecord());
    // The stack field: exactly one <project>/<stack> (or "-"), nothing else.
    const owners = ["g sftp 2200", "g sftp 2200 acme", "g sftp 2200 a/b/c", "g sftp 2200 a b/c", "g sftp 2200 $(id)/x", "g sftp 2200 a/b ", "g sftp 2200 --", "g sftp 2200 /b"];
    expect(parseRecord(owners.join("\n"))).toEqual(emptyRecord());
    // Newlines are line ends: a name cannot smuggle in a second line that parses.
    expect(parseRecord(`u acme\nu root 0 1001 ${O}`).users).toEqual({});
  });

  it("a key listed twice is ambiguous, so it is no entry at all", () => {
    // Also when two stacks claim it: neither takes it back.
    const r = parseRecord(`u acme 1001 ${O}\nu acme 1002 other/stack\nu other 1003 ${O}\n`);
    expect(r.users).toEqual({ other: 1003 });
  });

  it("the operations steps declare are checked against the same grammar", () => {
    expect(rec.add("g", "sftp")).toBe("+g:sftp");
    expect(rec.renew("d", "/etc/ssh/k")).toBe("~d:/etc/ssh/k");
    expect(rec.drop("c", "ip:filter:INPUT")).toBe("-c:ip:filter:INPUT");
    for (const [k, key] of [["u", "a b"], ["u", "a\nu root"], ["d", "/srv/../etc"], ["d", "srv"], ["w", "a:b"], ["n", "ip filter"]] as const) {
      expect(() => rec.add(k, key)).toThrow(/cannot be a record key/);
    }
  });
});

describe("what the record means: an object is sftp-jail's only while it is the object that was recorded", () => {
  const f = (more: Partial<HostFacts>): Partial<HostFacts> => ({
    record: parseRecord(own("g sftp 2200\nu acme 1001\nd /srv/sftp 10:20\ns /etc/ssh/sshd_config.d/50-sftp-jail-j.conf -\nw fw -\nn ip:filter 3\nc ip:filter:INPUT 3:1\n")),
    groups: [{ name: "sftp", gid: 2200, members: [] }],
    users: [{ name: "acme", uid: 1001, gid: 2200, home: "/srv/sftp/acme", shell: "/usr/sbin/nologin", gecos: ACCOUNT_COMMENT }],
    paths: { "/srv/sftp": dir("/srv/sftp", "10:20") },
    ...more,
  });

  it("recorded, with the same identity: created by sftp-jail", () => {
    expect(createdGroup(f({}), "sftp")).toBe(true);
    expect(createdUser(f({}), "acme")).toBe(true);
    expect(createdDir(f({}), "/srv/sftp")).toBe(true);
    expect(createdBlock(f({}), "/etc/ssh/sshd_config.d/50-sftp-jail-j.conf")).toBe(true);
    expect(createdRule(f({}), "fw")).toBe(true);
  });

  it("replaced by hand since (another gid, uid, comment, inode or birth time), or gone: not sftp-jail's", () => {
    expect(createdGroup(f({ groups: [{ name: "sftp", gid: 2201, members: [] }] }), "sftp")).toBe(false);
    expect(createdGroup(f({ groups: [] }), "sftp")).toBe(false);
    const acme = f({}).users![0];
    expect(createdUser(f({ users: [{ ...acme, uid: 1002 }] }), "acme")).toBe(false);
    expect(createdUser(f({ users: [{ ...acme, gecos: "Acme Corp" }] }), "acme")).toBe(false);
    expect(createdUser(f({ users: [{ ...acme, gecos: undefined }] }), "acme")).toBe(false);
    expect(createdDir(f({ paths: { "/srv/sftp": dir("/srv/sftp", "11:20") } }), "/srv/sftp")).toBe(false);
    expect(createdDir(f({ paths: { "/srv/sftp": dir("/srv/sftp", "10:21") } }), "/srv/sftp")).toBe(false);
    expect(createdDir(f({ paths: { "/srv/sftp": dir("/srv/sftp") } }), "/srv/sftp")).toBe(false); // not stat'ed with identity
    expect(createdDir(f({ paths: { "/srv/sftp": { ...dir("/srv/sftp", "10:20"), type: "symlink" } } }), "/srv/sftp")).toBe(false);
    expect(createdDir(f({ paths: { "/srv/sftp": missing("/srv/sftp") } }), "/srv/sftp")).toBe(false);
  });

  it("not recorded (the admin's, or a host whose record is missing or not root's): never sftp-jail's", () => {
    const none = f({ record: emptyRecord() });
    expect([createdGroup(none, "sftp"), createdUser(none, "acme"), createdDir(none, "/srv/sftp"), createdRule(none, "fw")]).toEqual([false, false, false, false]);
    expect(createdGroup(f({ record: undefined }), "sftp")).toBe(false); // facts without the record at all
  });

  it("nft objects count only with the handles they were recorded with", () => {
    const nft = (th: number, ch: number) => ({ nftables: [{ metainfo: {} }, { table: { family: "ip", name: "filter", handle: th } }, { chain: { family: "ip", table: "filter", name: "INPUT", handle: ch } }] });
    const fw = (n: unknown) => ({ iptables: null, iptablesVariant: null, iptablesLegacy: null, ip6tables: null, nft: n }) as HostFacts["firewall"];
    expect(createdNft(f({ firewall: fw(nft(3, 1)) }), ["ip", "filter"])).toEqual(["ip filter:table", "ip filter:chain:INPUT"]);
    // Deleted and made again since (by hand, or another tool): new handles.
    expect(createdNft(f({ firewall: fw(nft(4, 1)) }), ["ip", "filter"])).toEqual([]);
    expect(createdNft(f({ firewall: fw(null) }), ["ip", "filter"])).toEqual([]);
    expect(createdNft(f({ firewall: fw(nft(3, 1)) }), ["ip6", "filter"])).toEqual([]);
  });
});

describe("planners take back what the record lists and adopt everything else", () => {
  it("SftpGroup: a recorded group is this resource's (destroy removes it); an unrecorded one is adopted", () => {
    const f = debian12({ groups: [{ name: "sftp", gid: 2200, members: [] }] });
    expect(planGroupCreate({ name: "sftp", gid: 2200, system: false }, f)).toEqual({ steps: [], adopted: true });
    f.record = parseRecord(own("g sftp 2200\n"));
    expect(planGroupCreate({ name: "sftp", gid: 2200, system: false }, f)).toEqual({ steps: [], adopted: false, recorded: true });
    // Its own group, at another gid: renumbered like any group it created, and the record follows the new gid.
    const p = planGroupCreate({ name: "sftp", gid: 2300, system: false }, f);
    expect(p.adopted).toBe(false);
    expect(p.steps.map((s) => [s.script, s.record])).toEqual([["groupmod --gid 2300 -- sftp", ["~g:sftp"]]]);
    // The record names another gid: the group was replaced by hand, so it is the admin's, and the entry that no
    // longer holds is dropped (a step that changes nothing else).
    f.record = parseRecord(own("g sftp 2201\n"));
    expect(planGroupCreate({ name: "sftp", gid: 2200, system: false }, f)).toEqual({
      steps: [{ description: "forget the host's record of sftp: sftp-jail created it, but it was removed or replaced by hand since", script: ":", effects: {}, record: ["-g:sftp"] }],
      adopted: true,
    });
  });

  it("a stack takes back only what it created: another stack's objects are adopted, their entries left alone", () => {
    const f = debian12({ groups: [{ name: "sftp", gid: 2200, members: [] }] });
    f.record = parseRecord(`g sftp 2200 other/stack\ng old 2300 other/stack\n`);
    // Stack acme/prod sees the group other/stack created: adopted (destroy leaves it to its creator), nothing dropped.
    expect(planGroupCreate({ name: "sftp", gid: 2200, system: false }, ownedBy(f, O))).toEqual({ steps: [], adopted: true });
    expect(planGroupCreate({ name: "old", gid: 2300, system: false }, ownedBy(f, O))).toMatchObject({ adopted: false, steps: [{ record: ["+g:old"] }] });
    expect(planGroupCreate({ name: "sftp", gid: 2200, system: false }, ownedBy(f, "other/stack"))).toEqual({ steps: [], adopted: false, recorded: true });
    // No stack identity (a resource made without sftp-jail's classes), or an entry whose stack is unknown: nobody's.
    expect(ownedBy(f, undefined).record).toEqual(emptyRecord());
    f.record = parseRecord("g sftp 2200 -\n");
    expect(ownedBy(f, O).record.groups).toEqual({});
    expect(ownedBy(f, "-").record.groups).toEqual({});
    // The log names the creator while the object is still the one recorded.
    f.record = parseRecord("g sftp 2200 other/stack\n");
    expect(whoseIsIt(f, "g", "sftp", O)).toBe("which stack other/stack created (the host's record says so), so it stays that stack's to remove");
    expect(whoseIsIt(f, "g", "sftp", "other/stack")).toMatch(/did not create/);
    f.record = parseRecord("g sftp 2201 other/stack\n");
    expect(whoseIsIt(f, "g", "sftp", O)).toMatch(/did not create/);
    const u = hostWith(ACCOUNT_COMMENT, "");
    u.record = parseRecord("u acme 1001 other/stack\n");
    expect(planUser(want, ownedBy(u, O))).toEqual({ steps: [], adopted: true, recorded: false });
  });

  it("SftpGroup: groupadd records, groupmod re-stamps, groupdel drops", () => {
    const f = debian12();
    expect(planGroupCreate({ name: "sftponly", gid: 2001, system: false }, f).steps[0].record).toEqual(["+g:sftponly"]);
    const g = debian12({ groups: [{ name: "sftponly", gid: 2001, members: [] }] });
    expect(planGroupUpdate({ name: "sftponly", gid: 2002, system: false }, g)[0].record).toEqual(["~g:sftponly"]);
    expect(planGroupDelete("sftponly", g)[0].record).toEqual(["-g:sftponly"]);
  });

  const want = { name: "acme", group: "sftp", extraGroups: [], home: "/srv/sftp/acme", authorizedKeys: [], keysDir: "/etc/ssh/sftp-jail/authorized_keys", keyOnly: true };
  const hostWith = (gecos: string, record: string) => {
    const f = debian12({ groups: [{ name: "sftp", gid: 2200, members: [] }], users: [{ name: "acme", uid: 1001, gid: 2200, home: "/srv/sftp/acme", shell: "/usr/sbin/nologin", gecos }] });
    f.shadow.acme = "*";
    f.files["/etc/ssh/sftp-jail/authorized_keys/acme"] = "";
    f.paths["/etc/ssh/sftp-jail"] = dir("/etc/ssh/sftp-jail", "5:6");
    f.paths["/etc/ssh/sftp-jail/authorized_keys"] = dir("/etc/ssh/sftp-jail/authorized_keys", "7:8");
    f.record = parseRecord(own(record));
    return f;
  };

  it("JailedUser: an account sftp-jail created is taken back only with its uid and sftp-jail's comment", () => {
    expect(planUser(want, hostWith(ACCOUNT_COMMENT, "u acme 1001\n"))).toEqual({ steps: [], adopted: false, recorded: true });
    const forget = (record: string) => [{ description: "forget the host's record of acme: sftp-jail created it, but it was removed or replaced by hand since", script: ":", effects: {}, record: [record] }];
    expect(planUser(want, hostWith(ACCOUNT_COMMENT, "u acme 1002\n"))).toEqual({ steps: forget("-u:acme"), adopted: true, recorded: false });
    expect(planUser(want, hostWith("Acme", "u acme 1001\n"))).toEqual({ steps: forget("-u:acme"), adopted: true, recorded: false });
    expect(changing(planUser(want, hostWith("Acme", "u acme 1001\n")).steps)).toEqual([]);
    expect(planUser(want, hostWith(ACCOUNT_COMMENT, ""))).toEqual({ steps: [], adopted: true, recorded: false });
  });

  it("JailedUser: useradd, the key directories and the key file are recorded; delete drops them and removes the recorded key directories when empty", () => {
    const f = debian12({ groups: [{ name: "sftp", gid: 2200, members: [] }] });
    f.paths["/etc/ssh/sftp-jail"] = missing("/etc/ssh/sftp-jail");
    f.paths["/etc/ssh/sftp-jail/authorized_keys"] = missing("/etc/ssh/sftp-jail/authorized_keys");
    const steps = planUser(want, f).steps;
    expect(steps.map((s) => s.record ?? [])).toEqual([
      ["+u:acme"], // useradd, with the key-only password field
      ["+d:/etc/ssh/sftp-jail", "+d:/etc/ssh/sftp-jail/authorized_keys"],
      ["+f:/etc/ssh/sftp-jail/authorized_keys/acme"],
    ]);
    // A rewrite of an existing key file asks the same: the host records it only if the write created it.
    const g = hostWith(ACCOUNT_COMMENT, "u acme 1001\n");
    expect(planUser({ ...want, authorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm5vMvkyJ4qBsymkJ6UP8Vq1pOs0Kk0rfE2WyvU4aQw a"] }, g).steps.map((s) => s.record)).toEqual([
      ["+f:/etc/ssh/sftp-jail/authorized_keys/acme"],
    ]);
    const del = (record: string) => planUserDelete(want, false, hostWith(ACCOUNT_COMMENT, record));
    expect(del("u acme 1001\n").map((s) => [s.description, s.record])).toEqual([
      ["end the sessions of acme and delete the user (files kept)", ["-u:acme"]],
      ["remove /etc/ssh/sftp-jail/authorized_keys/acme", ["-f:/etc/ssh/sftp-jail/authorized_keys/acme"]],
    ]);
    const withDirs = del("u acme 1001\nd /etc/ssh/sftp-jail 5:6\nd /etc/ssh/sftp-jail/authorized_keys 7:8\n");
    expect(withDirs[2]).toMatchObject({
      description: "remove /etc/ssh/sftp-jail/authorized_keys, /etc/ssh/sftp-jail if empty (sftp-jail created them)",
      record: ["-d:/etc/ssh/sftp-jail/authorized_keys", "-d:/etc/ssh/sftp-jail"],
      effects: { paths: ["/etc/ssh/sftp-jail/authorized_keys", "/etc/ssh/sftp-jail"] },
    });
    expect(withDirs[2].script).toMatch(/^\{ sj_rmdir \/etc\/ssh\/sftp-jail\/authorized_keys 3 \|\| true; \}\n\{ sj_rmdir \/etc\/ssh\/sftp-jail 2 \|\| true; \}$/);
    // Directories whose identity changed since (made again by hand) are not sftp-jail's to remove.
    expect(del("d /etc/ssh/sftp-jail 5:6\nd /etc/ssh/sftp-jail/authorized_keys 7:9\n").map((s) => s.description)).toContain("remove /etc/ssh/sftp-jail if empty (sftp-jail created it)");
  });

  const chroot = { path: "/srv/sftp/acme", group: "root", mode: "0755", fixAncestors: false, subdirs: [{ path: "upload", owner: "acme", group: "sftp", mode: "0755" }] };
  const jailHost = (record: string) => {
    const f = hostWith(ACCOUNT_COMMENT, "");
    f.paths["/"] = dir("/", "2:0");
    f.paths["/srv"] = dir("/srv", "3:0");
    f.paths["/srv/sftp"] = dir("/srv/sftp", "10:20");
    f.paths["/srv/sftp/acme"] = dir("/srv/sftp/acme", "11:21");
    f.paths["/srv/sftp/acme/upload"] = { ...dir("/srv/sftp/acme/upload", "12:22"), uid: 1001, gid: 2200 };
    f.record = parseRecord(own(record));
    return f;
  };

  it("ChrootDir: a recorded jail is not adopted (destroy removes it, onDelete applies), with the recorded ancestors and subdirectories", () => {
    const r = planChroot(chroot, jailHost("d /srv/sftp 10:20\nd /srv/sftp/acme 11:21\nd /srv/sftp/acme/upload 12:22\n"));
    expect(r).toEqual({ steps: [], createdAncestors: ["/srv/sftp"], adopted: false, recorded: true, createdSubdirs: ["upload"] });
    // The admin's /srv/sftp (not recorded) stays theirs even under sftp-jail's jail.
    expect(planChroot(chroot, jailHost("d /srv/sftp/acme 11:21\n")).createdAncestors).toEqual([]);
    // Not recorded, or recorded for another directory since replaced: adopted, left in place by destroy.
    expect(planChroot(chroot, jailHost(""))).toMatchObject({ adopted: true, recorded: false, createdAncestors: [], createdSubdirs: [] });
    expect(planChroot(chroot, jailHost("d /srv/sftp/acme 99:21\nd /srv/sftp 10:20\n"))).toMatchObject({
      adopted: true,
      recorded: false,
      createdAncestors: ["/srv/sftp"],
      steps: [{ script: ":", record: ["-d:/srv/sftp/acme"] }],
    });
  });

  it("ChrootDir: what a plan creates is recorded at its step, and destroy drops what it removed", () => {
    const f = jailHost("");
    f.paths["/srv/sftp"] = missing("/srv/sftp");
    f.paths["/srv/sftp/acme"] = missing("/srv/sftp/acme");
    f.paths["/srv/sftp/acme/upload"] = missing("/srv/sftp/acme/upload");
    const p = planChroot(chroot, f);
    expect(p.steps.map((s) => s.record)).toEqual([["+d:/srv/sftp"], ["+d:/srv/sftp/acme"], ["+d:/srv/sftp/acme/upload"]]);
    const del = planChrootDelete({ ...chroot, onDelete: "retain", createdAncestors: ["/srv/sftp"] }, "20260101T000000");
    expect(del.map((s) => s.record)).toEqual([["-d:/srv/sftp/acme", "-d:/srv/sftp/acme/upload"], ["-d:/srv/sftp"]]);
    expect(planChrootDelete({ ...chroot, onDelete: "delete", createdAncestors: [] }, "x")[0].record).toEqual(["-d:/srv/sftp/acme", "-d:/srv/sftp/acme/upload"]);
    expect(planChrootDelete({ ...chroot, onDelete: "retain", createdAncestors: [], adopted: true, createdSubdirs: ["upload"] }, "x")[0].record).toEqual(["-d:/srv/sftp/acme/upload"]);
  });
});

describe("Match blocks and firewall rules: recorded where they are written, dropped where they go", () => {
  const OP = { user: "root", auth: ["publickey" as const] };
  const JAIL = { name: "jail", order: 50, match: { Group: ["sftp"] }, directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp" }, subsystemInternalSftp: true };
  const PATH = blockPath("jail", 50);

  it("SshdMatchBlock: the drop-in's write records it; delete drops it with the reload; a move does both", () => {
    const created = planBlock(JAIL, debian12(), OP).steps;
    expect(created.filter((s) => s.record).map((s) => [s.description, s.record])).toEqual([[`write ${PATH}`, [`+s:${PATH}`]]]);
    const f = debian12();
    f.sshd.dropins.push({ path: PATH, content: renderBlock(JAIL) });
    f.sshd.main!.content = transformMain(f.sshd.main!.content);
    const gone = planBlockDelete("jail", 50, f, OP).steps;
    expect(gone.filter((s) => s.record).map((s) => [s.description, s.record])).toEqual([["reload sshd", [`-s:${PATH}`]]]);
    const moved = planBlock({ ...JAIL, order: 20 }, f, OP, { name: "jail", order: 50 }).steps;
    expect(moved.flatMap((s) => s.record ?? [])).toEqual([`+s:${blockPath("jail", 20)}`, `-s:${PATH}`]);
  });

  it("SshdMatchBlock: a block in the main file's region is recorded at the edit of the main file", () => {
    const f = debian12();
    f.sshd.main!.content = f.sshd.main!.content.replace(/^Include .*$/m, "");
    const steps = planBlock(JAIL, f, OP).steps;
    expect(steps.filter((s) => s.record).map((s) => [s.effects.paths?.[0], s.record])).toEqual([[MAIN_CONFIG, [`+s:${PATH}`]]]);
  });

  const fw = (name: string) => ({ ...debian12(), firewall: firewall.parse(fs.readFileSync(`${__dirname}/fixtures/firewall-${name}.txt`, "utf8")) });
  const rule = { name: "fw", backend: "auto" as const, protocol: "tcp" as const, ports: [2022], state: ["NEW" as const], action: "ACCEPT" as const, position: "beforeReject" as const };

  it("FirewallRule: the insert records the rule, and the nft table and chain if it brings them into being", () => {
    // An iptables-nft host that filters IPv6 too: the rule and its ip6tables twin, each in its own nft table.
    const p = planRuleConverge(rule, fw("iptables-nft"));
    expect(p.steps.map((s) => s.record ?? [])).toEqual([[], ["+w:fw", "+n:ip:filter", "+c:ip:filter:INPUT"], [], ["+w:fw", "+n:ip6:filter", "+c:ip6:filter:INPUT"]]);
    const n = planRuleConverge({ ...rule, backend: "nftables" }, fw("empty"));
    expect(n.steps.map((s) => s.record ?? [])).toEqual([[], ["+n:inet:filter"], ["+c:inet:filter:input"], ["+w:fw"]]);
    // Legacy iptables keeps no nft objects: only the rule.
    expect(planRuleConverge({ ...rule, backend: "iptables-legacy" }, fw("iptables-legacy")).steps.flatMap((s) => s.record ?? [])).toEqual(["+w:fw"]);
  });

  it("FirewallRule: delete drops the rule, and the table it removes with its chains", () => {
    const facts = fw("iptables-nft");
    const a = { ...rule, name: "partner-a", ports: [2222, 2223], source: "198.51.100.0/24" };
    const t = resolveTarget(a, facts);
    const alone = { ...facts, firewall: firewall.parse(fs.readFileSync(`${__dirname}/fixtures/firewall-iptables-nft.txt`, "utf8").split("\n").filter((l) => !/^-A INPUT/.test(l) || l.includes("partner-a")).join("\n")) };
    expect(planRuleDelete(a, t, alone, ["table"]).steps.map((s) => s.record ?? [])).toEqual([[], ["-w:partner-a"], ["-n:ip:filter", "-c:ip:filter:INPUT"]]);
  });

  it("a revert (a failed fresh login, or the dead-man timer) drops what it removed again", () => {
    const p = planRuleConverge({ ...rule, backend: "nftables" }, fw("empty"));
    expect(p.revert.map((s) => s.record)).toEqual([["-w:fw", "-n:inet:filter", "-c:inet:filter:input"]]);
    const b = planBlock(JAIL, debian12(), OP);
    expect(b.revert[b.revert.length - 1].record).toEqual([`-s:${PATH}`]);
    // The timer's own script: the revert steps, each followed by its record update (drops only, never an add).
    const timerOf = (revert: Parameters<typeof deadman>[2]) => Buffer.from(/printf '%s' '?([A-Za-z0-9+/=]+)'? \| base64 -d/.exec(deadman("t", 10, revert).arm.script)![1], "base64").toString("utf8");
    const timer = timerOf(p.revert);
    expect(timer).toContain("sj_rec_do() {");
    expect(timer).toContain(`} && { sj_rec_do - "" -w:fw -n:inet:filter -c:inet:filter:input ; } > /dev/null 2>&1`);
    expect(timerOf([{ description: "x", script: "true", effects: {} }])).not.toContain("sj_rec_do"); // nothing to drop, no writer
  });

  it("FirewallRule: what the record lists for the target's table counts as created by sftp-jail, at create", () => {
    const facts = fw("iptables-nft");
    facts.record = parseRecord(own("n ip:filter 1\nc ip:filter:INPUT 1:1\n"));
    expect(createdNft(facts, ["ip", "filter"])).toEqual(["ip filter:table", "ip filter:chain:INPUT"]);
    facts.record = parseRecord(own("n ip:filter 7\n"));
    expect(createdNft(facts, ["ip", "filter"])).toEqual([]);
  });
});

describe("apply writes the record in the same exec as the change, right after its step", () => {
  const plan = [
    { description: "a", script: "groupadd -- sftp", effects: { groups: ["sftp"] }, record: [rec.add("g", "sftp")] },
    { description: "b", script: "true", effects: {} },
    { description: "c", script: "groupdel -- old", effects: { groups: ["old"] }, record: [rec.drop("g", "old"), rec.renew("f", "/etc/ssh/k/a")] },
  ];
  const s = applyScript(plan, {}, []);

  it("under the host lock, each update between its step and the next step's marker, silent", () => {
    const lock = s.indexOf(`flock -w 120 9`);
    const a = s.indexOf("groupadd -- sftp");
    const recA = s.indexOf(`{ sj_rec_log - "$sj_pre" +g:sftp ; } > /dev/null 2>&1 || printf '\\n%s\\n' @@sftp-jail-record-failed:0:0:0`);
    expect(lock).toBeGreaterThan(0);
    expect(s.indexOf("sj_pre=$(sj_rec_absent +g:sftp)")).toBeGreaterThan(lock);
    expect(s.indexOf("sj_pre=$(sj_rec_absent +g:sftp)")).toBeLessThan(a);
    expect(recA).toBeGreaterThan(a);
    expect(recA).toBeLessThan(s.indexOf("@@sftp-jail-step:0:0:1"));
    // A step that creates nothing has no pre-check: "-" and "~" never add.
    expect(s).toContain(`sj_pre=\n{ groupdel -- old ; } || exit $?\n{ sj_rec_log - "$sj_pre" -g:old '~f:/etc/ssh/k/a' ; } > /dev/null 2>&1 || printf '\\n%s\\n' @@sftp-jail-record-failed:0:0:2`);
    // Only after the step succeeded; all of it, and the one fold of the exec's log, before the lock is released.
    expect(s.indexOf("{ groupadd -- sftp ; } || exit $?")).toBeLessThan(recA);
    const fold = s.indexOf("{ sj_rec_fold ; } > /dev/null 2>&1 || true");
    expect(s.lastIndexOf("sj_rec_log - \"$sj_pre\"")).toBeLessThan(fold);
    expect(s.indexOf("sj_rec_fold ;")).toBe(s.lastIndexOf("sj_rec_fold ;"));
    expect(fold).toBeLessThan(s.indexOf("exec 9>&-"));
    expect(s.indexOf(`exec 9>${LOCK_FILE}`)).toBeLessThan(lock);
  });

  it("stamps what it creates with the applying stack, and takes no identity that is not one", () => {
    expect(applyScript(plan, {}, [], "", "acme/prod")).toContain(`{ sj_rec_log acme/prod "$sj_pre" +g:sftp ; }`);
    for (const bad of ["acme", "a/b c", "a/b;id", "", "a/b/c"]) expect(() => applyScript(plan, {}, [], "", bad)).toThrow(/not a stack identity/);
  });

  it("a plan that records nothing carries no writer", () => {
    expect(applyScript([{ description: "b", script: "true", effects: {} }], {}, [])).not.toMatch(/sj_rec_(log|fold|do)/);
  });

  it("every snapshot reads the record in its own exec, and a snapshot's record section becomes the record fact", () => {
    const snap = snapshotScript({});
    expect(snap).toContain("echo '@@sftp-jail:record'");
    expect(snap).toContain(`grep -E -e '^(g [a-z_]`);
    expect(snap).toContain(`stat -c '%u %a %F' -- / /var /var/lib /var/lib/sftp-jail ${RECORD_FILE}`);
    const facts = parseSnapshot(["@@sftp-jail:record", `g sftp 2200 ${O}`, "u root 0 forged", "@@sftp-jail:end"].join("\n"));
    expect(facts.record.groups).toEqual({ sftp: 2200 });
    expect(facts.record.users).toEqual({});
    expect(parseSnapshot("@@sftp-jail:end").record).toEqual(emptyRecord());
  });

  it("paths are stat'ed with their identity (inode and birth time), and lines without one still parse", () => {
    expect(snapshotScript({ paths: ["/srv"] })).toContain("stat -c '%n|%u|%g|%a|%F|%i:%.9W'");
    const facts = parseSnapshot(["@@sftp-jail:paths", "/srv|0|0|755|directory|42:1700000000.123456789", "/srv/x|0|0|755|directory", "/srv/y|0|0|755|directory|junk", "@@sftp-jail:end"].join("\n"));
    expect(facts.paths["/srv"].ident).toBe("42:1700000000.123456789");
    expect(facts.paths["/srv/x"]).toMatchObject({ exists: true, type: "directory" });
    expect(facts.paths["/srv/x"].ident).toBeUndefined();
    expect(facts.paths["/srv/y"].ident).toBeUndefined();
  });
});

describe("run by /bin/sh on scratch files: the host-side writer and reader", () => {
  let root: string;
  const file = () => `${root}/lib/sftp-jail/.created`;
  const sh = (body: string) => spawnSync("/bin/sh", ["-c", [SCRIPT_PREFIX, recordLib(file(), `${root}/etc`), body].join("\n")], { encoding: "utf8" });
  const read = () => spawnSync("/bin/sh", ["-c", `( ${recordReader(file())} )`], { encoding: "utf8" }).stdout;
  /** One step as apply runs it: pre-check, the step, then the record update. */
  let owner = O;
  const step = (script: string, ...ops: string[]): string => {
    const adds = ops.filter((o) => o.startsWith("+")).map((o) => `'${o}'`).join(" ");
    return sh(`sj_pre=${adds ? `$(sj_rec_absent ${adds})` : ""}\n${script}\n{ sj_rec_do '${owner}' "$sj_pre" ${ops.map((o) => `'${o}'`).join(" ")} ; } > /dev/null 2>&1 || echo failed`).stdout;
  };

  beforeEach(() => {
    owner = O;
    root = fs.mkdtempSync("/run/sj-record-test-");
    fs.chmodSync(root, 0o755);
    fs.mkdirSync(`${root}/etc`);
    fs.mkdirSync(`${root}/lib`, { mode: 0o755 });
    fs.writeFileSync(`${root}/etc/group`, "root:x:0:\nadmins:x:2100:\n");
    fs.writeFileSync(`${root}/etc/passwd`, "root:x:0:0:root:/root:/bin/bash\n");
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const addGroup = (line: string) => `printf '%s\\n' '${line}' >> ${root}/etc/group`;

  it("records what the step created, with its identity, root's alone (0600), written beside itself and renamed", () => {
    expect(step(`${addGroup("sftp:x:2200:")} && mkdir ${root}/srv`, "+g:sftp", `+d:${root}/srv`)).toBe("");
    const ino = fs.statSync(`${root}/srv`).ino;
    const body = fs.readFileSync(file(), "utf8");
    expect(body).toMatch(new RegExp(`^d ${root}/srv ${ino}:\\d+\\.\\d{9} ${O}\\ng sftp 2200 ${O}\\n$`));
    const st = fs.statSync(file());
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
    expect(fs.readdirSync(`${root}/lib/sftp-jail`)).toEqual([".created"]);
    expect(read()).toBe(body);
  });

  it("never records an object that existed before the step: the admin's stays the admin's", () => {
    fs.mkdirSync(`${root}/srv`);
    expect(step(`chmod 0755 ${root}/srv`, "+g:admins", `+d:${root}/srv`)).toBe("");
    expect(fs.existsSync(file()) ? fs.readFileSync(file(), "utf8") : "").toBe("");
    // A step that failed records nothing (apply exits before the update): not simulated here, see the apply test.
  });

  it("a removal drops the entry once the object is gone; an object still there as recorded keeps it", () => {
    expect(step(`mkdir ${root}/a ${root}/a/b && ${addGroup("g1:x:2201:")}`, `+d:${root}/a`, `+d:${root}/a/b`, "+g:g1")).toBe("");
    // rmdir of a non-empty directory fails: it is still sftp-jail's, and stays recorded.
    expect(step(`rmdir ${root}/a 2>/dev/null || true`, `-d:${root}/a`)).toBe("");
    expect(parseRecord(fs.readFileSync(file(), "utf8")).dirs[`${root}/a`]).toBeDefined();
    expect(step(`rmdir ${root}/a/b ${root}/a`, `-d:${root}/a/b`, `-d:${root}/a`, "-g:g1")).toBe("");
    expect(maps(parseRecord(fs.readFileSync(file(), "utf8")))).toEqual({ ...maps(emptyRecord()), groups: { g1: 2201 } });
  });

  it("an entry whose object was replaced by hand is dropped at its next removal, and is never renewed into another object", () => {
    expect(step(`mkdir ${root}/a`, `+d:${root}/a`)).toBe("");
    fs.rmdirSync(`${root}/a`);
    // The new directory may well get the same inode number: its birth time (to the nanosecond) tells them apart.
    fs.mkdirSync(`${root}/a`);
    expect(step("true", `-d:${root}/a`)).toBe("");
    // Nothing left: the record is gone, and its directory with it.
    expect(fs.existsSync(`${root}/lib/sftp-jail`)).toBe(false);
    // "~" only re-stamps an entry that exists.
    expect(step("true", `~d:${root}/a`, "~g:admins")).toBe("");
    expect(fs.existsSync(file())).toBe(false);
  });

  it("a key file is recorded when a write creates it; rewriting it (a rename) leaves the record untouched", () => {
    expect(step(`echo one > ${root}/k`, `+f:${root}/k`)).toBe("");
    expect(fs.readFileSync(file(), "utf8")).toBe(`f ${root}/k - ${O}\n`);
    const ino = fs.statSync(file()).ino;
    const mtime = fs.statSync(`${root}/lib/sftp-jail`).mtimeMs;
    expect(step(`echo two > ${root}/k.tmp && mv ${root}/k.tmp ${root}/k`, `+f:${root}/k`)).toBe("");
    // Not even a temp file came and went: the directory is as it was.
    expect([fs.statSync(file()).ino, fs.statSync(`${root}/lib/sftp-jail`).mtimeMs]).toEqual([ino, mtime]);
    expect(step(`rm ${root}/k`, `-f:${root}/k`)).toBe("");
    // The last entry gone: the record goes, and its directory, empty now, too (sftp-jail leaves nothing behind).
    expect(fs.existsSync(`${root}/lib/sftp-jail`)).toBe(false);
    expect(fs.existsSync(`${root}/lib`)).toBe(true);
  });

  it("\"was it there?\" answers as the no-follow walk does, whether or not the shell's own test could skip it", () => {
    fs.mkdirSync(`${root}/dir`);
    fs.writeFileSync(`${root}/dir/file`, "x");
    fs.symlinkSync(`${root}/nowhere`, `${root}/dangling`);
    fs.symlinkSync(`${root}/dir`, `${root}/link`);
    const cases: [string, boolean][] = [
      [`+d:${root}/missing`, true],
      [`+d:${root}/dir`, false],
      [`+f:${root}/dir/file`, false],
      // Links never count as the object, wherever they are: at the name, dangling or not, or above it.
      [`+d:${root}/dangling`, true],
      [`+f:${root}/dangling`, true],
      [`+d:${root}/link`, true],
      [`+f:${root}/link/file`, true],
      [`+d:${root}/missing/below`, true],
      // The wrong kind of object is no identity either.
      [`+d:${root}/dir/file`, true],
      [`+f:${root}/dir`, true],
      ["+g:admins", false],
      ["+g:nobody", true],
    ];
    for (const [op, absent] of cases) {
      const kind = op[1];
      const key = op.slice(3);
      const walk = sh(`sj_rec_id ${kind} '${key}' >/dev/null 2>&1 && echo there || echo absent`).stdout.trim();
      expect([op, walk]).toEqual([op, absent ? "absent" : "there"]);
      expect([op, sh(`sj_rec_absent '${op}'`).stdout]).toEqual([op, absent ? `${op}\n` : ""]);
    }
    expect(sh(`sj_rec_absent +d:${root}/missing +d:${root}/dir +g:nobody -d:${root}/missing`).stdout).toBe(`+d:${root}/missing\n+g:nobody\n`);
  });

  it("nothing to record and no record yet: no file (nor directory) is made", () => {
    expect(step("true", "+g:admins", `-d:${root}/nothing`, "-u:nobody")).toBe("");
    expect(fs.existsSync(`${root}/lib/sftp-jail`)).toBe(false);
  });

  it("strict framing on the host too: a key outside the grammar is never written, and a forged line in the file is dropped at the next write", () => {
    fs.mkdirSync(`${root}/lib/sftp-jail`, { mode: 0o755 });
    fs.writeFileSync(file(), "u root 0 a/b\nu root 0 1001 a/b\ng x 1 extra a/b\nu nobody 65534\n", { mode: 0o600 });
    expect(step(`${addGroup("sftp:x:2200:")}; mkdir '${root}/a b'`, "+g:sftp", `+d:${root}/a b`, "+u:acme 1001")).toBe("");
    expect(fs.readFileSync(file(), "utf8")).toBe(`g sftp 2200 ${O}\nu root 0 a/b\n`);
    // "u root 0" passed the grammar on the host; the planners still never take root: it is no account sftp-jail
    // could have created (no sftp-jail comment, and JailedUser refuses root and system accounts).
    expect(read()).toBe(`g sftp 2200 ${O}\nu root 0 a/b\n`);
  });

  it("a record that is not root's 0600 regular file in a root-owned chain is not read, and is replaced at the next write", () => {
    fs.mkdirSync(`${root}/lib/sftp-jail`, { mode: 0o755 });
    fs.writeFileSync(file(), "g planted 4242 a/b\n", { mode: 0o600 });
    expect(read()).toBe("g planted 4242 a/b\n");
    fs.chownSync(file(), 4242, 0);
    expect(read()).toBe("");
    expect(step(addGroup("sftp:x:2200:"), "+g:sftp")).toBe("");
    expect(fs.readFileSync(file(), "utf8")).toBe(`g sftp 2200 ${O}\n`);
    expect(fs.statSync(file()).uid).toBe(0);
    fs.chmodSync(`${root}/lib/sftp-jail`, 0o777);
    expect(read()).toBe("");
    // The writer refuses to enter a directory others can write to: nothing is written there, and apply warns.
    expect(step(addGroup("two:x:2201:"), "+g:two")).toBe("failed\n");
    expect(fs.readFileSync(file(), "utf8")).toBe(`g sftp 2200 ${O}\n`);
    fs.chmodSync(`${root}/lib/sftp-jail`, 0o755);
    fs.renameSync(file(), `${root}/real`);
    fs.symlinkSync(`${root}/real`, file());
    expect(read()).toBe("");
  });

  it("the snapshot's stat and the writer stamp a directory with the same identity", () => {
    fs.mkdirSync(`${root}/j`);
    const snap = spawnSync("/bin/sh", ["-c", pathsFact([`${root}/j`]).command], { encoding: "utf8" }).stdout;
    const ident = pathsFact([]).parse(snap)[`${root}/j`].ident;
    expect(ident).toMatch(/^\d+:\d+\.\d{9}$/);
    expect(sh(`sj_rec_id d ${root}/j`).stdout).toBe(`${ident}\n`);
    expect(sh(`sj_rec_id d ${root}/nothing || echo absent`).stdout).toBe("absent\n");
    // No link is followed to reach or stat it, and a file is not a directory.
    fs.symlinkSync(`${root}/j`, `${root}/l`);
    expect(sh(`sj_rec_id d ${root}/l || echo absent; sj_rec_id d ${root}/l/x || echo absent; sj_rec_id d ${root}/etc/group || echo absent`).stdout).toBe("absent\nabsent\nabsent\n");
    expect(sh(`sj_rec_id g admins; sj_rec_id u root; sj_rec_id g nosuch || echo absent`).stdout).toBe("2100\n0\nabsent\n");
  });

  it("a Match block exists as its drop-in, or as its part of the main file's region (found by its first line)", () => {
    fs.mkdirSync(`${root}/etc/ssh/sshd_config.d`, { recursive: true });
    const block = (name: string, order: number) => `# Managed by sftp-jail: SshdMatchBlock "${name}" (order ${order}). Hand edits are reported as drift\nMatch Group g\n`;
    fs.writeFileSync(`${root}/etc/ssh/sshd_config.d/50-sftp-jail-j.conf`, block("j", 50));
    fs.writeFileSync(`${root}/etc/ssh/sshd_config`, `Port 22\n# BEGIN sftp-jail: ...\n${block("r", 5)}# END sftp-jail\n`);
    fs.symlinkSync(`${root}/etc/ssh/sshd_config.d/50-sftp-jail-j.conf`, `${root}/etc/ssh/sshd_config.d/60-sftp-jail-l.conf`);
    const id = (p: string) => sh(`sj_rec_id s ${p} || echo absent`).stdout;
    expect(id("/etc/ssh/sshd_config.d/50-sftp-jail-j.conf")).toBe("-\n");
    expect(id("/etc/ssh/sshd_config.d/05-sftp-jail-r.conf")).toBe("-\n");
    expect(id("/etc/ssh/sshd_config.d/50-sftp-jail-r.conf")).toBe("absent\n"); // another order: another block
    expect(id("/etc/ssh/sshd_config.d/50-sftp-jail-x.conf")).toBe("absent\n");
    expect(id("/etc/ssh/sshd_config.d/60-sftp-jail-l.conf")).toBe("absent\n"); // a link is no block of ours
  });

  it("an entry keeps the stack that created it: another stack's add, renewal or removal attempt never takes it over", () => {
    expect(step(`${addGroup("sftp:x:2200:")} && mkdir ${root}/d`, "+g:sftp", `+d:${root}/d`)).toBe("");
    owner = "other/stack";
    // The objects exist before other/stack's steps: its adds record nothing; a re-stamp or a failed removal keeps the owner.
    expect(step(`chmod 0700 ${root}/d`, "+g:sftp", `+d:${root}/d`)).toBe("");
    expect(step("true", "~g:sftp", `-d:${root}/d`)).toBe("");
    expect(parseRecord(fs.readFileSync(file(), "utf8")).entries.map((e) => [e.kind, e.owner])).toEqual([["d", O], ["g", O]]);
    // What other/stack creates is its own.
    expect(step(`mkdir ${root}/e`, `+d:${root}/e`)).toBe("");
    expect(parseRecord(fs.readFileSync(file(), "utf8")).entries.find((e) => e.key === `${root}/e`)?.owner).toBe("other/stack");
  });

  it("one pass applies a step's operations in order: the same record as applying them one at a time, on 300 entries", () => {
    const groups = Array.from({ length: 100 }, (_, i) => `g${i}:x:${3000 + i}:`);
    fs.appendFileSync(`${root}/etc/group`, `${groups.join("\n")}\nnew1:x:2990:\nnew2:x:2991:\n`);
    const lines = [
      ...Array.from({ length: 100 }, (_, i) => `g g${i} ${3000 + i} ${i % 2 ? O : "other/stack"}`),
      ...Array.from({ length: 100 }, (_, i) => `u u${i} ${4000 + i} ${O}`), // no such accounts: a removal drops them
      ...Array.from({ length: 100 }, (_, i) => `d ${root}/gone${i} ${100 + i}:1700000000 ${O}`), // gone too
    ];
    const ops = ["+g:new1", "-g:new1", "+g:new1", "~g:g1", "-g:g2", "-u:u3", "~u:u4", "+g:new2", "-g:new2", "+g:g5", "-g:g5", `-d:${root}/gone7`, `~d:${root}/gone8`, "xg:g9"];
    const run = (calls: string[][]) => {
      fs.rmSync(`${root}/lib/sftp-jail`, { recursive: true, force: true });
      fs.mkdirSync(`${root}/lib/sftp-jail`, { mode: 0o755 });
      fs.writeFileSync(file(), `${lines.join("\n")}\n`, { mode: 0o600 });
      for (const c of calls) expect(sh(`{ sj_rec_do '${O}' '+g:new1 +g:new2' ${c.map((o) => `'${o}'`).join(" ")} ; } > /dev/null 2>&1 || echo failed`).stdout).toBe("");
      return fs.readFileSync(file(), "utf8");
    };
    const once = run([ops]);
    expect(once).toBe(run(ops.map((o) => [o])));
    const r = parseRecord(once);
    // +g:new1 -g:new1 +g:new1: recorded, by this stack; the +g:new2 then -g:new2 keeps it (still there as recorded).
    expect([r.groups.new1, r.groups.new2, r.entries.find((e) => e.key === "new1")?.owner]).toEqual([2990, 2991, O]);
    // -g:g2 (still there as recorded) stays; ~g:g1 keeps its stack; +g:g5 was not absent before: nothing changes.
    expect([r.groups.g1, r.groups.g2, r.groups.g5, r.entries.find((e) => e.key === "g2")?.owner]).toEqual([3001, 3002, 3005, "other/stack"]);
    // -u:u3 and -d:gone7 (gone) and the unknown mode on g9 drop their entries; ~u:u4 and ~d:gone8 (gone) too.
    expect([r.users.u3, r.users.u4, r.groups.g9, r.dirs[`${root}/gone7`], r.dirs[`${root}/gone8`], r.users.u5]).toEqual([undefined, undefined, undefined, undefined, undefined, 4005]);
    expect(r.entries.length).toBe(300 + 2 - 5);
  });

  it("a fold whose awk fails (or is missing) rewrites nothing: the file keeps its entries and the step's log, and reads right", () => {
    expect(step(addGroup("sftp:x:2200:"), "+g:sftp")).toBe("");
    const before = fs.readFileSync(file(), "utf8");
    fs.mkdirSync(`${root}/bin`);
    fs.writeFileSync(`${root}/bin/awk`, "#!/bin/sh\nexit 2\n", { mode: 0o755 });
    const log = `sj_pre=$(sj_rec_absent +g:two)\n${addGroup("two:x:2201:")}\nsj_rec_log '${O}' "$sj_pre" +g:two`;
    expect(sh(`${log} && { PATH=${root}/bin:$PATH sj_rec_fold all || echo fold failed; }`).stdout).toBe("fold failed\n");
    expect(fs.readFileSync(file(), "utf8")).toBe(`${before}+g two 2201 ${O} .\n`);
    expect(read()).toBe(`g sftp 2200 ${O}\ng two 2201 ${O}\n`);
  });

  it("a step is recorded once its log line is written: a killed exec's log is read folded in, and the next fold writes it", () => {
    expect(step(addGroup("sftp:x:2200:"), "+g:sftp")).toBe("");
    // The exec dies after the step's log (no fold): every reader already sees the step.
    expect(sh(`sj_pre=$(sj_rec_absent +g:two)\n${addGroup("two:x:2201:")}\nsj_rec_log '${O}' "$sj_pre" +g:two -g:sftp`).status).toBe(0);
    expect(fs.readFileSync(file(), "utf8")).toBe(`g sftp 2200 ${O}\n+g two 2201 ${O} .\n-g sftp 2200 - .\n`);
    expect(read()).toBe(`g sftp 2200 ${O}\ng two 2201 ${O}\n`);
    expect(fs.statSync(file()).mode & 0o777).toBe(0o600);
    // A line cut by a racing append (no closing " .") is no operation.
    fs.appendFileSync(file(), "-g two 2201 -");
    expect(read()).toBe(`g sftp 2200 ${O}\ng two 2201 ${O}\n`);
    fs.appendFileSync(file(), "\n");
    // The next fold writes what the readers saw; a second one has nothing to do (nothing logged since).
    expect(sh("sj_rec_fold && echo ok").stdout).toBe("ok\n");
    expect(fs.readFileSync(file(), "utf8")).toBe(`g sftp 2200 ${O}\ng two 2201 ${O}\n`);
    const ino = fs.statSync(file()).ino;
    expect(sh("sj_rec_fold && echo ok").stdout).toBe("ok\n");
    expect(fs.statSync(file()).ino).toBe(ino);
    expect(read()).toBe(`g sftp 2200 ${O}\ng two 2201 ${O}\n`);
  });

  it("apply's fold lets additions wait (every reader folds them in), and folds at once a removal or a long log", () => {
    const logged = (line: string, ...ops: string[]) =>
      expect(sh(`sj_pre=$(sj_rec_absent ${ops.filter((o) => o.startsWith("+")).join(" ")})\n${line}\nsj_rec_log '${O}' "$sj_pre" ${ops.join(" ")} && sj_rec_fold && echo ok`).stdout).toBe("ok\n");
    logged(addGroup("a:x:2200:"), "+g:a");
    logged(addGroup("b:x:2201:"), "+g:b");
    expect(fs.readFileSync(file(), "utf8")).toBe(`+g a 2200 ${O} .\n+g b 2201 ${O} .\n`);
    expect(read()).toBe(`g a 2200 ${O}\ng b 2201 ${O}\n`);
    // A removal: folded with the exec that made it (a record emptied this way goes at once).
    logged(`sed -i '/^a:/d' ${root}/etc/group`, "-g:a");
    expect(fs.readFileSync(file(), "utf8")).toBe(`g b 2201 ${O}\n`);
    logged(`sed -i '/^b:/d' ${root}/etc/group`, "-g:b");
    expect(fs.existsSync(`${root}/lib/sftp-jail`)).toBe(false);
    // 64 logged additions: folded.
    const many = Array.from({ length: 64 }, (_, i) => `g${i}`);
    logged(many.slice(0, 63).map((g, i) => addGroup(`${g}:x:${3000 + i}:`)).join("; "), ...many.slice(0, 63).map((g) => `+g:${g}`));
    expect(fs.readFileSync(file(), "utf8").split("\n").filter((l) => l.startsWith("+"))).toHaveLength(63);
    logged(addGroup("g63:x:3063:"), "+g:g63");
    expect(fs.readFileSync(file(), "utf8")).toBe(many.map((g, i) => `g ${g} ${3000 + i} ${O}\n`).sort().join(""));
  });

  it("no value can frame a log line of its own: a key or stack with a space, a newline or a character no grammar allows is never logged", () => {
    expect(step(addGroup("sftp:x:2200:"), "+g:sftp")).toBe("");
    const forged = `x 1 ${O} .\n+u root 0 ${O} .\n+g y`;
    expect(sh(`sj_rec_log '${O}' '' '-g:${forged}' '~u:${forged}' '-d:/a b' && echo ok`).stdout).toBe("ok\n");
    expect(sh(`sj_rec_log 'a/b .\n+u root 0 a/b' '+g:sftp' +g:sftp || echo refused`).stdout).toBe("refused\n");
    expect(fs.readFileSync(file(), "utf8")).toBe(`g sftp 2200 ${O}\n`);
    // And a forged line written into the file by hand is held to the grammar by every reader.
    fs.appendFileSync(file(), `+u root 0 ${O} .x\n+u root 0 ${O}\n+u root 0 ${O} . \n`);
    expect(read()).toBe(`g sftp 2200 ${O}\n`);
  });

  it("operations reach the writer's awk as values, never as program text", () => {
    const evil = `x" ; system("touch ${root}/pwned") ; "`;
    expect(step("true", `+g:${evil}`, `-d:${evil}`, `~u:${evil}`)).toBe("");
    expect(step(`${addGroup("sftp:x:2200:")}`, "+g:sftp", `-g:${evil}`)).toBe("");
    expect(fs.existsSync(`${root}/pwned`)).toBe(false);
    expect(fs.readFileSync(file(), "utf8")).toBe(`g sftp 2200 ${O}\n`);
  });

  it("an update that changes nothing leaves the entries as they were; a step that logs nothing touches no file", () => {
    expect(step(addGroup("sftp:x:2200:"), "+g:sftp")).toBe("");
    const ino = fs.statSync(file()).ino;
    const mtime = fs.statSync(`${root}/lib/sftp-jail`).mtimeMs;
    // The group existed before the step: its add logs nothing, and nothing is folded.
    expect(step("true", "+g:sftp")).toBe("");
    expect([fs.statSync(file()).ino, fs.statSync(`${root}/lib/sftp-jail`).mtimeMs]).toEqual([ino, mtime]);
    expect(step("true", "+g:sftp", "-g:sftp", "~g:sftp")).toBe("");
    expect(fs.readFileSync(file(), "utf8")).toBe(`g sftp 2200 ${O}\n`);
  });
});
