/**
 * The examples as users' projects: each example directory copied as is (its own Pulumi.yaml, package.json, tsconfig
 * and index.ts), sftp-jail installed from the `npm pack` tarball by `npm install`, and the real CLI run in it
 * (TypeScript through the nodejs runtime's ts-node, type-checked at every run as a user's is). single-host and fleet
 * run end to end on sandbox hosts; with-command is type-checked in its installed project and previewed as far as this
 * machine allows (see its test).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, ROOT, RunResult, summary } from "./pulumi";
import { packInto, packageTarball } from "./tarball";

jest.setTimeout(10 * 60_000);

const EXAMPLES = path.join(ROOT, "examples");

let sb: Sandbox;
let c: Clients;
let single: PulumiProject;
let fleet: PulumiProject;
let withCommand: PulumiProject;
let acmeKey: string;

beforeAll(async () => {
  sb = await startSandbox(["example-1", "example-2", "example-3"]);
  c = new Clients(sb.hosts);
  acmeKey = await c.keygen("acme");
  // One install after the other: side by side they took as long here (2 cores), unpacking npm's cache.
  single = await PulumiProject.fromExample("single", path.join(EXAMPLES, "single-host"));
  fleet = await PulumiProject.fromExample("fleet", path.join(EXAMPLES, "fleet"));
  withCommand = await PulumiProject.fromExample("cmd", path.join(EXAMPLES, "with-command"));
});

afterAll(async () => {
  for (const p of [single, fleet]) await p?.destroy();
  for (const p of [single, fleet, withCommand]) p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

/** Quiet runs: a user's preview, up or destroy prints no warning and no error at all (e.g. not "using
 * pulumi-resource-pulumi-nodejs from $PATH"). */
function expectQuiet(r: RunResult, what: string): void {
  expect({ what, output: (r.stdout + r.stderr).match(/^.*(warning|error:).*$/gim) }).toEqual({ what, output: null });
  expect(r.code).toBe(0);
}

/** `user` logs in over SFTP with acme's key (and uploads into `writable` when given), gets no shell, and sees only
 * the chroot. */
async function expectJailed(h: SandboxHost, user: string, writable?: string): Promise<void> {
  const put = writable ? `put ${c.file("x.txt", "x")} ${writable}/x.txt\n` : "";
  const s = await c.sftp(h, user, "acme", `${put}ls /\n`);
  expect({ host: h.name, code: s.code, stderr: s.stderr }).toEqual({ host: h.name, code: 0, stderr: expect.any(String) });
  expect(s.stdout).not.toMatch(/\/usr\b/);
  const shell = await c.ssh(h, user, "acme", "echo shell-ran");
  expect(shell.stdout).not.toMatch(/shell-ran/);
}

/** A `preview --refresh` after convergence: nothing to create, update, replace or delete. */
async function expectNoChanges(p: PulumiProject): Promise<void> {
  const r = await p.preview("--refresh");
  expect(r.code).toBe(0);
  const s = summary(r.stdout);
  expect({ create: s.create ?? 0, update: s.update ?? 0, replace: s.replace ?? 0, delete: s.delete ?? 0 }).toEqual({ create: 0, update: 0, replace: 0, delete: 0 });
  expect(s.same).toBeGreaterThan(0);
}

