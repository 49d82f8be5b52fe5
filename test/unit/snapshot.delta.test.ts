/**
 * Delta snapshots (provider/observe/snapshot.ts): an exec over a fresh cached snapshot re-reads only what changed or
 * was not covered yet, and the result is merged. These pin the merge (what is replaced, dropped, kept) and what an
 * apply's trailing snapshot must re-read, on the facts of a real host (fixtures/debian12.snapshot.txt).
 */
import * as fs from "fs";
import * as path from "path";
import { HostFacts } from "../../provider/observe/facts";
import { mergeFacts, parseSnapshot, snapshotScript, touched } from "../../provider/observe/snapshot";

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
    const t = touched(["/srv/sftp/a", "/etc/ssh/sftp-jail/authorized_keys/a"], reg, { paths: ["/usr/sbin/nologin"] });
    expect(t.paths).toEqual(["/etc/ssh/sftp-jail/authorized_keys/a", "/srv/sftp/a", "/srv/sftp/a/upload", "/usr/sbin/nologin"]);
    expect(t.files).toEqual(["/etc/ssh/sftp-jail/authorized_keys/a"]);
  });

  it("not a sibling whose name only starts the same", () => {
    const t = touched(["/srv/sftp/b"], { ...reg, paths: new Set([...reg.paths, "/srv/sftp/bb"]) });
    expect(t.paths).toEqual(["/srv/sftp/b"]);
    expect(t.files).toEqual([]);
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
