/**
 * Adoption planners on facts captured from real sandbox hosts set up by hand (see ./adoptFixtures.ts).
 */
import { HostFacts } from "../../provider/observe/facts";
import { restoreFileSh } from "../../provider/plan/atomic";
import { Operator } from "../../provider/plan/sshd";
import { findAdoptable, planInPlace, planInPlaceRestore } from "../../provider/plan/sshdInPlace";
import { BlockDesired, MAIN_CONFIG, blockPath } from "../../provider/plan/sshdRender";
import { editBlock, findMatchBlocks, replaceBlock, sameCriteria, blocksFor } from "../../provider/plan/sshdAdopt";
import { RuleDesired, planRuleConverge, planRuleDelete, resolveTarget } from "../../provider/plan/firewall";
import { planChroot, planChrootDelete } from "../../provider/plan/chrootDir";
import { UserDesired, keyLines, planUser, planUserDelete } from "../../provider/plan/jailedUser";
import * as jailedUser from "../../provider/adapters/jailedUser";
import { PlanError } from "../../provider/plan/types";
import { reading } from "./adoptFixtures";


const OP: Operator = { user: "root", auth: ["publickey"] };
const HAND_BLOCK = "Match Group sftp\n    ChrootDirectory %h\n    ForceCommand internal-sftp\n    X11Forwarding no\n    AllowTcpForwarding no\n";
const AS_IS = { ChrootDirectory: "%h", ForceCommand: "internal-sftp", X11Forwarding: "no", AllowTcpForwarding: "no" };
const HARDENED = { ...AS_IS, PermitTunnel: "no", AllowAgentForwarding: "no", AuthorizedKeysFile: "/etc/ssh/sftp-jail/authorized_keys/%u" };
const block = (directives: Record<string, string>, extra: Partial<BlockDesired> = {}): BlockDesired => ({
  name: "group-sftp",
  order: 50,
  match: { Group: ["sftp"] },
  directives,
  subsystemInternalSftp: true,
  ...extra,
});
/** The contents a step ships base64-encoded. */
const shipped = (script: string) =>
  [...script.matchAll(/(?:printf '%s'|sj_put) '?([A-Za-z0-9+/=]{8,})'?/g)].map((m) => Buffer.from(m[1], "base64").toString("utf8"));

describe("hand-written Match blocks (pure text)", () => {
  const main = reading("hand").facts.sshd.main!.content;

  it("finds the admin's block at the end of sshd_config, as sshd reads it (to the end of the file)", () => {
    const blocks = findMatchBlocks(main);
    expect(blocks).toHaveLength(1);
    expect(blocks[0].match).toEqual({ Group: ["sftp"] });
    expect(blocks[0].directives).toEqual(AS_IS);
    expect(blocks[0].text).toBe(HAND_BLOCK);
    expect(main.endsWith("\n" + HAND_BLOCK)).toBe(true);
  });

  it("compares criteria as sshd does: names case-insensitive, order of criteria and of list items irrelevant", () => {
    const [b] = findMatchBlocks("match user bob,alice GROUP sftp\n  ForceCommand internal-sftp\n");
    expect(sameCriteria(b.match, { Group: ["sftp"], User: ["alice", "bob"] })).toBe(true);
    expect(sameCriteria(b.match, { Group: ["sftp"] })).toBe(false);
  });

  it("edits with the smallest change: right lines stay byte for byte, wrong values change on their line, missing ones follow the last directive", () => {
    const text = "Port 22\nMatch Group sftp\n  # jail\n  ChrootDirectory %h\n  X11Forwarding=YES\n  ForceCommand internal-sftp\n  PermitTTY No\n  permittty yes\n\n# end\n";
    const [b] = findMatchBlocks(text);
    expect(editBlock(text, b, { ChrootDirectory: "%h", ForceCommand: "internal-sftp", X11Forwarding: "no", PermitTTY: "no", PermitTunnel: "no" })).toBe(
      "Port 22\nMatch Group sftp\n  # jail\n  ChrootDirectory %h\n  X11Forwarding=no\n  ForceCommand internal-sftp\n  PermitTTY No\n  PermitTunnel no\n\n# end\n",
    );
    // A keyword the program does not set goes; so does a repeat (sshd ignores it anyway).
    expect(editBlock(text, b, { ChrootDirectory: "%h" })).toBe("Port 22\nMatch Group sftp\n  # jail\n  ChrootDirectory %h\n\n# end\n");
  });

  it("puts the original block back byte for byte after an edit", () => {
    const [b] = findMatchBlocks(main);
    const edited = editBlock(main, b, HARDENED);
    expect(edited).not.toBe(main);
    const [e] = blocksFor(edited, { Group: ["sftp"] });
    expect(replaceBlock(edited, e, b.text)).toBe(main);
  });
});

