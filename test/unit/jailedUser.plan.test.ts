import { spawn, spawnSync } from "child_process";
import { parseKeys, planUser, planUserDelete, renderKeys } from "../../provider/plan/jailedUser";
import { debian12 } from "./fixtures";

const KEY1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M alice@laptop";
const KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDZNw0DjWke+B1i7lM2cz9+rQmp0zpLbQiCkwHtrWV1c alice@phone";
const want = {
  name: "alice",
  group: "sftponly",
  extraGroups: [],
  home: "/srv/sftp/alice",
  authorizedKeys: [KEY1],
  keysDir: "/etc/ssh/sftp-jail/authorized_keys",
  keyOnly: true,
};
const group = { name: "sftponly", gid: 2001, members: [] as string[] };
const alice = { name: "alice", uid: 3001, gid: 100, home: "/srv/sftp/alice", shell: "/usr/sbin/nologin" };

describe("accounts sftp-jail never jails (one rule: isSystemUid)", () => {
  const { jailedUserShape } = require("../../provider/schema/jailedUser");
  const uid = (n: number) => jailedUserShape.uid.safeParse(n);

  it("refuses to adopt root's, the system range and nobody, and a new account's uid there", () => {
    for (const u of [{ name: "daemon", uid: 1 }, { name: "svc", uid: 999 }, { name: "nobody", uid: 65534 }]) {
      const f = debian12({ groups: [group], users: [{ ...alice, ...u, home: "/nonexistent" }] });
      expect(() => planUser({ ...want, name: u.name, home: `/srv/sftp/${u.name}` }, f)).toThrow(new RegExp(`"${u.name}" is an existing system account \\(uid ${u.uid}\\)`));
    }
    expect(() => planUser({ ...want, name: "alice" }, debian12({ groups: [group], users: [{ ...alice, uid: 1000 }] }))).not.toThrow();
    expect(uid(900).error?.issues[0].message).toMatch(/^uid must be 1000 or more \(and not 65534\)/);
    expect(uid(0).error?.issues.map((i: { message: string }) => i.message)).toEqual(["uid must be at least 1 (0 is root)"]);
    expect(uid(1000).success).toBe(true);
  });
});

