/**
 * The host-side record of what sftp-jail CREATED on a host: groups, accounts, directories (chroots, the ancestors and
 * subdirectories it made, key directories), key files, Match blocks, firewall rules and the nft tables and chains a
 * rule brought into being. Pulumi's state can lose an object (a network cut after the change, a killed engine, a lost
 * checkpoint); the record cannot, because apply writes it in the same exec as the change, under the host lock, right
 * after the step (plan/types.ts `record`). A later `create` that finds the object then takes it back as its own
 * (destroy removes it) instead of adopting it as the admin's (destroy leaves it).
 *
 * Safety: an entry only ever says "this exec created it". The host-side writer adds an entry only when the object did
 * not exist before the step and exists after it, stamped with its identity (gid, uid, inode and birth time, nft
 * handle); a planner treats an object as created by sftp-jail only when its identity on the host is still the one
 * recorded (and an account still carries sftp-jail's comment). An object the admin had before, or one replaced by
 * hand since, is never "ours". Removing an object drops its entry in the same exec.
 *
 * Whose: every entry names the stack that created the object (`<project>/<stack>`, the `__owner` every resource class
 * sets; "-" when unknown). A stack takes back only its own entries ({@link ownedBy}): an object another stack created
 * on the same host is adopted as someone else's (destroy leaves it to its creator), never taken over.
 *
 * Framing: one entry a line, `KIND KEY IDENTITY OWNER`, every field in a fixed character set (names as the schemas
 * allow them, host paths of the host-path type, numbers, the stack identity); nothing a user names can contain a space
 * or a newline, and a line that does not match its kind's grammar exactly is dropped, by the writer on the host and
 * again by the parser.
 * Root's alone (0600 in a root-owned chain, checked the way the manifest is), next to the manifest.
 */
import { HostFacts, withAncestors } from "./facts";
import { hostPathProblem } from "../schema/common";
import { quoteArg } from "../util/shell";
import { writeFileSh } from "../plan/atomic";

export const RECORD_FILE = "/var/lib/sftp-jail/.created";
/** The comment sftp-jail gives the accounts it creates (`useradd --comment`): part of an account's identity. */
export const ACCOUNT_COMMENT = "sftp-jail";

/**
 * Entry kinds: g group (gid), u account (uid), d directory (inode:birth time, to the nanosecond), f key file, s Match
 * block (its drop-in path, also for a block in the main file's region), w firewall rule (its name; the rule carries
 * `sftp-jail:<name>`), n nft table (`family:table`, handle), c nft chain (`family:table:chain`, table handle:chain
 * handle). Key files, blocks and rules carry no identity ("-"): where they are, or their name, already says they are
 * sftp-jail's, and a key file is rewritten by rename (a new inode) on every key change, which must touch no other file.
 */
export type RecordKind = "g" | "u" | "d" | "f" | "s" | "w" | "n" | "c";

const NAME = "[a-z_][a-z0-9_-]{0,31}";
const PATH = "/[A-Za-z0-9._@+=,/-]*";
const BLOCK = "/etc/ssh/sshd_config\\.d/[0-9]{2}-sftp-jail-[A-Za-z0-9_-]{1,64}\\.conf";
const RULE = "[A-Za-z0-9][A-Za-z0-9_.@+=-]{0,99}";
const TABLE = "(ip|ip6|inet):[A-Za-z_][A-Za-z0-9_-]{0,31}";
const CHAIN = `${TABLE}:[A-Za-z_][A-Za-z0-9_-]{0,27}`;
const N = "[0-9]{1,20}";
/** The stack identity (plan/sshdRender.ts OWNER_RE), or "-" for an entry whose stack was not known. */
const OWNER = "([A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}|-)";

