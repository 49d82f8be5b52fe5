/**
 * The key type (schema/common.ts `publicKey`, through JailedUser's check) and the key file it renders, against
 * OpenSSH's own parser (`ssh-keygen -l -f`, which reads authorized_keys lines as sshd does):
 * - a key line with a second key (whole, or only its base64) or options is refused, naming authorizedKeys[i];
 * - any other hostile comment is refused the same way, or accepted and then read back by ssh-keygen as exactly that
 *   one key, with exactly that comment;
 * - a rendered key file has one key per line: ssh-keygen and the provider's parser read back exactly the keys given.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as fc from "fast-check";
import { checkInputs } from "../../../provider/adapters/base";
import { jailedUserShape } from "../../../provider/adapters/jailedUser";
import { parseKeys, renderKeys } from "../../../provider/plan/jailedUser";
import { PLAN, ed25519Blob, hostileString, params, printableHostile } from "./arbitraries";

const CONNECTION = { host: "127.0.0.1", port: 1, user: "root", privateKey: "not dialled" };
const USER = { name: "alice", group: "sftp", home: "/srv/sftp/alice" };

/** check's failures for one user whose authorizedKeys are `keys`. */
const failuresFor = (keys: string[]) => checkInputs(jailedUserShape, { ...USER, authorizedKeys: keys, connection: CONNECTION }).failures;

/** OpenSSH's SHA256 fingerprint of a blob. */
const fingerprint = (blob: string) => "SHA256:" + createHash("sha256").update(Buffer.from(blob, "base64")).digest("base64").replace(/=+$/, "");

/** What `ssh-keygen -l -f` reads from a file holding `text`: one { fingerprint, comment } per key it found. */
function sshKeygenReads(text: string): Array<{ fingerprint: string; comment: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-keys-"));
  try {
    const file = path.join(dir, "authorized_keys");
    fs.writeFileSync(file, text);
    const out = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file]).toString("utf8");
    return out
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const m = /^256 (SHA256:\S+) (.*) \(ED25519\)$/.exec(l);
        if (!m) throw new Error(`unexpected ssh-keygen line: ${l}`);
        return { fingerprint: m[1], comment: m[2] };
      });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

type Line = { line: string; blob: string; comment: string; why: "second key" | "second blob" | "options" | "comment" };

/** A real key followed by an attack: a whole second key, a second blob, options in front, or any hostile comment. */
const keyLine: fc.Arbitrary<Line> = fc.tuple(ed25519Blob, ed25519Blob, hostileString, printableHostile).chain(([blob, other, junk, text]) =>
  fc.constantFrom<Line>(
    { line: `ssh-ed25519 ${blob} ssh-ed25519 ${other} ${junk}`, blob, comment: "", why: "second key" },
    { line: `ssh-ed25519 ${blob} ${junk} ssh-ed25519 ${other}`, blob, comment: "", why: "second key" },
    { line: `ssh-ed25519 ${blob} ${other}`, blob, comment: "", why: "second blob" },
    { line: `ssh-ed25519 ${blob} ${junk} ${other}`, blob, comment: "", why: "second blob" },
    { line: `command="${junk}" ssh-ed25519 ${blob}`, blob, comment: "", why: "options" },
    { line: `${junk} ssh-ed25519 ${blob}`, blob, comment: "", why: "options" },
    { line: `ssh-ed25519 ${blob} ${junk}`, blob, comment: junk, why: "comment" },
    { line: `ssh-ed25519 ${blob} ${text}`, blob, comment: text, why: "comment" },
    { line: `ssh-ed25519 ${blob} ${text}`, blob, comment: text, why: "comment" },
  ),
);

describe("authorized keys (property)", () => {
  it(`refuses a second key or options in ${PLAN["key.line"]} generated key lines; what it accepts ssh-keygen reads as that one key`, () => {
    const accepted: Line[] = [];
    let n = 0;
    fc.assert(
      fc.property(keyLine, (l) => {
        n++;
        const f = failuresFor([l.line]);
        if (l.why !== "comment") expect({ line: l.line, refused: f.length > 0 }).toEqual({ line: l.line, refused: true });
        for (const x of f) expect(x.property).toBe("authorizedKeys[0]");
        if (!f.length) accepted.push(l);
      }),
      params("key.line"),
    );
    expect(n).toBe(PLAN["key.line"]);
    // Accepted lines, one file: OpenSSH reads exactly one key per line, that key, with that comment.
    const read = sshKeygenReads(accepted.map((l) => l.line).join("\n") + "\n");
    expect(read).toEqual(accepted.map((l) => ({ fingerprint: fingerprint(l.blob), comment: l.comment })));
    expect(accepted.length).toBeGreaterThan(50); // plain comments do pass: the property is not vacuous
  });

  it(`renders ${PLAN["key.file"]} generated key sets as files of exactly one key per line`, () => {
    const comment = fc.string({ unit: fc.constantFrom(..."abcdefghij0123456789@.-_ ".split("")), maxLength: 20 }).map((s) => s.trim().replace(/ +/g, " "));
    const keySet = fc.uniqueArray(fc.tuple(ed25519Blob, comment), { minLength: 1, maxLength: 8, selector: ([b]) => b });
    const files: Array<{ keys: string[]; text: string }> = [];
    let n = 0;
    fc.assert(
      fc.property(keySet, (set) => {
        n++;
        const keys = set.map(([b, c]) => `ssh-ed25519 ${b}${c ? ` ${c}` : ""}`);
        expect(failuresFor(keys)).toEqual([]);
        const text = renderKeys(keys);
        expect(text.split("\n")).toHaveLength(keys.length + 1); // n lines, each ending in \n
        expect(parseKeys(text)).toEqual(keys);
        files.push({ keys, text });
      }),
      params("key.file"),
    );
    expect(n).toBe(PLAN["key.file"]);
    // One ssh-keygen over all files in a row: it must find exactly the keys, in order.
    const read = sshKeygenReads(files.map((f) => f.text).join(""));
    const want = files.flatMap((f) => f.keys).map((k) => ({ fingerprint: fingerprint(k.split(" ")[1]), comment: k.split(" ").slice(2).join(" ") }));
    expect(read).toEqual(want);
  });
});
