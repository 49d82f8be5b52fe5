/**
 * SshdMatchBlock end to end: the real pulumi CLI converges Match blocks on a real Debian 12 sshd (sandbox host), and
 * OpenSSH itself (`sshd -T -C`, a real login) is the judge of what happened. Needs root (sandbox) and `pulumi` on PATH.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiProject, summary } from "./pulumi";
import { Sandbox, SandboxHost, run, startSandbox } from "../sandbox";

const HOST = "sshd-e2e-1";
const DROPIN = "/etc/ssh/sshd_config.d";
const JAIL_FILE = `${DROPIN}/50-sftp-jail-jail.conf`;
const TUNING_FILE = `${DROPIN}/10-sftp-jail-tuning.conf`;

const JAIL = {
  name: "jail",
  match: { Group: ["sftp"] },
  directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp", X11Forwarding: "no", AllowTcpForwarding: "no" },
};
/**
 * Lower order: read first, so its ForceCommand wins over the jail's for jailed1. It keeps the jail (internal-sftp, a
 * tty refused): a lower-order block that loosened it would be refused (test/e2e/effective.test.ts).
 */
const TUNING = {
  name: "tuning",
  order: 10,
  match: { User: ["jailed1", "!root"] },
  directives: { ForceCommand: "internal-sftp -u 0002", PermitTTY: false },
  subsystemInternalSftp: false,
};

let sb: Sandbox;
let h: SandboxHost;
let proj: PulumiProject;
let tmp: string;
let pristine: string;

/** sha256 of sshd_config and of every file (any name) in sshd_config.d, plus whether our .orig copy exists. */
async function fingerprint(): Promise<string> {
  const r = await h.console(
    `cd /etc/ssh && sha256sum sshd_config && find sshd_config.d -mindepth 1 | sort | while read -r f; do sha256sum "$f"; done; ls sshd_config.sftp-jail.orig 2>/dev/null || true`,
  );
  return r.stdout;
}

/** OpenSSH's effective settings for a connection context (run inside the host). */
async function effective(user: string): Promise<Record<string, string>> {
  const r = await h.console(`sshd -T -C user=${user},host=x,addr=127.0.0.1`);
  return Object.fromEntries(r.stdout.split("\n").filter(Boolean).map((l) => [l.split(" ")[0], l.slice(l.indexOf(" ") + 1)]));
}

