/**
 * Issue 13's proof: sftp-jail as a provider package. The plugin tarball and the Python wheel are built by
 * scripts/package-plugin.sh, installed the way users install them, and driven by the real CLI from a Pulumi YAML
 * program (custom resources) and a Python program (the SftpJailHost component, through construct), each in its own
 * project directory outside the repo's root project, against sandbox hosts. Then `pulumi import` of a hand-made
 * account and Match block, and an up that changes nothing on the host.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { handMadeJail } from "./handmade";
import { ROOT, RunResult, summary } from "./pulumi";
import { fileBackendUrl } from "../../provider/cli/rollout";

jest.setTimeout(20 * 60_000);

const VERSION: string = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "sj-packages-"));
const dist = path.join(work, "dist");
const pysdk = path.join(work, "pysdk");
/** A PULUMI_HOME of its own: the plugin is installed there as a user installs it, not into the shared one. */
const home = path.join(work, "home");

let sb: Sandbox;
let c: Clients;
const keys: Record<string, string> = {};

function exec(argv: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 600_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

const pulumiBin = () => path.dirname(process.env.PATH!.split(":").map((d) => path.join(d, "pulumi")).find((p) => fs.existsSync(p))!);

/** A project directory of one language, with its own file backend. */
class Project {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  constructor(name: string, files: Record<string, string>) {
    this.dir = fs.mkdtempSync(path.join(work, `${name}-`));
    fs.mkdirSync(path.join(this.dir, ".state"));
    this.write(files);
    const venv = path.join(pulumiBin(), "python-venv");
    this.env = {
      ...process.env,
      // The Python language host runs the first python3 on PATH: the cached venv with Python's pulumi SDK.
      PATH: `${venv}/bin:${process.env.PATH}`,
      PYTHONPATH: pysdk,
      PULUMI_HOME: home,
      PULUMI_BACKEND_URL: fileBackendUrl(path.join(this.dir, ".state")),
      PULUMI_CONFIG_PASSPHRASE: "",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_CONFIRMATIONS: "true",
      NO_COLOR: "1",
    };
  }
  write(files: Record<string, string>): void {
    for (const [f, content] of Object.entries(files)) fs.writeFileSync(path.join(this.dir, f), content);
  }
  async run(args: string[], check = false): Promise<RunResult> {
    const r = await exec(["pulumi", ...args, "--non-interactive"], this.env, this.dir);
    if (check && r.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r;
  }
  up = () => this.run(["up", "--yes", "--skip-preview"]);
  destroy = () => this.run(["destroy", "--yes", "--skip-preview"]);
  diff = (...extra: string[]) => this.run(["preview", "--diff", ...extra]);
}

const conn = (h: SandboxHost) => ({ host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey });

/** What destroy must give back: accounts, sshd configuration, the jail's directories. */
const HOST_STATE = "sha256sum /etc/passwd /etc/group /etc/shadow /etc/ssh/sshd_config /etc/ssh/sshd_config.d/* 2>&1; ls -A /etc/ssh/sshd_config.d";

async function confined(h: SandboxHost, user: string): Promise<void> {
  const ls = await c.sftp(h, user, user, "ls -1a /\n");
  expect(ls.code).toBe(0);
  expect(ls.stdout).toMatch(/\/upload/);
  expect(ls.stdout).not.toMatch(/\/etc/);
  expect((await c.sftp(h, user, user, "cd /etc\n")).code).not.toBe(0);
  expect((await c.ssh(h, user, user, "id")).stdout).not.toMatch(/uid=/);
  // The operator still logs in.
  expect((await c.ssh(h, "root", sb.keyPath, "echo ok")).stdout.trim()).toBe("ok");
}

/** Refresh shows no drift and the program asks for nothing. */
async function clean(p: Project): Promise<void> {
  const r = await p.run(["preview", "--refresh", "--diff", "--expect-no-changes"]);
  expect(r.stdout + r.stderr).not.toMatch(/error:/);
  expect(r.code).toBe(0);
}

beforeAll(async () => {
  sb = await startSandbox(["pkg-yaml", "pkg-py", "pkg-imp"]);
  c = new Clients(sb.hosts);
  for (const k of ["alice", "alice2", "bob"]) keys[k] = await c.keygen(k);
  // Built as a user's release would be, then installed as users install providers.
  const env = { ...process.env, SFTPJAIL_DIST: dist };
  const t0 = Date.now();
  const built = await exec(["bash", path.join(ROOT, "scripts/package-plugin.sh")], env, ROOT);
  if (built.code !== 0) throw new Error(`package-plugin.sh failed:\n${built.stdout}\n${built.stderr}`);
  console.log(`package-plugin.sh: ${Date.now() - t0} ms`);
  const tgz = path.join(dist, `pulumi-resource-sftpjail-v${VERSION}-linux-amd64.tar.gz`);
  const inst = await exec(["pulumi", "plugin", "install", "resource", "sftpjail", VERSION, "--file", tgz], { ...env, PULUMI_HOME: home }, work);
  if (inst.code !== 0) throw new Error(`plugin install failed:\n${inst.stdout}\n${inst.stderr}`);
  // The Node.js SDK is built by the same script (not driven here: TypeScript programs are covered by the other suites).
  const npmSdk = await exec(["tar", "tzf", path.join(dist, `sftp-jail-sftpjail-${VERSION}.tgz`)], env, work);
  expect(npmSdk.stdout).toMatch(/^package\/jailedUser\.js$/m);
  const wheel = path.join(dist, `pulumi_sftpjail-${VERSION}-py3-none-any.whl`);
  const pip = await exec([path.join(pulumiBin(), "python-venv", "bin", "pip"), "install", "-q", "--no-deps", "--target", pysdk, wheel], env, work);
  if (pip.code !== 0) throw new Error(`pip install of the wheel failed:\n${pip.stderr}`);
});

afterAll(async () => {
  c?.cleanup();
  await sb?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

// ---- Pulumi YAML: the four custom resources ---------------------------------------------------------------------

interface YamlJail {
  keys: string[];
  uploadMode: string;
  directives: Record<string, string>;
}
const JAIL_DIRECTIVES = {
  ChrootDirectory: "%h",
  ForceCommand: "internal-sftp",
  AllowTcpForwarding: "no",
  AllowStreamLocalForwarding: "no",
  AllowAgentForwarding: "no",
  X11Forwarding: "no",
  GatewayPorts: "no",
  PermitTunnel: "no",
  PermitTTY: "no",
  PermitUserRC: "no",
  AuthorizedKeysFile: "/etc/ssh/sftp-jail/authorized_keys/%u",
};

/** A YAML program; JSON is YAML, so every value is written as JSON (no quoting surprises such as `no`). */
function yamlProgram(h: SandboxHost, j: YamlJail): string {
  const dep = (r: string) => ({ dependsOn: [`\${${r}}`] });
  return JSON.stringify(
    {
      name: "sj-yaml",
      runtime: "yaml",
      variables: { conn: conn(h) },
      resources: {
        group: { type: "sftpjail:index:SftpGroup", properties: { connection: "${conn}", name: "sftp" } },
        alice: {
          type: "sftpjail:index:JailedUser",
          // reachedFrom made secret by the program: the plugin must keep it secret in state (the engine would not)
          properties: { connection: "${conn}", name: "alice", group: "sftp", home: "/srv/sftp/alice", authorizedKeys: j.keys, reachedFrom: { "fn::secret": [] } },
          // The Match block that jails alice comes first: a JailedUser must be jailed right after its change.
          options: dep("match"),
        },
        chroot: {
          type: "sftpjail:index:ChrootDir",
          properties: {
            connection: "${conn}",
            path: "/srv/sftp/alice",
            subdirs: [{ path: "upload", owner: "alice", group: "sftp", mode: j.uploadMode }],
          },
          options: dep("alice"),
        },
        match: {
          type: "sftpjail:index:SshdMatchBlock",
          properties: { connection: "${conn}", name: "group-sftp", match: { Group: ["sftp"] }, directives: j.directives },
          options: dep("group"),
        },
      },
    },
    null,
    2,
  );
}

test("YAML: converge, confined sftp, clean refresh, drift per field, old → new diffs, destroy restores the host", async () => {
  const h = sb.hosts[0];
  const before = (await h.console(HOST_STATE)).stdout;
  const jail: YamlJail = { keys: [keys.alice], uploadMode: "0755", directives: JAIL_DIRECTIVES };
  const p = new Project("yaml", { "Pulumi.yaml": yamlProgram(h, jail) });
  await p.run(["stack", "init", "dev"], true);

  const up = await p.up();
  expect(up.stdout + up.stderr).not.toMatch(/error:/);
  expect(summary(up.stdout)).toEqual({ create: 5 });
  expect(up.stdout).toMatch(/sftpjail:index:JailedUser alice created/);
  await confined(h, "alice");
  await clean(p);
  // The connection is a secret in state, as in the dynamic path: the key path never appears in plain text.
  const state = (await p.run(["stack", "export"], true)).stdout;
  expect(state).toMatch(/"connection": \{\s*"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",\s*"ciphertext"/);
  expect(state).not.toContain(sb.keyPath);
  // A field the program made secret stays secret, in the inputs and in the output of the same name.
  const alice = (JSON.parse(state).deployment.resources as Array<{ type: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> }>).find((r) => r.type === "sftpjail:index:JailedUser")!;
  for (const side of [alice.inputs, alice.outputs]) expect(side.reachedFrom).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: expect.any(String) });
  expect(alice.inputs.name).toBe("alice");

  // Drift made by hand shows on the field that drifted, old (host) → new (program).
  await h.console(
    "chmod 0700 /srv/sftp/alice/upload && sed -i 's/AllowTcpForwarding no/AllowTcpForwarding yes/' /etc/ssh/sshd_config.d/50-sftp-jail-group-sftp.conf" +
      ` && echo '${keys.bob}' >> /etc/ssh/sftp-jail/authorized_keys/alice`,
  );
  const drift = await p.diff("--refresh");
  expect(drift.code).toBe(0);
  expect(drift.stdout).toMatch(/~ mode: "0700" => "0755"/);
  expect(drift.stdout).toMatch(/~ AllowTcpForwarding: "yes" => "no"/);
  expect(drift.stdout).toMatch(/- \[1\]: "ssh-ed25519 \S+ bob@sftp-jail-test"/);
  expect(summary(drift.stdout)).toEqual({ update: 3, same: 2 });
  const heal = await p.run(["up", "--yes", "--skip-preview", "--refresh"]);
  expect(heal.code).toBe(0);
  expect((await h.console("stat -c %a /srv/sftp/alice/upload")).stdout.trim()).toBe("755");
  await clean(p);

  // A program change: each changed field with old → new values (key list, mode, a Match directive).
  p.write({
    "Pulumi.yaml": yamlProgram(h, {
      keys: [keys.alice, keys.alice2],
      uploadMode: "0750",
      directives: { ...JAIL_DIRECTIVES, AllowTcpForwarding: "yes", PasswordAuthentication: "no" },
    }),
  });
  const change = await p.diff();
  expect(change.code).toBe(0);
  expect(change.stdout).toMatch(/~ authorizedKeys: \[\s*\+ \[1\]: "ssh-ed25519 \S+ alice2@sftp-jail-test"/);
  expect(change.stdout).toMatch(/~ mode: "0755" => "0750"/);
  expect(change.stdout).toMatch(/~ AllowTcpForwarding\s*: "no" => "yes"/);
  expect(change.stdout).toMatch(/\+ PasswordAuthentication\s*: "no"/);
  expect(summary(change.stdout)).toEqual({ update: 3, same: 2 });

  // A replacement names the field that forces it.
  p.write({ "Pulumi.yaml": yamlProgram(h, jail).replace('"name": "sftp"', '"name": "partners"').replace(/"group": "sftp"/g, '"group": "partners"') });
  const replace = await p.diff();
  expect(replace.stdout).toMatch(/\+-sftpjail:index:SftpGroup: \(replace\)[\s\S]*?~ name: "sftp" => "partners"/);

  p.write({ "Pulumi.yaml": yamlProgram(h, jail) });
  const destroy = await p.destroy();
  expect(destroy.code).toBe(0);
  expect(summary(destroy.stdout)).toEqual({ delete: 5 });
  expect((await h.console(HOST_STATE)).stdout).toBe(before);
  expect((await c.ssh(h, "root", sb.keyPath, "echo ok")).stdout.trim()).toBe("ok");
});

// ---- Python: the SftpJailHost component through construct ---------------------------------------------------------

const PY_PROGRAM = `import json
import pulumi
import pulumi_sftpjail as sj

spec = json.load(open("jail.json"))
c = spec["connection"]
sj.SftpJailHost(
    "jail",
    connection=sj.ConnectionArgs(host=c["host"], port=c["port"], user=c["user"],
                                 private_key_file=c["privateKeyFile"], host_key=c["hostKey"]),
    group=sj.SftpJailHostGroupArgs(name="sftp"),
    users=[sj.SftpJailUserArgs(name=u, authorized_keys=k, writable_dirs=[sj.SftpJailDirArgs(path="upload")])
           for u, k in spec["users"].items()],
)
`;

test("Python: the component converges two jailed users, refresh is clean, drift shows, destroy restores the host", async () => {
  const h = sb.hosts[1];
  const before = (await h.console(HOST_STATE)).stdout;
  const spec = (users: Record<string, string[]>) => JSON.stringify({ connection: conn(h), users });
  const p = new Project("python", {
    "Pulumi.yaml": "name: sj-python\nruntime: python\n",
    "__main__.py": PY_PROGRAM,
    "jail.json": spec({ alice: [keys.alice], bob: [keys.bob] }),
  });
  await p.run(["stack", "init", "dev"], true);
  const up = await p.up();
  expect(up.stdout + up.stderr).not.toMatch(/error:/);
  // component + group + 2 users (each with its jail) + Match block, + the stack
  expect(summary(up.stdout)).toEqual({ create: 6 });
  await confined(h, "alice");
  await confined(h, "bob");
  await clean(p);
  const state = (await p.run(["stack", "export"], true)).stdout;
  expect(state).not.toContain(sb.keyPath);

  await h.console("chmod 0711 /srv/sftp/bob");
  const drift = await p.diff("--refresh");
  expect(drift.stdout).toMatch(/sftpjail:index:JailedUser: \(update\)[\s\S]*?jail-bob[\s\S]*?~ mode: "0711" => "0755"/);

  p.write({ "jail.json": spec({ alice: [keys.alice, keys.alice2], bob: [keys.bob] }) });
  const change = await p.diff();
  expect(change.stdout).toMatch(/jail-alice\]?[\s\S]*?~ authorizedKeys: \[\s*\+ \[1\]: "ssh-ed25519 \S+ alice2@sftp-jail-test"/);

  const destroy = await p.destroy();
  expect(destroy.code).toBe(0);
  expect((await h.console(HOST_STATE)).stdout).toBe(before);
});

// ---- pulumi import of a hand-made jail ----------------------------------------------------------------------------

test("pulumi import of a hand-made account and Match block, then an up that changes nothing on the host", async () => {
  const h = sb.hosts[2];
  await h.console(handMadeJail([{ name: "alice", key: keys.alice }]));
  const SUMS =
    "sha256sum /etc/passwd /etc/group /etc/shadow /etc/ssh/sshd_config /home/alice/.ssh/authorized_keys; ls -A /etc/ssh/sshd_config.d; stat -c '%n %a %U:%G' /home/alice /home/alice/upload; ls -A /etc/ssh";
  const before = (await h.console(SUMS)).stdout;
  // The connection for an import comes from the provider configuration (stack config sftpjail:connection).
  const p = new Project("import", {
    "Pulumi.yaml": "name: sj-import\nruntime: yaml\n",
    "Pulumi.dev.yaml": JSON.stringify({ config: { "sftpjail:connection": conn(h) } }),
  });
  await p.run(["stack", "init", "dev"], true);
  const out = (f: string) => path.join(p.dir, f);
  // A password typed into that config without --secret sits readable in the stack file: the provider refuses it.
  await p.run(["config", "set", "--path", "sftpjail:connection.password", "typed-in-plain"], true);
  const refused = await p.run(["import", "--yes", "sftpjail:index:JailedUser", "alice", "user/alice", "--out", out("refused.yaml")]);
  expect(refused.code).not.toBe(0);
  expect(refused.stdout + refused.stderr).toContain("the stack config holds a secret in plain text: sftpjail:connection.password.");
  expect(refused.stdout + refused.stderr).toContain("pulumi config set --path --secret 'sftpjail:connection.password'");
  expect(refused.stdout + refused.stderr).not.toContain("typed-in-plain");
  await p.run(["config", "rm", "--path", "sftpjail:connection.password"], true);
  const u = await p.run(["import", "--yes", "sftpjail:index:JailedUser", "alice", "user/alice", "--out", out("alice.yaml")]);
  expect(u.stdout + u.stderr).not.toMatch(/error:/);
  expect(u.stdout).toMatch(/= 1 imported/);
  const m = await p.run(["import", "--yes", "sftpjail:index:SshdMatchBlock", "match", "/etc/ssh/sshd_config#Match Group sftp", "--out", out("match.yaml")]);
  expect(m.stdout).toMatch(/= 1 imported/);
  const alice = fs.readFileSync(out("alice.yaml"), "utf8");
  const match = fs.readFileSync(out("match.yaml"), "utf8");
  // The generated code describes the hand-made jail as it is, and carries no connection (the provider's is used).
  expect(alice).toMatch(/authorizedKeysFile: \/home\/alice\/\.ssh\/authorized_keys/);
  expect(alice).toMatch(/extraGroups:\s*- sftp/);
  expect(alice).toMatch(/keyOnly: false/);
  expect(match).toMatch(/ForceCommand: internal-sftp/);
  expect(alice + match).not.toMatch(/connection/);

  // The program is exactly the generated code.
  p.write({ "Pulumi.yaml": "name: sj-import\nruntime: yaml\n" + alice + match.replace(/^resources:\n/, "") });
  await clean(p);
  const up = await p.up();
  expect(up.code).toBe(0);
  expect(summary(up.stdout)).toEqual({ same: 3 });
  expect((await h.console(SUMS)).stdout).toBe(before);
  // The hand-made jail still works as before.
  const ls = await c.sftp(h, "alice", "alice", "ls -1a /\n");
  expect(ls.stdout).toMatch(/\/upload/);
});

// ---- pulumi import of a hand-made firewall rule -------------------------------------------------------------------

test("pulumi import of a hand-made FirewallRule: the generated code changes nothing on the host, destroy leaves the rule", async () => {
  const h = sb.hosts[2];
  // The whole ruleset as the host's own tools print it (packet counters aside: SSH traffic moves them).
  const RULES = "iptables-save | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; nft list ruleset | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'";
  const HAND_MADE = "-A INPUT -s 10.9.0.0/16 -p tcp -m tcp --dport 2222 -j ACCEPT";
  expect((await h.console("iptables -I INPUT -p tcp --dport 2222 -s 10.9.0.0/16 -j ACCEPT")).code).toBe(0);
  const before = (await h.console(RULES)).stdout;
  expect(before).toContain(HAND_MADE);
  const p = new Project("fwimport", {
    "Pulumi.yaml": "name: sj-fwimport\nruntime: yaml\n",
    "Pulumi.dev.yaml": JSON.stringify({ config: { "sftpjail:connection": conn(h) } }),
  });
  await p.run(["stack", "init", "dev"], true);
  const out = path.join(p.dir, "fw.yaml");
  // An ID that names no rule is refused, naming the host, the rules there for the port and what to do.
  const none = await p.run(["import", "--yes", "sftpjail:index:FirewallRule", "partner", "backend=iptables;port=2222;source=10.8.0.0/16", "--out", out]);
  expect(none.code).not.toBe(0);
  expect(none.stdout + none.stderr).toMatch(/on root@127\.0\.0\.1:\d+: no rule "ACCEPT tcp port 2222 from 10\.8\.0\.0\/16" in iptables filter INPUT; rules there for the port: "ACCEPT tcp port 2222 from 10\.9\.0\.0\/16"/);
  expect(none.stdout + none.stderr).toMatch(/fix: give the ID exactly as the rule is/);

  // --protect=false: `pulumi import` protects what it imports by default, and this test destroys it.
  const imp = await p.run(["import", "--yes", "--protect=false", "sftpjail:index:FirewallRule", "partner", "backend=iptables;port=2222;source=10.9.0.0/16", "--out", out]);
  expect(imp.stdout + imp.stderr).not.toMatch(/error:/);
  expect(imp.stdout).toMatch(/= 1 imported/);
  const code = fs.readFileSync(out, "utf8");
  expect(code).toMatch(/source: 10\.9\.0\.0\/16/);
  expect(code).toMatch(/port: 2222/);
  expect(code).toMatch(/position: beforeReject/);
  // Neither the connection (the provider's is used) nor the drift markers (outputs) are program inputs.
  expect(code).not.toMatch(/connection|inPosition|matchesSpec|families/);
  // The program is exactly the generated code: no change in preview, none on the host after up.
  p.write({ "Pulumi.yaml": "name: sj-fwimport\nruntime: yaml\n" + code });
  await clean(p);
  const up = await p.up();
  expect(up.code).toBe(0);
  expect(summary(up.stdout)).toEqual({ same: 2 }); // the rule and the stack
  expect((await h.console(RULES)).stdout).toBe(before);
  // Adopted: destroy leaves the admin's rule where it was, and the ruleset as it was.
  const destroy = await p.destroy();
  expect(destroy.code).toBe(0);
  expect(summary(destroy.stdout)).toEqual({ delete: 2 });
  expect((await h.console(RULES)).stdout).toBe(before);
});

// ---- the `import` resource option ----------------------------------------------------------------------------------

test("the import resource option: the first up takes the hand-made group over by its ID, changing nothing; destroy leaves it", async () => {
  const h = sb.hosts[2];
  const GROUP = "sha256sum /etc/group /etc/gshadow; getent group sftp";
  const before = (await h.console(GROUP)).stdout;
  expect(before).toMatch(/^sftp:x:\d+:/m);
  const p = new Project("importopt", {
    "Pulumi.yaml": "name: sj-importopt\nruntime: yaml\nresources:\n  grp:\n    type: sftpjail:index:SftpGroup\n    properties:\n      name: sftp\n    options:\n      import: group/sftp\n",
    "Pulumi.dev.yaml": JSON.stringify({ config: { "sftpjail:connection": conn(h) } }),
  });
  await p.run(["stack", "init", "dev"], true);
  const up = await p.up();
  expect(up.stdout + up.stderr).not.toMatch(/error:/);
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/= 1 imported/);
  expect((await h.console(GROUP)).stdout).toBe(before);
  await clean(p);
  // Imported things are adopted: destroy leaves the admin's group.
  const destroy = await p.destroy();
  expect(destroy.code).toBe(0);
  expect((await h.console(GROUP)).stdout).toBe(before);
});