/** Each kind's key and identity grammar (POSIX ERE, also used as JS regex sources: no construct differs). */
const GRAMMAR: Record<RecordKind, { key: string; id: string }> = {
  g: { key: NAME, id: "[0-9]{1,10}" },
  u: { key: NAME, id: "[0-9]{1,10}" },
  d: { key: PATH, id: `${N}:${N}(\\.[0-9]{1,9})?` },
  f: { key: PATH, id: "-" },
  s: { key: BLOCK, id: "-" },
  w: { key: RULE, id: "-" },
  n: { key: TABLE, id: N },
  c: { key: CHAIN, id: `${N}:${N}` },
};
const KINDS = Object.keys(GRAMMAR) as RecordKind[];

/** One line of the record, as an ERE (the host's writer and reader keep only lines matching it). */
export const RECORD_LINE = `^(${KINDS.map((k) => `${k} ${GRAMMAR[k].key} ${GRAMMAR[k].id}`).join("|")}) ${OWNER}$`;

/** What the record says sftp-jail created, by kind: key -> identity as recorded. */
export interface CreatedRecord {
  groups: Record<string, number>;
  users: Record<string, number>;
  dirs: Record<string, string>;
  /** Key files: always sftp-jail's by where they are; recorded so the record is complete (identity: none). */
  files: string[];
  blocks: string[];
  rules: string[];
  /** `family table` -> table handle. */
  tables: Record<string, number>;
  /** `family table chain` -> "table handle:chain handle". */
  chains: Record<string, string>;
  /** Every valid entry with the stack that created it (the maps above list them all, whoever created them). */
  entries: RecordEntry[];
}
export interface RecordEntry {
  kind: RecordKind;
  key: string;
  id: string;
  /** `<project>/<stack>`, or "-" when the creating stack was not known. */
  owner: string;
}

export const emptyRecord = (): CreatedRecord => ({ groups: {}, users: {}, dirs: {}, files: [], blocks: [], rules: [], tables: {}, chains: {}, entries: [] });

const LINE: Record<RecordKind, RegExp> = Object.fromEntries(
  KINDS.map((k) => [k, new RegExp(`^${k} (?<key>${GRAMMAR[k].key}) (?<id>${GRAMMAR[k].id}) (?<owner>${OWNER})$`)]),
) as Record<RecordKind, RegExp>;

function build(entries: RecordEntry[]): CreatedRecord {
  const r = emptyRecord();
  r.entries = entries;
  for (const { kind: k, key, id } of entries) {
    const nft = key.split(":").join(" ");
    if (k === "g") r.groups[key] = Number(id);
    else if (k === "u") r.users[key] = Number(id);
    else if (k === "d") r.dirs[key] = id;
    else if (k === "f") r.files.push(key);
    else if (k === "s") r.blocks.push(key);
    else if (k === "w") r.rules.push(key);
    else if (k === "n") r.tables[nft] = Number(id);
    else if (k === "c") r.chains[nft] = id;
  }
  return r;
}

/**
 * Parses the record (pure). Strict: a line is taken only when it matches its kind's grammar whole, and a path only
 * when it is a normalised host path; anything else (a forged or damaged line) is not an entry. A key listed twice is
 * ambiguous, so it is no entry at all.
 */
export function parseRecord(text: string): CreatedRecord {
  const seen = new Map<string, number>();
  const entries: RecordEntry[] = [];
  for (const line of text.split("\n")) {
    const k = line[0] as RecordKind;
    const m = LINE[k]?.exec(line);
    if (!m || line[1] !== " ") continue;
    const { key, id, owner } = m.groups as { key: string; id: string; owner: string };
    if ((k === "d" || k === "f") && hostPathProblem("record entry", key) !== undefined) continue;
    seen.set(`${k} ${key}`, (seen.get(`${k} ${key}`) ?? 0) + 1);
    entries.push({ kind: k, key, id, owner });
  }
  return build(entries.filter((e) => seen.get(`${e.kind} ${e.key}`) === 1));
}

/**
 * The facts with only the entries `owner` (the stack applying) created: what a stack may take back as its own. No
 * owner, or an entry whose stack was not known, takes back nothing (the object is adopted as someone else's).
 */
