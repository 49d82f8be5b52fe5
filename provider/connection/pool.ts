/**
 * The wire: one pooled SSH connection per host per provider process, dialled lazily with retries, host key verified,
 * exec channels multiplexed under a cap, root reached through sudo when the login user is not root.
 *
 * The pool lives on `globalThis` because Pulumi serializes the provider object: nothing live may be captured in it,
 * and one dynamic-provider process serves every resource of a run.
 */
import { randomBytes } from "crypto";
import { readFileSync } from "fs";
import { Client, ClientChannel, ConnectConfig } from "ssh2";
import { Connection, ProxyConnection, describe, secretsOf } from "./schema";
import { PublicKey, algorithmsFor, blobType, fingerprint, keyId, knownHostKeys, parseKeyLine } from "./hostkey";
import { SftpJailError, redact } from "../util/errors";
import { log } from "../util/log";
import { quote } from "../util/shell";

/** sshd's MaxSessions defaults to 10; stay below it so a busy host never refuses a channel. */
const MAX_CHANNELS = 8;

/** What to do after the wire failed: every change is a planned step applied whole, so a re-run completes the rest. */
const RERUN_FIX =
  "check that the host is up and reachable over SSH (network, firewall, sshd), then run `pulumi up` again: it re-reads the host and applies only what is still missing";

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

interface PoolState {
  sessions: Map<string, Session>;
}

function pool(): PoolState {
  const g = globalThis as unknown as { [k: symbol]: PoolState };
  const key = Symbol.for("sftp-jail.pool.v1");
  return (g[key] ??= { sessions: new Map() });
}

/**
 * The root shell's program: read the whole of stdin, close it, drop everything up to the marker (a sudo password line
 * sudo did not need), then run the script. Nothing runs unless the marker arrived; nothing the script runs can read
 * what was on stdin. The marker is random per exec, so neither a password nor a script can contain it.
 */
export function runner(marker: string): string {
  if (!/^@@[a-z0-9-]+@@$/.test(marker)) throw new Error(`internal: ${JSON.stringify(marker)} is not a script marker`);
  return [
    "sj_x=$(cat) || exit 70",
    "exec </dev/null",
    `case "$sj_x" in *${marker}*) ;; *) echo 'sftp-jail: the script did not arrive whole' >&2; exit 70 ;; esac`,
    `sj_x=\${sj_x#*${marker}}`,
    'eval "$sj_x"',
  ].join("\n");
}

/** A live connection to one host, shared by every resource on it. */
export class Session {
  private client?: Promise<Client>;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  readonly target: string;

  /** `client`, when given, is a connection dialled elsewhere (e.g. a fresh login to confirm a change). */
  constructor(
    readonly conn: Connection,
    client?: Client,
  ) {
    this.target = describe(conn);
    if (client) this.client = Promise.resolve(client);
  }

  /** Runs a script as root (through sudo when needed). Resolves with its exit code; rejects only on wire failure. */
  async exec(script: string): Promise<ExecResult> {
    await this.acquire();
    try {
      // A refused channel open ran nothing, so it is safe to retry: sshd counts a session until its teardown is
      // complete, so under heavy parallelism it can briefly refuse one even below MaxSessions.
      for (let attempt = 0; ; attempt++) {
        const client = await this.connect();
        try {
          return await this.run(client, script);
        } catch (e) {
          if (!(e instanceof ChannelOpenError) || attempt >= 6) throw e;
          await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
        }
      }
    } finally {
      this.release();
    }
  }

  /**
   * Runs a script as the login user itself, without sudo (for diagnosing why becoming root failed). Its exit code,
   * or rejects on wire failure. `stdin` is written and closed.
   */
  async execAsLogin(script: string, stdin?: string): Promise<ExecResult> {
    await this.acquire();
    try {
      const client = await this.connect();
      return await this.run(client, script, { command: quote(["sh", "-c", script]), stdin });
    } finally {
      this.release();
    }
  }

