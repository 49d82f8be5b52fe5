/**
 * The connection's safety rules that the hostile table does not show by itself: well-formed key blobs of every type,
 * paths and the sudo password, one pooled session per distinct connection (host key settings included), and local
 * credential problems that fail at once instead of being retried as network errors.
 */
import { execFileSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Connection, ConnectionInput, connectionSchema, secretsOf } from "../../provider/connection/schema";
import { redact } from "../../provider/util/errors";
import { closeAll, dialWithRetry, session } from "../../provider/connection/pool";
import { failuresOf, publicKey } from "../../provider/schema/common";
import { keyBlobProblem } from "../../provider/util/sshkey";

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDmA+txTPK//C2FvgdYU/W9rn/BPBVFvJ+JmNEFfah/9";
const ECDSA256 =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJa2rnrrBTW+GvgCClsoIhVRxr7xkoF/T2okJAafH/8WjLKSlqgDMRZxAz26cjzLrSF6rwqJT7AlpOsmDZJWuyA=";
const ECDSA384 =
  "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBMLqEO1JYm0mC2sFQfY1G9Jz07iZ3+yBwM9Z0QW6E7REv0NMTKBygnC6BPrl2u3HHkHtQC3ku0uQebSKTyCppQdQAIMvjqH8wU00goCyIRYq6hvwf2ytX59AVjENz6LnfQ==";
const RSA =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDYQAMmpmaCOapb5BGRkWyARfWqzbO9PubOmss+BFKisuUNgxJat7MgMeX3jhaVbXCvmXBPjOus02wVO+K+XkUHfw8Q2BClRp5W6rPr9RRTD9/3cp/HP4lRf5D37wz31Xk4p5RWTbZvkpbZYIOxp87bStFsaEFnoRHrIBX8ppe29ZtBOb2J4/AXKOHfOYZmnXE6AJEy7kR6rmRDgdCOE61S4aaxFuiOGZdbqwYkAQ8pAKWJYicvyJKc9nqX3omv7P87Vl1VKIgj5e6wqFGtPjI/QkG9yyxxACMZ/Dr6B4VsTkK2LgRoaT6NKzmUHQbdOt1L2ZLfk2ajo0JoZ7567CSz";

/** Wire-format blob from fields (each a length-prefixed string). */
const blob = (...fields: (string | Buffer)[]) =>
  Buffer.concat(fields.flatMap((f) => {
    const b = typeof f === "string" ? Buffer.from(f, "latin1") : f;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return [len, b];
  })).toString("base64");

const CONN = { host: "127.0.0.1", port: 1, user: "root", privateKey: "k", hostKey: ED25519 };
const parse = (c: Record<string, unknown>) => {
  const r = connectionSchema.safeParse({ ...CONN, ...c });
  return r.success ? [] : failuresOf(r.error);
};

describe("key blobs", () => {
  it.each([ED25519, ECDSA256, ECDSA384, RSA])("accepts a real %s key", (line) => {
    const [type, b64] = line.split(" ");
    expect(keyBlobProblem(type, b64)).toBeUndefined();
    expect(publicKey.safeParse(`${line} someone@laptop`).success).toBe(true);
    expect(parse({ hostKey: line })).toEqual([]);
  });

  it("accepts security-key types with their extra application field", () => {
    const sk = blob("sk-ssh-ed25519@openssh.com", Buffer.alloc(32, 7), "ssh:");
    expect(keyBlobProblem("sk-ssh-ed25519@openssh.com", sk)).toBeUndefined();
    expect(publicKey.safeParse(`sk-ssh-ed25519@openssh.com ${sk}`).success).toBe(true);
  });

  it("refuses blobs that are truncated, padded, mislabelled, of the wrong curve, or not canonical base64", () => {
    const b64 = ED25519.split(" ")[1];
    const raw = Buffer.from(b64, "base64");
    expect(keyBlobProblem("ssh-ed25519", raw.subarray(0, raw.length - 1).toString("base64"))).toMatch(/not an SSH public key/);
    expect(keyBlobProblem("ssh-ed25519", blob("ssh-ed25519", Buffer.alloc(32), "extra"))).toMatch(/not a complete ssh-ed25519 key/);
    expect(keyBlobProblem("ssh-ed25519", blob("ssh-ed25519", Buffer.alloc(31)))).toMatch(/not a complete ssh-ed25519 key/);
    expect(keyBlobProblem("ssh-rsa", b64)).toMatch(/is a "ssh-ed25519" key, not ssh-rsa/);
    expect(keyBlobProblem("ecdsa-sha2-nistp256", blob("ecdsa-sha2-nistp256", "nistp384", Buffer.alloc(97, 4)))).toMatch(/curve does not match/);
    expect(keyBlobProblem("ssh-ed25519", b64.replace(/=*$/, "") + "A")).toMatch(/not valid base64/);
    expect(keyBlobProblem("ssh-dss", b64)).toMatch(/not a supported public key type/);
  });

  it("gives one message for a line that is not a key line at all", () => {
    const r = publicKey.safeParse("no key here");
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues).toHaveLength(1);
  });

  it("refuses rsa-sha2-* as a hostKey type (a key is ssh-rsa; those are signature names)", () => {
    expect(parse({ hostKey: RSA.replace("ssh-rsa", "rsa-sha2-256") })).toEqual([
      { property: "hostKey", reason: expect.stringMatching(/hostKey must be one public key in authorized_keys format/) },
    ]);
  });
});

