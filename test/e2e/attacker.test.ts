/**
 * Issue 8, invariants 3 and 4: a jailed user owns the inside of their writable directories, nothing else. The jailed
 * user "mallory" plays the attacker over REAL sftp (which can rename and create symlinks and hard links) against a
 * sandbox host converged by the real `pulumi` CLI; then the operator runs what an operator runs (`up --refresh` to
 * repair drift, `sftp-jail-migrate`, `destroy`). After each round the out-of-band console proves that nothing outside
 * mallory's writable directories changed owner, mode or content (/etc, /var, /usr/bin, /root, the other jail), and
 * that mallory got nothing (no file of the host, nothing of the other jail).
 *
 * The exact race (a swap between a check and a change) is made deterministic in test/unit/hostpath.test.ts; here the
 * swaps are done before the operator's command runs, as a real attacker would stage them.
 */
import * as fs from "fs";
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { ClientResult, Clients, run } from "./clients";
import { PulumiProject, ROOT, summary } from "./pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: { load(s: string): unknown } = require("js-yaml");

jest.setTimeout(20 * 60_000);

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
let c: Clients;
const keys: Record<string, string> = {};

const JAIL = "/srv/sftp/mallory";
const BANNER = "/etc/sftp-jail/banner";

function config(extra: { banner?: string; chrootBase?: string } = {}) {
  return {
    hosts: [{ name: "atk", connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey } }],
    jails: [
      {
        group: { name: "sftp", gid: 2300 },
        chrootBase: extra.chrootBase ?? "/srv/sftp",
        users: [
          // Nested writable directories: data and data/in are mallory's, data/app is the jail's own (root's) structure.
          { name: "mallory", keys: [keys.mallory], writableDirs: ["upload", "data", "data/in", "data/app/log"] },
          { name: "victor", keys: [keys.victor], writableDirs: ["upload"] },
        ],
        sshdDirectives: { Banner: extra.banner ?? BANNER },
      },
    ],
  };
}

/**
 * Owner, mode and type of everything under the host's system trees and the other jail, and checksums of every
 * regular file in them. Excluded: what changes by itself (logs) and what the provider is meant to write (the retained
 * area; sshd's drop-ins, checked on their own where it matters).
 */
const PRUNE = "\\( -path /var/log -o -path /var/lib/sftp-jail -o -path /etc/ssh/sshd_config.d -o -path /var/cache/debconf \\) -prune";
const fingerprint = (trees: string) =>
  [
    `find ${trees} -xdev ${PRUNE} -o -printf '%p %u:%g %m %y\\n' | sort`,
    `&& find ${trees} -xdev ${PRUNE} -o -type f -print0 | sort -z | xargs -0 -r sha256sum`,
    "&& stat -c '%n %U:%G %a' /var/log /var /etc /etc/shadow /usr/bin",
  ].join(" ");
const SYSTEM = "/etc /var /usr/bin /usr/sbin /root";
let outsideBefore = "";
let systemBefore = "";
const outside = async () => (await h.console(fingerprint(`${SYSTEM} /srv/sftp/victor`))).stdout;

/** mallory's sftp batch; each line may fail without aborting the rest ("-" prefix). */
const asMallory = (batch: string) => c.sftp(h, "mallory", "mallory", batch);

const SHADOW_LINE = /^root:[^:\n]*:\d+:/m;

