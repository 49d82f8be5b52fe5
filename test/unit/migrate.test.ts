/**
 * sftp-jail-migrate's pure parts on output captured from real hand-made sandbox hosts (./adoptFixtures.ts): the rssh.conf and survey parsers, the description of a host as stack config, the YAML, the options.
 */
import { parseRsshConf } from "../../provider/cli/survey";
import { HostSpec, describeHost, parseArgs, renderConfig, yamlText } from "../../provider/cli/migrate";
import { parseSnapshot, snapshotScript } from "../../provider/observe/snapshot";
import { blockDirectives, expandKeysFile, jailDirectives } from "../../provider/components/sftpJailHost";
import { reading } from "./adoptFixtures";
import { parseIptablesSave } from "../../provider/observe/iptables";
import * as fs from "fs";
import * as path from "path";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: { load(s: string): unknown } = require("js-yaml");

const spec = (name: string): HostSpec => ({ name, labels: { host: name }, connection: { host: "127.0.0.1", port: 2222, privateKeyFile: "/k" } });
const keyOf = (name: "hand" | "rssh", user: string) =>
  reading(name).survey.find((u) => u.name === user)!.keyFiles.find((k) => k.content)!.content!.trim();

describe("rssh.conf", () => {
  it("parses user= lines (quoted or not, with or without a chroot), chrootpath and allow* keywords, ignoring comments", () => {
    const conf = parseRsshConf(
      [
        "# rssh",
        "allowscp",
        "allowsftp   # both",
        'chrootpath = "/usr/local/chroot"',
        "user=rudy:077:00010:/srv/rudy",
        'user = "luser:022:00001:"',
        'user=kim:011:00011:"/srv/kim dir"',
        "umask = 022",
      ].join("\n"),
    );
    expect(conf).toEqual({
      chrootPath: "/usr/local/chroot",
      allow: ["scp", "sftp"],
      users: [
        { name: "rudy", umask: "077", allow: ["sftp"], chroot: "/srv/rudy" },
        { name: "luser", umask: "022", allow: ["scp"], chroot: null },
        { name: "kim", umask: "011", allow: ["sftp", "scp"], chroot: "/srv/kim dir" },
      ],
    });
  });

  it("is read by migrate's survey, not by the provider's snapshots (which every resource takes)", () => {
    expect(snapshotScript({})).not.toMatch(/rssh/);
    expect(snapshotScript({ paths: ["/srv/x"], files: ["/etc/x"], jail: ["user=a,host=192.0.2.1,addr=192.0.2.1"] })).not.toMatch(/rssh/);
    expect(Object.keys(parseSnapshot(fs.readFileSync(path.join(__dirname, "fixtures", "adopt-rssh.migrate.txt"), "utf8")))).not.toContain("rssh");
  });

  it("null without the file, parsed from the captured host with it", () => {
    expect(reading("hand").rssh).toBeNull();
    expect(reading("rssh").rssh).toEqual({
      chrootPath: "/srv/rssh",
      allow: ["sftp"],
      users: [
        { name: "carol", umask: "011", allow: ["sftp"], chroot: "/srv/jail/carol" },
        { name: "dave", umask: "022", allow: ["sftp"], chroot: "/data/partners/dave" },
        { name: "erin", umask: "011", allow: ["sftp", "scp"], chroot: null },
      ],
    });
  });
});

describe("the account survey (sshd -T -C per account, in the same exec as the snapshot)", () => {
  it("lists only the accounts sshd jails, and rssh.conf's, with their chroot, its stats and the key files sshd reads", () => {
    expect(reading("hand").survey.map((u) => [u.name, u.chroot])).toEqual([
      ["alice", "/home/alice"],
      ["bob", "/home/bob"],
    ]); // operator and opsudo (uid >= 1000, not jailed) are left out
    const [carol, dave, erin] = reading("rssh").survey;
    expect(carol.sshd).toEqual({ chrootdirectory: "%h", forcecommand: "internal-sftp -u 0002", authorizedkeysfile: ".ssh/authorized_keys .ssh/authorized_keys2" });
    expect(Object.keys(dave.stats).sort()).toEqual(["/", "/data", "/data/partners", "/data/partners/dave", "/data/partners/dave/files", "/data/partners/dave/files/drop"]);
    expect(dave.stats["/data/partners/dave/files/drop"]).toMatchObject({ uid: 1003, gid: 1004, mode: 0o700, type: "directory" });
    expect(dave.keyFiles.map((k) => [k.path, k.content === null])).toEqual([
      ["/data/partners/dave/.ssh/authorized_keys", false],
      ["/data/partners/dave/.ssh/authorized_keys2", true],
    ]);
    expect(erin).toMatchObject({ name: "erin", chroot: null, sshd: { chrootdirectory: "none" } }); // in rssh.conf only
  });
});

