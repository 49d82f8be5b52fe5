/**
 * The no-follow path library (provider/util/hostpath.ts), run for real with /bin/sh on a scratch tree. The tree lives
 * under /run (root-owned, 0755) rather than /tmp (1777, which the library rightly refuses to trust), and the tests
 * chown to other uids, so they run as root like the provider does on a host.
 *
 * Races are made deterministic with stand-in commands earlier on PATH: a `stat` that swaps a directory for a symlink
 * right after the library's lstat of it (between check and cd), and a `chown`/`chmod` that swaps the name after the
 * walk (between cd and change). In every case nothing outside the scratch "jail" may change.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { HOSTPATH_LIB, KEY_FILE_MAX, REFUSED, atOrBelow, depth, hp } from "../../provider/util/hostpath";
import { atomicWrite } from "../../provider/plan/files";
import { LOCAL_RETAIN, planChrootDelete } from "../../provider/plan/chrootDir";
import { decodeFiles, withAncestors } from "../../provider/observe/pathFacts";

let root: string;
let jail: string;
let outside: string;
let bin: string;
const UID = 4242;

/** The library runs under whatever shell a host's login gives (bash on Debian and RHEL, dash as /bin/sh): both, here. */
const SHELLS = ["/bin/sh", "/bin/bash"].filter((p) => fs.existsSync(p));
let shell = SHELLS[0];
function sh(script: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(shell, ["-c", `${HOSTPATH_LIB}\n${script}`], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 20000, maxBuffer: 64 * 1048576 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const st = (p: string) => fs.lstatSync(p);
/** Owner, mode and (for files) content of everything under `dir`, to show nothing there changed. */
function fingerprint(dir: string): string {
  const out: string[] = [];
  const walk = (p: string) => {
    const s = fs.lstatSync(p);
    out.push(`${path.relative(dir, p)} ${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8)} ${s.isFile() ? fs.readFileSync(p, "utf8") : s.isSymbolicLink() ? "-> " + fs.readlinkSync(p) : ""}`);
    if (s.isDirectory()) for (const c of fs.readdirSync(p).sort()) walk(path.join(p, c));
  };
  walk(dir);
  return out.join("\n");
}
/**
 * A stand-in for `name` that runs `action` once (when `when` matches its arguments), after the real command (or,
 * with `first`, before it).
 */
function standIn(name: string, when: string, action: string, first = false) {
  const real = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  const flag = path.join(bin, `${name}.done`);
  const once = `case "$*" in ${when}) if [ ! -e ${flag} ]; then : > ${flag}; ${action}; fi;; esac`;
  fs.writeFileSync(path.join(bin, name), first ? `#!/bin/sh\n${once}\nexec "${real}" "$@"\n` : `#!/bin/sh\nr=0; "${real}" "$@" || r=$?\n${once}\nexit $r\n`, { mode: 0o755 });
}
const withStandIns = () => ({ PATH: `${bin}:${process.env.PATH}` });
/** What sj_read_in printed, by path (as the snapshot's files fact reads it). */
const read_ = (stdout: string) => Object.fromEntries(decodeFiles(stdout).map((f) => [f.path, f.content]));

beforeEach(() => {
  root = fs.mkdtempSync("/run/sj-hostpath-");
  fs.chmodSync(root, 0o755);
  jail = path.join(root, "jail");
  outside = path.join(root, "outside");
  bin = fs.mkdtempSync("/run/sj-hostpath-bin-");
  fs.mkdirSync(jail, { mode: 0o755 });
  // The jailed user's writable data dir, with a root-owned structure dir (app) inside, as nested writableDirs make.
  fs.mkdirSync(path.join(jail, "data/app/log"), { recursive: true, mode: 0o755 });
  fs.chownSync(path.join(jail, "data"), UID, UID);
  fs.chownSync(path.join(jail, "data/app/log"), UID, UID);
  // What an attacker would love to own: stands for /var/log, /etc/shadow.
  fs.mkdirSync(path.join(outside, "log"), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(outside, "shadow"), "root:$6$secret:19000:0:99999:7:::\n", { mode: 0o640 });
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(bin, { recursive: true, force: true });
});

const J = () => depth(jail); // the jail and its ancestors must be root's

describe.each(SHELLS)("no-follow host paths (%s)", (shellPath) => {
  beforeEach(() => {
    shell = shellPath;
  });

  it("creates and converges a directory, acting on the directory itself", () => {
    const r = sh(hp.dir(`${jail}/data/in`, J(), UID, UID, "0750"));
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(st(`${jail}/data/in`)).toMatchObject({ uid: UID, gid: UID });
    expect(st(`${jail}/data/in`).mode & 0o7777).toBe(0o750);
    expect(sh(hp.dir(`${jail}/data/in`, J(), 0, 0, "0755")).code).toBe(0); // converges an existing one
    expect(st(`${jail}/data/in`)).toMatchObject({ uid: 0, gid: 0 });
    // A jailed user's `chmod 6755` on their directory: setuid and setgid are cleared too, not kept by install -d.
    fs.chmodSync(`${jail}/data/in`, 0o6755);
    expect(sh(hp.dir(`${jail}/data/in`, J(), 0, 0, "0755")).code).toBe(0);
    expect(st(`${jail}/data/in`).mode & 0o7777).toBe(0o755);
  });

  it("refuses a symlink planted mid-path (the middle-dir rename trick) and touches nothing outside", () => {
    // The jailed user renames root-owned data/app inside their data/ and puts a symlink to "/var" in its place.
    fs.renameSync(`${jail}/data/app`, `${jail}/data/app.old`);
    fs.symlinkSync(outside, `${jail}/data/app`);
    const before = fingerprint(outside);
    const r = sh(hp.dir(`${jail}/data/app/log`, J(), UID, UID, "0755"));
    expect(r.code).toBe(REFUSED);
    expect(r.stderr).toContain(`sftp-jail: refused: ${jail}/data/app is a symbolic link`);
    expect(fingerprint(outside)).toBe(before);
    // The same for every operation that walks a path.
    for (const script of [hp.chmodDir(`${jail}/data/app/log`, J(), "0777"), hp.chownDir(`${jail}/data/app/log`, J(), String(UID)), hp.rmdir(`${jail}/data/app/log`, J()), hp.rmtree(`${jail}/data/app/log`, J()), hp.rm(`${jail}/data/app/shadow`, J())]) {
      expect(sh(script).code).not.toBe(0);
    }
    expect(fingerprint(outside)).toBe(before);
  });

  it("refuses a symlink as the last component (upload/ replaced by a link to /etc)", () => {
    fs.renameSync(`${jail}/data`, `${jail}/data.old`);
    fs.symlinkSync(outside, `${jail}/data`);
    const before = fingerprint(outside);
    const r = sh(hp.dir(`${jail}/data`, J(), UID, UID, "0755"));
    expect(r.code).toBe(REFUSED);
    expect(r.stderr).toContain(`${jail}/data is a symbolic link`);
    expect(fingerprint(outside)).toBe(before);
  });

  it("the one-process walk: a swap between its cd and its stat is refused, and nothing outside changes", () => {
    // After `cd -P` entered data/app, data/app becomes a symlink to outside/ before the one stat looks at the chain:
    // the walk falls back to the component-by-component one, which refuses the link.
    standIn("stat", `*" . log"`, `mv ${jail}/data/app ${jail}/data/app.old && ln -s ${outside} ${jail}/data/app`, true);
    const before = fingerprint(outside);
    const r = sh(hp.dir(`${jail}/data/app/log`, J(), UID, UID, "0755"), withStandIns());
    expect(fs.existsSync(path.join(bin, "stat.done"))).toBe(true);
    expect(r.code).toBe(REFUSED);
    expect(r.stderr).toContain(`sftp-jail: refused: ${jail}/data/app is a symbolic link`);
    expect(fingerprint(outside)).toBe(before);
  });

  it("the one-process walk: a directory swapped in after its cd is not the one entered, so it walks again to what is there now", () => {
    // data/app is replaced by another real directory: "." (the old one) is not what the path names any more.
    standIn("stat", `*" . log"`, `mv ${jail}/data/app ${jail}/data/app.old && mkdir -p ${jail}/data/app/log`, true);
    const r = sh(hp.dir(`${jail}/data/app/log`, J(), 0, 0, "0700"), withStandIns());
    expect(fs.existsSync(path.join(bin, "stat.done"))).toBe(true);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(st(`${jail}/data/app/log`).mode & 0o777).toBe(0o700); // the directory at the path now
    expect(st(`${jail}/data/app.old/log`)).toMatchObject({ uid: UID }); // the one entered first: untouched
  });

  it("the one-process walk alone accepts only a real, trusted chain; a link, an untrusted ancestor or a missing name sends it back to the full walk", () => {
    const fast = (p: string, n: number, name = "") => sh(`(sj_fast ${p} ${n} ${name} && printf '%s|%s|%s' "$PWD" "$sj_trusted" "$sj_s")`);
    expect(fast(`${jail}/data/app`, J(), "log")).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^${jail}/data/app\\|0\\|[0-9]+:[0-9]+:${UID}:755:.*:directory$`)) });
    expect(fast(jail, J()).stdout).toBe(`${jail}|1|`);
    expect(fast(`${jail}/data/app`, J() + 1).code).toBe(1); // data is the user's
    fs.renameSync(`${jail}/data/app`, `${jail}/data/app.old`);
    fs.symlinkSync(outside, `${jail}/data/app`);
    expect(fast(`${jail}/data/app/log`, J())).toMatchObject({ code: 1, stdout: "" }); // cd -P reaches outside/log
    expect(fast(`${jail}/data/none`, J()).code).toBe(1);
    expect(fast(`${jail}/data/`, J()).code).toBe(1);
  });

  it("detects a swap between the check and the cd (dev:inode after the cd) and changes nothing", () => {
    // The component-by-component walk (what runs when the one-process walk finds anything amiss; forced here): right
    // after it lstat()s data/app, the stand-in replaces it with a symlink to outside/.
    standIn("stat", `*" app"`, `mv ${jail}/data/app ${jail}/data/app.old && ln -s ${outside} ${jail}/data/app`);
    const before = fingerprint(outside);
    const r = sh(`sj_fast() { return 1; }\n${hp.dir(`${jail}/data/app/log`, J(), UID, UID, "0755")}`, withStandIns());
    expect(fs.existsSync(path.join(bin, "stat.done"))).toBe(true); // the swap really happened mid-walk
    expect(r.code).toBe(REFUSED);
    expect(r.stderr).toContain(`${jail}/data/app was replaced while it was being checked`);
    expect(fingerprint(outside)).toBe(before);
  });

  it("a swap after the walk cannot redirect the change: it lands on the directory that was checked", () => {
    // Between the cd into data/app/log and the owner and mode change, the name is swapped for a symlink to outside/log.
    const log = `${jail}/data/app/log`;
    const ino = st(log).ino;
    fs.writeFileSync(
      path.join(bin, "install"),
      `#!/bin/sh\nmv ${log} ${log}.moved && ln -s ${outside}/log ${log}\nexec "$(PATH=${process.env.PATH} command -v install)" "$@"\n`,
      { mode: 0o755 },
    );
    const before = fingerprint(outside);
    const r = sh(hp.dir(log, J(), 0, 0, "0700"), withStandIns());
    expect(r.code).toBe(0);
    expect(fingerprint(outside)).toBe(before);
    expect(st(`${log}.moved`)).toMatchObject({ ino, uid: 0 });
    expect(st(`${log}.moved`).mode & 0o777).toBe(0o700);
  });

  it("requires the jail and its ancestors to be root's and not group/other-writable", () => {
    fs.chmodSync(jail, 0o775);
    const r = sh(hp.dir(`${jail}/data`, J(), UID, UID, "0755"));
    expect(r.code).toBe(REFUSED);
    expect(r.stderr).toContain(`${jail} must be owned by root and not writable by group or others (uid 0, mode 775)`);
  });

  it("removes only empty real directories and trees by name, never through or behind a symlink", () => {
    fs.mkdirSync(`${outside}/empty`);
    fs.symlinkSync(outside, `${jail}/data/link`);
    const before = fingerprint(outside);
    expect(sh(hp.rmdir(`${jail}/data/link/empty`, J())).code).not.toBe(0);
    expect(sh(hp.rmtree(`${jail}/data`, J() - 1)).code).toBe(0); // rm -rf removes the link, not its target
    expect(fs.existsSync(`${jail}/data`)).toBe(false);
    expect(fingerprint(outside)).toBe(before);
  });

  it("removes a directory sftp-jail created only while it is empty and still root's (sj_rmdir_root)", () => {
    const made = `${root}/made`;
    fs.mkdirSync(`${made}/inner`, { recursive: true, mode: 0o755 });
    expect(sh(hp.rmdirRoot(made, depth(made) - 1)).code).not.toBe(0); // not empty
    expect(sh(hp.rmdirRoot(`${made}/inner`, depth(made))).code).toBe(0);
    fs.chownSync(made, UID, UID); // handed to someone since: theirs now
    expect(sh(hp.rmdirRoot(made, depth(made) - 1)).code).not.toBe(0);
    expect(fs.existsSync(made)).toBe(true);
    fs.chownSync(made, 0, 0);
    expect(sh(hp.rmdirRoot(made, depth(made) - 1)).code).toBe(0);
    expect(fs.existsSync(made)).toBe(false);
    expect(sh(hp.rmdirRoot(made, depth(made) - 1)).code).toBe(0); // gone already (another chroot's destroy took it)
    fs.symlinkSync(outside, made);
    expect(sh(hp.rmdirRoot(made, depth(made) - 1)).code).not.toBe(0); // a symlink is never a directory it made
    expect(fs.lstatSync(made).isSymbolicLink()).toBe(true);
  });

  it("moves a jail holding a symlink whole, without following it", () => {
    fs.symlinkSync(`${outside}/shadow`, `${jail}/data/shadow`);
    fs.mkdirSync(`${root}/retained`, { mode: 0o700 });
    const before = fingerprint(outside);
    expect(sh(hp.mvdir(jail, depth(jail) - 1, `${root}/retained/jail.1`))).toMatchObject({ code: 0 });
    expect(fs.readlinkSync(`${root}/retained/jail.1/data/shadow`)).toBe(`${outside}/shadow`);
    expect(fingerprint(outside)).toBe(before);
  });

  /** `script` after the library in a private mount namespace of its own (mounts made there vanish with it). */
  const shNs = (script: string) => {
    const r = spawnSync("unshare", ["-m", "--propagation", "private", shell, "-c", `${HOSTPATH_LIB}\n${script}`], { encoding: "utf8", timeout: 20000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it("never deletes or moves through a mount at or below the jail (a bind mount of shared data is not another device)", () => {
    fs.mkdirSync(`${jail}/data/shared`);
    fs.writeFileSync(`${outside}/prices.csv`, "shared\n");
    const bind = `mount --bind ${outside} ${jail}/data/shared`;
    const del = shNs(`${bind}\n${hp.rmtree(jail, depth(jail) - 1)}`);
    expect(del).toMatchObject({ code: REFUSED });
    expect(del.stderr).toContain(`${jail} is or holds a mount point: not deleted (unmount it first)`);
    fs.mkdirSync(`${root}/retained`, { mode: 0o700 });
    const mv = shNs(`${bind}\n${hp.mvdir(jail, depth(jail) - 1, `${root}/retained/jail.1`)}`);
    expect(mv).toMatchObject({ code: REFUSED });
    expect(mv.stderr).toContain("is or holds a mount point: not moved");
    // The jail itself a mount point (a user's own volume).
    expect(shNs(`mount -t tmpfs -o mode=0755 sj ${jail}\n${hp.rmtree(jail, depth(jail) - 1)}`)).toMatchObject({ code: REFUSED });
    expect(fs.readFileSync(`${outside}/prices.csv`, "utf8")).toBe("shared\n");
    expect(fs.existsSync(`${jail}/data/app/log`)).toBe(true);
  });

  it("moves only by rename: a jail on another filesystem than the destination is refused, never copied", () => {
    fs.mkdirSync(`${root}/vol`, { mode: 0o755 });
    fs.mkdirSync(`${root}/retained`, { mode: 0o700 });
    const r = shNs(`mount -t tmpfs -o mode=0755 sj ${root}/vol && mkdir -m 0755 ${root}/vol/j && echo up > ${root}/vol/j/f\n${hp.mvdir(`${root}/vol/j`, depth(root) + 1, `${root}/retained/j.1`)}\nr=$?; ls -A ${root}/vol/j; exit $r`);
    expect(r).toMatchObject({ code: REFUSED, stdout: "f\n" });
    expect(r.stderr).toContain(`${root}/vol/j is on another filesystem than ${root}/retained/j.1: not moved`);
    expect(fs.readdirSync(`${root}/retained`)).toEqual([]);
    // A destination that exists already: refused, nothing merged into it.
    fs.mkdirSync(`${root}/retained/jail.1`);
    expect(sh(hp.mvdir(jail, depth(jail) - 1, `${root}/retained/jail.1`))).toMatchObject({ code: REFUSED });
  });

  it("a destroy's retain keeps a jail on another filesystem beside it (a rename), and fails, saying nothing retained, when the move is refused", () => {
    fs.mkdirSync(`${root}/vol`, { mode: 0o755 });
    const alice = `${root}/vol/alice`;
    const retain = planChrootDelete({ path: alice, subdirs: [{ path: "upload" }], createdAncestors: [], onDelete: "retain" }, "T")[0].script;
    // /var/lib of this namespace only: the host's own retained area is never touched by the test.
    const setup = `mount -t tmpfs -o mode=0755 sj /var/lib && mount -t tmpfs -o mode=0755 sj ${root}/vol && mkdir -m 0755 ${alice} && mkdir ${alice}/upload && echo partner > ${alice}/upload/report.csv`;
    const moved = shNs(`${setup}\n( ${retain} ); r=$?; cat ${root}/vol/${LOCAL_RETAIN}/*/upload/report.csv; stat -c '%U %a' ${root}/vol/${LOCAL_RETAIN}; ls -A /var/lib/sftp-jail/retained; exit $r`);
    expect(moved).toMatchObject({ code: 0, stdout: "partner\nroot 700\n" });
    expect(moved.stderr).toMatch(new RegExp(`retained files of ${alice} in ${root}/vol/${LOCAL_RETAIN}/`));
    // A bind mount inside: the move is refused, the step fails, the jail and its files stay where they are.
    const refused = shNs(`${setup} && mkdir ${alice}/shared && mount --bind ${outside} ${alice}/shared\n( ${retain} ); r=$?; cat ${alice}/upload/report.csv; exit $r`);
    expect(refused).toMatchObject({ code: REFUSED, stdout: "partner\n" });
    expect(refused.stderr).not.toContain("retained files");
  });

  it("a destroy's retain ends the sessions chrooted into the jail, and no other process", () => {
    const alice = `${root}/alice`;
    const bob = `${root}/bob`;
    const retain = planChrootDelete({ path: alice, subdirs: [{ path: "upload" }], createdAncestors: [], onDelete: "retain" }, "T")[0].script;
    // A stand-in for an SFTP session: a process whose root directory is the jail (chroot(2), then it waits).
    const session = (dir: string) => `python3 -c 'import os, time; os.chroot("${dir}"); time.sleep(60)' & `;
    const state = (pid: string) => `if [ -e /proc/${pid} ] && ! grep -q '^State:.*Z' /proc/${pid}/status; then echo alive; else echo gone; fi`;
    const r = shNs(
      [
        `mount -t tmpfs -o mode=0755 sj /var/lib && mkdir -m 0755 ${alice} ${bob} && mkdir ${alice}/upload && echo partner > ${alice}/upload/report.csv`,
        `${session(alice)} sj_a=$!`,
        `${session(bob)} sj_b=$!`,
        "sleep 0.5",
        `( ${retain} ); r=$?`,
        "sleep 0.2",
        state("$sj_a"),
        state("$sj_b"),
        "kill -KILL $sj_b",
        "exit $r",
      ].join("\n"),
    );
    expect(r).toMatchObject({ code: 0, stdout: "gone\nalive\n" });
    expect(r.stderr).toMatch(new RegExp(`retained files of ${alice} in `));
  });

  describe("reads", () => {
    const read = (p: string) => sh(`sj_read ${p}`);

    it("prints a regular file base64-encoded, and exits 1 (quietly) when it is missing", () => {
      fs.writeFileSync(`${jail}/data/keys`, "ssh-ed25519 AAAA x\n");
      expect(Buffer.from(read(`${jail}/data/keys`).stdout, "base64").toString()).toBe("ssh-ed25519 AAAA x\n");
      expect(read(`${jail}/data/none`)).toMatchObject({ code: 1, stdout: "", stderr: "" });
    });

    it("reads at most KEY_FILE_MAX bytes: a larger (sparse) file is refused without being read whole", () => {
      const f = `${jail}/data/keys`;
      fs.writeFileSync(f, "");
      fs.truncateSync(f, KEY_FILE_MAX);
      expect(Buffer.from(read(f).stdout, "base64").length).toBe(KEY_FILE_MAX);
      // A multi-gigabyte sparse file: refused by size after one block past the cap, in well under the test timeout.
      fs.truncateSync(f, 8 * 1024 ** 3);
      const r = read(f);
      expect(r).toMatchObject({ code: REFUSED, stdout: "" });
      expect(r.stderr).toContain(`${f} is larger than ${KEY_FILE_MAX / 1048576} MiB`);
      const r2 = sh(`sj_read_in ${jail}/data 0 keys`);
      expect(r2.stdout).toBe("");
      expect(r2.stderr).toContain("is larger than");
    });

    it("reads several files of one directory with one walk; a refused or missing one costs only itself", () => {
      fs.writeFileSync(`${jail}/data/a`, "A\n");
      fs.writeFileSync(`${jail}/data/c`, "C\n");
      fs.symlinkSync(`${outside}/shadow`, `${jail}/data/b`);
      const r = sh(`sj_read_in ${jail}/data 0 a b c none`);
      const got = read_(r.stdout);
      expect(got).toEqual({ [`${jail}/data/a`]: "A\n", [`${jail}/data/c`]: "C\n" });
      expect(r.stderr).toContain(`${jail}/data/b is not a regular file (symbolic link)`);
      expect(r.stderr).not.toContain("shadow");
      // The directory itself behind a symlink: nothing is read.
      fs.symlinkSync(`${jail}/data`, `${jail}/link`);
      expect(sh(`sj_read_in ${jail}/link 0 a`)).toMatchObject({ code: REFUSED, stdout: "" });
    });

    it("reads several files with one stat of them all, each matched to its own name (prefixes, glob characters)", () => {
      const real = spawnSync("sh", ["-c", "command -v stat"], { encoding: "utf8" }).stdout.trim();
      fs.writeFileSync(path.join(bin, "stat"), `#!/bin/sh\necho "$*" >> ${bin}/stat.log\nexec "${real}" "$@"\n`, { mode: 0o755 });
      const names = ["k", "k1", "k10", "a*", "[k]", "-x"];
      fs.mkdirSync(`${root}/keys`, { mode: 0o755 });
      for (const n of names) fs.writeFileSync(`${root}/keys/${n}`, `${n}\n`);
      fs.symlinkSync(`${outside}/shadow`, `${root}/keys/s`);
      const r = sh(`sj_read_in ${root}/keys 0 ${[...names, "s", "none"].map((n) => `'${n}'`).join(" ")}`, withStandIns());
      const got = read_(r.stdout);
      expect(got).toEqual(Object.fromEntries(names.map((n) => [`${root}/keys/${n}`, `${n}\n`])));
      expect(r.stderr).toContain(`${root}/keys/s is not a regular file (symbolic link)`);
      // root's directory (trusted): the walk, one lstat of every name, and one of the names read together after the
      // read; no stat per file.
      expect(fs.readFileSync(path.join(bin, "stat.log"), "utf8").trim().split("\n")).toHaveLength(3);
    });

    it("in root's directory the files only root can write are read together (one cat, one base64); others alone, with dd's cap", () => {
      const real = spawnSync("sh", ["-c", "command -v dd"], { encoding: "utf8" }).stdout.trim();
      fs.writeFileSync(path.join(bin, "dd"), `#!/bin/sh\necho "$*" >> ${bin}/dd.log\nexec "${real}" "$@"\n`, { mode: 0o755 });
      fs.mkdirSync(`${root}/keys`, { mode: 0o755 });
      // r1..r3 are root's (an empty one, one without a final newline, one with bytes base64 must carry); u, g, o are
      // not root's alone: the owner, the group, others could write them.
      const content: Record<string, string> = { r1: "ssh-ed25519 AAAA r1\n", r2: "", r3: "no newline \u00e9\t", u: "u\n", g: "g\n", o: "o\n" };
      const owner: Record<string, [number, number]> = { u: [UID, 0o644], g: [0, 0o664], o: [0, 0o646] };
      for (const [n, c] of Object.entries(content)) {
        const [uid, mode] = owner[n] ?? [0, 0o644];
        fs.writeFileSync(`${root}/keys/${n}`, c);
        fs.chmodSync(`${root}/keys/${n}`, mode);
        fs.chownSync(`${root}/keys/${n}`, uid, 0);
      }
      const r = sh(`sj_read_in ${root}/keys 0 r1 u r2 g r3 o none`, withStandIns());
      expect(r.stderr).toBe("");
      expect(read_(r.stdout)).toEqual(Object.fromEntries(Object.entries(content).map(([n, c]) => [`${root}/keys/${n}`, c])));
      expect(r.stdout.split("\n").filter((l) => l.startsWith("@concat\t"))).toEqual([expect.stringContaining(`@concat\t${root}/keys\tr1/20\tr2/0\tr3/`)]);
      expect(fs.readFileSync(path.join(bin, "dd.log"), "utf8").trim().split("\n").map((l) => /if=(\S+)/.exec(l)?.[1])).toEqual(["u", "g", "o"]);
      // Root's own file past the cap is not read together: alone, refused after one block past the cap.
      fs.truncateSync(`${root}/keys/r1`, 8 * 1024 ** 3);
      const big = sh(`sj_read_in ${root}/keys 0 r1 r2`, withStandIns());
      expect(Object.keys(read_(big.stdout))).toEqual([`${root}/keys/r2`]);
      expect(big.stderr).toContain(`${root}/keys/r1 is larger than ${KEY_FILE_MAX / 1048576} MiB`);
      // A single read (sj_read): dd, as before.
      fs.writeFileSync(path.join(bin, "dd.log"), "");
      fs.writeFileSync(`${root}/keys/r1`, "r1\n");
      expect(Buffer.from(sh(`sj_read ${root}/keys/r1`, withStandIns()).stdout, "base64").toString()).toBe("r1\n");
      expect(fs.readFileSync(path.join(bin, "dd.log"), "utf8").trim().split("\n")).toHaveLength(1);
    });

    it("files read together and changed meanwhile (the stat after differs) are read again, each alone", () => {
      fs.mkdirSync(`${root}/keys`, { mode: 0o755 });
      for (const n of ["a", "b"]) fs.writeFileSync(`${root}/keys/${n}`, `${n}\n`);
      fs.writeFileSync(`${root}/keys/.new`, "a, replaced\n");
      // Root replaces "a" right after the cat that read them together.
      standIn("cat", `*" a "*`, `mv ${root}/keys/.new ${root}/keys/a`);
      const r = sh(`sj_read_in ${root}/keys 0 a b`, withStandIns());
      expect(r.stdout).not.toContain("@concat");
      expect(read_(r.stdout)).toEqual({ [`${root}/keys/a`]: "a, replaced\n", [`${root}/keys/b`]: "b\n" });
    });

    it("decodeFiles: lengths that do not add up to what was read leave the files of that read unread", () => {
      const b64 = Buffer.from("abcdef").toString("base64");
      expect(decodeFiles(`@concat\t/k\tx/3\ty/3\t${b64}\n/k/z\t${Buffer.from("z").toString("base64")}\n`).map((f) => [f.path, f.content])).toEqual([
        ["/k/x", "abc"],
        ["/k/y", "def"],
        ["/k/z", "z"],
      ]);
      expect(decodeFiles(`@concat\t/k\tx/3\ty/4\t${b64}\n`)).toEqual([]);
      expect(decodeFiles(`@concat\t\tx/6\t${b64}\n`)).toEqual([{ path: "/x", content: "abcdef" }]);
    });

    it("below a user's directory, a file swapped while it is read is refused, in a batch as alone", () => {
      fs.writeFileSync(`${jail}/data/a`, "A\n");
      fs.writeFileSync(`${jail}/data/keys`, "k\n");
      fs.writeFileSync(`${jail}/data/other`, "o\n");
      // The user renames another file over "keys" right after dd read it: the identity read before no longer holds.
      standIn("dd", `*"if=keys "*`, `mv ${jail}/data/other ${jail}/data/keys`);
      const r = sh(`sj_read_in ${jail}/data 0 a keys`, withStandIns());
      const got = r.stdout.trim().split("\n").map((l) => l.split("\t")[0]);
      expect(got).toEqual([`${jail}/data/a`]);
      expect(r.stderr).toContain(`${jail}/data/keys was replaced while it was being read`);
    });

    it("walks with one stat process: the whole chain, the directory entered and the next name", () => {
      // Every process is CPU on the host, and walks were most of a converge's processes there (issue 10).
      const real = spawnSync("sh", ["-c", "command -v stat"], { encoding: "utf8" }).stdout.trim();
      fs.writeFileSync(path.join(bin, "stat"), `#!/bin/sh\necho "$*" >> ${bin}/stat.log\nexec "${real}" "$@"\n`, { mode: 0o755 });
      fs.writeFileSync(`${jail}/data/keys`, "k\n");
      const r = sh(`sj_read ${jail}/data/keys`, withStandIns());
      expect(Buffer.from(r.stdout, "base64").toString()).toBe("k\n");
      const calls = fs.readFileSync(path.join(bin, "stat.log"), "utf8").trim().split("\n");
      // The walk to the parent (with the file), then the file again after it was read.
      expect(calls).toHaveLength(2);
      expect(calls[0]).toBe(`-c %d:%i:%u:%a:%h:%.9W:%F -- ${withAncestors(`${jail}/data`).join(" ")} . keys`);
      // The component-by-component walk, when forced: one per component (the first from /), then the file again.
      fs.writeFileSync(path.join(bin, "stat.log"), "");
      expect(sh(`sj_fast() { return 1; }\nsj_read ${jail}/data/keys`, withStandIns()).code).toBe(0);
      expect(fs.readFileSync(path.join(bin, "stat.log"), "utf8").trim().split("\n")).toHaveLength(depth(`${jail}/data`) + 2);
    });

    it("a directory made or converged in a trusted parent costs the walk's one stat; below a user's directory the cd is checked", () => {
      const real = spawnSync("sh", ["-c", "command -v stat"], { encoding: "utf8" }).stdout.trim();
      fs.writeFileSync(path.join(bin, "stat"), `#!/bin/sh\necho "$*" >> ${bin}/stat.log\nexec "${real}" "$@"\n`, { mode: 0o755 });
      const stats = (script: string) => {
        fs.writeFileSync(path.join(bin, "stat.log"), "");
        expect(sh(script, withStandIns())).toMatchObject({ code: 0, stderr: "" });
        return fs.readFileSync(path.join(bin, "stat.log"), "utf8").trim().split("\n").length;
      };
      // The jail is root's 0755: only root can rename or replace what is in it, so what the walk saw still holds.
      expect(stats(hp.dir(`${jail}/made`, J(), UID, UID, "0750"))).toBe(1);
      expect(stats(hp.dir(`${jail}/made`, J(), 0, 0, "0755"))).toBe(1);
      expect(stats(hp.chmodDir(`${jail}/made`, J(), "0700"))).toBe(1);
      expect([st(`${jail}/made`).uid, st(`${jail}/made`).mode & 0o7777]).toEqual([0, 0o700]);
      // data/ is the user's: the name they could swap is stat'ed again after the cd (device:inode), made or there.
      expect(stats(hp.dir(`${jail}/data/made`, J(), UID, UID, "0750"))).toBe(3);
      expect(stats(hp.dir(`${jail}/data/made`, J(), UID, UID, "0750"))).toBe(2);
    });

    it("refuses a symlink anywhere in the path, a FIFO (without hanging) and a hard link below a user's directory", () => {
      fs.symlinkSync(`${outside}/shadow`, `${jail}/data/keys`);
      fs.symlinkSync(outside, `${jail}/data/dir`);
      fs.linkSync(`${outside}/shadow`, `${jail}/data/hard`);
      spawnSync("mkfifo", [`${jail}/data/fifo`]);
      for (const [p, why] of [
        ["keys", "is not a regular file (symbolic link)"],
        ["dir/shadow", "is a symbolic link"],
        ["hard", "has 2 hard links"],
        ["fifo", "is not a regular file (fifo)"],
      ]) {
        const r = read(`${jail}/data/${p}`);
        expect(r.code).toBe(REFUSED);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(why);
      }
    });

    it("does not hang on a FIFO swapped in after the check (O_NONBLOCK) and reports the swap", () => {
      fs.writeFileSync(`${jail}/data/keys`, "k\n");
      standIn("stat", `*" keys"`, `rm ${jail}/data/keys && mkfifo ${jail}/data/keys`);
      // The first stat of "keys" is the walk's check of the file: swap it for a FIFO before dd opens it.
      const r = sh(`sj_read ${jail}/data/keys`, withStandIns());
      expect(r.code).toBe(REFUSED);
      expect(r.stdout).toBe("");
    });
  });

  it("atomicWrite writes only through a root-owned chain, and never follows a planted link", () => {
    fs.mkdirSync(`${root}/keys`, { mode: 0o755 });
    const ok = sh(atomicWrite({ path: `${root}/keys/alice`, content: "k1\n", mode: 0o644, owner: 0, group: 0 }, "write").script);
    expect(ok).toMatchObject({ code: 0 });
    expect(fs.readFileSync(`${root}/keys/alice`, "utf8")).toBe("k1\n");
    expect(sh(atomicWrite({ path: `${root}/keys/alice`, content: "k2\n", mode: 0o600, owner: 0, group: 0 }, "write").script).code).toBe(0);
    expect(fs.readFileSync(`${root}/keys/alice`, "utf8")).toBe("k2\n");
    expect(st(`${root}/keys/alice`).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(`${root}/keys/alice.sftp-jail.bak`, "utf8")).toBe("k1\n"); // the previous version, for revert
    // Into the jailed user's directory (not root's alone), or through a symlinked directory: refused.
    const before = fingerprint(outside);
    for (const p of [`${jail}/data/authorized_keys`, `${jail}/data/link/shadow`]) {
      if (!fs.existsSync(`${jail}/data/link`)) fs.symlinkSync(outside, `${jail}/data/link`);
      const r = sh(atomicWrite({ path: p, content: "evil\n", mode: 0o644, owner: UID, group: UID }, "write").script);
      expect(r.code).toBe(REFUSED);
    }
    expect(fingerprint(outside)).toBe(before);
  });

  it("a file root serves to others (Banner) must be a root-owned regular file in a root-owned chain", () => {
    fs.writeFileSync(`${root}/banner`, "hello\n", { mode: 0o644 });
    expect(sh(hp.fileOk(`${root}/banner`)).code).toBe(0);
    fs.symlinkSync(`${outside}/shadow`, `${root}/link`);
    expect(sh(hp.fileOk(`${root}/link`)).stderr).toContain("is not a regular file (symbolic link)");
    fs.chownSync(`${root}/banner`, UID, UID);
    expect(sh(hp.fileOk(`${root}/banner`)).stderr).toContain("must be owned by root");
    expect(sh(hp.fileOk(`${jail}/data/app/x`)).stderr).toContain(`${jail}/data must be owned by root`);
  });
});

test("atOrBelow: the directory itself or a path below it, by whole components", () => {
  expect([atOrBelow("/srv/sftp", "/srv/sftp"), atOrBelow("/srv/sftp/a", "/srv/sftp"), atOrBelow("/srv", "/")]).toEqual([true, true, true]);
  expect([atOrBelow("/srv/sftpx", "/srv/sftp"), atOrBelow("/srv", "/srv/sftp"), atOrBelow("/", "/srv")]).toEqual([false, false, false]);
});
