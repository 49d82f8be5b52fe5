/**
 * Issue 2's proof, end to end: the real `pulumi` CLI runs the root program against three real sandbox hosts, logging
 * in as root, as a NOPASSWD sudoer, and as a sudoer with a password and a passphrase-protected key.
 */
import { Sandbox, startSandbox } from "../sandbox";
import { PulumiProject, connectionSecrecy, summary } from "./pulumi";

jest.setTimeout(15 * 60_000);

let sb: Sandbox;
let p: PulumiProject;
let pristine: string[];

const groupsOf = async (i: number, name: string) =>
  (await sb.hosts[i].console(`getent group ${name} || true`)).stdout.trim();
const accountFiles = (i: number) => sb.hosts[i].console("sha256sum /etc/group /etc/gshadow").then((r) => r.stdout);

function hostsConfig(hostKeys?: string[]) {
  const [h1, h2, h3] = sb.hosts;
  return [
    { name: "h1", connection: { host: "127.0.0.1", port: h1.port, user: "root", privateKeyFile: sb.keyPath, hostKey: (hostKeys ?? [])[0] ?? h1.hostKey } },
    { name: "h2", connection: { host: "127.0.0.1", port: h2.port, user: "operator", privateKeyFile: sb.keyPath, hostKey: h2.hostKey } },
    { name: "h3", connection: { host: "127.0.0.1", port: h3.port, user: "opsudo", privateKeyFile: sb.ppKeyPath, hostKey: h3.hostKey } },
  ];
}

async function configure(groups: unknown[], hostKeys?: string[]): Promise<void> {
  p.setConfig({ hosts: hostsConfig(hostKeys), groups });
  // Secrets go through Pulumi's own secret config, encrypted in the stack file.
  await p.run(["config", "set", "--path", "--secret", "hosts[2].connection.privateKeyPassword", sb.passphrase], { check: true });
  await p.run(["config", "set", "--path", "--secret", "hosts[2].connection.sudo.password", sb.sudoPassword], { check: true });
}

beforeAll(async () => {
  sb = await startSandbox(["grp-1", "grp-2", "grp-3"]);
  p = await PulumiProject.create("groups");
  pristine = await Promise.all([0, 1, 2].map(accountFiles));
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  await sb?.stop();
});

test("up creates the group on 3 hosts; a second up changes nothing", async () => {
  await configure([{ name: "sftponly", gid: 2101 }]);
  const up = await p.up();
  expect(up.code).toBe(0);
  expect(summary(up.stdout).create).toBe(4); // 3 groups + the stack
  for (const i of [0, 1, 2]) expect(await groupsOf(i, "sftponly")).toBe("sftponly:x:2101:");

  const again = await p.up();
  expect(again.code).toBe(0);
  expect(summary(again.stdout)).toEqual({ same: 4 });
});

test("a group deleted by hand: preview --refresh names exactly that resource; up --refresh restores it", async () => {
  await sb.hosts[1].console("groupdel sftponly");
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(summary(pv.stdout)).toEqual({ create: 1, same: 3 });
  expect(pv.stdout).toMatch(/\+ pulumi-nodejs:dynamic\/sftpjail:SftpGroup: \(create\)\s+\[urn=[^\]]*::h2-sftponly\]/);

  const up = await p.up("--refresh");
  expect(up.code).toBe(0);
  expect(await groupsOf(1, "sftponly")).toBe("sftponly:x:2101:");
});

test("a changed gid is an in-place update applied with groupmod", async () => {
  await configure([{ name: "sftponly", gid: 2102 }]);
  const pv = await p.preview();
  expect(pv.code).toBe(0);
  expect(summary(pv.stdout)).toEqual({ update: 3, same: 1 });
  expect(pv.stdout).toMatch(/~ gid\s+: 2101 => 2102/);
  expect(pv.stdout).not.toMatch(/replace/);

  const up = await p.up();
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/change gid of group sftponly from 2101 to 2102/);
  for (const i of [0, 1, 2]) expect(await groupsOf(i, "sftponly")).toBe("sftponly:x:2102:");
});

test("invalid names fail at preview, naming the field, without any SSH connection", async () => {
  const before = await Promise.all(sb.hosts.map((h) => h.connectionCount()));
  const bad = ["a;b", "-x", "$(id)", "", "a".repeat(33), "a\nb"];
  for (const name of bad) {
    await configure([{ name, gid: 2102 }]);
    const pv = await p.preview();
    expect(pv.code).not.toBe(0);
    expect(pv.stdout + pv.stderr).toMatch(/property name value [\s\S]*? has a problem: group name must/);
  }
  const after = await Promise.all(sb.hosts.map((h) => h.connectionCount()));
  expect(after).toEqual(before);
  await configure([{ name: "sftponly", gid: 2102 }]);
});