describe("SshdMatchBlock adopts a hand-written block in place", () => {
  it("finds it in sshd_config, and in an admin's drop-in", () => {
    const hand = findAdoptable(block(HARDENED), reading("hand").facts);
    expect(hand?.file).toBe(MAIN_CONFIG);
    expect(hand?.block.text).toBe(HAND_BLOCK);
    const partners = { ChrootDirectory: "%h", ForceCommand: "internal-sftp -u 0002", AllowTcpForwarding: "no", PermitTunnel: "no" };
    const rssh = findAdoptable(block(partners, { name: "group-partners", match: { Group: ["partners"] } }), reading("rssh").facts);
    expect(rssh?.file).toBe("/etc/ssh/sshd_config.d/partners.conf");
  });

  it("refuses to adopt a block whose keywords the program would drop, naming them and the fix", () => {
    const { X11Forwarding: _, ...without } = AS_IS;
    expect(() => findAdoptable(block(without), reading("hand").facts)).toThrow(/also sets X11Forwarding no, which this block does not declare/);
    try {
      findAdoptable(block(without), reading("hand").facts);
    } catch (e) {
      expect((e as PlanError).fix).toMatch(/declare X11Forwarding: "no" in directives \(SftpJailHost: sshdDirectives\)/);
    }
    const f = reading("hand").facts;
    f.sshd.main!.content += "    PermitOpen none\n";
    expect(() => findAdoptable(block(AS_IS), f)).toThrow(PlanError);
    try {
      findAdoptable(block(AS_IS), f);
    } catch (e) {
      expect((e as PlanError).fix).toMatch(/does not manage PermitOpen inside a Match block: move it out of that block by hand/);
    }
  });

  it("refuses two hand-written blocks with the same criteria", () => {
    const f = reading("hand").facts;
    f.sshd.main!.content += "Match Group sftp\n    PermitTTY no\n";
    expect(() => findAdoptable(block(AS_IS), f)).toThrow(/2 hand-written "Match Group sftp" blocks exist/);
  });

  it("plans nothing when the block already says what the program says (the migrate case): zero host changes", () => {
    const f = reading("hand").facts;
    const p = planInPlace(block(AS_IS), f, OP, { file: MAIN_CONFIG });
    expect(p.steps).toEqual([]);
    expect(p.inPlace).toEqual({ file: MAIN_CONFIG, original: HAND_BLOCK, written: HAND_BLOCK });
    const r = reading("rssh").facts;
    const partners = block({ ...AS_IS, ForceCommand: "internal-sftp -u 0002", PermitTunnel: "no" }, { name: "group-partners", match: { Group: ["partners"] }, subsystemInternalSftp: false });
    delete partners.directives.X11Forwarding;
    expect(planInPlace(partners, r, OP, { file: "/etc/ssh/sshd_config.d/partners.conf" }).steps).toEqual([]);
  });

  it("edits only the lines that differ, guarded: the file goes back last on revert, its backup is removed on success", () => {
    const f = reading("hand").facts;
    const main = f.sshd.main!.content;
    const p = planInPlace(block(HARDENED), f, OP, { file: MAIN_CONFIG });
    expect(p.steps.map((s) => s.description)).toEqual([
      "record which accounts sshd jails now, and what it allows every other one (sshd -T -C per account the change can affect)",
      'edit the hand-written "Match Group sftp" block in /etc/ssh/sshd_config in place: add AllowAgentForwarding no, PermitTunnel no, AuthorizedKeysFile /etc/ssh/sftp-jail/authorized_keys/%u',
      "settle Subsystem sftp in sshd_config (internal-sftp while any block wants it)",
      "check the whole sshd configuration, the operator's access, every jailed account's jail and what every other account is allowed (sshd -t, sshd -T -C)",
      "reload sshd",
    ]);
    const after = main.replace("    AllowTcpForwarding no\n", "    AllowTcpForwarding no\n    AllowAgentForwarding no\n    PermitTunnel no\n    AuthorizedKeysFile /etc/ssh/sftp-jail/authorized_keys/%u\n");
    expect(shipped(p.steps[1].script)).toEqual([after]);
    // The write refuses a file that changed since it was read.
    expect(p.steps[1].script).toContain("changed while sftp-jail was planning");
    // Subsystem internal-sftp is the admin's own line: no marker drop-in, the main file is only edited.
    expect(p.steps.some((s) => s.description.startsWith("write "))).toBe(false);
    expect(p.revert.map((s) => s.description)).toEqual([
      "restore the previous block files",
      "restore the Subsystem sftp line of sshd_config",
      "restore /etc/ssh/sshd_config as it was",
      "check and reload sshd",
    ]);
    expect(p.revert[2].script).toBe(`if [ -e /etc/ssh/sshd_config.sftp-jail.bak ]; then ${restoreFileSh("/etc/ssh/sshd_config.sftp-jail.bak", "/etc/ssh/sshd_config", "/etc/ssh")}; fi`);
    expect(p.steps[3].script).toContain("mv -fT /etc/ssh/sshd_config.sftp-jail.bak /etc/ssh/sshd_config"); // a refused check restores it too
    expect(p.cleanup[0].script).toContain("/etc/ssh/sshd_config.sftp-jail.bak");
    expect(p.inPlace?.original).toBe(HAND_BLOCK);
    expect(p.inPlace?.written).toBe(blocksFor(after, { Group: ["sftp"] })[0].text);
  });

  it("keeps a marker drop-in (the Subsystem reference count) when the Subsystem edit is sftp-jail's", () => {
    const r = reading("rssh").facts; // Debian's "Subsystem sftp /usr/lib/openssh/sftp-server" is still there
    const partners = block({ ChrootDirectory: "%h", ForceCommand: "internal-sftp -u 0002", AllowTcpForwarding: "no", PermitTunnel: "no" }, { name: "group-partners", match: { Group: ["partners"] } });
    const p = planInPlace(partners, r, OP, { file: "/etc/ssh/sshd_config.d/partners.conf" });
    const marker = blockPath("group-partners", 50);
    expect(p.steps.map((s) => s.description)[1]).toBe(`write ${marker}`);
    const [content] = shipped(p.steps[1].script);
    expect(content).toContain("# sftp-jail: wants Subsystem sftp internal-sftp");
    expect(findMatchBlocks(content)).toEqual([]); // no configuration in it
    expect(shipped(p.steps[2].script).some((m) => /^Subsystem sftp internal-sftp$/m.test(m))).toBe(true);
  });

  it("falls back to its own drop-in when the hand-written block is gone", () => {
    const f = reading("hand").facts;
    f.sshd.main!.content = f.sshd.main!.content.replace(HAND_BLOCK, "");
    const p = planInPlace(block(HARDENED), f, OP, { file: MAIN_CONFIG, original: HAND_BLOCK });
    expect(p.inPlace).toBeUndefined();
    expect(p.path).toBe(blockPath("group-sftp", 50));
  });

  it("destroy puts the admin's block back byte for byte, or, edited since, sets its directives back", () => {
    const f = reading("hand").facts;
    const original = f.sshd.main!.content;
    const adopted = planInPlace(block(HARDENED), f, OP, { file: MAIN_CONFIG });
    const afterUp = shipped(adopted.steps[1].script)[0];
    const g: HostFacts = { ...f, sshd: { ...f.sshd, main: { path: MAIN_CONFIG, content: afterUp } } };
    const back = planInPlaceRestore(block(HARDENED), g, OP, adopted.inPlace!);
    expect(back.steps[1].description).toBe('put the hand-written "Match Group sftp" block in /etc/ssh/sshd_config back as it was before sftp-jail adopted it');
    expect(shipped(back.steps[1].script)).toEqual([original]);
    // Someone added a comment to the block since: the directives go back, the comment stays.
    const edited = afterUp.replace("    PermitTunnel no\n", "    PermitTunnel no\n    # reviewed\n");
    const h: HostFacts = { ...f, sshd: { ...f.sshd, main: { path: MAIN_CONFIG, content: edited } } };
    expect(shipped(planInPlaceRestore(block(HARDENED), h, OP, adopted.inPlace!).steps[1].script)).toEqual([original.replace("    AllowTcpForwarding no\n", "    AllowTcpForwarding no\n    # reviewed\n")]);
  });
});

