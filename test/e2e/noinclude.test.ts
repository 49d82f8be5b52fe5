/**
 * Hosts whose sshd_config has no `Include` (RHEL 8 and older defaults, many hand-kept configs), issue 11: the blocks
 * live in one region at the END of the main file, between markers, with the same guarantees as drop-ins — `sshd -t`,
 * `sshd -T -C` for the operator, confirm-or-revert, and a byte-for-byte restore on destroy. Real CLI, a Debian 11 host
 * (OpenSSH 8.4) whose main file is made RHEL-8-like: no Include, the sftp-server at /usr/libexec/openssh, a
 * hand-written Match block at the end, and no final newline.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiProject, summary } from "./pulumi";
import { Sandbox, SandboxHost, run, startSandbox } from "../sandbox";

jest.setTimeout(20 * 60_000);

const JAIL = {
  name: "jail",
  match: { Group: ["sftp"] },
  directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp", X11Forwarding: "no", AllowTcpForwarding: "no" },
};
const PARTNERS = { name: "partners", order: 60, match: { User: ["partner*"] }, directives: { PermitTTY: false }, subsystemInternalSftp: false };
const BEGIN = "# BEGIN sftp-jail: Match blocks of SshdMatchBlock resources (this sshd_config includes no sshd_config.d)";

/** RHEL 8's layout of the main file, on Debian's sshd: no Include, libexec sftp-server, an admin block, no final newline. */
const RHELISH = [
  "sed -i '/^Include /d' /etc/ssh/sshd_config",
  "install -d /usr/libexec/openssh && ln -s /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server",
  "sed -i 's#^Subsystem.*#Subsystem\\tsftp\\t/usr/libexec/openssh/sftp-server#' /etc/ssh/sshd_config",
  "printf 'Match Group admins\\n\\tX11Forwarding yes' >> /etc/ssh/sshd_config",
  "rm -rf /etc/ssh/sshd_config.d",
  "sshd -t && kill -HUP $(cat /run/sshd.pid)",
].join(" && ");

let sb: Sandbox;
let h: SandboxHost;
let proj: PulumiProject;
let tmp: string;
let pristine: string;

const mainFile = async () => (await h.console("cat /etc/ssh/sshd_config")).stdout;
const fingerprint = async () => (await h.console("cd /etc/ssh && sha256sum sshd_config; ls -a /etc/ssh | grep -c sftp-jail || true")).stdout;

function configure(blocks: object[]): void {
  proj.setConfig({ port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath, blocks });
}

