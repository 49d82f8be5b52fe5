// Over 400 lines on purpose: the snapshot script and parser, the per-host cache with its deltas, and the manifest bookkeeping all read and write the one cache state.
/**
 * One snapshot of a host: every fact's command in a single exec, parsed into {@link HostFacts}.
 *
 * Snapshots are cached per host for the provider process (one Pulumi phase). Resources that need path stats register
 * their paths; requests that arrive together (Pulumi runs resources in parallel) share one exec. The first exec (and
 * any once the cache is older than TTL_MS) is full: every path registered so far and every one the host's manifest
 * lists. Later ones are deltas merged into the cache: only the paths and files not covered yet, or, for the snapshot an
 * apply prints after its changes, the paths its steps declare they change and the base facts (accounts, sshd, firewall…)
 * those declarations can make stale (facts.ts staleAfter). That keeps a change's cost independent of how many users the
 * host has, and of facts it cannot have changed. Cached facts are never older than TTL_MS from the last full snapshot,
 * except for what sftp-jail itself changed since, which its own applies re-read.
 */
import { BASE_FACTS, BASE_KEYS, BaseKey, Fact, HostFacts, JailContext, Touches, staleAfter, filesFact, jailFact, jailSpec, pathsFact, realpathsFact, withAncestors } from "./facts";
import { diagnoseAccess } from "./access";
import { Session } from "../connection/pool";
import { quoteArg } from "../util/shell";
import { HOSTPATH_LIB, atOrBelow } from "../util/hostpath";
import { hostPathProblem, isKeyFilePath } from "../schema/common";
import { recordFact } from "./record";
import { SftpJailError } from "../util/errors";
import { writeFileSh } from "../plan/atomic";

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

function expand(needs: Needs): { paths: string[]; files: string[] } {
  const all = new Set<string>();
  for (const p of needs.paths ?? []) for (const a of withAncestors(p)) all.add(a);
  return { paths: [...all].sort(), files: [...new Set(needs.files ?? [])].sort() };
}

/**
 * `manifest`: also stat and read what the host's manifest lists (a full snapshot); a delta snapshot does not.
 * `base`: the base facts to read (a full snapshot reads them all).
 */
function factsFor(needs: Needs, manifest = true, base: readonly BaseKey[] = BASE_KEYS, record = true): Fact<keyof HostFacts>[] {
  const { paths, files } = expand(needs);
  const asked = [...new Set(needs.paths ?? [])].sort().map(quoteArg);
  const jail = [...new Set(needs.jail ?? [])].sort();
  return [
    ...BASE_FACTS.filter((f) => base.includes(f.key)),
    pathsFact(paths.map(quoteArg), manifest ? "sj_manifest p" : undefined),
    filesFact(files.map(quoteArg), manifest ? "sj_manifest f" : undefined),
    realpathsFact(asked),
    jailFact(jail.map(quoteArg), manifest ? "sj_manifest j" : undefined),
    // What sftp-jail created on this host: read in this same exec, so taking it into account costs no session.
    ...(record ? [recordFact] : []),
  ] as Fact<keyof HostFacts>[];
}

/**
 * The host-side manifest: every path and file sftp-jail's resources asked a snapshot to cover on this host, recorded
 * by apply (under the host lock) so that the FIRST snapshot of a later run covers every resource in one exec, however
 * late Pulumi hands each resource to the provider. It is a hint, never a source of truth: an entry it lacks only costs
 * one more exec (observe() re-takes a snapshot that does not cover a request), and an entry it has only adds a stat.
 * Root's alone (0600 in a root-owned chain, read without following links); lines are `p PATH` (stat), `f PATH`
 * (read), kept only when PATH passes the host-path rule of the schemas, on the host and again when parsed, or
 * `j SPEC` (a jailed account's `sshd -T -C` context, {@link jailSpec}: a drift check reads every account's jail, so the
 * first snapshot evaluates them all), kept only while the account exists and only in the spec's fixed grammar.
 */
