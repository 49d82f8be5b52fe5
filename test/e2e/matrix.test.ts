/**
 * Host generations (issue 11): the core jail scenario of jail.test.ts, through the real CLI, on one host of each Debian
 * generation other than the default one — Debian 11 (OpenSSH 8.4) and Debian 13 (OpenSSH 10.0, where sshd is split into
 * sshd, sshd-session and sshd-auth). Debian 12 (OpenSSH 9.2) runs every other suite. Converge, real `sftp` confined to
 * the chroot, no shell, drift shown on the right field and repaired, a clean second preview, and destroy restoring
 * sshd_config and the ruleset byte for byte while keeping uploads.
 */
import { Sandbox, SandboxHost, Suite, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, summary } from "./pulumi";

jest.setTimeout(20 * 60_000);

/** Generation → the OpenSSH version its host must report (so the matrix cannot silently run the default rootfs). */
const GENERATIONS: Array<{ suite: Suite; openssh: RegExp }> = [
  { suite: "bullseye", openssh: /^OpenSSH_8\.4/ },
  { suite: "trixie", openssh: /^OpenSSH_10\./ },
];

const ADMIN_RULES = [
  "iptables -A INPUT -i lo -j ACCEPT",
  "iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
  "iptables -A INPUT -j REJECT --reject-with icmp-port-unreachable",
].join(" && ");
const RULES = "iptables-save -t filter | grep -v '^[#:]'";
const SSHD_FILES = "cd /etc/ssh && sha256sum sshd_config sshd_config.d/* 2>/dev/null; stat -c '%n %a %U:%G' sshd_config sshd_config.d";

const sandboxes: Sandbox[] = [];
let hosts: SandboxHost[] = [];
let keyPath = "";
let p: PulumiProject;
let c: Clients;
let aliceKey = "";
const baseline: string[] = [];
const baselineRules: string[] = [];

function config() {
  return {
    hosts: hosts.map((h) => ({
      name: h.suite,
      connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: keyPath, hostKey: h.hostKey },
    })),
    jails: [
      {
        group: { name: "sftp", gid: 2200 },
        chrootBase: "/srv/sftp",
        users: [{ name: "alice", keys: [aliceKey] }],
        firewall: { port: 22, state: ["NEW"], position: "beforeReject" },
      },
    ],
  };
}

const operatorCanLogIn = async () => {
  for (const h of hosts) expect((await c.ssh(h, "root", keyPath, "echo ok")).stdout.trim()).toBe("ok");
};

beforeAll(async () => {
  for (const g of GENERATIONS) sandboxes.push(await startSandbox([`matrix-${g.suite}`], { suite: g.suite }));
  hosts = sandboxes.map((s) => s.hosts[0]);
  keyPath = sandboxes[0].keyPath;
  c = new Clients(hosts);
  aliceKey = await c.keygen("alice");
  for (const h of hosts) {
    await h.console(ADMIN_RULES);
    baseline.push((await h.console(SSHD_FILES)).stdout);
    baselineRules.push((await h.console(RULES)).stdout);
  }
  p = await PulumiProject.create("matrix");
  p.setConfig(config());
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  for (const s of sandboxes) await s.stop();
});

test("each host runs the OpenSSH generation it stands for", async () => {
  for (const [i, h] of hosts.entries()) {
    const v = await h.console("ssh -V 2>&1");
    expect(v.stdout).toMatch(GENERATIONS[i].openssh);
  }
  // Debian 13's split sshd: the per-connection binary exists, so the suite really exercises it.
  expect((await hosts[1].console("test -x /usr/lib/openssh/sshd-session && echo split")).stdout.trim()).toBe("split");
});

