/**
 * A host that cannot take the whole jail gets no part of it (issue 11, item 7). Two sandbox hosts, the root program
 * with one SftpJailHost on each; the second host's sshd_config already fails `sshd -t` (an invalid line appended on
 * its console; its running sshd keeps serving the configuration it loaded). The host preconditions are judged once
 * per host from the snapshot: `pulumi preview` warns about that host, naming the precondition and the fix; `pulumi
 * up --continue-on-error` refuses its resources before anything touches it — accounts, /etc/ssh, the chroot tree,
 * sftp-jail's own directories and even the host lock are exactly as before — while the good host converges (a real
 * sftp login is jailed). Fixed by hand, the next `up` converges it.
 */
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, RunResult } from "./pulumi";

jest.setTimeout(10 * 60_000);

let sb: Sandbox;
let good: SandboxHost;
let bad: SandboxHost;
let c: Clients;
let p: PulumiProject;
let before: string;

/** Everything a converge could touch on a host: account files, /etc/ssh, the chroot tree, sftp-jail's own places. */
const STATE = [
  "cd / && sha256sum etc/passwd etc/group etc/shadow etc/gshadow",
  "find /etc/ssh -type f -exec sha256sum {} + | sort",
  "find /etc/ssh /srv /var/lib/sftp-jail /run/sftp-jail /run/lock -xdev -printf '%p %u:%g %m %s\\n' 2>/dev/null | sort",
  "true",
].join("; ");
const BOGUS = "BogusKeyword yes";
const text = (r: RunResult) => r.stdout + r.stderr;

beforeAll(async () => {
  sb = await startSandbox(["pc-good", "pc-bad"]);
  [good, bad] = sb.hosts;
  c = new Clients(sb.hosts);
  const alice = await c.keygen("alice");
  // Broken by hand: sshd -t refuses it from now on (sshd itself keeps running with what it loaded).
  await bad.console(`printf '%s\\n' '${BOGUS}' >> /etc/ssh/sshd_config && ! sshd -t`);
  before = (await bad.console(STATE)).stdout;
  p = await PulumiProject.create("precond");
  p.setConfig({
    hosts: sb.hosts.map((h, i) => ({
      name: ["good", "bad"][i],
      connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey },
    })),
    jails: [{ group: { name: "sftp", gid: 2600 }, users: [{ name: "alice", keys: [alice] }] }],
  });
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

// One scenario, in order (the fix needs the refusal before it).
test("the broken host is warned about at preview, refused untouched at up while the good host converges, then fixed", async () => {
  const where = `127.0.0.1:${bad.port}`;
  const invalid = new RegExp(`sshd -t: the current sshd configuration is already invalid \\(sshd -t: /etc/ssh/sshd_config: line \\d+: Bad configuration option: BogusKeyword`);

  // Preview: a warning naming the host, the precondition and the fix — once per host, not once per resource.
  const pv = await p.run(["preview"]);
  expect(pv.code).toBe(0);
  const warned = text(pv).match(new RegExp(`warning: ${where}: the host fails a precondition, so \`pulumi up\` will change nothing on it`, "g")) ?? [];
  expect(warned.length).toBeGreaterThanOrEqual(1);
  expect(warned.length).toBeLessThanOrEqual(2); // the engine may print a diagnostic in the run and again in its summary
  expect(text(pv)).toMatch(invalid);
  expect(text(pv)).toMatch(/fix: fix the configuration by hand until `sshd -t` passes on the host/);
  expect(text(pv)).not.toMatch(new RegExp(`127\\.0\\.0\\.1:${good.port}: the host fails`));

  // Up: every resource of the broken host is refused before anything runs there; the good host converges.
  const up = await p.up("--continue-on-error");
  expect(up.code).not.toBe(0);
  expect(text(up)).toMatch(new RegExp(`SftpGroup "sftp" on ${where}: the host fails a precondition, so sftp-jail changes nothing on it: no resource of this host is created, updated or deleted until it is fixed \\(nothing was changed\\): sshd -t: `));
  expect(text(up)).toMatch(invalid);
  expect(text(up)).not.toMatch(/SshdMatchBlock "group-sftp" on .*refused|sshd -t refused the configuration with this change/);
  expect((await bad.console(STATE)).stdout).toBe(before);

  expect((await good.console("getent group sftp; getent passwd alice | cut -d: -f1,6,7; ls /etc/ssh/sshd_config.d; sshd -t && echo valid")).stdout).toBe(
    "sftp:x:2600:\nalice:/srv/sftp/alice:/usr/sbin/nologin\n50-sftp-jail-group-sftp.conf\nvalid\n",
  );
  const sftp = await c.sftp(good, "alice", "alice", "pwd\nls /\n");
  expect(sftp.code).toBe(0);
  expect(sftp.stdout).toMatch(/Remote working directory: \/$/m);
  expect(sftp.stdout).toMatch(/^\/upload\s*$/m); // the jail's root is the chroot: only its upload directory

  // Fixed by hand: the next up converges the host it refused, and nothing is left to do on either.
  await bad.console(`sed -i '/^${BOGUS}$/d' /etc/ssh/sshd_config && sshd -t`);
  const fixed = await p.up();
  expect(fixed.code).toBe(0);
  expect((await bad.console("getent group sftp; ls /etc/ssh/sshd_config.d")).stdout).toBe("sftp:x:2600:\n50-sftp-jail-group-sftp.conf\n");
});
