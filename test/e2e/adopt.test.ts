/**
 * Issue 5's proof, "Adoption and migration", on real sandbox hosts through the real pulumi CLI:
 *
 * 1. A jail made by hand exactly as an admin does it (useradd -m, usermod -G sftp, chsh nologin, chown root + chmod
 *    750 homes, an upload dir, keys in ~/.ssh/authorized_keys, a Match block appended to sshd_config, an iptables
 *    ACCEPT for port 22 before a REJECT, files already uploaded) is adopted by the equivalent (hardened) program's
 *    first `pulumi up`: no replace, no delete, and only what sftp-jail deliberately does differently changes — keys
 *    move to root-owned files outside the jail, the password field becomes "*", the hand-written Match block gains
 *    the jail's missing directives in place. Uploads are untouched, everyone still logs in, the next preview
 *    --refresh is empty, and destroy leaves the accounts and files and puts sshd_config back byte for byte.
 * 2. `sftp-jail-migrate` reads two more hand-made hosts (one with /etc/rssh.conf leftovers, per-user chroot paths,
 *    its block in a drop-in, a source/state-limited firewall rule) in one exec each, and writes the stack config that
 *    describes them as they are. `pulumi up` with it creates the resources in state and changes NOTHING on the
 *    hosts: no provider step is logged, no file anywhere is modified, rulesets and checksums are identical.
 */
import * as fs from "fs";
import * as path from "path";
import { Sandbox, SandboxHost, run, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { handMadeJail, rsshLeftovers } from "./handmade";
import { PulumiProject, ROOT, RunResult, hostMessages, summary } from "./pulumi";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: { load(s: string): unknown } = require("js-yaml");

jest.setTimeout(10 * 60_000);

let sb: Sandbox;
let hand: SandboxHost; // part 1
let mig: SandboxHost; // part 2, same recipe as `hand`
let rssh: SandboxHost; // part 2, rssh leftovers and other variations
let c: Clients;
const keys: Record<string, string> = {};
let p1: PulumiProject;
let p2: PulumiProject;

/** Everything adoption could touch: accounts, sshd config, ruleset, and every jail's tree with owners, modes, checksums. */
const FINGERPRINT = [
  "cd /",
  "sha256sum etc/passwd etc/group etc/shadow etc/gshadow",
  "find etc/ssh -type f | sort | xargs sha256sum",
  "iptables-save | grep -v '^#'",
  "find home srv data -xdev -printf '%p %u:%g %m\\n' 2>/dev/null | sort",
  "find home srv data -xdev -type f -exec sha256sum {} + 2>/dev/null | sort",
].join("; ");
const fingerprint = async (h: SandboxHost) => (await h.console(FINGERPRINT)).stdout;

/**
 * Files and directories modified since `mark()` anywhere on the host's root filesystem (the mount points of the
 * tmpfs /run and /tmp excluded: creating the marker itself changes /run).
 */
const mark = (h: SandboxHost) => h.console("touch /run/adopt-marker && sleep 1");
const touched = async (h: SandboxHost, type = "") =>
  (await h.console(`find / -xdev ${type} -newer /run/adopt-marker ! -path /var/log/sshd.log ! -path /run ! -path /tmp | sort`)).stdout.split("\n").filter(Boolean);

/** The provider's messages about a host (see hostMessages): one per step apply ran; adoption notices say "adopted". */
const provider = (out: string, h: SandboxHost) => hostMessages(out, h.port);
/** Steps apply ran (every message that is not an adoption notice). */
const steps = (out: string, h: SandboxHost) => provider(out, h).filter((l) => !/: adopted /.test(l));

const connection = (h: SandboxHost) => ({ host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey });

async function ok(r: Promise<RunResult>, what: string): Promise<RunResult> {
  const x = await r;
  if (x.code !== 0) throw new Error(`pulumi ${what} failed (${x.code}):\n${x.stdout}\n${x.stderr}`);
  return x;
}

const sftpLs = (h: SandboxHost, user: string, dir = "/") => c.sftp(h, user, user, `ls -1 ${dir}\n`);

const timings: Record<string, number> = {};
async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await f();
  } finally {
    timings[what] = (Date.now() - t) / 1000;
  }
}

