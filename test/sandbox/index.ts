/**
 * Jest helper for the sandbox hosts made by `test/sandbox/sandbox.sh`: real Debian hosts (11, 12 by default, or 13)
 * running the real sshd,
 * each in its own namespaces, reachable on 127.0.0.1:<port>. Needs root (namespaces, mounts).
 *
 * ```ts
 * const sb = await startSandbox(["sj-grp-1", "sj-grp-2"]);   // names unique per test file
 * const h = sb.hosts[0];
 * await h.console("groupadd drift");                          // out of band, no ssh
 * await sb.stop();
 * ```
 */
import { spawn } from "child_process";
import { promises as fs } from "fs";
import * as path from "path";

/** Path of the sandbox tool; override with SFTPJAIL_SANDBOX_SH. */
export const SANDBOX_SH: string = process.env.SFTPJAIL_SANDBOX_SH ?? path.join(__dirname, "sandbox.sh");
/** State directory (keys, per-host state); same default as sandbox.sh. */
export const STATE_DIR: string = process.env.SFTPJAIL_SANDBOX_STATE ?? "/run/sftp-jail-sandbox";

/** Result of a command run on a host or by the sandbox tool. */
export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Options of {@link SandboxHost.console}. */
export interface ConsoleOptions {
  /** Written to the command's stdin (stdin is closed either way). */
  readonly input?: string;
  /** Resolve with a non-zero `code` instead of rejecting. */
  readonly allowFail?: boolean;
}

/** One running sandbox host. */
export interface SandboxHost {
  /** Host name; also its hostname inside. */
  readonly name: string;
  /** Debian generation of its rootfs (see {@link Suite}). */
  readonly suite: Suite;
  /** sshd is reachable on 127.0.0.1:port. */
  readonly port: number;
  /** PID (in the real machine's pid namespace) of the host's init; its namespaces are /proc/<pid>/ns/*. */
  readonly pid: number;
  /** ed25519 host key, authorized_keys format: "ssh-ed25519 AAAA...". */
  readonly hostKey: string;
  /** ecdsa host key, "ecdsa-sha2-nistp256 AAAA...". */
  readonly hostKeyEcdsa: string;
  /** The host's state directory on the real machine (overlay upper dir, logs, forwarder socket). */
  readonly stateDir: string;
  /** With `net: true`: the host's own address on its veth (198.18.N.1), reachable only from its client netns. */
  readonly hostAddress?: string;
  /** With `net: true`: the client netns' address (198.18.N.2), the non-loopback source sshd sees. */
  readonly clientAddress?: string;
  /** Run `bash -c cmd` as root inside the host, out of band (nsenter, no ssh). Rejects on non-zero exit. */
  console(cmd: string, opts?: ConsoleOptions): Promise<RunResult>;
  /** Run argv on the real machine's filesystem inside this host's client netns (needs `net: true`). */
  client(argv: readonly string[], opts?: ConsoleOptions): Promise<RunResult>;
  /** Contents of /var/log/sshd.log (sshd runs with -E /var/log/sshd.log -o LogLevel=VERBOSE). */
  sshdLog(): Promise<string>;
  /** Number of "Connection from" lines in the sshd log (sandbox.sh itself never connects to sshd). */
  connectionCount(): Promise<number>;
  /** The known_hosts line for this host: "[127.0.0.1]:port ssh-ed25519 AAAA...". */
  knownHostsLine(): string;
}

/** A set of hosts started together, plus the client credentials they accept. */
export interface Sandbox {
  readonly hosts: SandboxHost[];
  /** Unencrypted ed25519 client key, authorized for root, operator and opsudo on every host. */
  readonly keyPath: string;
  readonly privateKey: string;
  /** Passphrase-protected ed25519 client key, authorized for operator and opsudo. */
  readonly ppKeyPath: string;
  readonly ppKey: string;
  readonly passphrase: string;
  /** Password of user `opsudo`, whose sudo asks for it (operator has NOPASSWD sudo). */
  readonly sudoPassword: string;
  /** Stops these hosts and removes their state. */
  stop(): Promise<void>;
}

/** Debian generations the sandbox builds hosts of: bullseye (OpenSSH 8.4), bookworm (9.2), trixie (10.0). */
export type Suite = "bullseye" | "bookworm" | "trixie";
export const SUITES: readonly Suite[] = ["bullseye", "bookworm", "trixie"];

/** Options of {@link startSandbox}. */
export interface StartOptions {
  /** Debian generation of the hosts; default bookworm (or $SFTPJAIL_SANDBOX_SUITE). */
  readonly suite?: Suite;
  /** Also give each host a veth path from its own client netns (see `sandbox.sh net`). */
  readonly net?: boolean;
  /** Keep hosts of these names that are already running (with whatever state they have) instead of recreating them. */
  readonly reuse?: boolean;
}

