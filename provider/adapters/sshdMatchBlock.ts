/**
 * SshdMatchBlock adapter: schema + the provider methods, wired observe → plan → applyGuarded. Runs in the
 * dynamic-provider process; the resource class (resources/sshdMatchBlock.ts) only points Pulumi at this module.
 *
 * Drift is read from OUR drop-in file (we render it, so we can parse it exactly), and the Subsystem wish is checked
 * against `sshd -T` (OpenSSH's own view), so `pulumi preview --refresh` shows the field that was edited by hand.
 */
import type * as pulumi from "@pulumi/pulumi";
import { isIP } from "net";
import { z } from "zod";
import { observe } from "../observe/snapshot";
import { HostFacts } from "../observe/facts";
import { apply } from "../apply/apply";
import { applyGuarded } from "../apply/guarded";
import { Session } from "../connection/pool";
import { BlockPlan, InPlace, Operator, blockContent, findAdoptable, foreignBlockProblem, foreignBlocks, planBlock, planBlockDelete, planInPlace, planInPlaceRestore } from "../plan/sshd";
import { blocksFor, findMatchBlocks, matchLabel, sameCriteria } from "../plan/sshdAdopt";
import { BlockDesired, DIRECTIVES, DIRECTIVE_NAMES, MAIN_CONFIG, MatchCriteria, blockPath, parseBlock, renderCriteria, splitRegion } from "../plan/sshdRender";
import { BANNER_RULE, hostPathProblem, isBannerPath, jailProblem, port } from "../schema/common";
import { SftpJailError } from "../util/errors";
import { createdBlock, ownedBy } from "../observe/record";
import { log } from "../util/log";
import { OWNER_KEY, checkInputs, containsUnknown, lookAtHost, ownerOf, parseKnown, planOrThrow, sameConnection, sessionFor, sessionForChange } from "./base";

// ---- Schema ----------------------------------------------------------------------------------------------------------

/** A pattern-list criterion: tokens matching `re`, `!` negation allowed, at least one positive pattern. */
function patternList(what: string, re: RegExp, allowed: string) {
  return z
    .array(
      z
        .string({ error: `match.${what} entries must be strings` })
        .min(1, { error: `match.${what} entries must not be empty` })
        .max(255, { error: `match.${what} entries must be at most 255 characters` })
        .regex(re, { error: `match.${what} entries may contain only ${allowed}, with an optional leading "!" to negate` }),
      { error: `match.${what} must be a list of patterns, e.g. ["sftp"]` },
    )
    .min(1, { error: `match.${what} must list at least one pattern (omit it to not match on ${what})` })
    .refine((l) => l.some((t) => !t.startsWith("!")), {
      error: `match.${what} has only negated patterns, which OpenSSH never matches; add a positive one, e.g. ["*", "!admin"]`,
    });
}

const NAMEPAT = /^!?[A-Za-z0-9_.*?][A-Za-z0-9_.*?-]*$/;
const HOSTPAT = /^!?[A-Za-z0-9.*?-]+$/;
const ADDRPAT = /^!?(?:[0-9A-Fa-f:.*?]+|[0-9A-Fa-f:.]+\/[0-9]{1,3})$/;

/** Why an address pattern is not one OpenSSH can use, or undefined: CIDRs and literal addresses must be real ones. */
export function addressProblem(raw: string): string | undefined {
  const p = raw.replace(/^!/, "");
  if (/[*?]/.test(p)) return undefined; // wildcard patterns are matched as text
  const [addr, prefix, extra] = p.split("/");
  const family = isIP(addr);
  if (!family || extra !== undefined) return `"${raw}" is not an IP address or CIDR prefix`;
  if (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128))) {
    return `"${raw}" has a prefix length above ${family === 4 ? 32 : 128}`;
  }
  return undefined;
}

const addressList = (what: string) =>
  patternList(what, ADDRPAT, "IP addresses with wildcards * ?, or CIDR prefixes").superRefine((l, ctx) => {
    l.forEach((a, i) => {
      const why = addressProblem(a);
      if (why) ctx.addIssue({ code: "custom", path: [i], message: `match.${what}: ${why}` });
    });
  });