beforeAll(async () => {
  sb = await startSandbox(["adopt-hand-1", "adopt-mig-1", "adopt-rssh-1"]);
  [hand, mig, rssh] = sb.hosts;
  c = new Clients(sb.hosts);
  for (const u of ["alice", "bob", "carol", "dave"]) keys[u] = await c.keygen(u);
  const users = [
    { name: "alice", key: keys.alice },
    { name: "bob", key: keys.bob },
  ];
  await Promise.all([hand.console(handMadeJail(users)), mig.console(handMadeJail(users)), rssh.console(rsshLeftovers({ carol: keys.carol, dave: keys.dave }))]);
  // Files the jailed users uploaded before sftp-jail ever saw the hosts.
  const report = c.file("report.csv", "a,b\n1,2\n");
  const blob = c.file("blob.bin", "x".repeat(200_000));
  for (const h of [hand, mig]) {
    expect((await c.sftp(h, "alice", "alice", `put ${report} upload/report.csv\nput ${blob} upload/blob.bin\n`)).code).toBe(0);
    expect((await c.sftp(h, "bob", "bob", `put ${report} upload/bob.csv\n`)).code).toBe(0);
  }
  expect((await c.sftp(rssh, "carol", "carol", `put ${report} incoming/report.csv\n`)).code).toBe(0);
  expect((await c.sftp(rssh, "dave", "dave", `put ${report} files/drop/report.csv\n`)).code).toBe(0);
  [p1, p2] = await Promise.all([PulumiProject.create("adopt"), PulumiProject.create("migrate")]);
});

