/**
 * One snapshot of a host: every fact's command in a single exec, parsed into {@link HostFacts}.
 *
 * Snapshots are cached per host for the provider process (one Pulumi phase). Resources that need path stats register
 * their paths; requests that arrive together (Pulumi runs resources in parallel) share one exec, and every later
 * snapshot, including the one an apply prints after its changes, covers every path registered so far.
 */
import { BASE_FACTS, Fact, HostFacts, JailContext, filesFact, jailFact, jailSpec, pathsFact, realpathsFact, withAncestors } from "./facts";
import { diagnoseAccess } from "./access";
import { Session } from "../connection/pool";
import { quoteArg } from "../util/shell";
import { HOSTPATH_LIB } from "../util/hostpath";

const MARK = "@@sftp-jail:";
export const SNAPSHOT_MARK = MARK;
/** Every script sftp-jail runs on a host starts with this: a fixed PATH and locale, and the no-follow path library. */
export const SCRIPT_PREFIX = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; LC_ALL=C; export LC_ALL", HOSTPATH_LIB].join("\n");

/** What resources asked a host's snapshot to cover, beyond the base facts. */
export interface Needs {
  /** Paths to stat (with all their ancestors). */
  paths?: Iterable<string>;
  /** Files to read. */
  files?: Iterable<string>;
  /** Jailed accounts to evaluate with `sshd -T -C`, as `-C` specs (see {@link jailSpec}). */
  jail?: Iterable<string>;
}

function factsFor(needs: Needs): Fact<keyof HostFacts>[] {
  const all = new Set<string>();
  for (const p of needs.paths ?? []) for (const a of withAncestors(p)) all.add(a);
  const files = [...new Set(needs.files ?? [])].sort();
  const asked = [...new Set(needs.paths ?? [])].sort().map(quoteArg);
  const jail = [...new Set(needs.jail ?? [])].sort();
  return [
    ...BASE_FACTS,
    pathsFact([...all].sort().map(quoteArg)),
    filesFact(files.map(quoteArg)),
    realpathsFact(asked),
    jailFact(jail.map(quoteArg)),
  ] as Fact<keyof HostFacts>[];
}

/** The probe script: each section starts with a marker line; a failing probe leaves its section empty. */
export function snapshotScript(needs: Needs = {}): string {
  const parts = [SCRIPT_PREFIX];
  for (const f of factsFor(needs)) parts.push(`echo '${MARK}${f.key}'`, `{ ${f.command} ; } 2>/dev/null`);
  parts.push(`echo '${MARK}end'`);
  return parts.join("\n");
}

/** Parses a snapshot's output (pure; tested on captured output). */
export function parseSnapshot(output: string): HostFacts {
  const sections = new Map<string, string>();
  let current: string | undefined;
  let buf: string[] = [];
  for (const line of output.split("\n")) {
    if (line.startsWith(MARK)) {
      if (current) sections.set(current, buf.join("\n"));
      current = line.slice(MARK.length).trim();
      buf = [];
    } else if (current) buf.push(line);
  }
  if (current !== "end") throw new Error("snapshot output is truncated (no end marker)");
  const facts: Partial<HostFacts> = {};
  for (const f of factsFor({})) {
    (facts as Record<string, unknown>)[f.key] = f.parse(sections.get(f.key) ?? "");
  }
  return facts as HostFacts;
}

interface Registered {
  paths: Set<string>;
  files: Set<string>;
  /**
   * Jail evaluations (`sshd -T -C` specs) asked for since the last exec started. Unlike paths and files they are not
   * kept for every later snapshot: each costs ~10 ms of sshd on the host, so 100 users re-evaluated by every apply's
   * snapshot would cost seconds per change. An exec evaluates what was asked for since the one before it.
   */
  jail: Set<string>;
}

interface HostCache extends Registered {
  current?: { at: number; covers: Registered; facts: Promise<HostFacts> };
  /** Requests waiting for the next batched exec. */
  pending?: Promise<HostFacts>;
  /** The snapshot exec now running, if any. */
  inflight?: Promise<HostFacts>;
}
const TTL_MS = 60_000;
/** How long a request waits for others to join the same exec. */
const BATCH_MS = 5;

function cache(s: Session): HostCache {
  const g = globalThis as unknown as { [k: symbol]: Map<Session, HostCache> };
  const m = (g[Symbol.for("sftp-jail.snapshots.v2")] ??= new Map());
  let c = m.get(s);
  if (!c) m.set(s, (c = { paths: new Set(), files: new Set(), jail: new Set() }));
  return c;
}

/** Everything registered on this session so far, for apply's trailing snapshot (no jail evaluations: see Registered). */
export function registered(s: Session): Registered {
  const c = cache(s);
  return { paths: new Set(c.paths), files: new Set(c.files), jail: new Set() };
}

function take(s: Session, c: HostCache): Promise<HostFacts> {
  const covers = { paths: new Set(c.paths), files: new Set(c.files), jail: new Set(c.jail) };
  c.jail.clear();
  const facts = s.exec(snapshotScript(covers)).then(async (r) => {
    // Not as root: probe the login itself, so the error says what is broken (shell, sudo) instead of guessing.
    if (!r.stdout.includes(MARK + "end")) throw await diagnoseAccess(s, r);
    return parseSnapshot(r.stdout);
  });
  c.current = { at: Date.now(), covers, facts };
  facts.catch(() => {
    if (c.current?.facts === facts) c.current = undefined;
  });
  return facts;
}

/**
 * Facts for a host, covering `needs`: the cached snapshot of this phase, or one exec shared with concurrent requests.
 */
export function observe(s: Session, needs: { paths?: string[]; files?: string[]; jail?: JailContext[] } = {}): Promise<HostFacts> {
  const c = cache(s);
  const specs = (needs.jail ?? []).map(jailSpec);
  for (const p of needs.paths ?? []) c.paths.add(p);
  for (const f of needs.files ?? []) c.files.add(f);
  const cur = c.current;
  const covered =
    cur &&
    (needs.paths ?? []).every((p) => cur.covers.paths.has(p)) &&
    (needs.files ?? []).every((f) => cur.covers.files.has(f)) &&
    specs.every((j) => cur.covers.jail.has(j));
  if (cur && covered && Date.now() - cur.at < TTL_MS) return cur.facts;
  for (const j of specs) c.jail.add(j);
  if (!c.pending) c.pending = nextBatch(s, c);
  return c.pending;
}

/**
 * The next snapshot exec, shared by every request that arrives until it starts. It starts after the one in flight
 * (so requests that trickle in while an exec runs share ONE follow-up instead of one exec each) and after the
 * connection is up (a first dial takes long enough for Pulumi's parallel reads of a host to all register), and it
 * covers every path and file registered by then.
 */
async function nextBatch(s: Session, c: HostCache): Promise<HostFacts> {
  try {
    await c.inflight?.catch(() => undefined);
    await new Promise((r) => setTimeout(r, BATCH_MS));
    await s.ready();
  } catch (e) {
    c.pending = undefined;
    throw e;
  }
  c.pending = undefined;
  const t = take(s, c);
  c.inflight = t;
  return t;
}

/** Records the snapshot an apply printed after its changes, so the next resource on this host needs no exec. */
export function remember(s: Session, facts: HostFacts, covers: Registered): void {
  cache(s).current = { at: Date.now(), covers, facts: Promise.resolve(facts) };
}

export function forget(s: Session): void {
  cache(s).current = undefined;
}
