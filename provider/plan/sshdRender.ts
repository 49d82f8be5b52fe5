/**
 * SshdMatchBlock rendering: the directive table, the drop-in file a block is written as, the parser that reads OUR
 * rendered file back for drift, and the reversible edit of the main sshd_config that sets `Subsystem sftp
 * internal-sftp`. Pure: no I/O; OpenSSH itself (`sshd -t`, `sshd -T -C`) stays the judge of validity on the host.
 *
 * Where blocks live: one drop-in per block in /etc/ssh/sshd_config.d/. Measured on Debian 12 (OpenSSH 9.2): a `Match`
 * in an included file ends at the end of that file — the main file's `Subsystem` line after the `Include` is still
 * accepted by `sshd -t` (the same line after a Match in the main file is refused: "Directive 'Subsystem' is not
 * allowed within a Match block"). So a block can never swallow the admin's directives, and removing a block is
 * deleting a file.
 */
import type { SshdMatchBlockFields, SshdMatchCriteriaFields } from "../schema/sshdMatchBlock";

/** Drop-in directory read by Debian/Ubuntu/RHEL 9's `Include /etc/ssh/sshd_config.d/*.conf`. */
export const DROPIN_DIR = "/etc/ssh/sshd_config.d";
export const MAIN_CONFIG = "/etc/ssh/sshd_config";
/** Pristine copy of the main file, kept while our Subsystem edit is in place. */
export const MAIN_ORIG = `${MAIN_CONFIG}.sftp-jail.orig`;

/** Header line a block file carries when it wants `Subsystem sftp internal-sftp` (the host-side reference count). */
export const WANTS_SUBSYSTEM = "# sftp-jail: wants Subsystem sftp internal-sftp";

/**
 * Header line naming the stack whose SshdMatchBlock wrote the block (`<project>/<stack>`): two stacks that use one
 * block name on one host would otherwise overwrite each other's file. A comment, so sshd and parseBlock ignore it.
 */
export const OWNER_PREFIX = "# sftp-jail: stack ";
/** A stack identity as it may appear in that line: Pulumi project and stack names (letters, digits, `_ . -`). */
export const OWNER_RE = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;

/** The stack recorded in a block's text, or undefined (a block written before sftp-jail recorded it). */
export function blockOwner(content: string): string | undefined {
  for (const l of content.split("\n")) {
    if (l.startsWith(OWNER_PREFIX)) {
      const o = l.slice(OWNER_PREFIX.length);
      return OWNER_RE.test(o) ? o : undefined;
    }
  }
  return undefined;
}

/** How a directive's value is validated. */
export type ValueKind =
  | { kind: "enum"; values: readonly string[] }
  /** An absolute path (tokens allowed when `tokens`), or `none`. */
  | { kind: "path"; tokens: boolean }
  /** One or more space-separated paths, absolute or relative to the home directory, tokens allowed, or `none`. */
  | { kind: "paths" }
  /** A command line without shell metacharacters, or `none`. */
  | { kind: "command" }
  /** Space-separated user/group patterns (`*`, `?`, `!` negation, `user@host`), as AllowUsers/DenyUsers take. */
  | { kind: "patterns" };

const YES_NO = { kind: "enum", values: ["yes", "no"] } as const;
const FORWARDING = { kind: "enum", values: ["yes", "no", "all", "local", "remote"] } as const;

/**
 * Directives a block may set: keywords OpenSSH (≥ 8.2) accepts inside `Match`, restricted to those that matter for
 * SFTP jails. Order here is the order they are rendered in.
 */
