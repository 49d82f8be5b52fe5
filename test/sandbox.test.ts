/**
 * Proves the sandbox hosts are real, reachable and isolated: the real OpenSSH client logs in with strict host key
 * checking, sudo works, drift injected through the console stays in its host, sshd survives a HUP with its logging
 * options, and `stop()` leaves no process, mount or namespace behind. Needs root.
 */
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { run, RunResult, SANDBOX_SH, Sandbox, SandboxHost, startSandbox, STATE_DIR } from "./sandbox";

const NAMES = ["sj-sbx-1", "sj-sbx-2", "sj-sbx-3"];
const MARK = "sj-sandbox-probe";

let sb: Sandbox | undefined;
let tmp: string;
let knownHosts: string;
let startMs = 0;

function hosts(): SandboxHost[] {
  if (!sb) throw new Error("sandbox did not start");
  return sb.hosts;
}

interface SshOpts {
  key?: string;
  knownHostsFile?: string;
  input?: string;
  env?: NodeJS.ProcessEnv;
  target?: string;
  port?: number;
}

function sshArgv(h: SandboxHost, user: string, cmd: string, o: SshOpts = {}): string[] {
  return [
    "ssh", "-F", "/dev/null",
    "-o", "IdentitiesOnly=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${o.knownHostsFile ?? knownHosts}`,
    "-o", "ConnectTimeout=5",
    ...(o.env ? [] : ["-o", "BatchMode=yes"]),
    "-i", o.key ?? sb!.keyPath,
    "-p", String(o.port ?? h.port),
    `${user}@${o.target ?? "127.0.0.1"}`,
    cmd,
  ];
}

function ssh(h: SandboxHost, user: string, cmd: string, o: SshOpts = {}): Promise<RunResult> {
  return run(sshArgv(h, user, cmd, o), o.input, o.env);
}

