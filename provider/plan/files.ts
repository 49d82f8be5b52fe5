/**
 * File edits as steps: contents are rendered in TypeScript, shipped base64-encoded (no quoting of file bodies), written
 * to a temp file beside the target, given owner and mode, fsync'd, and renamed over the target, so a reader never
 * sees a partial file. The previous version is kept as `<path>.sftp-jail.bak` for revert.
 */
import { Step } from "./types";
import { quote, quoteArg } from "../util/shell";
import { hp } from "../util/hostpath";

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
  const lines = [
    hp.enterParent(spec.path),
    `rm -f ${quoteArg(tmp)}`,
    `printf '%s' ${quoteArg(b64)} | base64 -d > ${quoteArg(tmp)}`,
    quote(["chown", "-h", `${spec.owner}:${spec.group}`, tmp]),
    quote(["chmod", spec.mode.toString(8).padStart(4, "0"), tmp]),
    ...(validate ? [`${quote(validate.map((a) => (a === "%s" ? tmp : a)))} || { rc=$?; rm -f ${quoteArg(tmp)}; exit $rc; }`] : []),
    ...(opts.backup === false ? [] : [`if [ -e ${quoteArg(here)} ]; then cp -p ${quoteArg(here)} ${quoteArg(`./${backupPath(name)}`)}; fi`]),
    quote(["sync", tmp]) + " 2>/dev/null || true",
    quote(["mv", "-f", tmp, here]),
  ];
  return { description, script: `( ${lines.join(" && ")} )`, effects: { paths: [spec.path, `${spec.path}.sftp-jail.tmp`, backupPath(spec.path)] } };
}

/** Removes a file, keeping a backup for revert. */
export function removeWithBackup(path: string, description: string): Step {
  return {
    description,
    script: `if [ -e ${quoteArg(path)} ]; then cp -p ${quoteArg(path)} ${quoteArg(backupPath(path))} && rm -f ${quoteArg(path)}; fi`,
    effects: { paths: [path, backupPath(path)] },
  };
}