const CRITERIA_KEYS = ["all", "User", "Group", "Host", "LocalAddress", "LocalPort", "Address"];

/** The Match criteria; all given ones must hold. */
export const matchSchema = z
  .strictObject(
    {
      all: z.literal(true, { error: "match.all must be true (omit it otherwise)" }).optional(),
      User: patternList("User", NAMEPAT, "letters, digits, _ . - and the wildcards * ?").optional(),
      Group: patternList("Group", NAMEPAT, "letters, digits, _ . - and the wildcards * ?").optional(),
      Host: patternList("Host", HOSTPAT, "letters, digits, . - and the wildcards * ?").optional(),
      LocalAddress: addressList("LocalAddress").optional(),
      LocalPort: port("match.LocalPort").optional(),
      Address: addressList("Address").optional(),
    },
    { error: (i) => (i.code === "unrecognized_keys" ? `unknown Match criterion; allowed: ${CRITERIA_KEYS.join(", ")}` : undefined) },
  )
  .refine((m) => CRITERIA_KEYS.some((k) => (m as Record<string, unknown>)[k] !== undefined), {
    error: `match needs at least one criterion (${CRITERIA_KEYS.join(", ")}); use { all: true } to match every connection`,
  })
  .refine((m) => !m.all || Object.keys(m).length === 1, { error: "match.all cannot be combined with other criteria" });

const SAFE_TEXT = /^[^\n\r#"'\\]*$/;

/**
 * Why one path value of a directive is refused, or undefined. Every path value goes through the one host-path type
 * (schema/common.ts): sshd's tokens are first replaced by stand-ins of the same shape (%u: a user name, %U: a uid;
 * %h only as the whole first component, since it expands to an absolute path), then the result must be an absolute,
 * normalised host path, then the directive's own prefix rule applies. So `%h/../..`, `/etc/sftp-jail/../shadow` and
 * `ChrootDirectory /` are all refused as written.
 */
export function directivePathProblem(key: string, raw: string, tokens: boolean): string | undefined {
  if (!tokens && raw.includes("%")) return `${key} does not expand % tokens`;
  if (/%(?![hUu])/.test(raw)) return `${key} may use only the tokens %h, %u and %U`;
  if (/.%h/.test(raw) || /^%h[^/]/.test(raw)) return `${key} may use %h only at the start, as in %h or %h/sub (it expands to the home directory)`;
  const home = raw.startsWith("%h");
  // AuthorizedKeysFile: a relative path is relative to the home directory, like %h/.
  const relative = DIRECTIVES[key]?.kind === "paths" && !home && !raw.startsWith("/");
  const path = (home ? "/home/u" + raw.slice(2) : relative ? "/home/u/" + raw : raw).replace(/%u/g, "u").replace(/%U/g, "1000");
  const problem = hostPathProblem(key, path);
  if (problem) return home || relative ? problem.replace(/an absolute path/, "an absolute path (or start with %h)") : problem;
  return PATH_RULES[key]?.(path, home || relative);
}

/** The allowed-prefix rule of each path directive, for a value that is already a normalised host path. */
const PATH_RULES: Record<string, (p: string, inHome: boolean) => string | undefined> = {
  // "/" (or anything the host needs) as a chroot is no confinement at all; a jail is a jail path, or under %h.
  ChrootDirectory: (p, inHome) =>
    p === "/" ? "ChrootDirectory / is no confinement at all: use %h or a jail path such as /srv/sftp/%u" : inHome ? undefined : jailProblem("ChrootDirectory", p),
  // sshd (root) sends the Banner file to every matching client before authentication: only banner files. At apply
  // time the file must also be a root-owned regular file in a root-owned directory chain (plan/sshd.ts).
  Banner: (p) => (isBannerPath(p) ? undefined : BANNER_RULE),
  // AuthorizedKeysFile: sshd opens these with the user's own privileges, so any normalised path is harmless to root.
};

/** Checks one directive value against its kind; returns the normalised value or a reason. */
function directiveValue(key: string, raw: string | boolean): { value: string } | { reason: string } {
  const spec = DIRECTIVES[key];
  let v = typeof raw === "boolean" ? (raw ? "yes" : "no") : raw;
  if (v === "" || v.trim() !== v) return { reason: `${key} must not be empty or start/end with spaces` };
  if (!SAFE_TEXT.test(v)) return { reason: `${key} must not contain newlines, "#", quotes or backslashes (sshd_config cannot carry them safely)` };
  switch (spec.kind) {
    case "enum":
      v = v.toLowerCase();
      return spec.values.includes(v) ? { value: v } : { reason: `${key} must be one of ${spec.values.join(", ")}` };
    case "path":
    case "paths": {
      if (v === "none") return { value: v };
      const entries = spec.kind === "paths" ? v.split(" ") : [v];
      for (const e of entries) {
        const problem = directivePathProblem(key, e, spec.kind === "paths" || spec.tokens);
        if (problem) return { reason: problem };
      }
      return { value: v };
    }
    case "patterns":
      return /^!?[A-Za-z0-9._*?@-]+( !?[A-Za-z0-9._*?@-]+)*$/.test(v)
        ? { value: v }
        : { reason: `${key} must be user/group patterns of letters, digits and ._-*?@ (optionally starting with !), separated by single spaces` };
    case "command":
      return /^[A-Za-z0-9._@+=,/%:-]+( [A-Za-z0-9._@+=,/%:-]+)*$/.test(v)
        ? { value: v }
        : { reason: `${key} must be a command of letters, digits and ._@+=,/%:- separated by single spaces, e.g. "internal-sftp -d /upload" (no shell metacharacters)` };
  }
}

/** Directives: OpenSSH keywords (exact spelling) → value; booleans become yes/no. */
export const directivesSchema = z
  .record(z.string(), z.union([z.string(), z.boolean()], { error: "directive values must be strings (or booleans for yes/no)" }), {
    error: 'directives must be an object of sshd keywords to values, e.g. { ChrootDirectory: "%h", ForceCommand: "internal-sftp" }',
  })
  .transform((dirs, ctx) => {
    const out: Record<string, string> = {};
    for (const [k, raw] of Object.entries(dirs)) {
      if (!DIRECTIVES[k]) {
        const near = DIRECTIVE_NAMES.find((n) => n.toLowerCase() === k.toLowerCase());
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: near
            ? `"${k}" must be spelled ${near}`
            : `"${k}" is not a keyword sftp-jail allows inside a Match block; allowed: ${DIRECTIVE_NAMES.join(", ")}`,
        });
        continue;
      }
      const r = directiveValue(k, raw);
      if ("reason" in r) ctx.addIssue({ code: "custom", path: [k], message: r.reason });
      else out[k] = r.value;
    }
    if (Object.keys(out).length === 0 && Object.keys(dirs).length === 0) {
      ctx.addIssue({ code: "custom", message: "directives must set at least one keyword" });
    }
    return out;
  });

