/**
 * Issue 3's proof: the admin's whole hand-made SFTP jail, declared once in the root program and converged on three
 * real sandbox hosts by the real `pulumi` CLI; checked with OpenSSH's own sftp and ssh clients.
 */
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, summary } from "./pulumi";

jest.setTimeout(20 * 60_000);

let sb: Sandbox;
let p: PulumiProject;
let c: Clients;
const keys: Record<string, string> = {};
const baseline: string[] = [];

// Contents and names, not link counts: overlayfs changes a directory's link count when it is copied up.
// The admin's ruleset: loopback and established traffic, then REJECT everything else.
const ADMIN_RULES = [
  "iptables -A INPUT -i lo -j ACCEPT",
  "iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
  "iptables -A INPUT -j REJECT --reject-with icmp-port-unreachable",
].join(" && ");
const RULES = "iptables-save -t filter | grep -v '^[#:]' ";
const baselineRules: string[] = [];

const SSHD_FILES = "cd /etc/ssh && sha256sum sshd_config sshd_config.d/* 2>/dev/null; stat -c '%n %a %U:%G' sshd_config sshd_config.d";

function config(extra: { bobKeys?: string[] } = {}) {
  return {
    hosts: sb.hosts.map((h, i) => ({
      name: `h${i + 1}`,
      connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey },
    })),
    jails: [
      {
        group: { name: "sftp", gid: 2200 },
        chrootBase: "/srv/sftp",
        users: [
          { name: "alice", keys: [keys.alice] },
          { name: "bob", keys: extra.bobKeys ?? [keys.bob] },
        ],
        firewall: { port: 22, state: ["NEW"], position: "beforeReject" },
      },
    ],
  };
}

const operatorCanLogIn = async () => {
  for (const h of sb.hosts) expect((await c.ssh(h, "root", sb.keyPath, "echo ok")).stdout.trim()).toBe("ok");
};

beforeAll(async () => {
  sb = await startSandbox(["jail-1", "jail-2", "jail-3"]);
  c = new Clients(sb.hosts);
  keys.alice = await c.keygen("alice");
  keys.bob = await c.keygen("bob");
  keys.bob2 = await c.keygen("bob2");
  // Host 3 runs sshd with UsePAM no: there a locked shadow field ("!", "!!") refuses key login.
  await sb.hosts[2].console("sed -i 's/^UsePAM yes/UsePAM no/' /etc/ssh/sshd_config && sshd -t && kill -HUP $(cat /run/sshd.pid)");
  for (const h of sb.hosts) {
    await h.console(ADMIN_RULES);
    baseline.push((await h.console(SSHD_FILES)).stdout);
    baselineRules.push((await h.console(RULES)).stdout);
  }
  p = await PulumiProject.create("jail");
  p.setConfig(config());
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

test("one up converges the admin's end state on 3 hosts; a second up changes nothing", async () => {
  const up = await p.up();
  expect(up.stderr + up.stdout).not.toMatch(/error:/);
  expect(up.code).toBe(0);
  await operatorCanLogIn();
  for (const h of sb.hosts) {
    const t = await h.console("sshd -T -C user=alice,host=x,addr=127.0.0.1 | grep -Ei '^(chrootdirectory|forcecommand|subsystem|x11forwarding|allowtcpforwarding|authorizedkeysfile) '");
    expect(t.stdout).toMatch(/^chrootdirectory %h$/m); // sshd -T prints the token; the login expands it
    expect(t.stdout).toMatch(/^forcecommand internal-sftp$/m);
    expect(t.stdout).toMatch(/^x11forwarding no$/m);
    expect(t.stdout).toMatch(/^allowtcpforwarding no$/m);
    expect(t.stdout).toMatch(/^authorizedkeysfile \/etc\/ssh\/sftp-jail\/authorized_keys\/%u$/m);
    expect(t.stdout).toMatch(/^subsystem sftp internal-sftp$/m);
    const root = await h.console("sshd -T -C user=root,host=x,addr=127.0.0.1");
    expect(root.stdout).toMatch(/^chrootdirectory none$/m);
    expect(root.stdout).toMatch(/^forcecommand none$/m);
    expect((await h.console("stat -c '%U:%G %a' /srv/sftp/alice /srv/sftp/alice/upload; getent passwd alice; grep '^alice:' /etc/shadow | cut -d: -f2")).stdout).toBe(
      "root:root 755\nalice:sftp 755\n" + `alice:x:${(await h.console("id -u alice")).stdout.trim()}:2200:sftp-jail:/srv/sftp/alice:/usr/sbin/nologin\n*\n`,
    );
  }
  for (const h of sb.hosts) {
    // The opening sits just before the admin's REJECT rule.
    const rules = (await h.console("iptables -S INPUT")).stdout.split("\n").filter((l) => l.startsWith("-A INPUT"));
    expect(rules[2]).toMatch(/-p tcp .*--dport 22 .*sftp-jail:h\d-sftp-firewall.* -j ACCEPT/);
    expect(rules[3]).toMatch(/-j REJECT/);
  }
  const again = await p.up();
  expect(again.code).toBe(0);
  expect(summary(again.stdout).create ?? 0).toBe(0);
  expect(summary(again.stdout).update ?? 0).toBe(0);
});

test("a jailed user uploads with sftp, sees only the chroot, cannot write outside it, and gets no shell", async () => {
  const h = sb.hosts[0];
  const f = c.file("report.csv", "a,b\n1,2\n");
  const put = await c.sftp(h, "alice", "alice", `put ${f} upload/report.csv\nls -1a /\n`);
  expect(put.code).toBe(0);
  expect(put.stdout.split("\n").filter((l) => l && !l.startsWith("sftp>")).map((l) => l.trim()).sort()).toEqual(["/.", "/..", "/upload"]);
  expect((await h.console("stat -c '%U %s' /srv/sftp/alice/upload/report.csv")).stdout.trim()).toBe("alice 8");

  const outside = await c.sftp(h, "alice", "alice", `put ${f} /evil.csv\n`);
  expect(outside.code).not.toBe(0);
  expect(outside.stderr).toMatch(/Permission denied/);
  const escape = await c.sftp(h, "alice", "alice", "cd /etc\n");
  expect(escape.code).not.toBe(0);

  const shell = await c.ssh(h, "alice", "alice", "id");
  expect(shell.stdout).not.toMatch(/uid=/);
  expect(shell.stdout + shell.stderr).toMatch(/only|sftp/i);
  await operatorCanLogIn();
});

test("each kind of drift is reported on the right resource and field, and up restores it", async () => {
  const [h1, h2, h3] = sb.hosts;
  await h1.console("usermod -s /bin/bash alice");
  await h2.console("echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M intruder' >> /etc/ssh/sftp-jail/authorized_keys/alice");
  await h3.console("chmod 775 /srv/sftp/alice");
  await h1.console("usermod -g users bob");
  await h2.console("iptables -S INPUT | grep -- '--comment' | grep sftp-jail | sed 's/^-A/-D/' | xargs -L1 iptables");
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(summary(pv.stdout)).toMatchObject({ update: 4, create: 1 });
  expect(pv.stdout).toMatch(/\+ pulumi-nodejs:dynamic\/sftpjail:FirewallRule: \(create\)\s+\[urn=[^\]]*::h2-sftp-firewall\]/);
  expect(pv.stdout).toMatch(/h1-sftp-alice\][\s\S]*?~ shell\s*:\s*"\/bin\/bash" => "\/usr\/sbin\/nologin"|h1-sftp-alice\][\s\S]*?- shell\s*: "\/bin\/bash"/);
  expect(pv.stdout).toMatch(/h2-sftp-alice\][\s\S]*?authorizedKeys[\s\S]*?intruder/);
  expect(pv.stdout).toMatch(/h3-sftp-alice\][\s\S]*?~ mode\s*: "0775" => "0755"/);
  expect(pv.stdout).toMatch(/h1-sftp-bob\][\s\S]*?~ group\s*: "users" => "sftp"/);

  const up = await p.up("--refresh");
  expect(up.code).toBe(0);
  expect((await h1.console("getent passwd alice | cut -d: -f7")).stdout).toBe("/usr/sbin/nologin\n");
  expect((await h1.console("id -nG bob")).stdout.split(/\s+/)).toContain("sftp"); // membership, as Match Group sees it
  expect((await h2.console("cat /etc/ssh/sftp-jail/authorized_keys/alice")).stdout).toBe(keys.alice + "\n");
  expect((await h3.console("stat -c %a /srv/sftp/alice")).stdout.trim()).toBe("755");
  expect((await h2.console("iptables -S INPUT")).stdout).toMatch(/sftp-jail:h2-sftp-firewall/);
  const clean = await p.preview("--refresh");
  expect(summary(clean.stdout).update ?? 0).toBe(0);
  await operatorCanLogIn();
});