describe("FirewallRule adopts an admin's rule with exactly its spec", () => {
  const SSH: RuleDesired = { name: "hand-sftp-firewall", backend: "auto", protocol: "tcp", ports: [22], state: [], action: "ACCEPT", position: "beforeReject" };

  it("adopts the hand-made ACCEPT tcp 22 before the REJECT instead of inserting a duplicate", () => {
    const f = reading("hand").facts;
    const p = planRuleConverge(SSH, f, undefined, SSH);
    expect(p.steps).toEqual([]);
    expect(p.located.adopted).toBe(true);
    expect(p.located.parts.map((l) => l.ours[0].args)).toEqual([["-p", "tcp", "-m", "tcp", "--dport", "22", "-j", "ACCEPT"]]); // IPv4 only: no ip6tables table, no twin
    expect(p.located.inPosition && p.located.matchesSpec).toBe(true);
    // Without adoption the same rule would be inserted a second time.
    expect(planRuleConverge(SSH, f).steps.map((s) => s.description)).toContain(
      "insert ACCEPT tcp port 22 from any ipv4 address as sftp-jail:hand-sftp-firewall into iptables filter INPUT before rule 4",
    );
  });

  it("matches source and state exactly: a rule limited to 127.0.0.0/8 + NEW is that rule, not a rule for any state", () => {
    const f = reading("rssh").facts;
    const limited = { ...SSH, source: "127.0.0.0/8", state: ["NEW" as const] };
    expect(planRuleConverge(limited, f, undefined, limited).located.adopted).toBe(true);
    const anyState = { ...SSH, source: "127.0.0.0/8" };
    const p = planRuleConverge(anyState, f, undefined, anyState);
    expect(p.located.adopted).toBe(false);
    expect(p.steps.length).toBeGreaterThan(0);
  });

  it("replaces an adopted rule in its place when the program changes it, and destroy leaves an adopted rule alone", () => {
    const f = reading("hand").facts;
    const narrower = { ...SSH, source: "192.0.2.0/24" };
    const p = planRuleConverge(narrower, f, "iptables", SSH);
    expect(p.steps.map((s) => s.description)).toEqual([
      "save iptables-save filter table for revert",
      "delete rule null from iptables INPUT",
      "insert ACCEPT tcp port 22 from 192.0.2.0/24 as sftp-jail:hand-sftp-firewall into iptables filter INPUT before rule 3",
    ]);
    expect(p.steps[1].script).toBe("iptables -w -t filter -D INPUT -p tcp -m tcp --dport 22 -j ACCEPT");
    expect(planRuleDelete(SSH, resolveTarget(SSH, f), f).steps).toEqual([]);
  });
});

