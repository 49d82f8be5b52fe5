/**
 * Issue 9's proof: the jail is judged by sshd's own evaluation (`sshd -T -C` per jailed account), not by the files
 * sftp-jail wrote. After a clean converge an admin un-jails the partner by console in three ways OpenSSH allows (an
 * earlier `Match User` drop-in, a `Match all` ForceCommand that sorts first, a `Match Address` block only the
 * partner's address sees): each shows as drift on the JailedUser with sshd's value, the real clients confirm the
 * effect, and `up` refuses naming the admin's file (it is not sftp-jail's to edit) — or fixes the override when it
 * sits in sftp-jail's own block. A second SshdMatchBlock that would un-jail the user is refused, the host unchanged.
 */
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients, run } from "./clients";
import { PulumiProject, summary } from "./pulumi";

jest.setTimeout(30 * 60_000);

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
let c: Clients;
let key: string;

const DROPINS = "/etc/ssh/sshd_config.d";
const OURS = `${DROPINS}/50-sftp-jail-group-sftp.conf`;
const HOST_FILES =
  "cd /etc && sha256sum ssh/sshd_config ssh/sshd_config.d/* passwd group shadow 2>/dev/null; ls -la ssh/sshd_config.d | awk '{print $1, $3, $4, $NF}'";
const reload = "sshd -t && kill -HUP $(cat /run/sshd.pid) && sleep 0.3";

function config() {
  return {
    hosts: [{ name: "e1", connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey } }],
    jails: [
      {
        group: { name: "sftp", gid: 2500 },
        chrootBase: "/srv/sftp",
        users: [{ name: "acme", keys: [key], reachedFrom: [{ address: h.clientAddress! }] }],
      },
    ],
  };
}

const sshOpts = () => [
  "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
  "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", "-i", path.join(c.dir, "acme"),
];

/** The partner's SFTP view, through the loopback path (sshd sees 127.0.0.1). */
const sftp = (batch: string) => c.sftp(h, "acme", "acme", batch);

