/**
 * The host-side record of what sftp-jail created (issue 11, item 6), end to end: a `pulumi up` of a whole jail (group,
 * Match block, firewall rule, users, chroots) is cut mid-converge by a network fault (netfault's approach), and its
 * checkpoint is then lost (the stack's state is put back to the empty one it had before the run). The re-run must take
 * back everything the cut run created as sftp-jail's own, from the host's record, and `pulumi destroy` must then leave
 * the host exactly as it was before the first run: /etc/passwd, group, shadow, gshadow, subuid, subgid, every file
 * under /etc/ssh, the nft ruleset, and owners, modes and names of every path under /srv and /etc/ssh.
 *
 * The record never makes the admin's things sftp-jail's: an account and a jail directory the cut run created and that
 * were then replaced by hand (another uid, another inode) are adopted by the re-run, their stale entries dropped, and
 * deleting their resources leaves them (the account is taken out of the program first: while it is in the jail's
 * group, removing the jail's Match block would un-jail it, which sftp-jail refuses).
 *
 * Fault injection: `useradd` and `install` (each directory's owner and mode) are slowed down on the host (wrappers in
 * /usr/local, first on the PATH of sftp-jail's scripts), so the users and chroots phase lasts seconds and the cut lands
 * inside it.
 */
import * as fs from "fs";
import * as path from "path";
import * as os from "os";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { PulumiProject, hostMessages, summary } from "./pulumi";
import { RECORD_FILE, recordFact } from "../../provider/observe/record";
import { cutForwarder, processes, quiet, restoreForwarder } from "./netcut";

jest.setTimeout(5 * 60_000);

const USERS = ["reca", "recb", "recc", "recd", "rece"];
const BASE = "/srv/rec";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
/** The host before the first run (see {@link hostState}). */
let before: string;
/** The stack's state before the first run: what a lost checkpoint leaves. */
let emptyState: string;

/**
 * Everything a destroy must give back: account files, every file under /etc/ssh (sshd_config, drop-ins, key files), the
 * firewall (nft, which iptables-nft also writes to; counters dropped), and every path under /srv and /etc/ssh with its
 * type, owner and mode. (/var/lib/sftp-jail, sftp-jail's own bookkeeping — the manifest and the record —, is not a
 * managed tree.)
 */
const hostState = async () =>
  (
    await h.console(
      [
        "cd /etc && sha256sum passwd group shadow gshadow subuid subgid",
        "find /etc/ssh -type f -exec sha256sum {} + | sort -k 2",
        "nft list ruleset | sed 's/counter packets [0-9]* bytes [0-9]*/counter/'",
        "find /srv /etc/ssh -xdev -printf '%p %y %u:%g %m\\n' | sort",
      ].join(" && "),
    )
  ).stdout;

/** What the host has of the jail: accounts (with their uids), chroots, the group, the block file, our firewall rule. */
async function onHost() {
  const sh = async (c: string) => (await h.console(c)).stdout.split("\n").filter(Boolean);
  return {
    users: await sh(`getent passwd ${USERS.join(" ")} | cut -d: -f1 || true`),
    chroots: await sh(`cd ${BASE} 2>/dev/null && ls -1 || true`),
    group: (await sh("getent group sftprec || true")).length === 1,
    block: (await sh("ls /etc/ssh/sshd_config.d/ | grep sftp-jail || true")).length === 1,
    rule: (await sh("iptables-save 2>/dev/null | grep -c 'sftp-jail:' || true"))[0] === "1",
  };
}

/** The provider's messages about this host in a run's diagnostics, one per step apply ran (see hostMessages). */
const messages = (out: string) => hostMessages(out, h.port);

beforeAll(async () => {
  sb = await startSandbox(["rec-1"]);
  h = sb.hosts[0];
  await h.console("printf '#!/bin/sh\\nsleep 0.5\\nexec /usr/sbin/useradd \"$@\"\\n' > /usr/local/sbin/useradd && chmod 755 /usr/local/sbin/useradd");
  // A directory's owner and mode (util/hostpath.ts sj_dir): each jail directory takes a moment after it appears.
  await h.console("printf '#!/bin/sh\\nsleep 0.3\\nexec /usr/bin/install \"$@\"\\n' > /usr/local/bin/install && chmod 755 /usr/local/bin/install");
  before = await hostState();
  expect(before).not.toMatch(/table |sftp-jail/); // no ruleset and nothing of sftp-jail's yet
  p = await PulumiProject.create("record");
  emptyState = await p.exportState();
  configure(USERS);
});

