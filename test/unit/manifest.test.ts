/**
 * The host-side manifest (provider/observe/snapshot.ts): what apply records and what a snapshot trusts from it.
 * The manifest only decides how many execs a run makes, never what a resource sees; these tests pin its parsing and
 * where it sits in the scripts. The e2e suite test/e2e/manifest.test.ts counts the sessions on a real host.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { MANIFEST_FILE, manifestEntries, manifestReader, parseManifest, parseSnapshot, snapshotScript } from "../../provider/observe/snapshot";
import { LOCK_FILE, applyScript } from "../../provider/apply/apply";

const out = (lines: string[]) => ["@@sftp-jail:manifest", ...lines, "@@sftp-jail:os", "ID=debian", "@@sftp-jail:end"].join("\n");

test("apply records each path with its ancestors and each file, one entry a line", () => {
  expect(manifestEntries({ paths: ["/srv/sftp/a/upload"], files: ["/etc/ssh/sftp-jail/authorized_keys/a"] })).toEqual([
    "p /",
    "p /srv",
    "p /srv/sftp",
    "p /srv/sftp/a",
    "p /srv/sftp/a/upload",
    "f /etc/ssh/sftp-jail/authorized_keys/a",
  ]);
  expect(manifestEntries({})).toEqual([]);
});

test("a snapshot's manifest section becomes covered paths and files", () => {
  const m = parseManifest(out(["p /srv/sftp", "p /srv/sftp/a", "f /etc/ssh/sftp-jail/authorized_keys/a"]));
  expect([...m.paths]).toEqual(["/srv/sftp", "/srv/sftp/a"]);
  expect([...m.files]).toEqual(["/etc/ssh/sftp-jail/authorized_keys/a"]);
});

test("entries that are not valid host paths are ignored, whatever the host printed", () => {
  const m = parseManifest(
    out([
      "p relative/path",
      "p /srv/../etc",
      "p /srv//x",
      "p /srv/a b",
      "f /etc/$(reboot)",
      "x /srv/sftp",
      "p /srv/sftp/ok",
      "P /srv/upper",
      " p /srv/lead",
      "p /srv/sftp/\u200bzw",
      "f /etc/shadow",
      "f /home/alice/.ssh/authorized_keys",
    ]),
  );
  expect([...m.paths]).toEqual(["/srv/sftp/ok"]);
  // files: key files only (schema/common.ts isKeyFilePath), the one kind of file sftp-jail reads
  expect([...m.files]).toEqual(["/home/alice/.ssh/authorized_keys"]);
});

test("jailed accounts' sshd contexts are recorded too, only in jailSpec's grammar, and the first snapshot evaluates them", () => {
  expect(manifestEntries({ jail: ["user=alice,host=203.0.113.9,addr=203.0.113.9", "user=a;reboot,host=1.2.3.4,addr=1.2.3.4", "user=bob,host=2001:db8::1,addr=2001:db8::1,laddr=10.0.0.1,lport=2222"] })).toEqual([
    "j user=alice,host=203.0.113.9,addr=203.0.113.9",
    "j user=bob,host=2001:db8::1,addr=2001:db8::1,laddr=10.0.0.1,lport=2222",
  ]);
  const m = parseManifest(out(["j user=alice,host=203.0.113.9,addr=203.0.113.9", "j user=x,host=$(id),addr=1.1.1.1", "j user=y,host=1.1.1.1,addr=1.1.1.1 extra", "j /srv"]));
  expect([...m.jail]).toEqual(["user=alice,host=203.0.113.9,addr=203.0.113.9"]);
  // A full snapshot evaluates what the manifest lists; a delta does not.
  expect(snapshotScript({})).toContain("sj_manifest j; } | sort -u | while IFS= read -r sj_c");
  expect(snapshotScript({}, { manifest: false })).not.toContain("sj_manifest j");
});

test("no manifest section (an older snapshot or a host without one) covers nothing", () => {
  expect(parseManifest("@@sftp-jail:os\nID=debian\n@@sftp-jail:end")).toEqual({ paths: new Set(), files: new Set(), jail: new Set() });
  expect(parseManifest(out([]))).toEqual({ paths: new Set(), files: new Set(), jail: new Set() });
});

test("the snapshot reads the manifest before it stats paths and reads files, and asks for it by its fixed path", () => {
  const s = snapshotScript({ paths: ["/srv/sftp/a"] });
  expect(s.indexOf("echo '@@sftp-jail:manifest'")).toBeGreaterThan(0);
  expect(s.indexOf("echo '@@sftp-jail:manifest'")).toBeLessThan(s.indexOf("echo '@@sftp-jail:paths'"));
  expect(s).toContain(`stat -c '%u %a %F' -- / /var /var/lib /var/lib/sftp-jail ${MANIFEST_FILE}`);
  expect(s).toMatch(/sj_manifest p; \} \| sort -u \| \(\n\s*set --; while IFS= read -r p/);
  expect(s).toMatch(/sj_manifest f; \} \| sort -u \| \(\n\s*set --; sj_gd=\n\s*while IFS= read -r f/);
});

test("apply records the manifest after the plan's steps, outside the host lock, and a failure to record never fails the apply", () => {
  const s = applyScript([{ description: "x", script: "true", effects: {} }], { paths: ["/srv/sftp/a"], files: ["/etc/ssh/k/a"] });
  const add = s.indexOf("sj_manifest_add '");
  expect(s.indexOf(`exec 9>${LOCK_FILE}`)).toBeLessThan(s.indexOf("exec 9>&-"));
  expect(s.indexOf("exec 9>&-")).toBeLessThan(add);
  expect(add).toBeLessThan(s.indexOf("echo '@@sftp-jail:manifest'"));
  expect(s).toContain("sj_cd /var/lib/sftp-jail\n  exec 8>>./.manifest.lock; flock -w 60 8 || exit 0");
  // Entries the host already lists: nothing to record.
  expect(applyScript([{ description: "x", script: "true", effects: {} }], { paths: ["/srv/sftp/a"] }, [])).not.toContain("sj_manifest_add '");
  expect(s).toContain("sj_manifest_add 'p /' 'p /srv' 'p /srv/sftp' 'p /srv/sftp/a' 'f /etc/ssh/k/a' 2>/dev/null || true");
  // Nothing registered: nothing recorded.
  expect(applyScript([{ description: "x", script: "true", effects: {} }], {})).not.toContain("sj_manifest_add '");
});

test("run by /bin/sh: the first snapshot stats and reads what the manifest lists, besides what was asked", () => {
  // A scratch tree under /run (root-owned, like the hosts' chains); the manifest's reader is stood in for, so the
  // real /var/lib/sftp-jail is never touched. Every other probe of the snapshot is read-only.
  const dir = fs.mkdtempSync("/run/sj-manifest-test-");
  try {
    fs.mkdirSync(`${dir}/jail/upload`, { recursive: true });
    fs.mkdirSync(`${dir}/home/.ssh`, { recursive: true });
    fs.writeFileSync(`${dir}/home/.ssh/authorized_keys`, "ssh-ed25519 AAAA k\n");
    const listed = [`p ${dir}/jail/upload`, `f ${dir}/home/.ssh/authorized_keys`, `p ${dir}/gone`].join("\\n");
    const stand = `sj_manifest_read() { printf '${listed}\\n'; }; sj_mf=$(sj_manifest_read 2>/dev/null)`;
    const script = snapshotScript({ paths: [`${dir}/asked`] }).replace("sj_mf=$(sj_manifest_read 2>/dev/null)", stand);
    expect(script).toContain(stand);
    const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", timeout: 60000 });
    const facts = parseSnapshot(r.stdout);
    expect(facts.paths[`${dir}/jail/upload`]).toMatchObject({ exists: true, type: "directory", uid: 0 });
    // Entries are stored with their ancestors already listed (manifestEntries); the host adds none.
    expect(facts.paths[`${dir}/jail`]).toBeUndefined();
    expect(facts.paths[`${dir}/gone`]).toMatchObject({ exists: false, type: "missing" });
    expect(facts.paths[`${dir}/asked`]).toMatchObject({ exists: false });
    expect(facts.files[`${dir}/home/.ssh/authorized_keys`]).toBe("ssh-ed25519 AAAA k\n");
    const m = parseManifest(r.stdout);
    expect([...m.paths].sort()).toEqual([`${dir}/gone`, `${dir}/jail/upload`]);
    expect([...m.files]).toEqual([`${dir}/home/.ssh/authorized_keys`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("run by /bin/sh: the manifest is read only when it and every directory above it are root's alone", () => {
  const dir = fs.mkdtempSync("/run/sj-manifest-read-");
  const file = `${dir}/sub/.manifest`;
  const read = () => spawnSync("/bin/sh", ["-c", `${manifestReader(file)}\nsj_manifest_read`], { encoding: "utf8" }).stdout;
  try {
    fs.mkdirSync(`${dir}/sub`, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const forged = ["j user=a,host=1.1.1.1,addr=1.1.1.1;id", "j user=a b,host=1.1.1.1,addr=1.1.1.1", "j user=a,host=*,addr=1.1.1.1"];
    fs.writeFileSync(file, ["p /srv/sftp", "f /etc/ssh/k/a", "p /srv/../etc", "p /srv//x", "p rel", "x /srv", "p /srv/a b", "j user=a,host=1.1.1.1,addr=1.1.1.1", ...forged].join("\n") + "\n", { mode: 0o600 });
    expect(read()).toBe("p /srv/sftp\nf /etc/ssh/k/a\nj user=a,host=1.1.1.1,addr=1.1.1.1\n");
    fs.chownSync(file, 4242, 0);
    expect(read()).toBe("");
    fs.chownSync(file, 0, 0);
    fs.chmodSync(file, 0o666);
    expect(read()).toBe("");
    fs.chmodSync(file, 0o600);
    fs.chmodSync(`${dir}/sub`, 0o775);
    expect(read()).toBe("");
    fs.chmodSync(`${dir}/sub`, 0o755);
    fs.renameSync(file, `${dir}/real`);
    fs.symlinkSync(`${dir}/real`, file);
    expect(read()).toBe("");
    fs.rmSync(file);
    expect(read()).toBe("");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
