/**
 * Secrets, end to end: a run that logs in with a passphrase-protected private key as `opsudo`, whose sudo asks for a
 * password; key, passphrase and sudo password are Pulumi secret config. Afterwards none of them may appear in plain
 * text anywhere Pulumi keeps or prints things: the exported state (the serialized
 * provider `__provider` included), the backend's files (history, backups), the stack config file, every line the CLI
 * printed with `--debug` and `--logtostderr -v=9 --logflow`, the glog files of a run that logs to files, and the
 * project's own PULUMI_HOME. A failing run is searched too, since error paths are where secrets usually leak.
 *
 * Why the key is secret config and not read from a file by the program: the Node SDK's debug log prints each
 * RegisterResource response whole, secret values included, and the CLI masks only values it knows as secret config.
 * A key read from a file (even wrapped in pulumi.secret) shows up in `--debug` output and `-v=9` logs (measured).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Sandbox, SandboxHost, run, startSandbox } from "../sandbox";
import { KEY_A } from "./programs/hostile/cases";
import { PulumiProject, RunResult, connectionSecrecy } from "./pulumi";

jest.setTimeout(5 * 60_000);

const PROGRAM = path.join(__dirname, "programs", "hostile");

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
let tmp: string;
let logDir: string;
let home: string;
/** Everything the CLI printed, per command. */
const printed: { what: string; out: string }[] = [];
let secrets: { name: string; value: string }[] = [];

/** opsudo's connection; the program adds the passphrase and the sudo password from secret config. */
const opsudo = () => ({ host: "127.0.0.1", port: h.port, user: "opsudo", hostKey: h.hostKey, privateKey: "@keyFile" });

function resources(extra: unknown[] = []) {
  const connection = opsudo();
  return [
    { id: "secgrp", type: "SftpGroup", args: { name: "secgrp", gid: 2700, connection } },
    // A JailedUser must be jailed once it exists: its Match block first.
    {
      id: "secblock",
      type: "SshdMatchBlock",
      args: {
        name: "secgrp", match: { Group: ["secgrp"] }, connection,
        directives: {
          ChrootDirectory: "%h", ForceCommand: "internal-sftp", AllowTcpForwarding: "no", AllowStreamLocalForwarding: "no", AllowAgentForwarding: "no",
          X11Forwarding: "no", PermitTunnel: "no", PermitTTY: "no", GatewayPorts: "no", PermitUserRC: "no", AuthorizedKeysFile: "/etc/ssh/sftp-jail/authorized_keys/%u",
        },
      },
      dependsOn: ["secgrp"],
    },
    { id: "secuser", type: "JailedUser", args: { name: "secuser", group: "secgrp", home: "/srv/sec/secuser", authorizedKeys: [KEY_A], connection }, dependsOn: ["secgrp", "secblock"] },
    {
      id: "secjail",
      type: "ChrootDir",
      args: { path: "/srv/sec/secuser", subdirs: [{ path: "upload", owner: "secuser", group: "secgrp" }], connection },
      dependsOn: ["secuser"],
    },
    ...extra,
  ];
}

/** Writes the stack config, then the two secrets through Pulumi's own secret config (encrypted in the stack file). */
async function configure(extra: unknown[] = []): Promise<void> {
  p.setConfig({ keyFile: sb.ppKeyPath, resources: resources(extra) });
  await p.run(["config", "set", "--secret", "privateKeyPassword", sb.passphrase], { check: true });
  await p.run(["config", "set", "--secret", "sudoPassword", sb.sudoPassword], { check: true });
  // A multi-line value goes in on stdin (as `pulumi config set --secret privateKey < ~/.ssh/id_ed25519` would).
  const set = await run(["pulumi", "-C", p.dir, "config", "set", "--secret", "--non-interactive", "privateKey"], sb.ppKey, p.env);
  expect(set.code).toBe(0);
}

async function cli(what: string, args: string[]): Promise<RunResult> {
  const r = await p.run(args);
  printed.push({ what, out: r.stdout + "\n" + r.stderr });
  return r;
}

/** Regular files below `dir`, with their content. */
function filesUnder(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(f));
    else if (e.isFile()) out.push({ file: f, text: fs.readFileSync(f, "latin1") });
  }
  return out;
}

/** Which secrets occur in `text` (by name, never by value: the report must not leak them either). */
const leaks = (text: string) => secrets.filter((s) => text.includes(s.value)).map((s) => s.name);