describe("paths and passwords in the connection", () => {
  it("wants absolute agent socket and known_hosts paths without control characters", () => {
    expect(parse({ agentSocketPath: "agent.sock" })).toEqual([{ property: "agentSocketPath", reason: expect.stringMatching(/absolute path/) }]);
    expect(parse({ agentSocketPath: "/run/agent\n.sock" })).toEqual([{ property: "agentSocketPath", reason: expect.stringMatching(/control characters/) }]);
    expect(parse({ knownHostsFile: "~/.ssh/known_hosts" })).toEqual([{ property: "knownHostsFile", reason: expect.stringMatching(/"~" is not expanded/) }]);
    expect(parse({ knownHostsFile: "/root/.ssh/known_hosts" })).toEqual([]);
  });

  it("refuses trusting any host key together with a way to check it (a pinned key or a known_hosts file)", () => {
    const trustAny = { property: "dangerouslyTrustAnyHostKey", reason: expect.stringMatching(/contradict/) };
    expect(parse({ dangerouslyTrustAnyHostKey: true })).toEqual([trustAny]);
    expect(parse({ hostKey: undefined, knownHostsFile: "/root/kh", dangerouslyTrustAnyHostKey: true })).toEqual([trustAny]);
    expect(parse({ hostKey: undefined, dangerouslyTrustAnyHostKey: true })).toEqual([]);
  });

  it("refuses a sudo password sudo cannot read as one line, and says what sudo may be", () => {
    for (const pw of ["a\rb", "a\u0000b", "a\nb"]) {
      expect(parse({ user: "operator", sudo: { password: pw } })).toEqual([{ property: "sudo.password", reason: expect.stringMatching(/line breaks or NUL/) }]);
    }
    expect(parse({ user: "operator", sudo: "yes" })).toEqual([{ property: "sudo", reason: 'sudo must be true, false, or { password: "..." }' }]);
    expect(parse({ user: "operator", sudo: { password: "correct horse battery staple" } })).toEqual([]);
  });
});

describe("the connection pool", () => {
  afterEach(() => closeAll());
  const conn = (c: Partial<ConnectionInput> = {}) => connectionSchema.parse({ ...CONN, ...c }) as Connection;

  it("shares one session only between identical connections: host key settings are part of the identity", () => {
    expect(session(conn())).toBe(session(conn()));
    expect(session(conn({ hostKey: ECDSA256 }))).not.toBe(session(conn()));
    expect(session(conn({ hostKey: undefined, dangerouslyTrustAnyHostKey: true }))).not.toBe(session(conn({ hostKey: undefined })));
    expect(session(conn({ hostKey: undefined, knownHostsFile: "/a" }))).not.toBe(session(conn({ hostKey: undefined, knownHostsFile: "/b" })));
  });
});

describe("local credential problems are final, named by field, and never retried as network errors", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-cred-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "right passphrase", "-f", path.join(dir, "k")]);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Port 1 on loopback: nothing listens, and none of these gets as far as dialling anyway.
  const dial = (c: Partial<ConnectionInput>) => dialWithRetry(connectionSchema.parse({ ...CONN, dialErrorLimit: 5, ...c }) as Connection);

  it("an unreadable private key", async () => {
    await expect(dial({ privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n" })).rejects.toThrow(
      /connection\.privateKey: Cannot parse privateKey[\s\S]*fix: give the private key itself/,
    );
  });

  it("a wrong passphrase, without echoing it", async () => {
    const key = fs.readFileSync(path.join(dir, "k"), "utf8");
    const err = await dial({ privateKey: key, privateKeyPassword: "wrong passphrase" }).catch((e: Error) => e);
    expect(String(err)).toMatch(/connection\.privateKeyPassword: .*bad passphrase[\s\S]*fix: set connection\.privateKeyPassword/);
    expect(String(err)).not.toMatch(/could not connect after/);
    expect(String(err)).not.toContain("wrong passphrase");
  });
});


describe("redaction", () => {
  it("removes a secret whole, and each line of a multi-line one (a key's line a tool echoed)", () => {
    // generated here, never committed
    const key = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const body = key.split("\n")[1];
    expect(body.length).toBeGreaterThanOrEqual(16);
    const c = connectionSchema.parse({ ...CONN, privateKey: key, user: "op", sudo: { password: "hunter2-very-long" } });
    expect(redact(`sudo: hunter2-very-long\nload: ${body}`, secretsOf(c))).toBe("sudo: [secret]\nload: [secret]");
    expect(redact(`whole ${key} end`, secretsOf(c))).toBe("whole [secret] end");
    // lines shorter than 16 characters are left alone when they stand apart: too common to cut everywhere
    expect(redact("a: first-line-long-enough\nb: short-end stays", ["first-line-long-enough\nshort-end"])).toBe("a: [secret]\nb: short-end stays");
  });

  it("removes a secret that contains another one whole, whatever their order", () => {
    const c = connectionSchema.parse({ ...CONN, user: "op", password: "pw12", sudo: { password: "pw12-and-more-of-it" } });
    expect(redact("sudo: pw12-and-more-of-it; login: pw12", secretsOf(c))).toBe("sudo: [secret]; login: [secret]");
    expect(redact("sudo: pw12-and-more-of-it", ["pw12", "pw12-and-more-of-it"])).toBe("sudo: [secret]");
  });
});
