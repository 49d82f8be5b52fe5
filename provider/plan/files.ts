/**
 * File edits as steps: contents are rendered in TypeScript, shipped base64-encoded (no quoting of file bodies), written
 * to a temp file beside the target, given owner and mode, fsync'd, and renamed over the target, so a reader never
 * sees a partial file. The previous version is kept as `<path>.sftp-jail.bak` for revert.
 */
import { Step } from "./types";
import { quote, quoteArg } from "../util/shell";

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
 */
export function atomicWrite(spec: FileSpec, description: string, validate?: string[], opts: { backup?: boolean } = {}): Step {
  const tmp = `${spec.path}.sftp-jail.tmp`;
  const b64 = Buffer.from(spec.content, "utf8").toString("base64");
  const lines = [
    `rm -f ${quoteArg(tmp)}`,
    `printf '%s' ${quoteArg(b64)} | base64 -d > ${quoteArg(tmp)}`,
    quote(["chown", `${spec.owner}:${spec.group}`, tmp]),
    quote(["chmod", spec.mode.toString(8).padStart(4, "0"), tmp]),
    ...(validate ? [`${quote(validate.map((a) => (a === "%s" ? tmp : a)))} || { rc=$?; rm -f ${quoteArg(tmp)}; exit $rc; }`] : []),
    ...(opts.backup === false ? [] : [`if [ -e ${quoteArg(spec.path)} ]; then cp -p ${quoteArg(spec.path)} ${quoteArg(backupPath(spec.path))}; fi`]),
    quote(["sync", tmp]) + " 2>/dev/null || true",
    quote(["mv", "-f", tmp, spec.path]),
  ];
  return { description, script: lines.join(" && "), effects: { paths: [spec.path, tmp, backupPath(spec.path)] } };
}

/** Restores the backup an {@link atomicWrite} kept (or removes the file if there was none before). */
export function restoreBackup(path: string, existedBefore: boolean, description: string): Step {
  const bak = backupPath(path);
  const script = existedBefore
    ? quote(["mv", "-f", bak, path])
    : `rm -f ${quoteArg(path)} ${quoteArg(bak)}`;
  return { description, script, effects: { paths: [path, bak] } };
}

/** Removes a file, keeping a backup for revert. */
export function removeWithBackup(path: string, description: string): Step {
  return {
    description,
    script: `if [ -e ${quoteArg(path)} ]; then cp -p ${quoteArg(path)} ${quoteArg(backupPath(path))} && rm -f ${quoteArg(path)}; fi`,
    effects: { paths: [path, backupPath(path)] },
  };
}