describe("JailedUser planner", () => {
  it("creates a key-only user with the host's nologin and writes its key file atomically", () => {
    const f = debian12({ groups: [group] });
    const p = planUser(want, f);
    expect(p.adopted).toBe(false);
    const scripts = p.steps.map((s) => s.script);
    expect(scripts[0]).toBe(
      "useradd --no-create-home --home-dir /srv/sftp/alice --shell /usr/sbin/nologin --gid sftponly --password '*' --comment sftp-jail -- alice",
    );
    expect(scripts[1]).toBe("sj_dir /etc/ssh/sftp-jail 2 root root 0755 && sj_dir /etc/ssh/sftp-jail/authorized_keys 3 root root 0755");
    // Written inside the pinned, root-only key directory: only plain names after the walk.
    expect(scripts[2]).toMatch(/^\( sj_cd \/etc\/ssh\/sftp-jail\/authorized_keys && .*base64 -d; \} > \.\/alice\.sftp-jail\.tmp.*mv -fT \.\/alice\.sftp-jail\.tmp \.\/alice && \{ sync \. .*\)$/);
  });

  it.each(["!", "!!", "!*", "locked-hash"] as const)("turns a shadow field of %s into * (key login with UsePAM no)", (state) => {
    const f = debian12({ groups: [{ ...group, members: ["alice"] }], users: [alice] });
    f.shadow.alice = state;
    f.files["/etc/ssh/sftp-jail/authorized_keys/alice"] = renderKeys([KEY1]);
    f.paths["/etc/ssh/sftp-jail/authorized_keys"] = { path: "", exists: true, uid: 0, gid: 0, mode: 0o755, type: "directory" };
    expect(planUser(want, f).steps.map((s) => s.script)).toEqual(["usermod --password '*' -- alice"]);
  });

  it("adopts a hand-made user: adds group membership and shell, nothing else", () => {
    const f = debian12({ groups: [group], users: [{ ...alice, shell: "/bin/bash" }] });
    f.shadow.alice = "*";
    f.files["/etc/ssh/sftp-jail/authorized_keys/alice"] = renderKeys([KEY1]);
    const p = planUser(want, f);
    expect(p.adopted).toBe(true);
    expect(p.steps.map((s) => s.script)).toEqual([
      "usermod --shell /usr/sbin/nologin -- alice",
      "usermod --append --groups sftponly -- alice",
    ]);
  });

  it("a key change rewrites only the key file", () => {
    const f = debian12({ groups: [{ ...group, members: ["alice"] }], users: [alice] });
    f.shadow.alice = "*";
    f.files["/etc/ssh/sftp-jail/authorized_keys/alice"] = renderKeys([KEY1]);
    f.paths["/etc/ssh/sftp-jail/authorized_keys"] = { path: "", exists: true, uid: 0, gid: 0, mode: 0o755, type: "directory" };
    f.paths["/etc/ssh/sftp-jail"] = f.paths["/etc/ssh/sftp-jail/authorized_keys"];
    const steps = planUser({ ...want, authorizedKeys: [KEY1, KEY2] }, f).steps;
    expect(steps).toHaveLength(1);
    expect(steps[0].description).toBe("write 2 authorized key(s) of alice to /etc/ssh/sftp-jail/authorized_keys/alice");
  });

  it("refuses a uid held by someone else, and a missing group", () => {
    expect(() => planUser({ ...want, uid: 0 + 1 }, debian12({ groups: [group] }))).toThrow(/uid 1 is already used by user "daemon"/);
    expect(() => planUser(want, debian12())).toThrow(/group "sftponly" does not exist/);
  });

  it("deletes the account without its files, and leaves adopted accounts", () => {
    const f = debian12({ groups: [group], users: [alice] });
    f.files["/etc/ssh/sftp-jail/authorized_keys/alice"] = "";
    const [del, rm] = planUserDelete(want, false, f).map((s) => s.script);
    expect(del.split("\n").pop()).toBe("userdel -- alice");
    expect(rm).toBe("sj_rm /etc/ssh/sftp-jail/authorized_keys/alice 4");
    expect(planUserDelete(want, true, f).map((s) => s.script)).toHaveLength(1);
  });

  it("ends the account's sessions before userdel (which refuses an account with processes), and no one else's", async () => {
    const uid = 4343;
    const f = debian12({ groups: [group], users: [{ ...alice, uid }] });
    const kill = planUserDelete(want, false, f)[0].script.split("\n").slice(0, -1).join("\n");
    const theirs = spawn("sleep", ["60"], { uid, gid: uid, stdio: "ignore" });
    const others = spawn("sleep", ["60"], { uid: uid + 1, gid: uid + 1, stdio: "ignore" });
    const ended = new Promise<string | null>((resolve) => theirs.on("exit", (_c, sig) => resolve(sig)));
    await new Promise((r) => setTimeout(r, 200));
    expect(spawnSync("sh", ["-c", kill]).status).toBe(0);
    expect(await ended).toBe("SIGKILL");
    expect(others.exitCode).toBeNull();
    others.kill("SIGKILL");
  });

  it("reads keys as sshd does", () => {
    expect(parseKeys(`# managed\n${KEY1}\n\n${KEY2}\n`)).toEqual([KEY1, KEY2]);
  });
});

describe("putting an account back after a change left it un-jailed", () => {
  const { planUserRestore } = require("../../provider/plan/jailedUser");
  const { debian12 } = require("./fixtures");
  const facts = (home: string, shell: string, groups: string[], keys?: string) => {
    const f = debian12({
      groups: [{ name: "sftp", gid: 2200, members: groups.includes("sftp") ? ["acme"] : [] }, { name: "other", gid: 2201, members: groups.includes("other") ? ["acme"] : [] }],
      users: [{ name: "acme", uid: 1001, gid: 2200, home, shell }],
    });
    if (keys !== undefined) f.files["/etc/ssh/sftp-jail/authorized_keys/acme"] = keys;
    return f;
  };
  const d = { name: "acme", keysDir: "/etc/ssh/sftp-jail/authorized_keys" };

  it("sets back exactly what differs: home, shell, supplementary groups, the key file", () => {
    const before = facts("/srv/sftp/acme", "/usr/sbin/nologin", ["sftp"], "k1\n");
    const after = facts("/srv/other", "/bin/bash", ["other"], "k2\n");
    const steps = planUserRestore(d, before, after);
    expect(steps[0].script).toBe("usermod --home /srv/sftp/acme --shell /usr/sbin/nologin --groups sftp -- acme");
    expect(steps[1].description).toBe("put the keys of acme back");
    expect(planUserRestore(d, before, before)).toEqual([]);
    // A key file the change created goes again.
    expect(planUserRestore(d, facts("/srv/sftp/acme", "/usr/sbin/nologin", ["sftp"]), before).map((s: { script: string }) => s.script)).toEqual([
      "sj_rm /etc/ssh/sftp-jail/authorized_keys/acme 4",
    ]);
  });
});
