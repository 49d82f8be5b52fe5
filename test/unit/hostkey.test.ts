/**
 * known_hosts as sftp-jail reads it (provider/connection/hostkey.ts): which keys a host may present. Refusing is the
 * safe side: a revoked key is never trusted, a negated entry rejects its line, and what is not matched gives no key
 * (the dial is then refused, naming the file).
 */
import { createHmac, generateKeyPairSync, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { knownHostKeys } from "../../provider/connection/hostkey";

/** A fresh ed25519 public key in authorized_keys format. */
function edKey(): string {
  const raw = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]).toString("base64")}`;
}

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-kh-"))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function keysFor(text: string, host: string, port: number): string[] {
  const f = path.join(dir, `kh-${Math.random()}`);
  fs.writeFileSync(f, text);
  return knownHostKeys(f, host, port).keys.map((k) => `${k.type} ${k.blob.toString("base64")}`);
}

const A = edKey();
const B = edKey();

test("plain, bracketed-port and hashed entries name their host; other hosts and ports get nothing", () => {
  expect(keysFor(`h1,h2 ${A}\n`, "h2", 22)).toEqual([A]);
  expect(keysFor(`[h1]:2222 ${A}\n`, "h1", 2222)).toEqual([A]);
  expect(keysFor(`[h1]:2222 ${A}\n`, "h1", 22)).toEqual([]);
  expect(keysFor(`${hashed("[10.0.0.5]:2200")} ${B}\n`, "10.0.0.5", 2200)).toEqual([B]);
  expect(keysFor(`other ${A}\n# h1 ${B}\n`, "h1", 22)).toEqual([]);
});

test("a key on any @revoked line is never trusted, whatever host that line names", () => {
  expect(keysFor(`@revoked * ${A}\nh1 ${A}\nh1 ${B}\n`, "h1", 22)).toEqual([B]);
  expect(keysFor(`h1 ${A}\n@revoked unrelated.example ${A}\n`, "h1", 22)).toEqual([]);
});

test("a matching negated entry rejects its line, as in OpenSSH; wildcards and @cert-authority give no key", () => {
  expect(keysFor(`!h1,h1 ${A}\n`, "h1", 22)).toEqual([]);
  expect(keysFor(`!h9,h1 ${A}\n`, "h1", 22)).toEqual([A]);
  expect(keysFor(`h* ${A}\n*.example ${A}\n@cert-authority h1 ${B}\n`, "h1", 22)).toEqual([]);
});

test("a missing file gives no key (the dial is refused, naming the file)", () => {
  const f = path.join(dir, "missing");
  expect(knownHostKeys(f, "h1", 22)).toEqual({ file: f, keys: [], revoked: new Set() });
});

test("a pinned hostKey that the known_hosts file revokes is refused before any connection", async () => {
  const { dialWithRetry, HostKeyError } = require("../../provider/connection/pool");
  const { connectionSchema } = require("../../provider/connection/schema");
  const net = require("net");
  // A listener that counts connections: the refusal must come before any byte is sent.
  let accepted = 0;
  const server = net.createServer((s: { destroy(): void }) => {
    accepted++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const kh = path.join(dir, "kh-revoked");
  fs.writeFileSync(kh, `@revoked * ${A}\n`);
  const conn = (extra: object) => connectionSchema.parse({ host: "127.0.0.1", port, user: "root", password: "x", hostKey: A, dialErrorLimit: 1, ...extra });
  try {
    const e = await dialWithRetry(conn({ knownHostsFile: kh })).catch((x: Error) => x);
    expect(e).toBeInstanceOf(HostKeyError);
    expect(e.message).toMatch(/the pinned hostKey ssh-ed25519 SHA256:\S+ is revoked in .*kh-revoked \(an @revoked line\): it is never trusted/);
    expect(accepted).toBe(0);
    // The same pin with a file that does not revoke it gets as far as the host (which is no sshd here).
    const other = path.join(dir, "kh-other");
    fs.writeFileSync(other, `@revoked * ${B}\n`);
    const e2 = await dialWithRetry(conn({ knownHostsFile: other })).catch((x: Error) => x);
    expect(e2).not.toBeInstanceOf(HostKeyError);
    expect(accepted).toBe(1);
  } finally {
    server.close();
  }
});
