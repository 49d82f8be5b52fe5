/**
 * Plans are values: an ordered list of steps, each a described shell command built from argument vectors. An empty
 * plan means "no change". Planners are pure functions of (desired state, host facts); only apply runs steps.
 */
import { quote } from "../util/shell";

export interface Step {
  /** What the step does, in words, for logs and previews. */
  readonly description: string;
  /** The command, already quoted. */
  readonly script: string;
}

export type Plan = ReadonlyArray<Step>;

/** A step from one argument vector: the only way planners build commands. */
export function cmd(description: string, argv: ReadonlyArray<string | number>): Step {
  return { description, script: quote(argv) };
}

/** A planner's refusal: the plan cannot be made safely. Carries what was found and the fix. */
export class PlanError extends Error {
  constructor(
    readonly what: string,
    readonly fix: string,
  ) {
    super(what);
    this.name = "PlanError";
  }
}
