/**
 * The host-side lockout check (plan/lockout.ts), run for real with /bin/sh against `sshd -T -C` output captured from a
 * sandbox host: a stand-in `sshd` prints it (and fails `-t` on request), a stand-in `id` names the operator's groups.
 * test/e2e/lockout.test.ts runs the same check against real sshd.
 *
 * fixtures/debian12.sshd-T-root*.txt: `sshd -T -C user=root,host=127.0.0.1,addr=127.0.0.1,laddr=127.0.0.1,lport=22`
 * on a fresh sandbox host (`sandbox.sh console <host> ...`), as shipped, then with a drop-in `Match User root` +
 * `ForceCommand internal-sftp`, then with `Match User *` + `PubkeyAuthentication no`. Other cases edit the shipped
 * output the way the named directive would show in it.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Operator, verifyScript } from "../../provider/plan/lockout";

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", `debian12.sshd-T-${name}.txt`), "utf8");
const SHIPPED = fixture("root");
const ROOT_KEY: Operator = { user: "root", auth: ["publickey"] };
const DEPLOY: Operator = { user: "deploy", auth: ["publickey"] };

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "sj-lockout-unit-"));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** `sshd -T` output with `key value` set (added if absent) or, with value null, removed. */
function withDirective(eff: string, key: string, value: string | null): string {
  const lines = eff.split("\n").filter((l) => l.split(" ")[0] !== key);
  return [...(value === null ? [] : [`${key} ${value}`]), ...lines].join("\n");
}

/** Runs the check with stand-ins; `env` may drop SSH_CONNECTION or set FAKE_T_FAIL (sshd -t's complaint). */
function verify(op: Operator, eff: string, env: NodeJS.ProcessEnv = {}, groups = "root") {
  const bin = path.join(root, "bin");
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    path.join(bin, "sshd"),
    `#!/bin/sh\ncase "$1" in\n-t) [ -z "$FAKE_T_FAIL" ] || { echo "$FAKE_T_FAIL" >&2; exit 255; }; exit 0;;\n-T) echo "$*" > "${root}/ctx"; cat "$FAKE_EFF";;\nesac\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(bin, "id"), `#!/bin/sh\n[ "$1" = -Gn ] && [ "$2" = ${JSON.stringify(op.user)} ] && echo ${JSON.stringify(groups)}\n`, { mode: 0o755 });
  const effFile = path.join(root, "eff.txt");
  fs.writeFileSync(effFile, eff);
  fs.rmSync(path.join(root, "reverted"), { force: true });
  fs.rmSync(path.join(root, "ctx"), { force: true });
  const base: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SSH_CONNECTION: "127.0.0.1 51234 127.0.0.1 22", FAKE_EFF: effFile };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  const r = spawnSync("/bin/sh", ["-c", verifyScript(op, `touch "${root}/reverted"`)], { env: base, encoding: "utf8" });
  return {
    code: r.status,
    stderr: r.stderr,
    reverted: fs.existsSync(path.join(root, "reverted")),
    ctx: fs.existsSync(path.join(root, "ctx")) ? fs.readFileSync(path.join(root, "ctx"), "utf8").trim() : "",
  };
}

describe("the operator keeps its access", () => {
  it("passes Debian 12's defaults for root, asking sshd about this session's addresses", () => {
    const r = verify(ROOT_KEY, SHIPPED);
    expect(r).toMatchObject({ code: 0, reverted: false });
    expect(r.ctx).toBe("-T -C user=root,host=127.0.0.1,addr=127.0.0.1,laddr=127.0.0.1,lport=22");
  });

  it("finds SSH_CONNECTION in a parent process when sudo dropped it from the environment", () => {
    // The parent is a shell that has it; the check itself runs without it.
    const bin = path.join(root, "bin");
    verify(ROOT_KEY, SHIPPED); // writes the stand-ins
    const script = verifyScript(ROOT_KEY, `touch "${root}/reverted"`);
    // `; exit $?`: the outer shell must stay the check's parent (not exec the last command in its place).
    const r = spawnSync("/bin/sh", ["-c", `env -u SSH_CONNECTION /bin/sh -c "$1"; exit $?`, "sh", script], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SSH_CONNECTION: "192.0.2.7 40000 192.0.2.1 2222", FAKE_EFF: path.join(root, "eff.txt") },
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(root, "ctx"), "utf8").trim()).toBe("-T -C user=root,host=192.0.2.7,addr=192.0.2.7,laddr=192.0.2.1,lport=2222");
  });

  it("lets a password operator through on keyboard-interactive alone", () => {
    const eff = withDirective(withDirective(SHIPPED, "passwordauthentication", "no"), "kbdinteractiveauthentication", "yes");
    expect(verify({ user: "deploy", auth: ["password"] }, eff, {}, "deploy")).toMatchObject({ code: 0, reverted: false });
    // With keyboard-interactive off too, a password operator could not log in.
    const none = withDirective(eff, "kbdinteractiveauthentication", "no");
    const r = verify({ user: "deploy", auth: ["password"] }, none, {}, "deploy");
    expect(r).toMatchObject({ code: 1, reverted: true });
    expect(r.stderr).toContain("PasswordAuthentication no, KbdInteractiveAuthentication no would disable the way sftp-jail logs in");
  });

  it("judges PermitRootLogin only for root", () => {
    expect(verify(DEPLOY, withDirective(SHIPPED, "permitrootlogin", "no"), {}, "deploy sudo")).toMatchObject({ code: 0, reverted: false });
  });

  it("passes access lists that include the operator, by name, by glob or by group", () => {
    let eff = withDirective(SHIPPED, "allowusers", "admin de?loy");
    eff = withDirective(eff, "allowgroups", "wheel sudo");
    eff = withDirective(eff, "denyusers", "guest");
    eff = withDirective(eff, "denygroups", "sftp");
    expect(verify(DEPLOY, eff, {}, "deploy sudo")).toMatchObject({ code: 0, reverted: false });
  });
});