export function ownedBy<F extends Facts>(f: F, owner: string | undefined): F {
  if (!f.record) return f;
  return { ...f, record: build(f.record.entries.filter((e) => owner !== undefined && owner !== "-" && e.owner === owner)) };
}

// ---- What the record means, judged on a snapshot (pure) -------------------------------------------------------------

/**
 * Why an adopted object is not this stack's, for the log: "another stack (<project>/<stack>) created it" when the record
 * says so and the object is still the one recorded, else "sftp-jail did not create it".
 */
export function whoseIsIt(f: Facts, kind: "g" | "u" | "d", key: string, owner: string | undefined): string {
  const e = f.record?.entries.find((x) => x.kind === kind && x.key === key);
  const holds = kind === "g" ? createdGroup(f, key) : kind === "u" ? createdUser(f, key) : createdDir(f, key);
  return e && holds && e.owner !== "-" && e.owner !== owner
    ? `which stack ${e.owner} created (the host's record says so), so it stays that stack's to remove`
    : "which sftp-jail did not create (it is not in the host's record)";
}

type Facts = Partial<Pick<HostFacts, "record" | "groups" | "users" | "paths" | "firewall">>;

/** The group was created by sftp-jail and still has the gid it was created with. */
export function createdGroup(f: Facts, name: string): boolean {
  const gid = f.record?.groups[name];
  return gid !== undefined && !!f.groups?.some((g) => g.name === name && g.gid === gid);
}

/** The account was created by sftp-jail: same uid as recorded, and still sftp-jail's comment. */
export function createdUser(f: Facts, name: string): boolean {
  const uid = f.record?.users[name];
  return uid !== undefined && !!f.users?.some((u) => u.name === name && u.uid === uid && u.gecos === ACCOUNT_COMMENT);
}

/** The directory was created by sftp-jail and is still that directory (inode and birth time, as stat'ed now). */
export function createdDir(f: Facts, path: string): boolean {
  const id = f.record?.dirs[path];
  const s = f.paths?.[path];
  return id !== undefined && !!s?.exists && s.type === "directory" && s.ident === id;
}

/** The Match block's drop-in (or region block) was written by sftp-jail, as the record says. */
export function createdBlock(f: Facts, path: string): boolean {
  return !!f.record?.blocks.includes(path);
}

/** The firewall rule carrying `sftp-jail:<name>` was inserted by sftp-jail, as the record says. */
export function createdRule(f: Facts, name: string): boolean {
  return !!f.record?.rules.includes(name);
}

/**
 * nft objects of a table that sftp-jail created and that are still those very objects (same handles in the current
 * ruleset), as FirewallRule's `created` list spells them: "<family> <table>:table", "<family> <table>:chain:<name>".
 */
export function createdNft(f: Facts, [fam, table]: [string, string]): string[] {
  const items = (f.firewall?.nft as { nftables?: Array<Record<string, { family?: string; name?: string; table?: string; handle?: number }>> } | null)?.nftables;
  if (!Array.isArray(items)) return [];
  const handle = (kind: "table" | "chain", name: string) =>
    items.map((i) => i[kind]).find((o) => o && o.family === fam && (kind === "table" ? o.name === table : o.table === table && o.name === name))?.handle;
  const th = handle("table", table);
  const out: string[] = [];
  if (th === undefined) return out;
  if (f.record?.tables[`${fam} ${table}`] === th) out.push(`${fam} ${table}:table`);
  for (const [k, id] of Object.entries(f.record?.chains ?? {})) {
    const [cf, ct, chain] = k.split(" ");
    if (cf === fam && ct === table && id === `${th}:${handle("chain", chain)}`) out.push(`${fam} ${table}:chain:${chain}`);
  }
  return out;
}

/**
 * Record entries for these objects that no longer hold: the record lists them, but the object is gone or was replaced
 * by hand since (another gid, uid, comment or inode). They say nothing about the object there now (the admin's), and
 * {@link forgetStep} drops them.
 */
