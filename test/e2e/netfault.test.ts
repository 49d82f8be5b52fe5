/**
 * Network fault, end to end: the connection to a sandbox host is cut in the middle of a `pulumi up` that is applying
 * many resources (the host's forwarder on 127.0.0.1:<port> is killed, which drops the live SSH connection and refuses
 * new ones). The run must end promptly with errors that name the host and say what to do; once the path is back, a
 * plain re-run converges, and a third run finds nothing to do.
 *
 * Fault injection: each `groupadd` on the host is slowed down (a wrapper in /usr/local/sbin, first on the PATH the
 * provider's scripts use), so the apply phase lasts seconds and the cut lands while steps are running.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { PulumiProject, summary } from "./pulumi";

jest.setTimeout(5 * 60_000);

const PROGRAM = path.join(__dirname, "programs", "hostile");
const GROUPS = 20;

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
/** Groups on the host after the cut run that are not in the stack's state (made by a step the client never heard from). */
let unseen: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start time of a process (field 22 of /proc/PID/stat), as sandbox.sh records it next to the pid. */
function startTime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(") ") + 2).split(" ")[19];
}

/** True when something listens on 127.0.0.1:port in this (the real) network namespace. */
function listening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return ["/proc/net/tcp", "/proc/net/tcp6"].some((f) =>
    fs.readFileSync(f, "utf8").split("\n").some((l) => {
      const c = l.trim().split(/\s+/);
      return c[1]?.endsWith(hex) && c[3] === "0A";
    }),
  );
}

/** Kills the host's TCP forwarder (recorded by sandbox.sh as "PID STARTTIME"): its process group holds the live connections. */
function cutForwarder(): void {
  const [pid, st] = fs.readFileSync(path.join(h.stateDir, "fwd-tcp.pid"), "utf8").trim().split(" ");
  expect(startTime(Number(pid))).toBe(st); // still the process sandbox.sh started
  process.kill(-Number(pid), "SIGKILL");
}

/**
 * Starts the forwarder again on the same port, exactly as sandbox.sh's finish_host does, and records it where
 * `sandbox.sh down` finds and kills it. (`sandbox.sh up` without --fresh would not do this: it recreates a host whose
 * forwarder died, with new keys and a new port.)
 */
async function restoreForwarder(): Promise<void> {
  const child: ChildProcess = spawn(
    "socat",
    [`TCP-LISTEN:${h.port},bind=127.0.0.1,fork,reuseaddr,nodelay`, "UNIX-CONNECT:ssh.sock"],
    { cwd: h.stateDir, detached: true, stdio: "ignore" },
  );
  child.unref();
  fs.writeFileSync(path.join(h.stateDir, "fwd-tcp.pid"), `${child.pid} ${startTime(child.pid!)}\n`);
  for (let i = 0; i < 200 && !listening(h.port); i++) await sleep(25);
  expect(listening(h.port)).toBe(true);
}

const groupsOnHost = async () => (await h.console("getent group | grep -c '^netg' || true")).stdout.trim();

/** The host's processes by name (the console's own shell and ps included, the same every time). */
const processes = async () => (await h.console("ps -e -o comm= | sort")).stdout;
/** Processes before the run: the host is settled when it is back to exactly these (the run's sessions all ended). */
let idle = "";

/** Waits until everything the cut run left running on the host (sessions, a slowed groupadd) has exited. */
async function quiet(): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if ((await processes()) === idle) return;
    await sleep(50);
  }
  throw new Error(`the host still runs what the cut run started:\n${await processes()}`);
}