beforeAll(async () => {
  sb = await startSandbox(["sec-secret"]);
  h = sb.hosts[0];
  const keyLines = sb.ppKey.split("\n").filter((l) => l && !l.startsWith("-----"));
  secrets = [
    { name: "key passphrase", value: sb.passphrase },
    { name: "sudo password", value: sb.sudoPassword },
    ...keyLines.map((l, i) => ({ name: `private key line ${i + 1}`, value: l })),
  ];
  for (const s of secrets) expect(s.value.length).toBeGreaterThanOrEqual(16); // long enough that a match is no accident
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sj-secrets-"));
  logDir = path.join(tmp, "tmpdir");
  home = path.join(tmp, "pulumi-home");
  fs.mkdirSync(logDir);
  fs.mkdirSync(home);
  p = await PulumiProject.create("secrets", PROGRAM);
  // A PULUMI_HOME and a TMPDIR (where glog writes its files) of this project alone, so all of them can be searched.
  Object.assign(p.env, { PULUMI_HOME: home, TMPDIR: logDir });
  await p.run(["stack", "select", "secrets"], { check: true });
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  await sb?.stop();
});

/**
 * The runs every search looks at, made once by whichever test needs them first: each test passes alone (`-t`) and in
 * any order. The succeeding runs: preview, up, and a refresh that logs to files.
 */
let succeeding: Promise<RunResult[]> | undefined;
const succeedingRuns = () =>
  (succeeding ??= (async () => {
    await configure();
    const pv = await cli("preview --diff --debug --logtostderr -v=9 --logflow", ["preview", "--diff", "--debug", "--logtostderr", "-v=9", "--logflow"]);
    const up = await cli("up --debug --logtostderr -v=9 --logflow", ["up", "--yes", "--skip-preview", "--debug", "--logtostderr", "-v=9", "--logflow"]);
    // A run whose logs go to glog's files instead of stderr (they land in TMPDIR).
    const refresh = await cli("preview --refresh -v=9 --logflow (logs to files)", ["preview", "--refresh", "--diff", "-v=9", "--logflow"]);
    return [pv, up, refresh];
  })());
/** Then a failing up (a user in a group that does not exist), and the up that removes the failing resource. */
let failing: Promise<RunResult[]> | undefined;
const failingRuns = () =>
  (failing ??= (async () => {
    await succeedingRuns();
    await configure([
      { id: "secbad", type: "JailedUser", args: { name: "secbad", group: "nosuchgroup", home: "/srv/sec/secbad", connection: opsudo() }, dependsOn: ["secgrp"] },
    ]);
    const up = await cli("failing up --debug --logtostderr -v=9 --logflow", ["up", "--yes", "--skip-preview", "--debug", "--logtostderr", "-v=9", "--logflow"]);
    await configure();
    const fixed = await cli("up after removing the failing resource", ["up", "--yes", "--skip-preview", "--debug"]);
    return [up, fixed];
  })());

test("a run as a sudo-with-password user with a passphrase-protected key succeeds (the secrets are really used)", async () => {
  const [pv, up, refresh] = await succeedingRuns();
  expect(pv.code).toBe(0);
  expect(up.code).toBe(0);
  expect(refresh.code).toBe(0);
  expect((await h.console("getent group secgrp; getent passwd secuser | cut -d: -f1,6; stat -c '%U %a' /srv/sec/secuser/upload")).stdout).toBe(
    "secgrp:x:2700:\nsecuser:/srv/sec/secuser\nsecuser 755\n",
  );
  expect(filesUnder(logDir).filter((f) => /pulumi/.test(path.basename(f.file))).length).toBeGreaterThan(0);
});

test("a failing run (and its error messages) leaks nothing either", async () => {
  const [up, fixed] = await failingRuns();
  expect(up.code).not.toBe(0);
  expect(up.stdout + up.stderr).toMatch(/JailedUser "secbad" on 127\.0\.0\.1:\d+: group "nosuchgroup" does not exist/);
  expect(fixed.code).toBe(0);
});