export function staleEntries(f: Facts, objects: Array<["g" | "u" | "d", string]>): RecordOp[] {
  return objects
    .filter(([k, key]) =>
      k === "g" ? f.record?.groups[key] !== undefined && !createdGroup(f, key) : k === "u" ? f.record?.users[key] !== undefined && !createdUser(f, key) : f.record?.dirs[key] !== undefined && !createdDir(f, key),
    )
    .map(([k, key]) => rec.drop(k, key));
}

/** The script of a step that changes nothing on the host but the record (see {@link forgetStep}). */
export const RECORD_ONLY = ":";

/** A step that only drops record entries that no longer hold (a no-op on the host otherwise); none when there are none. */
export function forgetStep(stale: RecordOp[]): Array<{ description: string; script: string; effects: Record<string, never>; record: RecordOp[] }> {
  if (!stale.length) return [];
  const what = stale.map((o) => o.slice(3)).join(", ");
  return [{ description: `forget the host's record of ${what}: sftp-jail created ${stale.length > 1 ? "them" : "it"}, but ${stale.length > 1 ? "they were" : "it was"} removed or replaced by hand since`, script: RECORD_ONLY, effects: {}, record: stale }];
}

/** Steps that change the host, i.e. not only the record. */
export const changing = <T extends { script: string }>(steps: readonly T[]): T[] => steps.filter((s) => s.script !== RECORD_ONLY);

// ---- Operations steps declare (plan/types.ts `record`) ----------------------------------------------------------------

/**
 * `+K:KEY` the step creates it (recorded only if it did not exist before the step and does after); `~K:KEY` the step
 * rewrote an object the record already lists (its new identity is stamped; never adds); `-K:KEY` the step may have
 * removed it (its entry goes unless the object is still there as recorded).
 */
export type RecordOp = `${"+" | "~" | "-"}${RecordKind}:${string}`;

/** True when `key` can be recorded as kind `k` (its grammar, and a normalised host path for paths). */
export function isRecordKey(k: RecordKind, key: string): boolean {
  return new RegExp(`^${GRAMMAR[k].key}$`).test(key) && !((k === "d" || k === "f") && hostPathProblem("record key", key));
}

function op(mode: "+" | "~" | "-", k: RecordKind, key: string): RecordOp {
  if (!isRecordKey(k, key)) throw new Error(`internal: ${JSON.stringify(key)} cannot be a record key of kind ${k}`);
  return `${mode}${k}:${key}`;
}
export const rec = {
  add: (k: RecordKind, key: string) => op("+", k, key),
  renew: (k: RecordKind, key: string) => op("~", k, key),
  drop: (k: RecordKind, key: string) => op("-", k, key),
};

// ---- Host side ------------------------------------------------------------------------------------------------------

/**
 * The record's log lines: an operation a step applied, appended to the record file right after the step
 * ({@link recordLib} `sj_rec_log`), folded into the entries by every reader, and into the file by a later fold
 * (`sj_rec_fold`; a killed exec's log just waits for one). `<mode><kind> KEY NOW OWNER .`: NOW is the object's
 * identity after the step, `?` when it is gone; OWNER the applying stack for a `+` (else "-"); the closing ` .` says
 * the line was appended whole (a reader racing an append never takes a cut line for an operation).
 */
export const RECORD_OP_LINE = `^[-+~](${KINDS.map((k) => `${k} ${GRAMMAR[k].key} (${GRAMMAR[k].id}|[?])`).join("|")}) ${OWNER} [.]$`;

/**
 * The fold (an awk program; no value reaches it as program text): entry lines are kept, each operation line is
 * applied in order to what the lines above it left (per object `KIND KEY`; WAS and its owner: the object's entry so
 * far, for an object listed twice its first line, and every line for it goes once an operation touches it): `+`
 * records NOW with the line's stack (none when the object is gone), `~` re-stamps NOW with the entry's own stack only
 * when there was an entry, `-` keeps the entry only when the object is still there as recorded (NOW = WAS); any other
 * mode drops it. Strings are compared as strings (`x ""`), never as numbers. Prints the entries (unsorted), then
 * {@link DONE}: a writer writes nothing unless awk got to the end (no awk, or a failed one, wipes nothing).
 */
