/**
 * SshdMatchBlock adapter: schema + the provider methods, wired observe → plan → applyGuarded. Runs in the
 * dynamic-provider process; the resource class (resources/sshdMatchBlock.ts) only points Pulumi at this module.
 *
 * Drift is read from OUR drop-in file (we render it, so we can parse it exactly), and the Subsystem wish is checked
 * against `sshd -T` (OpenSSH's own view), so `pulumi preview --refresh` shows the field that was edited by hand.
 */
import type * as pulumi from "@pulumi/pulumi";
import { observe } from "../observe/snapshot";
import { HostFacts } from "../observe/facts";
import { apply } from "../apply/apply";
import { applyGuarded } from "../apply/guarded";
import { Session } from "../connection/pool";
import { BlockPlan, Operator, blockContent, foreignBlockProblem, foreignBlocks, planBlock, planBlockDelete } from "../plan/sshd";
import { InPlace, findAdoptable, planInPlace, planInPlaceRestore } from "../plan/sshdInPlace";
import { blocksFor, findMatchBlocks, matchLabel, sameCriteria } from "../plan/sshdAdopt";
import { MAIN_CONFIG, blockPath, parseBlock, renderCriteria, splitRegion } from "../plan/sshdRender";
import { SshdMatchBlockFields, sshdMatchBlockSchema, sshdMatchBlockShape } from "../schema/sshdMatchBlock";
import { SftpJailError } from "../util/errors";
import { createdBlock, ownedBy } from "../observe/record";
import { log } from "../util/log";
import { OWNER_KEY, checkInputs, containsUnknown, lookAtHost, ownerOf, parseKnown, planOrThrow, sameConnection, sameMachine, sessionFor, sessionForChange } from "./base";

export { sshdMatchBlockShape };
const fieldsSchema = sshdMatchBlockSchema;
type Fields = SshdMatchBlockFields;

/** What state keeps: inputs as normalised, plus where the block lives and what was written. */
export interface SshdMatchBlockState extends Fields {
  /** How the host is reached (kept encrypted in state). */
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

export { TYPE } from "../schema/sshdMatchBlock";
import { TYPE } from "../schema/sshdMatchBlock";
export { OWNER_KEY };
const label = (name: string) => `${TYPE} "${name}"`;
/** The schema's fields (not the stack identity, which is no field). */
const FIELD_KEYS = Object.keys(sshdMatchBlockShape) as (keyof Fields)[];

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
export async function diff(_id: string, olds: SshdMatchBlockState, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const changed = FIELD_KEYS.filter((k) => containsUnknown(news[k]) || stable(news[k]) !== stable(olds[k]));
  // Another machine is another block: create it there, then delete it here (base.ts sameMachine).
  const moved = !news.connection || !sameMachine(olds.connection, news.connection);
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
    hand = own ? undefined : findAdoptable(d, facts);
    return hand ? planInPlace(d, facts, operatorOf(s), { file: hand.file, original: hand.block.text }) : planBlock(d, facts, operatorOf(s));
  });
  log.info(
    hand
      ? `${label(d.name)} on ${s.conn.host}:${s.conn.port}: adopted the hand-written "${matchLabel(d.match)}" block in ${hand!.file} (line ${hand!.block.start + 1}) in place, ${plan.steps.length ? "editing only the lines that differ" : "unchanged"}`
      : `${label(d.name)} on ${s.conn.host}:${s.conn.port}: Match ${renderCriteria(d.match)} in ${plan.path}${
          found === "recorded"
            ? " (took back the block that sftp-jail wrote: the host's record says so; this stack's state did not know it)"
            : found === "named"
              ? " (the block was there already, under sftp-jail's name though not in the host's record: taken as sftp-jail's)"
              : ""
        }`,
  );
  const inPlace: InPlace | undefined = "inPlace" in plan ? (plan.inPlace as InPlace | undefined) : undefined;
  const outs: SshdMatchBlockState = { ...fieldsOf(d), connection: inputs.connection, path: plan.path, content: plan.content, ...(inPlace ? { inPlace } : {}), ...ownerField(d.owner) };
  return { id: inPlace ? `${inPlace.file}#${matchLabel(d.match)}` : plan.path, outs };
}

/** Drift of a block adopted in place, read from the file that holds it (found again by its criteria). */
function readInPlace(props: SshdMatchBlockState & { inPlace: InPlace }, facts: Awaited<ReturnType<typeof observe>>): SshdMatchBlockState | undefined {
  const at = props.inPlace;
  const main = facts.sshd.main?.content;
  const text = at.file === MAIN_CONFIG ? (main === undefined ? undefined : splitRegion(main).rest) : facts.sshd.dropins.find((f) => f.path === at.file)?.content;
  const found = text === undefined ? [] : blocksFor(text, props.match);
  if (found.length !== 1) return undefined;
  const subsystem = (facts.sshd.effective.subsystem ?? []).some((v) => /^sftp\s+internal-sftp(\s|$)/.test(v));
  return { ...props, directives: found[0].directives, subsystemInternalSftp: props.subsystemInternalSftp && subsystem, content: found[0].text };
}

export async function read(id: string, props?: SshdMatchBlockState): Promise<pulumi.dynamic.ReadResult> {
  if (!props) throw new Error(`${TYPE} ${id}: cannot read without prior state (import is not supported by dynamic providers)`);
  const s = sessionFor(props.connection, label(props.name));
  const facts = await observe(s);
  if (props.inPlace) {
    const outs = readInPlace(props as SshdMatchBlockState & { inPlace: InPlace }, facts);
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
  const outs: SshdMatchBlockState = { ...props, ...inputs, content };
  return { id, props: outs, inputs };
}

export async function update(_id: string, olds: SshdMatchBlockState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
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
    at ? planInPlace(d, facts, operatorOf(s), at, previous) : planBlock(d, facts, operatorOf(s), previous),
  );
  const inPlace: InPlace | undefined = "inPlace" in plan ? (plan.inPlace as InPlace | undefined) : undefined;
  const outs: SshdMatchBlockState = { ...fieldsOf(d), connection: news.connection, path: plan.path, content: plan.content, ...(inPlace ? { inPlace } : {}), ...ownerField(d.owner) };
  return { outs };
}

async function remove(_id: string, props: SshdMatchBlockState): Promise<void> {
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