test("the state holds the secrets only encrypted (positive control: they are there, decryptable)", async () => {
  await failingRuns();
  const plain = (await p.run(["stack", "export", "--show-secrets"], { check: true })).stdout;
  expect(leaks(plain).sort()).toEqual(secrets.map((x) => x.name).sort());
  const state = JSON.parse(await p.exportState());
  const res = state.deployment.resources.filter((r: { type: string }) => r.type.startsWith("pulumi-nodejs:dynamic/sftpjail:"));
  expect(res).toHaveLength(4); // group, block, user, chroot
  // Inputs: each secret field its own ciphertext (the rest, host and port and the public host key, readable); outputs:
  // a connection that holds a secret is one ciphertext.
  for (const r of res) {
    expect({ urn: r.urn, inputs: connectionSecrecy(r.inputs.connection), outputs: connectionSecrecy(r.outputs.connection) }).toEqual({
      urn: r.urn,
      inputs: { whole: false, encrypted: ["privateKey", "privateKeyPassword", "sudo.password"], plain: [] },
      outputs: { whole: true, encrypted: [], plain: [] },
    });
    expect(r.inputs.connection).toMatchObject({ host: "127.0.0.1", port: h.port, user: "opsudo", hostKey: h.hostKey });
  }
});

test("a TypeScript program's resources record its own lines: source-mapped frames of sftp-jail and the SDK dropped", async () => {
  await succeedingRuns();
  const state = JSON.parse(await p.exportState());
  const res = state.deployment.resources.filter((r: { type: string }) => r.type.startsWith("pulumi-nodejs:dynamic/sftpjail:"));
  expect(res.length).toBeGreaterThanOrEqual(4);
  for (const r of res) {
    expect({ urn: r.urn, at: r.sourcePosition }).toEqual({ urn: r.urn, at: expect.stringMatching(/\/programs\/hostile\/index\.ts#\d+,\d+$/) });
    for (const f of r.stackTrace ?? []) expect({ urn: r.urn, frame: f.sourcePosition }).toEqual({ urn: r.urn, frame: expect.stringMatching(/\/programs\/hostile\/index\.ts#/) });
  }
});

test("no secret in plain text in the exported state or the serialized provider", async () => {
  await failingRuns();
  const exported = await p.exportState();
  expect(leaks(exported)).toEqual([]);
  const state = JSON.parse(exported);
  const providers = state.deployment.resources.flatMap((r: { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }) =>
    [r.inputs?.__provider, r.outputs?.__provider].filter((x): x is string => typeof x === "string"),
  );
  expect(providers.length).toBeGreaterThanOrEqual(3);
  for (const code of providers) {
    expect(code).toMatch(/require\("sftp-jail\/bin\/provider\/adapters\/\w+(\.js)?"\)/); // the adapter module, by name
    // The module itself, not wrapper functions: it is in every resource's state twice (issue 10, state size).
    expect(code.length).toBeLessThan(600);
    expect(leaks(code)).toEqual([]);
  }
});

test("no secret in plain text in the backend's files, the stack config file, or PULUMI_HOME", async () => {
  await failingRuns();
  const found: string[] = [];
  for (const f of [...filesUnder(p.backend), ...filesUnder(home)]) for (const l of leaks(f.text)) found.push(`${l} in ${f.file}`);
  const stackFile = fs.readFileSync(path.join(p.dir, "Pulumi.secrets.yaml"), "utf8");
  for (const l of leaks(stackFile)) found.push(`${l} in Pulumi.secrets.yaml`);
  expect(stackFile).toMatch(/sftp-jail:privateKeyPassword:\s+secure: v1:/);
  expect(stackFile).toMatch(/sftp-jail:sudoPassword:\s+secure: v1:/);
  expect(found).toEqual([]);
});

test("no secret in plain text in anything the CLI printed or logged, at -v=9 with --logflow", async () => {
  await failingRuns();
  const found: string[] = [];
  for (const r of printed) for (const l of leaks(r.out)) found.push(`${l} in the output of pulumi ${r.what}`);
  const logs = filesUnder(logDir);
  for (const f of logs) for (const l of leaks(f.text)) found.push(`${l} in ${f.file}`);
  expect(found).toEqual([]);
  // The searched output is real: verbose engine logs of provider calls for our resources, from CLI and files.
  const all = printed.map((r) => r.out).join("\n");
  expect(all).toMatch(/sftpjail:JailedUser/);
  expect(all.length).toBeGreaterThan(100_000);
  expect(logs.map((f) => f.text).join("\n")).toMatch(/sftpjail:ChrootDir/);
});
