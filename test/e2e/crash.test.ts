/**
 * Crash suite (issue 4): `pulumi` and its plugins are SIGKILLed in the middle of an sshd change and a firewall change,
 * after both are live but before sftp-jail confirmed them. The host's dead-man timers must restore the previous sshd
 * configuration and ruleset within revertAfterSeconds, leave no partial file, and the next `pulumi up` must converge.
 */
import * as fs from "fs";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { PulumiProject, summary } from "./pulumi";
import { recordFact } from "../../provider/observe/record";
import { Clients } from "./clients";

jest.setTimeout(10 * 60_000);

const T = 10;
let sb: Sandbox;
let p: PulumiProject;
let c: Clients;
let h: SandboxHost;
let baseline: string;
const SSHD_FILES = "cd /etc/ssh && sha256sum sshd_config sshd_config.d/* 2>/dev/null; true";
const RULES = "iptables-save -t filter | grep -v '^[#:]'";
let baselineRules: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Running (not a zombie awaiting its reaper). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Every process below `pid` (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (out.push(c), walk(c)));
  walk(pid);
  return out;
}

async function waitFor(what: string, f: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await f()) return Date.now() - start;
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

beforeAll(async () => {
  sb = await startSandbox(["crash-1"]);
  h = sb.hosts[0];
  c = new Clients(sb.hosts);
  await h.console("iptables -A INPUT -i lo -j ACCEPT && iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT && iptables -A INPUT -j REJECT");
  baseline = (await h.console(SSHD_FILES)).stdout;
  baselineRules = (await h.console(RULES)).stdout;
  p = await PulumiProject.create("crash");
  aliceKey = await c.keygen("alice");
});

let aliceKey: string;
/** The jail, with or without its firewall opening (guarded changes to one host run one at a time). */
function configure(firewall: boolean): void {
  p.setConfig({
    hosts: [{ name: "c1", connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey, revertAfterSeconds: T } }],
    jails: [
      {
        group: { name: "sftp", gid: 2600 },
        users: [{ name: "alice", keys: [aliceKey] }],
        ...(firewall ? { firewall: { port: 22, state: ["NEW"], position: "beforeReject" } } : {}),
      },
    ],
  });
}

/** Starts `up` paused before confirmation, waits until `live` holds, then SIGKILLs every process of the run. */
async function crashWhen(what: string, live: () => Promise<boolean>): Promise<void> {
  const child = p.start(["up", "--yes", "--skip-preview"], { SFTPJAIL_TEST_PAUSE_BEFORE_CONFIRM_MS: "60000" });
  await waitFor(what, live, 120_000);
  await sleep(300);
  // pulumi, the language host and the dynamic provider: plugins run in process groups of their own, so collect every
  // descendant first and kill them all, as a crash of the machine running pulumi would.
  const all = descendants(child.pid!);
  process.kill(-child.pid!, "SIGKILL");
  for (const pid of all) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  expect((await h.console("ls /run/sftp-jail/")).stdout).toMatch(/deadman-.*\.armed/);
  await sleep(200);
  expect(all.filter(alive)).toEqual([]); // nothing of the run survives to confirm
}

/** Waits for the host to be back at its baseline, with no timer left armed; returns how long that took. */
async function healed(): Promise<number> {
  const after = await waitFor(
    "the dead-man timer to restore sshd_config and the ruleset, and finish",
    async () =>
      (await h.console(SSHD_FILES)).stdout === baseline &&
      (await h.console(RULES)).stdout === baselineRules &&
      !(await h.console("ls /run/sftp-jail/")).stdout.includes(".armed"),
    (T + 15) * 1000,
  );
  expect((await h.console("find /etc/ssh -name '*.sftp-jail.tmp'")).stdout).toBe("");
  expect((await h.console("sshd -t && pgrep -x sshd >/dev/null && echo up")).stdout.trim()).toBe("up");
  expect((await c.ssh(h, "root", sb.keyPath, "echo ok")).stdout.trim()).toBe("ok");
  return after;
}

/** The host's record of what sftp-jail created (empty when there is none). */
const record = async () => (await h.console(recordFact.command)).stdout;

/** README "After a crash": release the killed run's stack lock and drop its pending creates. */
async function recover(): Promise<void> {
  await p.run(["cancel", "--yes"], { check: true });
  await p.run(["refresh", "--yes", "--clear-pending-creates"], { check: true });
}

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

test("SIGKILL between a firewall change and its confirmation: the host restores the ruleset within T", async () => {
  configure(true);
  await crashWhen("the firewall rule to go live", async () => (await h.console("iptables -S INPUT")).stdout.includes("sftp-jail:"));
  expect(await record()).toMatch(/^w c1-sftp-firewall - [\w.-]+\/crash$/m); // recorded in the same exec as the insert
  expect(await healed()).toBeLessThan((T + 5) * 1000);
  // The timer's revert took the rule out of the host's record of what sftp-jail created, too (the group stays).
  expect(await record()).not.toMatch(/^w /m);
  await recover();
});

test("SIGKILL between an sshd change and its confirmation: the host restores sshd_config within T", async () => {
  configure(false);
  await crashWhen("the Match block to go live", async () => (await h.console("ls /etc/ssh/sshd_config.d/")).stdout.includes("sftp-jail"));
  // The block goes live before its users exist (group → Match block → users): its file is what was written.
  expect((await h.console("cat /etc/ssh/sshd_config.d/*sftp-jail*.conf")).stdout).toMatch(/ForceCommand internal-sftp/);
  expect(await record()).toMatch(/^s \/etc\/ssh\/sshd_config\.d\/\d\d-sftp-jail-.*\.conf - [\w.-]+\/crash$/m); // recorded with the change
  expect(await healed()).toBeLessThan((T + 5) * 1000);
  expect(await record()).not.toMatch(/^s /m); // and dropped by the timer's revert
});

test("after the documented recovery, the next pulumi up converges, and the jail works", async () => {
  await recover();
  configure(true);
  const up = await p.up("--refresh");
  expect(up.stdout + up.stderr).not.toMatch(/error:/);
  expect(up.code).toBe(0);
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(summary(pv.stdout).create ?? 0).toBe(0);
  expect(summary(pv.stdout).update ?? 0).toBe(0);
  expect((await c.sftp(h, "alice", "alice", "ls /\n")).code).toBe(0);
  expect((await h.console("iptables -S INPUT")).stdout).toMatch(/sftp-jail:c1-sftp-firewall/);
  // The confirmed change left no timer behind.
  expect((await h.console("ls /run/sftp-jail/")).stdout).not.toMatch(/armed/);
});
