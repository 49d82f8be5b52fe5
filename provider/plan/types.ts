/**
 * Plans are values: an ordered list of steps, each a described shell command built from argument vectors. An empty
 * plan means "no change". Planners are pure functions of (desired state, host facts); only apply runs steps.
 */
import { quote } from "../util/shell";
import type { RecordOp } from "../observe/record";
import type { Touches } from "../observe/facts";

/**
 * What a step may change on the host, declared by the planner that builds it. Apply refuses any plan whose effects
 * reach the operator's envelope (plan/envelope.ts), so a step that does not say what it touches cannot exist: the
 * field is required, and `{}` is an explicit "touches no account, group or path".
 */
export type Effects = Touches;

/** The explicit declaration of a step that changes no account, group or path (bookkeeping, checks, reloads). */
export const NO_EFFECTS: Effects = Object.freeze({});

export interface Step {
  /** What the step does, in words, for logs and previews. */
  readonly description: string;
  /** The command, already quoted. */
  readonly script: string;
  /** What it changes on the host; checked against the operator's envelope before anything runs. */
  readonly effects: Effects;
  /**
   * What it creates, rewrites or removes, for the host's record of what sftp-jail created (observe/record.ts): apply
   * updates the record right after the step succeeds, in the same exec, under the host lock.
   */
  readonly record?: readonly RecordOp[];
  /**
   * The step only makes root-owned directories exist (created, or set to root:root and a mode), which no account
   * change alters: when several plans of one exec carry it (users planned on the same snapshot all create the key
   * directory), it runs in the first, and the others skip it once that plan ended well, unless a step in between
   * declares a change at or above one of its directories (apply.ts batchScript).
   */
  readonly shared?: true;
}

export type Plan = ReadonlyArray<Step>;

/** A step from one argument vector: the only way planners build commands. */
export function cmd(description: string, argv: ReadonlyArray<string | number>, effects: Effects, record?: readonly RecordOp[]): Step {
  return { description, script: quote(argv), effects, ...(record?.length ? { record } : {}) };
}

/** The step with record operations added (see {@link Step.record}). */
export function recording(step: Step, ...ops: RecordOp[]): Step {
  return ops.length ? { ...step, record: [...(step.record ?? []), ...ops] } : step;
}

/** A planner's refusal: the plan cannot be made safely. Carries what was found and the fix. */
export class PlanError extends Error {
  constructor(
    readonly what: string,
    readonly fix: string,
    /** The input the refusal is about, when one is (for `check` failures at preview). */
    readonly property?: string,
  ) {
    super(what);
    this.name = "PlanError";
  }
}