afterAll(async () => {
  console.log(`adopt.test.ts timings (s): ${JSON.stringify(timings)}`);
  p1?.cleanup();
  p2?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

describe("1. the equivalent program adopts a hand-made jail", () => {
  const HOMES = "cd /home && find . -printf '%p %u:%g %m\\n' | sort && find . -type f -exec sha256sum {} + | sort";
  const RULES = "iptables-save | grep -v '^#'";
  let before: { sshdConfig: string; homes: string; rules: string; fingerprint: string };

  test("the first up creates every resource, replaces and deletes nothing, and changes only what sftp-jail does differently", async () => {
    before = {
      sshdConfig: (await hand.console("cat /etc/ssh/sshd_config")).stdout,
      homes: (await hand.console(HOMES)).stdout,
      rules: (await hand.console(RULES)).stdout,
      fingerprint: await fingerprint(hand),
    };
    expect((await hand.console("grep -E '^(alice|bob):' /etc/shadow | cut -d: -f1,2")).stdout).toBe("alice:!\nbob:!\n"); // useradd's
    // The program an admin writes for that jail: sftp-jail's defaults (keys outside the jail, "*"), plus what the
    // hand-made jail looks like where sftp-jail has no opinion (root:<user> 0750 homes, <user>-owned upload dirs).
    p1.setConfig({
      hosts: [{ name: "hand", connection: connection(hand) }],
      jails: [
        {
          group: { name: "sftp" },
          chrootBase: "/home",
          users: ["alice", "bob"].map((u) => ({ name: u, keys: [keys[u]], chroot: { group: u, mode: "0750" }, writableDirs: [{ path: "upload", group: u }] })),
          firewall: { port: 22 },
        },
      ],
    });
    await mark(hand);
    const up = await timed("part 1: up", () => ok(p1.up(), "up"));
    expect(summary(up.stdout)).toEqual({ create: 7 }); // stack, component, group, 2 users (each with its jail), Match block, firewall rule
    expect(up.stdout).not.toMatch(/replac|delet/i);

    const msgs = provider(up.stdout, hand);
    const KEYS_DIR = 'JailedUser "(alice|bob)": create /etc/ssh/sftp-jail, /etc/ssh/sftp-jail/authorized_keys \\(root:root 0755\\)';
    // Adopted as they were, with no step: the group, both jails (root:<user> 0750 + upload), the ACCEPT rule.
    // The key directory is created by whichever user's apply runs first (the other plans on the snapshot that apply
    // printed, or both if they plan on the same snapshot), so each changes 2 or 3 things.
    const normalise = (l: string) => l.replace(/\d{4}/g, "N").replace(/line \d+/, "line N").replace(/changing [23] thing/, "changing 2-3 thing");
    expect(msgs.filter((l) => new RegExp(KEYS_DIR).test(l)).length).toBeGreaterThanOrEqual(1);
    expect(msgs.filter((l) => / adopted /.test(l)).map(normalise).sort()).toEqual([
      'FirewallRule "hand-sftp-firewall": adopted the existing rule "ACCEPT tcp port 22 from any ipv4 address" in iptables filter INPUT as it is (no sftp-jail comment added; destroy leaves it)',
      'JailedUser "alice": adopted the existing account (uid N), which sftp-jail did not create (it is not in the host\'s record), changing 2-3 thing(s); destroy keeps it',
      'JailedUser "alice": adopted the existing jail /home/alice as it is, which sftp-jail did not create (it is not in the host\'s record); destroy leaves it and its files in place',
      'JailedUser "bob": adopted the existing account (uid N), which sftp-jail did not create (it is not in the host\'s record), changing 2-3 thing(s); destroy keeps it',
      'JailedUser "bob": adopted the existing jail /home/bob as it is, which sftp-jail did not create (it is not in the host\'s record); destroy leaves it and its files in place',
      'SftpGroup "sftp": adopted the existing group (gid N), which sftp-jail did not create (it is not in the host\'s record); destroy leaves it',
      'SshdMatchBlock "group-sftp": adopted the hand-written "Match Group sftp" block in /etc/ssh/sshd_config (line N) in place, editing only the lines that differ',
    ]);
    // What changed, and why (README, "Adopting hand-made jails"): every step the provider ran, nothing else.
    expect(msgs.filter((l) => !/ adopted /.test(l) && !new RegExp(KEYS_DIR).test(l)).sort()).toEqual(
      [
        // The password field: useradd's "!" would refuse key login under UsePAM no; "*" is key-only and not locked.
        // A change of an existing account is confirmed by a fresh operator login, its entries saved host-side first.
        ...["alice", "bob"].flatMap((u) => [
          `JailedUser "${u}": save the entries of account ${u} (host-side, root-only) for revert`,
          `JailedUser "${u}": arm a 60s dead-man timer that reverts this change unless it is confirmed`,
          `JailedUser "${u}": make ${u} key-only (password field "*", not locked)`,
          `JailedUser "${u}": disarm the dead-man timer`,
          `JailedUser "${u}": remove the saved account entries`,
        ]),
        // Keys move out of the jail, where alice owns ~/.ssh and could add any key, to a root-owned file.
        'JailedUser "alice": write 1 authorized key(s) of alice to /etc/ssh/sftp-jail/authorized_keys/alice',
        'JailedUser "bob": write 1 authorized key(s) of bob to /etc/ssh/sftp-jail/authorized_keys/bob',
        // The hand-written block, in place: the jail's missing directives, guarded by confirm-or-revert.
        'SshdMatchBlock "group-sftp": arm a 60s dead-man timer that reverts this change unless it is confirmed',
        // Defence in depth too (unix-socket forwarding, tty, gateway ports, ~/.ssh/rc), and every jailed account checked.
        'SshdMatchBlock "group-sftp": record which accounts sshd jails now, and what it allows every other one (sshd -T -C per account the change can affect)',
        'SshdMatchBlock "group-sftp": edit the hand-written "Match Group sftp" block in /etc/ssh/sshd_config in place: add AllowStreamLocalForwarding no, AllowAgentForwarding no, GatewayPorts no, PermitTunnel no, PermitTTY no, PermitUserRC no, AuthorizedKeysFile /etc/ssh/sftp-jail/authorized_keys/%u',
        'SshdMatchBlock "group-sftp": settle Subsystem sftp in sshd_config (internal-sftp while any block wants it)',
        "SshdMatchBlock \"group-sftp\": check the whole sshd configuration, the operator's access, every jailed account's jail and what every other account is allowed (sshd -t, sshd -T -C)",
        'SshdMatchBlock "group-sftp": reload sshd',
        'SshdMatchBlock "group-sftp": disarm the dead-man timer',
        'SshdMatchBlock "group-sftp": remove the backups of this change',
      ].sort(),
    );
    // The host agrees: these files, and no other, changed anywhere on it. (usermod rewrites /etc/passwd with the same
    // content, and keeps "-" backups; the destroy test below proves passwd's content unchanged.)
    expect(await touched(hand, "-type f")).toEqual(
      [
        "/etc/passwd",
        "/etc/passwd-",
        "/etc/shadow",
        "/etc/shadow-",
        "/etc/ssh/sftp-jail/authorized_keys/alice",
        "/etc/ssh/sftp-jail/authorized_keys/bob",
        "/etc/ssh/sshd_config",
        // The host-side manifest of what the next run's first snapshot must cover (root-only), and its lock; the
        // record of what sftp-jail created (the key directory and files, none of the adopted jail).
        "/var/lib/sftp-jail/.created",
        "/var/lib/sftp-jail/.manifest",
        "/var/lib/sftp-jail/.manifest.lock",
      ].sort(),
    );
    // sshd_config: the admin's block keeps its lines, indentation and place; the jail's missing lines are added inside it.
    expect((await hand.console("cat /etc/ssh/sshd_config")).stdout).toBe(
      before.sshdConfig.replace(
        "    AllowTcpForwarding no\n",
        "    AllowTcpForwarding no\n    AllowStreamLocalForwarding no\n    AllowAgentForwarding no\n    GatewayPorts no\n    PermitTunnel no\n    PermitTTY no\n    PermitUserRC no\n    AuthorizedKeysFile /etc/ssh/sftp-jail/authorized_keys/%u\n",
      ),
    );
    expect((await hand.console("grep -E '^(alice|bob):' /etc/shadow | cut -d: -f1,2")).stdout).toBe("alice:*\nbob:*\n");
    expect((await hand.console("stat -c '%U:%G %a %n' /etc/ssh/sftp-jail/authorized_keys/alice && cat /etc/ssh/sftp-jail/authorized_keys/alice")).stdout).toBe(
      `root:root 644 /etc/ssh/sftp-jail/authorized_keys/alice\n${keys.alice}\n`,
    );
    // Uploads (and every other file, owner and mode under /home) untouched; the firewall exactly as it was.
    expect((await hand.console(HOMES)).stdout).toBe(before.homes);
    expect((await hand.console(RULES)).stdout).toBe(before.rules);
  });

  test("jailed users still sftp in (with the keys now read outside the jail), and the operator logs in", async () => {
    const get = await c.sftp(hand, "alice", "alice", `get upload/report.csv ${c.dir}/back.csv\nls -1 /\n`);
    expect(get.code).toBe(0);
    expect(fs.readFileSync(path.join(c.dir, "back.csv"), "utf8")).toBe("a,b\n1,2\n");
    expect(get.stdout).toMatch(/^\/upload$/m);
    expect((await sftpLs(hand, "bob", "upload")).stdout).toMatch(/bob\.csv/);
    expect((await hand.sshdLog()).match(/Accepted key ED25519 \S+ found at \/etc\/ssh\/sftp-jail\/authorized_keys\/alice:1/g)?.length).toBeGreaterThan(0);
    expect((await c.ssh(hand, "root", sb.keyPath, "echo ok")).stdout.trim()).toBe("ok");
    const shell = await c.ssh(hand, "alice", "alice", "id");
    expect(shell.stdout).not.toMatch(/uid=/);
  });

  test("the next preview --refresh shows no change", async () => {
    const pv = await timed("part 1: preview --refresh", () => ok(p1.preview("--refresh"), "preview --refresh"));
    expect(summary(pv.stdout)).toEqual({ same: 7 });
  });

  test("a hand edit of the adopted block is drift on that directive, and up --refresh puts back only that line", async () => {
    const adopted = (await hand.console("cat /etc/ssh/sshd_config")).stdout;
    await hand.console("sed -i 's/^    X11Forwarding no$/    X11Forwarding yes/' /etc/ssh/sshd_config && sshd -t");
    const pv = await timed("part 1: drift preview", () => ok(p1.preview("--refresh"), "preview --refresh"));
    // The block, on that directive; and both users, whose jail sshd now resolves with X11 forwarding.
    expect(summary(pv.stdout)).toEqual({ update: 3, same: 4 });
    expect(pv.stdout).toMatch(/hand-sftp-match\][\s\S]*?~ X11Forwarding\s*: "yes" => "no"/);
    for (const u of ["alice", "bob"]) expect(pv.stdout).toMatch(new RegExp(`hand-sftp-${u}\\][\\s\\S]*?~ x11forwarding\\s*: "yes" => "no"`));
    const up = await timed("part 1: drift up", () => ok(p1.up("--refresh"), "up --refresh"));
    expect(steps(up.stdout, hand).filter((l) => / in place: /.test(l))).toEqual([
      'SshdMatchBlock "group-sftp": edit the hand-written "Match Group sftp" block in /etc/ssh/sshd_config in place: set X11Forwarding no',
    ]);
    expect((await hand.console("cat /etc/ssh/sshd_config")).stdout).toBe(adopted);
  });

  test("destroy keeps accounts, group, jails and files, puts sshd_config back byte for byte, and the admin's jail still works", async () => {
    const d = await timed("part 1: destroy", () => ok(p1.destroy(), "destroy"));
    expect(summary(d.stdout)).toEqual({ delete: 7 });
    expect((await hand.console("cat /etc/ssh/sshd_config")).stdout).toBe(before.sshdConfig);
    expect((await hand.console(HOMES)).stdout).toBe(before.homes);
    expect((await hand.console(RULES)).stdout).toBe(before.rules);
    expect((await hand.console("getent group sftp | cut -d: -f1,4; getent passwd alice bob | cut -d: -f1,6,7")).stdout).toBe(
      "sftp:alice,bob\nalice:/home/alice:/usr/sbin/nologin\nbob:/home/bob:/usr/sbin/nologin\n",
    );
    // sftp-jail's key files went, and with the last one the key directories it created (its record says so).
    expect((await hand.console("ls -d /etc/ssh/sftp-jail 2>&1 || true")).stdout).toMatch(/No such file or directory/);
    expect((await hand.console("ls -A /var/lib/sftp-jail")).stdout).not.toMatch(/\.created/); // nothing left to record
    // What stays different from the hand-made state: "*" (strictly better than "!", and equivalent under UsePAM yes).
    expect(await fingerprint(hand)).toBe(
      before.fingerprint.replace(/^\S+  etc\/shadow$/m, (await hand.console("cd / && sha256sum etc/shadow")).stdout.trim()),
    );
    // The admin's jail works as before: keys from ~/.ssh/authorized_keys again.
    expect((await sftpLs(hand, "alice", "upload")).stdout).toMatch(/report\.csv/);
    expect((await c.ssh(hand, "root", sb.keyPath, "echo ok")).stdout.trim()).toBe("ok");
  });
});

describe("2. sftp-jail-migrate writes the stack config that describes hand-made hosts, and up changes nothing", () => {
  let config: string;
  const before: Record<string, string> = {};

  test("migrate reads each host in one exec over one connection and writes the config for the root program", async () => {
    const sessions = async (h: SandboxHost) => ((await h.sshdLog()).match(/Starting session: command for root/g) ?? []).length;
    const [c0, s0, c1, s1] = [await mig.connectionCount(), await sessions(mig), await rssh.connectionCount(), await sessions(rssh)];
    const out = path.join(p2.dir, "migrated.yaml");
    const r = await timed("part 2: migrate", () =>
      run([
        process.execPath, path.join(ROOT, "bin/provider/cli/migrate.js"),
        "--private-key-file", sb.keyPath,
        "--host", "127.0.0.1", "--port", String(mig.port), "--name", "mig", "--host-key", mig.hostKey, "--label", "site=a",
        "--host", "127.0.0.1", "--port", String(rssh.port), "--name", "rssh", "--host-key", rssh.hostKey,
        "--out", out,
      ]),
    );
    expect(r.stderr).toMatch(/wrote /);
    expect(r.code).toBe(0);
    expect([await mig.connectionCount(), await sessions(mig), await rssh.connectionCount(), await sessions(rssh)]).toEqual([c0 + 1, s0 + 1, c1 + 1, s1 + 1]);
    config = fs.readFileSync(out, "utf8");
    const parsed = yaml.load(config) as { config: Record<string, unknown> };
    const uid = async (h: SandboxHost, u: string) => Number((await h.console(`id -u ${u}`)).stdout);
    const gid = async (h: SandboxHost, g: string) => Number((await h.console(`getent group ${g} | cut -d: -f3`)).stdout);
    expect(parsed.config["sftp-jail:hosts"]).toEqual([
      { name: "mig", labels: { site: "a", host: "mig" }, connection: { host: "127.0.0.1", port: mig.port, privateKeyFile: sb.keyPath, hostKey: mig.hostKey } },
      { name: "rssh", labels: { host: "rssh" }, connection: { host: "127.0.0.1", port: rssh.port, privateKeyFile: sb.keyPath, hostKey: rssh.hostKey } },
    ]);
    expect(parsed.config["sftp-jail:jails"]).toEqual([
      {
        hosts: { host: "mig" },
        group: { name: "sftp", gid: await gid(mig, "sftp") },
        chrootBase: "/home",
        authorizedKeysFile: ".ssh/authorized_keys", // keys stay in the jail, read-only
        // the hand block lacks them
        sshdDirectives: { PermitTunnel: null, AllowAgentForwarding: null, AuthorizedKeysFile: null, AllowStreamLocalForwarding: null, PermitTTY: null, GatewayPorts: null, PermitUserRC: null },
        users: await Promise.all(
          ["alice", "bob"].map(async (u) => ({
            name: u,
            uid: await uid(mig, u),
            keyOnly: false, // useradd's "!" stays
            chroot: { group: u, mode: "0750" },
            writableDirs: [{ path: "upload", group: u }],
            keys: [keys[u]],
          })),
        ),
        firewall: { port: 22 },
      },
      {
        hosts: { host: "rssh" },
        group: { name: "partners", gid: await gid(rssh, "partners") },
        chrootBase: "/srv/jail",
        authorizedKeysFile: ".ssh/authorized_keys",
        subsystemInternalSftp: false, // Debian's sftp-server line stays
        sshdDirectives: {
          ForceCommand: "internal-sftp -u 0002", X11Forwarding: null, AllowAgentForwarding: null, AuthorizedKeysFile: null,
          AllowStreamLocalForwarding: null, PermitTTY: null, GatewayPorts: null, PermitUserRC: null,
        },
        users: [
          { name: "carol", uid: await uid(rssh, "carol"), keyOnly: false, writableDirs: ["incoming"], keys: [keys.carol] },
          {
            name: "dave",
            uid: await uid(rssh, "dave"),
            chroot: { path: "/data/partners/dave", group: "dave", mode: "0750" },
            writableDirs: [{ path: "files/drop", group: "dave", mode: "0700" }],
            keys: [keys.dave],
          },
        ],
        firewall: { port: 22, source: "127.0.0.0/8", state: ["NEW"] },
      },
    ]);
    // rssh.conf: carol's and dave's lines are leftovers; erin, whom only rssh jails, is a suggestion left commented out.
    expect(config).toMatch(/#   - rssh: \/etc\/rssh\.conf also lists carol \(chroot \/srv\/jail\/carol\); sshd's Match block jails it in \/srv\/jail\/carol now, so the rssh\.conf line is a leftover/);
    expect(config).toMatch(/^ {8}# rssh: \/etc\/rssh\.conf jails erin \(rssh: erin allows sftp\+scp\), which sshd does not\. Uncomment .*:\n {8}# - name: erin$/m);
  });

  test("pulumi up with that config creates every resource in state and changes nothing on either host", async () => {
    for (const h of [mig, rssh]) before[h.name] = await fingerprint(h);
    const file = path.join(p2.dir, "Pulumi.migrate.yaml");
    const salt = /^encryptionsalt: .*$/m.exec(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "")?.[0];
    fs.writeFileSync(file, (salt ? salt + "\n" : "") + config);
    await Promise.all([mark(mig), mark(rssh)]);
    const up = await timed("part 2: up", () => ok(p2.up(), "up"));
    // stack + per host: component, group, 2 users (each with its jail), Match block, firewall rule
    expect(summary(up.stdout)).toEqual({ create: 13 });
    // "Changes nothing": resources are created in state by adoption, and on the hosts no step ran...
    expect(steps(up.stdout, mig)).toEqual([]);
    expect(steps(up.stdout, rssh)).toEqual([]);
    // (The messages are read, so "no step" is not an artefact of parsing: each resource reported its adoption.)
    expect(provider(up.stdout, mig).filter((l) => / adopted /.test(l))).toHaveLength(7);
    expect(provider(up.stdout, rssh).filter((l) => / adopted /.test(l)).map((l) => l.split(":")[0]).sort()).toEqual(
      ['FirewallRule "rssh-partners-firewall"', 'JailedUser "carol"', 'JailedUser "carol"', 'JailedUser "dave"', 'JailedUser "dave"', 'SftpGroup "partners"', 'SshdMatchBlock "group-partners"'],
    );
    expect(provider(up.stdout, rssh)).toContain(
      'SshdMatchBlock "group-partners": adopted the hand-written "Match Group partners" block in /etc/ssh/sshd_config.d/partners.conf (line 2) in place, unchanged',
    );
    // ...no file or directory anywhere on their root filesystems was modified (not even the host lock file in /run)...
    for (const h of [mig, rssh]) {
      expect(await touched(h)).toEqual([]);
      expect((await h.console("ls /run/lock /run/sftp-jail 2>/dev/null || true")).stdout).toBe("/run/lock:\n");
      // ...and accounts, sshd config, ruleset, every jail's tree, owners, modes and checksums are identical.
      expect(await fingerprint(h)).toBe(before[h.name]);
    }
  });

  test("the next preview --refresh is empty, the users still sftp in, and destroy changes nothing either", async () => {
    const pv = await timed("part 2: preview --refresh", () => ok(p2.preview("--refresh"), "preview --refresh"));
    expect(summary(pv.stdout)).toEqual({ same: 13 });
    expect((await sftpLs(mig, "alice", "upload")).stdout).toMatch(/blob\.bin/);
    expect((await sftpLs(rssh, "carol", "incoming")).stdout).toMatch(/report\.csv/);
    expect((await sftpLs(rssh, "dave", "files/drop")).stdout).toMatch(/report\.csv/);
    await Promise.all([mark(mig), mark(rssh)]);
    const d = await timed("part 2: destroy", () => ok(p2.destroy(), "destroy"));
    expect(summary(d.stdout)).toEqual({ delete: 13 });
    for (const h of [mig, rssh]) {
      expect(steps(d.stdout, h)).toEqual([]);
      expect(await touched(h)).toEqual([]);
      expect(await fingerprint(h)).toBe(before[h.name]);
    }
  });
});