const DONE = "@@sftp-jail-record-done";
const FOLD = [
  "function op(m, k, key, now, own,   id, w, o, keep) {",
  "  id = k SUBSEP key; w = \"\"; o = \"\"",
  "  if (id in was) { w = was[id]; o = wasown[id] }",
  "  keep = \"\"",
  "  if (m == \"+\") { keep = now; o = own }",
  "  else if (m == \"~\") { if (w != \"\") keep = now }",
  "  else if (m == \"-\") { if (w != \"\" && now == w) keep = w }",
  "  gone[id] = 1; delete was[id]",
  "  if (keep != \"\") { was[id] = keep; wasown[id] = o; out[id] = k \" \" key \" \" keep \" \" o } else delete out[id]",
  "}",
  "/^[-+~]/ { now = $3 \"\"; if (now == \"?\") now = \"\"; op(substr($1, 1, 1), substr($1, 2), $2 \"\", now, $4 \"\"); next }",
  "{ id = $1 SUBSEP $2; if (!(id in was)) { was[id] = $3 \"\"; wasown[id] = $4 \"\" }; line[++n] = $0; lid[n] = id }",
  "END {",
  "  for (j = 1; j <= n; j++) if (!(lid[j] in gone)) print line[j]",
  "  for (id in out) print out[id]",
  `  print "${DONE}"`,
  "}",
].join("\n");

/**
 * The shell that reads the record: its entries with any logged operations folded in, or nothing unless the file and
 * every directory above it are root's and not writable by group or others (one `stat` of the whole chain, no link
 * followed) and it is a regular file. Only lines of the exact grammar reach the fold. `file` is a parameter for tests.
 */
export function recordReader(file = RECORD_FILE): string {
  const chain = withAncestors(file);
  return [
    `sj_ms=$(stat -c '%u %a %F' -- ${chain.map(quoteArg).join(" ")} 2>/dev/null) || exit 0`,
    `printf '%s\\n' "$sj_ms" | { n=0; while read -r u m t; do n=$((n + 1)); [ "$u" = 0 ] && [ $((0$m & 022)) -eq 0 ] || exit 1;`,
    `  case "$n:$t" in ${chain.length}:'regular file'|${chain.length}:'regular empty file') ;; ${chain.length}:*) exit 1;; *:directory) ;; *) exit 1;; esac; done; [ "$n" = ${chain.length} ]; } || exit 0`,
    // The fold only when something is logged (one process otherwise), and only a fold that got to its end.
    `sj_rl=$(grep -E -e ${quoteArg(RECORD_LINE)} -e ${quoteArg(RECORD_OP_LINE)} ${quoteArg(file)}) || exit 0`,
    "sj_rn='\n'",
    `case "$sj_rl" in [-+~]*|*"$sj_rn"[-+~]*) ;; *) printf '%s\\n' "$sj_rl"; exit 0 ;; esac`,
    `sj_rl=$(printf '%s\\n' "$sj_rl" | awk ${quoteArg(FOLD)}); case "$sj_rl" in *${DONE}) ;; *) exit 0 ;; esac`,
    `sj_rl=\${sj_rl%${DONE}}; sj_rl=\${sj_rl%"$sj_rn"}; [ -z "$sj_rl" ] || printf '%s\\n' "$sj_rl"`,
  ].join("\n");
}

/**
 * The record as a fact of every snapshot: read in the snapshot's own exec (a subshell, so its `exit` ends only it).
 */
export const recordFact = {
  key: "record" as const,
  command: `( ${recordReader()} )`,
  parse: parseRecord,
};