export const MANIFEST_FILE = "/var/lib/sftp-jail/.manifest";
const ADDR = "[0-9A-Fa-f.:]{1,45}";
/** A jail spec as jailSpec() prints one: account name (the schemas' rule), client address, optional local address and port. */
const JAIL_SPEC = `user=[a-z_][a-z0-9_-]{0,31},host=${ADDR},addr=${ADDR}(,laddr=${ADDR})?(,lport=[0-9]{1,5})?`;
const ENTRY = `([pf] /[A-Za-z0-9._@+=,/-]*|j ${JAIL_SPEC})`;
/**
 * The shell function `sj_manifest_read` for the manifest at `file` (exported for tests): prints its valid entries,
 * or nothing unless the file and every directory above it are root's and not writable by group or others (one
 * `stat` of the whole chain, no link followed: only root could then change any of it) and the file is a regular one.
 */
export function manifestReader(file: string): string {
  const chain = withAncestors(file);
  return [
    "sj_manifest_read() {",
    `  sj_ms=$(stat -c '%u %a %F' -- ${chain.map(quoteArg).join(" ")} 2>/dev/null) || return 0`,
    `  printf '%s\\n' "$sj_ms" | { n=0; while read -r u m t; do n=$((n + 1)); [ "$u" = 0 ] && [ $((0$m & 022)) -eq 0 ] || exit 1;`,
    `    case "$n:$t" in ${chain.length}:'regular file'|${chain.length}:'regular empty file') ;; ${chain.length}:*) exit 1;; *:directory) ;; *) exit 1;; esac; done; [ "$n" = ${chain.length} ]; } || return 0`,
    // A path entry that is not normalised (`.`, `..` or `//` in it) is dropped by the shell (no second grep).
    `  grep -E '^${ENTRY}$' ${quoteArg(file)} | while IFS= read -r sj_me; do case "$sj_me" in */./*|*/.|*/../*|*/..|*//*) ;; *) printf '%s\\n' "$sj_me" ;; esac; done`,
    "}",
  ].join("\n");
}

export const MANIFEST_LIB = [
  // `sj_manifest` (or `sj_manifest p|f|j`: the entries of that kind) reads the file once per script: a snapshot sets
  // sj_mf at its top level, and the pipelines after it reuse it.
  manifestReader(MANIFEST_FILE),
  "sj_manifest() {",
  '  if [ -z "${sj_mf_read:-}" ]; then sj_mf=$(sj_manifest_read); fi',
  '  [ -n "$sj_mf" ] || return 0',
  '  if [ -z "$1" ]; then printf \'%s\\n\' "$sj_mf"; return 0; fi',
  // The entries of one kind, prefix dropped, split by the shell (no sed: a process less per section on every host).
  '  ( IFS=$sj_nl; set -f; for sj_mx in $sj_mf; do case "$sj_mx" in "$1 "*) printf \'%s\\n\' "${sj_mx#"$1 "}" ;; esac; done )',
  "}",
  // Adds entries (arguments) and drops old ones whose path (or account) is gone. A failure here never fails the apply: the
  // manifest only saves execs. It has a lock of its own (in its trusted directory), so the host lock is held for the plan's steps alone (a
  // lost race would only cost a later run one exec). Root's trusted directory, entered without following links;
  // written with the one atomic write (plan/atomic.ts), and only when it changed:
  // a run that changes one file on a host changes no other. Root's 0600 without chown or chmod: the temp file is new
  // and made by root under umask 077.
  "sj_manifest_add() (",
  "  umask 077",
  "  [ -d /var/lib/sftp-jail ] || mkdir -p -m 0755 /var/lib/sftp-jail || exit 0",
  "  sj_cd /var/lib/sftp-jail",
  "  exec 8>>./.manifest.lock; flock -w 60 8 || exit 0",
  // Kept (and compared) only when root's 0600; anything else there is replaced, whatever its content.
  "  sj_mok=0; if [ -f ./.manifest ] && [ ! -L ./.manifest ] && [ \"$(stat -c '%u %a' ./.manifest)\" = '0 600' ]; then sj_mok=1; fi",
  "  sj_mnew=$( {",
  "    if [ \"$sj_mok\" = 1 ]; then",
  `      sj_ml=$(grep -E '^${ENTRY}$' ./.manifest)`,
  // The accounts the `j` entries name, looked up with one `getent` for all (the grammar allows no glob or space in a
  // name; set -f all the same): an entry stays while its account exists.
  `      sj_mu=$(printf '%s\\n' "$sj_ml" | while IFS= read -r l; do case "$l" in 'j '*) sj_u=\${l#j user=}; echo "\${sj_u%%,*}" ;; esac; done)`,
  `      sj_have=" $(set -f; [ -z "$sj_mu" ] || getent passwd $sj_mu 2>/dev/null | while IFS=: read -r n _; do printf '%s ' "$n"; done)"`,
  `      printf '%s\\n' "$sj_ml" | while IFS= read -r l; do p=\${l#? }; case "$l" in 'j '*) sj_u=\${p#user=}; case "$sj_have" in *" \${sj_u%%,*} "*) echo "$l" ;; esac ;; *) if [ -e "$p" ] || [ -L "$p" ]; then echo "$l"; fi ;; esac; done`,
  "    fi",
  "    printf '%s\\n' \"$@\"",
  `  } | grep -E '^${ENTRY}$' | sort -u )`,
  "  if [ \"$sj_mok\" = 1 ] && [ \"$sj_mnew\" = \"$(cat ./.manifest)\" ]; then exit 0; fi",
  `  ${writeFileSh({ target: "./.manifest", tmp: "./.manifest.sftp-jail.tmp", dir: ".", content: `printf '%s\\n' "$sj_mnew"`, attrs: {} })}`,
  ")",
].join("\n");