function ssh(user: string, cmd: string) {
  return run([
    "ssh", "-F", "/dev/null", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${path.join(tmp, "known_hosts")}`, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
    "-i", sb.keyPath, "-p", String(h.port), `${user}@127.0.0.1`, cmd,
  ]);
}

async function expectRootLogin(): Promise<void> {
  expect((await ssh("root", "echo operator-ok")).stdout.trim()).toBe("operator-ok");
}

beforeAll(async () => {
  sb = await startSandbox(["noinc-1"], { suite: "bullseye" });
  h = sb.hosts[0];
  await h.console(RHELISH);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sj-noinc-"));
  fs.writeFileSync(path.join(tmp, "known_hosts"), h.knownHostsLine() + "\n");
  proj = await PulumiProject.create("noinc", path.join(__dirname, "programs", "sshd"));
  pristine = await mainFile();
  expect(pristine.endsWith("X11Forwarding yes")).toBe(true); // no final newline, as hand-kept files often are
});

afterAll(async () => {
  proj?.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  await sb?.stop();
});

test("the block goes into a region at the end of sshd_config, and sshd jails the group with it", async () => {
  configure([JAIL]);
  const r = await proj.up();
  expect(r.stderr + r.stdout).not.toMatch(/error:/);
  expect(r.code).toBe(0);
  const main = await mainFile();
  // The admin's text is untouched up to the region, except the Subsystem line sftp-jail sets (and restores).
  const [head, region] = main.split(BEGIN);
  expect(head).toMatch(/X11Forwarding yes\n$/);
  expect(region).toMatch(/^; a final newline was added above\n# Managed by sftp-jail: SshdMatchBlock "jail" \(order 50\)/);
  expect(region).toMatch(/\nMatch Group sftp\n\tChrootDirectory %h\n\tForceCommand internal-sftp\n/);
  expect(main.endsWith("# END sftp-jail\n")).toBe(true);
  expect((await h.console("test -e /etc/ssh/sshd_config.d && echo present || echo absent")).stdout.trim()).toBe("absent");
  expect((await h.console("sshd -T | grep -i '^subsystem'")).stdout.trim()).toBe("subsystem sftp internal-sftp");

  await h.console("groupadd -f sftp; useradd -M -d /srv/j1 -G sftp -s /usr/sbin/nologin jailed1 && install -d -m 755 /srv/j1");
  const jailed = (await h.console("sshd -T -C user=jailed1,host=x,addr=127.0.0.1")).stdout;
  expect(jailed).toMatch(/^chrootdirectory \/srv\/j1$|^chrootdirectory %h$/m);
  expect(jailed).toMatch(/^forcecommand internal-sftp$/m);
  // The admin's own block still applies to its group: ours was appended after it, not into it.
  await h.console("groupadd -f admins; useradd -M -G admins adm1");
  expect((await h.console("sshd -T -C user=adm1,host=x,addr=127.0.0.1 | grep -i '^x11forwarding'")).stdout.trim()).toBe("x11forwarding yes");
  expect((await h.console("sshd -T -C user=root,host=x,addr=127.0.0.1 | grep -i '^chrootdirectory'")).stdout.trim()).toBe("chrootdirectory none");
  await expectRootLogin();

  const again = await proj.up();
  expect(again.code).toBe(0);
  expect(summary(again.stdout).update ?? 0).toBe(0);
  expect(summary(again.stdout).create ?? 0).toBe(0);
});

test("a second block joins the region in order; a hand edit inside the region is drift, and up repairs it", async () => {
  configure([JAIL, PARTNERS]);
  expect((await proj.up()).code).toBe(0);
  const main = await mainFile();
  expect(main.indexOf('SshdMatchBlock "jail" (order 50)')).toBeLessThan(main.indexOf('SshdMatchBlock "partners" (order 60)'));
  expect((await h.console("useradd -M partner1 && sshd -T -C user=partner1,host=x,addr=127.0.0.1 | grep -i '^permittty'")).stdout.trim()).toBe("permittty no");

  await h.console("sed -i 's/^\\tX11Forwarding no$/\\tX11Forwarding yes/' /etc/ssh/sshd_config && kill -HUP $(cat /run/sshd.pid)");
  const pv = await proj.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(pv.stdout).toMatch(/X11Forwarding\s*:\s*"yes" => "no"/);
  expect((await proj.up("--refresh")).code).toBe(0);
  expect((await h.console("sshd -T -C user=jailed1,host=x,addr=127.0.0.1 | grep -i '^x11forwarding'")).stdout.trim()).toBe("x11forwarding no");
  const clean = await proj.preview("--refresh");
  expect(summary(clean.stdout).update ?? 0).toBe(0);
  await expectRootLogin();
});

test("a block that would lock the operator out is refused before any reload, and sshd_config stays byte for byte", async () => {
  const before = await fingerprint();
  const hupsBefore = ((await h.sshdLog()).match(/Received SIGHUP/g) ?? []).length;
  configure([JAIL, PARTNERS, { name: "lockroot", order: 40, match: { User: ["root"] }, directives: { ForceCommand: "internal-sftp" } }]);
  const r = await proj.up();
  expect(r.code).not.toBe(0);
  expect(r.stdout + r.stderr).toMatch(/ForceCommand internal-sftp would apply.*root/);
  expect(await fingerprint()).toBe(before);
  expect(((await h.sshdLog()).match(/Received SIGHUP/g) ?? []).length).toBe(hupsBefore);
  await expectRootLogin();
});

test("destroy gives sshd_config back byte for byte, final newline missing as it was", async () => {
  configure([JAIL, PARTNERS]);
  // The accounts this suite made by hand go first: sftp-jail refuses to remove a block that still jails an account.
  await h.console("userdel jailed1 && userdel partner1 && userdel adm1");
  const d = await proj.destroy();
  expect(d.code).toBe(0);
  expect(await mainFile()).toBe(pristine);
  expect((await h.console("ls -a /etc/ssh | grep sftp-jail || true")).stdout).toBe("");
  await expectRootLogin();
});
