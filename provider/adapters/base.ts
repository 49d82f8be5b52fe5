/**
 * What every adapter shares: checking inputs against its zod schema (every failure at once, with its path,
 * before any connection), the connection, and turning planner refusals into errors that name host and resource.
 */
import { z } from "zod";
import { Connection, connectionSchema } from "../connection/schema";
import { HostKeyError, Session, session } from "../connection/pool";
import { CheckFailure, failuresOf, hostPathProblem, isKeyFilePath } from "../schema/common";
import { Plan, PlanError } from "../plan/types";
import { envelopeProblem } from "../plan/envelope";
import { HostFacts } from "../observe/facts";
import { OWNER_RE } from "../plan/sshdRender";
import { Needs, glance } from "../observe/snapshot";
import { OperatorAccessError, SftpJailError } from "../util/errors";
import { refuseUnfitHost, requireFirewall, warnUnfitHost } from "../apply/hostGate";
import { FirewallNeed } from "../plan/preconditions";
import { log } from "../util/log";
import { lighterPromiseTraces } from "../util/promiseTraces";

// Adapters load only in the provider process (resource classes name them by file), where each log line the SDK sends
// captured a stack trace mapped through source maps: there, as in the root program, the SDK's traces have no frames.
lighterPromiseTraces();

/** The engine's placeholder for a value not known during preview (pulumi/sdk/nodejs/runtime/rpc.ts). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const isUnknown = (v: unknown): boolean => v === UNKNOWN;

/** True when the value or anything inside it is still unknown. */
export function containsUnknown(v: unknown): boolean {
  if (isUnknown(v)) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

export { OWNER_KEY, LOOK_KEY } from "../schema/hidden";
import { OWNER_KEY, LOOK_KEY } from "../schema/hidden";
const LOOK_MAX = 20_000;
/** Inputs that are not the resource's fields: the dynamic provider's own, the stack identity and the look hint. */
const HIDDEN_KEYS = new Set(["__provider", OWNER_KEY, LOOK_KEY]);

/** What is wrong with a look hint, or undefined when it is a valid one. */
function lookProblem(v: unknown): string | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return "must be { paths: string[], files: string[] }";
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== "paths" && k !== "files") return `has an unknown key ${JSON.stringify(k)}`;
  for (const k of ["paths", "files"] as const) {
    const list = o[k] ?? [];
    if (!Array.isArray(list) || list.length > LOOK_MAX) return `${k} must be a list of at most ${LOOK_MAX} host paths`;
    for (const p of list) {
      const problem = typeof p === "string" ? hostPathProblem(`${k} entry`, p) : `${k} entries must be strings`;
      if (problem) return problem;
      // read as root at preview: only key files, as a JailedUser's own rule allows (never /etc/shadow, say)
      if (k === "files" && !isKeyFilePath(p as string)) return `files entry ${JSON.stringify(p)} is not a key file sftp-jail may read`;
    }
  }
  return undefined;
}

/** The look hint of a resource's inputs (see LOOK_KEY): what its check looks at besides its own needs. */
export function lookHint(inputs: Record<string, unknown>): { paths: string[]; files: string[] } {
  const v = inputs[LOOK_KEY];
  if (v === undefined || containsUnknown(v) || lookProblem(v)) return { paths: [], files: [] };
  const o = v as { paths?: string[]; files?: string[] };
  return { paths: [...(o.paths ?? [])], files: [...(o.files ?? [])] };
}

/** The stack identity of a resource's inputs or state, when valid (invalid ones are refused by checkInputs). */
export function ownerOf(o: Record<string, unknown>): string | undefined {
  const v = o[OWNER_KEY];
  return typeof v === "string" && OWNER_RE.test(v) ? v : undefined;
}

/**
 * The strict object schema of a shape less the fields still unknown, built once per shape and set of unknown fields:
 * zod builds an object schema in ~0.5 ms, and check runs for every resource of every preview and update.
 */