/** The manifest entries an apply records for what it was asked to cover (pure). */
export function manifestEntries(needs: Needs): string[] {
  const { paths, files } = expand(needs);
  const jail = [...new Set(needs.jail ?? [])].filter((j) => JAIL_SPEC_RE.test(j)).sort();
  return [...paths.map((p) => `p ${p}`), ...files.map((f) => `f ${f}`), ...jail.map((j) => `j ${j}`)];
}
const JAIL_SPEC_RE = new RegExp(`^${JAIL_SPEC}$`);

/**
 * The snapshot's output leaves the host in one write: dd gathers its input into 4 MiB output blocks (POSIX `obs`, no
 * GNU flag). Written as the probes ran, a base snapshot's ~20 KB left in 70-100 SSH packets, each decrypted on its own
 * by the provider (issue 10: ~0.27 CPU-s of decrypts in a 10-host converge); now in one, ~0.09 CPU-s less. Without dd,
 * `cat` passes it on as it comes. Output cut short either way has no end marker and is refused (sectionsOf).
 */
export const GATHER = "{ dd ibs=65536 obs=4194304 2>/dev/null || cat; }";

/**
 * The probe script: each section starts with a marker line; a failing probe leaves its section empty. A full one
 * (the default) also covers every path and file the host's manifest lists; a delta one (`{ manifest: false }`)
 * covers only `needs` and the base facts in `base` (default: all), and still prints the manifest's entries.
 */
export function snapshotScript(needs: Needs = {}, opts: { manifest?: boolean; base?: readonly BaseKey[]; record?: boolean } = {}): string {
  const parts = [SCRIPT_PREFIX, MANIFEST_LIB, "{"];
  parts.push(`echo '${MARK}manifest'`, "sj_mf=$(sj_manifest_read 2>/dev/null); sj_mf_read=1", "{ sj_manifest ; } 2>/dev/null");
  for (const f of factsFor(needs, opts.manifest ?? true, opts.base, opts.record ?? true)) parts.push(`echo '${MARK}${f.key}'`, `{ ${f.command} ; } 2>/dev/null`);
  parts.push(`echo '${MARK}end'`, `} | ${GATHER}`);
  return parts.join("\n");
}