  /** Reads a world-readable file over the SFTP subsystem (works when the login shell runs no commands, e.g. nologin). */
  async readOverSftp(path: string, timeoutMs = 5000): Promise<string> {
    const client = await this.connect();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("sftp timed out")), timeoutMs);
      client.sftp((err, sftp) => {
        if (err) return clearTimeout(timer), reject(err);
        sftp.readFile(path, (e, data) => {
          clearTimeout(timer);
          sftp.end();
          if (e) reject(e);
          else resolve(data.toString("utf8"));
        });
      });
    });
  }

  /** Resolves once the connection is up (dialling it if needed). */
  async ready(): Promise<void> {
    await this.connect();
  }

  /** Runs a script and rejects with a clear error unless it exits 0. */
  async check(script: string, what: string, resource?: string): Promise<string> {
    const r = await this.exec(script);
    if (r.code !== 0) {
      throw new SftpJailError(
        { host: this.conn.host + ":" + this.conn.port, resource },
        `${what} failed (exit ${r.code}): ${redact((r.stderr || r.stdout).trim(), secretsOf(this.conn)).slice(0, 2000)}`,
      );
    }
    return r.stdout;
  }

  close(): void {
    void this.client?.then((c) => c.end()).catch(() => undefined);
    this.client = undefined;
  }

  private run(client: Client, script: string, raw?: { command: string; stdin?: string }): Promise<ExecResult> {
    const { command, stdin } = raw ?? this.wrap(script);
    return new Promise((resolve, reject) => {
      client.exec(command, (err: Error | undefined, ch: ClientChannel) => {
        if (err) return reject(new ChannelOpenError(this.wireError("could not open an exec channel", err)));
        const out: Buffer[] = [];
        const errb: Buffer[] = [];
        let code: number | null = null;
        ch.on("data", (d: Buffer) => out.push(d));
        ch.stderr.on("data", (d: Buffer) => errb.push(d));
        ch.on("exit", (c: number | null, signal?: string) => {
          code = c ?? (signal ? 128 : 255);
        });
        ch.on("close", () => {
          if (code === null) {
            return reject(this.wireError("the connection closed before the command finished", undefined));
          }
          resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errb).toString("utf8"), code });
        });
        if (stdin !== undefined) ch.end(stdin);
        else ch.end();
      });
    });
  }

  /**
   * Root directly, or through sudo: -n never prompts; a password goes on stdin and the prompt is silenced. The script
   * itself goes on stdin too, after a marker (see {@link runner}): as an argument it would be limited to 128 KiB (a
   * plan with hundreds of keys is more, and failed with E2BIG).
   */
  private wrap(script: string): { command: string; stdin: string } {
    const marker = `@@sftp-jail-script-${randomBytes(8).toString("hex")}@@`;
    const body = `${marker}\n${script}`;
    if (this.conn.user === "root") return { command: quote(["sh", "-c", runner(marker)]), stdin: body };
    const sudo = this.conn.sudo;
    // sudo reads the password line only when it needs one (not with a cached timestamp or NOPASSWD): the runner drops
    // whatever comes before the marker, and closes stdin before the script runs.
    if (typeof sudo === "object") return { command: quote(["sudo", "-S", "-p", "", "--", "sh", "-c", runner(marker)]), stdin: `${sudo.password}\n${body}` };
    return { command: quote(["sudo", "-n", "--", "sh", "-c", runner(marker)]), stdin: body };
  }

  private wireError(what: string, err: Error | undefined): SftpJailError {
    const detail = err ? `: ${redact(err.message, secretsOf(this.conn))}` : "";
    return new SftpJailError({ host: this.target }, `${what}${detail}`, RERUN_FIX);
  }

  private acquire(): Promise<void> {
    if (this.active < MAX_CHANNELS) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((res) => this.waiting.push(() => (this.active++, res())));
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  private connect(): Promise<Client> {
    if (!this.client) {
      const p = dialWithRetry(this.conn);
      this.client = p;
      p.then(
        (c) => {
          const drop = () => {
            if (this.client === p) this.client = undefined;
          };
          c.on("close", drop);
          c.on("error", drop);
        },
        () => {
          if (this.client === p) this.client = undefined;
        },
      );
    }
    return this.client;
  }
}

/**
 * The pooled session for a connection. Only identical connections share one: host key settings are part of the key,
 * so a resource that pins a host key never rides on a connection another resource dialled with weaker checks.
 */
export function session(conn: Connection): Session {
  const key = JSON.stringify(conn);
  const p = pool();
  let s = p.sessions.get(key);
  if (!s) p.sessions.set(key, (s = new Session(conn)));
  return s;
}

/** Closes every pooled connection (tests and the bench use it; the provider process simply exits). */
export function closeAll(): void {
  for (const s of pool().sessions.values()) s.close();
  pool().sessions.clear();
}

/** The host's key is not the trusted one: final (never retried), and reported at preview by the checks that dial. */
export class HostKeyError extends SftpJailError {}

