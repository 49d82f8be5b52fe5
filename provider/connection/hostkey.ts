/**
 * Host key verification: a pinned key (authorized_keys format) or a known_hosts file, never silent trust.
 */
import { createHash, createHmac } from "crypto";
import { readFileSync } from "fs";
import { homedir } from "os";
import * as path from "path";

/** OpenSSH's fingerprint format: `SHA256:` + unpadded base64 of the key blob's digest. */
export function fingerprint(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The key type recorded inside a wire-format key blob. */
export function blobType(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString("latin1");
}

export interface PublicKey {
  type: string;
  blob: Buffer;
}

/** Parses "type base64 [comment]". */
export function parseKeyLine(line: string): PublicKey {
  const [type, b64] = line.trim().split(/\s+/);
  const blob = Buffer.from(b64 ?? "", "base64");
  if (!type || blob.length < 8 || blobType(blob) !== type) {
    throw new Error(`not a public key in authorized_keys format: ${JSON.stringify(line.slice(0, 40))}`);
  }
  return { type, blob };
}

/** The names a host:port appears under in known_hosts (`host` for port 22, `[host]:port` otherwise). */
function knownHostsNames(host: string, port: number): string[] {
  return port === 22 ? [host] : [`[${host}]:${port}`];
}

/**
 * Whether a known_hosts line's host field names `name`: a hashed entry, or a comma-separated list where, as in
 * OpenSSH, a negated entry (`!name`) that matches rejects the whole line. Wildcards are not expanded: a host listed
 * only under a wildcard has no key here, and the dial is refused naming the file.
 */
function matchesPattern(entry: string, name: string): boolean {
  if (entry.startsWith("|1|")) {
    const [, , salt, hash] = entry.split("|");
    const mac = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return mac === hash;
  }
  const patterns = entry.split(",");
  if (patterns.some((p) => p === `!${name}`)) return false;
  return patterns.some((p) => p === name);
}

/**
 * Keys known for host:port in a known_hosts file. A key on any `@revoked` line is never trusted, whatever host that
 * line names (revoking more widely than OpenSSH's pattern match is the safe side); `@cert-authority` lines are not
 * host keys and are skipped.
 */
export function knownHostKeys(file: string | undefined, host: string, port: number): { file: string; keys: PublicKey[]; revoked: Set<string> } {
  const f = file ?? path.join(homedir(), ".ssh", "known_hosts");
  let text = "";
  try {
    text = readFileSync(f, "utf8");
  } catch {
    return { file: f, keys: [], revoked: new Set() };
  }
  const names = knownHostsNames(host, port);
  const keys: PublicKey[] = [];
  const revoked = new Set<string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    if (parts[0] === "@revoked") {
      try {
        const k = parseKeyLine(`${parts[2]} ${parts[3]}`);
        revoked.add(keyId(k));
      } catch {
        /* a malformed line is skipped, as ssh does */
      }
      continue;
    }
    if (parts[0].startsWith("@")) continue; // @cert-authority: not a host key
    const [pattern, type, b64] = parts;
    if (!names.some((n) => matchesPattern(pattern, n))) continue;
    try {
      keys.push(parseKeyLine(`${type} ${b64}`));
    } catch {
      /* a malformed line is skipped, as ssh does */
    }
  }
  return { file: f, keys: keys.filter((k) => !revoked.has(keyId(k))), revoked };
}

/** A key as `@revoked` lines are compared: its type and blob. */
export const keyId = (k: PublicKey): string => `${k.type} ${k.blob.toString("base64")}`;

/** ssh2 host key algorithm names to offer so the server presents a key we can check. */
export function algorithmsFor(keys: PublicKey[]): string[] {
  const out: string[] = [];
  for (const k of keys) {
    if (k.type === "ssh-rsa") out.push("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa");
    else out.push(k.type);
  }
  return [...new Set(out)];
}