/** What a snapshot's output says the host's manifest holds (valid host paths only; pure). */
export function parseManifest(output: string): Registered {
  const out: Registered = { paths: new Set(), files: new Set(), jail: new Set() };
  const start = output.indexOf(`${MARK}manifest\n`);
  if (start < 0) return out;
  const body = output.slice(start + MARK.length + "manifest\n".length);
  for (const line of body.slice(0, body.indexOf(MARK)).split("\n")) {
    if (line.startsWith("j ") && JAIL_SPEC_RE.test(line.slice(2))) out.jail.add(line.slice(2));
    const m = /^([pf]) (\/.*)$/.exec(line);
    if (!m || hostPathProblem("manifest entry", m[2]) !== undefined || (m[1] === "f" && !isKeyFilePath(m[2]))) continue;
    (m[1] === "p" ? out.paths : out.files).add(m[2]);
  }
  return out;
}

/** Parses a snapshot's output (pure; tested on captured output); a section it lacks parses as empty output. */
export function parseSnapshot(output: string, host?: string): HostFacts {
  const sections = sectionsOf(output, host);
  const facts: Partial<HostFacts> = {};
  for (const f of factsFor({})) {
    (facts as Record<string, unknown>)[f.key] = f.parse(sections.get(f.key) ?? "");
  }
  return facts as HostFacts;
}

/** Parses a delta snapshot's output (pure): only the facts it has a section for, to merge over the cached ones. */
export function parseDelta(output: string, host?: string): Partial<HostFacts> {
  const sections = sectionsOf(output, host);
  const facts: Partial<HostFacts> = {};
  for (const f of factsFor({})) {
    const text = sections.get(f.key);
    if (text !== undefined) (facts as Record<string, unknown>)[f.key] = f.parse(text);
  }
  return facts;
}

/**
 * Each section is printed once; a second marker means something on the host printed one (a name made to look like
 * a section) and the last copy would win. Every fact frames host-chosen names so this cannot happen: if it does, the
 * snapshot is not trusted at all.
 */
function forged(section: string, host?: string): SftpJailError {
  return new SftpJailError(
    { host },
    `the host's snapshot has its "${section}" section twice: refused, nothing was planned from it`,
    "look on the host for a file or directory whose name holds a line starting with @@sftp-jail: (most likely in a jailed user's writable directory), move it away, then run again",
  );
}

function sectionsOf(output: string, host?: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  let buf: string[] = [];
  for (const line of output.split("\n")) {
    if (line.startsWith(MARK)) {
      if (current) sections.set(current, buf.join("\n"));
      current = line.slice(MARK.length).trim();
      if (sections.has(current)) throw forged(current, host);
      buf = [];
    } else if (current) buf.push(line);
  }
  if (current !== "end") throw new Error("snapshot output is truncated (no end marker)");
  return sections;
}

interface Registered {
  paths: Set<string>;
  files: Set<string>;
  /**
   * Jail evaluations (`sshd -T -C` specs) asked for since the last exec started. Unlike paths and files they are not
   * kept for every later snapshot: each costs ~10 ms of sshd on the host, so 100 users re-evaluated by every apply's
   * snapshot would cost seconds per change. An exec evaluates what was asked for since the one before it; an apply's trailing snapshot, the applying resource's own (after its change).
   */
  jail: Set<string>;
}

interface Snapshot {
  /** When the last FULL snapshot this one builds on was taken: cached facts are trusted for TTL_MS from it. */
  at: number;
  covers: Registered;
  facts: Promise<HostFacts>;
  /** The facts once the exec returned (a later exec merges into them). */
  settled?: HostFacts;
}