/** The schema: the single source of truth for SshdMatchBlock's inputs, defaults and messages. */
export const sshdMatchBlockShape = {
  /** Names the block on the host (its file is /etc/ssh/sshd_config.d/NN-sftp-jail-<name>.conf). */
  name: z
    .string({ error: "name must be a string" })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "name must be 1-64 letters, digits, _ or - (it becomes part of a file name); set name explicitly" }),
  /** 0–99; lower is read first, and for a keyword several matching blocks set, the lowest order wins. */
  order: z
    .number({ error: "order must be a number" })
    .int({ error: "order must be a whole number" })
    .min(0, { error: "order must be between 0 and 99" })
    .max(99, { error: "order must be between 0 and 99" })
    .default(50),
  match: matchSchema,
  directives: directivesSchema,
  /** Make sure `Subsystem sftp internal-sftp` is set on the host while this block exists. */
  subsystemInternalSftp: z.boolean({ error: "subsystemInternalSftp must be true or false" }).default(true),
};
const fieldsSchema = z.strictObject(sshdMatchBlockShape);
type Fields = z.output<typeof fieldsSchema>;

/** What state keeps: inputs as normalised, plus where the block lives and what was written. */
interface Outputs extends Fields {
  connection: unknown;
  /** The drop-in file (for a block adopted in place: the file that holds it). */
  path: string;
  /** Its content as written (for a block adopted in place: the block's text). */
  content: string;
  /** The stack that manages the block (`<project>/<stack>`, written in its header), when the program said. */
  [OWNER_KEY]?: string;
  /**
   * Set when the block is a hand-written one adopted where it was (see plan/sshdAdopt.ts): its file, the admin's
   * original text (destroy puts it back) and the text sftp-jail last left.
   */
  inPlace?: InPlace;
}

