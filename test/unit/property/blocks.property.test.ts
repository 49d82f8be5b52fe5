/**
 * Whole Match blocks from generated criteria and directives (valid values mixed with hostile ones) through
 * SshdMatchBlock's check: refused naming only the attacked fields, or rendered (plan/sshdRender.ts) into a drop-in
 * whose non-comment lines are exactly one `Match` line and one line per intended directive, read back identically.
 */
import * as fc from "fast-check";
import { check } from "../../../provider/adapters/sshdMatchBlock";
import { DIRECTIVES, DIRECTIVE_NAMES } from "../../../provider/plan/sshdRender";
import { PLAN, hostileFor, params } from "./arbitraries";
import { VALID_DIRECTIVE } from "./fields";
import { blockProblem } from "./render";

const CONNECTION = { host: "127.0.0.1", port: 1, user: "root", privateKeyFile: "/root/.ssh/id_ed25519" };

/** A valid value of a directive, drawn from its kind. */
function validValue(k: string): fc.Arbitrary<string | boolean> {
  const spec = DIRECTIVES[k];
  if (spec.kind === "enum") return fc.oneof(fc.constantFrom(...spec.values), ...(spec.values.includes("yes") ? [fc.boolean()] : []));
  return fc.constant(VALID_DIRECTIVE[k]);
}

interface Val {
  v: string | boolean;
  /** The value was made hostile (a refusal may name its field). */
  hostile: boolean;
}

/** The valid value, or a hostile one built around it. */
const maybeHostile = (valid: fc.Arbitrary<string | boolean>, attack: boolean): fc.Arbitrary<Val> =>
  attack
    ? fc.oneof(valid.map((v): Val => ({ v, hostile: false })), valid.chain((v) => hostileFor(String(v))).map((v): Val => ({ v, hostile: true })))
    : valid.map((v): Val => ({ v, hostile: false }));

const all = <T>(arbs: fc.Arbitrary<T>[]): fc.Arbitrary<T[]> => fc.tuple(...arbs) as unknown as fc.Arbitrary<T[]>;

/** Valid patterns per criterion; the first is positive (a list of only negations is refused, rightly). */
const CRITERIA: Record<string, string[]> = {
  User: ["alice", "a*", "!bob"],
  Group: ["sftp", "sftp-*"],
  Host: ["*.example.com"],
  Address: ["192.0.2.0/24", "2001:db8::/32", "10.*"],
  LocalAddress: ["198.51.100.7"],
};

interface Block {
  criterion: string;
  match: Val[];
  directives: Array<Val & { k: string }>;
}

const block: fc.Arbitrary<Block> = fc
  .record({
    criterion: fc.constantFrom(...Object.keys(CRITERIA), "all"),
    patterns: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
    names: fc.uniqueArray(fc.constantFrom(...DIRECTIVE_NAMES), { minLength: 1, maxLength: 6 }),
    attack: fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
  })
  .chain(({ criterion, patterns, names, attack }) =>
    fc.record({
      criterion: fc.constant(criterion),
      match: criterion === "all" ? fc.constant([] as Val[]) : all(patterns.map((i, j) => maybeHostile(fc.constant(CRITERIA[criterion][j === 0 ? 0 : i % CRITERIA[criterion].length]), attack[j]))),
      directives: all(names.map((k, j) => maybeHostile(validValue(k), attack[3 + j]).map((x) => ({ k, ...x })))),
    }),
  );

describe("Match blocks (property)", () => {
  it(`renders ${PLAN["sshd.block"]} generated blocks as one Match line and exactly the intended directives, or refuses naming the attacked fields`, async () => {
    let n = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(block, async (b) => {
        n++;
        const match = b.criterion === "all" ? { all: true } : { [b.criterion]: b.match.map((m) => m.v) };
        const directives = Object.fromEntries(b.directives.map((d) => [d.k, d.v]));
        const r = await check({}, { name: "jail", match, directives, connection: CONNECTION });
        const failures = r.failures ?? [];
        const attacked = [
          ...b.match.flatMap((m, i) => (m.hostile ? [`match.${b.criterion}[${i}]`, `match.${b.criterion}`, "match"] : [])),
          ...b.directives.filter((d) => d.hostile).map((d) => `directives.${d.k}`),
        ];
        if (failures.length) {
          for (const f of failures) expect({ v: JSON.stringify(b), property: f.property, reason: f.reason, attacked: attacked.includes(f.property) }).toMatchObject({ attacked: true });
          return;
        }
        accepted++;
        const i = r.inputs as Record<string, any>;
        const why = blockProblem({ name: i.name, order: i.order, match: i.match, directives: i.directives, subsystemInternalSftp: i.subsystemInternalSftp });
        expect({ block: JSON.stringify(b), why }).toEqual({ block: JSON.stringify(b), why: undefined });
      }),
      params("sshd.block"),
    );
    expect(n).toBe(PLAN["sshd.block"]);
    expect(accepted).toBeGreaterThan(PLAN["sshd.block"] / 10); // the rendering half is exercised, not only refusals
  });
});
