/**
 * OpenSSH public key blobs (RFC 4253 §6.6 wire format), checked without any crypto library: a key line whose base64
 * part is not a well-formed key of the type it names is refused at `check`, before it reaches a host or a dial.
 */

/** Field count of each key type's blob: the type string, then its strings/mpints (RFC 4253, 5656, 8709, PROTOCOL.u2f). */
const FIELDS: Readonly<Record<string, number>> = {
  "ssh-ed25519": 2,
  "ssh-rsa": 3,
  "ecdsa-sha2-nistp256": 3,
  "ecdsa-sha2-nistp384": 3,
  "ecdsa-sha2-nistp521": 3,
  "sk-ssh-ed25519@openssh.com": 3,
  "sk-ecdsa-sha2-nistp256@openssh.com": 4,
};

/** The length-prefixed fields of a blob, or undefined when they do not tile it exactly. */
function fields(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) return undefined;
    out.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

/**
 * Why `b64` is not a public key of type `type`, or undefined when it is one. Checks the base64 is canonical, the
 * blob's own type string equals `type`, and the blob has exactly the fields that type has.
 */
export function keyBlobProblem(type: string, b64: string): string | undefined {
  const want = FIELDS[type];
  if (want === undefined) return `${type} is not a supported public key type`;
  const blob = Buffer.from(b64, "base64");
  if (blob.length === 0 || blob.toString("base64") !== b64) return "its base64 part is not valid base64";
  const f = fields(blob);
  if (!f || f.length === 0) return "its base64 part is not an SSH public key";
  const inner = f[0].toString("latin1");
  if (inner !== type) return `its base64 part is a ${JSON.stringify(inner.slice(0, 40))} key, not ${type}`;
  if (f.length !== want) return `its base64 part is not a complete ${type} key`;
  if (type.endsWith("ed25519") || type.startsWith("sk-ssh-ed25519")) {
    if (f[1].length !== 32) return `its base64 part is not a complete ${type} key`;
  }
  if (type.startsWith("ecdsa-sha2-") && f[1].toString("latin1") !== type.slice("ecdsa-sha2-".length)) {
    return `its curve does not match ${type}`;
  }
  return undefined;
}