describe("describing a host as stack config", () => {
  it("describes the hand-made jail exactly as it is", () => {
    const d = describeHost(spec("hand"), reading("hand"));
    expect(d.jails).toEqual([
      {
        hosts: { host: "hand" },
        group: { name: "sftp", gid: 1002 },
        chrootBase: "/home",
        authorizedKeysFile: ".ssh/authorized_keys",
        sshdDirectives: { PermitTunnel: null, AllowAgentForwarding: null, AuthorizedKeysFile: null, AllowStreamLocalForwarding: null, PermitTTY: null, GatewayPorts: null, PermitUserRC: null },
        users: ["alice", "bob"].map((u, i) => ({
          name: u,
          uid: 1002 + i,
          keyOnly: false,
          chroot: { group: u, mode: "0750" },
          writableDirs: [{ path: "upload", group: u }],
          keys: [keyOf("hand", u)],
        })),
        firewall: { port: 22 },
      },
    ]);
    expect(d.notes).toEqual([
      'hand: alice\'s password field is "!", kept (keyOnly: false); with "*" key login works under UsePAM no as well',
      'hand: bob\'s password field is "!", kept (keyOnly: false); with "*" key login works under UsePAM no as well',
    ]);
    expect(d.suggestions).toEqual([]);
    // What SftpJailHost then writes into the block is exactly the admin's block.
    const j = d.jails[0];
    expect(blockDirectives("/etc/ssh/sftp-jail/authorized_keys", j.authorizedKeysFile, j.sshdDirectives)).toEqual({
      ChrootDirectory: "%h",
      ForceCommand: "internal-sftp",
      X11Forwarding: "no",
      AllowTcpForwarding: "no",
    });
  });

  it("describes the rssh host: per-user chroot paths, nested writable dirs, its drop-in block, source/state of its rule; erin is a suggestion", () => {
    const d = describeHost(spec("rssh"), reading("rssh"));
    expect(d.jails).toEqual([
      {
        hosts: { host: "rssh" },
        group: { name: "partners", gid: 1002 },
        chrootBase: "/srv/jail",
        authorizedKeysFile: ".ssh/authorized_keys",
        subsystemInternalSftp: false,
        sshdDirectives: { X11Forwarding: null, AllowAgentForwarding: null, AuthorizedKeysFile: null, AllowStreamLocalForwarding: null, PermitTTY: null, GatewayPorts: null, PermitUserRC: null, ForceCommand: "internal-sftp -u 0002" },
        users: [
          { name: "carol", uid: 1002, keyOnly: false, writableDirs: ["incoming"], keys: [keyOf("rssh", "carol")] },
          {
            name: "dave",
            uid: 1003,
            chroot: { path: "/data/partners/dave", group: "dave", mode: "0750" },
            writableDirs: [{ path: "files/drop", group: "dave", mode: "0700" }],
            keys: [keyOf("rssh", "dave")],
          },
        ],
        firewall: { port: 22, source: "127.0.0.0/8", state: ["NEW"] },
      },
    ]);
    expect(d.notes).toContain(
      "rssh: /etc/rssh.conf also lists dave (chroot /data/partners/dave); sshd's Match block jails it in /data/partners/dave now, so the rssh.conf line is a leftover",
    );
    expect(d.suggestions).toHaveLength(1);
    expect(d.suggestions[0].note).toMatch(/^rssh: \/etc\/rssh\.conf jails erin \(rssh: erin allows sftp\+scp\), which sshd does not\. Uncomment .* \(it CHANGES the host\)$/);
    // rssh ignores the global settings for a user with a user= line: erin's has no chroot path, so no chroot there.
    expect(d.suggestions[0].jail.users).toEqual([{ name: "erin", uid: 1004, keys: [], writableDirs: ["upload"] }]);
  });

  it("leaves out what the config cannot carry and says so: keys with options, duplicates", () => {
    const r = reading("hand");
    const alice = r.survey.find((u) => u.name === "alice")!;
    const key = alice.keyFiles[0].content!.trim();
    alice.keyFiles[0].content = `from="10.0.0.0/8",environment="TOKEN=s3cr3t-t0ken" ${key}\n${key}\n${key}\n`;
    const d = describeHost(spec("hand"), r);
    expect(d.jails[0].users[0].keys).toEqual([key]);
    expect(d.notes.join("\n")).toMatch(/a key line sftp-jail cannot carry \(options such as from=.*: \[from, environment\] ssh-ed25519 \.\.\./);
    // option values never reach the notes (stderr, --out): an environment= may hold a credential
    expect(d.notes.join("\n")).not.toMatch(/s3cr3t|10\.0\.0\.0/);
    expect(d.notes.join("\n")).toMatch(/lists a key twice/);
  });

  it("quotes nothing of a hostile key line but option names, a key type and base64; the file it writes has only printable comments", () => {
    const r = reading("hand");
    const alice = r.survey.find((u) => u.name === "alice")!;
    const key = alice.keyFiles[0].content!.trim();
    alice.keyFiles[0].content = `environment="T=x ssh-S3CRET" ${key}\nssh-\u001b]0;pwned\u0007\u0085config: x AAAA\n${key}\n`;
    const d = describeHost(spec("hand"), r);
    const notes = d.notes.join("\n");
    expect(notes).not.toMatch(/S3CRET|pwned|\u001b|\u0085/);
    expect(notes).toMatch(/\[environment\] ssh-ed25519 \.\.\./);
    const text = renderConfig([d], new Date(0));
    expect(text).toMatch(/^[\x20-\x7e\n]*$/);
    expect(Object.keys(yaml.load(text) as object)).toEqual(["config"]);
  });

  it("says when two accounts share a jail or one jails inside another's (SftpJailHost refuses that config)", () => {
    const r = reading("hand");
    const [alice, bob] = ["alice", "bob"].map((n) => r.survey.find((u) => u.name === n)!);
    bob.chroot = alice.chroot;
    expect(describeHost(spec("hand"), r).notes).toContain(`hand: bob's jail ${alice.chroot} is shared with alice's; sftp-jail gives every user a jail of its own and refuses this config until each has one`);
    bob.chroot = `${alice.chroot}/bob`;
    expect(describeHost(spec("hand"), r).notes).toContain(`hand: bob's jail ${alice.chroot}/bob is inside alice's; sftp-jail gives every user a jail of its own and refuses this config until each has one`);
  });

  it("notes accounts in the group that sshd does not jail, and reports no firewall opening when there is none", () => {
    const r = reading("hand");
    r.survey = r.survey.filter((u) => u.name !== "bob");
    r.facts.firewall.iptables = parseIptablesSave("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j REJECT\nCOMMIT\n", "ipv4");
    const d = describeHost(spec("hand"), r);
    expect(d.jails[0].users.map((u) => u.name)).toEqual(["alice"]);
    expect(d.jails[0].firewall).toBeUndefined();
    expect(d.notes).toContain("hand: bob is in group sftp but sshd does not jail it (sshd -T -C user=bob); not described");
    expect(d.notes).toContain("hand: no firewall rule found that accepts sshd's port before a REJECT/DROP; none described");
  });
});

describe("the YAML", () => {
  it("is the root program's stack config, readable by any YAML parser, with the suggestions commented out", () => {
    const ds = [describeHost(spec("hand"), reading("hand")), describeHost(spec("rssh"), reading("rssh"))];
    const text = renderConfig(ds, new Date("2026-01-02T03:04:05Z"));
    expect(text.split("\n")[0]).toBe("# Written by sftp-jail-migrate on 2026-01-02T03:04:05.000Z from hand, rssh.");
    const parsed = yaml.load(text) as { config: Record<string, unknown> };
    expect(Object.keys(parsed.config)).toEqual(["sftp-jail:hosts", "sftp-jail:jails"]);
    expect(parsed.config["sftp-jail:hosts"]).toEqual(ds.map((d) => ({ name: d.host.name, labels: d.host.labels, connection: d.host.connection })));
    expect(parsed.config["sftp-jail:jails"]).toEqual(JSON.parse(JSON.stringify(ds.flatMap((d) => d.jails))));
    // erin is suggested at the end of her host's jail: uncommenting her lines adds her to it.
    expect(text).toMatch(/^ {8}# rssh: \/etc\/rssh\.conf jails erin .*:\n {8}# - name: erin\n {8}# {3}uid: 1004\n/m);
    const uncommented = text.replace(/^ {8}# rssh: .*\n/m, "").replace(/^( {8})# /gm, "$1");
    const jails = (yaml.load(uncommented) as { config: Record<string, Array<{ users: Array<{ name: string }> }>> }).config["sftp-jail:jails"];
    expect(jails.map((j) => j.users.map((u) => u.name))).toEqual([["alice", "bob"], ["carol", "dave", "erin"]]);
  });

  it("suggests a whole jail, commented out, for a host that only rssh jails", () => {
    const r = reading("rssh");
    r.facts.sshd.dropins = []; // no Match block: only rssh.conf
    r.survey = r.survey.map((u) => ({ ...u, chroot: null }));
    const d = describeHost(spec("old"), r, { group: "sftp" });
    expect(d.jails).toEqual([]);
    const text = renderConfig([d]);
    expect((yaml.load(text) as { config: Record<string, unknown> }).config["sftp-jail:jails"]).toEqual([]);
    const jails = (yaml.load(text.replace(/^ {4}# old: .*\n/m, "").replace(/^ {4}# /gm, "    ").replace("sftp-jail:jails: []", "sftp-jail:jails:")) as {
      config: Record<string, Array<{ group: { name: string }; users: Array<{ name: string; chroot?: { path: string } }> }>>;
    }).config["sftp-jail:jails"];
    expect(jails).toHaveLength(1);
    expect(jails[0].group).toEqual({ name: "sftp" });
    expect(jails[0].users.map((u) => [u.name, u.chroot?.path])).toEqual([
      ["carol", "/srv/jail/carol"],
      ["dave", "/data/partners/dave"],
      ["erin", undefined],
    ]);
  });

  it("quotes what a YAML 1.1 or 1.2 reader would otherwise misread: modes, yes/no/y/n, ~, numbers as text; null and empty lists are literal", () => {
    const v = { mode: "0750", v: "yes", off: "off", n: "n", tilde: "~", num: "22", host: "10.0.0.5", key: "ssh-ed25519 AAAA c", none: null, l: [], p: "/home", t: true, port: 22, skip: undefined };
    const text = yamlText(v);
    for (const line of ['mode: "0750"', 'v: "yes"', '"off": "off"', '"n": "n"', 'tilde: "~"', 'num: "22"', "none: null", "l: []", "p: /home", "t: true", "port: 22"]) expect(text.split("\n")).toContain(line);
    const { skip, ...defined } = v;
    expect(skip).toBeUndefined();
    expect(yaml.load(text)).toEqual(defined); // YAML 1.2 (js-yaml)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require("yaml").parse(text, { version: "1.1" })).toEqual(defined); // YAML 1.1, as Go's yaml partly reads it
    expect(yamlText([{ a: 1, b: [{ c: "x" }] }])).toBe("- a: 1\n  b:\n    - c: x\n");
  });

  it("writes a long key on one line, never folded", () => {
    const key = "ssh-ed25519 " + "A".repeat(300) + " someone@somewhere";
    expect(yamlText({ keys: [key] })).toBe(`keys:\n  - ${key}\n`);
  });
});

describe("options", () => {
  it("takes defaults before the first --host and per-host options after each", () => {
    const o = parseArgs(["--private-key-file", "/k", "--user", "deploy", "--sudo", "--host", "10.0.0.5", "--label", "site=fra", "--host", "files2.example.com", "--port", "2222", "--user", "root", "--name", "f2", "--out", "x.yaml"]);
    expect(o.out).toBe("x.yaml");
    expect(o.hosts).toEqual([
      { name: "10.0.0.5", labels: { site: "fra", host: "10.0.0.5" }, connection: { host: "10.0.0.5", user: "deploy", privateKeyFile: "/k", sudo: true } },
      { name: "f2", labels: { host: "f2" }, connection: { host: "files2.example.com", user: "root", privateKeyFile: "/k", sudo: true, port: 2222 } },
    ]);
    expect(Object.keys(o.hosts[1].connection)).toEqual(["host", "port", "user", "sudo", "privateKeyFile"]); // as written in YAML
  });

  it("refuses what it cannot use, saying why", () => {
    expect(() => parseArgs([])).toThrow("give at least one --host");
    expect(() => parseArgs(["--host", "a", "--name", "x", "--host", "b", "--name", "x"])).toThrow('two hosts are named "x"');
    expect(() => parseArgs(["--host", "a", "--port", "ssh"])).toThrow('--port takes a whole number from 1 to 65535, got "ssh"');
    expect(() => parseArgs(["--host", "a", "--frobnicate"])).toThrow("unknown option --frobnicate");
    expect(() => parseArgs(["--host", "--port", "22"])).toThrow("--host needs a value");
  });
});

describe("SftpJailHost helpers for adopted jails", () => {
  it("expands an AuthorizedKeysFile pattern for one user as sshd does", () => {
    expect(expandKeysFile(".ssh/authorized_keys", "alice", "/home/alice")).toBe("/home/alice/.ssh/authorized_keys");
    expect(expandKeysFile("%h/keys/%u", "alice", "/srv/a")).toBe("/srv/a/keys/alice");
    expect(expandKeysFile("/etc/ssh/keys/%u%%", "bob", "/x")).toBe("/etc/ssh/keys/bob%");
    expect(() => expandKeysFile(".ssh/authorized_keys .ssh/authorized_keys2", "a", "/h")).toThrow(/must name one file/);
  });

  it("drops a default directive for null and lets a key pattern set AuthorizedKeysFile", () => {
    const keysDir = "/etc/ssh/sftp-jail/authorized_keys";
    expect(blockDirectives(keysDir)).toEqual(jailDirectives(keysDir));
    expect(blockDirectives(keysDir, ".ssh/authorized_keys", { PermitTunnel: null, X11Forwarding: "yes" })).toEqual({
      ...jailDirectives(keysDir),
      PermitTunnel: undefined,
      X11Forwarding: "yes",
      AuthorizedKeysFile: ".ssh/authorized_keys",
    });
  });
});