export const TYPE = "SshdMatchBlock";
export { OWNER_KEY };
const label = (name: string) => `${TYPE} "${name}"`;
const FIELD_KEYS = ["name", "order", "match", "directives", "subsystemInternalSftp"] as const;

function fields(o: Record<string, unknown>): Fields {
  return parseKnown(fieldsSchema, Object.fromEntries(FIELD_KEYS.map((k) => [k, o[k]])), label(String(o.name)));
}
/** The schema's fields of a desired block (without the stack identity, which state keeps under OWNER_KEY). */
const fieldsOf = ({ owner: _owner, ...f }: Fields & { owner?: string }): Fields => f;
const ownerField = (owner: string | undefined) => (owner ? { [OWNER_KEY]: owner } : {});

/** The operator: who logs in, and which methods its connection can use (the change must keep one of them working). */
function operatorOf(s: Session): Operator {
  const auth: Array<"publickey" | "password"> = [];
  if (s.conn.privateKey || s.conn.privateKeyFile || s.conn.agentSocketPath) auth.push("publickey");
  if (s.conn.password) auth.push("password");
  return { user: s.conn.user, auth };
}

/** JSON with sorted keys, for comparing normalised values. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

// ---- Provider methods -----------------------------------------------------------------------------------------------

export async function check(_olds: unknown, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const { inputs, failures } = checkInputs(sshdMatchBlockShape, news);
  if (failures.length || containsUnknown(inputs.connection) || containsUnknown(inputs.name) || containsUnknown(inputs.order)) return { inputs, failures };
  // The preview-time look: the host's preconditions, and a block of this name that another stack wrote there.
  const name = String(inputs.name);
  const { failures: hostFailures, look } = await lookAtHost(inputs.connection, label(name), {});
  failures.push(...hostFailures);
  const foreign = look && foreignBlockProblem(name, ownerOf(inputs), look.facts);
  if (foreign) failures.push({ property: "name", reason: `${foreign.what} on ${look!.s.target}. Fix: ${foreign.fix}` });
  return { inputs, failures };
}

/**
 * Which fields changed. Dynamic providers cannot return a detailed diff; the engine shows the changed input paths
 * itself (old inputs from state, refreshed by read(), against the program's), e.g. `directives.X11Forwarding`.
 */
export async function diff(_id: string, olds: Outputs, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const changed = FIELD_KEYS.filter((k) => containsUnknown(news[k]) || stable(news[k]) !== stable(olds[k]));
  // Another host is another block: create it there, then delete it here.
  const oc = (olds.connection ?? {}) as Record<string, unknown>;
  const nc = news.connection as Record<string, unknown> | undefined;
  const moved = containsUnknown(nc) || !nc || nc.host !== oc.host || nc.port !== oc.port;
  // Same host, other credentials: an update that changes nothing on the host but keeps state's connection current.
  const creds = !sameConnection(olds.connection, news.connection);
  return { changes: changed.length > 0 || moved || creds, replaces: moved ? ["connection"] : [], deleteBeforeReplace: false };
}

/** Runs a guarded plan, then drops its backups; a refusal gets a fix that fits it. */
async function run(s: Session, d: { name: string; owner?: string }, plan: BlockPlan): Promise<void> {
  const resource = label(d.name);
  try {
    await applyGuarded({ session: s, resource, owner: d.owner }, { steps: plan.steps, revert: plan.revert, what: `the sshd configuration with ${plan.path}` });
  } catch (e) {
    if (e instanceof SftpJailError && /would un-jail/.test(e.what)) {
      throw new SftpJailError(
        { host: `${s.conn.host}:${s.conn.port}`, resource },
        e.what,
        "a jailed account must stay jailed: give a block that loosens a keyword for jailed accounts a higher order than the jail's block (or narrow its match so it does not cover them); to remove a jail, delete its JailedUsers first (they depend on the block)",
      );
    }
    if (e instanceof SftpJailError && /lock the operator out|sshd -t refused|SSH_CONNECTION/.test(e.what)) {
      throw new SftpJailError(
        { host: `${s.conn.host}:${s.conn.port}`, resource },
        e.what,
        `narrow match so it does not cover the operator "${s.conn.user}" (e.g. a Group the operator is not in), or drop the directive named above`,
      );
    }
    throw e;
  }
  if (plan.steps.length) await apply({ session: s, resource }, plan.cleanup);
}