describe("a change that would lock the operator out is reverted, with the cause", () => {
  const refused = (op: Operator, eff: string, cause: string, groups?: string) => {
    const r = verify(op, eff, {}, groups);
    expect(r).toMatchObject({ code: 1, reverted: true });
    expect(r.stderr).toContain(cause);
    expect(r.stderr).toContain("The configuration was restored and sshd was not reloaded.");
  };

  it("ForceCommand internal-sftp for root (captured)", () => {
    refused(ROOT_KEY, fixture("root-forcecommand"), "would lock the operator out: ForceCommand internal-sftp would apply for root");
  });

  it("the key login disabled (captured), unless the operator can use its password", () => {
    refused(ROOT_KEY, fixture("root-nopubkey"), "PubkeyAuthentication no would disable the way sftp-jail logs in");
    expect(verify({ user: "root", auth: ["publickey", "password"] }, fixture("root-nopubkey"))).toMatchObject({ code: 0, reverted: false });
  });

  it("PermitRootLogin no for root, and prohibit-password for a root that logs in with its password", () => {
    refused(ROOT_KEY, withDirective(SHIPPED, "permitrootlogin", "no"), "PermitRootLogin no would apply");
    refused({ user: "root", auth: ["password"] }, withDirective(SHIPPED, "permitrootlogin", "prohibit-password"), "PermitRootLogin prohibit-password would refuse password logins");
  });

  it("ChrootDirectory, MaxSessions 0 and AuthenticationMethods without the operator's method", () => {
    refused(ROOT_KEY, withDirective(SHIPPED, "chrootdirectory", "/srv/jail"), "ChrootDirectory /srv/jail would apply");
    refused(ROOT_KEY, withDirective(SHIPPED, "maxsessions", "0"), "MaxSessions 0 would apply");
    refused(ROOT_KEY, withDirective(SHIPPED, "authenticationmethods", "password"), "AuthenticationMethods password would apply");
    expect(verify(ROOT_KEY, withDirective(SHIPPED, "authenticationmethods", "publickey"))).toMatchObject({ code: 0, reverted: false });
  });

  it("DenyUsers, AllowUsers, DenyGroups and AllowGroups, with sshd's negation", () => {
    refused(DEPLOY, withDirective(SHIPPED, "denyusers", "dep*"), "DenyUsers dep* would apply", "deploy");
    refused(DEPLOY, withDirective(SHIPPED, "allowusers", "admin"), "AllowUsers admin would not include it", "deploy");
    refused(DEPLOY, withDirective(SHIPPED, "allowusers", "* !deploy"), "AllowUsers * !deploy would not include it", "deploy");
    refused(DEPLOY, withDirective(SHIPPED, "denygroups", "sftp"), "DenyGroups sftp would apply (group sftp)", "deploy sftp");
    refused(DEPLOY, withDirective(SHIPPED, "allowgroups", "wheel"), "AllowGroups wheel would not include any of its groups (deploy sudo)", "deploy sudo");
  });

  it("sshd -t refusing the configuration", () => {
    const r = verify(ROOT_KEY, "", { FAKE_T_FAIL: "line 4: Bad configuration option: Bogus" });
    expect(r).toMatchObject({ code: 1, reverted: true });
    expect(r.stderr).toContain("sshd -t refused the configuration with this change: line 4: Bad configuration option: Bogus");
  });
});
