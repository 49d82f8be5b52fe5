/**
 * The hostile-input table (test/e2e/programs/hostile/cases.ts) through each adapter's `check`, in process: every row
 * must be refused with exactly its property and reason, and the batches the e2e suite sends through `pulumi preview`
 * must report exactly their rows. Fast feedback for test/e2e/hostile.test.ts, which runs the same table through the CLI.
 */
import { z } from "zod";
import * as sftpGroup from "../../provider/adapters/sftpGroup";
import * as jailedUser from "../../provider/adapters/jailedUser";
import * as chrootDir from "../../provider/adapters/chrootDir";
import * as sshdMatchBlock from "../../provider/adapters/sshdMatchBlock";
import * as firewallRule from "../../provider/adapters/firewallRule";
import { connectionSchema } from "../../provider/connection/schema";
import { BASE, CASES, HostileCase, ResourceType, batches, compose } from "../e2e/programs/hostile/cases";

const ADAPTERS: Record<ResourceType, { check(olds: unknown, news: Record<string, unknown>): Promise<{ failures?: { property: string; reason: string }[] }> }> = {
  SftpGroup: sftpGroup,
  JailedUser: jailedUser,
  ChrootDir: chrootDir,
  SshdMatchBlock: sshdMatchBlock,
  FirewallRule: firewallRule,
};

/** A valid connection that goes nowhere: ChrootDir's check would only dial it for valid inputs (port 1 refuses). */
const CONNECTION = {
  host: "127.0.0.1",
  port: 1,
  user: "root",
  privateKey: "not dialled",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDmA+txTPK//C2FvgdYU/W9rn/BPBVFvJ+JmNEFfah/9",
  dialErrorLimit: 1,
};

async function failures(type: ResourceType, rows: readonly HostileCase[]) {
  return (await ADAPTERS[type].check({}, compose(type, rows, CONNECTION))).failures ?? [];
}

describe("the hostile-input table", () => {
  it("has at least 40 rows, unique ids, and rows for every resource type and the connection", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(CASES.map((r) => r.id)).size).toBe(CASES.length);
    for (const t of Object.keys(BASE)) expect(CASES.filter((r) => r.type === t && !r.property.startsWith("connection")).length).toBeGreaterThanOrEqual(5);
    expect(CASES.filter((r) => r.property.startsWith("connection")).length).toBeGreaterThanOrEqual(10);
  });

  it("starts every row from a valid resource (so each refusal is the row's doing)", async () => {
    for (const t of ["SftpGroup", "JailedUser", "SshdMatchBlock", "FirewallRule"] as const) {
      expect({ t, failures: await failures(t, []) }).toEqual({ t, failures: [] });
    }
    // ChrootDir's check looks at the host once its inputs are valid: check its schema without dialling.
    expect(z.strictObject(chrootDir.chrootDirShape).safeParse(BASE.ChrootDir).success).toBe(true);
    expect(connectionSchema.safeParse(CONNECTION).success).toBe(true);
  });
});

describe.each(CASES.map((r) => [`${r.type} ${r.property || "(resource)"}: ${r.what}`, r] as const))("%s", (_name, row) => {
  it("is refused, naming the field", async () => {
    const f = await failures(row.type, [row]);
    expect(f.length).toBeGreaterThan(0);
    for (const x of f) expect(x.property).toBe(row.property); // nothing else in the resource is blamed
    expect(f.map((x) => x.reason)).toContainEqual(expect.stringMatching(row.reason));
  });
});

describe("the e2e batches", () => {
  it.each(batches().map((b, i) => [i, b.type, b.rows.length, b] as const))(
    "batch %i (%s, %i rows) reports exactly its rows' failures",
    async (_i, type, _n, b) => {
      const f = await failures(type, b.rows);
      expect([...new Set(f.map((x) => x.property))].sort()).toEqual(b.rows.map((r) => r.property).sort());
      for (const row of b.rows) {
        expect(f.filter((x) => x.property === row.property).map((x) => x.reason)).toContainEqual(expect.stringMatching(row.reason));
      }
    },
  );
});