/**
 * The writer's shell library (prepended to an apply script whose steps declare record operations). `file` and
 * `etc` are parameters for tests (a scratch record and account files).
 *
 * - `sj_rec_id K KEY`: prints the object's identity now, or fails when it does not exist (no link is followed to
 *   reach a path: the walk of util/hostpath.ts, without requiring root's ownership).
 * - `sj_rec_absent OP...`: prints the `+` operations whose object does not exist now (run before the step).
 * - `sj_rec_log OWNER ADDS OP...`: logs the operations of a step that just ran: the `+` operations listed in ADDS
 *   (those absent before the step), stamped with OWNER (the applying stack; a `~` or `-` keeps the entry's own), and
 *   the other operations, each with its object's identity now (one `sj_rec_id` each), appended to the record in one
 *   write and fsync'd ({@link RECORD_OP_LINE}). A step is recorded when this returns, whatever happens to the exec
 *   next: every reader folds the log in. It runs under the host lock after every recording step, so it stays small:
 *   the identities, one walk to the record (the file is made root's 0600, or replaced when it is anything else), one
 *   append, one `sync`. Nothing to log: no file is touched (nor made).
 * - `sj_rec_fold [all]`: folds the log into the entries ({@link FOLD}) and writes the record with the one atomic write
 *   (plan/atomic.ts: temp file, fsync, rename, fsync of the directory), or removes it (and its directory, when empty)
 *   once it lists nothing. Apply runs it once per exec, under the lock, after its plans; without `all` it folds only a
 *   log with a removal in it or {@link LOG_MAX} operations (additions can wait: every reader folds them in). A fold
 *   that never happens (the exec was killed) loses nothing either: the log is still there, read and folded by every
 *   reader, folded into the file by a later exec.
 * - `sj_rec_do OWNER ADDS OP...`: `sj_rec_log` then `sj_rec_fold all` (a revert, outside apply's batch).
 * All silent; their callers send everything to /dev/null, so a client that is gone cannot stop them halfway.
 */
/** Logged operations a lazy fold lets accumulate (they cost every reader of the record one awk until folded). */
const LOG_MAX = 64;

