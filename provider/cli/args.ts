/**
 * What the command-line tools share: arguments parsed by Node's own `util.parseArgs` (no hand-written scanner), one
 * error type for a command line that cannot be used, and exit codes scripts can rely on:
 *
 *   0  the tool did its job          1  it ran and something failed (its output says what)
 *   2  usage error: nothing was done (the usage follows the message on stderr); `--help` prints it on stdout, exits 0
 */
import { parseArgs } from "util";

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/**
 * The `--parallel` sftp-jail runs Pulumi with (sftp-jail-rollout; the README tells `pulumi up` users the same; the
 * bench uses it). Pulumi's default is 4 per CPU (8 on a 2-core machine), and a step holds its slot while its Create
 * waits for its host's exec, so 8 slots capped a 10-host converge at ~9 resources a second; with 64, the resources
 * of a host that are ready together share one exec. Measured (10 hosts, 2 cores): 8 → 41 s, 32 → 38 s, 64 → 33–35 s,
 * 128 → 38 s, 256 → 43 s (more slots, more CPU contention).
 */
export const DEFAULT_PARALLEL = 64;

/** The command line itself is wrong: the tool did nothing. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>["options"];

/** One option as given, in command-line order (what lets `migrate` apply options to the --host before them). */
export interface OptionToken {
  name: string;
  /** As typed (`--port`), for messages. */
  raw: string;
  /** undefined for a flag. */
  value?: string;
}

/** Parses `argv` strictly against `options`; every problem is a {@link UsageError} in plain words. */
export function optionTokens(argv: string[], options: Options): OptionToken[] {
  let tokens: Array<{ kind: string; name?: string; rawName?: string; value?: string }>;
  try {
    ({ tokens } = parseArgs({ args: argv, options, strict: true, allowPositionals: false, tokens: true }));
  } catch (e) {
    throw new UsageError(plainMessage(e as Error & { code?: string }));
  }
  return tokens.flatMap((t) => (t.kind === "option" ? [{ name: t.name!, raw: t.rawName!, value: t.value }] : []));
}

/** Node's messages, shortened to what a person needs (they differ a little between Node versions). */
function plainMessage(e: Error & { code?: string }): string {
  const option = /'(-{1,2}[^' <=]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option ?? e.message}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /does not take/.test(e.message) ? `${option} takes no value` : `${option} needs a value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const arg = /argument '([^']*)'/.exec(e.message)?.[1] ?? e.message;
      return `unexpected argument "${arg}" (every argument is an --option)`;
    }
    default:
      return e.message;
  }
}

/** A whole number in [min, max] given to `option`. */
export function wholeNumber(option: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < min || Number(value) > max) {
    const range = max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : min > 0 ? ` of at least ${min}` : "";
    throw new UsageError(`${option} takes a whole number${range}, got "${value}"`);
  }
  return Number(value);
}

/** `--help`/`-h` anywhere before a `--` (checked before parsing, so help works even next to a mistake). */
export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

export interface Cli<T> {
  name: string;
  usage: string;
  parse(argv: string[]): T;
  /** Resolves to the exit code. */
  run(options: T): Promise<number>;
}

/** Runs a CLI: help, usage errors and failures mapped to {@link EXIT}. */
export function main<T>(cli: Cli<T>, argv = process.argv.slice(2)): void {
  if (wantsHelp(argv)) {
    process.stdout.write(cli.usage, () => process.exit(EXIT.OK));
    return;
  }
  let options: T;
  try {
    options = cli.parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${cli.name}: ${e.message}\n\n${cli.usage}`, () => process.exit(EXIT.USAGE));
    return;
  }
  cli.run(options).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${cli.name}: ${(e as Error).message}\n`, () => process.exit(EXIT.FAILED));
    },
  );
}
