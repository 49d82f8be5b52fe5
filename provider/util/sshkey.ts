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

/** A key type name OpenSSH knows (certificates included): in a comment, the start of a second key. */
export const KEY_TYPE_TOKEN = /^(ssh-(ed25519|rsa|dss|xmss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256))(-cert-v01)?(@openssh\.com)?$/;
/** The type name inside a blob: any of OpenSSH's families (a blob is a key whatever its exact type). */
const BLOB_TYPE = /^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+$/;

/** True when `tok` is base64 whose decoding starts like an SSH key blob (a length, then a key type name). */
function looksLikeBlob(tok: string): boolean {
  if (!/^AAAA[A-Za-z0-9+/]+={0,3}$/.test(tok)) return false;
  const b = Buffer.from(tok, "base64");
  if (b.length < 8) return false;
  const len = b.readUInt32BE(0);
  return len > 0 && len <= 64 && 4 + len <= b.length && BLOB_TYPE.test(b.subarray(4, 4 + len).toString("latin1"));
}

/**
 * Why the comment of a key line is not plain text, or undefined. sshd reads only the first key of a line and treats
 * the rest as its comment: a second key pasted after the first (or its type, or its base64) would silently never
 * work, so it is refused instead of stored.
 */
export function keyCommentProblem(comment: string): string | undefined {
  for (const tok of comment.split(/\s+/).filter(Boolean)) {
    if (KEY_TYPE_TOKEN.test(tok)) return `its comment contains "${tok.slice(0, 40)}", a key type: put each key in its own entry`;
    if (looksLikeBlob(tok)) return `its comment contains a second key's base64 ("${tok.slice(0, 16)}..."): put each key in its own entry`;
  }
  return undefined;
}
