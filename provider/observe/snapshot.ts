/**
 * One snapshot of a host: every fact's command in a single exec, parsed into {@link HostFacts}. Snapshots are cached
 * per host for the provider process (a Pulumi phase) and replaced by the one an apply prints after it changes the host.
 */
import { ALL_FACTS, HostFacts } from "./facts";
import { Session } from "../connection/pool";
import { SftpJailError } from "../util/errors";

const MARK = "@@sftp-jail:";
const PATH_PREFIX = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; LC_ALL=C; export LC_ALL";

/** The probe script: each section starts with a marker line; a failing probe leaves its section empty. */
export function snapshotScript(): string {
  const parts = [PATH_PREFIX];
  for (const f of ALL_FACTS) parts.push(`echo '${MARK}${f.key}'`, `{ ${f.command} ; } 2>/dev/null`);
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
  for (const f of ALL_FACTS) {
    (facts as Record<string, unknown>)[f.key] = f.parse(sections.get(f.key) ?? "");
  }
  return facts as HostFacts;
}

export const SNAPSHOT_MARK = MARK;

interface CacheEntry {
  at: number;
  facts: Promise<HostFacts>;
}
const TTL_MS = 60_000;

function cache(): Map<Session, CacheEntry> {
  const g = globalThis as unknown as { [k: symbol]: Map<Session, CacheEntry> };
  return (g[Symbol.for("sftp-jail.snapshots.v1")] ??= new Map());
}

/** Facts for a host: the cached snapshot of this phase, or one exec to take it. */
export function observe(s: Session): Promise<HostFacts> {
  const c = cache();
  const hit = c.get(s);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.facts;
  const facts = s.exec(snapshotScript()).then((r) => {
    if (r.code !== 0 && !r.stdout.includes(MARK + "end")) {
      throw new SftpJailError({ host: s.target }, `could not read host facts (exit ${r.code}): ${r.stderr.trim().slice(0, 500)}`,
        "the login user must be root or have sudo rights (NOPASSWD, or set connection.sudo.password)");
    }
    return parseSnapshot(r.stdout);
  });
  c.set(s, { at: Date.now(), facts });
  facts.catch(() => c.delete(s));
  return facts;
}

/** Records the snapshot an apply printed after its changes, so the next resource on this host needs no exec. */
export function remember(s: Session, facts: HostFacts): void {
  cache().set(s, { at: Date.now(), facts: Promise.resolve(facts) });
}

export function forget(s: Session): void {
  cache().delete(s);
}