beforeAll(async () => {
  sb = await startSandbox(["attacker-1"]);
  h = sb.hosts[0];
  c = new Clients(sb.hosts);
  keys.mallory = await c.keygen("mallory");
  keys.victor = await c.keygen("victor");
  await h.console(`mkdir -p /etc/sftp-jail && printf 'Authorised use only.\\n' > ${BANNER} && chmod 644 ${BANNER}`);
  p = await PulumiProject.create("attacker");
  p.setConfig(config());
  const up = await p.up();
  expect(up.stderr + up.stdout).not.toMatch(/error:/);
  expect(up.code).toBe(0);
  // The victim's secret, which mallory must never read.
  await h.console("printf 'victor-secret\\n' > /srv/sftp/victor/upload/secret && chown victor:sftp /srv/sftp/victor/upload/secret && chmod 600 /srv/sftp/victor/upload/secret");
  // A root-owned file inside mallory's jail (as an admin might leave a README there): hard-link bait.
  await h.console(`printf 'read me\\n' > ${JAIL}/README && chmod 600 ${JAIL}/README`);
  outsideBefore = await outside();
  systemBefore = (await h.console(fingerprint(SYSTEM))).stdout;
  expect(outsideBefore).toMatch(/^\/etc\/shadow root:shadow 640 f$/m);
  expect(outsideBefore).toMatch(/^[0-9a-f]{64} {2}\/etc\/shadow$/m); // the fingerprint really covers the secrets
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

test("nested writable dirs: the first up gives data and data/in to mallory (no drift on the next preview)", async () => {
  expect((await h.console(`cd ${JAIL} && stat -c '%n %U:%G %a' data data/in data/app data/app/log upload`)).stdout).toBe(
    ["data mallory:sftp 755", "data/in mallory:sftp 755", "data/app root:root 755", "data/app/log mallory:sftp 755", "upload mallory:sftp 755", ""].join("\n"),
  );
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(summary(pv.stdout).update ?? 0).toBe(0);
});

test("the middle-dir trick (root's data/app renamed, a symlink to /var in its place) before up --refresh: refused, /var/log stays root's", async () => {
  // Drift the provider wants to repair, then the trap: data/app -> /var, so data/app/log "is" /var/log.
  const staged = await asMallory("chmod 700 data/app/log\nrename data/app data/app.old\nsymlink /var data/app\n");
  expect(staged.code).toBe(0);
  expect((await h.console(`readlink ${JAIL}/data/app`)).stdout.trim()).toBe("/var");
  const up = await p.up("--refresh");
  expect(up.code).not.toBe(0);
  expect(up.stdout + up.stderr).toContain(`refused: ${JAIL}/data/app is a symbolic link`);
  expect(up.stdout + up.stderr).toContain("a jailed user may have planted a link there"); // the error says what to do
  expect(await outside()).toBe(outsideBefore);
  // mallory undoes the trap; the next repair goes through and only touches the jail.
  expect((await asMallory("rm data/app\nrename data/app.old data/app\n")).code).toBe(0);
  const again = await p.up("--refresh");
  expect(again.code).toBe(0);
  expect((await h.console(`stat -c '%U:%G %a' ${JAIL}/data/app/log`)).stdout.trim()).toBe("mallory:sftp 755");
  expect(await outside()).toBe(outsideBefore);
});

test("a writable dir replaced by a symlink to /etc before up --refresh: refused, /etc untouched", async () => {
  expect((await asMallory("rename data/in data/in.old\nsymlink /etc data/in\n")).code).toBe(0);
  const up = await p.up("--refresh");
  expect(up.code).not.toBe(0);
  expect(up.stdout + up.stderr).toMatch(/data\/in exists and is not a directory|data\/in is a symbolic link/);
  expect(await outside()).toBe(outsideBefore);
  expect((await asMallory("rm data/in\nrename data/in.old data/in\n")).code).toBe(0);
  expect((await p.up("--refresh")).code).toBe(0);
  expect(await outside()).toBe(outsideBefore);
});

test("hard links, symlinks out of the jail and the other jail give mallory nothing", async () => {
  const got = path.join(c.dir, "got");
  // Paths resolve inside the chroot: /etc/shadow and /srv/sftp/victor do not exist there.
  const r = await asMallory(
    [
      `-get /etc/shadow ${got}-shadow`,
      `-get /srv/sftp/victor/upload/secret ${got}-secret`,
      `-get ../victor/upload/secret ${got}-secret2`,
      "-symlink /srv/sftp/victor/upload/secret upload/victor",
      `-get upload/victor ${got}-secret3`,
      "-symlink /etc/shadow upload/shadow",
      `-get upload/shadow ${got}-shadow2`,
      // A hard link to the root-owned README (the kernel's protected_hardlinks refuses it), then reading it.
      "-ln README upload/readme",
      `-get upload/readme ${got}-readme`,
      `-get README ${got}-readme2`,
    ].join("\n") + "\n",
  );
  expect(r.stdout + r.stderr).not.toMatch(SHADOW_LINE);
  for (const f of fs.readdirSync(c.dir).filter((n) => n.startsWith("got"))) {
    const body = fs.readFileSync(path.join(c.dir, f), "utf8");
    expect(body).not.toMatch(SHADOW_LINE);
    expect(body).not.toContain("victor-secret");
    expect(body).not.toContain("read me");
  }
  expect((await h.console(`stat -c '%U:%G %a %h' ${JAIL}/README; cat ${JAIL}/README`)).stdout).toBe("root:root 600 1\nread me\n");
  // The operator's repair walks past the planted links without following them.
  expect((await p.up("--refresh")).code).toBe(0);
  expect(await outside()).toBe(outsideBefore);
});

test("names that look like records or directives do not forge what sftp-jail-migrate reports", async () => {
  // sftp's batch mode cannot type a newline, so mallory's uploads with newlines in their names are made as mallory
  // herself on the console (setpriv: her uid and groups, no root); the tab and directive names go over sftp.
  const forged = "x\nuser\tmallroot\nsshd\tchrootdirectory none\nchroot\tnone";
  await h.console(`cd ${JAIL}/upload && setpriv --reuid=mallory --regid=sftp --init-groups mkdir -- "$(printf '${forged.replace(/\n/g, "\\n").replace(/\t/g, "\\t")}')"`);
  expect((await asMallory('mkdir "upload/PermitRootLogin yes"\nmkdir "upload/Match all"\nmkdir "upload/y\tstat"\n')).code).toBe(0);
  const out = path.join(p.dir, "migrated.yaml");
  const r = await run([
    process.execPath, path.join(ROOT, "bin/provider/cli/migrate.js"),
    "--private-key-file", sb.keyPath, "--host", "127.0.0.1", "--port", String(h.port), "--name", "atk", "--host-key", h.hostKey, "--out", out,
  ]);
  expect(r.code).toBe(0);
  const parsed = yaml.load(fs.readFileSync(out, "utf8")) as { config: Record<string, Array<{ users: Array<{ name: string; writableDirs?: unknown[] }> }>> };
  const users = parsed.config["sftp-jail:jails"].flatMap((j) => j.users);
  expect(users.map((u) => u.name).sort()).toEqual(["mallory", "victor"]);
  expect(JSON.stringify(parsed)).not.toMatch(/mallroot|PermitRootLogin|Match all/);
  // sshd itself is unmoved: root is not chrooted, nothing was read as configuration.
  expect((await h.console("sshd -T -C user=root,host=x,addr=127.0.0.1 | grep -E '^(chrootdirectory|permitrootlogin) '")).stdout).toMatch(/^chrootdirectory none$/m);
  expect(await outside()).toBe(outsideBefore);
});

test("Banner: a path trick is refused at preview; a banner that is a symlink to /etc/shadow is refused on the host", async () => {
  p.setConfig(config({ banner: "/etc/sftp-jail/../shadow" }));
  const pv = await p.preview();
  expect(pv.code).not.toBe(0);
  expect(pv.stdout + pv.stderr).toMatch(/directives\.Banner.*Banner must be normalised/s);

  // A symlink only root could plant (the directory is root's): the apply-time check still refuses to serve it.
  await h.console("ln -s /etc/shadow /etc/sftp-jail/shadow-link");
  p.setConfig(config({ banner: "/etc/sftp-jail/shadow-link" }));
  const up = await p.up();
  expect(up.code).not.toBe(0);
  expect(up.stdout + up.stderr).toContain("/etc/sftp-jail/shadow-link is not a regular file (symbolic link)");
  // Nobody who connects sees the shadow file (unauthenticated banner exchange).
  const anon = await run([
    "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=none",
    "-o", "ConnectTimeout=10", "-p", String(h.port), "mallory@127.0.0.1", "true",
  ]);
  expect(anon.stdout + anon.stderr).not.toMatch(SHADOW_LINE);
  await h.console("rm /etc/sftp-jail/shadow-link");
  p.setConfig(config());
  expect((await p.up()).code).toBe(0);
  expect(await outside()).toBe(outsideBefore);
});

test("an authorizedKeysFile pattern that escapes the home is refused at preview, naming the field", async () => {
  p.setConfig({ ...config(), jails: [{ ...config().jails[0], authorizedKeysFile: "%h/../../../etc/shadow" }] });
  const pv = await p.preview();
  expect(pv.code).not.toBe(0);
  expect(pv.stdout + pv.stderr).toMatch(/authorizedKeysFile must be normalised/i);
  p.setConfig(config());
});

test("destroy with symlinks planted in the writable dirs: the jail is retained whole, nothing outside changes", async () => {
  expect((await asMallory("rename data/app data/app.old\nsymlink /var data/app\nsymlink /etc upload/etc\nsymlink / data/in/root\n")).code).toBe(0);
  const d = await p.destroy();
  expect(d.code).toBe(0);
  expect(await h.console(`test -e ${JAIL} || test -L ${JAIL}`, { allowFail: true })).toMatchObject({ code: 1 });
  const kept = (await h.console("ls -d /var/lib/sftp-jail/retained/srv_sftp_mallory.*")).stdout.trim();
  expect((await h.console(`readlink ${kept}/data/app ${kept}/upload/etc ${kept}/data/in/root`)).stdout).toBe("/var\n/etc\n/\n");
  // The system trees as before, except what destroy itself is meant to change: the accounts (passwd, group, shadow),
  // the key files, and sshd_config back to its original (the victim's jail was retained too, so it is not compared).
  const meant = /^(\S+ +)?\/etc\/((passwd|group|shadow|gshadow|subuid|subgid)-?|ssh\/sftp-jail\S*|ssh\/sshd_config(\.sftp-jail\.orig)?)( |$)/;
  const without = (s: string) => s.split("\n").filter((l) => !meant.test(l)).join("\n");
  expect(without((await h.console(fingerprint(SYSTEM))).stdout)).toBe(without(systemBefore));
  expect((await h.console("stat -c '%U:%G %a' /var /var/log /etc")).stdout).toBe("root:root 755\nroot:root 755\nroot:root 755\n");
});

test("a jail moved away while mallory is connected (a new chrootBase): her session ends, nothing she sends lands in retained/", async () => {
  // After the destroy above: the jail again, mallory connected to it and uploading.
  p.setConfig(config());
  expect((await p.up()).code).toBe(0);
  const s = c.sftpSession(h, "mallory", "mallory");
  s.send("put /etc/hostname upload/before");
  const landed = async () => (await h.console(`test -e ${JAIL}/upload/before`, { allowFail: true })).code === 0;
  for (let i = 0; i < 100 && !(await landed()); i++) await new Promise((r) => setTimeout(r, 100));
  expect(await landed()).toBe(true);
  // Every jail moves to /srv/jails: the old one, still holding "before", goes to the retained area.
  p.setConfig(config({ chrootBase: "/srv/jails" }));
  const up = await p.up();
  expect(up.code).toBe(0);
  const kept = (await h.console("ls -d /var/lib/sftp-jail/retained/srv_sftp_mallory.* | tail -1")).stdout.trim();
  expect((await h.console(`ls ${kept}/upload`)).stdout).toContain("before");
  // Her session was chrooted into the jail that moved: it was ended, so this upload reaches nothing.
  s.send("put /etc/hostname upload/after");
  const r = await Promise.race([s.exited, new Promise<ClientResult>((res) => setTimeout(() => res({ code: -1, stdout: "still open", stderr: "" }), 10_000))]);
  await s.close();
  expect(r.code).not.toBe(-1);
  expect((await h.console("find /var/lib/sftp-jail/retained /srv/jails -name after")).stdout).toBe("");
  p.setConfig(config());
});
