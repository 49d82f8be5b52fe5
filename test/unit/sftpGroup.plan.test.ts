import { planGroupCreate, planGroupDelete, planGroupUpdate } from "../../provider/plan/sftpGroup";
import { PlanError } from "../../provider/plan/types";
import { debian12 } from "./fixtures";

describe("SftpGroup planner", () => {
  const facts = debian12();

  it("creates a missing group with the pinned gid", () => {
    const p = planGroupCreate({ name: "sftponly", gid: 2001, system: false }, facts);
    expect(p.adopted).toBe(false);
    expect(p.steps.map((s) => s.script)).toEqual(["groupadd --gid 2001 -- sftponly"]);
  });

  it("adopts an existing group that matches, with no steps", () => {
    const p = planGroupCreate({ name: "users", gid: 100, system: false }, facts);
    expect(p).toEqual({ steps: [], adopted: true });
  });

  it("refuses to adopt a group whose gid differs, naming both gids", () => {
    expect(() => planGroupCreate({ name: "users", gid: 2001, system: false }, facts)).toThrow(/gid 100, not the requested 2001/);
  });

  it("refuses a gid another group holds", () => {
    expect(() => planGroupCreate({ name: "sftponly", gid: 100, system: false }, facts)).toThrow(/used by group "users"/);
  });

  it("changes a gid in place with groupmod", () => {
    const f = debian12({ groups: [{ name: "sftponly", gid: 2001, members: [] }] });
    expect(planGroupUpdate({ name: "sftponly", gid: 2002, system: false }, f).map((s) => s.script)).toEqual([
      "groupmod --gid 2002 -- sftponly",
    ]);
  });

  it("plans nothing when the host already matches", () => {
    const f = debian12({ groups: [{ name: "sftponly", gid: 2001, members: [] }] });
    expect(planGroupUpdate({ name: "sftponly", gid: 2001, system: false }, f)).toEqual([]);
  });

  it("recreates a group deleted by hand", () => {
    expect(planGroupUpdate({ name: "sftponly", gid: 2001, system: false }, facts).map((s) => s.script)).toEqual([
      "groupadd --gid 2001 -- sftponly",
    ]);
  });

  it("deletes, but not a group that is some user's primary group", () => {
    const f = debian12({ groups: [{ name: "sftponly", gid: 2001, members: [] }] });
    expect(planGroupDelete("sftponly", f).map((s) => s.script)).toEqual(["groupdel -- sftponly"]);
    const g = debian12({
      groups: [{ name: "sftponly", gid: 2001, members: [] }],
      users: [{ name: "alice", uid: 3001, gid: 2001, home: "/srv/alice", shell: "/usr/sbin/nologin" }],
    });
    expect(() => planGroupDelete("sftponly", g)).toThrow(PlanError);
    expect(planGroupDelete("absent", facts)).toEqual([]);
  });

  // A missing groupadd (or any command the steps use) is a host precondition, judged once for every resource of the
  // host before its first change: test/unit/preconditions.test.ts.
});