interface HostCache extends Registered {
  current?: Snapshot;
  /**
   * The newest settled snapshot (`current` once its exec returned, unless a newer one replaced it meanwhile): what an
   * apply's delta merges into when `current` is an exec still in flight.
   */
  last?: Snapshot & { settled: HostFacts };
  /** Requests waiting for the next batched exec. */
  pending?: Promise<HostFacts>;
  /** The snapshot exec now running, if any. */
  inflight?: Promise<HostFacts>;
  /** The host's manifest entries as the last snapshot printed them. */
  manifest?: Set<string>;
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

/** Everything registered on this session so far, for apply's trailing snapshot (no jail evaluations: see Registered; the applying resource adds its own). */
export function registered(s: Session): Registered {
  const c = cache(s);
  return { paths: new Set(c.paths), files: new Set(c.files), jail: new Set() };
}

/** The cached snapshot when it is settled and young enough to build on, else undefined. */
function fresh(c: HostCache): (Snapshot & { settled: HostFacts }) | undefined {
  const cur = c.current;
  return cur?.settled && Date.now() - cur.at < TTL_MS ? (cur as Snapshot & { settled: HostFacts }) : undefined;
}

/**
 * Facts `base` held, with what a later (delta) exec re-read replaced (pure; unit-tested): a base fact (accounts, sshd,
 * firewall…) `later` read replaces the old one; a path, file or resolution it re-read replaces the old one, or drops it
 * when it is gone now (a missing file is an absent key); everything else is kept. `keepJail`: keep evaluations `later`
 * did not redo (false after a change, which can change how sshd judges any account).
 */
export function mergeFacts(base: HostFacts, later: Partial<HostFacts>, reread: { paths: Iterable<string>; files: Iterable<string> }, keepJail: boolean): HostFacts {
  const paths = { ...base.paths };
  const files = { ...base.files };
  const realpaths = { ...base.realpaths };
  for (const p of reread.paths) {
    delete paths[p];
    delete realpaths[p];
  }
  for (const f of reread.files) delete files[f];
  const done = later.jail ?? [];
  const redone = new Set(done.map(jailSpec));
  return {
    ...base,
    ...later,
    paths: { ...paths, ...later.paths },
    files: { ...files, ...later.files },
    realpaths: { ...realpaths, ...later.realpaths },
    jail: keepJail ? [...base.jail.filter((j) => !redone.has(jailSpec(j))), ...done] : done,
  };
}

/**
 * One snapshot exec for everything registered. Over a fresh cached snapshot it is a delta: the jail evaluations asked
 * for and only the paths and files the cache does not cover yet (a host with 100 jailed users would otherwise re-stat
 * and re-read all of them for every request), with no base fact (the cache's hold: see the top of this file); else a
 * full one, manifest included.
 */
function take(s: Session, c: HostCache): Promise<HostFacts> {
  const base = fresh(c);
  const jail = new Set(c.jail);
  c.jail.clear();
  const paths = [...c.paths].filter((p) => !base?.covers.paths.has(p));
  const files = [...c.files].filter((f) => !base?.covers.files.has(f));
  const covers: Registered = base
    ? { paths: new Set([...base.covers.paths, ...paths]), files: new Set([...base.covers.files, ...files]), jail: new Set([...base.covers.jail, ...jail]) }
    : { paths: new Set(paths), files: new Set(files), jail };
  const snap: Snapshot = { at: base ? base.at : Date.now(), covers, facts: Promise.resolve() as never };
  snap.facts = s.exec(snapshotScript({ paths, files, jail }, base ? { manifest: false, base: [] } : {})).then(async (r) => {
    // Not as root: probe the login itself, so the error says what is broken (shell, sudo) instead of guessing.
    if (!r.stdout.includes(MARK + "end")) throw await diagnoseAccess(s, r);
    const parsed = base ? parseDelta(r.stdout, s.target) : parseSnapshot(r.stdout, s.target);
    const manifest = parseManifest(r.stdout);
    // A full snapshot also stat'ed and read what the manifest lists: it covers those requests too.
    if (base) noteListing(c, manifest);
    else noteManifest(c, covers, manifest);
    const facts = base ? mergeFacts(base.settled, parsed, { paths: expand({ paths }).paths, files }, true) : (parsed as HostFacts);
    snap.settled = facts;
    if (c.current === snap) c.last = snap as Snapshot & { settled: HostFacts };
    return facts;
  });
  c.current = snap;
  snap.facts.catch(() => {
    if (c.current === snap) c.current = undefined;
  });
  return snap.facts;
}

/**
 * Facts for a host, covering `needs`: the cached snapshot of this phase, or one exec shared with concurrent requests.
 */
export async function observe(s: Session, needs: { paths?: string[]; files?: string[]; jail?: JailContext[] } = {}): Promise<HostFacts> {
  const c = cache(s);
  const specs = (needs.jail ?? []).map(jailSpec);
  for (const p of needs.paths ?? []) c.paths.add(p);
  for (const f of needs.files ?? []) c.files.add(f);
  const covered = (cur: NonNullable<HostCache["current"]>) =>
    Date.now() - cur.at < TTL_MS &&
    (needs.paths ?? []).every((p) => cur.covers.paths.has(p)) &&
    (needs.files ?? []).every((f) => cur.covers.files.has(f)) &&
    specs.every((j) => cur.covers.jail.has(j));
  const cur = c.current;
  if (cur && covered(cur)) return cur.facts;
  if (cur && !c.pending) {
    // The snapshot in flight may cover this request through the host's manifest (paths, files and jail contexts),
    // known only once it returns.
    const ok = await cur.facts.then(() => true, () => false);
    if (ok && c.current === cur && covered(cur)) return cur.facts;
  }
  for (const j of specs) c.jail.add(j);
  if (!c.pending) c.pending = nextBatch(s, c);
  return c.pending;
}

/** The script of a {@link glance}: only the stats, file contents and resolutions asked for (no base facts). */
export function glanceScript(needs: { paths?: string[]; files?: string[] }): string {
  const { paths, files } = expand(needs);
  const asked = [...new Set(needs.paths ?? [])].sort().map(quoteArg);
  const parts = [SCRIPT_PREFIX];
  for (const f of [pathsFact(paths.map(quoteArg)), filesFact(files.map(quoteArg)), realpathsFact(asked)]) parts.push(`echo '${MARK}${f.key}'`, `{ ${f.command} ; } 2>/dev/null`);
  parts.push(`echo '${MARK}end'`);
  return parts.join("\n");
}

/** Parses a {@link glanceScript}'s output (pure): its paths, files and resolutions; undefined when truncated. */
export function parseGlance(output: string, host?: string): Pick<HostFacts, "paths" | "files" | "realpaths"> | undefined {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split("\n")) {
    if (line.startsWith(MARK)) {
      const key = line.slice(MARK.length).trim();
      if (sections.has(key)) throw forged(key, host);
      sections.set(key, (current = []));
    } else current?.push(line);
  }
  if (!sections.has("end")) return undefined;
  const text = (k: string) => (sections.get(k) ?? []).join("\n");
  return { paths: pathsFact([]).parse(text("paths")), files: filesFact([]).parse(text("files")), realpaths: realpathsFact([]).parse(text("realpaths")) };
}