describe("ChrootDir and JailedUser adopt a hand-made jail", () => {
  function withSurvey(name: "hand" | "rssh", user: string): HostFacts {
    const r = reading(name);
    const s = r.survey.find((u) => u.name === user)!;
    r.facts.paths = { ...s.stats };
    for (const k of s.keyFiles) if (k.content !== null) r.facts.files[k.path] = k.content;
    return r.facts;
  }

  it("a root:alice 0750 jail with an alice-owned upload dir, described exactly, needs no step; destroy leaves it", () => {
    const f = withSurvey("hand", "alice");
    const d = { path: "/home/alice", group: "alice", mode: "0750", fixAncestors: false, subdirs: [{ path: "upload", owner: "alice", group: "alice", mode: "0755" }] };
    const p = planChroot(d, f);
    expect(p).toEqual({ steps: [], createdAncestors: [], adopted: true, recorded: false, createdSubdirs: [] });
    expect(planChrootDelete({ ...d, createdAncestors: [], onDelete: "delete", adopted: true, createdSubdirs: [] }, "x")).toEqual([]);
    // A directory sftp-jail adds to an adopted jail is the only thing its destroy removes (and only when empty).
    const more = planChroot({ ...d, subdirs: [...d.subdirs, { path: "out", owner: "alice", group: "sftp", mode: "0755" }] }, { ...f, paths: { ...f.paths, "/home/alice/out": { path: "/home/alice/out", exists: false, uid: -1, gid: -1, mode: 0, type: "missing" } } });
    expect(more.createdSubdirs).toEqual(["out"]);
    expect(planChrootDelete({ ...d, createdAncestors: [], onDelete: "retain", adopted: true, createdSubdirs: ["out"] }, "x").map((s) => s.script)).toEqual([
      "{ sj_rmdir /home/alice/out 2 || true; }",
    ]);
  });

  const alice = (f: HostFacts, extra: Partial<UserDesired> = {}): UserDesired => ({
    name: "alice",
    group: "sftp",
    extraGroups: [],
    home: "/home/alice",
    authorizedKeys: Object.entries(f.files).filter(([p]) => p === "/home/alice/.ssh/authorized_keys").map(([, c]) => c.trim()),
    keysDir: "/etc/ssh/sftp-jail/authorized_keys",
    authorizedKeysFile: "/home/alice/.ssh/authorized_keys",
    keyOnly: false,
    ...extra,
  });

  it("an account in the group as a supplementary member, with its keys in the jail read-only, needs no step", () => {
    const f = withSurvey("hand", "alice");
    expect(planUser(alice(f), f)).toEqual({ steps: [], adopted: true, recorded: false });
    expect(planUserDelete(alice(f), true, f)).toEqual([]); // the account and ~/.ssh/authorized_keys stay
  });

  it("refuses to write keys into the jail, with the fix (let sftp-jail move them out)", () => {
    const f = withSurvey("hand", "alice");
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M other";
    expect(() => planUser(alice(f, { authorizedKeys: [other] }), f)).toThrow(/adopted read-only, and they differ from authorizedKeys/);
    // The hardened program: keys to sftp-jail's root-owned file, "*".
    const hardened = planUser(alice(f, { authorizedKeysFile: undefined, keyOnly: true }), f);
    expect(hardened.steps.map((s) => s.description)).toEqual([
      'make alice key-only (password field "*", not locked)',
      "create /etc/ssh/sftp-jail, /etc/ssh/sftp-jail/authorized_keys (root:root 0755)",
      "write 1 authorized key(s) of alice to /etc/ssh/sftp-jail/authorized_keys/alice",
    ]);
  });
});