/** The edit step's refusal when the file changed since it was observed (see editStep in plan/sshd.ts). */
const STALE = /changed while sftp-jail was planning/;

/**
 * Observes, plans and runs; when the plan was made on facts another change on this host has since made stale (blocks
 * of a host without Include share the main file, and Pulumi runs them in parallel), observes again and re-plans. The
 * stale plan changed nothing: its first step is the check that refused it.
 */
async function converge<P extends BlockPlan>(s: Session, d: { name: string }, make: (facts: HostFacts) => P): Promise<P> {
  for (let attempt = 1; ; attempt++) {
    const facts = await observe(s);
    const plan = planOrThrow(s, label(d.name), () => make(facts));
    try {
      await run(s, d, plan);
      return plan;
    } catch (e) {
      if (attempt >= 5 || !(e instanceof SftpJailError && STALE.test(e.what))) throw e;
      log.debug(`${label(d.name)} on ${s.target}: sshd_config changed while planning (another block's change); planning again`);
    }
  }
}

export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const d = { ...fields(inputs), owner: ownerOf(inputs) };
  const s = await sessionForChange(inputs.connection, label(d.name));
  let hand: ReturnType<typeof findAdoptable>;
  let found: "recorded" | "named" | undefined;
  const plan = await converge(s, d, (facts) => {
    // Our own block first (a lost state); else a hand-written block with the same criteria is adopted where it is.
    // (A comment-only marker left by an earlier in-place adoption is not a block: the hand-written one is adopted again.)
    // (Another stack's block of this name is refused by the planners, naming that stack.)
    const mine = blockContent(facts, blockPath(d.name, d.order));
    const own = mine !== undefined && findMatchBlocks(mine).length > 0;
    found = own ? (createdBlock(ownedBy(facts, d.owner), blockPath(d.name, d.order)) ? "recorded" : "named") : undefined;
    hand = own ? undefined : findAdoptable(d as BlockDesired, facts);
    return hand ? planInPlace(d as BlockDesired, facts, operatorOf(s), { file: hand.file, original: hand.block.text }) : planBlock(d as BlockDesired, facts, operatorOf(s));
  });
  log.info(
    hand
      ? `${label(d.name)} on ${s.conn.host}:${s.conn.port}: adopted the hand-written "${matchLabel(d.match as MatchCriteria)}" block in ${hand!.file} (line ${hand!.block.start + 1}) in place, ${plan.steps.length ? "editing only the lines that differ" : "unchanged"}`
      : `${label(d.name)} on ${s.conn.host}:${s.conn.port}: Match ${renderCriteria(d.match as MatchCriteria)} in ${plan.path}${
          found === "recorded"
            ? " (took back the block that sftp-jail wrote: the host's record says so; this stack's state did not know it)"
            : found === "named"
              ? " (the block was there already, under sftp-jail's name though not in the host's record: taken as sftp-jail's)"
              : ""
        }`,
  );
  const inPlace: InPlace | undefined = "inPlace" in plan ? (plan.inPlace as InPlace | undefined) : undefined;
  const outs: Outputs = { ...fieldsOf(d), connection: inputs.connection, path: plan.path, content: plan.content, ...(inPlace ? { inPlace } : {}), ...ownerField(d.owner) };
  return { id: inPlace ? `${inPlace.file}#${matchLabel(d.match as MatchCriteria)}` : plan.path, outs };
}

