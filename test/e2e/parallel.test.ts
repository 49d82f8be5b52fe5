/**
 * Parallel suite (issue 4): one host, 30 SshdMatchBlocks and 100 JailedUsers in one `pulumi up --parallel 64`, three
 * times in a row (create, change everything, destroy and create again): every block and user present exactly once,
 * `sshd -t` passes, and no update is lost.
 */
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject } from "./pulumi";

jest.setTimeout(30 * 60_000);

const BLOCKS = 30;
const USERS = 100;
let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
let c: Clients;
const keys: string[] = [];

async function converge(round: number): Promise<void> {
  p.setConfig({ host: { port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath }, blocks: BLOCKS, users: USERS, round, keys });
  // Generous: every block change also proves, under the host lock, that each of the 100 jailed accounts stays jailed
  // (two sshd -T -C per account the change can affect), and the 30 block changes of a round run one at a time.
  const up = await p.run(["up", "--yes", "--skip-preview", "--parallel", "64"], { timeoutMs: 1_200_000 });
  expect(up.stdout + up.stderr).not.toMatch(/error:/);
  expect(up.code).toBe(0);
}

async function verify(round: number): Promise<void> {
  const files = (await h.console("ls /etc/ssh/sshd_config.d/")).stdout.split("\n").filter((f) => f.includes("sftp-jail"));
  // BLOCKS per-user blocks and the group's jail.
  expect(files).toHaveLength(BLOCKS + 1);
  expect(new Set(files.map((f) => f.replace(/^\d+-/, ""))).size).toBe(BLOCKS + 1);
  expect((await h.console("sshd -t && echo valid")).stdout.trim()).toBe("valid");
  expect((await h.console("grep -c '^Subsystem sftp internal-sftp' /etc/ssh/sshd_config")).stdout.trim()).toBe("1");
  const passwd = (await h.console("cut -d: -f1 /etc/passwd")).stdout.split("\n").filter((u) => /^u\d+$/.test(u));
  expect(passwd).toHaveLength(USERS);
  expect(new Set(passwd).size).toBe(USERS);
  const shadow = (await h.console("grep -c '^u[0-9]*:\\*:' /etc/shadow")).stdout.trim();
  expect(shadow).toBe(String(USERS));
  expect((await h.console("getent group sftp | cut -d: -f3")).stdout.trim()).toBe("2700");
  // Every key file holds this round's key: no write was lost or interleaved.
  const keyFiles = (await h.console("cd /etc/ssh/sftp-jail/authorized_keys && for f in u*; do printf '%s %s\\n' \"$f\" \"$(cat \"$f\")\"; done")).stdout;
  const lines = keyFiles.trim().split("\n");
  expect(lines).toHaveLength(USERS);
  for (const l of lines) {
    const [u, ...k] = l.split(" ");
    expect(k.join(" ")).toBe(keys[(Number(u.slice(1)) + round) % keys.length]);
  }
  for (const i of [0, 17, BLOCKS - 1]) {
    const t = (await h.console(`sshd -T -C user=u${i},host=x,addr=127.0.0.1 | grep -E '^(forcecommand|banner) '`)).stdout;
    expect(t).toContain("forcecommand internal-sftp");
    expect(t).toContain(`banner ${round % 2 ? "/etc/issue.net" : "/etc/issue"}`);
  }
  expect((await c.ssh(h, "root", sb.keyPath, "echo ok")).stdout.trim()).toBe("ok");
}

beforeAll(async () => {
  sb = await startSandbox(["parallel-1"]);
  h = sb.hosts[0];
  c = new Clients(sb.hosts);
  for (const k of ["k1", "k2", "k3"]) keys.push(await c.keygen(k));
  p = await PulumiProject.create("parallel", path.join(__dirname, "programs", "parallel"));
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

test("round 1: create 30 blocks and 100 users in parallel", async () => {
  await converge(1);
  await verify(1);
});

test("round 2: change every block and every user's keys in parallel", async () => {
  await converge(2);
  await verify(2);
});

test("round 3: destroy everything in parallel, then create it again", async () => {
  const d = await p.destroy("--parallel", "64");
  expect((d.stdout + d.stderr).split("\n").filter((l) => /error:/.test(l))).toEqual([]);
  expect(d.code).toBe(0);
  expect((await h.console("ls /etc/ssh/sshd_config.d/ | grep -c sftp-jail || true")).stdout.trim()).toBe("0");
  expect((await h.console("grep -c '^u[0-9]*:' /etc/passwd || true")).stdout.trim()).toBe("0");
  await converge(3);
  await verify(3);
});
