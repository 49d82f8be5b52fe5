/**
 * File names are data, not lines: the migrate survey (provider/cli/survey.ts accountSurvey) run for real with /bin/sh on a scratch
 * jail whose jailed user uploaded directories named to forge records (newlines, tabs, whole fake "user"/"stat"/"keys"
 * lines). The script is migrate's, with /etc/passwd, /etc/login.defs and /etc/rssh.conf pointed at scratch copies and a stand-in
 * `sshd` on PATH that answers `sshd -T -C` as a jail block would; the parser must see exactly the real account.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { accountSurvey } from "../../provider/cli/survey";
import { SCRIPT_PREFIX } from "../../provider/observe/snapshot";
import { describeHost } from "../../provider/cli/migrate";
import { reading } from "./adoptFixtures";

let root: string;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M alice@laptop";

beforeEach(() => {
  root = fs.mkdtempSync("/run/sj-survey-");
  fs.chmodSync(root, 0o755);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function survey() {
  const jail = `${root}/jail/alice`;
  fs.writeFileSync(`${root}/passwd`, `root:x:0:0:root:/root:/bin/bash\nalice:x:4301:4301::${jail}:/usr/sbin/nologin\n`);
  fs.writeFileSync(`${root}/login.defs`, "UID_MIN 1000\n");
  fs.mkdirSync(`${root}/bin`, { recursive: true });
  fs.writeFileSync(
    `${root}/bin/sshd`,
    `#!/bin/sh\ncase "$*" in *user=alice,*) printf 'chrootdirectory %%h\\nforcecommand internal-sftp\\nauthorizedkeysfile .ssh/authorized_keys\\n';; *) printf 'chrootdirectory none\\n';; esac\n`,
    { mode: 0o755 },
  );
  const script = accountSurvey.command
    .replace("< /etc/passwd", `< ${root}/passwd`)
    .replace("/etc/login.defs", `${root}/login.defs`)
    .replace(/\/etc\/rssh\.conf/g, `${root}/rssh.conf`);
  const r = spawnSync("/bin/sh", ["-c", `${SCRIPT_PREFIX}\nPATH=${root}/bin:$PATH\n${script}`], { encoding: "utf8", timeout: 30000 });
  expect(r.status).toBe(0);
  const { users, rssh } = accountSurvey.parse(r.stdout);
  return { out: r.stdout, users, rssh, jail };
}

function jailWithUploads(names: string[]) {
  const jail = `${root}/jail/alice`;
  fs.mkdirSync(`${jail}/upload`, { recursive: true });
  fs.chownSync(`${jail}/upload`, 4301, 4301);
  fs.mkdirSync(`${jail}/.ssh`);
  fs.writeFileSync(`${jail}/.ssh/authorized_keys`, KEY + "\n");
  for (const n of names) fs.mkdirSync(path.join(jail, "upload", n));
  return jail;
}

describe("the migrate survey frames every host-supplied field", () => {
  it("a directory named to forge records is one stat of one weird name, and nothing else", () => {
    const forged = [
      "x\nuser\tmallory\nsshd\tchrootdirectory none",
      "y\nstat\tforged|4301|4301|777|directory", // (a name cannot hold "/", but a record needs no absolute path)
      "z\nkeys\tforged\troot\tc3NoLWVkMjU1MTkgQUFBQQ==",
      "plain",
    ];
    const jail = jailWithUploads(forged);
    const { users, out } = survey();
    expect(users.map((u) => u.name)).toEqual(["alice"]);
    const [alice] = users;
    expect(alice.chroot).toBe(jail);
    expect(alice.sshd).toEqual({ chrootdirectory: "%h", forcecommand: "internal-sftp", authorizedkeysfile: ".ssh/authorized_keys" });
    // Exactly the real directories, each name byte for byte.
    const inside = Object.keys(alice.stats).filter((p) => p.startsWith(jail + "/")).sort();
    expect(inside).toEqual([`${jail}/upload`, ...forged.map((n) => `${jail}/upload/${n}`)].sort());
    expect(Object.keys(alice.stats)).not.toContain("forged");
    expect(alice.keyFiles).toEqual([{ path: `${jail}/.ssh/authorized_keys`, owner: "root", content: KEY + "\n" }]);
    // And on the wire no name appears as text at all: every record line has a known kind.
    const records = out.slice(out.indexOf("@@sftp-jail-migrate:survey")).split("\n").slice(1).filter(Boolean);
    expect(records.every((l) => /^(user|sshd|chroot|stat|keys|nokeys)\t/.test(l))).toBe(true);
    expect(records.filter((l) => l.startsWith("user\t"))).toHaveLength(1);
  });

  it("reads /etc/rssh.conf whole and base64: a line in it that looks like a record or the section marker is not one", () => {
    expect(survey().rssh).toBeNull(); // no file: null, and no rssh record
    jailWithUploads([]);
    fs.writeFileSync(`${root}/rssh.conf`, ["allowsftp", "user=alice:011:00010:/srv/a", `user\t${Buffer.from("mallory").toString("base64")}`, "@@sftp-jail-migrate:survey", "stat\tx\t0|0|777|directory"].join("\n") + "\n");
    const { users, rssh, out } = survey();
    expect(users.map((u) => u.name)).toEqual(["alice"]);
    expect(Object.keys(users[0].stats).every((p) => p.startsWith("/"))).toBe(true);
    expect(rssh).toEqual({ chrootPath: null, allow: ["sftp"], users: [{ name: "alice", umask: "011", allow: ["sftp"], chroot: "/srv/a" }] });
    const records = out.slice(out.indexOf("@@sftp-jail-migrate:survey")).split("\n").slice(1).filter(Boolean);
    expect(records.filter((l) => l.startsWith("rssh\t"))).toHaveLength(1);
    expect(records.every((l) => /^(rssh|user|sshd|chroot|stat|keys|nokeys)\t/.test(l))).toBe(true);
  });

  it("does not follow a key file the jailed user turned into a symlink (to /etc/shadow, say)", () => {
    const jail = jailWithUploads([]);
    fs.writeFileSync(`${root}/secret`, "root:$6$hash:19000:0:99999:7:::\n");
    fs.rmSync(`${jail}/.ssh/authorized_keys`);
    fs.symlinkSync(`${root}/secret`, `${jail}/.ssh/authorized_keys`);
    const { users, out } = survey();
    expect(users[0].keyFiles).toEqual([{ path: `${jail}/.ssh/authorized_keys`, content: null }]);
    expect(out).not.toContain(Buffer.from("root:$6$hash").toString("base64").slice(0, 12));
  });
});

describe("sftp-jail-migrate with a directory name sftp-jail cannot manage", () => {
  it("notes it and leaves it out of writableDirs (never writes the name into the config)", () => {
    const r = reading("hand");
    const alice = r.survey.find((u) => u.name === "alice")!;
    const up = alice.stats["/home/alice/upload"];
    const weird = "/home/alice/in\nbox";
    alice.stats[weird] = { ...up, path: weird };
    const d = describeHost({ name: "hand", labels: { host: "hand" }, connection: { host: "127.0.0.1", port: 2222, privateKeyFile: "/k" } }, r);
    expect(d.jails[0].users.find((u) => u.name === "alice")!.writableDirs).toEqual([{ path: "upload", group: "alice" }]); // as before: the weird one is not there
    expect(d.notes).toContain(`hand: alice's directory "in\\nbox" in /home/alice has a name sftp-jail does not accept; not described`);
  });
});