test("a host key that does not match the pin fails before any command, naming host and both fingerprints", async () => {
  const accepted = async () => (await sb.hosts[0].sshdLog()).split("\n").filter((l) => /Accepted publickey/.test(l)).length;
  const before = await accepted();
  await configure([{ name: "sftponly", gid: 2102 }], [sb.hosts[1].hostKey]); // h1 pinned to h2's key
  // The connection changed, so up updates each resource, and h1's update must dial with the wrong pin.
  const r = await p.up();
  expect(r.code).not.toBe(0);
  const out = r.stdout + r.stderr;
  expect(out).toMatch(new RegExp(`127\\.0\\.0\\.1:${sb.hosts[0].port}`));
  expect(out).toMatch(/HOST KEY MISMATCH: expected ssh-ed25519 SHA256:\S+ \(the pinned hostKey\) but the host presented ssh-ed25519 SHA256:\S+/);
  expect(await accepted()).toBe(before); // never authenticated, so never ran anything
  await configure([{ name: "sftponly", gid: 2102 }]);
});

test("secrets never reach state or output in plaintext", async () => {
  const state = await p.exportState();
  const key = sb.ppKey.split("\n").filter((l) => l && !l.startsWith("-----"))[0];
  for (const secret of [sb.passphrase, sb.sudoPassword, key, sb.privateKey.split("\n")[1]]) {
    expect(state).not.toContain(secret);
  }
  // h3's connection holds two secrets (secret config): each is ciphertext in the inputs, the output is one ciphertext.
  // h1's and h2's hold none (a privateKeyFile is a path): they stay readable, and cost the CLI no encryption per save.
  const groups = JSON.parse(state).deployment.resources.filter((r: { type: string }) => r.type.endsWith(":SftpGroup"));
  const byHost = Object.fromEntries(groups.map((r: { urn: string }) => [r.urn.split("::").pop()!.split("-")[0], r]));
  const none = { whole: false, encrypted: [], plain: [] };
  for (const h of ["h1", "h2", "h3"]) {
    expect({ h, inputs: connectionSecrecy(byHost[h].inputs.connection), outputs: connectionSecrecy(byHost[h].outputs.connection) }).toEqual({
      h,
      inputs: h === "h3" ? { whole: false, encrypted: ["privateKeyPassword", "sudo.password"], plain: [] } : none,
      outputs: h === "h3" ? { whole: true, encrypted: [], plain: [] } : none,
    });
  }
  expect(byHost.h1.outputs.connection).toMatchObject({ host: "127.0.0.1", port: sb.hosts[0].port, user: "root", privateKeyFile: sb.keyPath });
});

test("each resource's recorded source position is the program line that declared it, its trace the program's frames only", async () => {
  const state = JSON.parse(await p.exportState());
  const groups = state.deployment.resources.filter((r: { type: string }) => r.type.endsWith(":SftpGroup"));
  expect(groups.length).toBe(3);
  for (const r of groups) {
    expect(r.sourcePosition).toMatch(/\/program\/index\.js#\d+,\d+$/);
    const frames: string[] = (r.stackTrace ?? []).map((f: { sourcePosition?: string }) => f.sourcePosition ?? "");
    expect(frames[0]).toBe(r.sourcePosition);
    for (const f of frames) expect(f).toMatch(/\/program\/index\.js#\d+,\d+$/); // none in sftp-jail's package or @pulumi/pulumi
  }
});

test("a secret typed into the stack config without --secret: the run is refused, naming its config path, before any login", async () => {
  const stateBefore = await p.exportState();
  const logins = async () => (await Promise.all([0, 2].map((i) => sb.hosts[i].sshdLog()))).join("\n").split("\n").filter((l) => /Accepted /.test(l)).length;
  const loginsBefore = await logins();
  const [, , h3] = hostsConfig();
  p.setConfig({ hosts: [hostsConfig()[0], { ...h3, connection: { ...h3.connection, privateKeyPassword: sb.passphrase, sudo: { password: sb.sudoPassword } } }], groups: [{ name: "sftponly", gid: 2102 }] });
  const pv = await p.preview();
  const out = pv.stdout + pv.stderr;
  expect(pv.code).not.toBe(0);
  const key = `${p.name}:hosts`;
  expect(out).toContain(`the stack config holds 2 secrets in plain text: ${key}[1].connection.privateKeyPassword, ${key}[1].connection.sudo.password.`);
  expect(out).toContain(`pulumi config set --path --secret '${key}[1].connection.sudo.password'`);
  expect(out).not.toContain(sb.sudoPassword);
  expect(out).not.toContain(sb.passphrase);
  expect(await p.exportState()).toBe(stateBefore);
  expect(await logins()).toBe(loginsBefore);
  await configure([{ name: "sftponly", gid: 2102 }]);
});

test("destroy removes the groups and the hosts keep no trace", async () => {
  const d = await p.destroy();
  expect(d.code).toBe(0);
  expect(summary(d.stdout).delete).toBe(4);
  expect(await Promise.all([0, 1, 2].map(accountFiles))).toEqual(pristine);
});
