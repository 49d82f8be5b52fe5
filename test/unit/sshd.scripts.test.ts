/**
 * The host-side parts of an SshdMatchBlock change, run for real with /bin/sh: the Subsystem reference count on a
 * scratch copy of Debian 12's /etc/ssh, and the operator check against `sshd -T -C` output captured from a sandbox
 * host (a stand-in `sshd` prints it). Nothing here touches this machine's /etc/ssh.
 *
 * fixtures/debian12.sshd-T-root*.txt: `sshd -T -C user=root,host=127.0.0.1,addr=127.0.0.1,laddr=127.0.0.1,lport=22`
 * on a fresh sandbox host (`sandbox.sh console <host> ...`), as shipped, then with a drop-in `Match User root` +
 * `ForceCommand internal-sftp`, then with `Match User *` + `PubkeyAuthentication no`.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Operator, subsystemScript, verifyScript } from "../../provider/plan/sshd";
import { WANTS_SUBSYSTEM, transformMain, untransformMain } from "../../provider/plan/sshdRender";
import { debian12 } from "./fixtures";

const DEBIAN_MAIN = debian12().sshd.main!.content;
const fixture = (name: string) => path.join(__dirname, "fixtures", `debian12.sshd-T-${name}.txt`);

let root: string;
const main = () => path.join(root, "etc/ssh/sshd_config");
const orig = () => `${main()}.sftp-jail.orig`;
const dropin = (name: string) => path.join(root, "etc/ssh/sshd_config.d", name);

function sh(script: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync("/bin/sh", ["-c", script], { env: { ...process.env, ...env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "sj-sshd-unit-"));
  fs.mkdirSync(path.join(root, "etc/ssh/sshd_config.d"), { recursive: true });
  fs.writeFileSync(main(), DEBIAN_MAIN, { mode: 0o600 });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe("Subsystem reference count (host side)", () => {
  const settle = () => sh(subsystemScript(DEBIAN_MAIN, transformMain(DEBIAN_MAIN), root));

  it("edits the main file while a block file wants it and restores it byte for byte after the last one", () => {
    fs.writeFileSync(dropin("50-sftp-jail-a.conf"), `${WANTS_SUBSYSTEM}\nMatch Group sftp\n`);
    fs.writeFileSync(dropin("60-sftp-jail-b.conf"), `${WANTS_SUBSYSTEM}\nMatch Group x\n`);
    expect(settle().code).toBe(0);
    expect(fs.readFileSync(main(), "utf8")).toBe(transformMain(DEBIAN_MAIN));
    expect(fs.statSync(main()).mode & 0o777).toBe(0o600); // owner and mode kept
    expect(fs.readFileSync(orig(), "utf8")).toBe(DEBIAN_MAIN);
    expect(settle().code).toBe(0); // idempotent
    expect(fs.readFileSync(main(), "utf8")).toBe(transformMain(DEBIAN_MAIN));

    fs.rmSync(dropin("50-sftp-jail-a.conf"));
    expect(settle().code).toBe(0);
    expect(fs.readFileSync(main(), "utf8")).toBe(transformMain(DEBIAN_MAIN)); // b still wants it

    fs.rmSync(dropin("60-sftp-jail-b.conf"));
    expect(settle().code).toBe(0);
    expect(fs.readFileSync(main(), "utf8")).toBe(DEBIAN_MAIN);
    expect(fs.existsSync(orig())).toBe(false);
  });

  it("ignores blocks that do not want it, backups and other files", () => {
    fs.writeFileSync(dropin("50-sftp-jail-a.conf"), "Match Group sftp\n");
    fs.writeFileSync(dropin("50-sftp-jail-b.conf.sftp-jail.bak"), `${WANTS_SUBSYSTEM}\n`);
    fs.writeFileSync(dropin("10-admin.conf"), `${WANTS_SUBSYSTEM}\n`);
    expect(settle().code).toBe(0);
    expect(fs.readFileSync(main(), "utf8")).toBe(DEBIAN_MAIN);
  });

  it("undoes only its own line when the main file was edited elsewhere meanwhile", () => {
    const edited = transformMain(DEBIAN_MAIN).replace("PrintMotd no", "PrintMotd yes");
    fs.writeFileSync(main(), edited);
    fs.writeFileSync(orig(), DEBIAN_MAIN);
    // What the planner renders from a snapshot of the edited file.
    expect(sh(subsystemScript(untransformMain(edited), edited, root)).code).toBe(0);
    expect(fs.readFileSync(main(), "utf8")).toBe(DEBIAN_MAIN.replace("PrintMotd no", "PrintMotd yes"));
    expect(fs.existsSync(orig())).toBe(false);
  });

  it("refuses when the main file is neither version it planned for", () => {
    fs.writeFileSync(dropin("50-sftp-jail-a.conf"), `${WANTS_SUBSYSTEM}\n`);
    fs.writeFileSync(main(), DEBIAN_MAIN + "# edited meanwhile\n");
    const r = settle();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("changed while sftp-jail was planning");
    expect(fs.readFileSync(main(), "utf8")).toBe(DEBIAN_MAIN + "# edited meanwhile\n");
  });
});

describe("operator check (sshd -t, then sshd -T -C for this session)", () => {
  const ROOT_KEY: Operator = { user: "root", auth: ["publickey"] };

  function verify(op: Operator, eff: string, extra: NodeJS.ProcessEnv = {}) {
    const bin = path.join(root, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(
      path.join(bin, "sshd"),
      `#!/bin/sh\ncase "$1" in\n-t) [ -z "$FAKE_T_FAIL" ] || { echo "$FAKE_T_FAIL" >&2; exit 255; }; exit 0;;\n-T) echo "$*" > "${root}/ctx"; cat "$FAKE_EFF";;\nesac\n`,
      { mode: 0o755 },
    );
    const effFile = path.join(root, "eff.txt");
    fs.writeFileSync(effFile, eff);
    const r = sh(verifyScript(op, `touch "${root}/reverted"`), {
      PATH: `${bin}:${process.env.PATH}`,
      SSH_CONNECTION: "127.0.0.1 51234 127.0.0.1 22",
      FAKE_EFF: effFile,
      ...extra,
    });
    return { ...r, reverted: fs.existsSync(path.join(root, "reverted")), ctx: fs.existsSync(path.join(root, "ctx")) ? fs.readFileSync(path.join(root, "ctx"), "utf8") : "" };
  }

  it("passes Debian 12's defaults for root, asking sshd about this session's addresses", () => {
    const r = verify(ROOT_KEY, fs.readFileSync(fixture("root"), "utf8"));
    expect(r).toMatchObject({ code: 0, reverted: false });
    expect(r.ctx.trim()).toBe("-T -C user=root,host=127.0.0.1,addr=127.0.0.1,laddr=127.0.0.1,lport=22");
  });

  it("reverts and names the cause when root would get ForceCommand internal-sftp", () => {
    const r = verify(ROOT_KEY, fs.readFileSync(fixture("root-forcecommand"), "utf8"));
    expect(r).toMatchObject({ code: 1, reverted: true });
    expect(r.stderr).toContain("would lock the operator out: ForceCommand internal-sftp would apply for root");
  });

  it("reverts when the operator's key login would be disabled, but not when it can still use its password", () => {
    const eff = fs.readFileSync(fixture("root-nopubkey"), "utf8");
    const r = verify(ROOT_KEY, eff);
    expect(r).toMatchObject({ code: 1, reverted: true });
    expect(r.stderr).toContain("PubkeyAuthentication no would disable the way sftp-jail logs in");
    fs.rmSync(path.join(root, "bin"), { recursive: true });
    fs.rmSync(path.join(root, "reverted"));
    expect(verify({ user: "root", auth: ["publickey", "password"] }, eff)).toMatchObject({ code: 0, reverted: false });
  });

  it("reverts on PermitRootLogin no for root, and on an sshd -t refusal", () => {
    const eff = fs.readFileSync(fixture("root"), "utf8").replace("permitrootlogin without-password", "permitrootlogin no");
    expect(verify(ROOT_KEY, eff)).toMatchObject({ code: 1, reverted: true, stderr: expect.stringContaining("PermitRootLogin no") });
    fs.rmSync(path.join(root, "bin"), { recursive: true });
    fs.rmSync(path.join(root, "reverted"));
    const t = verify(ROOT_KEY, "", { FAKE_T_FAIL: "line 4: Bad configuration option: Bogus" });
    expect(t).toMatchObject({ code: 1, reverted: true });
    expect(t.stderr).toContain("sshd -t refused the configuration with this change: line 4: Bad configuration option: Bogus");
  });
});
