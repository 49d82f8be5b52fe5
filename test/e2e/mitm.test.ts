/**
 * Man in the middle, end to end: a sandbox host's host keys are replaced (regenerated inside, sshd reloaded), as an
 * impostor or a reinstall would present them. The real `pulumi up` must refuse before any command runs, both for a
 * pinned `hostKey` and for a (hashed) `knownHostsFile` entry, and say which host and which fingerprints; sshd's own log
 * proves no login happened. A host that offers no key of the pinned type at all is refused the same way.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Sandbox, SandboxHost, run, startSandbox } from "../sandbox";
import { PulumiProject, summary } from "./pulumi";

jest.setTimeout(5 * 60_000);

const PROGRAM = path.join(__dirname, "programs", "hostile");

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
let tmp: string;
let knownHosts: string;
/** The host's ed25519 key before the swap (what the program trusts). */
let oldKey: string;

const keyLine = (s: string) => s.trim().split(/\s+/).slice(0, 2).join(" ");

/** OpenSSH's fingerprint of a key line (ssh-keygen is the independent judge, not our own code). */
async function fingerprintOf(line: string): Promise<string> {
  const f = path.join(tmp, `fp-${Date.now()}.pub`);
  fs.writeFileSync(f, line + "\n");
  const r = await run(["ssh-keygen", "-l", "-E", "sha256", "-f", f]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.split(" ")[1];
}

/** Two groups on the host: one trusts a pinned key, the other a known_hosts file. gids are what `up` changes. */
function configure(gids: [number, number], pinned: string): void {
  const base = { host: "127.0.0.1", port: h.port, user: "root", privateKey: "@keyFile" };
  p.setConfig({
    keyFile: sb.keyPath,
    resources: [
      { id: "pinned", type: "SftpGroup", args: { name: "mitmpin", gid: gids[0], connection: { ...base, hostKey: pinned } } },
      { id: "known", type: "SftpGroup", args: { name: "mitmkh", gid: gids[1], connection: { ...base, knownHostsFile: knownHosts } } },
    ],
  });
}

/** known_hosts with one entry for the host, hashed the way ssh-keygen -H writes it. */
async function writeKnownHosts(line: string): Promise<void> {
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${h.port} ${line}\n`);
  const r = await run(["ssh-keygen", "-q", "-H", "-f", knownHosts]);
  if (r.code !== 0) throw new Error(r.stderr);
  expect(fs.readFileSync(knownHosts, "utf8")).toMatch(/^\|1\|/);
}

/** Runs `cmd` inside the host, then reloads sshd (a HUP re-execs it) and waits until it takes connections again. */
async function changeHostKeys(cmd: string): Promise<void> {
  await h.console(`${cmd} && kill -HUP "$(cat /run/sshd.pid)"`);
  for (let i = 0; i < 100; i++) {
    const r = await h.console("ss -Hltn 'sport = :22' | grep -c LISTEN", { allowFail: true });
    if (r.stdout.trim() !== "0" && r.code === 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error("sshd does not listen again after the reload");
}

const gidOf = async (g: string) => (await h.console(`getent group ${g} | cut -d: -f3`)).stdout.trim();

/** sshd's log from `offset` on, and what it says about connections and logins. */
async function logSince(offset: number) {
  const log = (await h.sshdLog()).slice(offset);
  return { log, connections: (log.match(/Connection from /g) ?? []).length, accepted: /Accepted (publickey|password)/.test(log) };
}

beforeAll(async () => {
  sb = await startSandbox(["sec-mitm"]);
  h = sb.hosts[0];
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sj-mitm-"));
  knownHosts = path.join(tmp, "known_hosts");
  oldKey = keyLine(h.hostKey);
  await writeKnownHosts(oldKey);
  p = await PulumiProject.create("mitm", PROGRAM);
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  await sb?.stop();
});

test("with the real host key, both ways of trusting it work", async () => {
  configure([2401, 2402], oldKey);
  const up = await p.up();
  expect(up.stderr).toBe("");
  expect(up.code).toBe(0);
  expect(summary(up.stdout).create).toBe(3);
  expect([await gidOf("mitmpin"), await gidOf("mitmkh")]).toEqual(["2401", "2402"]);
});

/** The output names the refusal for the pin or for known_hosts, with the old fingerprint and `tail`. */
function refusedBy(out: string, tail: string, oldFp = ""): boolean {
  const fp = oldFp || (/expected ssh-ed25519 (\S+) \(/.exec(out)?.[1] ?? "");
  return [`(the pinned hostKey)`, `(known_hosts file ${knownHosts})`].some((src) => out.includes(`on 127.0.0.1:${h.port}: HOST KEY MISMATCH: expected ssh-ed25519 ${fp} ${src} ${tail}`));
}

test("replaced host keys: refused before any command, naming host and both fingerprints, for the pin and for known_hosts", async () => {
  const offset = (await h.sshdLog()).length;
  await changeHostKeys(
    "rm -f /etc/ssh/ssh_host_* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && ssh-keygen -q -t ecdsa -N '' -f /etc/ssh/ssh_host_ecdsa_key",
  );
  const newKey = keyLine((await h.console("cat /etc/ssh/ssh_host_ed25519_key.pub")).stdout);
  expect(newKey).not.toBe(oldKey);
  const [oldFp, newFp] = [await fingerprintOf(oldKey), await fingerprintOf(newKey)];

  configure([2411, 2412], oldKey); // an update of both groups: each has to log in to run groupmod
  const up = await p.up();
  const out = up.stdout + up.stderr;
  expect(up.code).not.toBe(0);
  // Refused at preview, by the first resource whose check dials (the engine stops there): the pin or known_hosts.
  expect(refusedBy(out, `but the host presented ssh-ed25519 ${newFp}. Nothing was run.`, oldFp)).toBe(true);
  expect(out).toMatch(/fix: if the host really changed, verify the new fingerprint out of band and update connection\.hostKey \/ known_hosts/);

  const seen = await logSince(offset);
  expect(seen.connections).toBeGreaterThanOrEqual(1); // one dial per checked resource: a host key failure is final
  expect(seen.connections).toBeLessThanOrEqual(2);
  expect(seen.accepted).toBe(false); // no login, so no command
  expect([await gidOf("mitmpin"), await gidOf("mitmkh")]).toEqual(["2401", "2402"]);
});

test("a host that offers no key of the trusted type is refused the same way, and a new pin recovers", async () => {
  const offset = (await h.sshdLog()).length;
  await changeHostKeys("rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub");
  const oldFp = await fingerprintOf(oldKey);
  const up = await p.up();
  const out = up.stdout + up.stderr;
  expect(up.code).not.toBe(0);
  expect(refusedBy(out, "but the host presented no host key of the expected type. Nothing was run.", oldFp)).toBe(true);
  const seen = await logSince(offset);
  expect(seen.connections).toBeGreaterThanOrEqual(1);
  expect(seen.connections).toBeLessThanOrEqual(2);
  expect(seen.accepted).toBe(false);
  expect([await gidOf("mitmpin"), await gidOf("mitmkh")]).toEqual(["2401", "2402"]);

  // The fix the message gives: verify out of band (here: the console), then pin the new key / update known_hosts.
  const ecdsa = keyLine((await h.console("cat /etc/ssh/ssh_host_ecdsa_key.pub")).stdout);
  await writeKnownHosts(ecdsa);
  configure([2411, 2412], ecdsa);
  const fixed = await p.up();
  expect(fixed.stderr).toBe("");
  expect(fixed.code).toBe(0);
  expect([await gidOf("mitmpin"), await gidOf("mitmkh")]).toEqual(["2411", "2412"]);
});
