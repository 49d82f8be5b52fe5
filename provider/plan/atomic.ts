/**
 * The one atomic file write and the one restore, as shell. Every file sftp-jail writes on a host goes through
 * {@link writeFileSh} (plan/files.ts, the sshd main-file edits in plan/sshd.ts, the firewall persistence file), and
 * every file it puts back through {@link restoreFileSh}; the host-side record of what sftp-jail created
 * (observe/record.ts) is written with it too:
 * the new content goes to a temp file beside the target (same directory, so same filesystem: the rename is atomic),
 * gets its owner and mode, is fsync'd, and is renamed over the target; then the directory is fsync'd, so the rename
 * itself survives a crash. A reader sees the old file or the new one, never a partial one.
 *
 * Every argument is a shell word, quoted by the caller (quoteArg for a literal path; a script's own `"$1"` as is).
 * `mv -T`: the rename replaces whatever is at the target itself (a symlink included), and fails on a directory there
 * instead of moving the temp file into it (or into the directory a symlink there points to).
 * `sync FILE` is coreutils' fsync of that file (a directory included); it is best effort (`|| true`) because an old
 * `sync` that ignores its arguments, or a filesystem that refuses fsync on a directory, must not fail the write.
 */

/** The parent directory of a literal path, as a path ("." for a bare name, "/" for a top-level one). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i) || "/";
}

/** fsync `tmp`, rename it over `target`, fsync `dir` (the directory both are in). Shell words. */
export function commitSh(tmp: string, target: string, dir: string): string {
  return `{ sync ${tmp} 2>/dev/null || true; } && mv -fT ${tmp} ${target} && { sync ${dir} 2>/dev/null || true; }`;
}

export interface WriteSh {
  /** The file to replace. */
  target: string;
  /** The temp file, beside the target. */
  tmp: string;
  /** The directory both are in. */
  dir: string;
  /** Shell that prints the new content on stdout (its failure fails the write; the target is untouched). */
  content: string;
  /**
   * "keep": the target's own owner and mode (cp -p onto the temp file before writing it; the target must exist).
   * Otherwise the given `owner` (`chown -h`, e.g. "0:0") and `mode` (`chmod`, e.g. "0644"), each optional.
   */
  attrs: "keep" | { owner?: string; mode?: string };
  /** Shell run once the temp file is complete, before it replaces the target (validation, a backup); each must succeed. */
  checks?: string[];
}

/**
 * Writes a file atomically (see the module comment): one `&&` chain, failing at the first step that fails, with the
 * temp file removed then and the chain's exit status kept (the target is untouched unless the rename happened).
 */
export function writeFileSh(w: WriteSh): string {
  const attrs = w.attrs === "keep" ? [] : [...(w.attrs.owner ? [`chown -h ${w.attrs.owner} ${w.tmp}`] : []), ...(w.attrs.mode ? [`chmod ${w.attrs.mode} ${w.tmp}`] : [])];
  const chain = [
    // A stale temp file (a crash mid-write) is removed first; none there, no process.
    `{ { [ ! -e ${w.tmp} ] && [ ! -L ${w.tmp} ]; } || rm -f ${w.tmp}; }`,
    ...(w.attrs === "keep" ? [`cp -p ${w.target} ${w.tmp}`] : []),
    `{ ${w.content}; } > ${w.tmp}`,
    ...attrs,
    ...(w.checks ?? []),
    commitSh(w.tmp, w.target, w.dir),
  ].join(" && ");
  return `{ { ${chain}; } || { sj_rc=$?; rm -f ${w.tmp}; (exit $sj_rc); }; }`;
}

/**
 * Puts a kept copy (made with `cp -p`, so it has the owner and mode to restore) back at `target`, atomically. With
 * `tmp`, the copy stays where it is (copied beside the target first); without, the copy itself is renamed back.
 */
export function restoreFileSh(kept: string, target: string, dir: string, tmp?: string): string {
  return `{ ${tmp === undefined ? "" : `cp -p ${kept} ${tmp} && `}${commitSh(tmp ?? kept, target, dir)}; }`;
}