/**
 * A read-only look for preview-time checks (the adapters' `check`, through lookAtHost). Pulumi's engine calls `check`
 * one resource at a time, so every look is on a converge's critical path: over a fresh cached snapshot of this phase,
 * it stats and reads only what the cache does not cover yet, in one small exec without the base facts (accounts,
 * sshd, firewall: the phase's, at most TTL_MS old), and the result joins the cache. Unlike observe() it never waits
 * for another exec of the host, and reads no record, manifest or jail evaluation. Nothing ever changes a host on a
 * glance. Without a fresh settled snapshot, or with an exec already queued, it is observe().
 */
export async function glance(s: Session, needs: { paths?: string[]; files?: string[] } = {}): Promise<HostFacts> {
  const c = cache(s);
  const base = fresh(c);
  if (!base || c.pending) return observe(s, needs);
  for (const p of needs.paths ?? []) c.paths.add(p);
  for (const f of needs.files ?? []) c.files.add(f);
  const paths = [...new Set(needs.paths ?? [])].filter((p) => !base.covers.paths.has(p));
  const files = [...new Set(needs.files ?? [])].filter((f) => !base.covers.files.has(f));
  if (!paths.length && !files.length) return base.settled;
  const seen = parseGlance((await s.exec(glanceScript({ paths, files }))).stdout, s.target);
  if (!seen) return observe(s, needs);
  const merged: HostFacts = {
    ...base.settled,
    paths: { ...base.settled.paths, ...seen.paths },
    files: { ...base.settled.files, ...seen.files },
    realpaths: { ...base.settled.realpaths, ...seen.realpaths },
  };
  // Joins the cache unless a newer snapshot (an apply's) replaced it meanwhile; either way this check sees it.
  if (c.current === base) {
    c.current = c.last = {
      at: base.at,
      covers: { paths: new Set([...base.covers.paths, ...paths]), files: new Set([...base.covers.files, ...files]), jail: base.covers.jail },
      facts: Promise.resolve(merged),
      settled: merged,
    };
  }
  return merged;
}

