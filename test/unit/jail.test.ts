/**
 * The effective-jail fact and its judgement: sshd -T -C output captured from a sandbox host (Debian 12, OpenSSH 9.2;
 * fixtures/debian12.jail-eval.txt: acme in group sftp jailed by our block, an admin's earlier drop-in with
 * `Match Address 198.51.100.7` + `AllowTcpForwarding yes`, and an account no block jails), parsed by the provider's
 * parser and judged by the planner's pure functions.
 */
import * as fs from "fs";
import * as path from "path";
import { JAIL_KEYWORDS, NEUTRAL_ADDR, jailSpec, parseJail } from "../../provider/observe/facts";
import { parseSnapshot, snapshotScript } from "../../provider/observe/snapshot";
import {
  JailSubject,
  culpritScript,
  describeViolation,
  expectedJail,
  jailAfterScript,
  jailContexts,
  jailViolations,
  observedJail,
  parseCulprit,
  satisfies,
  violationFix,
} from "../../provider/plan/jail";
import { jailOptOut } from "../../provider/components/sftpJailHost";
import { debian12 } from "./fixtures";

const OUT = fs.readFileSync(path.join(__dirname, "fixtures", "debian12.jail-eval.txt"), "utf8");
const ACME: JailSubject = { name: "acme", home: "/srv/sftp/acme", keyFile: "/etc/ssh/sftp-jail/authorized_keys/acme", reachedFrom: [], optOut: [] };

function facts() {
  const f = debian12({ users: [{ name: "acme", uid: 1001, gid: 2200, home: "/srv/sftp/acme", shell: "/usr/sbin/nologin" }] });
  f.jail = parseJail(OUT);
  return f;
}

describe("the effective-jail fact", () => {
  it("parses one evaluation per (account, client) with the jail's keywords, as sshd printed them", () => {
    const e = parseJail(OUT);
    expect(e.map((x) => [x.user, x.addr, x.lport])).toEqual([
      ["acme", NEUTRAL_ADDR, undefined],
      ["acme", "198.51.100.7", 22],
      ["nosuch", NEUTRAL_ADDR, undefined],
    ]);
    expect(Object.keys(e[0].values).sort()).toEqual([...JAIL_KEYWORDS].sort());
    expect(e[0].values).toMatchObject({ chrootdirectory: "%h", forcecommand: "internal-sftp", allowtcpforwarding: "no", permittty: "no" });
    expect(e[1].values.allowtcpforwarding).toBe("yes");
    expect(e[2].values).toMatchObject({ chrootdirectory: "none", authorizedkeysfile: ".ssh/authorized_keys .ssh/authorized_keys2" });
    expect(parseJail("eval\tuser=x,host=192.0.2.1,addr=192.0.2.1\nerror\tbad user\n")).toEqual([
      { user: "x", addr: NEUTRAL_ADDR, ok: false, error: "bad user", values: {} },
    ]);
  });

  it("is gathered in the snapshot exec, one quoted sshd -T -C per registered context, and parsed with the rest", () => {
    const spec = jailSpec({ user: "acme", addr: "198.51.100.7", laddr: "192.0.2.9", lport: 2222 });
    expect(spec).toBe("user=acme,host=198.51.100.7,addr=198.51.100.7,laddr=192.0.2.9,lport=2222");
    const script = snapshotScript({ jail: [spec] });
    expect(script).toContain(`printf '%s\\n' ${spec}; sj_manifest j; } | sort -u | while IFS= read -r sj_c; do`);
    expect(script).toContain('sshd -T -C "$sj_c"');
    // A full snapshot evaluates what the host's manifest lists too; a delta with nothing asked evaluates nothing.
    expect(snapshotScript()).toContain('sshd -T -C "$sj_c"');
    expect(snapshotScript({}, { manifest: false })).not.toContain('sshd -T -C "$sj_c"');
    const withJail = `${fs.readFileSync(path.join(__dirname, "fixtures", "debian12.snapshot.txt"), "utf8").replace("@@sftp-jail:end", `@@sftp-jail:jail\n${OUT}@@sftp-jail:end`)}`;
    expect(parseSnapshot(withJail).jail).toHaveLength(3);
  });
});

