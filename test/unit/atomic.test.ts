/**
 * The one atomic write and restore (plan/atomic.ts), run by /bin/sh on scratch files under /run, and the writers that
 * use it (plan/files.ts atomicWrite, the sshd revert, the account restore). A stand-in `sync` on PATH logs what it was
 * asked to flush and what the target held at that moment, then runs the real one: the temp file is flushed before the
 * rename, the directory after it.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { commitSh, parentOf, restoreFileSh, writeFileSh } from "../../provider/plan/atomic";
import { atomicWrite, backupPath } from "../../provider/plan/files";
import { restoreScript } from "../../provider/plan/sshdScripts";
import { SCRIPT_PREFIX } from "../../provider/observe/snapshot";
import { quoteArg } from "../../provider/util/shell";

let root: string;
const target = () => path.join(root, "etc", "app.conf");
const tmp = () => `${target()}.sftp-jail.tmp`;
const log = () => path.join(root, "sync.log");
const synced = () => (fs.existsSync(log()) ? fs.readFileSync(log(), "utf8").trim().split("\n") : []);

/** Runs `script` (after the host-side prelude, with `prelude`) with the stand-in `sync` first on PATH. */
function sh(script: string, prelude = "") {
  const bin = path.join(root, "bin");
  const r = spawnSync("/bin/sh", ["-c", `${prelude}\nPATH=${quoteArg(bin)}:$PATH\n${script}`], { encoding: "utf8" });
  return { code: r.status, stderr: r.stderr };
}

