/**
 * Delta snapshots (provider/observe/snapshot.ts): an exec over a fresh cached snapshot re-reads only what changed or
 * was not covered yet, and the result is merged. These pin the merge (what is replaced, dropped, kept) and what an
 * apply's trailing snapshot must re-read, on the facts of a real host (fixtures/debian12.snapshot.txt).
 */
import * as fs from "fs";
import * as path from "path";
import { BASE_KEYS, HostFacts, staleAfter } from "../../provider/observe/facts";
import { mergeFacts, parseDelta, parseSnapshot, snapshotScript, touched } from "../../provider/observe/snapshot";

const host = parseSnapshot(fs.readFileSync(path.join(__dirname, "fixtures", "debian12.snapshot.txt"), "utf8"));
const stat = (p: string, exists = true) => ({ path: p, exists, uid: 0, gid: 0, mode: exists ? 0o755 : 0, type: exists ? ("directory" as const) : ("missing" as const) });
const jailEval = (user: string) => ({ user, addr: "192.0.2.1", ok: true, error: "", values: { chrootdirectory: "/srv/sftp/" + user } });

function base(): HostFacts {
  return {
    ...host,
    paths: { "/srv": stat("/srv"), "/srv/a": stat("/srv/a"), "/srv/b": stat("/srv/b") },
    files: { "/k/a": "ssh-ed25519 A", "/k/b": "ssh-ed25519 B" },
    realpaths: { "/srv/a": "/srv/a", "/srv/b": "/srv/b" },
    jail: [jailEval("a"), jailEval("b")],
  };
}

describe("merging a later exec into the cached snapshot", () => {
  it("replaces what it re-read, drops what is gone now, keeps the rest, takes the base facts from the later exec", () => {
    const later: HostFacts = { ...host, users: [], paths: { "/srv": stat("/srv"), "/srv/a": stat("/srv/a", false) }, files: {}, realpaths: {}, jail: [] };
    const m = mergeFacts(base(), later, { paths: ["/", "/srv", "/srv/a"], files: ["/k/a"] }, false);
    expect(m.users).toEqual([]);
    expect(m.paths["/srv/a"].exists).toBe(false);
    expect(m.paths["/srv/b"].exists).toBe(true);
    // A key file the exec re-read and did not find is missing now (an absent key), not the cached content.
    expect(m.files).toEqual({ "/k/b": "ssh-ed25519 B" });
    expect(m.realpaths).toEqual({ "/srv/b": "/srv/b" });
    // After a change no jail evaluation survives: the change may alter how sshd judges any account.
    expect(m.jail).toEqual([]);
  });

  it("keeps jail evaluations it did not redo when nothing changed (a read-only delta)", () => {
    const later: HostFacts = { ...host, paths: {}, files: {}, realpaths: {}, jail: [{ ...jailEval("b"), values: { chrootdirectory: "none" } }] };
    const m = mergeFacts(base(), later, { paths: [], files: [] }, true);
    expect(m.jail.map((j) => `${j.user}:${j.values.chrootdirectory}`)).toEqual(["a:/srv/sftp/a", "b:none"]);
    expect(Object.keys(m.paths)).toEqual(["/srv", "/srv/a", "/srv/b"]);
  });
});