test("the tarball is the compiled package (code, types, CLIs; no sources or tests) and packing leaves the repo clean", async () => {
  const tgz = await packageTarball();
  expect(path.relative(ROOT, tgz).startsWith("..")).toBe(true);
  const files = execFileSync("tar", ["-tzf", tgz], { encoding: "utf8" }).trim().split("\n");
  expect(files).toEqual(expect.arrayContaining(["package/package.json", "package/README.md", "package/bin/provider/index.js",
    "package/bin/provider/index.d.ts", "package/bin/provider/cli/rollout.js", "package/bin/provider/cli/migrate.js"]));
  expect(files.filter((f) => !f.startsWith("package/bin/provider/") && !/^package\/(package\.json|README\.md)$/.test(f))).toEqual([]);
  expect(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f))).toEqual([]);
  // A plain `npm pack` of the repo (here into a temp dir, as the helper does) adds nothing to the repo.
  const before = fs.readdirSync(ROOT).sort();
  const tmp = fs.mkdtempSync(path.join(c.dir, "pack-"));
  await packInto(tmp);
  expect(fs.readdirSync(ROOT).sort()).toEqual(before);
  // The installed package's CLIs run from the user's project, as `npx sftp-jail-rollout` would.
  const help = await single.command([path.join(single.dir, "node_modules", ".bin", "sftp-jail-rollout"), "--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/sftp-jail-rollout/);
});

test("examples/single-host, as its own project: converges, jails its partner, is idempotent, and destroys", async () => {
  const h = sb.hosts[0];
  single.setConfig({ host: "127.0.0.1", port: h.port, hostKey: h.hostKey, sshKey: sb.privateKey, partners: { acme: acmeKey } });
  expectQuiet(await single.preview(), "preview");
  expectQuiet(await single.up(), "up");
  await expectJailed(h, "acme", "upload");
  expect((await h.console("iptables -S INPUT")).stdout).toMatch(/--dport 22 .*sftp-jail:files-firewall/);
  await expectNoChanges(single);
  const down = await single.destroy();
  expectQuiet(down, "destroy");
  expect((await h.console("getent passwd acme", { allowFail: true })).stdout).toBe("");
  expect((await h.console("iptables -S INPUT")).stdout).not.toMatch(/sftp-jail:/);
});

test("examples/fleet, as its own project: a canary wave then the rest, each host jails the partner, and destroys", async () => {
  const [, h2, h3] = sb.hosts;
  const hosts = [h2, h3].map((h) => ({ name: h.name, host: "127.0.0.1", port: h.port, hostKey: h.hostKey }));
  fleet.setConfig({ hosts, sshKey: sb.privateKey, partners: { acme: [acmeKey] } });
  expectQuiet(await fleet.preview(), "preview");
  expectQuiet(await fleet.up(), "up");
  const out = await fleet.run(["stack", "output", "rollout", "--json"], { check: true });
  expect(JSON.parse(out.stdout)).toEqual([["example-2"], ["example-3"]]);
  for (const h of [h2, h3]) await expectJailed(h, "acme");
  await expectNoChanges(fleet);
  expectQuiet(await fleet.destroy(), "destroy");
  for (const h of [h2, h3]) expect((await h.console("getent passwd acme", { allowFail: true })).stdout).toBe("");
});

test("examples/with-command, as its own project: type-checks against the installed packages; preview stops only at @pulumi/command's missing plugin", async () => {
  const tsc = await withCommand.command([path.join(withCommand.dir, "node_modules", ".bin", "tsc"), "--noEmit", "-p", "."]);
  expect(tsc.stdout + tsc.stderr).toBe("");
  expect(tsc.code).toBe(0);
  // A real preview needs @pulumi/command's provider plugin (pulumi-resource-command), which cannot be had here: its
  // Go module is not served and its release download site is unreachable (../shared/DESIGN.md). So the preview runs
  // the program under ts-node with the installed packages up to the first call into that provider, and fails there,
  // and only there. test/unit/examples.mocks.test.ts runs the same program under Pulumi's mocks. When the plugin
  // becomes installable, this assertion fails: replace it with a full up on a sandbox host.
  const h = sb.hosts[0];
  withCommand.setConfig({ host: "127.0.0.1", hostKey: h.hostKey, sshKey: sb.privateKey, acmeKey });
  const pv = await withCommand.preview();
  expect(pv.code).not.toBe(0);
  const errors = (pv.stdout + pv.stderr).match(/^.*error:.*$/gm) ?? [];
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) expect(e).toMatch(/no resource plugin 'pulumi-resource-command' found in the workspace at version v1\.2\.1/);
});