/**
 * Facts with the base facts `keys` and the host's record read again now: one small exec over a fresh settled
 * snapshot of this phase (the rest as the cache holds it, see the top of this file), merged into the newest settled
 * snapshot once it returns; without one, or with a snapshot exec queued or running, a full snapshot taken from now on.
 * For planners that need some facts as they are now (a firewall rule's position among the chain's rules), where a
 * full snapshot would re-stat and re-evaluate everything the host's resources registered.
 */
export async function reread(s: Session, keys: readonly BaseKey[]): Promise<HostFacts> {
  const c = cache(s);
  const full = () => {
    forget(s);
    return observe(s);
  };
  if (!fresh(c) || c.pending || c.current !== c.last) return full();
  const r = await s.exec(snapshotScript({}, { manifest: false, base: keys, record: true }));
  if (!r.stdout.includes(MARK + "end")) return full();
  const later = parseDelta(r.stdout, s.target);
  // Another apply may have replaced the cached snapshot meanwhile: its facts are merged into, never overwritten.
  const base = fresh(c) ?? c.last;
  if (!base || Date.now() - base.at >= TTL_MS) return full();
  const merged = mergeFacts(base.settled, later, { paths: [], files: [] }, true);
  if (c.current === base) c.current = c.last = { ...base, facts: Promise.resolve(merged), settled: merged };
  return merged;
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

/**
 * A manifest path entry is already expanded (it lists the ancestors too), so it covers a request for that path.
 * Covers are only added once the exec returned: observe() reads them synchronously of the facts' promise, so a request
 * that arrives meanwhile waits for a follow-up exec at worst (never a snapshot that lacks its path).
 */
function noteManifest(c: HostCache, covers: Registered, m: Registered): void {
  for (const p of m.paths) covers.paths.add(p);
  for (const f of m.files) covers.files.add(f);
  for (const j of m.jail) covers.jail.add(j);
  noteListing(c, m);
}

/** What the host's manifest lists, for {@link manifestHas} (a delta snapshot prints it without covering it). */
function noteListing(c: HostCache, m: Registered): void {
  c.manifest = new Set([...[...m.paths].map((p) => `p ${p}`), ...[...m.files].map((f) => `f ${f}`), ...[...m.jail].map((j) => `j ${j}`)]);
}

/** True when the host's manifest, as this process last read it, already lists every entry (pure of the host). */
export function manifestHas(s: Session, entries: string[]): boolean {
  const m = cache(s).manifest;
  return !!m && entries.every((e) => m.has(e));
}

/**
 * What an apply's trailing snapshot must re-read (pure; unit-tested): every path its steps declare they change (with
 * what was registered below one of them; a directory in `dirs` alone) and what the applying resource reads itself; registered files among those;
 * the base facts those declarations can make stale (facts.ts staleAfter). Everything else the cache holds is still
 * true, because a step changes only what its effects declare (plan/types.ts; the operator envelope is judged on the
 * same declarations).
 */
export function touched(changes: readonly Touches[], reg: Registered, reads: Needs = {}, recorded = true): Reread {
  const eff = [...new Set(changes.flatMap((c) => c.paths ?? []))];
  const under = (p: string) => eff.some((e) => atOrBelow(p, e));
  // A directory declared in `dirs` changed itself only: what is registered below it still holds.
  const dirs = changes.flatMap((c) => c.dirs ?? []);
  const paths = new Set([...eff, ...dirs, ...[...reg.paths].filter(under), ...(reads.paths ?? [])]);
  const files = new Set([...[...reg.files].filter(under), ...(reads.files ?? [])]);
  return { paths: [...paths].sort(), files: [...files].sort(), jail: [...new Set(reads.jail ?? [])].sort(), base: staleAfter(changes), record: recorded };
}

/**
 * What an apply's trailing snapshot re-reads; `jail`: the applying resource's own evaluations, after its change;
 * `base`: the base facts its steps can have made stale (facts.ts staleAfter); `record`: whether its steps logged
 * operations on the host's record of what sftp-jail created (observe/record.ts; only then can that have changed).
 */
export interface Reread {
  paths: string[];
  files: string[];
  jail: string[];
  base: BaseKey[];
  record: boolean;
}

/** The script an apply appends for its trailing snapshot: a delta over a fresh cache, else a full one. */
export function trailingSnapshot(s: Session, t: Reread): { script: string; delta: boolean } {
  const c = cache(s);
  // What remember() merges a delta into: the current snapshot, or the newest settled one while an exec is in flight.
  if (fresh(c) || (c.last && Date.now() - c.last.at < TTL_MS)) return { script: snapshotScript(t, { manifest: false, base: t.base, record: t.record }), delta: true };
  return { script: snapshotScript({ ...registered(s), jail: t.jail }), delta: false };
}

/**
 * Records the snapshot an apply printed after its changes, so the next resource on this host needs no exec: merged
 * into the cached one when it was a delta (`reread`: what it re-read), else replacing it. Jail evaluations are
 * dropped either way: the change may alter how sshd judges any account. A delta with no cached snapshot left to merge
 * into (another resource's failure dropped it meanwhile) gives undefined: the caller takes a full one.
 */
export function remember(s: Session, facts: Partial<HostFacts>, covers: Registered, output?: string, reread?: Reread, jail: string[] = []): HostFacts | undefined {
  const c = cache(s);
  // The only evaluations that hold after a change are the ones this snapshot made after it.
  const judged = new Set(jail);
  if (reread) {
    // A snapshot exec may have started while the apply ran (its facts are no newer): merged into the newest settled one.
    const base = c.current?.settled ? (c.current as Snapshot & { settled: HostFacts }) : c.last;
    if (!base) return undefined;
    if (output !== undefined) noteListing(c, parseManifest(output));
    const merged = mergeFacts(base.settled, facts, { paths: expand({ paths: reread.paths }).paths, files: reread.files }, false);
    const all = { paths: new Set([...base.covers.paths, ...reread.paths]), files: new Set([...base.covers.files, ...reread.files]), jail: judged };
    // Keeps the base's age: once it expired (it may have while the apply ran), the next request takes a full snapshot.
    c.current = c.last = { at: base.at, covers: all, facts: Promise.resolve(merged), settled: merged };
    return merged;
  }
  const all = { paths: new Set(covers.paths), files: new Set(covers.files), jail: judged };
  if (output !== undefined) noteManifest(c, all, parseManifest(output));
  c.current = c.last = { at: Date.now(), covers: all, facts: Promise.resolve(facts as HostFacts), settled: facts as HostFacts };
  return facts as HostFacts;
}

export function forget(s: Session): void {
  cache(s).current = undefined;
  cache(s).last = undefined;
}
