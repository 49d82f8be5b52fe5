/**
 * Cutting the network path to a sandbox host in the middle of a run, and putting it back (test/e2e/netfault.test.ts,
 * test/e2e/record.test.ts). The host's forwarder on 127.0.0.1:<port> is killed, which drops the live SSH connection
 * and refuses new ones; it is then started again on the same port, exactly as sandbox.sh started it.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { SandboxHost } from "../sandbox";

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
export function cutForwarder(h: SandboxHost): void {
  const [pid, st] = fs.readFileSync(path.join(h.stateDir, "fwd-tcp.pid"), "utf8").trim().split(" ");
  expect(startTime(Number(pid))).toBe(st); // still the process sandbox.sh started
  process.kill(-Number(pid), "SIGKILL");
}

/**
 * Starts the forwarder again on the same port, exactly as sandbox.sh's finish_host does, and records it where
 * `sandbox.sh down` finds and kills it. (`sandbox.sh up` without --fresh would not do this: it recreates a host whose
 * forwarder died, with new keys and a new port.)
 */
export async function restoreForwarder(h: SandboxHost): Promise<void> {
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

/** The host's processes by name (the console's own shell and ps included, the same every time). */
export const processes = async (h: SandboxHost) => (await h.console("ps -e -o comm= | sort")).stdout;

/**
 * Waits until the host runs exactly `idle` (its processes before the run) again: every session, slowed command and
 * dead-man timer the cut run left behind has ended. Up to `ms`.
 */
export async function quiet(h: SandboxHost, idle: string, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if ((await processes(h)) === idle) return;
    await sleep(50);
  }
  throw new Error(`the host still runs what the cut run started:\n${await processes(h)}`);
}