const fieldSchemas = new WeakMap<z.ZodRawShape, Map<string, z.ZodType>>();
function fieldsSchema(shape: z.ZodRawShape, unknownKeys: string[]): z.ZodType {
  let byKeys = fieldSchemas.get(shape);
  if (!byKeys) fieldSchemas.set(shape, (byKeys = new Map()));
  const key = unknownKeys.join("\0");
  let schema = byKeys.get(key);
  if (!schema) {
    schema = z.strictObject(shape).omit(Object.fromEntries(unknownKeys.map((k) => [k, true])) as never) as unknown as z.ZodType;
    byKeys.set(key, schema);
  }
  return schema;
}

/**
 * Validates inputs. Known values are checked now (at preview, before any connection); values still unknown are
 * passed through and checked again in create/update, where they are known.
 */
export function checkInputs<T extends z.ZodRawShape>(
  shape: T,
  news: Record<string, unknown>,
): { inputs: Record<string, unknown>; failures: CheckFailure[] } {
  const known: Record<string, unknown> = {};
  const unknownKeys: string[] = [];
  for (const [k, v] of Object.entries(news)) {
    if (HIDDEN_KEYS.has(k)) continue;
    if (k !== "connection" && containsUnknown(v)) unknownKeys.push(k);
    else known[k] = v;
  }
  const failures: CheckFailure[] = [];
  const owner = news[OWNER_KEY];
  if (owner !== undefined && !containsUnknown(owner) && !(typeof owner === "string" && OWNER_RE.test(owner))) {
    failures.push({ property: OWNER_KEY, reason: "the stack identity must be <project>/<stack> (letters, digits, _ . -); it is set by sftp-jail's resource classes, not by programs" });
  }
  const look = news[LOOK_KEY];
  const lookBad = look === undefined || containsUnknown(look) ? undefined : lookProblem(look);
  if (lookBad) failures.push({ property: LOOK_KEY, reason: `the look hint ${lookBad}; it is set by sftp-jail's components, not by programs` });
  const fieldSchema = fieldsSchema(shape, unknownKeys);
  const { connection, ...fields } = known;
  const parsed = fieldSchema.safeParse(fields);
  const out: Record<string, unknown> = { ...news };
  if (parsed.success) Object.assign(out, parsed.data);
  else failures.push(...failuresOf(parsed.error));

  if (connection === undefined) {
    failures.push({ property: "connection", reason: "connection is required: how to reach the host over SSH" });
  } else if (!containsUnknown(connection)) {
    const c = connectionSchema.safeParse(connection);
    if (c.success) out.connection = c.data;
    else failures.push(...failuresOf(c.error).map((f) => ({ ...f, property: `connection.${f.property}`.replace(/\.$/, "") })));
  }
  return { inputs: out, failures };
}

/** Parses inputs that must be fully known (create/update), throwing the same messages check gives. */
export function parseKnown<S extends z.ZodType>(schema: S, value: unknown, resource: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const lines = failuresOf(r.error).map((f) => `${f.property}: ${f.reason}`);
    throw new SftpJailError({ resource }, `invalid inputs:\n  ${lines.join("\n  ")}`);
  }
  return r.data;
}

export function sessionFor(conn: unknown, resource: string): Session {
  return session(parseKnown(connectionSchema, conn, resource) as Connection);
}

/** Runs planner code; a refusal becomes an error that names the host and the resource. */
export function planOrThrow<T>(s: Session, resource: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PlanError) {
      throw new SftpJailError({ host: `${s.conn.host}:${s.conn.port}`, resource }, e.what, e.fix);
    }
    throw e;
  }
}

/** Compares two connections as normalised values. */
export function sameConnection(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Whether two connections reach the same machine: the same address and port, or the same pinned host key (an address
 * renamed, 127.0.0.1 to localhost or an IP to its DNS name: only that machine's sshd can present its key, and every
 * dial checks it). A value still unknown counts as another machine. SshdMatchBlock and FirewallRule replace their
 * object when the machine changes, and update it in place otherwise, as the other resources always do.
 */
export function sameMachine(a: unknown, b: unknown): boolean {
  if (containsUnknown(a) || containsUnknown(b)) return false;
  const x = (a ?? {}) as { host?: unknown; port?: unknown; hostKey?: unknown };
  const y = (b ?? {}) as { host?: unknown; port?: unknown; hostKey?: unknown };
  if (x.host === y.host && (x.port ?? 22) === (y.port ?? 22)) return true;
  const key = (k: unknown) => (typeof k === "string" ? k.trim().split(/\s+/).slice(0, 2).join(" ") : undefined);
  return key(x.hostKey) !== undefined && key(x.hostKey) === key(y.hostKey);
}

/** Drops undefined values (protobuf Structs cannot carry them), recursively. */
export function defined<T>(v: T): T {
  if (Array.isArray(v)) return v.map(defined) as T;
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, defined(x)])) as T;
  }
  return v;
}