test("one up converges the jail on every generation; sshd's own evaluation jails the user; a second up is clean", async () => {
  const up = await p.up();
  expect(up.stderr + up.stdout).not.toMatch(/error:/);
  expect(up.code).toBe(0);
  await operatorCanLogIn();
  for (const h of hosts) {
    const t = await h.console("sshd -T -C user=alice,host=x,addr=127.0.0.1");
    expect(t.stdout).toMatch(/^chrootdirectory %h$/m);
    expect(t.stdout).toMatch(/^forcecommand internal-sftp$/m);
    expect(t.stdout).toMatch(/^allowtcpforwarding no$/m);
    expect(t.stdout).toMatch(/^subsystem sftp internal-sftp$/m);
    const root = await h.console("sshd -T -C user=root,host=x,addr=127.0.0.1");
    expect(root.stdout).toMatch(/^chrootdirectory none$/m);
  }
  const again = await p.up();
  expect(again.code).toBe(0);
  expect(summary(again.stdout).create ?? 0).toBe(0);
  expect(summary(again.stdout).update ?? 0).toBe(0);
});

test("real sftp is confined to the chroot and gets no shell, on every generation", async () => {
  const f = c.file("report.csv", "a,b\n1,2\n");
  for (const h of hosts) {
    const put = await c.sftp(h, "alice", "alice", `put ${f} upload/report.csv\nls -1a /\n`);
    expect(put.code).toBe(0);
    expect(put.stdout.split("\n").filter((l) => l && !l.startsWith("sftp>")).map((l) => l.trim()).sort()).toEqual(["/.", "/..", "/upload"]);
    expect((await c.sftp(h, "alice", "alice", `put ${f} /evil.csv\n`)).code).not.toBe(0);
    expect((await c.sftp(h, "alice", "alice", "cd /etc\n")).code).not.toBe(0);
    const shell = await c.ssh(h, "alice", "alice", "id");
    expect(shell.stdout).not.toMatch(/uid=/);
  }
  await operatorCanLogIn();
});

test("drift of shell, keys, chroot mode and a Match directive is shown on the right field and repaired", async () => {
  const [h11, h13] = hosts;
  await h11.console("usermod -s /bin/bash alice && chmod 775 /srv/sftp/alice");
  await h13.console(
    "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M intruder' >> /etc/ssh/sftp-jail/authorized_keys/alice" +
      " && sed -i 's/^\\(\\s*\\)AllowTcpForwarding no/\\1AllowTcpForwarding yes/' /etc/ssh/sshd_config.d/*-sftp-jail-group-sftp.conf",
  );
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(pv.stdout).toMatch(/bullseye-sftp-alice\][\s\S]*?shell/);
  expect(pv.stdout).toMatch(/bullseye-sftp-alice\][\s\S]*?~ mode\s*: "0775" => "0755"/);
  expect(pv.stdout).toMatch(/trixie-sftp-alice\][\s\S]*?authorizedKeys[\s\S]*?intruder/);
  expect(pv.stdout).toMatch(/trixie-sftp-match\][\s\S]*?AllowTcpForwarding\s*:\s*"yes" => "no"/);

  const up = await p.up("--refresh");
  expect(up.code).toBe(0);
  expect((await h11.console("getent passwd alice | cut -d: -f7; stat -c %a /srv/sftp/alice")).stdout).toBe("/usr/sbin/nologin\n755\n");
  expect((await h13.console("cat /etc/ssh/sftp-jail/authorized_keys/alice")).stdout).toBe(aliceKey + "\n");
  expect((await h13.console("sshd -T -C user=alice,host=x,addr=127.0.0.1 | grep -i '^allowtcpforwarding'")).stdout.trim()).toBe("allowtcpforwarding no");
  const clean = await p.preview("--refresh");
  expect(clean.code).toBe(0);
  expect(summary(clean.stdout).update ?? 0).toBe(0);
  expect(summary(clean.stdout).create ?? 0).toBe(0);
  await operatorCanLogIn();
});

test("destroy restores sshd_config and the ruleset byte for byte and keeps the uploads, on every generation", async () => {
  const d = await p.destroy();
  expect(d.code).toBe(0);
  for (const [i, h] of hosts.entries()) {
    expect((await h.console(SSHD_FILES)).stdout).toBe(baseline[i]);
    expect((await h.console(RULES)).stdout).toBe(baselineRules[i]);
    expect((await h.console("getent passwd alice || true")).stdout).toBe("");
    expect((await h.console("cat /var/lib/sftp-jail/retained/srv_sftp_alice.*/upload/report.csv")).stdout).toBe("a,b\n1,2\n");
  }
  await operatorCanLogIn();
});
