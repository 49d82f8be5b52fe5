import { ancestorProblem, planChroot, planChrootDelete, ruleViolation } from "../../provider/plan/chrootDir";
import { PathStat } from "../../provider/observe/facts";
import { debian12 } from "./fixtures";

const dir = (path: string, uid = 0, mode = 0o755, gid = 0): PathStat => ({ path, exists: true, uid, gid, mode, type: "directory" });
const missing = (path: string): PathStat => ({ path, exists: false, uid: -1, gid: -1, mode: 0, type: "missing" });

function facts(stats: PathStat[]) {
  const f = debian12({
    groups: [{ name: "sftponly", gid: 2001, members: [] }],
    users: [{ name: "alice", uid: 3001, gid: 2001, home: "/srv/sftp/alice", shell: "/usr/sbin/nologin" }],
  });
  for (const s of stats) f.paths[s.path] = s;
  return f;
}

const want = {
  path: "/srv/sftp/alice",
  group: "root",
  mode: "0755",
  fixAncestors: false,
  subdirs: [{ path: "upload", owner: "alice", group: "sftponly", mode: "0755" }],
};

describe("ChrootDir planner", () => {
  it("creates missing components root-owned, then the jail, then the user's upload dir", () => {
    const f = facts([missing("/srv/sftp"), missing("/srv/sftp/alice"), missing("/srv/sftp/alice/upload")]);
    const p = planChroot(want, f);
    expect(p.createdAncestors).toEqual(["/srv/sftp"]);
    // Each through the no-follow library: the parent walked with its first N components required to be root's.
    expect(p.steps.map((s) => s.script)).toEqual([
      "sj_dir /srv/sftp 1 root root 0755",
      "sj_dir /srv/sftp/alice 2 root root 0755",
      "sj_dir /srv/sftp/alice/upload 3 alice sftponly 0755",
    ]);
  });

  it("plans nothing when the host matches", () => {
    const f = facts([dir("/srv/sftp"), dir("/srv/sftp/alice"), dir("/srv/sftp/alice/upload", 3001, 0o755, 2001)]);
    expect(planChroot(want, f).steps).toEqual([]);
  });

  it("repairs a jail made group-writable by hand, and only that", () => {
    const f = facts([dir("/srv/sftp"), dir("/srv/sftp/alice", 0, 0o775), dir("/srv/sftp/alice/upload", 3001, 0o755, 2001)]);
    expect(planChroot(want, f).steps.map((s) => s.script)).toEqual(["sj_dir /srv/sftp/alice 2 root root 0755"]);
  });

  it("names a bad ancestor and the fix, unless asked to fix ancestors", () => {
    const f = facts([dir("/srv/sftp", 1000, 0o775), missing("/srv/sftp/alice"), missing("/srv/sftp/alice/upload")]);
    const e = ancestorProblem(want, f);
    expect(e?.what).toMatch(/\/srv\/sftp is owned by uid 1000, not root/);
    expect(e?.fix).toMatch(/chown root:root \/srv\/sftp && chmod go-w \/srv\/sftp.*fixAncestors: true/);
    const fixed = planChroot({ ...want, fixAncestors: true }, f);
    expect(fixed.steps.slice(0, 2).map((s) => s.script)).toEqual(["sj_chown_dir /srv/sftp 1 root", "sj_chmod_dir /srv/sftp 1 go-w"]);
  });

  it("refuses symlinks in the path", () => {
    expect(ruleViolation({ ...dir("/srv"), type: "symlink" })).toMatch(/symbolic link/);
  });

  it("refuses an upload dir whose owner does not exist yet, saying to create the user first", () => {
    const f = facts([dir("/srv/sftp"), dir("/srv/sftp/alice"), missing("/srv/sftp/alice/upload")]);
    expect(() => planChroot({ ...want, subdirs: [{ path: "upload", owner: "bob", group: "sftponly", mode: "0755" }] }, f)).toThrow(
      /user "bob".*does not exist/,
    );
  });

  it("never deletes files on destroy unless asked: a non-empty jail is moved to the retained area", () => {
    const [step] = planChrootDelete({ path: "/srv/sftp/alice", subdirs: [{ path: "upload" }], createdAncestors: [], onDelete: "retain" }, "20261126T000000.0a1b2c3d");
    expect(step.script).toContain("sj_rmdir /srv/sftp/alice/upload 3 || true");
    expect(step.script).toMatch(/sj_to=\/var\/lib\/sftp-jail\/retained\/srv_sftp_alice\.20261126T000000\.[0-9a-f]{8}\n/);
    // On another filesystem than the retained area: beside the jail, in a root-only directory (a rename, never a copy).
    expect(step.script).toMatch(/sj_dir \/srv\/sftp\/\.sftp-jail-retained 2 root root 0700 \|\| exit \$\?\n\s+sj_to=\/srv\/sftp\/\.sftp-jail-retained\/srv_sftp_alice\.20261126T000000\.[0-9a-f]{8}\n/);
    // A move that fails fails the step; "retained" is said only after it.
    expect(step.script).toMatch(/sj_mvdir \/srv\/sftp\/alice 2 "\$sj_to" \|\| exit \$\?\n\s+echo "retained files of \/srv\/sftp\/alice in \$sj_to" >&2/);
    expect(step.script).not.toMatch(/sj_rmtree|rm -rf/);
    const [del] = planChrootDelete({ path: "/srv/sftp/alice", subdirs: [], createdAncestors: [], onDelete: "delete" }, "x");
    // Sessions chrooted into the jail end before the delete and after it (one that began meanwhile).
    expect(del.script).toBe(
      'if [ -e /srv/sftp/alice ] || [ -L /srv/sftp/alice ]; then sj_ji=$(stat -c %d:%i -- /srv/sftp/alice); sj_endroot "$sj_ji"; sj_rmtree /srv/sftp/alice 2 || exit $?; sj_endroot "$sj_ji"; fi',
    );
  });

  it("refuses to delete or retain a jail that holds another jail sftp-jail made (an inner chroot or its parents), never its own subdirectories", () => {
    const d = { path: "/srv/sftp/outer", subdirs: [{ path: "data/in" }], createdAncestors: [], onDelete: "delete" as const };
    const recorded = ["/srv/sftp/outer/data", "/srv/sftp/outer/data/in", "/srv/sftp/outerx", "/srv/sftp/outer/inner", "/srv/sftp/outer/inner/upload"];
    for (const onDelete of ["delete", "retain"] as const) {
      expect(() => planChrootDelete({ ...d, onDelete }, "x", recorded)).toThrow(`/srv/sftp/outer holds /srv/sftp/outer/inner, /srv/sftp/outer/inner/upload, which sftp-jail created for another jail`);
    }
    expect(planChrootDelete(d, "x", recorded.filter((p) => !p.includes("inner")))[0].script).toContain("sj_rmtree /srv/sftp/outer 2");
  });

  it("removes the ancestors sftp-jail created deepest first, each only while empty and still root's", () => {
    const plan = planChrootDelete({ path: "/srv/jails/base/alice", subdirs: [], createdAncestors: ["/srv/jails", "/srv/jails/base", "/srv/jails"], onDelete: "retain" }, "x");
    const last = plan[plan.length - 1];
    expect(last.description).toBe("remove directories sftp-jail created for chroots (/srv/jails/base, /srv/jails) where empty");
    expect(last.script).toBe("{ sj_rmdir_root /srv/jails/base 2 || true; }\n{ sj_rmdir_root /srv/jails 1 || true; }");
    expect(last.effects.paths).toEqual(["/srv/jails/base", "/srv/jails"]);
  });

  it("gives nested writable directories their listed owner on the first converge (data before data/in)", () => {
    const f = facts([dir("/srv/sftp"), dir("/srv/sftp/alice"), missing("/srv/sftp/alice/data"), missing("/srv/sftp/alice/data/in"), missing("/srv/sftp/alice/data/app"), missing("/srv/sftp/alice/data/app/log")]);
    const rw = (path: string) => ({ path, owner: "alice", group: "sftponly", mode: "0755" });
    // Listed child first on purpose: the planner orders parents first, and never resets a listed parent to root.
    const p = planChroot({ ...want, subdirs: [rw("data/in"), rw("data"), rw("data/app/log")] }, f);
    expect(p.steps.map((s) => s.script)).toEqual([
      "sj_dir /srv/sftp/alice/data 3 alice sftponly 0755",
      "sj_dir /srv/sftp/alice/data/in 3 alice sftponly 0755",
      "sj_dir /srv/sftp/alice/data/app 3 root root 0755",
      "sj_dir /srv/sftp/alice/data/app/log 3 alice sftponly 0755",
    ]);
  });
});
