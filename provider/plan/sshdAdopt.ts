/**
 * Hand-written Match blocks: finding them in sshd_config (or in a drop-in that is not sftp-jail's), and editing one
 * in place with the smallest change. Pure text functions, no I/O; OpenSSH stays the judge of validity on the host.
 *
 * Why in place: an SshdMatchBlock whose Match criteria equal a block the admin wrote by hand adopts that block where
 * it is, instead of writing a second block beside it. A block that already says what the program says is then left
 * byte for byte as it is (zero host changes); one that differs is edited line by line — only the directive lines
 * that differ change, comments and formatting stay — and destroy puts the admin's original block text back.
 *
 * A block, as sshd reads it, runs from its `Match` line to the next `Match` line or the end of the file.
 */
import { CRITERIA, DIRECTIVES, DIRECTIVE_NAMES, MatchCriteria, renderCriteria } from "./sshdRender";

/** One Match block found in a config text. Line numbers index `content.split("\n")`. */
export interface ConfigBlock {
  /** Line of the `Match` line. */
  start: number;
  /** One past the block's last line (the next `Match` line, or the number of lines). */
  end: number;
  /** The criteria as written (criterion names canonicalised; unknown ones kept as written). */
  match: MatchCriteria & Record<string, unknown>;
  /** Keyword (canonical spelling when sftp-jail knows it, else as written) → value; the first occurrence wins, as in sshd. */
  directives: Record<string, string>;
  /** The block's lines joined: what destroy puts back. */
  text: string;
}

const MATCH_LINE = /^\s*match(\s|=|$)/i;
/** indent, keyword, separator (spaces or "="), value. */
const DIRECTIVE_LINE = /^(\s*)([A-Za-z][A-Za-z0-9]*)(\s*=\s*|\s+)(.*?)\s*$/;
const CANONICAL_DIRECTIVE = new Map(DIRECTIVE_NAMES.map((k) => [k.toLowerCase(), k]));
const CANONICAL_CRITERION = new Map<string, string>(CRITERIA.map((k) => [k.toLowerCase(), k]));

/** The keyword as sftp-jail spells it (or as written, for keywords it does not manage). */
export function canonicalKeyword(k: string): string {
  return CANONICAL_DIRECTIVE.get(k.toLowerCase()) ?? k;
}

/** A value as sshd compares it: enum values are case-insensitive (the schema writes them lower case). */
export function normalValue(keyword: string, value: string): string {
  const v = value.trim().replace(/\s+/g, " ");
  return DIRECTIVES[keyword]?.kind === "enum" ? v.toLowerCase() : v;
}

/** Parses the arguments of a `Match` line. */
export function parseCriteria(args: string): MatchCriteria & Record<string, unknown> {
  const m: Record<string, unknown> = {};
  const toks = args.trim().split(/\s+/).filter(Boolean);
  for (let i = 0; i < toks.length; i++) {
    const k = toks[i].toLowerCase();
    if (k === "all") {
      m.all = true;
      continue;
    }
    const c = CANONICAL_CRITERION.get(k) ?? toks[i];
    const v = toks[++i] ?? "";
    m[c] = c === "LocalPort" ? Number(v) : v.split(",");
  }
  return m as MatchCriteria & Record<string, unknown>;
}

const sortedCriteria = (m: Record<string, unknown>) =>
  JSON.stringify(
    Object.keys(m)
      .filter((k) => m[k] !== undefined)
      .sort()
      .map((k) => [k, Array.isArray(m[k]) ? [...(m[k] as string[])].sort() : m[k]]),
  );

/** Same criteria as sshd evaluates them (criterion order and list order do not matter). */
export function sameCriteria(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return sortedCriteria(a) === sortedCriteria(b);
}

