/**
 * OpenSSH's own clients (ssh, sftp, ssh-keygen) against sandbox hosts, with strict host key checking.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SandboxHost } from "../sandbox";

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(argv: string[], input?: string): Promise<ClientResult> {
  return new Promise((resolve) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    c.stdin.on("error", () => undefined); // the program may exit without reading its input (EPIPE)
    c.stdin.end(input ?? "");
  });
}

/** A throw-away directory with generated keys and a known_hosts file for the given hosts. */
export class Clients {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-clients-"));
  private readonly knownHosts = path.join(this.dir, "known_hosts");

  constructor(hosts: SandboxHost[]) {
    fs.writeFileSync(this.knownHosts, hosts.map((h) => h.knownHostsLine()).join("\n") + "\n");
  }

  /** Generates an ed25519 key pair; returns the public key line. */
  async keygen(name: string): Promise<string> {
    const f = path.join(this.dir, name);
    const r = await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `${name}@sftp-jail-test`, "-f", f]);
    if (r.code !== 0) throw new Error(r.stderr);
    return fs.readFileSync(f + ".pub", "utf8").trim();
  }

  private opts(host: SandboxHost, key: string): string[] {
    return [
      "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${this.knownHosts}`,
      "-o", "IdentitiesOnly=yes", "-o", "KexAlgorithms=curve25519-sha256", "-o", "ConnectTimeout=10",
      "-i", key.startsWith("/") ? key : path.join(this.dir, key),
    ];
  }

  ssh(host: SandboxHost, user: string, key: string, command: string): Promise<ClientResult> {
    return run(["ssh", ...this.opts(host, key), "-p", String(host.port), `${user}@127.0.0.1`, command]);
  }

  /** Runs an sftp batch (a line starting with "-" may fail without aborting the batch). */
  sftp(host: SandboxHost, user: string, key: string, batch: string): Promise<ClientResult> {
    const b = path.join(this.dir, `batch-${Date.now()}-${Math.random()}`);
    fs.writeFileSync(b, batch);
    return run(["sftp", ...this.opts(host, key), "-P", String(host.port), "-b", b, `${user}@127.0.0.1`]);
  }

  /**
   * An sftp session that stays open: commands are sent one by one (as a partner's client would, over time) until
   * `close`, which ends its input and resolves with everything it printed and its exit code.
   */
  sftpSession(host: SandboxHost, user: string, key: string): { send(line: string): void; close(): Promise<ClientResult>; exited: Promise<ClientResult> } {
    const c = spawn("sftp", [...this.opts(host, key), "-P", String(host.port), "-b", "-", `${user}@127.0.0.1`], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.stdin.on("error", () => undefined);
    const exited = new Promise<ClientResult>((resolve) => c.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr })));
    return {
      send: (line) => void c.stdin.write(`${line}\n`),
      close: () => {
        c.stdin.end();
        return exited;
      },
      exited,
    };
  }

  file(name: string, content: string): string {
    const f = path.join(this.dir, name);
    fs.writeFileSync(f, content);
    return f;
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
