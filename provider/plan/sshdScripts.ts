/**
 * The host-side shell of an SshdMatchBlock change, apart from the lockout check (plan/lockout.ts): the Subsystem
 * reference count on the main file, the guarded edit of a config file that is not ours, putting a file back, and the
 * reload. Files are written and put back with the one atomic write (plan/atomic.ts).
 */
import { createHash } from "crypto";
import { HostFacts } from "../observe/facts";
import { quoteArg } from "../util/shell";
import { parentOf, restoreFileSh, writeFileSh } from "./atomic";
import { backupPath } from "./files";
import { DROPIN_DIR, MAIN_CONFIG, MAIN_ORIG, WANTS_SUBSYSTEM } from "./sshdRender";
import { Step } from "./types";

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const b64 = (s: string) => quoteArg(Buffer.from(s, "utf8").toString("base64"));

/**
 * The host-side Subsystem step. `pristine` is the main file without our edit, `edited` with it (both rendered here);
 * the script picks one from the block files present under the lock, and refuses if the main file is neither (someone
 * edited it since it was read). The main file is written with the one atomic write (plan/atomic.ts), keeping its owner
 * and mode.
 * `root` prefixes every path (tests run the script on a scratch directory).
 */
export function subsystemScript(pristine: string, edited: string, root = ""): string {
  const m = quoteArg(root + MAIN_CONFIG);
  const o = quoteArg(root + MAIN_ORIG);
  const t = quoteArg(`${root}${MAIN_CONFIG}.sftp-jail.tmp`);
  const dir = quoteArg(parentOf(root + MAIN_CONFIG));
  const P = sha256(pristine);
  const T = sha256(edited);
  const changed = `{ echo "${MAIN_CONFIG} changed while sftp-jail was planning; run pulumi up again" >&2; exit 1; }`;
  return [
    "sj_want=0",
    `for f in ${quoteArg(root + DROPIN_DIR)}/[0-9][0-9]-sftp-jail-*.conf; do if [ -f "$f" ] && grep -qxF ${quoteArg(WANTS_SUBSYSTEM)} "$f"; then sj_want=1; fi; done`,
    // Blocks in the main file's sftp-jail region (hosts without Include) count too.
    `if grep -qxF ${quoteArg(WANTS_SUBSYSTEM)} ${m}; then sj_want=1; fi`,
    `sj_cur=$(sha256sum < ${m} | cut -d' ' -f1)`,
    `sj_put() { ${writeFileSh({ target: m, tmp: t, dir, content: `printf '%s' "$1" | base64 -d`, attrs: "keep" })}; }`,
    `if [ $sj_want = 1 ]; then`,
    `  if [ "$sj_cur" = ${T} ]; then :`,
    `  elif [ "$sj_cur" = ${P} ]; then cp -p ${m} ${o} && sj_put ${b64(edited)}`,
    `  else ${changed}; fi`,
    `else`,
    `  if [ "$sj_cur" = ${P} ]; then rm -f ${o}`,
    `  elif [ "$sj_cur" = ${T} ]; then`,
    `    if [ -f ${o} ] && [ "$(sha256sum < ${o} | cut -d' ' -f1)" = ${P} ]; then ${restoreFileSh(o, m, dir)}; else sj_put ${b64(pristine)} && rm -f ${o}; fi`,
    `  else ${changed}; fi`,
    `fi`,
  ].join("\n");
}

/** Puts a file back as it was before this exec's changes (a no-op when the change never got that far). */
export function restoreScript(path: string, existedBefore: boolean): string {
  const bak = quoteArg(backupPath(path));
  return existedBefore ? `if [ -e ${bak} ]; then ${restoreFileSh(bak, quoteArg(path), quoteArg(parentOf(path)))}; fi` : `rm -f ${quoteArg(path)} ${bak}`;
}

/** Reloads sshd the way this host runs it. After a HUP sshd re-execs; the fresh-login dial retries cover the gap. */
export function reloadScript(facts: HostFacts): string {
  switch (facts.serviceManager) {
    case "systemd":
      return "systemctl reload ssh.service 2>/dev/null || systemctl reload sshd.service";
    case "sysv":
      return "if [ -x /etc/init.d/ssh ]; then service ssh reload >/dev/null; else service sshd reload >/dev/null; fi";
    default:
      return '[ -s /run/sshd.pid ] && kill -HUP "$(cat /run/sshd.pid)" || { echo "no /run/sshd.pid: cannot reload sshd" >&2; exit 1; }';
  }
}

/**
 * An edit of a config file that is not one of our block files (sshd_config, or an admin's drop-in): the whole file
 * goes from `before` (as observed) to `after`. The write refuses if the file is no longer `before` on the host.
 */
export interface FileEdit {
  path: string;
  before: string;
  after: string;
  description: string;
}

/** Writes `e.after` over `e.path` if it still is `e.before`, keeping owner and mode and a backup for revert. */
export function editStep(e: FileEdit): Step {
  const f = quoteArg(e.path);
  const tmp = quoteArg(`${e.path}.sftp-jail.tmp`);
  return {
    description: e.description,
    effects: { paths: [e.path, `${e.path}.sftp-jail.tmp`, backupPath(e.path)] },
    script: [
      `[ "$(sha256sum < ${f} | cut -d' ' -f1)" = ${sha256(e.before)} ] || { echo ${quoteArg(`${e.path} changed while sftp-jail was planning; run pulumi up again`)} >&2; exit 1; }`,
      `cp -p ${f} ${quoteArg(backupPath(e.path))} && ${writeFileSh({ target: f, tmp, dir: quoteArg(parentOf(e.path)), content: `printf '%s' ${b64(e.after)} | base64 -d`, attrs: "keep" })}`,
    ].join("\n"),
  };
}