/** Every Match block in a config text, in order. */
export function findMatchBlocks(content: string): ConfigBlock[] {
  const lines = content.split("\n");
  const starts = lines.flatMap((l, i) => (MATCH_LINE.test(l) ? [i] : []));
  return starts.map((start, n) => {
    const end = starts[n + 1] ?? lines.length;
    const directives: Record<string, string> = {};
    for (const l of lines.slice(start + 1, end)) {
      if (/^\s*(#|$)/.test(l)) continue;
      const m = DIRECTIVE_LINE.exec(l);
      const k = canonicalKeyword(m ? m[2] : l.trim());
      if (!(k in directives)) directives[k] = m ? normalValue(k, m[4]) : "";
    }
    const args = lines[start].replace(/^\s*match(\s*=\s*|\s+)?/i, "");
    return { start, end, match: parseCriteria(args), directives, text: lines.slice(start, end).join("\n") };
  });
}

/** The blocks of `content` whose criteria equal `match`. */
export function blocksFor(content: string, match: MatchCriteria): ConfigBlock[] {
  return findMatchBlocks(content).filter((b) => sameCriteria(b.match, match as Record<string, unknown>));
}

/**
 * `content` with `block`'s directives made exactly `want` by the smallest edit: a line whose value is already right
 * stays byte for byte; a wrong value is replaced on its own line (indent, keyword spelling and separator kept); a
 * keyword `want` lacks, or a repeated one, is removed; missing keywords are added after the block's last directive
 * line, indented like its first, in sftp-jail's directive order. Comments and blank lines are never touched.
 */
export function editBlock(content: string, block: ConfigBlock, want: Record<string, string>): string {
  const lines = content.split("\n");
  const done = new Set<string>();
  const body: string[] = [];
  let lastDirective = -1;
  let indent: string | undefined;
  for (const l of lines.slice(block.start + 1, block.end)) {
    const m = /^\s*(#|$)/.test(l) ? null : DIRECTIVE_LINE.exec(l);
    if (!m) {
      if (/^\s*(#|$)/.test(l)) body.push(l);
      continue; // a line that is not "keyword value" is not kept
    }
    indent ??= m[1];
    const k = canonicalKeyword(m[2]);
    if (done.has(k) || want[k] === undefined) continue;
    done.add(k);
    body.push(normalValue(k, m[4]) === normalValue(k, want[k]) ? l : `${m[1]}${m[2]}${m[3]}${want[k]}`);
    lastDirective = body.length - 1;
  }
  const order = (k: string) => (DIRECTIVE_NAMES.includes(k) ? DIRECTIVE_NAMES.indexOf(k) : DIRECTIVE_NAMES.length);
  const missing = Object.keys(want)
    .filter((k) => !done.has(k))
    .sort((a, b) => order(a) - order(b))
    .map((k) => `${indent ?? "\t"}${k} ${want[k]}`);
  body.splice(lastDirective + 1, 0, ...missing);
  return [...lines.slice(0, block.start + 1), ...body, ...lines.slice(block.end)].join("\n");
}

/** `content` with `block` replaced by `text` (destroy: the admin's original block, byte for byte). */
export function replaceBlock(content: string, block: ConfigBlock, text: string): string {
  const lines = content.split("\n");
  return [...lines.slice(0, block.start), ...text.split("\n"), ...lines.slice(block.end)].join("\n");
}

/** The block's text inside `content` (after an edit: what state keeps, to know later whether anyone changed it). */
export function blockText(content: string, match: MatchCriteria): string | undefined {
  const found = blocksFor(content, match);
  return found.length === 1 ? found[0].text : undefined;
}

/**
 * What adopting `block` would silently drop: keywords it sets that `want` does not. Adoption refuses those (the fix
 * is to declare them, or to take them out of the hand-written block first), so the admin's settings never vanish.
 */
export function droppedByAdoption(block: ConfigBlock, want: Record<string, string>): string[] {
  return Object.keys(block.directives).filter((k) => want[k] === undefined);
}

/** Keywords whose value adoption changes, and those it adds: for the log and the error messages. */
export function adoptionChanges(block: ConfigBlock, want: Record<string, string>): { changed: string[]; added: string[] } {
  const changed = Object.keys(want).filter((k) => block.directives[k] !== undefined && block.directives[k] !== normalValue(k, want[k]));
  const added = Object.keys(want).filter((k) => block.directives[k] === undefined);
  return { changed, added };
}

/** `Match <criteria>` as a label. */
export const matchLabel = (m: MatchCriteria) => `Match ${renderCriteria(m)}`;
