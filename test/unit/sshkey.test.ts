/**
 * A key line carries one key: sshd reads the first key of a line and takes the rest as its comment, so a second key
 * pasted after it would silently never work. Refused at check, naming the entry (the property test in
 * test/unit/property/keys.property.test.ts generates such lines; these are the cases from issue 8, by name).
 */
import { checkInputs } from "../../provider/adapters/base";
import { jailedUserShape } from "../../provider/adapters/jailedUser";
import { connectionSchema } from "../../provider/connection/schema";
import { keyCommentProblem } from "../../provider/util/sshkey";
import { KEY_A, KEY_B } from "../e2e/programs/hostile/cases";

const BLOB_B = KEY_B.split(" ")[1];
const failures = (keys: string[]) =>
  checkInputs(jailedUserShape, { name: "alice", group: "sftp", home: "/srv/sftp/alice", authorizedKeys: keys, connection: { host: "h", privateKeyFile: "/k" } }).failures;

describe("one key per authorizedKeys entry", () => {
  it("refuses two whole keys in one string, naming the entry", () => {
    expect(failures([KEY_B, `${KEY_A} ${KEY_B}`])).toEqual([
      { property: "authorizedKeys[1]", reason: expect.stringMatching(/its comment contains "ssh-ed25519", a key type: put each key in its own entry/) },
    ]);
  });

  it("refuses a second key's base64 (or a certificate type) in the comment", () => {
    expect(failures([`${KEY_A} ${BLOB_B}`])[0].reason).toMatch(/its comment contains a second key's base64/);
    expect(failures([`${KEY_A} ssh-ed25519-cert-v01@openssh.com`])[0].reason).toMatch(/a key type/);
  });

  it("keeps ordinary comments, even ones that mention ssh", () => {
    expect(failures([`${KEY_A.split(" ").slice(0, 2).join(" ")} ssh-keygen on laptop`, KEY_B])).toEqual([]);
    expect(keyCommentProblem("deploy@ci AAAA-not-base64 ssh-rsa-ish")).toBeUndefined();
  });

  it("applies to a pinned hostKey too", () => {
    const r = connectionSchema.safeParse({ host: "h", privateKeyFile: "/k", hostKey: `${KEY_A} ${KEY_B}` });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/hostKey is not a well-formed public key: its comment contains \\"ssh-ed25519\\"/);
  });
});
