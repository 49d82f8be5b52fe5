/**
 * The host-side Subsystem reference count of an SshdMatchBlock change, run for real with /bin/sh on a scratch copy of
 * Debian 12's /etc/ssh (the operator check has its own suite: lockout.test.ts). Nothing here touches this machine's
 * /etc/ssh.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { subsystemScript } from "../../provider/plan/sshd";
import { WANTS_SUBSYSTEM, transformMain, untransformMain } from "../../provider/plan/sshdRender";
import { debian12 } from "./fixtures";

const DEBIAN_MAIN = debian12().sshd.main!.content;

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