test("changing one user's keys touches no other file on the host", async () => {
  const h = sb.hosts[1];
  await h.console("touch /run/sj-marker && sleep 1");
  p.setConfig(config({ bobKeys: [keys.bob, keys.bob2] }));
  const up = await p.up();
  expect(up.code).toBe(0);
  const changed = await h.console("find / -xdev -newer /run/sj-marker -type f ! -path /var/log/sshd.log ! -path '/proc/*' | sort");
  expect(changed.stdout.trim()).toBe("/etc/ssh/sftp-jail/authorized_keys/bob");
  expect((await c.sftp(h, "bob", "bob2", "ls /\n")).code).toBe(0);
});

test("a shadow field of ! or !! left by useradd ends as *, and key login works with UsePAM no as well as yes", async () => {
  const [h1, , h3] = sb.hosts;
  await h1.console("usermod -p '!' alice");
  await h3.console("usermod -p '!!' alice");
  expect((await c.sftp(h3, "alice", "alice", "ls /\n")).code).not.toBe(0); // the trap: locked under UsePAM no
  const up = await p.up("--refresh");
  expect(up.code).toBe(0);
  for (const h of [h1, h3]) {
    expect((await h.console("grep '^alice:' /etc/shadow | cut -d: -f2")).stdout.trim()).toBe("*");
    expect((await c.sftp(h, "alice", "alice", "ls /\n")).code).toBe(0);
  }
});

test("destroy returns sshd_config byte for byte and the firewall ruleset as it was, and keeps the uploaded files", async () => {
  const d = await p.destroy();
  expect(d.code).toBe(0);
  for (const [i, h] of sb.hosts.entries()) {
    expect((await h.console(SSHD_FILES)).stdout).toBe(baseline[i]);
    expect((await h.console(RULES)).stdout).toBe(baselineRules[i]);
    expect((await h.console("getent passwd alice bob || true")).stdout).toBe("");
  }
  const kept = await sb.hosts[0].console("cat /var/lib/sftp-jail/retained/srv_sftp_alice.*/upload/report.csv");
  expect(kept.stdout).toBe("a,b\n1,2\n");
  await operatorCanLogIn();
});
