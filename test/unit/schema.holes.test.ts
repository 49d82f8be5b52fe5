/**
 * Known holes: hostile inputs that the resource schemas still ACCEPT at preview, in files this suite does not own
 * (adapters/*). Each test asserts the hole is still open, so it fails the day the schema refuses the input: then move
 * the row into test/e2e/programs/hostile/cases.ts (so the e2e suite proves the refusal through the CLI too) and delete
 * it here. (Not `it.failing`: that would also pass if check itself broke.)
 */
import * as jailedUser from "../../provider/adapters/jailedUser";
import * as chrootDir from "../../provider/adapters/chrootDir";
import * as sshdMatchBlock from "../../provider/adapters/sshdMatchBlock";
import { BASE, KEY_A, ResourceType, compose } from "../e2e/programs/hostile/cases";

const ADAPTERS = { JailedUser: jailedUser, ChrootDir: chrootDir, SshdMatchBlock: sshdMatchBlock } as const;
// dangerouslyTrustAnyHostKey + port 1: ChrootDir's check dials valid inputs; here that fails at once, on loopback.
const CONNECTION = { host: "127.0.0.1", port: 1, user: "root", privateKey: "not dialled", dangerouslyTrustAnyHostKey: true, dialErrorLimit: 1 };

/** Asserts check still lets `set` through (no failure at all), i.e. the hole is open. */
async function stillAccepted(type: keyof typeof ADAPTERS, set: Record<string, unknown>): Promise<void> {
  const args = compose(type as ResourceType, [{ id: "hole", type: type as ResourceType, what: "", set, property: "", reason: /./ }], CONNECTION);
  const r = await ADAPTERS[type].check({}, args);
  expect(r.failures ?? []).toEqual([]);
}

describe("known holes (owner: adapters/sshdMatchBlock.ts)", () => {
  it("HOLE, still accepted: Banner /etc/shadow: sshd (root) sends the file to every matching client before authentication", () =>
    stillAccepted("SshdMatchBlock", { "directives.Banner": "/etc/shadow" }));
  it("HOLE, still accepted: Match Address 10.0.0.0/33: not a CIDR, refused only on the host by sshd -t", () =>
    stillAccepted("SshdMatchBlock", { "match.Address": ["10.0.0.0/33"] }));
});
