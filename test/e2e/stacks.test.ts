/**
 * Two stacks on one host (issue 11, item 8): the root program in two projects' stacks (site-a, site-b), each with a
 * SftpJailHost on the same sandbox host. Both jail a group named "sftp", so both want the Match block "group-sftp"
 * (file 50-sftp-jail-group-sftp.conf), which used to make them overwrite each other's block. The block file records
 * the stack that wrote it; the second stack is refused at preview and at up, naming the other stack, the file and the
 * fix, with the host unchanged. Named apart (another group), both converge side by side, and destroying both leaves
 * the host's accounts and sshd files as they were before either.
 */
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, RunResult } from "./pulumi";

jest.setTimeout(10 * 60_000);

let sb: Sandbox;
let h: SandboxHost;
let c: Clients;
let a: PulumiProject;
let b: PulumiProject;
const keys: Record<string, string> = {};

const ACCOUNTS_AND_SSHD = "cd / && sha256sum etc/passwd etc/group etc/shadow etc/gshadow; find /etc/ssh -type f -exec sha256sum {} + | sort; ls -A /etc/ssh/sshd_config.d /srv";
const STATE = `${ACCOUNTS_AND_SSHD}; find /srv /etc/ssh /var/lib/sftp-jail -xdev -printf '%p %u:%g %m %s\\n' 2>/dev/null | sort`;
const BLOCK = "/etc/ssh/sshd_config.d/50-sftp-jail-group-sftp.conf";
const text = (r: RunResult) => (r.stdout + r.stderr).replace(/\s+/g, " ");

function config(group: string, user: string) {
  return {
    hosts: [{ name: "h1", connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey } }],
    jails: [{ group: { name: group, gid: group === "sftp" ? 2700 : 2701 }, users: [{ name: user, keys: [keys[user]] }] }],
  };
}

beforeAll(async () => {
  sb = await startSandbox(["stacks-1"]);
  [h] = sb.hosts;
  c = new Clients(sb.hosts);
  keys.alice = await c.keygen("alice");
  keys.bob = await c.keygen("bob");
  a = await PulumiProject.create("site-a");
  b = await PulumiProject.create("site-b");
});

afterAll(async () => {
  for (const p of [b, a]) {
    await p?.destroy();
    p?.cleanup();
  }
  c?.cleanup();
  await sb?.stop();
});

test("a Match block another stack wrote under the same name is refused at preview and up; named apart, both converge and destroy cleanly", async () => {
  const pristine = (await h.console(ACCOUNTS_AND_SSHD)).stdout;
  a.setConfig(config("sftp", "alice"));
  expect((await a.up()).code).toBe(0);
  expect((await h.console(`sed -n 3p ${BLOCK}`)).stdout).toBe("# sftp-jail: stack sftp-jail/site-a\n");
  const afterA = (await h.console(STATE)).stdout;

  // Stack site-b wants the same block name on the same host: refused, naming site-a, the file and the fix.
  b.setConfig(config("sftp", "bob"));
  const refusal = new RegExp(
    `${BLOCK} holds the SshdMatchBlock "group-sftp" of stack sftp-jail/site-a, not of this stack \\(sftp-jail/site-b\\): two stacks writing one block would overwrite each other's Match block on root@127\\.0\\.0\\.1:${h.port}\\. Fix: give this SshdMatchBlock another name`,
  );
  const pv = await b.preview();
  expect(pv.code).not.toBe(0);
  expect(text(pv)).toMatch(refusal);
  const up = await b.up();
  expect(up.code).not.toBe(0);
  expect(text(up)).toMatch(refusal);
  // Its group step ran: site-a's group is adopted, and the log says whose it is.
  expect(text(up)).toMatch(/SftpGroup "sftp" on 127\.0\.0\.1:\d+: adopted the existing group \(gid 2700\), which stack sftp-jail\/site-a created \(the host's record says so\), so it stays that stack's to remove; destroy leaves it/);
  expect((await h.console(STATE)).stdout).toBe(afterA);
  expect((await c.sftp(h, "alice", "alice", "pwd\n")).stdout).toMatch(/Remote working directory: \/$/m); // site-a's jail still works

  // Named apart (its own group, so its own block), site-b converges beside site-a, whose block file is untouched.
  const blockA = (await h.console(`sha256sum ${BLOCK}`)).stdout;
  b.setConfig(config("partners", "bob"));
  expect((await b.up()).code).toBe(0);
  expect((await h.console(`sha256sum ${BLOCK}; sed -n 3p /etc/ssh/sshd_config.d/50-sftp-jail-group-partners.conf`)).stdout).toBe(
    `${blockA}# sftp-jail: stack sftp-jail/site-b\n`,
  );
  expect((await c.sftp(h, "bob", "bob", "pwd\n")).stdout).toMatch(/Remote working directory: \/$/m);

  // Each destroy removes its own; after both, accounts and sshd files are as before either stack.
  expect((await b.destroy()).code).toBe(0);
  expect((await h.console(`sha256sum ${BLOCK}; ls /etc/ssh/sshd_config.d`)).stdout).toBe(`${blockA}50-sftp-jail-group-sftp.conf\n`);
  // site-b's refused run adopted site-a's group "sftp" (the host's record names site-a as its creator, so site-b
  // never takes it over): site-b's destroy leaves it, and site-a's jail still works.
  expect((await h.console("getent group sftp >/dev/null && echo kept")).stdout.trim()).toBe("kept");
  expect((await c.sftp(h, "alice", "alice", "pwd\n")).stdout).toMatch(/Remote working directory: \/$/m);
  expect((await a.destroy()).code).toBe(0);
  expect((await h.console(ACCOUNTS_AND_SSHD)).stdout).toBe(pristine);
});