/** Run a program (stdin = `input`, then closed; `env` added to this process's environment); never rejects. */
export function run(argv: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["pipe", "pipe", "pipe"],
      env: env ? { ...process.env, ...env } : process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => undefined); // the command may exit without reading its input
    child.on("error", (e) => resolve({ stdout: "", stderr: String(e), code: 127 }));
    child.on("close", (code, signal) =>
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        code: code ?? (signal ? 128 : 1),
      }),
    );
    child.stdin.end(input ?? "");
  });
}

async function sandboxSh(args: readonly string[], what: string, input?: string): Promise<RunResult> {
  const r = await run(["bash", SANDBOX_SH, ...args], input);
  if (r.code !== 0) {
    throw new Error(`sandbox.sh ${args.join(" ")} failed (exit ${r.code}) while ${what}:\n${r.stderr}${r.stdout}`);
  }
  return r;
}

function checked(r: RunResult, where: string, cmd: string, opts?: ConsoleOptions): RunResult {
  if (r.code !== 0 && !opts?.allowFail) {
    throw new Error(`${where}: \`${cmd}\` exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r;
}

interface HostJson {
  name: string;
  suite: Suite;
  port: number;
  pid: number;
  hostKeyEd25519: string;
  hostKeyEcdsa: string;
  stateDir: string;
  running: boolean;
  hostAddress?: string;
  clientAddress?: string;
}

function makeHost(j: HostJson): SandboxHost {
  const logPath = `/proc/${j.pid}/root/var/log/sshd.log`;
  return {
    name: j.name,
    suite: j.suite,
    port: j.port,
    pid: j.pid,
    hostKey: j.hostKeyEd25519,
    hostKeyEcdsa: j.hostKeyEcdsa,
    stateDir: j.stateDir,
    hostAddress: j.hostAddress,
    clientAddress: j.clientAddress,
    async console(cmd, opts) {
      const r = await run(["bash", SANDBOX_SH, "console", j.name, cmd], opts?.input);
      return checked(r, `console of sandbox host ${j.name}`, cmd, opts);
    },
    async client(argv, opts) {
      const r = await run(["bash", SANDBOX_SH, "client", j.name, ...argv], opts?.input);
      return checked(r, `client netns of sandbox host ${j.name}`, argv.join(" "), opts);
    },
    async sshdLog() {
      return fs.readFile(logPath, "utf8");
    },
    async connectionCount() {
      const log = await fs.readFile(logPath, "utf8");
      return (log.match(/Connection from /g) ?? []).length;
    },
    knownHostsLine() {
      return `[127.0.0.1]:${j.port} ${j.hostKeyEd25519}`;
    },
  };
}

/**
 * Starts the named hosts fresh (recreating any left over by an earlier run, unless `reuse`): builds the cached rootfs
 * first if needed (slow once), then `sandbox.sh up --json --fresh`. Use names unique to the test file, e.g. `sj-grp-1`
 * (lowercase, digits, dashes).
 */
export async function startSandbox(names: readonly string[], opts: StartOptions = {}): Promise<Sandbox> {
  if (process.getuid?.() !== 0) throw new Error("the sandbox needs root (namespaces and mounts); run the tests as root");
  const suite = opts.suite ? ["--suite", opts.suite] : [];
  await sandboxSh(["rootfs", ...suite.slice(1)], "building the rootfs");
  const flags = ["--json", ...(opts.net ? ["--net"] : []), ...(opts.reuse ? [] : ["--fresh"]), ...suite];
  const up = await sandboxSh(["up", ...flags, ...names], `starting ${names.join(", ")}`);
  const hosts = (JSON.parse(up.stdout) as HostJson[]).map(makeHost);
  // A generation project (jest.config.js) must really run on its generation, never silently on the default one.
  const want = opts.suite ?? process.env.SFTPJAIL_SANDBOX_SUITE;
  for (const h of hosts) if (want && h.suite !== want) throw new Error(`sandbox host ${h.name} is ${h.suite}, not the ${want} asked for`);
  const keys = path.join(STATE_DIR, "keys");
  const read = (f: string): Promise<string> => fs.readFile(path.join(keys, f), "utf8");
  const [privateKey, ppKey, passphrase, sudoPassword] = await Promise.all([
    read("id_ed25519"),
    read("id_ed25519_pp"),
    read("passphrase"),
    read("sudo-password"),
  ]);
  return {
    hosts,
    keyPath: path.join(keys, "id_ed25519"),
    privateKey,
    ppKeyPath: path.join(keys, "id_ed25519_pp"),
    ppKey,
    passphrase: passphrase.trim(),
    sudoPassword: sudoPassword.trim(),
    async stop() {
      await sandboxSh(["down", ...names], `stopping ${names.join(", ")}`);
    },
  };
}

/** Stops every sandbox host of this state dir, including other test files' hosts: for global teardown only. */
export async function stopAll(): Promise<void> {
  await sandboxSh(["down", "--all"], "stopping all hosts");
}