export const DIRECTIVES: Readonly<Record<string, ValueKind>> = Object.freeze(
  // No prototype: a name like "constructor" or "toString" is no directive (it is refused as unknown, not looked up).
  Object.assign(Object.create(null) as Record<string, ValueKind>, {
  ChrootDirectory: { kind: "path", tokens: true },
  ForceCommand: { kind: "command" },
  AllowTcpForwarding: FORWARDING,
  AllowStreamLocalForwarding: FORWARDING,
  AllowAgentForwarding: YES_NO,
  X11Forwarding: YES_NO,
  GatewayPorts: { kind: "enum", values: ["yes", "no", "clientspecified"] },
  PermitTunnel: { kind: "enum", values: ["yes", "no", "point-to-point", "ethernet"] },
  DisableForwarding: YES_NO,
  PermitTTY: YES_NO,
  PermitUserRC: YES_NO,
  PasswordAuthentication: YES_NO,
  KbdInteractiveAuthentication: YES_NO,
  PubkeyAuthentication: YES_NO,
  AuthorizedKeysFile: { kind: "paths" },
  Banner: { kind: "path", tokens: false },
  // Access control: useful per Match (e.g. DenyUsers for an Address), and exactly what can lock the operator out,
  // so the operator check evaluates them before any reload.
  AllowUsers: { kind: "patterns" },
  DenyUsers: { kind: "patterns" },
  AllowGroups: { kind: "patterns" },
  DenyGroups: { kind: "patterns" },
  }),
);
export const DIRECTIVE_NAMES = Object.keys(DIRECTIVES);

/** Match criteria as the schema parsed them (provider/schema/sshdMatchBlock.ts); all given ones must hold (OpenSSH ANDs them). */
export type MatchCriteria = SshdMatchCriteriaFields;
/** The order criteria are rendered in. */
export const CRITERIA = ["User", "Group", "Host", "LocalAddress", "LocalPort", "Address"] as const;

/** The block as the schema parsed it (provider/schema/sshdMatchBlock.ts), plus the stack identity. */
export type BlockDesired = SshdMatchBlockFields & {
  /** The stack that manages the block (`<project>/<stack>`), recorded in its header; undefined: not recorded. */
  owner?: string;
};

/** The drop-in a block lives in: `NN-sftp-jail-<name>.conf`, so glob order (lexical) is `order`, then name. */
export function blockPath(name: string, order: number): string {
  return `${DROPIN_DIR}/${String(order).padStart(2, "0")}-sftp-jail-${name}.conf`;
}

const BLOCK_FILE = /^\/etc\/ssh\/sshd_config\.d\/(\d\d)-sftp-jail-([A-Za-z0-9_-]+)\.conf$/;

/** Name and order of one of our block files, or undefined for any other file (backups, temp files, the admin's). */
export function parseBlockPath(path: string): { name: string; order: number } | undefined {
  const m = BLOCK_FILE.exec(path);
  return m ? { name: m[2], order: Number(m[1]) } : undefined;
}

/** The `Match` line's arguments. */
export function renderCriteria(m: MatchCriteria): string {
  if (m.all) return "all";
  const parts: string[] = [];
  for (const k of CRITERIA) {
    const v = m[k];
    if (v === undefined) continue;
    parts.push(`${k} ${Array.isArray(v) ? v.join(",") : String(v)}`);
  }
  return parts.join(" ");
}

/** The whole drop-in file for a block. */
export function renderBlock(d: BlockDesired): string {
  const lines = [
    `# Managed by sftp-jail: SshdMatchBlock "${d.name}" (order ${d.order}). Hand edits are reported as drift and`,
    "# reverted by `pulumi up --refresh`; remove the resource rather than this file.",
    ...(d.owner ? [OWNER_PREFIX + d.owner] : []),
    ...(d.subsystemInternalSftp ? [WANTS_SUBSYSTEM] : []),
    `Match ${renderCriteria(d.match)}`,
  ];
  for (const k of DIRECTIVE_NAMES) if (d.directives[k] !== undefined) lines.push(`\t${k} ${d.directives[k]}`);
  return lines.join("\n") + "\n";
}

const CANONICAL_DIRECTIVE = new Map(DIRECTIVE_NAMES.map((k) => [k.toLowerCase(), k]));
const CANONICAL_CRITERION = new Map<string, string>([...CRITERIA.map((k) => [k.toLowerCase(), k] as [string, string])]);

/**
 * Reads one of OUR block files back into fields, for drift. Tolerant of hand edits: keyword case is normalised,
 * a keyword we do not manage is kept as written (so it shows up as drift and `up` removes it), comments are ignored.
 */