/** A fresh login with the real OpenSSH client, strict host key checking. */
function ssh(user: string, cmd: string) {
  return run([
    "ssh", "-F", "/dev/null", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${path.join(tmp, "known_hosts")}`, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
    "-i", sb.keyPath, "-p", String(h.port), `${user}@127.0.0.1`, cmd,
  ]);
}

async function expectRootLogin(): Promise<void> {
  const r = await ssh("root", "echo operator-ok");
  expect(r.stdout.trim()).toBe("operator-ok");
}

async function hups(): Promise<number> {
  return ((await h.sshdLog()).match(/Received SIGHUP/g) ?? []).length;
}

function configure(blocks: object[]): void {
  proj.setConfig({ port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath, blocks });
}

async function up(...extra: string[]) {
  const r = await proj.up(...extra);
  if (r.code !== 0) throw new Error(`pulumi up failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

beforeAll(async () => {
  sb = await startSandbox([HOST]);
  h = sb.hosts[0];
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sj-sshd-"));
  fs.writeFileSync(path.join(tmp, "known_hosts"), h.knownHostsLine() + "\n");
  proj = await PulumiProject.create("sshd", path.join(__dirname, "programs", "sshd"));
  pristine = await fingerprint();
});

afterAll(async () => {
  proj?.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  await sb?.stop();
});

describe("SshdMatchBlock on a real sshd", () => {
  it("converges Match Group sftp with the jail directives and Subsystem sftp internal-sftp", async () => {
    configure([JAIL]);
    const before = await hups();
    const r = await up();
    expect(summary(r.stdout)).toMatchObject({ create: 3 });
    expect(await hups()).toBeGreaterThan(before);

    const file = (await h.console(`cat ${JAIL_FILE}`)).stdout;
    expect(file).toMatch(/^Match Group sftp\n\tChrootDirectory %h\n\tForceCommand internal-sftp\n\tAllowTcpForwarding no\n\tX11Forwarding no\n$/m);
    const subsystem = (await h.console("sshd -T | grep -i '^subsystem'")).stdout.trim();
    expect(subsystem).toBe("subsystem sftp internal-sftp");

    // A member of the group gets the jail; the operator does not.
    await h.console(
      "useradd -M -d /home/jailed1 -G sftp -s /usr/sbin/nologin jailed1 && install -d -o root -g root -m 755 /home/jailed1 && " +
        `install -d -o jailed1 -m 700 /home/jailed1/.ssh && cp /root/.ssh/authorized_keys /home/jailed1/.ssh/ && chown jailed1 /home/jailed1/.ssh/authorized_keys`,
    );
    const jailed = await effective("jailed1");
    expect(jailed).toMatchObject({ chrootdirectory: "%h", forcecommand: "internal-sftp", x11forwarding: "no", allowtcpforwarding: "no" });
    const root = await effective("root");
    expect(root).toMatchObject({ chrootdirectory: "none", forcecommand: "none" });

    // The running daemon (not just the files) enforces it: the jailed user gets SFTP only, root gets a shell.
    const j = await ssh("jailed1", "echo shell");
    expect(j.stdout).not.toContain("shell");
    expect(j.stderr + j.stdout).toContain("This service allows sftp connections only");
    await expectRootLogin();
  });

  it("changes nothing on a second up (no update, no reload)", async () => {
    const before = await hups();
    const r = await up();
    expect(summary(r.stdout)).toEqual({ same: 3 }); // stack, group, block
    expect(await hups()).toBe(before);
    await expectRootLogin();
  });

  it("keeps two blocks in their order; the lower order wins a keyword both set", async () => {
    configure([JAIL, TUNING]);
    const r = await up();
    expect(summary(r.stdout)).toMatchObject({ create: 1 });
    const files = (await h.console(`ls ${DROPIN}`)).stdout.trim().split("\n");
    expect(files).toEqual(["10-sftp-jail-tuning.conf", "50-sftp-jail-jail.conf"]);
    const jailed = await effective("jailed1");
    expect(jailed).toMatchObject({ forcecommand: "internal-sftp -u 0002", permittty: "no", chrootdirectory: "%h", x11forwarding: "no", allowtcpforwarding: "no" });
    expect(await effective("root")).toMatchObject({ allowtcpforwarding: "yes", permittty: "yes", forcecommand: "none" });
    expect((await h.console(`cat ${TUNING_FILE}`)).stdout).toContain("Match User jailed1,!root\n");
    await expectRootLogin();
  });

  it("reports a directive edited by hand on that field, and up --refresh restores it", async () => {
    const good = (await h.console(`cat ${JAIL_FILE}`)).stdout;
    await h.console(`sed -i 's/X11Forwarding no/X11Forwarding yes/' ${JAIL_FILE}`);
    expect((await effective("jailed1")).x11forwarding).toBe("yes");

    const p = await proj.preview("--refresh");
    expect(p.code).toBe(0);
    expect(summary(p.stdout)).toMatchObject({ update: 1 });
    expect(p.stdout).toMatch(/X11Forwarding\s*:\s*"yes"\s*=>\s*"no"/);
    expect(p.stdout).not.toMatch(/ChrootDirectory\s*:.*=>/);

    await up("--refresh");
    expect((await h.console(`cat ${JAIL_FILE}`)).stdout).toBe(good);
    expect((await effective("jailed1")).x11forwarding).toBe("no");
    await expectRootLogin();
  });

  it.each([
    ["ForceCommand on root", { name: "lockroot", match: { User: ["root"] }, directives: { ForceCommand: "internal-sftp" } }, /ForceCommand internal-sftp would apply.*root/],
    ["PubkeyAuthentication no for everyone", { name: "nopubkey", match: { User: ["*"] }, directives: { PubkeyAuthentication: "no" } }, /PubkeyAuthentication no would disable/],
    // sshd -T -C shows it: root is not jailed, so what sshd allows it must not change (plan/jail.ts ACCESS_KEYS).
    ["root's keys moved away", { name: "nokeys", match: { User: ["root"] }, directives: { AuthorizedKeysFile: "/nonexistent/keys" } }, /would alter what sshd allows root, an account sftp-jail does not jail: sshd would resolve authorizedkeysfile "\/nonexistent\/keys"/],
  ])("refuses a block that would lock the operator out (%s) and leaves the config as it was", async (_what, block, cause) => {
    const before = await fingerprint();
    const reloads = await hups();
    configure([JAIL, TUNING, block]);
    const r = await proj.up();
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(cause);
    expect(r.stdout + r.stderr).toContain("The configuration was restored and sshd was not reloaded");
    expect(await fingerprint()).toBe(before);
    expect(await hups()).toBe(reloads);
    await expectRootLogin();
  });

  it("destroy returns sshd_config and sshd_config.d byte for byte", async () => {
    configure([JAIL, TUNING]);
    await h.console("userdel jailed1 && rm -rf /home/jailed1");
    const r = await proj.destroy();
    if (r.code !== 0) throw new Error(`pulumi destroy failed:\n${r.stdout}\n${r.stderr}`);
    expect(await fingerprint()).toBe(pristine);
    expect((await h.console("sshd -T | grep -i '^subsystem'")).stdout.trim()).toBe("subsystem sftp /usr/lib/openssh/sftp-server");
    await expectRootLogin();
  });
});
