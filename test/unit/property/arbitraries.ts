/**
 * Shared pieces of the property-based tests (fast-check): the hostile-string generator, fixed seeds, and the number
 * of generated cases each property runs. Every property checks at its end that it ran exactly its planned count, so
 * PROPERTY_CASES_PER_RUN (quoted in README.md, asserted by test/unit/readme.counts.test.ts) is what a CI run generates.
 */
import * as fc from "fast-check";
import { FIELDS } from "./fields";

/** One seed for every property: a CI run generates the same cases every time (change it to explore new ones). */
export const SEED = 20261201;

/** Generated cases per property, by name. */
export const PLAN = {
  /** util/shell.ts quote: hostile argument vectors through a real sh. */
  "shell.quote": 400,
  /** util/shell.ts quote: NUL is refused, never passed on truncated. */
  "shell.nul": 100,
  /** every string field of every resource schema, the connection, and the stack config (per field). */
  "schema.field": 40,
  /** the key type: hostile comments and second keys after a real key; accepted ones read back by ssh-keygen. */
  "key.line": 300,
  /** rendered key files: one key per line, as ssh-keygen and the provider's parser read them. */
  "key.file": 100,
  /** rendered Match blocks parsed back: one Match line, exactly the intended directives. */
  "sshd.block": 300,
} as const;
export type PropertyName = keyof typeof PLAN;

/** How many fields the schema property attacks, each with PLAN["schema.field"] cases (see fields.ts). */
export const SCHEMA_FIELDS = FIELDS.length;

/** Every case a run of the property tests generates. */
export const PROPERTY_CASES_PER_RUN =
  PLAN["shell.quote"] + PLAN["shell.nul"] + PLAN["schema.field"] * SCHEMA_FIELDS + PLAN["key.line"] + PLAN["key.file"] + PLAN["sshd.block"];

/** fast-check parameters for one property: fixed seed, planned run count, no time-based behaviour. */
export const params = (name: PropertyName) => ({ seed: SEED, numRuns: PLAN[name], endOnFailure: false });

/**
 * Pieces attackers use: traversal, option injection, shell metacharacters, config-file syntax, control characters,
 * Unicode confusables (fullwidth/Cyrillic letters, look-alike slashes and dots), zero-width and bidi characters.
 */
export const FRAGMENTS: readonly string[] = [
  "..", "../", "/..", "/./", ".", "//", "/", "~", "~root", "-", "--", "-o", "-oProxyCommand=id", "--help", "-rf",
  "$(id)", "`id`", "${IFS}", "$HOME", ";", "|", "&", "&&", "||", ">", "<", ">>", "*", "?", "[", "]", "{", "}", "!", "#", "'", '"', "\\",
  " ", "\t", "\n", "\r", "\r\n", "\0", "\x01", "\x1b[2J", "\x7f", "\x08", "\f", "\v",
  "%", "%h", "%u", "%%", "%s", "%n", "=", ",", "@", ":", "+",
  "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u2066", "\u00a0", "\u3000", "\u0301",
  "\u2215", "\u2044", "\uff0f", "\u29f8", "\u2024", "\uff0e", "\u0430", "\u0435", "\u043e", "\u0455", "\u017f", "\uff53", "\u0131", "\ud83d\ude00",
  "Match all", "\nMatch all\n", "PermitRootLogin yes", "ForceCommand /bin/sh", "ssh-ed25519", "command=\"/bin/sh\" ",
  "root", "etc", "shadow", "/etc/shadow", "/etc/passwd", "/proc/self/root", "sftp-jail:", "flush ruleset", "-j ACCEPT",
];

/** Plain characters a valid value is made of. */
const PLAIN = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789_".split(""));
const plain = fc.string({ unit: PLAIN, minLength: 1, maxLength: 8 });

/** A hostile string: fragments and plain runs, concatenated. */
export const hostileString: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FRAGMENTS) }, { weight: 1, arbitrary: plain }), { minLength: 1, maxLength: 10 })
  .map((parts) => parts.join(""));

/** Over-long values: around the limits the schemas and the OS have (32 names, 64/100 labels, 255, 1024, PATH_MAX). */
export const overlong: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(31, 32, 33, 63, 64, 65, 100, 101, 200, 201, 254, 255, 256, 1024, 1025, 4095, 4096, 4097, 65536), fc.constantFrom("a", "/a", "a-", "%"))
  .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n));

/**
 * Hostile values for a field whose valid example is `valid`: attacks alone, glued before or after a valid value
 * (so they pass a prefix check), and over-long values.
 */
export function hostileFor(valid: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: hostileString },
    { weight: 2, arbitrary: hostileString.map((h) => valid + h) },
    { weight: 2, arbitrary: hostileString.map((h) => h + valid) },
    { weight: 1, arbitrary: fc.tuple(hostileString, hostileString).map(([a, b]) => a + valid + b) },
    { weight: 1, arbitrary: overlong },
  );
}

/** A real-looking ed25519 public key blob (any 32 bytes are a well-formed ed25519 key). */
export const ed25519Blob: fc.Arbitrary<string> = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((k) => {
  const type = Buffer.from("ssh-ed25519");
  const len = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  return Buffer.concat([len(type.length), type, len(32), Buffer.from(k)]).toString("base64");
});

/** Hostile strings of printable ASCII only (what survives a "printable" check: quotes, $(...), options, Match...). */
export const printableHostile: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FRAGMENTS.filter((f) => /^[\x20-\x7e]+$/.test(f))) }, { weight: 1, arbitrary: plain }), { minLength: 1, maxLength: 10 })
  .map((parts) => parts.join(""));