/**
 * The preview-time look at a resource's host, once its inputs passed the schema: the host's snapshot (shared by the
 * phase) and the host's preconditions (plan/preconditions.ts, judged once per host). A host that fails one is warned
 * about once (every change there will be refused, apply/hostGate.ts) and not looked at further: `look` is then
 * undefined, as it is for an unreachable host (not a check failure: create reports it). What was found about the
 * login itself (a host key that is not the trusted one, operator access broken by hand) is a failure of `connection`.
 * `firewall`: the backend a FirewallRule targets, which the host must have.
 */
export async function lookAtHost(
  connection: unknown,
  resource: string,
  needs: Needs,
  firewall?: FirewallNeed,
): Promise<{ failures: CheckFailure[]; look?: { s: Session; facts: HostFacts } }> {
  let s: Session;
  let facts: HostFacts;
  try {
    s = sessionFor(connection, resource);
    if (firewall) requireFirewall(s, firewall);
    // A glance: only what the phase's snapshot does not cover yet (checks run one at a time; see glance()).
    facts = await glance(s, { paths: [...(needs.paths ?? [])], files: [...(needs.files ?? [])] });
    if ((await warnUnfitHost(s)).length) return { failures: [] };
  } catch (e) {
    // Nothing more would be learned, or safely done, by trying again in create.
    if (e instanceof OperatorAccessError || e instanceof HostKeyError) return { failures: [{ property: "connection", reason: e.message }] };
    // Said once per host (every resource there looks): the preview goes on, showing the program's side only.
    const c = connection as { host?: unknown; port?: unknown };
    const where = `${String(c?.host)}:${String(c?.port ?? 22)}`;
    if (!unreachableWarned.has(where)) {
      unreachableWarned.add(where);
      log.warn(`sftp-jail: could not look at ${where} during this preview (${(e as Error).message}): its resources are shown as the program declares them, not as the host holds them; an update tries again and fails naming the host if it is still unreachable`);
    }
    log.debug(`${resource}: preview-time host check skipped: ${(e as Error).message}`);
    return { failures: [] };
  }
  return { failures: [], look: { s, facts } };
}
/** Hosts already warned about as unreachable in this provider process (one warning per host and run). */
const unreachableWarned = new Set<string>();

/**
 * The preview-time look every adapter's `check` takes (see lookAtHost), plus the resource's plan on the host judged by
 * the same envelope rule apply enforces — so a refusal shows at preview, naming the cause and the fix, before anything
 * changes.
 */
export async function previewLook(
  connection: unknown,
  resource: string,
  property: string,
  needs: Needs,
  plan: (f: HostFacts) => Plan,
): Promise<CheckFailure[]> {
  const { failures, look } = await lookAtHost(connection, resource, needs);
  if (!look) return failures;
  const { s, facts } = look;
  try {
    const problem = envelopeProblem(plan(facts), facts);
    return problem ? [{ property, reason: `${problem.what} on ${s.target}. Fix: ${problem.fix}` }] : [];
  } catch (e) {
    if (e instanceof PlanError) return [{ property: e.property ?? property, reason: `${e.what} on ${s.target}. Fix: ${e.fix}` }];
    throw e;
  }
}

/**
 * The session for a create, update or delete: every one passes the host gate first (apply/hostGate.ts), so a host
 * that fails a precondition has each of its resources refused before anything is planned or run there.
 */
export async function sessionForChange(conn: unknown, resource: string, firewall?: FirewallNeed): Promise<Session> {
  const s = sessionFor(conn, resource);
  if (firewall) requireFirewall(s, firewall);
  await refuseUnfitHost(s, resource);
  return s;
}
