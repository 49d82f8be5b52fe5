/**
 * The counts README.md quotes are the suites' real counts: a suite that loses rows fails here instead of quietly
 * shrinking under an unchanged README. One row per quoted count: the README phrase (its number captured) and how the
 * real count is computed. A new suite adds one line to COUNTS.
 */
import * as fs from "fs";
import * as path from "path";
import { CASES } from "../e2e/programs/hostile/cases";
import { PROPERTY_CASES_PER_RUN } from "./property/arbitraries";

const ROOT = path.join(__dirname, "..", "..");
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
const source = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");

/** Occurrences of `re` inside the first `[ ... ];` array literal that follows `start` in a source file. */
function countInArray(rel: string, start: string, re: RegExp): number {
  const text = source(rel);
  const at = text.indexOf(start);
  if (at < 0) throw new Error(`${rel}: "${start}" not found`);
  const open = text.indexOf("[", at + start.length - 1);
  let depth = 0;
  let end = open;
  for (; end < text.length; end++) {
    if (text[end] === "[") depth++;
    else if (text[end] === "]" && --depth === 0) break;
  }
  return (text.slice(open, end).match(new RegExp(re.source, "g")) ?? []).length;
}

/** A numeric constant of a test file (`const NAME = 30;`). */
function constant(rel: string, name: string): number {
  const m = new RegExp(`const ${name} = (\\d+);`).exec(source(rel));
  if (!m) throw new Error(`${rel}: const ${name} not found`);
  return Number(m[1]);
}

interface Count {
  /** A README phrase with exactly one capture group: the quoted number. */
  readme: RegExp;
  /** The real count. */
  actual: () => number;
  /**
   * The README does not quote this count yet (the lead adds the sentence at merge): checked once the phrase is there;
   * remove `pending` in the same change that adds the phrase.
   */
  pending?: true;
}

const COUNTS: Record<string, Count> = {
  "hostile cases (test/e2e/programs/hostile/cases.ts)": { readme: /`test\/e2e\/hostile\.test\.ts`: (\d+) hostile cases/, actual: () => CASES.length },
  "lockout scenarios (test/e2e/lockout.test.ts)": { readme: /`test\/e2e\/lockout\.test\.ts`: (\d+) scenarios/, actual: () => countInArray("test/e2e/lockout.test.ts", "const scenarios: Scenario[] = [", /\btitle:/) },
  "parallel Match blocks (test/e2e/parallel.test.ts)": { readme: /one host, (\d+) Match blocks and \d+ users/, actual: () => constant("test/e2e/parallel.test.ts", "BLOCKS") },
  "parallel users (test/e2e/parallel.test.ts)": { readme: /one host, \d+ Match blocks and (\d+) users/, actual: () => constant("test/e2e/parallel.test.ts", "USERS") },
  "rollout hosts a failed canary leaves untouched (test/e2e/rollout.test.ts)": {
    readme: /a failing canary leaves the (\d+) other hosts unchanged/,
    actual: () => Number(/Array\.from\(\{ length: (\d+) \}/.exec(source("test/e2e/rollout.test.ts"))?.[1] ?? 0) - 1,
  },
  "property-based cases per run (test/unit/property/)": { readme: /(\d+) generated property cases/, actual: () => PROPERTY_CASES_PER_RUN },
};

describe("the counts README.md quotes", () => {
  it.each(Object.entries(COUNTS))("%s", (_what, c) => {
    const m = c.readme.exec(README);
    if (!m) {
      if (c.pending) return;
      throw new Error(`README.md no longer quotes ${c.readme}; update the row in test/unit/readme.counts.test.ts`);
    }
    expect(Number(m[1])).toBe(c.actual());
    // Quoted once: a second, stale copy of the same phrase would go unchecked.
    expect(README.match(new RegExp(c.readme.source, "g"))).toHaveLength(1);
  });

  it("the counters themselves count (a parse that finds nothing would pass for an empty suite)", () => {
    for (const c of Object.values(COUNTS)) expect(c.actual()).toBeGreaterThan(0);
  });
});