export function parseBlock(content: string): Pick<BlockDesired, "match" | "directives"> & { wantsSubsystem: boolean } {
  const match: MatchCriteria = {};
  const directives: Record<string, string> = {};
  let wantsSubsystem = false;
  let seenMatch = false;
  for (const raw of content.split("\n")) {
    const line = raw.trim();
    if (line === WANTS_SUBSYSTEM) wantsSubsystem = true;
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    const keyword = m ? m[1] : line;
    const rest = m ? m[2].trim() : "";
    if (keyword.toLowerCase() === "match" && !seenMatch) {
      seenMatch = true;
      const toks = rest.split(/\s+/).filter(Boolean);
      for (let i = 0; i < toks.length; i++) {
        const k = toks[i].toLowerCase();
        if (k === "all") {
          match.all = true;
          continue;
        }
        const c = CANONICAL_CRITERION.get(k) ?? toks[i];
        const v = toks[++i] ?? "";
        if (c === "LocalPort") match.LocalPort = Number(v);
        else (match as Record<string, unknown>)[c] = v.split(",");
      }
      continue;
    }
    directives[CANONICAL_DIRECTIVE.get(keyword.toLowerCase()) ?? keyword] = rest;
  }
  return { match, directives, wantsSubsystem };
}

// ---- The main file's `Subsystem sftp` line --------------------------------------------------------------------------

const MARK_REPLACED = "# sftp-jail: replaced ";
const MARK_INSERTED = "# sftp-jail: inserted the next line";
const MARK_TAIL = " (restored when no SshdMatchBlock wants Subsystem sftp internal-sftp any more)";
export const SUBSYSTEM_LINE = "Subsystem sftp internal-sftp";
const SUBSYSTEM_SFTP = /^\s*subsystem(?:\s*=\s*|\s+)sftp\s+(\S+)/i;
const MATCH_LINE = /^\s*match(\s|=|$)/i;

/** Where `Subsystem sftp` is defined in a config text (outside Match; sshd refuses it inside), and its command. */
export function findSubsystem(content: string): { line: number; command: string } | undefined {
  const lines = content.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (MATCH_LINE.test(lines[i])) return undefined;
    const m = SUBSYSTEM_SFTP.exec(lines[i]);
    if (m) return { line: i, command: m[1] };
  }
  return undefined;
}

/** True when the main file carries our Subsystem edit. */
export function isTransformed(main: string): boolean {
  return main.split("\n").some((l) => l.startsWith(MARK_REPLACED) || l === MARK_INSERTED + MARK_TAIL);
}

/**
 * The main file with `Subsystem sftp internal-sftp`: the existing `Subsystem sftp` line is replaced (the original is
 * kept verbatim, JSON-quoted, in a marker comment, so {@link untransformMain} restores it byte for byte), or, when
 * there is none, the line is inserted at the top (always outside any Match). Unchanged when it already says so.
 */
export function transformMain(pristine: string): string {
  if (isTransformed(pristine)) return pristine;
  const found = findSubsystem(pristine);
  const lines = pristine.split("\n");
  if (found?.command === "internal-sftp") return pristine;
  if (found) {
    lines.splice(found.line, 1, MARK_REPLACED + JSON.stringify(lines[found.line]) + MARK_TAIL, SUBSYSTEM_LINE);
  } else {
    lines.splice(0, 0, MARK_INSERTED + MARK_TAIL, SUBSYSTEM_LINE);
  }
  return lines.join("\n");
}

/** Undoes {@link transformMain}, keeping every other line as it is now (hand edits elsewhere survive). */
export function untransformMain(main: string): string {
  const lines = main.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const next = lines[i + 1];
    if (l.startsWith(MARK_REPLACED) && l.endsWith(MARK_TAIL)) {
      out.push(JSON.parse(l.slice(MARK_REPLACED.length, l.length - MARK_TAIL.length)) as string);
      if (next === SUBSYSTEM_LINE) i++;
    } else if (l === MARK_INSERTED + MARK_TAIL) {
      if (next === SUBSYSTEM_LINE) i++;
    } else out.push(l);
  }
  return out.join("\n");
}