/** Reads connection.privateKeyFile (final error if unreadable: retrying cannot help). */
function readKeyFile(c: Connection | ProxyConnection): string {
  try {
    return readFileSync(c.privateKeyFile!, "utf8");
  } catch (e) {
    throw new CredentialError(
      { host: describe(c) },
      `connection.privateKeyFile ${c.privateKeyFile} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      "point privateKeyFile at a readable key file on the machine that runs pulumi, or pass the key as a secret in privateKey",
    );
  }
}
/** sshd refused to open a channel: nothing ran. */
class ChannelOpenError extends SftpJailError {
  constructor(e: SftpJailError) {
    super(e.where, e.what, e.fix);
  }
}
/** Local credential problems (unreadable key, wrong passphrase): final, like a refused authentication. */
class CredentialError extends SftpJailError {}

/** Decides which keys the host may present; throws for an unknown host unless trust is explicitly waived. */
function expectedKeys(c: Connection | ProxyConnection): { keys: PublicKey[]; source: string } | "any" {
  if (c.hostKey) {
    // A pin is checked against the known_hosts file's revocations too: a key revoked there (say, after it leaked) is
    // refused even where a program still pins it, as OpenSSH refuses a revoked key whatever else trusts it.
    const pinned = parseKeyLine(c.hostKey);
    const known = knownHostKeys("knownHostsFile" in c ? c.knownHostsFile : undefined, c.host, c.port);
    if (known.revoked.has(keyId(pinned))) {
      throw new HostKeyError(
        { host: `${c.host}:${c.port}` },
        `the pinned hostKey ${pinned.type} ${fingerprint(pinned.blob)} is revoked in ${known.file} (an @revoked line): it is never trusted. Nothing was run`,
        "verify the host's current key out of band and pin that one (connection.hostKey), or remove the @revoked line if the revocation is wrong",
      );
    }
    return { keys: [pinned], source: "the pinned hostKey" };
  }
  if ("dangerouslyTrustAnyHostKey" in c && c.dangerouslyTrustAnyHostKey) {
    log.warn(`sftp-jail: host key of ${describe(c)} NOT verified (dangerouslyTrustAnyHostKey is set); anyone on the path can impersonate it`);
    return "any";
  }
  const known = knownHostKeys("knownHostsFile" in c ? c.knownHostsFile : undefined, c.host, c.port);
  return { keys: known.keys, source: `known_hosts file ${known.file}` };
}

function connectConfig(c: Connection | ProxyConnection, timeoutMs: number, presented: { blob?: Buffer }): ConnectConfig {
  const expected = expectedKeys(c);
  const cfg: ConnectConfig = {
    host: c.host,
    port: c.port,
    username: c.user,
    readyTimeout: timeoutMs,
    keepaliveInterval: 15000,
    keepaliveCountMax: 4,
  };
  if (c.privateKey) cfg.privateKey = c.privateKey;
  if (c.privateKeyFile) cfg.privateKey = readKeyFile(c);
  if (c.privateKeyPassword) cfg.passphrase = c.privateKeyPassword;
  if (c.password) cfg.password = c.password;
  if (c.agentSocketPath) cfg.agent = c.agentSocketPath;
  if (expected !== "any") {
    if (expected.keys.length > 0) cfg.algorithms = { serverHostKey: algorithmsFor(expected.keys) as never };
    cfg.hostVerifier = (key: Buffer) => {
      presented.blob = key;
      return expected.keys.some((k) => k.blob.equals(key));
    };
  }
  return cfg;
}

function hostKeyError(c: Connection | ProxyConnection, presented: Buffer | undefined): HostKeyError {
  const expected = expectedKeys(c);
  const known = knownHostKeys("knownHostsFile" in c ? c.knownHostsFile : undefined, c.host, c.port);
  const revoked = presented && known.revoked.has(keyId({ type: blobType(presented), blob: presented })) ? `, a key REVOKED in ${known.file}` : "";
  const got = presented ? `${blobType(presented)} ${fingerprint(presented)}${revoked}` : "no host key of the expected type";
  if (expected === "any") return new HostKeyError({ host: describe(c) }, "host key check failed");
  if (expected.keys.length === 0) {
    return new HostKeyError(
      { host: `${c.host}:${c.port}` },
      `unknown host key ${got}: no key for this host in ${expected.source}, and no hostKey is pinned`,
      `verify the fingerprint out of band, then pin it: connection.hostKey = "<type> <base64>" (ssh-keyscan -p ${c.port} ${c.host}), or add it to the known_hosts file`,
    );
  }
  const want = expected.keys.map((k) => `${k.type} ${fingerprint(k.blob)}`).join(", ");
  return new HostKeyError(
    { host: `${c.host}:${c.port}` },
    `HOST KEY MISMATCH: expected ${want} (${expected.source}) but the host presented ${got}. Nothing was run. Someone may be intercepting the connection, or the host was reinstalled`,
    "if the host really changed, verify the new fingerprint out of band and update connection.hostKey / known_hosts",
  );
}

function dialOnce(c: Connection | ProxyConnection, timeoutMs: number, sock?: NodeJS.ReadableStream): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const presented: { blob?: Buffer } = {};
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(e);
    };
    client.once("ready", () => {
      settled = true;
      resolve(client);
    });
    // `on`, not `once`: ssh2 can emit a second error (e.g. "Connection lost before handshake" after a refused
    // verification), and an error event without a listener would throw out of the provider process.
    client.on("error", (e: Error & { level?: string }) => {
      if (/Host denied \(verification failed\)/i.test(e.message)) return fail(hostKeyError(c, presented.blob));
      // The host offers no key of the pinned/known type(s): as final as a mismatch, and nothing was run either.
      if (/no matching host key format/i.test(e.message)) return fail(hostKeyError(c, undefined));
      fail(e);
    });
    client.once("close", () => fail(new Error("connection closed during handshake")));
    try {
      const cfg = connectConfig(c, timeoutMs, presented);
      if (sock) cfg.sock = sock as never;
      client.connect(cfg);
    } catch (e) {
      // Thrown before any byte is sent: an unreadable private key or a wrong passphrase. Retrying cannot help.
      settled = true;
      if (e instanceof SftpJailError) return reject(e);
      const m = (e as Error).message;
      if (!/privateKey/.test(m)) return reject(e);
      const field = /passphrase|decrypt|integrity/i.test(m) ? "privateKeyPassword" : "privateKey";
      return reject(
        new CredentialError(
          { host: describe(c) },
          `connection.${field}: ${redact(m, secretsOf(c as Connection))}`,
          field === "privateKey"
            ? "give the private key itself (OpenSSH or PEM format), e.g. the content of ~/.ssh/id_ed25519, not the .pub file or a path"
            : "set connection.privateKeyPassword to the key's passphrase (keep it secret: pulumi config set --secret)",
        ),
      );
    }
    client.setNoDelay(true);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Dials with bounded retries. The first retries come fast because an sshd that was just reloaded refuses connections
 * for a few tens of milliseconds; host key and authentication failures are final.
 */
export async function dialWithRetry(c: Connection): Promise<Client> {
  const limit = c.dialErrorLimit;
  let last: Error | undefined;
  for (let attempt = 1; attempt <= limit; attempt++) {
    try {
      let sock: NodeJS.ReadableStream | undefined;
      if (c.proxy) {
        // The bastion's key is checked like the host's: its pinned hostKey, else the connection's known_hosts file.
        const proxyConn = {
          ...c.proxy,
          knownHostsFile: c.knownHostsFile,
          dialErrorLimit: c.proxy.dialErrorLimit ?? limit,
          perDialTimeout: c.proxy.perDialTimeout ?? c.perDialTimeout,
        };
        const jump = await dialOnce(proxyConn, proxyConn.perDialTimeout * 1000);
        sock = await new Promise((res, rej) =>
          jump.forwardOut("127.0.0.1", 0, c.host, c.port, (err, stream) => (err ? rej(err) : res(stream))),
        );
      }
      return await dialOnce(c, c.perDialTimeout * 1000, sock);
    } catch (e) {
      last = e as Error;
      if (e instanceof HostKeyError || e instanceof CredentialError) throw e;
      if (/authentication methods failed|All configured authentication/i.test(last.message)) {
        throw new SftpJailError(
          { host: describe(c) },
          `authentication failed: ${redact(last.message, secretsOf(c))}`,
          "check connection.user and the key/password; the key must be in the user's authorized_keys",
        );
      }
      if (attempt < limit) await sleep(Math.min(50 * 2 ** (attempt - 1), 2000));
    }
  }
  throw new SftpJailError(
    { host: describe(c) },
    `could not connect after ${limit} attempts: ${redact(last?.message ?? "unknown error", secretsOf(c))}`,
    `${RERUN_FIX}; check connection.host and connection.port; raise connection.dialErrorLimit for slow networks`,
  );
}
