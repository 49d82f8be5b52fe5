/**
 * File edits as steps: contents are rendered in TypeScript, shipped base64-encoded (no quoting of file bodies), and
 * written with the one atomic write (plan/atomic.ts: temp file beside the target, owner and mode, fsync, rename, fsync
 * of the directory), so a reader never sees a partial file. The previous version is kept as `<path>.sftp-jail.bak`.
 */
import { Step } from "./types";
import { quote, quoteArg } from "../util/shell";
import { hp } from "../util/hostpath";
import { writeFileSh } from "./atomic";

export interface FileSpec {
  path: string;
  content: string;
  mode: number;
  owner: string | number;
  group: string | number;
}

export const backupPath = (path: string) => `${path}.sftp-jail.bak`;

/**
 * Writes `spec` atomically; `validate`, if given, runs with `%s` replaced by the temp file and must exit 0.
 * `backup: false` skips the .bak copy (for files nothing ever reverts, such as key files).
 *
 * Root writes only into a directory whose whole chain is root's (util/hostpath.ts walks it without following a
 * symlink, and refuses otherwise); everything after the walk names plain files in that pinned directory, so no path
 * is resolved again. The rename replaces whatever name is there (a symlink included) without following it.
 */
export function atomicWrite(spec: FileSpec, description: string, validate?: string[], opts: { backup?: boolean } = {}): Step {
  const name = spec.path.slice(spec.path.lastIndexOf("/") + 1);
  const tmp = `./${name}.sftp-jail.tmp`;
  const here = `./${name}`;
  const b64 = Buffer.from(spec.content, "utf8").toString("base64");
  const write = writeFileSh({
    target: quoteArg(here),
    tmp: quoteArg(tmp),
    dir: ".",
    content: `printf '%s' ${quoteArg(b64)} | base64 -d`,
    attrs: { owner: quoteArg(`${spec.owner}:${spec.group}`), mode: spec.mode.toString(8).padStart(4, "0") },
    checks: [
      ...(validate ? [`{ ${quote(validate.map((a) => (a === "%s" ? tmp : a)))} || { rc=$?; rm -f ${quoteArg(tmp)}; exit $rc; }; }`] : []),
      ...(opts.backup === false ? [] : [`if [ -e ${quoteArg(here)} ]; then cp -p ${quoteArg(here)} ${quoteArg(`./${backupPath(name)}`)}; fi`]),
    ],
  });
  return { description, script: `( ${hp.enterParent(spec.path)} && ${write} )`, effects: { paths: [spec.path, `${spec.path}.sftp-jail.tmp`, backupPath(spec.path)] } };
}

/** Removes a file, keeping a backup for revert. */
export function removeWithBackup(path: string, description: string): Step {
  return {
    description,
    script: `if [ -e ${quoteArg(path)} ]; then cp -p ${quoteArg(path)} ${quoteArg(backupPath(path))} && rm -f ${quoteArg(path)}; fi`,
    effects: { paths: [path, backupPath(path)] },
  };
}