beforeEach(() => {
  root = fs.mkdtempSync("/run/sj-atomic-test-");
  fs.mkdirSync(path.join(root, "etc"));
  fs.mkdirSync(path.join(root, "bin"));
  // Logs "<what> <target's content>" and flushes for real.
  fs.writeFileSync(path.join(root, "bin", "sync"), `#!/bin/sh\nprintf '%s %s\\n' "$1" "$(cat ${quoteArg(target())} 2>/dev/null || echo -)" >> ${quoteArg(log())}\nexec /bin/sync "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(target(), "old\n", { mode: 0o640 });
  fs.chownSync(target(), 1234, 2345);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const w = (over: Partial<Parameters<typeof writeFileSh>[0]> = {}) =>
  writeFileSh({ target: quoteArg(target()), tmp: quoteArg(tmp()), dir: quoteArg(parentOf(target())), content: "printf 'new\\n'", attrs: "keep", ...over });

describe("writeFileSh", () => {
  it("keeps the target's owner and mode, fsyncs the temp file before the rename and the directory after it", () => {
    expect(sh(w())).toMatchObject({ code: 0 });
    expect(fs.readFileSync(target(), "utf8")).toBe("new\n");
    const st = fs.statSync(target());
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1234, 2345, 0o640]);
    expect(fs.existsSync(tmp())).toBe(false);
    expect(synced()).toEqual([`${tmp()} old`, `${path.join(root, "etc")} new`]);
  });

  it("sets the owner and mode given, and creates a file that did not exist", () => {
    fs.rmSync(target());
    expect(sh(w({ attrs: { owner: "0:0", mode: "0600" } }))).toMatchObject({ code: 0 });
    const st = fs.statSync(target());
    expect([st.uid, st.gid, st.mode & 0o777, fs.readFileSync(target(), "utf8")]).toEqual([0, 0, 0o600, "new\n"]);
    expect(synced()).toEqual([`${tmp()} -`, `${path.join(root, "etc")} new`]);
  });

  it("leaves the target untouched and no temp file when the content or a check fails, with that exit status", () => {
    for (const over of [{ content: "printf 'half'; (exit 3)" }, { checks: ["(exit 4)"] }, { checks: ["true", "false"] }]) {
      const r = sh(`${w(over)}\necho "rc=$?"`);
      expect(r.code).toBe(0); // the script goes on: the failure is the chain's status, not an exit
      expect(fs.readFileSync(target(), "utf8")).toBe("old\n");
      expect(fs.existsSync(tmp())).toBe(false);
    }
    expect(synced()).toEqual([]);
    expect(spawnSync("/bin/sh", ["-c", `${w({ checks: ["(exit 4)"] })} && echo after; echo "rc=$?"`], { encoding: "utf8" }).stdout).toBe("rc=4\n");
  });

  it("replaces a symlink at the target instead of writing through it", () => {
    const other = path.join(root, "other");
    fs.writeFileSync(other, "theirs\n");
    fs.rmSync(target());
    fs.symlinkSync(other, target());
    expect(sh(w({ attrs: { mode: "0644" } }))).toMatchObject({ code: 0 });
    expect(fs.lstatSync(target()).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(other, "utf8")).toBe("theirs\n");
  });

  it("fails on a directory at the target (or a symlink to one) instead of moving the temp file into it", () => {
    const elsewhere = path.join(root, "elsewhere");
    fs.mkdirSync(elsewhere);
    fs.rmSync(target());
    fs.symlinkSync(elsewhere, target());
    // A symlink to a directory is replaced itself, never followed into the directory it names.
    expect(sh(w({ attrs: { mode: "0644" } }))).toMatchObject({ code: 0 });
    expect([fs.lstatSync(target()).isFile(), fs.readdirSync(elsewhere)]).toEqual([true, []]);
    fs.rmSync(target());
    fs.mkdirSync(target());
    const r = sh(`${w({ attrs: { mode: "0644" } })}\necho "rc=$?" >&2`);
    expect(r.stderr).toMatch(/rc=[1-9]/);
    expect([fs.statSync(target()).isDirectory(), fs.readdirSync(target()), fs.existsSync(tmp())]).toEqual([true, [], false]);
  });
});

describe("restoreFileSh", () => {
  it("renames a kept copy back over the target, with its owner and mode, fsyncing both", () => {
    const kept = `${target()}.sftp-jail.bak`;
    fs.copyFileSync(target(), kept);
    fs.chownSync(kept, 1234, 2345);
    fs.chmodSync(kept, 0o640);
    fs.writeFileSync(target(), "changed\n");
    expect(sh(restoreFileSh(quoteArg(kept), quoteArg(target()), quoteArg(path.join(root, "etc"))))).toMatchObject({ code: 0 });
    expect(fs.readFileSync(target(), "utf8")).toBe("old\n");
    expect(fs.existsSync(kept)).toBe(false);
    expect(synced()).toEqual([`${kept} changed`, `${path.join(root, "etc")} old`]);
  });

  it("with a temp file, copies the kept file (which stays) beside the target first", () => {
    const kept = path.join(root, "orig");
    fs.writeFileSync(kept, "original\n", { mode: 0o600 });
    fs.writeFileSync(target(), "changed\n");
    expect(sh(restoreFileSh(quoteArg(kept), quoteArg(target()), quoteArg(path.join(root, "etc")), quoteArg(tmp())))).toMatchObject({ code: 0 });
    expect([fs.readFileSync(target(), "utf8"), fs.statSync(target()).mode & 0o777, fs.readFileSync(kept, "utf8")]).toEqual(["original\n", 0o600, "original\n"]);
    expect(fs.existsSync(tmp())).toBe(false);
    expect(synced()).toEqual([`${tmp()} changed`, `${path.join(root, "etc")} original`]);
  });
});

describe("the writers that use them", () => {
  it("atomicWrite (plan/files.ts): written in the pinned directory, backup kept, temp file and directory fsync'd", () => {
    fs.chmodSync(root, 0o755);
    const step = atomicWrite({ path: target(), content: "k1\n", mode: 0o644, owner: 0, group: 0 }, "write");
    expect(step.script).toContain(commitSh("./app.conf.sftp-jail.tmp", "./app.conf", "."));
    expect(sh(step.script, SCRIPT_PREFIX)).toMatchObject({ code: 0 });
    expect(fs.readFileSync(target(), "utf8")).toBe("k1\n");
    expect(fs.readFileSync(backupPath(target()), "utf8")).toBe("old\n");
    expect(synced()).toEqual(["./app.conf.sftp-jail.tmp old", ". k1"]);
  });

  it("atomicWrite refuses what the validator refuses, leaving the target, no backup and no temp file", () => {
    fs.chmodSync(root, 0o755);
    const step = atomicWrite({ path: target(), content: "bad\n", mode: 0o644, owner: 0, group: 0 }, "write", ["grep", "-q", "good", "%s"]);
    expect(sh(step.script, SCRIPT_PREFIX).code).not.toBe(0);
    expect(fs.readFileSync(target(), "utf8")).toBe("old\n");
    expect(fs.readdirSync(path.join(root, "etc"))).toEqual(["app.conf"]);
  });

  it("restoreScript (plan/sshdScripts.ts, the revert of an sshd change) puts the backup back through restoreFileSh", () => {
    fs.copyFileSync(target(), backupPath(target()));
    fs.writeFileSync(target(), "new\n");
    expect(sh(restoreScript(target(), true))).toMatchObject({ code: 0 });
    expect(fs.readFileSync(target(), "utf8")).toBe("old\n");
    expect(synced()).toEqual([`${backupPath(target())} new`, `${path.join(root, "etc")} old`]);
  });
});

describe("the account restore (plan/accounts.ts sj_put), run on scratch copies of /etc files", () => {
  it("puts back exactly the saved lines, keeps owner and mode, and fsyncs through the one write", () => {
    const { accountGuard } = require("../../provider/plan/accounts") as typeof import("../../provider/plan/accounts");
    const g = accountGuard("t1", [{ description: "x", script: "true", effects: { accounts: ["carol"] } }])!;
    // The restore step is the sj_put function, then one call per file: run the function on a scratch file.
    const fn = g.restore.script.slice(0, g.restore.script.indexOf("\n}\n") + 2);
    const shadow = path.join(root, "etc", "shadow");
    const saved = path.join(root, "saved-shadow");
    fs.writeFileSync(shadow, "root:*:1::::::\ncarol:!:2::::::\nbob:*:3::::::\n", { mode: 0o640 });
    fs.chownSync(shadow, 0, 42);
    fs.writeFileSync(saved, "carol:$6$old:1::::::\n");
    expect(sh(`${fn}\nsj_put ${quoteArg(shadow)} ' carol ' ${quoteArg(saved)}`)).toMatchObject({ code: 0 });
    expect(fs.readFileSync(shadow, "utf8")).toBe("root:*:1::::::\ncarol:$6$old:1::::::\nbob:*:3::::::\n");
    const st = fs.statSync(shadow);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, 42, 0o640]);
    expect(synced().map((l) => l.split(" ")[0])).toEqual([`${shadow}.sftp-jail.tmp`, path.join(root, "etc")]);
    expect(fs.existsSync(`${shadow}.sftp-jail.tmp`)).toBe(false);
  });
});