/** `ssh -W` (a direct-tcpip channel to the host's own sshd): prints sshd's banner only when TCP forwarding is allowed. */
async function forwardFromLoopback(): Promise<{ code: number; out: string }> {
  const r = await run(["ssh", ...sshOpts(), "-p", String(h.port), "-W", "127.0.0.1:22", "acme@127.0.0.1"]);
  return { code: r.code, out: r.stdout + r.stderr };
}
/** The same from the partner's own address (the client netns: sshd sees h.clientAddress). */
async function forwardFromPartner(): Promise<{ code: number; out: string }> {
  const r = await h.client(["ssh", ...sshOpts(), "-p", "22", "-W", "127.0.0.1:22", `acme@${h.hostAddress}`], { allowFail: true });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** The real clients see the jail: chrooted SFTP, no forwarding from either path. */
async function expectJailed(): Promise<void> {
  const s = await sftp("pwd\nls /\n");
  expect(s.code).toBe(0);
  expect(s.stdout).toContain("Remote working directory: /\n");
  expect(s.stdout).toMatch(/^\/upload\s*$/m);
  for (const f of [await forwardFromLoopback(), await forwardFromPartner()]) {
    expect(f.out).not.toContain("SSH-2.0-OpenSSH");
    expect(f.out).toMatch(/administratively prohibited/);
  }
}

async function adminAdds(file: string, text: string): Promise<void> {
  await h.console(`cat > ${file} && ${reload}`, { input: text });
}
async function adminRemoves(file: string): Promise<void> {
  await h.console(`rm -f ${file} && ${reload}`);
}

/** `preview --refresh`: drift on the JailedUser only, with the keyword's refreshed value and the jail's. */
async function expectDrift(keyword: string, value: string, jail: string): Promise<string> {
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  const out = pv.stdout;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  expect(summary(out).update).toBe(1);
  // The one update is the user's, and its diff is the jail keyword: sshd's value (refreshed) => the jail's (program).
  const at = out.indexOf("sftpjail:JailedUser: (update)");
  expect(at).toBeGreaterThan(-1);
  const upd = out.slice(at);
  expect(upd).toMatch(/^\s*\[urn=[^\n]*JailedUser::e1-sftp-acme\]/m);
  expect(upd).toMatch(new RegExp(`~ jail\\s*:[\\s\\S]*?~ ${keyword}\\s*:\\s*"${esc(value)}"\\s*=>\\s*"${esc(jail)}"`));
  return out;
}

async function expectRefused(file: string, keyword: string, value: string): Promise<void> {
  const before = (await h.console(HOST_FILES)).stdout;
  // Drift is found by a refresh (as for every resource): `up --refresh` sees it and refuses.
  const up = await p.up("--refresh");
  const out = up.stdout + up.stderr;
  expect(up.code).not.toBe(0);
  expect(out).toMatch(new RegExp(`JailedUser "acme" on 127\\.0\\.0\\.1:${h.port}: acme is not jailed: sshd resolves ${keyword} ${value.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
  expect(out).toContain(`most likely set first by ${file}`);
  expect(out).toContain(`${file} is not sftp-jail's, so sftp-jail does not edit it`);
  // Refused, not "fixed": the admin's file and everything else stay as they were.
  expect((await h.console(HOST_FILES)).stdout).toBe(before);
}

beforeAll(async () => {
  sb = await startSandbox(["eff-1"], { net: true });
  h = sb.hosts[0];
  c = new Clients(sb.hosts);
  key = await c.keygen("acme");
  p = await PulumiProject.create("effective");
  p.setConfig(config());
});

// A failed scenario must not leave its admin file for the next one.
afterEach(async () => {
  await h?.console(`rm -f ${DROPINS}/00-local.conf ${DROPINS}/10-local.conf ${DROPINS}/10-partner.conf && ${reload}`);
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

test("a clean converge: the jail is in effect for the neutral client and the partner's address; refresh shows nothing", async () => {
  const up = await p.up();
  expect(up.stdout + up.stderr).not.toMatch(/error:/);
  expect(up.code).toBe(0);
  // Defence in depth in the block sftp-jail renders.
  const block = (await h.console(`cat ${OURS}`)).stdout;
  for (const d of ["AllowStreamLocalForwarding no", "PermitTTY no", "GatewayPorts no", "PermitUserRC no"]) expect(block).toContain(`\t${d}\n`);
  const t = (await h.console(`sshd -T -C user=acme,host=192.0.2.1,addr=192.0.2.1 | grep -E '^(allowstreamlocalforwarding|permittty) '`)).stdout;
  expect(t.split("\n").filter(Boolean).sort()).toEqual(["allowstreamlocalforwarding no", "permittty no"]);
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(summary(pv.stdout).update ?? 0).toBe(0);
  await expectJailed();
});

test("(a) an earlier drop-in with Match User + ChrootDirectory none: drift, an unconfined SFTP view, up refuses naming it", async () => {
  const file = `${DROPINS}/10-local.conf`;
  await adminAdds(file, "Match User acme\n\tChrootDirectory none\n");
  await expectDrift("chrootdirectory", "none", "/srv/sftp/acme");
  const s = await sftp("pwd\nls /etc/ssh\n");
  expect(s.stdout).toContain("Remote working directory: /srv/sftp/acme");
  expect(s.stdout).toContain("sshd_config");
  await expectRefused(file, "ChrootDirectory", "none");
  await adminRemoves(file);
  const up = await p.up();
  expect(up.code).toBe(0);
  await expectJailed();
});

test("(b) Match all + another ForceCommand in a drop-in that sorts first: drift, internal-sftp gone, up refuses naming it", async () => {
  const file = `${DROPINS}/00-local.conf`;
  // Runs the client's command for everyone (so the operator keeps working); internal-sftp no longer serves acme.
  await adminAdds(file, 'Match all\n\tForceCommand /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n');
  await expectDrift("forcecommand", '/bin/sh -c \\"$SSH_ORIGINAL_COMMAND\\"', "internal-sftp");
  const s = await sftp("pwd\n");
  expect(s.code).not.toBe(0);
  expect(s.stdout).not.toContain("Remote working directory");
  await expectRefused(file, "ForceCommand", '/bin/sh -c "$SSH_ORIGINAL_COMMAND"');
  await adminRemoves(file);
  expect((await p.up()).code).toBe(0);
  await expectJailed();
});

test("(c) an earlier Match Address block for the partner's address: drift only that evaluation sees, forwarding from there, refused", async () => {
  const file = `${DROPINS}/10-partner.conf`;
  await adminAdds(file, `Match Address ${h.clientAddress}\n\tAllowTcpForwarding yes\n`);
  await expectDrift("allowtcpforwarding", `yes (client ${h.clientAddress})`, "no");
  // The real client: a TCP channel from the partner's address reaches the host's sshd; from loopback it does not.
  const partner = await forwardFromPartner();
  expect(partner.out).toContain("SSH-2.0-OpenSSH");
  expect((await forwardFromLoopback()).out).toMatch(/administratively prohibited/);
  await expectRefused(file, "AllowTcpForwarding", `yes (client ${h.clientAddress})`);
  await adminRemoves(file);
  expect((await p.up()).code).toBe(0);
  await expectJailed();
});

test("an override inside sftp-jail's own block: drift on the block and the user, and up fixes it", async () => {
  await h.console(`sed -i 's/^\\tChrootDirectory %h$/\\tChrootDirectory none/' ${OURS} && ${reload}`);
  expect((await sftp("pwd\n")).stdout).toContain("Remote working directory: /srv/sftp/acme");
  const pv = await p.preview("--refresh");
  expect(pv.stdout).toMatch(/~ chrootdirectory\s*:\s*"none"\s*=>\s*"\/srv\/sftp\/acme"/);
  expect(pv.stdout).toMatch(/~ ChrootDirectory\s*:\s*"none"\s*=>\s*"%h"/);
  const up = await p.up("--refresh");
  expect(up.stdout + up.stderr).not.toMatch(/error:/);
  expect(up.code).toBe(0);
  await expectJailed();
  expect(summary((await p.preview("--refresh")).stdout).update ?? 0).toBe(0);
});

test("a second SshdMatchBlock with a lower order that would un-jail the user is refused; the host is byte-identical", async () => {
  const before = (await h.console(HOST_FILES)).stdout;
  const q = await PulumiProject.create("effective-loose", path.join(__dirname, "programs", "sshd"));
  try {
    q.setConfig({
      port: h.port,
      hostKey: h.hostKey,
      keyFile: sb.keyPath,
      blocks: [{ name: "loose", order: 10, match: { Group: ["sftp"] }, directives: { AllowTcpForwarding: "yes" }, subsystemInternalSftp: false }],
    });
    const up = await q.up();
    const out = up.stdout + up.stderr;
    expect(up.code).not.toBe(0);
    expect(out).toMatch(
      /SshdMatchBlock "loose" on 127\.0\.0\.1:\d+: .*this change would un-jail acme: sshd would resolve allowtcpforwarding yes for it \(was no; .*\), most likely set first by \/etc\/ssh\/sshd_config\.d\/10-sftp-jail-loose\.conf\. The configuration was restored and sshd was not reloaded/,
    );
    expect(out).toContain("a jailed account must stay jailed");
    expect((await h.console(HOST_FILES)).stdout).toBe(before);
    await expectJailed();
  } finally {
    await q.destroy();
    q.cleanup();
  }
  expect((await h.console(HOST_FILES)).stdout).toBe(before);
});

test("a JailedUser that no Match block jails is refused after its creation, and the account is deleted again", async () => {
  const before = (await h.console(HOST_FILES)).stdout;
  const q = await PulumiProject.create("effective-solo", path.join(__dirname, "programs", "hostile"));
  const connection = { host: "127.0.0.1", port: h.port, user: "root", hostKey: h.hostKey, privateKey: "@keyFile" };
  try {
    q.setConfig({
      keyFile: sb.keyPath,
      resources: [
        { id: "lonely", type: "SftpGroup", args: { name: "lonely", gid: 2600, connection } },
        { id: "solo", type: "JailedUser", args: { name: "solo", group: "lonely", home: "/srv/sftp/solo", authorizedKeys: [key], connection }, dependsOn: ["lonely"] },
      ],
    });
    const up = await q.up();
    const out = up.stdout + up.stderr;
    expect(up.code).not.toBe(0);
    expect(out).toMatch(/JailedUser "solo" on 127\.0\.0\.1:\d+: solo is not jailed: sshd resolves ChrootDirectory none where the jail needs \/srv\/sftp\/solo.*; the account was deleted again/);
    expect(out).toContain("create its SshdMatchBlock first (dependsOn: the block)");
    expect((await h.console("getent passwd solo || echo absent; ls /etc/ssh/sftp-jail/authorized_keys")).stdout).toMatch(/^absent\nacme\n$/);
  } finally {
    await q.destroy();
    q.cleanup();
  }
  expect((await h.console(HOST_FILES)).stdout).toBe(before);
});

test("destroy removes the user before the block that jails it (the block's check would refuse the other order)", async () => {
  const d = await p.destroy();
  expect(d.stdout + d.stderr).not.toMatch(/error:/);
  expect(d.code).toBe(0);
  expect((await h.console(`ls ${DROPINS}; getent passwd acme || echo gone`)).stdout).toContain("gone");
  expect((await h.console(`ls ${DROPINS}`)).stdout).not.toContain("sftp-jail");
});
