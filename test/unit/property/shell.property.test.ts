/**
 * util/shell.ts `quote` — the one way a command reaches a host — against a real POSIX sh: for generated hostile
 * argument vectors, `printf '%s\0' <quoted argv>` run by sh prints exactly the intended arguments, nothing split,
 * expanded, globbed, redirected or executed. All cases go through one sh process (fast and deterministic).
 */
import * as fc from "fast-check";
import { all, quote, quoteArg } from "../../../provider/util/shell";
import { PLAN, hostileString, overlong, params } from "./arbitraries";
import { shellArgv, printer } from "./render";

const noNul = (s: string) => s.replace(/\0/g, "");
const arg = fc.oneof({ weight: 6, arbitrary: hostileString.map(noNul) }, { weight: 1, arbitrary: overlong }, { weight: 1, arbitrary: fc.constant("") });

describe("quote through a real sh (property)", () => {
  it(`passes ${PLAN["shell.quote"]} generated hostile argument vectors through sh unchanged`, () => {
    const cases = fc.sample(fc.array(arg, { minLength: 1, maxLength: 6 }), params("shell.quote"));
    expect(cases).toHaveLength(PLAN["shell.quote"]);
    // Every other case is chained with `all` (a && b), as planners chain steps.
    const lines = cases.map((argv, i) => (i % 2 ? all(["true"], ["printf", "%s\\0", String(argv.length), ...argv]) : printer(argv)));
    expect(shellArgv(lines)).toEqual(cases);
  });

  it(`refuses NUL in ${PLAN["shell.nul"]} generated arguments (a shell cannot carry it; truncating would change the command)`, () => {
    let n = 0;
    fc.assert(
      fc.property(fc.tuple(hostileString, hostileString), ([a, b]) => {
        n++;
        expect(() => quoteArg(`${a}\0${b}`)).toThrow(/NUL/);
        expect(() => quote(["echo", a.replace(/\0/g, ""), `${b}\0`])).toThrow(/NUL/);
      }),
      params("shell.nul"),
    );
    expect(n).toBe(PLAN["shell.nul"]);
  });
});