describe("what an apply's trailing snapshot re-reads", () => {
  const reg = { paths: new Set(["/srv/sftp/a/upload", "/srv/sftp/b", "/etc/ssh/sftp-jail/authorized_keys"]), files: new Set(["/etc/ssh/sftp-jail/authorized_keys/a", "/etc/ssh/sftp-jail/authorized_keys/b"]), jail: new Set<string>() };

  it("every path the plan changes, what was registered below one, and the resource's own reads", () => {
    const t = touched([{ paths: ["/srv/sftp/a"] }, { paths: ["/etc/ssh/sftp-jail/authorized_keys/a"] }], reg, { paths: ["/usr/sbin/nologin"] });
    expect(t.paths).toEqual(["/etc/ssh/sftp-jail/authorized_keys/a", "/srv/sftp/a", "/srv/sftp/a/upload", "/usr/sbin/nologin"]);
    expect(t.files).toEqual(["/etc/ssh/sftp-jail/authorized_keys/a"]);
    // A chroot and a key file of sftp-jail's own store: no base fact can have changed.
    expect(t.base).toEqual([]);
  });

  it("a directory made to exist (effects.dirs) is re-read alone, not what is registered below it", () => {
    const t = touched([{ dirs: ["/etc/ssh/sftp-jail/authorized_keys"] }, { paths: ["/etc/ssh/sftp-jail/authorized_keys/a"] }], reg);
    expect(t.paths).toEqual(["/etc/ssh/sftp-jail/authorized_keys", "/etc/ssh/sftp-jail/authorized_keys/a"]);
    expect(t.files).toEqual(["/etc/ssh/sftp-jail/authorized_keys/a"]);
    // The same directory as a path (removed, moved: anything below may be gone) re-reads everything below it.
    expect(touched([{ paths: ["/etc/ssh/sftp-jail/authorized_keys"] }], reg).files).toEqual(["/etc/ssh/sftp-jail/authorized_keys/a", "/etc/ssh/sftp-jail/authorized_keys/b"]);
  });

  it("not a sibling whose name only starts the same", () => {
    const t = touched([{ paths: ["/srv/sftp/b"] }], { ...reg, paths: new Set([...reg.paths, "/srv/sftp/bb"]) });
    expect(t.paths).toEqual(["/srv/sftp/b"]);
    expect(t.files).toEqual([]);
  });

  it("re-reads the host's record only after steps that logged operations on it (nothing else changes it)", () => {
    expect(touched([{ paths: ["/srv/sftp/a"] }], reg).record).toBe(true);
    expect(touched([{ paths: ["/srv/sftp/a"] }], reg, {}, false).record).toBe(false);
    expect(snapshotScript({ paths: ["/srv/sftp/a"] }, { manifest: false, record: false })).not.toContain("@@sftp-jail:record");
    expect(snapshotScript({ paths: ["/srv/sftp/a"] }, { manifest: false, record: true })).toContain("@@sftp-jail:record");
    // A full snapshot always reads it; a delta without it keeps the cached record.
    expect(snapshotScript({ paths: ["/srv/sftp/a"] })).toContain("@@sftp-jail:record");
    expect(Object.keys(parseDelta(["@@sftp-jail:paths", "@@sftp-jail:end"].join("\n")))).not.toContain("record");
  });

  it("is a script without the manifest's paths and files (those are what a full snapshot adds)", () => {
    const delta = snapshotScript({ paths: ["/srv/sftp/a"] }, { manifest: false });
    expect(delta).not.toContain("sj_manifest p");
    expect(delta).not.toContain("sj_manifest f");
    // It still lists the manifest, so the cache knows whether an apply must add entries.
    expect(delta).toContain("{ sj_manifest ; }");
    expect(snapshotScript({ paths: ["/srv/sftp/a"] })).toContain("sj_manifest p");
  });
});

describe("which base facts a change can make stale", () => {
  it("accounts, groups and memberships: the account databases and the operator (its groups), nothing else", () => {
    for (const c of [{ accounts: ["a"] }, { groups: ["g"] }, { memberships: ["g"], accounts: ["a"] }]) expect(staleAfter([c])).toEqual(["groups", "users", "shadow", "operator"]);
  });

  it("sshd's configuration, by service or by a path under /etc/ssh: sshd and the operator (its key files)", () => {
    expect(staleAfter([{ service: "sshd" }])).toEqual(["sshd", "operator"]);
    expect(staleAfter([{ paths: ["/etc/ssh/sshd_config.d/50-sftp-jail-x.conf"] }])).toEqual(["sshd", "operator"]);
    expect(staleAfter([{ paths: ["/etc/ssh/sshd_config"] }, { service: "firewall" }])).toEqual(["sshd", "firewall", "operator"]);
  });

  it("a path outside /etc/ssh under a system directory re-reads every base fact", () => {
    for (const p of ["/", "/etc", "/etc/sudoers.d/x", "/etc/iptables/rules.v4", "/usr/sbin/nologin", "/bin/x", "/lib64/x", "/opt/x", "/etc/sshx"]) {
      expect(staleAfter([{ paths: [p] }])).toEqual([...BASE_KEYS]);
    }
  });

  it("data paths, the key store and declared no-ops re-read none", () => {
    expect(staleAfter([{ paths: ["/srv/sftp/a", "/home/a", "/var/lib/sftp-jail/retained", "/run/sftp-jail/accounts-1", "/etc/ssh/sftp-jail/authorized_keys/a"] }, {}])).toEqual([]);
  });

  it("a delta script reads only the base facts asked for, and its parse has only those", () => {
    const script = snapshotScript({ paths: ["/srv/a"] }, { manifest: false, base: ["users"] });
    expect(script).toContain("@@sftp-jail:users");
    expect(script).not.toContain("@@sftp-jail:sshd");
    expect(script).not.toContain("@@sftp-jail:firewall");
    const d = parseDelta(["@@sftp-jail:users", "x:x:5:5::/:/bin/sh", "@@sftp-jail:paths", "@@sftp-jail:jail", "@@sftp-jail:end"].join("\n"));
    expect(Object.keys(d).sort()).toEqual(["jail", "paths", "users"]);
    // Merged: what it read replaces the cached fact, what it did not read stays the cached one.
    const m = mergeFacts(base(), d, { paths: [], files: [] }, false);
    expect(m.users.map((u) => u.name)).toEqual(["x"]);
    expect(m.sshd).toBe(host.sshd);
    expect(m.firewall).toBe(host.firewall);
    expect(m.groups).toBe(host.groups);
  });
});