/** The program: one host, a jail of `users` with its firewall opening. */
function configure(users: string[]): void {
  const key = fs.readFileSync(`${sb.keyPath}.pub`, "utf8").trim();
  p.setConfig({
    hosts: [
      {
        name: "r1",
        // Short dials so the cut run fails promptly; a short dead-man timer, so the host settles soon after a cut.
        connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey, dialErrorLimit: 3, perDialTimeout: 5, revertAfterSeconds: 10 },
      },
    ],
    // The firewall opening goes into an empty ruleset: iptables-nft creates `table ip filter` for it, which destroy
    // must remove again.
    jails: [{ group: { name: "sftprec", gid: 2700 }, chrootBase: BASE, users: users.map((name) => ({ name, keys: [key] })), firewall: { port: 22, state: ["NEW"] } }],
  });
}

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  await sb?.stop();
});

/** What the cut run left on the host (read once it settled). */
let cut: Awaited<ReturnType<typeof onHost>>;
/** Replaced by hand between the runs: an account and a jail directory the cut run had created. */
let handUser = "";
let handJail = "";

test("a run cut mid-converge whose checkpoint is lost: the re-run takes back everything the cut run created, from the host's record", async () => {
  const idle = await processes(h);
  const running = p.up();
  // Cut once the first jail directory exists: group, block, firewall rule and some users are in place, more to come.
  for (let i = 0; i < 1200 && (await onHost()).chroots.length < 1; i++) await sleep(50);
  cutForwarder(h);
  const first = await running;
  expect(first.code).not.toBe(0);
  expect(first.stdout + first.stderr).toMatch(/the connection closed before the command finished|could not connect after 3 attempts|could not open an exec channel/);
  await restoreForwarder(h);
  await quiet(h, idle); // every session, slowed useradd and dead-man timer of the cut run has ended
  cut = await onHost();
  console.log(`cut with ${cut.users.length}/${USERS.length} accounts and ${cut.chroots.length}/${USERS.length} jails on the host`);
  expect(cut).toMatchObject({ group: true, block: true, rule: true });
  expect(cut.users.length).toBeGreaterThanOrEqual(1);
  expect(cut.chroots.length).toBeGreaterThanOrEqual(1);
  expect(cut.chroots.length).toBeLessThan(USERS.length); // really cut mid-converge
  // Read as every snapshot reads it: the steps' log folded in (the cut exec may have died before its fold).
  const record = (await h.console(`stat -c '%U:%G %a' ${RECORD_FILE} && ${recordFact.command}`)).stdout;
  expect(record).toMatch(/^root:root 600\n/);
  expect(record).toMatch(/^g sftprec 2700 [\w.-]+\/record$/m); // stamped with the stack that created it
  expect(record).toMatch(/^n ip:filter \d+ [\w.-]+\/record$/m);
  for (const u of cut.users) expect(record).toMatch(new RegExp(`^u ${u} \\d+ [\\w.-]+/record$`, "m"));
  for (const c of cut.chroots) expect(record).toMatch(new RegExp(`^d ${BASE}/${c} \\d+:\\d+\\.\\d{9} [\\w.-]+/record$`, "m"));

  // The checkpoint is lost: the stack's state is the empty one it had before the run.
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sj-record-")), "empty.json");
  fs.writeFileSync(file, emptyState);
  await p.run(["stack", "import", "--file", file], { check: true });
  fs.rmSync(path.dirname(file), { recursive: true });

  // Replaced by hand meanwhile (the record must not make them sftp-jail's): one account, with another uid and no
  // sftp-jail comment (in the group as a supplementary member), and one jail directory (another inode).
  handUser = cut.users[0];
  handJail = `${BASE}/${cut.chroots[cut.chroots.length - 1]}`;
  await h.console(`userdel ${handUser} && /usr/sbin/useradd -M -N -g users -G sftprec -u 2790 -d ${BASE}/${handUser} -s /usr/sbin/nologin ${handUser}`);
  await h.console(`{ rmdir ${handJail}/upload 2>/dev/null || true; } && rmdir ${handJail} && mkdir -m 0755 ${handJail}`);

  const again = await p.up();
  expect(again.stdout + again.stderr).not.toMatch(/error:/);
  expect(again.code).toBe(0);
  const msgs = messages(again.stdout);
  const tookBack = msgs.filter((l) => /took back/.test(l));
  const adopted = msgs.filter((l) => /adopted/.test(l));
  // Everything the cut run created, as sftp-jail's own; nothing of it adopted, except what was replaced by hand.
  expect(tookBack.filter((l) => /^SftpGroup "sftprec": took back the group \(gid 2700\) that sftp-jail created/.test(l))).toHaveLength(1);
  expect(tookBack.filter((l) => /^SshdMatchBlock "[^"]+": Match Group sftprec in \/etc\/ssh\/sshd_config\.d\/\d\d-sftp-jail-[^ ]+\.conf \(took back the block that sftp-jail wrote/.test(l))).toHaveLength(1);
  expect(tookBack.filter((l) => /^FirewallRule "[^"]+": took back the rule that sftp-jail inserted/.test(l))).toHaveLength(1);
  const users = cut.users.filter((u) => u !== handUser);
  expect(tookBack.filter((l) => /^JailedUser "[^"]+": took back the account /.test(l)).map((l) => /^JailedUser "([^"]+)"/.exec(l)![1]).sort()).toEqual(users.sort());
  // Each user's jail is its JailedUser's (one resource per user).
  const jails = cut.chroots.map((c) => `${BASE}/${c}`).filter((c) => c !== handJail);
  expect(tookBack.filter((l) => /^JailedUser "[^"]+": took back the jail /.test(l)).map((l) => /^JailedUser "([^"]+)": took back the jail (\S+)/.exec(l)!.slice(1).join(" ")).sort()).toEqual(
    jails.map((j) => `${j.split("/").pop()} ${j}`).sort(),
  );
  const handJailUser = handJail.split("/").pop()!;
  expect(adopted.map((l) => l.replace(/changing \d thing/, "changing N thing")).sort()).toEqual(
    [
      `JailedUser "${handJailUser}": adopted the existing jail ${handJail}, which sftp-jail did not create (it is not in the host's record); destroy leaves it and its files in place`,
      // Its password field ("!" from useradd becomes "*"), and its key file if the cut came before it was written.
      `JailedUser "${handUser}": adopted the existing account (uid 2790), which sftp-jail did not create (it is not in the host's record), changing N thing(s); destroy keeps it`,
    ].sort(),
  );
  // The record entries of the replaced account and directory no longer held: dropped, not turned into the admin's.
  expect(msgs).toContain(`JailedUser "${handUser}": forget the host's record of ${handUser}: sftp-jail created it, but it was removed or replaced by hand since`);
  expect(msgs.filter((l) => l.startsWith(`JailedUser "${handJailUser}": forget the host's record of ${handJail}`))).toEqual([
    expect.stringMatching(new RegExp(`^JailedUser "${handJailUser}": forget the host's record of ${handJail}(, ${handJail}/upload: sftp-jail created them, but they were|: sftp-jail created it, but it was) removed or replaced by hand since$`)),
  ]);
  // What the cut run never got to is created as usual.
  expect(msgs.filter((l) => /: create user /.test(l)).length).toBe(USERS.length - cut.users.length);
});

test("the next preview --refresh shows no change", async () => {
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(summary(pv.stdout).create ?? 0).toBe(0);
  expect(summary(pv.stdout).update ?? 0).toBe(0);
});

test("the admin's account is the admin's: dropping its JailedUser from the program keeps it", async () => {
  configure(USERS.filter((u) => u !== handUser));
  const up = await p.up();
  expect(up.stdout + up.stderr).not.toMatch(/error:/);
  expect(up.code).toBe(0);
  expect(messages(up.stdout)).not.toContainEqual(expect.stringMatching(/delete user/));
  expect((await h.console(`getent passwd ${handUser} | cut -d: -f3`)).stdout.trim()).toBe("2790");
  // Still in the jail's group, so still jailed by the block; the admin now removes it, as they would.
  await h.console(`userdel ${handUser}`);
});

test("destroy leaves the host exactly as it was before the first run, but for the jail directory the admin made by hand", async () => {
  const d = await p.destroy();
  expect(d.stdout + d.stderr).not.toMatch(/error:/);
  expect(d.code).toBe(0);
  // The hand-made jail directory is the admin's: still there. /srv/rec too, since it holds that jail (sftp-jail
  // created it, so the record still lists it: the next destroy that finds it empty removes it). Nothing else is left
  // in the record.
  expect((await h.console(`stat -c '%F %U %a' ${handJail}`)).stdout.trim()).toBe("directory root 755");
  expect((await h.console("cat /var/lib/sftp-jail/.created")).stdout).toMatch(new RegExp(`^d ${BASE} \\d+:\\d+\\.\\d{9} [\\w.-]+/record\\n$`));
  // The admin removes what they made; then the host is what it was, byte for byte.
  await h.console(`rmdir ${handJail} ${BASE}`);
  expect(await hostState()).toBe(before);
});