describe("judging a jail", () => {
  it("accepts the jail in effect for the neutral client, with %h expanded to the home", () => {
    expect(jailViolations(ACME, facts())).toEqual([]);
    expect(observedJail(ACME, facts())).toEqual(expectedJail(ACME));
    expect(jailContexts(ACME)).toEqual([{ user: "acme", addr: NEUTRAL_ADDR }]);
  });

  it("sees a Match Address block only for the client it matches, and shows sshd's value with that client", () => {
    const s = { ...ACME, reachedFrom: [{ address: "198.51.100.7", localPort: 22 }] };
    const v = jailViolations(s, facts())!;
    expect(v).toEqual([{ keyword: "allowtcpforwarding", value: "yes", expected: "no", context: { user: "acme", addr: "198.51.100.7", lport: 22 } }]);
    expect(observedJail(s, facts())!.allowtcpforwarding).toBe("yes (client 198.51.100.7 port 22)");
    expect(describeViolation("acme", v[0], "/etc/ssh/sshd_config.d/10-local.conf")).toBe(
      "acme is not jailed: sshd resolves AllowTcpForwarding yes (client 198.51.100.7 port 22) where the jail needs no, most likely set first by /etc/ssh/sshd_config.d/10-local.conf (sshd -T -C user=acme,host=198.51.100.7,addr=198.51.100.7,lport=22)",
    );
    expect(violationFix("acme", v[0], "/etc/ssh/sshd_config.d/10-local.conf")).toMatch(/10-local\.conf is not sftp-jail's, so sftp-jail does not edit it: remove or narrow that AllowTcpForwarding line there/);
    expect(violationFix("acme", v[0], "/etc/ssh/sshd_config.d/20-sftp-jail-loose.conf")).toMatch(/is an sftp-jail block: fix the directives of that SshdMatchBlock/);
    // An explicit opt-out leaves that keyword to sshd.
    expect(jailViolations({ ...s, optOut: ["AllowTcpForwarding"] }, facts())).toEqual([]);
    expect(expectedJail({ ...s, optOut: ["AllowTcpForwarding"] })).not.toHaveProperty("allowtcpforwarding");
  });

  it("finds an account no block jails, with the fix to create its block first", () => {
    const f = facts();
    f.users.push({ name: "nosuch", uid: 1002, gid: 2200, home: "/srv/sftp/nosuch", shell: "/usr/sbin/nologin" });
    const v = jailViolations({ ...ACME, name: "nosuch", home: "/srv/sftp/nosuch", keyFile: "/etc/ssh/sftp-jail/authorized_keys/nosuch" }, f)!;
    expect(v.map((x) => x.keyword).sort()).toEqual(
      ["chrootdirectory", "forcecommand", "authorizedkeysfile", "allowtcpforwarding", "allowstreamlocalforwarding", "allowagentforwarding", "x11forwarding", "permittty", "permituserrc"].sort(),
    );
    expect(violationFix("nosuch", v.find((x) => x.keyword === "chrootdirectory")!, "/etc/ssh/sshd_config")).toMatch(/create its SshdMatchBlock first \(dependsOn/);
    // Not evaluated (no such account on the host): nothing to judge.
    expect(jailViolations({ ...ACME, name: "ghost" }, f)).toBeUndefined();
  });

  it("judges each keyword as the jail needs it", () => {
    const s = ACME;
    expect(satisfies("chrootdirectory", "/srv/sftp/%u/", s)).toBe(true);
    expect(satisfies("chrootdirectory", "/srv/sftp", s)).toBe(false);
    expect(satisfies("chrootdirectory", "none", s)).toBe(false);
    expect(satisfies("forcecommand", "internal-sftp -d /upload", s)).toBe(true);
    expect(satisfies("forcecommand", "internal-sftpx", s)).toBe(false);
    expect(satisfies("forcecommand", "/usr/lib/openssh/sftp-server", s)).toBe(false);
    expect(satisfies("authorizedkeysfile", "/etc/ssh/sftp-jail/authorized_keys/%u", s)).toBe(true);
    // A second file sshd would also read (one the jailed user may write) is not the jail's.
    expect(satisfies("authorizedkeysfile", "/etc/ssh/sftp-jail/authorized_keys/%u .ssh/authorized_keys", s)).toBe(false);
    expect(satisfies("authorizedkeysfile", ".ssh/authorized_keys", { ...s, keyFile: "/srv/sftp/acme/.ssh/authorized_keys" })).toBe(true);
    // An adopted hand-made key file must be read; sshd's default second file beside it is the admin's business.
    const adopted = { ...s, keyFile: "/srv/sftp/acme/.ssh/authorized_keys", keysAdopted: true };
    expect(satisfies("authorizedkeysfile", ".ssh/authorized_keys .ssh/authorized_keys2", adopted)).toBe(true);
    expect(satisfies("authorizedkeysfile", ".ssh/authorized_keys .ssh/authorized_keys2", { ...adopted, keysAdopted: false })).toBe(false);
    expect(satisfies("authorizedkeysfile", "/etc/ssh/sftp-jail/authorized_keys/%u", adopted)).toBe(false);
    expect(satisfies("permittty", "yes", s)).toBe(false);
    expect(satisfies("gatewayports", "clientspecified", s)).toBe(false);
  });

  it("takes SftpJailHost's opt-outs from sshdDirectives that are null or not no", () => {
    expect(jailOptOut()).toEqual([]);
    expect(jailOptOut({ PermitTTY: null, X11Forwarding: "yes", AllowTcpForwarding: "no", ChrootDirectory: null })).toEqual(["X11Forwarding", "PermitTTY"]);
  });
});

describe("host-side scripts", () => {
  it("finds the file that set a value by leaving drop-ins out of a copy, OpenSSH judging", () => {
    const s = culpritScript({ user: "acme", addr: "198.51.100.7", lport: 22 }, "allowtcpforwarding");
    expect(s).toContain("sshd -T -C user=acme,host=198.51.100.7,addr=198.51.100.7,lport=22 -f \"$sj_d/main\"");
    expect(s).not.toMatch(/rm -rf \/etc|> \/etc/);
    expect(parseCulprit("noise\nculprit /etc/ssh/sshd_config.d/10-local.conf\n")).toBe("/etc/ssh/sshd_config.d/10-local.conf");
    expect(parseCulprit("")).toBeUndefined();
    expect(s).toContain("then echo \"culprit /etc/ssh/sshd_config\"; else echo \"culprit default\"; fi");
    const tty = { keyword: "permittty", value: "yes", expected: "no", context: { user: "acme", addr: NEUTRAL_ADDR } };
    expect(describeViolation("acme", tty, "default")).toMatch(/PermitTTY yes where the jail needs no, sshd's built-in default \(no configuration file sets it\)/);
    expect(violationFix("acme", tty, "default")).toMatch(/set PermitTTY no in the SshdMatchBlock that jails acme .*jailOptOut: \["PermitTTY"\]/);
  });

  it("checks every jailed account after a block change, quoting the files it names", () => {
    const s = jailAfterScript(["/etc/ssh/sshd_config.d/10-sftp-jail-x.conf", "/etc/ssh/it's.conf"]);
    expect(s).toContain(`sj_jfiles='/etc/ssh/sshd_config.d/10-sftp-jail-x.conf, /etc/ssh/it'"'"'s.conf'`);
    expect(s).toContain("this change would un-jail $sj_ju");
  });
});

describe("which accounts a block change can affect", () => {
  const { jailScopeOf, jailBeforeScript } = require("../../provider/plan/jail");
  const block = (match: string, pre = "") => `# Managed by sftp-jail\n${pre}Match ${match}\n\tChrootDirectory %h\n`;

  it("is the users and groups its Match lines name literally, before and after", () => {
    expect(jailScopeOf([block("User u1"), block("User u2,u3 Address 10.0.0.0/8")])).toEqual({ users: ["u1", "u2", "u3"], groups: [] });
    expect(jailScopeOf([undefined, block("Group sftp User acme")])).toEqual({ users: ["acme"], groups: ["sftp"] });
    expect(jailScopeOf([undefined, undefined])).toEqual({ users: [], groups: [] });
  });

  it("is every account when a block can match by anything else", () => {
    for (const t of [block("all"), block("Address 10.0.0.0/8"), block("LocalPort 2222"), block("User u*"), block("Group !staff,sftp"), block("User u?"), block("User u1", "PermitTTY yes\n")]) {
      expect(jailScopeOf([block("User u1"), t])).toBe("all");
    }
  });

  it("evaluates only those accounts on the host (sshd and id stubbed; group membership as id reports it)", () => {
    const fs = require("fs");
    const os = require("os");
    const cp = require("child_process");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jailscope-"));
    const log = path.join(dir, "evals");
    fs.writeFileSync(path.join(dir, "passwd"), ["root:x:0:0::/root:/bin/sh", "u1:x:1001:1001::/srv/u1:/usr/sbin/nologin", "u2:x:1002:1002::/srv/u2:/usr/sbin/nologin", "it's:x:1003:1003::/srv/q:/bin/sh", "u4:x:1004:1004::/srv/u4:/bin/sh"].join("\n") + "\n");
    fs.writeFileSync(path.join(dir, "sshd"), `#!/bin/sh\necho "$3" >> ${log}\necho "chrootdirectory %h"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "id"), `#!/bin/sh\ncase "$3" in u4) echo "u4 sftp";; *) echo "$3";; esac\n`, { mode: 0o755 });
    const run = (scope: unknown) => {
      fs.rmSync(log, { force: true });
      const script = jailBeforeScript(scope).replace("< /etc/passwd", `< ${path.join(dir, "passwd")}`) + "\nprintf '%s\\n' \"$sj_jailed\" | cut -f1";
      const r = cp.spawnSync("sh", ["-c", script], { env: { PATH: `${dir}:${process.env.PATH}` } });
      expect(r.stderr.toString()).toBe("");
      return r.stdout.toString().trim().split("\n").filter(Boolean);
    };
    expect(run("all")).toEqual(["u1", "u2", "it's", "u4"]);
    expect(run({ users: ["u2", "it's"], groups: [] })).toEqual(["u2", "it's"]);
    expect(run({ users: [], groups: ["sftp"] })).toEqual(["u4"]);
    expect(run({ users: ["u1"], groups: ["sftp"] })).toEqual(["u1", "u4"]);
    expect(run({ users: [], groups: [] })).toEqual([]);
    // Accounts outside the scope are not evaluated at all: that is the saving.
    expect(run({ users: ["u1"], groups: [] })).toEqual(["u1"]);
    expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual([`user=u1,host=${NEUTRAL_ADDR},addr=${NEUTRAL_ADDR}`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("what a block change allows the accounts it does not jail", () => {
  const { jailBeforeScript, matchContexts } = require("../../provider/plan/jail");
  const fs = require("fs");
  const os = require("os");
  const cp = require("child_process");

  // A stand-in sshd answering `sshd -T -C user=…,…` from the state file ("before" or "after") and MODE, and logging
  // each client it was asked about; the real scripts run under sh, with sj_fail as the verify step defines it.
  function run(mode: string, scope: unknown = "all", contexts: string[] = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "outsiders-"));
    fs.writeFileSync(path.join(dir, "passwd"), ["root:x:0:0::/root:/bin/sh", "svc:x:500:500::/var/svc:/bin/sh", "u1:x:1001:1001::/srv/u1:/usr/sbin/nologin", "admin:x:1002:1002::/home/admin:/bin/bash"].join("\n") + "\n");
    fs.writeFileSync(path.join(dir, "state"), "before");
    fs.writeFileSync(
      path.join(dir, "sshd"),
      `#!/bin/sh
st=$(cat ${dir}/state); u=\${3#user=}; u=\${u%%,*}; echo "$3" >> ${dir}/log
case "$st:${mode}:$u" in
  after:rootkeys:root) echo "authorizedkeysfile .ssh/authorized_keys /etc/ssh/sftp-jail/authorized_keys/acme";;
  after:addr:root) case "$3" in *addr=203.0.113.5*) echo "passwordauthentication yes";; esac; echo "chrootdirectory none"; echo "authorizedkeysfile .ssh/authorized_keys";;
  after:jail:u1|after:jailsvc:svc) echo "chrootdirectory %h"; echo "forcecommand internal-sftp";;
  after:tty:admin) echo "permittty no";;
  *) echo "chrootdirectory none"; echo "authorizedkeysfile .ssh/authorized_keys";;
esac
`,
      { mode: 0o755 },
    );
    const script = [
      "sj_fail() { echo \"FAIL: $1\"; exit 1; }",
      jailBeforeScript(scope, contexts).replace("< /etc/passwd", `< ${path.join(dir, "passwd")}`),
      `echo after > ${dir}/state`,
      jailAfterScript(["/etc/ssh/sshd_config.d/10-sftp-jail-x.conf"]),
      "echo OK",
    ].join("\n");
    const r = cp.spawnSync("sh", ["-c", script], { env: { PATH: `${dir}:${process.env.PATH}` } });
    const log = fs.readFileSync(path.join(dir, "log"), "utf8");
    fs.rmSync(dir, { recursive: true, force: true });
    return { out: r.stdout.toString().trim(), err: r.stderr.toString(), log };
  }

  it("refuses a change that makes sshd read another key file for root (Match User root + AuthorizedKeysFile)", () => {
    const r = run("rootkeys");
    expect(r.err).toBe("");
    expect(r.out).toBe(
      `FAIL: this change would alter what sshd allows root, an account sftp-jail does not jail: sshd would resolve authorizedkeysfile ".ssh/authorized_keys /etc/ssh/sftp-jail/authorized_keys/acme" for it (sshd -T -C user=root,host=${NEUTRAL_ADDR},addr=${NEUTRAL_ADDR}), most likely set by /etc/ssh/sshd_config.d/10-sftp-jail-x.conf. A block may change sshd's settings only for the accounts it jails: narrow its Match to them (e.g. Match Group <the jail's group>).`,
    );
  });

  it("refuses taking something away from an admin (PermitTTY no), and judges the block's own clients", () => {
    expect(run("tty").out).toMatch(/^FAIL: this change would alter what sshd allows admin, an account sftp-jail does not jail: sshd would resolve permittty "no" for it /);
    // Only a client at 203.0.113.5 sees the change: it is evaluated there because the block's Match names it.
    const ctx = matchContexts(["Match User root Address 203.0.113.5/32,!10.0.0.1\n\tPasswordAuthentication yes\n"]);
    expect(ctx).toEqual(["host=203.0.113.5,addr=203.0.113.5"]);
    expect(run("addr").out).toBe("OK");
    expect(run("addr", "all", ctx).out).toMatch(/^FAIL: this change would alter what sshd allows root, .*sshd would resolve passwordauthentication "yes" for it \(sshd -T -C user=root,host=203\.0\.113\.5,addr=203\.0\.113\.5\)/);
  });

  it("lets a change jail an account that may be jailed, never a system account", () => {
    expect(run("jail").out).toBe("OK");
    expect(run("jailsvc").out).toMatch(/^FAIL: this change would alter what sshd allows svc, /);
  });

  it("evaluates only the accounts in the change's scope; an unchanged host passes", () => {
    const r = run("none", { users: ["root"], groups: [] });
    expect(r.out).toBe("OK");
    expect([...new Set(r.log.trim().split("\n").map((l: string) => l.split(",")[0]))]).toEqual(["user=root"]);
  });
});

describe("the block-change check inside an apply", () => {
  it("stays valid shell when apply wraps it as a step (a here-document terminator must be alone on its line)", () => {
    const { applyScript } = require("../../provider/apply/apply");
    const { verifyScript } = require("../../provider/plan/lockout");
    const script = applyScript([
      { description: "before", script: require("../../provider/plan/jail").jailBeforeScript() },
      { description: "verify", script: verifyScript({ user: "root", auth: ["publickey"] }, "true", jailAfterScript(["/x"])) },
    ]);
    const r = require("child_process").spawnSync("sh", ["-n"], { input: script });
    expect(r.stderr.toString()).toBe("");
    expect(r.status).toBe(0);
  });
});