/** Drift of a block adopted in place, read from the file that holds it (found again by its criteria). */
function readInPlace(props: Outputs & { inPlace: InPlace }, facts: Awaited<ReturnType<typeof observe>>): Outputs | undefined {
  const at = props.inPlace;
  const main = facts.sshd.main?.content;
  const text = at.file === MAIN_CONFIG ? (main === undefined ? undefined : splitRegion(main).rest) : facts.sshd.dropins.find((f) => f.path === at.file)?.content;
  const found = text === undefined ? [] : blocksFor(text, props.match as MatchCriteria);
  if (found.length !== 1) return undefined;
  const subsystem = (facts.sshd.effective.subsystem ?? []).some((v) => /^sftp\s+internal-sftp(\s|$)/.test(v));
  return { ...props, directives: found[0].directives, subsystemInternalSftp: props.subsystemInternalSftp && subsystem, content: found[0].text };
}

export async function read(id: string, props?: Outputs): Promise<pulumi.dynamic.ReadResult> {
  if (!props) throw new Error(`${TYPE} ${id}: cannot read without prior state (import is not supported by dynamic providers)`);
  const s = sessionFor(props.connection, label(props.name));
  const facts = await observe(s);
  if (props.inPlace) {
    const outs = readInPlace(props as Outputs & { inPlace: InPlace }, facts);
    if (!outs) return {}; // the hand-written block is gone: refresh drops it and the next up writes our own drop-in
    const { name, order, match, directives, subsystemInternalSftp } = outs;
    return { id, props: outs, inputs: { name, order, match, directives, subsystemInternalSftp, connection: props.connection } };
  }
  const content = blockContent(facts, props.path);
  if (content === undefined) return {}; // removed by hand: refresh drops it and the next up writes it again
  if (!facts.sshd.valid) log.warn(`${label(props.name)} on ${s.target}: sshd -t fails on the current configuration: ${facts.sshd.error}`);
  const parsed = parseBlock(content);
  // Our header says what the block asked for; sshd -T says whether the host really has it.
  const subsystem = (facts.sshd.effective.subsystem ?? []).some((v) => /^sftp\s+internal-sftp(\s|$)/.test(v));
  const inputs = {
    name: props.name,
    order: props.order,
    match: parsed.match as Fields["match"],
    directives: parsed.directives,
    subsystemInternalSftp: parsed.wantsSubsystem && subsystem,
    connection: props.connection,
  };
  const outs: Outputs = { ...props, ...inputs, content };
  return { id, props: outs, inputs };
}

export async function update(_id: string, olds: Outputs, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const d = { ...fields(news), owner: ownerOf(news) };
  const s = await sessionForChange(news.connection, label(d.name));
  const previous = { name: olds.name, order: olds.order };
  let at = olds.inPlace;
  if (at && !sameCriteria(olds.match as Record<string, unknown>, d.match as Record<string, unknown>)) {
    // New criteria: the adopted block is the admin's again (as it was), and this block gets its own drop-in.
    const was = at;
    await converge(s, d, (facts) => planInPlaceRestore(olds, facts, operatorOf(s), was));
    at = undefined;
  }
  const plan = await converge(s, d, (facts) =>
    at ? planInPlace(d as BlockDesired, facts, operatorOf(s), at, previous) : planBlock(d as BlockDesired, facts, operatorOf(s), previous),
  );
  const inPlace: InPlace | undefined = "inPlace" in plan ? (plan.inPlace as InPlace | undefined) : undefined;
  const outs: Outputs = { ...fieldsOf(d), connection: news.connection, path: plan.path, content: plan.content, ...(inPlace ? { inPlace } : {}), ...ownerField(d.owner) };
  return { outs };
}

async function remove(_id: string, props: Outputs): Promise<void> {
  const s = await sessionForChange(props.connection, label(props.name));
  // A file of this name that another stack's block now holds is that stack's: this destroy leaves it.
  const foreign = foreignBlocks(props.name, props[OWNER_KEY], await observe(s)).find((f) => f.path === (props.inPlace ? blockPath(props.name, props.order) : props.path));
  if (foreign) {
    log.warn(`${label(props.name)} on ${s.target}: ${foreign.path} now holds the block of stack ${foreign.owner}; leaving it to that stack`);
    return;
  }
  await converge(s, props, (facts) =>
    props.inPlace ? planInPlaceRestore(props, facts, operatorOf(s), props.inPlace) : planBlockDelete(props.name, props.order, facts, operatorOf(s)),
  );
}
export { remove as delete };