beforeAll(async () => {
  sb = await startSandbox(["sec-net"]);
  h = sb.hosts[0];
  await h.console("printf '#!/bin/sh\\nsleep 0.4\\nexec /usr/sbin/groupadd \"$@\"\\n' > /usr/local/sbin/groupadd && chmod 755 /usr/local/sbin/groupadd");
  p = await PulumiProject.create("netfault", PROGRAM);
  // Short dials so the failure is prompt; many groups so the apply phase lasts several seconds.
  const connection = { host: "127.0.0.1", port: h.port, user: "root", hostKey: h.hostKey, privateKey: "@keyFile", dialErrorLimit: 3, perDialTimeout: 5 };
  p.setConfig({
    keyFile: sb.keyPath,
    resources: Array.from({ length: GROUPS }, (_, i) => {
      const name = `netg${String(i).padStart(2, "0")}`;
      return { id: name, type: "SftpGroup", args: { name, gid: 2600 + i, connection } };
    }),
  });
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  await sb?.stop();
});

test("a connection cut mid-apply fails promptly, naming the host and what to do; the re-run converges", async () => {
  idle = await processes();
  const t0 = Date.now();
  const running = p.up();
  // Cut once a few groups exist: the apply phase is under way, most steps are still to come.
  let made = 0;
  for (let i = 0; i < 600 && made < 4; i++) {
    made = Number(await groupsOnHost());
    if (made < 4) await sleep(50);
  }
  expect(made).toBeGreaterThanOrEqual(4);
  cutForwarder();
  const cut = await running;
  const failedAfter = (Date.now() - t0) / 1000;

  expect(cut.code).not.toBe(0);
  const out = cut.stdout + cut.stderr;
  const errors = out.split("\n").filter((l) => /^\s+error: /.test(l) && !/update failed|preview failed/.test(l));
  expect(errors.length).toBeGreaterThan(0);
  // Every provider error names the host (login user, address, port), and says what went wrong on the wire.
  for (const e of errors) {
    expect(e).toContain(`root@127.0.0.1:${h.port}`);
    expect(e).toMatch(/the connection closed before the command finished|could not connect after 3 attempts: .*ECONNREFUSED|could not open an exec channel/);
  }
  expect(out).toMatch(/fix: check that the host is up and reachable over SSH \(network, firewall, sshd\), then run `pulumi up` again: it re-reads the host and applies only what is still missing/);
  const names = async () => (await h.console("getent group | grep '^netg' | cut -d: -f1 || true")).stdout.split("\n").filter(Boolean);
  await quiet(); // anything still running on the host finishes first (a slowed groupadd takes 0.4 s)
  const settled = await names();
  const inState = (JSON.parse(await p.exportState()).deployment.resources as { urn: string }[]).map((r) => r.urn.split("::").pop());
  unseen = settled.filter((g) => !inState.includes(g));
  const partial = settled.length;
  expect(partial).toBeLessThan(GROUPS); // really cut mid-apply
  expect(failedAfter).toBeLessThan(120); // no hang on a dead connection
  console.log(`cut after ${made} groups; up failed after ${failedAfter.toFixed(1)} s with ${partial}/${GROUPS} groups on the host`);

  await restoreForwarder();
  const again = await p.up();
  expect(again.stderr).toBe("");
  expect(again.code).toBe(0);
  expect(Number(await groupsOnHost())).toBe(GROUPS);
  for (let i = 0; i < GROUPS; i += 7) {
    expect((await h.console(`getent group netg${String(i).padStart(2, "0")} | cut -d: -f3`)).stdout.trim()).toBe(String(2600 + i));
  }

  const third = await p.up();
  expect(third.code).toBe(0);
  expect(summary(third.stdout)).toEqual({ same: GROUPS + 1 });
});

test("after the cut no queued step ran on the host; destroy removes every group the state knows", async () => {
  // At most two groups can exist that the state does not know: the step running at the cut, and the one whose result
  // (with the trailing snapshot) was on its way back. Every script still queued on the host lock died at its first
  // write to the closed channel, before its step. The re-run adopts such a group, so destroy keeps it: a hole in
  // SftpGroup's adoption (reported), which this test tolerates but bounds.
  const d = await p.destroy();
  expect(d.code).toBe(0);
  const left = (await h.console("getent group | grep '^netg' | cut -d: -f1 || true")).stdout.split("\n").filter(Boolean);
  expect(unseen.length).toBeLessThanOrEqual(2);
  for (const g of left) expect(unseen).toContain(g);
});