/** Converts an Include glob to a RegExp (glob(3): `*` and `?` do not cross `/`). */
function globRe(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${re}$`);
}

/**
 * True when the main file includes `path` unconditionally: an `Include` whose glob matches it, before the first
 * `Match` (an Include inside a Match applies only to that Match). Relative Include paths are relative to /etc/ssh.
 */
export function mainIncludes(main: string, path: string): boolean {
  for (const line of main.split("\n")) {
    if (MATCH_LINE.test(line)) return false;
    const m = /^\s*include(?:\s*=\s*|\s+)(.*)$/i.exec(line);
    if (!m) continue;
    for (let g of m[1].trim().split(/\s+/)) {
      g = g.replace(/^"(.*)"$/, "$1");
      if (!g.startsWith("/")) g = `/etc/ssh/${g}`;
      if (globRe(g).test(path)) return true;
    }
  }
  return false;
}

// ---- Hosts whose main file includes no drop-ins (RHEL 8 and older defaults, many hand-kept configs) -----------------

/**
 * Where blocks live when the main file has no `Include` of sshd_config.d before its first Match: one region at the
 * END of the main file, between these markers, holding each block exactly as its drop-in would read (a Match there
 * runs to the end of the file, and nothing follows the region). Removing the last block removes the region, so the
 * file is back byte for byte.
 */
export const REGION_BEGIN = "# BEGIN sftp-jail: Match blocks of SshdMatchBlock resources (this sshd_config includes no sshd_config.d)";
/** The BEGIN marker when the file did not end with a newline: one was added before the region, and goes with it. */
export const REGION_BEGIN_NL = `${REGION_BEGIN}; a final newline was added above`;
export const REGION_END = "# END sftp-jail";
/** The first line of a rendered block, and of an in-place adoption's marker (renderMarker in plan/sshd.ts). */
const BLOCK_HEAD = /^# Managed by sftp-jail: SshdMatchBlock "([A-Za-z0-9_-]+)" \(order (\d+)\)/;

/** True when blocks on this host must live in the main file: it includes no drop-in of ours before its first Match. */
export function mainFileMode(main: string): boolean {
  return !mainIncludes(main, blockPath("probe", 50));
}

/** The main file split into the admin's text (the region cut out) and our blocks in it (virtual drop-in paths). */
export function splitRegion(main: string): { rest: string; blocks: Array<{ path: string; content: string }> } {
  const lines = main.split("\n");
  const begin = lines.findIndex((l) => l === REGION_BEGIN || l === REGION_BEGIN_NL);
  if (begin < 0) return { rest: main, blocks: [] };
  let end = lines.indexOf(REGION_END, begin + 1);
  if (end < 0) end = lines.length - 1; // a region cut short by hand: everything after BEGIN was ours
  const blocks: Array<{ path: string; lines: string[] }> = [];
  for (const l of lines.slice(begin + 1, end)) {
    const h = BLOCK_HEAD.exec(l);
    if (h) blocks.push({ path: blockPath(h[1], Number(h[2])), lines: [] });
    blocks[blocks.length - 1]?.lines.push(l);
  }
  let rest = [...lines.slice(0, begin), ...lines.slice(end + 1)].join("\n");
  if (lines[begin] === REGION_BEGIN_NL && rest.endsWith("\n")) rest = rest.slice(0, -1);
  return { rest, blocks: blocks.map((b) => ({ path: b.path, content: b.lines.join("\n") + "\n" })) };
}

/** The admin's text with our region (re)appended at the very end, blocks in drop-in order; no blocks, no region. */
export function withRegion(rest: string, blocks: Array<{ path: string; content: string }>): string {
  if (blocks.length === 0) return rest;
  const body = [...blocks].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((b) => b.content).join("");
  const nl = rest !== "" && !rest.endsWith("\n");
  return `${rest}${nl ? "\n" : ""}${nl ? REGION_BEGIN_NL : REGION_BEGIN}\n${body}${REGION_END}\n`;
}