describe("an adopted key file is only ever a key file", () => {
  const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M a@b";
  const inputs = (authorizedKeysFile: string) => ({
    // A valid JailedUser takes a preview-time look at its host (the operator envelope): a closed port, tried once.
    connection: { host: "127.0.0.1", port: 1, dialErrorLimit: 1, password: "pw", hostKey: KEY.split(" ").slice(0, 2).join(" ") },
    name: "alice",
    group: "sftp",
    home: "/home/alice",
    authorizedKeys: [KEY],
    authorizedKeysFile,
  });

  it("accepts a user's .ssh/authorized_keys or <key dir>/<name>, and refuses any other file (read as root on every run)", async () => {
    for (const ok of ["/home/alice/.ssh/authorized_keys", "/srv/x/.ssh/authorized_keys2", "/etc/ssh/authorized_keys/alice"]) {
      expect((await jailedUser.check(undefined, inputs(ok))).failures).toEqual([]);
    }
    for (const bad of ["/etc/shadow", "/etc/alice", "/etc/ssh/authorized_keys/bob", "/root/.ssh/id_ed25519"]) {
      expect((await jailedUser.check(undefined, inputs(bad))).failures?.map((f) => f.property)).toEqual(["authorizedKeysFile"]);
    }
  });

  it("reads only key lines from it (options allowed, anything else ignored, never compared or shown)", () => {
    expect(keyLines(`# admin's keys\n${KEY}\nno-pty,from="10.0.0.1" ${KEY}\nnot a key\nroot:$6$hash:1:2\n`)).toEqual([KEY, `no-pty,from="10.0.0.1" ${KEY}`]);
  });
});