export function recordLib(file = RECORD_FILE, etc = "/etc"): string {
  const dir = file.slice(0, file.lastIndexOf("/"));
  const base = file.slice(file.lastIndexOf("/") + 1);
  const line = quoteArg(RECORD_LINE);
  return [
    "sj_rec_id() (",
    '  case "$1" in',
    `  g|u) if [ "$1" = g ]; then sj_db=${quoteArg(`${etc}/group`)}; else sj_db=${quoteArg(`${etc}/passwd`)}; fi`,
    `    sj_k=$2 awk -F: '$1 == ENVIRON["sj_k"] { print $3; f = 1; exit } END { exit !f }' "$sj_db" ;;`,
    // The walk's last stat looks at the object itself (util/hostpath.ts: sj_cd's NAME, taken apart by sj_split).
    '  d|f) sj_parent "$2"; sj_cd "$sj_pp" 0 "$sj_base" 2>/dev/null || exit 1',
    '    [ -n "$sj_s" ] || exit 1; sj_split "$sj_s"',
    '    case "$1:$sj_type" in d:directory) printf \'%s\\n\' "$sj_ino:$sj_birth" ;; f:"regular file"|f:"regular empty file") echo - ;; *) exit 1 ;; esac ;;',
    // A drop-in, or a block of the main file's region (its first line names it and its order).
    '  s) sj_b=${2##*/}; sj_o=${sj_b%%-*}; sj_n=${sj_b#??-sftp-jail-}; sj_n=${sj_n%.conf}',
    `    sj_f=${quoteArg(etc)}\${2#/etc}; if [ -f "$sj_f" ] && [ ! -L "$sj_f" ]; then echo -; elif grep -q "^# Managed by sftp-jail: SshdMatchBlock \\"$sj_n\\" (order $((1$sj_o - 100)))" ${quoteArg(`${etc}/ssh/sshd_config`)} 2>/dev/null; then echo -; else exit 1; fi ;;`,
    // iptables-save prints `--comment sftp-jail:<name> `, nft `comment "sftp-jail:<name>"`.
    "  w) { iptables-save; ip6tables-save; iptables-legacy-save; ip6tables-legacy-save; nft list ruleset; } 2>/dev/null | grep -q -F -e \"sftp-jail:$2 \" -e \"sftp-jail:$2\\\"\" && echo - ;;",
    '  n|c) sj_f=${2%%:*}; sj_r=${2#*:}; sj_t=${sj_r%%:*}',
    "    sj_th=$(nft -a list table \"$sj_f\" \"$sj_t\" 2>/dev/null | sed -n '1s/^table .* { # handle \\([0-9][0-9]*\\)$/\\1/p')",
    '    [ -n "$sj_th" ] || exit 1',
    '    if [ "$1" = n ]; then echo "$sj_th"; exit 0; fi',
    "    sj_ch=$(nft -a list chain \"$sj_f\" \"$sj_t\" \"${sj_r#*:}\" 2>/dev/null | sed -n 's/^[[:space:]]*chain .* { # handle \\([0-9][0-9]*\\)$/\\1/p' | head -n 1)",
    '    [ -n "$sj_ch" ] && echo "$sj_th:$sj_ch" ;;',
    "  *) exit 1 ;;",
    "  esac",
    ")",
    // A path that nothing answers to, even following links, has no identity either (sj_rec_id's walk follows none):
    // the shell's own test says so without the walk's process.
    'sj_rec_absent() { for sj_o; do case "$sj_o" in +[df]:/*) [ -e "${sj_o#+?:}" ] || { printf \'%s\\n\' "$sj_o"; continue; } ;; esac; case "$sj_o" in +?:*) sj_x=${sj_o#+}; sj_rec_id "${sj_x%%:*}" "${sj_x#*:}" >/dev/null 2>&1 || printf \'%s\\n\' "$sj_o" ;; esac; done; }',
    // Framing on the host too: a value with a character no grammar allows (a space, a newline) is never logged; the
    // readers then hold every line to its kind's grammar.
    "sj_rec_log() (",
    "  set -f; umask 077",
    // The `+` operations to log (those absent before the step), as " op op ... " (no fork).
    '  sj_owner=$1; sj_adds=" "; for sj_o in $2; do sj_adds="$sj_adds$sj_o "; done; shift 2',
    '  case "$sj_owner" in *[!A-Za-z0-9_./-]*|"") exit 1 ;; esac',
    // Each operation with its object as it is now (read-only, before the record is touched). Names no function of
    // util/hostpath.ts sets (sj_cd below would overwrite sj_n and sj_k).
    "  sj_lines=; sj_plus=0",
    "  for sj_o; do",
    '    sj_m=${sj_o%"${sj_o#?}"}; sj_x=${sj_o#?}; sj_kk=${sj_x%%:*}; sj_key=${sj_x#*:}',
    // Any mode but the three drops the entry (a `-` of an object gone).
    '    sj_w=-; sj_drop=0',
    '    case "$sj_m" in +) case "$sj_adds" in *" $sj_o "*) ;; *) continue ;; esac; sj_w=$sj_owner; sj_plus=1 ;; -|"~") ;; *) sj_m=-; sj_drop=1 ;; esac',
    '    case "$sj_kk" in [gudfswnc]) ;; *) continue ;; esac',
    '    case "$sj_key" in *[!A-Za-z0-9._@+=,/:-]*|"") continue ;; esac',
    '    sj_now=; [ $sj_drop = 1 ] || sj_now=$(sj_rec_id "$sj_kk" "$sj_key" 2>/dev/null) || sj_now=',
    '    case "$sj_now" in *[!0-9:.-]*) continue ;; "") sj_now="?" ;; esac',
    '    sj_lines="$sj_lines$sj_m$sj_kk $sj_key $sj_now $sj_w .$sj_nl"',
    "  done",
    // Nothing to log, or only renewals and removals with no record there to apply them to: no file is touched.
    '  [ -n "$sj_lines" ] || exit 0',
    `  [ $sj_plus = 1 ] || [ -e ${quoteArg(file)} ] || [ -L ${quoteArg(file)} ] || exit 0`,
    `  { [ -d ${quoteArg(dir)} ] || mkdir -p -m 0755 ${quoteArg(dir)}; } || exit 1`,
    // The walk's last stat looks at the record itself (sj_s, taken apart by sj_split). Appended to only when root's
    // 0600 and a regular file; anything else there is no record (no reader takes it) and goes.
    `  sj_cd ${quoteArg(dir)} '' ${base}`,
    `  if [ -n "$sj_s" ]; then sj_split "$sj_s"; case "$sj_type:$sj_uid:$sj_mode" in 'regular file:0:600'|'regular empty file:0:600') ;; *) rm -f ./${base} || exit 1; sj_s= ;; esac; fi`,
    // One write (printf's whole output at once), fsync'd; a new file's directory entry too.
    `  printf '%s' "$sj_lines" >> ./${base} || exit 1`,
    `  { sync ./${base} 2>/dev/null || true; }; [ -n "$sj_s" ] || { sync . 2>/dev/null || true; }`,
    ")",
    "sj_rec_fold() (",
    "  set -f; umask 077",
    `  [ -d ${quoteArg(dir)} ] || exit 0`,
    `  sj_cd ${quoteArg(dir)} '' ${base}`,
    '  [ -n "$sj_s" ] || exit 0',
    // Read by the shell itself (no `cat`): a few hundred short lines at most. Nothing logged: nothing to fold.
    `  sj_split "$sj_s"; case "$sj_type:$sj_uid:$sj_mode" in 'regular file:0:600'|'regular empty file:0:600') ;; *) exit 1 ;; esac`,
    `  sj_raw=; sj_log=0; sj_rm=0; { while IFS= read -r sj_l || [ -n "$sj_l" ]; do case "$sj_l" in -*) sj_rm=1; sj_log=$((sj_log + 1)) ;; [+~]*) sj_log=$((sj_log + 1)) ;; esac; sj_raw=$sj_raw\${sj_raw:+$sj_nl}$sj_l; done < ./${base}; } || exit 1`,
    // A log of additions and renewals can wait (every reader folds it) until it is long; a removal is folded at once,
    // so a record that lists nothing goes with the exec that emptied it.
    `  [ $sj_log -gt 0 ] || exit 0; [ "\${1:-}" = all ] || [ $sj_rm = 1 ] || [ $sj_log -ge ${LOG_MAX} ] || exit 0`,
    // One pass: the valid lines, every logged operation applied in order, the result's valid entries, sorted. awk ends
    // with a line of its own (sorted first): without it (no awk, or one that failed) nothing is written.
    `  sj_new=$(printf '%s\\n' "$sj_raw" | grep -E -e ${line} -e ${quoteArg(RECORD_OP_LINE)} | awk ${quoteArg(FOLD)} | grep -E -e ${line} -e '^${DONE}$' | sort -u)`,
    `  case "$sj_new" in ${DONE}*) sj_new=\${sj_new#${DONE}}; sj_new=\${sj_new#?} ;; *) exit 1 ;; esac`,
    // Nothing left to record: the record goes, and its directory too when nothing else of sftp-jail's is in it.
    `  if [ -z "$sj_new" ]; then rm -f ./${base} && cd .. && { rmdir ${quoteArg(dir.slice(dir.lastIndexOf("/") + 1))} 2>/dev/null || true; }; exit; fi`,
    // Root's 0600 without chown or chmod: the temp file is new (writeFileSh removes a stale one) and made by root
    // under umask 077 (above).
    `  ${writeFileSh({ target: `./${base}`, tmp: `./${base}.sftp-jail.tmp`, dir: ".", content: `printf '%s\\n' "$sj_new"`, attrs: {} })}`,
    ")",
    'sj_rec_do() { sj_rec_log "$@" && { sj_rec_fold all || true; }; }',
  ].join("\n");
}