/** ssh that retries while sshd re-execs after a HUP (it refuses connections for a few ms). */
async function sshRetry(h: SandboxHost, user: string, cmd: string): Promise<RunResult> {
  let r: RunResult = { stdout: "", stderr: "", code: -1 };
  for (let i = 0; i < 50; i++) {
    r = await ssh(h, user, cmd);
    if (r.code !== 255) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  return r;
}

/** Namespace ids ("net:[4026532181]") of a process. */
async function namespaces(pid: number): Promise<string[]> {
  const kinds = ["net", "mnt", "uts", "ipc", "pid"];
  return Promise.all(kinds.map((k) => fs.readlink(`/proc/${pid}/ns/${k}`)));
}

/** Clock ticks since boot, the unit of a process's start time in /proc/PID/stat (USER_HZ is 100 on Linux). */
async function ticksNow(): Promise<number> {
  return Math.floor(Number((await fs.readFile("/proc/uptime", "utf8")).split(" ")[0]) * 100);
}

/**
 * Pids of live (non-zombie) processes whose pid or process group is in `ids`, or that use one of `nsIds`.
 * The kernel reuses a freed namespace's inode number at once, so with other suites starting hosts alongside, a
 * namespace created after `before` (clock ticks) can carry one of ours: only processes started before it count.
 */
async function liveProcesses(ids: Set<number>, nsIds: Set<string>, before = Infinity): Promise<string[]> {
  const found: string[] = [];
  for (const e of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = await fs.readFile(`/proc/${e}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      if (f[0] === "Z" || f[0] === "X") continue;
      if (ids.has(Number(e)) || ids.has(Number(f[2]))) found.push(`${e} (group ${f[2]})`);
      if (Number(f[19]) >= before) continue; // started after stop() began: any namespace it is in is a new one
      for (const k of ["net", "mnt", "uts", "ipc", "pid"]) {
        const ns = await fs.readlink(`/proc/${e}/ns/${k}`).catch(() => "");
        if (nsIds.has(ns)) found.push(`${e} in ${ns}`);
      }
    } catch {
      // the process exited while we looked
    }
  }
  return found;
}

/** Pids recorded by every sandbox host still under the state directory (other suites' hosts, running alongside). */
async function otherHostsProcesses(): Promise<Set<number>> {
  const pids = new Set<number>();
  const root = path.join(STATE_DIR, "hosts");
  for (const name of await fs.readdir(root).catch(() => [] as string[])) {
    for (const f of ["unshare", "init", "fwd-tcp", "fwd-unix", "client"]) {
      const txt = await fs.readFile(path.join(root, name, `${f}.pid`), "utf8").catch(() => "");
      if (/^\d+/.test(txt)) pids.add(Number(txt.split(" ")[0]));
    }
  }
  return pids;
}

/** Namespaces of `nsIds` that `lsns` still lists, held by a process started before `before` that no other host owns. */
async function keptNamespaces(nsIds: Set<string>, before: number, others: Set<number>): Promise<string[]> {
  const kept: string[] = [];
  const lsns = await run(["lsns", "-n", "-r", "-o", "NS,PID"]);
  for (const line of lsns.stdout.split("\n").filter(Boolean)) {
    const [ino, pid] = line.trim().split(" ");
    if (![...nsIds].some((ns) => ns.endsWith(`:[${ino}]`))) continue;
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (!stat) continue; // exited while we looked
    const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    if (Number(f[19]) >= before) continue; // started after stop() began: a new namespace
    if (others.has(Number(pid)) || others.has(Number(f[3]))) continue; // another host's (by pid or session)
    kept.push(`${ino} (pid ${pid}, session ${f[3]})`);
  }
  return kept;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "sj-sandbox-test-"));
  await run(["bash", SANDBOX_SH, "rootfs"]); // build outside the timing (cached after the first run)
  const t0 = Date.now();
  sb = await startSandbox(NAMES, { net: true });
  startMs = Date.now() - t0;
  knownHosts = path.join(tmp, "known_hosts");
  const lines = sb.hosts.flatMap((h) => [h.knownHostsLine(), `${h.hostAddress} ${h.hostKey}`]);
  await fs.writeFile(knownHosts, lines.join("\n") + "\n");
});

afterAll(async () => {
  if (sb) await sb.stop().catch(() => undefined);
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test("starts 3 hosts quickly, each with its own port, pid, hostname and host key", async () => {
  const hs = hosts();
  expect(hs.map((h) => h.name)).toEqual(NAMES);
  expect(new Set(hs.map((h) => h.port)).size).toBe(3);
  expect(new Set(hs.map((h) => h.pid)).size).toBe(3);
  expect(new Set(hs.map((h) => h.hostKey)).size).toBe(3);
  for (const h of hs) {
    expect(h.hostKey).toMatch(/^ssh-ed25519 AAAA[0-9A-Za-z+/=]+$/);
    expect(h.hostKeyEcdsa).toMatch(/^ecdsa-sha2-nistp256 AAAA/);
    expect((await h.console("hostname")).stdout.trim()).toBe(h.name);
    // only ed25519 + ecdsa host keys; no RSA
    expect((await h.console("ls /etc/ssh/ | grep _key$")).stdout.trim().split("\n").sort()).toEqual([
      "ssh_host_ecdsa_key",
      "ssh_host_ed25519_key",
    ]);
    // sandbox.sh never connects to sshd itself, so the log starts without connections
    expect(await h.connectionCount()).toBe(0);
  }
  console.log(`sandbox: 3 hosts up in ${startMs} ms`);
  expect(startMs).toBeLessThan(5000);
});

test("root and operator log in with the real ssh client and strict host key checking; operator has sudo", async () => {
  for (const h of hosts()) {
    const root = await ssh(h, "root", "id -u; hostname");
    expect(root).toMatchObject({ code: 0, stdout: `0\n${h.name}\n` });
    const op = await ssh(h, "operator", "id -un; sudo -n id -u");
    expect(op).toMatchObject({ code: 0, stdout: "operator\n0\n", stderr: "" });
    expect(await h.connectionCount()).toBe(2);
  }
});

test("a wrong host key is refused", async () => {
  const [h1, h2] = hosts();
  const wrong = path.join(tmp, "known_hosts_wrong");
  await fs.writeFile(wrong, `[127.0.0.1]:${h1.port} ${h2.hostKey}\n`);
  const r = await ssh(h1, "root", "true", { knownHostsFile: wrong });
  expect(r.code).toBe(255);
  expect(r.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
});

test("passphrase-protected key logs in; opsudo's sudo needs its password", async () => {
  const s = sb!;
  const h = hosts()[0];
  const askpass = path.join(tmp, "askpass");
  await fs.writeFile(askpass, `#!/bin/sh\ncat '${path.join(path.dirname(s.ppKeyPath), "passphrase")}'\n`, { mode: 0o700 });
  expect(s.ppKey).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
  const pp = await ssh(h, "operator", "id -un", {
    key: s.ppKeyPath,
    env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: "none" },
  });
  expect(pp).toMatchObject({ code: 0, stdout: "operator\n" });
  // without the passphrase the key is useless
  expect((await ssh(h, "operator", "true", { key: s.ppKeyPath })).code).toBe(255);

  expect((await ssh(h, "opsudo", "sudo -n true")).code).not.toBe(0);
  const ok = await ssh(h, "opsudo", "sudo -k; sudo -S -p '' id -u", { input: `${s.sudoPassword}\n` });
  expect(ok).toMatchObject({ code: 0, stdout: "0\n" });
  const bad = await ssh(h, "opsudo", "sudo -k; sudo -S -p '' id -u", { input: "wrong\n" });
  expect(bad.code).not.toBe(0);
});

test("console passes stdin through and keeps the exit code", async () => {
  const h = hosts()[1];
  expect((await h.console("tr a-z A-Z", { input: "drift\n" })).stdout).toBe("DRIFT\n");
  expect((await h.console("echo oops >&2; exit 7", { allowFail: true })).code).toBe(7);
  await expect(h.console("exit 3")).rejects.toThrow(/exited 3/);
  // the console is root in the host's own pid namespace and root directory
  expect((await h.console("echo $$ $(id -u); readlink /proc/1/exe")).stdout).toMatch(/^\d+ 0\n\/(usr\/)?bin\/bash\n$/);
});

test("hosts are isolated: users, files and firewall rules stay in their host", async () => {
  const [h1, h2] = hosts();
  await h1.console(`groupadd ${MARK}; echo x > /etc/${MARK}`);
  expect((await h1.console(`getent group ${MARK}`)).stdout).toMatch(new RegExp(`^${MARK}:x:`));
  expect((await h2.console(`getent group ${MARK}`, { allowFail: true })).code).toBe(2);
  expect((await h2.console(`test -e /etc/${MARK}`, { allowFail: true })).code).toBe(1);
  const rootfs = (await run(["bash", SANDBOX_SH, "rootfs"])).stdout.trim();
  await expect(fs.stat(path.join(rootfs, "etc", MARK))).rejects.toThrow(/ENOENT/);

  await h1.console(`iptables -A INPUT -p tcp --dport 2222 -m comment --comment ${MARK} -j DROP`);
  expect((await h1.console("iptables -S INPUT")).stdout).toContain(MARK);
  expect((await h2.console("iptables -S INPUT")).stdout).not.toContain(MARK);
  expect((await h2.console("nft list ruleset")).stdout).not.toContain(MARK);
  // the real machine: read its ruleset with the rootfs' nft (bind-mounted read-only in a throwaway mount namespace)
  const mnt = await fs.mkdtemp(path.join(tmp, "rootfs-"));
  const real = await run([
    "unshare", "--mount", "--propagation", "private", "bash", "-c",
    'mount --bind -o ro "$1" "$2" && chroot "$2" /usr/sbin/nft list ruleset', "_", rootfs, mnt,
  ]);
  expect(real.code).toBe(0);
  expect(real.stdout).not.toContain(MARK);
  expect(await fs.readFile("/proc/net/ip_tables_names", "utf8").catch(() => "")).not.toContain("filter");
  // sshd still answers: the DROP rule is on another port
  expect((await ssh(h1, "root", "echo ok")).stdout).toBe("ok\n");
});

test("sshd -t passes and sshd_config is Debian's default", async () => {
  for (const h of hosts()) {
    expect(await h.console("sshd -t")).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect((await h.console("cmp /etc/ssh/sshd_config /usr/share/openssh/sshd_config", { allowFail: true })).code).toBe(0);
  }
});

test("a HUP reload keeps sshd running with its log options; so does service ssh reload", async () => {
  const h = hosts()[2];
  const pid1 = (await h.console("cat /run/sshd.pid")).stdout.trim();
  const before = await h.connectionCount();
  await h.console("kill -HUP $(cat /run/sshd.pid)");
  const r = await sshRetry(h, "root", "echo after-hup");
  expect(r).toMatchObject({ code: 0, stdout: "after-hup\n" });
  expect((await h.console("cat /run/sshd.pid")).stdout.trim()).toBe(pid1);
  const log = await h.sshdLog();
  expect(log).toContain("Received SIGHUP; restarting.");
  // VERBOSE survived the re-exec: the new connection is logged in the same file
  expect(await h.connectionCount()).toBeGreaterThan(before);
  const args = (await h.console(`cat /proc/${pid1}/cmdline | tr '\\0' ' '`)).stdout;
  expect(args).toContain("-E /var/log/sshd.log -o LogLevel=VERBOSE");

  expect((await h.console("service ssh reload")).code).toBe(0);
  expect((await sshRetry(h, "operator", "sudo -n true && echo ok")).stdout).toBe("ok\n");
});

test("the veth path shows sshd a non-loopback client address", async () => {
  const h = hosts()[0];
  expect(h.hostAddress).toMatch(/^198\.1[89]\.\d+\.1$/);
  expect(h.clientAddress).toMatch(/^198\.1[89]\.\d+\.2$/);
  const r = await h.client(sshArgv(h, "root", "echo $SSH_CONNECTION", { target: h.hostAddress, port: 22 }));
  expect(r.stdout.split(" ")[0]).toBe(h.clientAddress);
  expect(await h.sshdLog()).toContain(`Connection from ${h.clientAddress} port`);
  // the client netns reaches only its own host
  const other = hosts()[1];
  const x = await h.client(sshArgv(other, "root", "true", { target: other.hostAddress, port: 22 }), { allowFail: true });
  expect(x.code).toBe(255);
});

test("stop() leaves no process, mount or namespace behind", async () => {
  const s = sb!;
  const groups = new Set<number>();
  const nsIds = new Set<string>();
  for (const h of s.hosts) {
    groups.add(h.pid);
    for (const f of ["unshare", "fwd-tcp", "fwd-unix", "client"]) {
      const txt = await fs.readFile(path.join(h.stateDir, `${f}.pid`), "utf8");
      groups.add(Number(txt.split(" ")[0]));
    }
    for (const ns of await namespaces(h.pid)) nsIds.add(ns);
    nsIds.add(await fs.readlink(`/proc/${Number((await fs.readFile(path.join(h.stateDir, "client.pid"), "utf8")).split(" ")[0])}/ns/net`));
  }
  expect(nsIds.size).toBe(3 * 6);
  expect((await liveProcesses(groups, nsIds)).length).toBeGreaterThan(0);

  const stopping = await ticksNow();
  await s.stop();
  sb = undefined;

  expect(await liveProcesses(groups, nsIds, stopping)).toEqual([]);
  // lsns names one process per namespace. The kernel hands a freed namespace's inode number to the next namespace at
  // once, and another suite's host may take it: its `setsid unshare` started before stop() and unshared after. So a
  // holder counts as ours unless it belongs to a host still recorded under the sandbox state (its pid or session is
  // one of that host's recorded processes). The record is written just after the fork, so re-read it a few times.
  let kept: string[] = [];
  for (let attempt = 0; attempt < 25; attempt++) {
    kept = await keptNamespaces(nsIds, stopping, await otherHostsProcesses());
    if (kept.length === 0) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  expect(kept).toEqual([]);
  const mounts = (await run(["findmnt", "-rn", "-o", "TARGET,OPTIONS"])).stdout;
  for (const name of NAMES) expect(mounts).not.toContain(`/hosts/${name}/`);
  for (const h of s.hosts) await expect(fs.stat(h.stateDir)).rejects.toThrow(/ENOENT/);
  const status = (await run(["bash", SANDBOX_SH, "status"])).stdout;
  for (const name of NAMES) expect(status).not.toContain(name);
});
