/**
 * SshdMatchBlock planner: (desired block, host facts, operator) → guarded steps. Pure; the steps it returns are
 * shell built from rendered contents (base64), fixed text and {@link quote}d values only.
 *
 * One change, in one exec under the host lock (apply.ts): write the block's drop-in (backup kept) → settle the main
 * file's `Subsystem sftp` line from the block files now present → `sshd -t` on the whole configuration, then
 * `sshd -T -C` for the operator's own connection → reload. A refusal restores the files in the same exec and never
 * reloads. After the reload, applyGuarded proves a fresh login; if that fails it runs `revert`.
 *
 * Subsystem: the main file's `Subsystem sftp` line is rewritten while ANY block file on the host carries the
 * {@link WANTS_SUBSYSTEM} header, and restored (byte for byte, from /etc/ssh/sshd_config.sftp-jail.orig) when none
 * does. The count is taken on the host, under the lock, from the block files themselves, so blocks created or deleted
 * in parallel never disagree about it. The edit must be in the main file: OpenSSH 9.2 refuses a second
 * `Subsystem sftp` ("Subsystem 'sftp' already defined"), so a drop-in cannot override Debian's line.
 */
import { HostFacts } from "../observe/facts";
import { backupPath, atomicWrite, removeWithBackup } from "./files";
import { Effects, NO_EFFECTS, Plan, PlanError, Step, recording } from "./types";
import { rec } from "../observe/record";
import { hp } from "../util/hostpath";

/** Checks and reloads of sshd: they change its running configuration, no account, group or path. */
const SSHD: Effects = { service: "sshd" };
import { quoteArg } from "../util/shell";
import { createHash } from "crypto";
import {
  BlockDesired,
  DIRECTIVE_NAMES,
  DROPIN_DIR,
  MAIN_CONFIG,
  MAIN_ORIG,
  WANTS_SUBSYSTEM,
  OWNER_PREFIX,
  blockOwner,
  blockPath,
  findSubsystem,
  isTransformed,
  mainFileMode,
  mainIncludes,
  parseBlock,
  parseBlockPath,
  renderBlock,
  splitRegion,
  transformMain,
  untransformMain,
  withRegion,
} from "./sshdRender";
import { JailScope, jailAfterScript, jailBeforeScript, jailScopeOf } from "./jail";
import { ConfigBlock, adoptionChanges, blockText, blocksFor, droppedByAdoption, editBlock, findMatchBlocks, matchLabel, replaceBlock } from "./sshdAdopt";

/** Who runs sftp-jail: the change must leave them able to log in and run commands. */
export interface Operator {
  user: string;
  /** Methods the operator's connection can use. */
  auth: ReadonlyArray<"publickey" | "password">;
}

export interface BlockPlan {
  /** The guarded change; empty when the host already matches. */
  steps: Plan;
  /** Undo after a failed fresh login: restore the block files, settle the main file, check, reload. */
  revert: Plan;
  /** After the fresh login worked: drop the backups so sshd_config.d holds only real config. */
  cleanup: Plan;
  /** The block's file. */
  path: string;
  /** Its rendered content ("" on delete). */
  content: string;
}

/** Our drop-in block files on the host: path → wants Subsystem internal-sftp. */
function dropinBlocks(facts: HostFacts): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const f of facts.sshd.dropins) if (parseBlockPath(f.path)) m.set(f.path, parseBlock(f.content).wantsSubsystem);
  return m;
}

/** Our blocks in the main file's sftp-jail region (hosts without Include): path → wants Subsystem internal-sftp. */
function regionBlocks(main: string): Map<string, boolean> {
  return new Map(splitRegion(main).blocks.map((b) => [b.path, parseBlock(b.content).wantsSubsystem]));
}

/** Every block of ours on the host, wherever it lives. */
function ourBlocks(facts: HostFacts): Map<string, boolean> {
  return new Map([...dropinBlocks(facts), ...regionBlocks(facts.sshd.main?.content ?? "")]);
}

/** Oldest OpenSSH for blocks in drop-ins: a Match in an Included file ends with that file only since 8.2. */
const MIN_DROPIN = { major: 8, minor: 2 };
/**
 * Oldest OpenSSH sftp-jail works with (blocks then live in the main file): 8.0 (RHEL 8), the oldest generation still
 * in vendor support. Nothing older can be tested here, and the operator and jail checks rely on `sshd -T -C` with user,
 * host, addr, laddr, lport. Judged once per host with the other preconditions (plan/preconditions.ts).
 */
export const MIN_OPENSSH = { major: 8, minor: 0 };
export const older = (o: { major: number; minor: number }, min: { major: number; minor: number }) => o.major < min.major || (o.major === min.major && o.minor < min.minor);

/**
 * Where this host's blocks live: in drop-ins when the main file includes sshd_config.d before its first Match and
 * OpenSSH is 8.2 or newer; otherwise in a region at the end of the main file (see REGION_BEGIN).
 */
export function blockHome(facts: HostFacts): "dropin" | "main" {
  const o = facts.openssh;
  const main = facts.sshd.main?.content ?? "";
  return mainFileMode(main) || (o !== null && older(o, MIN_DROPIN)) ? "main" : "dropin";
}

/** A block's text as it is on the host (its drop-in, or its part of the main file's region), or undefined. */
export function blockContent(facts: HostFacts, path: string): string | undefined {
  const f = facts.sshd.dropins.find((x) => x.path === path);
  if (f) return f.content;
  return splitRegion(facts.sshd.main?.content ?? "").blocks.find((b) => b.path === path)?.content;
}

/**
 * The one block-specific precondition: a block file written to sshd_config.d must be read by sshd. What every change on
 * a host needs (OpenSSH found and recent enough, sshd_config present, `sshd -t` passing, the commands, root) is judged
 * once per host before its first change, for every resource (plan/preconditions.ts, apply/hostGate.ts).
 */
function includePrecondition(facts: HostFacts, path: string | undefined): void {
  const main = facts.sshd.main;
  if (path && main && !mainIncludes(main.content, path)) {
    throw new PlanError(
      `${MAIN_CONFIG} does not include ${DROPIN_DIR}/*.conf before its first Match, so a block written there would be ignored`,
      `add the line "Include ${DROPIN_DIR}/*.conf" at the top of ${MAIN_CONFIG} (Debian 12, Ubuntu 20.04+ and RHEL 9 ship it)`,
    );
  }
}

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const b64 = (s: string) => quoteArg(Buffer.from(s, "utf8").toString("base64"));

/**
 * The host-side Subsystem step. `pristine` is the main file without our edit, `edited` with it (both rendered here);
 * the script picks one from the block files present under the lock, and refuses if the main file is neither (someone
 * edited it since it was read). The main file keeps its owner and mode (cp -p onto the temp file, then rename).
 * `root` prefixes every path (tests run the script on a scratch directory).
 */
export function subsystemScript(pristine: string, edited: string, root = ""): string {
  const m = quoteArg(root + MAIN_CONFIG);
  const o = quoteArg(root + MAIN_ORIG);
  const t = quoteArg(`${root}${MAIN_CONFIG}.sftp-jail.tmp`);
  const P = sha256(pristine);
  const T = sha256(edited);
  const changed = `{ echo "${MAIN_CONFIG} changed while sftp-jail was planning; run pulumi up again" >&2; exit 1; }`;
  return [
    "sj_want=0",
    `for f in ${quoteArg(root + DROPIN_DIR)}/[0-9][0-9]-sftp-jail-*.conf; do if [ -f "$f" ] && grep -qxF ${quoteArg(WANTS_SUBSYSTEM)} "$f"; then sj_want=1; fi; done`,
    // Blocks in the main file's sftp-jail region (hosts without Include) count too.
    `if grep -qxF ${quoteArg(WANTS_SUBSYSTEM)} ${m}; then sj_want=1; fi`,
    `sj_cur=$(sha256sum < ${m} | cut -d' ' -f1)`,
    `sj_put() { cp -p ${m} ${t} && printf '%s' "$1" | base64 -d > ${t} && mv -f ${t} ${m}; }`,
    `if [ $sj_want = 1 ]; then`,
    `  if [ "$sj_cur" = ${T} ]; then :`,
    `  elif [ "$sj_cur" = ${P} ]; then cp -p ${m} ${o} && sj_put ${b64(edited)}`,
    `  else ${changed}; fi`,
    `else`,
    `  if [ "$sj_cur" = ${P} ]; then rm -f ${o}`,
    `  elif [ "$sj_cur" = ${T} ]; then`,
    `    if [ -f ${o} ] && [ "$(sha256sum < ${o} | cut -d' ' -f1)" = ${P} ]; then mv -f ${o} ${m}; else sj_put ${b64(pristine)} && rm -f ${o}; fi`,
    `  else ${changed}; fi`,
    `fi`,
  ].join("\n");
}

/** Puts a file back as it was before this exec's changes (a no-op when the change never got that far). */
function restoreScript(path: string, existedBefore: boolean): string {
  const bak = quoteArg(backupPath(path));
  return existedBefore ? `if [ -e ${bak} ]; then mv -f ${bak} ${quoteArg(path)}; fi` : `rm -f ${quoteArg(path)} ${bak}`;
}

/**
 * `sshd -t` on the whole configuration, then `sshd -T -C` for the operator's own connection (user, and the address
 * and port from SSH_CONNECTION of this session — found in a parent process when sudo dropped it). Anything that would
 * stop the operator from logging in and running commands runs `revert` and fails with the cause.
 */
export function verifyScript(op: Operator, revert: string, extra = ""): string {
  const pub = op.auth.includes("publickey");
  const pw = op.auth.includes("password");
  const lines = [
    `sj_revert() {\n${revert}\n}`,
    `sj_fail() { sj_revert; printf '%s The configuration was restored and sshd was not reloaded.\\n' "$1" >&2; exit 1; }`,
    `if ! sj_out=$(sshd -t 2>&1); then sj_fail "sshd -t refused the configuration with this change: $sj_out."; fi`,
    `sj_sc=\${SSH_CONNECTION:-}; sj_p=$PPID`,
    `while [ -z "$sj_sc" ] && [ "\${sj_p:-1}" -gt 1 ]; do sj_sc=$(tr '\\0' '\\n' < /proc/$sj_p/environ 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p'); sj_p=$(sed 's/.*) //' /proc/$sj_p/stat 2>/dev/null | cut -d' ' -f2); done`,
    `set -- $sj_sc`,
    `[ $# -ge 4 ] || sj_fail "could not find this session's SSH_CONNECTION to check the operator's access."`,
    `sj_ctx=user=${quoteArg(op.user)}",host=$1,addr=$1,laddr=$3,lport=$4"`,
    `if ! sj_eff=$(sshd -T -C "$sj_ctx" 2>&1); then sj_fail "sshd -T -C $sj_ctx failed: $sj_eff."; fi`,
    `sj_get() { printf '%s\\n' "$sj_eff" | awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print; exit }'; }`,
    `sj_deny() { sj_fail "this change would lock the operator out: $1 for ${op.user} (sshd -T -C $sj_ctx)."; }`,
    `sj_v=$(sj_get forcecommand); case "$sj_v" in ''|none) ;; *) sj_deny "ForceCommand $sj_v would apply";; esac`,
    // Access lists, evaluated with sshd's pattern rules (* and ? are shell glob characters too; set -f stops
    // pathname expansion; "user@host" patterns are judged on their user part only, which errs towards refusing).
    `sj_all() { printf '%s\\n' "$sj_eff" | awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print }'; }`,
    `sj_in() { sj_hit=0; for sj_p in $2; do sj_n=\${sj_p#!}; sj_n=\${sj_n%%@*}; case "$1" in $sj_n) if [ "$sj_p" != "\${sj_p#!}" ]; then return 1; fi; sj_hit=1;; esac; done; [ $sj_hit = 1 ]; }`,
    `set -f; sj_u=${quoteArg(op.user)}; sj_groups=$(id -Gn "$sj_u" 2>/dev/null)`,
    `sj_v=$(sj_all denyusers); if [ -n "$sj_v" ] && sj_in "$sj_u" "$sj_v"; then sj_deny "DenyUsers $sj_v would apply"; fi`,
    `sj_v=$(sj_all allowusers); if [ -n "$sj_v" ] && ! sj_in "$sj_u" "$sj_v"; then sj_deny "AllowUsers $sj_v would not include it"; fi`,
    `sj_v=$(sj_all denygroups); if [ -n "$sj_v" ]; then for sj_g in $sj_groups; do if sj_in "$sj_g" "$sj_v"; then sj_deny "DenyGroups $sj_v would apply (group $sj_g)"; fi; done; fi`,
    `sj_v=$(sj_all allowgroups); if [ -n "$sj_v" ]; then sj_ok=0; for sj_g in $sj_groups; do if sj_in "$sj_g" "$sj_v"; then sj_ok=1; fi; done; [ $sj_ok = 1 ] || sj_deny "AllowGroups $sj_v would not include any of its groups ($sj_groups)"; fi`,
    `set +f`,
    `sj_v=$(sj_get chrootdirectory); case "$sj_v" in ''|none) ;; *) sj_deny "ChrootDirectory $sj_v would apply";; esac`,
    `sj_v=$(sj_get maxsessions); [ "$sj_v" != 0 ] || sj_deny "MaxSessions 0 would apply"`,
    `sj_pub=$(sj_get pubkeyauthentication); sj_pw=$(sj_get passwordauthentication); sj_kb=$(sj_get kbdinteractiveauthentication)`,
    `sj_ok=0; ${pub ? `[ "$sj_pub" = yes ] && sj_ok=1; ` : ""}${pw ? `{ [ "$sj_pw" = yes ] || [ "$sj_kb" = yes ]; } && sj_ok=1; ` : ""}true`,
    `[ $sj_ok = 1 ] || sj_deny "${pub ? "PubkeyAuthentication $sj_pub" : ""}${pub && pw ? ", " : ""}${pw ? "PasswordAuthentication $sj_pw, KbdInteractiveAuthentication $sj_kb" : ""} would disable the way sftp-jail logs in"`,
    `sj_v=$(sj_get authenticationmethods); case "$sj_v" in ''|any) ;; *) printf '%s\\n' $sj_v | grep -qxE '${op.auth.map((a) => (a === "password" ? "password|keyboard-interactive" : a)).join("|")}' || sj_deny "AuthenticationMethods $sj_v would apply";; esac`,
  ];
  if (op.user === "root") {
    lines.push(
      `sj_v=$(sj_get permitrootlogin); case "$sj_v" in no|forced-commands-only) sj_deny "PermitRootLogin $sj_v would apply";; without-password|prohibit-password) ${pub ? ":" : `sj_deny "PermitRootLogin $sj_v would refuse password logins"`};; esac`,
    );
  }
  if (extra) lines.push(extra);
  return lines.join("\n");
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

interface FileChange {
  path: string;
  /** New content, or undefined to remove. */
  content?: string;
}

/** The guarded plan for a set of block-file changes. */
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
function editStep(e: FileEdit): Step {
  const f = quoteArg(e.path);
  const tmp = quoteArg(`${e.path}.sftp-jail.tmp`);
  return {
    description: e.description,
    effects: { paths: [e.path, `${e.path}.sftp-jail.tmp`, backupPath(e.path)] },
    script: [
      `[ "$(sha256sum < ${f} | cut -d' ' -f1)" = ${sha256(e.before)} ] || { echo ${quoteArg(`${e.path} changed while sftp-jail was planning; run pulumi up again`)} >&2; exit 1; }`,
      `cp -p ${f} ${quoteArg(backupPath(e.path))} && cp -p ${f} ${tmp} && printf '%s' ${b64(e.after)} | base64 -d > ${tmp} && { sync ${tmp} 2>/dev/null || true; } && mv -f ${tmp} ${f}`,
    ].join("\n"),
  };
}

/**
 * Which accounts a change can un-jail (plan/jail.ts JailScope): the blocks it adds, removes or rewrites, before and
 * after; a main file whose text outside our region changes, or an admin's drop-in edited, can affect anyone.
 */
function changeScope(facts: HostFacts, changes: FileChange[], edits: FileEdit[]): JailScope {
  const current = new Map(facts.sshd.dropins.map((f) => [f.path, f.content]));
  const texts: Array<string | undefined> = changes.flatMap((c) => [current.get(c.path), c.content]);
  for (const e of edits) {
    if (e.path !== MAIN_CONFIG) return "all";
    const [b, a] = [splitRegion(e.before), splitRegion(e.after)];
    const pristine = (t: string) => (isTransformed(t) ? untransformMain(t) : t);
    if (pristine(b.rest) !== pristine(a.rest)) return "all";
    const old = new Map(b.blocks.map((x) => [x.path, x.content]));
    const now = new Map(a.blocks.map((x) => [x.path, x.content]));
    for (const p of new Set([...old.keys(), ...now.keys()])) if (old.get(p) !== now.get(p)) texts.push(old.get(p), now.get(p));
  }
  return jailScopeOf(texts);
}

function planChanges(facts: HostFacts, op: Operator, changes: FileChange[], edits: FileEdit[] = [], jailScope: "all" | "core" = "all"): Plan[] {
  const mainEdit = edits.find((e) => e.path === MAIN_CONFIG);
  const main = mainEdit ? mainEdit.after : (facts.sshd.main?.content ?? "");
  const realEdits = edits.filter((e) => e.before !== e.after);
  const current = new Map(facts.sshd.dropins.map((f) => [f.path, f.content]));
  const effective = changes.filter((c) => current.get(c.path) !== c.content);

  // Blocks once this change is made: drop-ins with the changes applied, then the region of the main file as edited.
  const after = dropinBlocks(facts);
  for (const c of changes) {
    if (c.content === undefined) after.delete(c.path);
    else after.set(c.path, parseBlock(c.content).wantsSubsystem);
  }
  for (const [p, wants] of regionBlocks(main)) after.set(p, wants);
  const want = [...after.values()].some(Boolean);
  const pristine = isTransformed(main) ? untransformMain(main) : main;
  let edited = transformMain(pristine);
  if (want) {
    // A Subsystem sftp line in a drop-in that is not ours wins over (and conflicts with) one in the main file.
    for (const f of facts.sshd.dropins) {
      if (parseBlockPath(f.path) || !f.path.endsWith(".conf")) continue;
      const s = findSubsystem(f.content);
      if (s && s.command !== "internal-sftp") {
        throw new PlanError(
          `${f.path} sets "Subsystem sftp ${s.command}", which sftp-jail cannot override from ${MAIN_CONFIG}`,
          `change that line to "Subsystem sftp internal-sftp", or set subsystemInternalSftp: false on every SshdMatchBlock of this host`,
        );
      }
      if (s) edited = pristine;
    }
  }
  const mainNeeds = want ? main !== edited : main !== pristine;
  if (effective.length === 0 && !mainNeeds && realEdits.length === 0) return [[], [], []];
  // Only a file we write must be reachable through the Include; removing one needs just a sane configuration.
  // Marker drop-ins (comment-only) need no Include: only a written block must be read by sshd.
  includePrecondition(facts, changes.find((c) => c.content !== undefined && findMatchBlocks(c.content).length > 0)?.path);

  // Edited files go back last: the Subsystem settle works on the edited main file, then the original returns.
  const restoreEdits = realEdits.map((e) => restoreScript(e.path, true)).join("\n");
  const restore = changes.map((c) => restoreScript(c.path, current.has(c.path))).join("\n");
  const settle = subsystemScript(pristine, edited);
  const write: Step[] = effective.map((c) =>
    c.content === undefined
      ? removeWithBackup(c.path, `remove ${c.path}`)
      : atomicWrite({ path: c.path, content: c.content, mode: 0o644, owner: 0, group: 0 }, `write ${c.path}`),
  );
  const touched = [...realEdits.map((e) => e.path), ...effective.map((c) => c.path)];
  const steps: Step[] = [
    // Every account sshd jails before the change must still be jailed after it (checked with the operator's access).
    { description: "record which accounts sshd jails now (sshd -T -C per account the change can affect)", script: jailBeforeScript(changeScope(facts, effective, realEdits)), effects: {} },
    ...realEdits.map(editStep),
    ...write,
    { description: "settle Subsystem sftp in sshd_config (internal-sftp while any block wants it)", script: settle, effects: { paths: [MAIN_CONFIG, MAIN_ORIG] } },
    {
      description: "check the whole sshd configuration, the operator's access and every jailed account's jail (sshd -t, sshd -T -C)",
      script: verifyScript(op, [restore, settle, restoreEdits].filter(Boolean).join("\n"), jailAfterScript(touched, jailScope)),
      effects: SSHD,
    },
    { description: "reload sshd", script: reloadScript(facts), effects: SSHD },
  ];
  const revert: Step[] = [
    { description: "restore the previous block files", script: restore, effects: { paths: changes.flatMap((c) => [c.path, backupPath(c.path)]) } },
    { description: "restore the Subsystem sftp line of sshd_config", script: settle, effects: { paths: [MAIN_CONFIG, MAIN_ORIG] } },
    ...(realEdits.length ? [{ description: `restore ${realEdits.map((e) => e.path).join(", ")} as it was`, script: restoreEdits, effects: { paths: realEdits.flatMap((e) => [e.path, backupPath(e.path)]) } }] : []),
    { description: "check and reload sshd", script: `sshd -t && { ${reloadScript(facts)} ; }`, effects: SSHD },
  ];
  const backups = [...changes.map((c) => c.path), ...realEdits.map((e) => e.path)];
  const cleanup: Step[] = [
    { description: "remove the backups of this change", script: `rm -f ${backups.map((p) => quoteArg(backupPath(p))).join(" ")}`, effects: { paths: backups.map(backupPath) } },
  ];
  return [steps, revert, cleanup];
}

/**
 * The sftp-jail block files on the host named `name` (any order, drop-in or region) that another stack wrote: their
 * header names a stack that is not `owner`. A block without that line (written before it existed) is no one's.
 */
export function foreignBlocks(name: string, owner: string | undefined, facts: HostFacts): Array<{ path: string; owner: string }> {
  if (!owner) return [];
  const out: Array<{ path: string; owner: string }> = [];
  for (const p of ourBlocks(facts).keys()) {
    if (parseBlockPath(p)?.name !== name) continue;
    const o = blockOwner(blockContent(facts, p) ?? "");
    if (o && o !== owner) out.push({ path: p, owner: o });
  }
  return out;
}

/** The refusal when another stack's block has this name on the host (checked at preview and before every write). */
export function foreignBlockProblem(name: string, owner: string | undefined, facts: HostFacts): PlanError | undefined {
  const f = foreignBlocks(name, owner, facts)[0];
  if (!f) return undefined;
  const where = blockHome(facts) === "main" ? `the sftp-jail region of ${MAIN_CONFIG} (block ${f.path})` : f.path;
  return new PlanError(
    `${where} holds the SshdMatchBlock "${name}" of stack ${f.owner}, not of this stack (${owner}): two stacks writing one block would overwrite each other's Match block`,
    `give this SshdMatchBlock another name (for SftpJailHost: the block is named after the group), or remove the block from stack ${f.owner} first (if that stack is this one under its former name, delete the line "${OWNER_PREFIX}${f.owner}" from the file on the host)`,
    "name",
  );
}

/**
 * A host-side guard, first in the change's exec (under the host lock): the block's drop-in must not have become another
 * stack's since it was observed. A block in the main file's region needs none: the main file's edit refuses if the file
 * changed at all since it was read.
 */
function ownerGuard(path: string, owner: string | undefined, steps: Plan): Plan {
  if (!owner || !steps.some((s) => s.effects.paths?.includes(path))) return steps;
  const p = quoteArg(path);
  return [
    {
      description: `check that ${path} is not another stack's block`,
      script: `if [ -f ${p} ] && grep -q ${quoteArg(`^${OWNER_PREFIX}`)} ${p} && ! grep -qxF ${quoteArg(OWNER_PREFIX + owner)} ${p}; then echo ${quoteArg(`${path} is now another stack's sftp-jail block; nothing was changed`)} >&2; exit 1; fi`,
      effects: NO_EFFECTS,
    },
    ...steps,
  ];
}

/**
 * Create or update a block. `previous` is where the block lived before (a new name or order moves the file).
 * Refuses a second file for the same block name (another order) that this resource does not own, and a block of that
 * name another stack wrote.
 */
export function planBlock(d: BlockDesired, facts: HostFacts, op: Operator, previous?: { name: string; order: number }): BlockPlan {
  const foreign = foreignBlockProblem(d.name, d.owner, facts);
  if (foreign) throw foreign;
  const path = blockPath(d.name, d.order);
  const content = renderBlock(d);
  const writes: FileChange[] = [{ path, content }];
  const prevPath = previous ? blockPath(previous.name, previous.order) : undefined;
  if (prevPath && prevPath !== path) writes.unshift({ path: prevPath, content: undefined });
  for (const p of ourBlocks(facts).keys()) {
    const b = parseBlockPath(p)!;
    if (b.name === d.name && p !== path && p !== prevPath) {
      throw new PlanError(
        `${blockHome(facts) === "main" ? `the sftp-jail region of ${MAIN_CONFIG}` : p} already holds an sftp-jail block named "${d.name}" (order ${b.order})`,
        `give this SshdMatchBlock another name, or remove the other resource (or that block, if it is a leftover)`,
      );
    }
  }
  const { changes, edits } = placement(facts, writes);
  const [steps, revert, cleanup] = planChanges(facts, op, changes, edits);
  // A revert (a failed fresh login, or the dead-man timer) that removes the new block again drops its entry too.
  return { steps: ownerGuard(path, d.owner, withBannerCheck(d, recordBlock(steps, path, prevPath !== path ? prevPath : undefined))), revert: recordBlock(revert, undefined, path), cleanup, path, content };
}

/**
 * The host's record of what sftp-jail created (observe/record.ts) learns of a block at the step that writes its text
 * (its drop-in, or the main file that holds the region), and forgets a removed one once sshd has been reloaded
 * without it.
 */
function recordBlock(steps: Plan, written?: string, removed?: string): Plan {
  if (!steps.length) return steps;
  const out = [...steps];
  if (written) {
    let at = out.findIndex((s) => s.effects.paths?.includes(written));
    if (at < 0) at = out.findIndex((s) => s.effects.paths?.includes(MAIN_CONFIG));
    if (at >= 0) out[at] = recording(out[at], rec.add("s", written));
  }
  if (removed) out[out.length - 1] = recording(out[out.length - 1], rec.drop("s", removed));
  return out;
}

/**
 * sshd sends the Banner file, as root, to every matching client before authentication. The schema allows only banner
 * paths; here, on the host, before anything changes, the file must also be a root-owned regular file that group and
 * others cannot write, reached through root-owned directories without a symlink (util/hostpath.ts).
 */
export function withBannerCheck(d: Pick<BlockDesired, "directives">, steps: Plan): Plan {
  const banner = d.directives.Banner;
  if (!steps.length || banner === undefined || banner === "none") return steps;
  return [{ description: `check that the Banner ${banner} is a root-owned regular file in root-owned directories`, script: hp.fileOk(banner), effects: NO_EFFECTS }, ...steps];
}

/** Delete a block; the main file's Subsystem line goes back when no remaining block wants it. */
export function planBlockDelete(name: string, order: number, facts: HostFacts, op: Operator): BlockPlan {
  const path = blockPath(name, order);
  const { changes, edits } = placement(facts, [{ path, content: undefined }]);
  const [steps, revert, cleanup] = planChanges(facts, op, changes, edits);
  return { steps: recordBlock(steps, undefined, path), revert, cleanup, path, content: "" };
}

/**
 * Turns block writes (path → content, or removal) into drop-in changes and, for the main file's region, one edit of
 * the main file. Where the block belongs follows {@link blockHome}; a copy left in the other place (the admin added or
 * removed the Include since) is removed in the same change, so a block is never in both.
 */
function placement(
  facts: HostFacts,
  writes: FileChange[],
  handMain?: { rest: string; description: string },
): { changes: FileChange[]; edits: FileEdit[] } {
  const main = facts.sshd.main?.content ?? "";
  const inMain = blockHome(facts) === "main";
  const split = splitRegion(main);
  const rest = handMain?.rest ?? split.rest;
  const blocks = split.blocks;
  const region = new Map(blocks.map((b) => [b.path, b.content]));
  const changes: FileChange[] = [];
  for (const w of writes) {
    region.delete(w.path);
    if (w.content !== undefined && inMain) {
      region.set(w.path, w.content);
      changes.push({ path: w.path, content: undefined });
    } else changes.push(w);
  }
  const after = withRegion(rest, [...region].map(([path, content]) => ({ path, content })));
  const region0 = withRegion("", blocks);
  const regionChanged = withRegion("", [...region].map(([path, content]) => ({ path, content }))) !== region0;
  const description = [
    ...(handMain ? [handMain.description] : []),
    ...(regionChanged ? [`update the sftp-jail region at the end of ${MAIN_CONFIG} (this sshd_config includes no sshd_config.d)`] : []),
  ].join("; ");
  const edits: FileEdit[] = after === main ? [] : [{ path: MAIN_CONFIG, before: main, after, description }];
  return { changes, edits };
}

// ---- Hand-written blocks, adopted in place ---------------------------------------------------------------------------

/** A hand-written block this resource adopted where it was: its file, its text then, and its text as last written. */
export interface InPlace {
  file: string;
  /** The admin's block text at adoption: what destroy puts back. */
  original: string;
  /** The block text sftp-jail left (to tell on destroy whether anyone edited it since). */
  written: string;
}

/** The text of a config file as observed: the main file (without our region, which is never hand-written) or a drop-in. */
function configText(facts: HostFacts, file: string): string | undefined {
  if (file === MAIN_CONFIG) return facts.sshd.main ? splitRegion(facts.sshd.main.content).rest : undefined;
  return facts.sshd.dropins.find((f) => f.path === file)?.content;
}

/**
 * Drop-in changes and file edits for an edit of a hand-written file (its text as {@link configText} gave it) plus
 * block writes: an edit of the main file and its region become ONE edit of the main file.
 */
function handPlacement(facts: HostFacts, file: string, before: string, after: string | undefined, description: string, writes: FileChange[]) {
  if (file === MAIN_CONFIG) return placement(facts, writes, after === undefined ? undefined : { rest: after, description });
  const p = placement(facts, writes);
  return after === undefined ? p : { changes: p.changes, edits: [{ path: file, before, after, description }, ...p.edits] };
}

/** Config files a hand-written block can live in: the main file and drop-ins sshd reads that are not sftp-jail's. */
function handFiles(facts: HostFacts): Array<{ path: string; content: string }> {
  const main = facts.sshd.main;
  const out = main ? [{ path: MAIN_CONFIG, content: splitRegion(main.content).rest }] : [];
  for (const f of facts.sshd.dropins) {
    if (!parseBlockPath(f.path) && f.path.endsWith(".conf") && (!main || mainIncludes(main.content, f.path))) out.push(f);
  }
  return out;
}

/**
 * The hand-written block with exactly `d`'s Match criteria, if there is one: SshdMatchBlock adopts it in place
 * instead of writing a second block beside it. Refuses when there are several, and when adopting would drop a
 * keyword the admin set that the program does not declare.
 */
export function findAdoptable(d: BlockDesired, facts: HostFacts): { file: string; block: ConfigBlock } | undefined {
  const found = handFiles(facts).flatMap((f) => blocksFor(f.content, d.match).map((block) => ({ file: f.path, block })));
  if (found.length === 0) return undefined;
  const label = `"${matchLabel(d.match)}"`;
  if (found.length > 1) {
    throw new PlanError(
      `${found.length} hand-written ${label} blocks exist (${found.map((f) => `${f.file} line ${f.block.start + 1}`).join(", ")}); sshd applies the first value of each keyword across them`,
      "merge them into one block by hand (sshd -T -C user=<a jailed user>,host=x,addr=x shows what applies now), then run pulumi up again",
    );
  }
  const { file, block } = found[0];
  const dropped = droppedByAdoption(block, d.directives);
  if (dropped.length) {
    const unmanaged = dropped.filter((k) => !DIRECTIVE_NAMES.includes(k));
    throw new PlanError(
      `the hand-written ${label} block in ${file} (line ${block.start + 1}) also sets ${dropped.map((k) => `${k} ${block.directives[k]}`.trim()).join(", ")}, which this block does not declare; adopting it would drop ${dropped.length > 1 ? "them" : "it"}`,
      unmanaged.length
        ? `sftp-jail does not manage ${unmanaged.join(", ")} inside a Match block: move ${unmanaged.length > 1 ? "them" : "it"} out of that block by hand (and declare the rest in directives / sshdDirectives), then run pulumi up again`
        : `declare ${dropped.map((k) => `${k}: "${block.directives[k]}"`).join(", ")} in directives (SftpJailHost: sshdDirectives) to keep ${dropped.length > 1 ? "them" : "it"}, or remove ${dropped.length > 1 ? "them" : "it"} from the hand-written block first`,
    );
  }
  return found[0];
}

/** The drop-in an adopted block keeps only when it needs the main file's Subsystem edit: the host-side reference count. */
export function renderMarker(d: Pick<BlockDesired, "name" | "order" | "match" | "owner">, file: string): string {
  return [
    `# Managed by sftp-jail: SshdMatchBlock "${d.name}" (order ${d.order}) adopted the hand-written "${matchLabel(d.match)}" block in ${file},`,
    "# which stays there. This file holds no configuration; it only records that the block wants:",
    ...(d.owner ? [OWNER_PREFIX + d.owner] : []),
    WANTS_SUBSYSTEM,
    "",
  ].join("\n");
}

/** True when `Subsystem sftp internal-sftp` is the admin's own setting (main file, or a drop-in not ours). */
function nativeInternalSftp(facts: HostFacts, main: string): boolean {
  const pristine = isTransformed(main) ? untransformMain(main) : main;
  if (findSubsystem(pristine)?.command === "internal-sftp") return true;
  return facts.sshd.dropins.some((f) => !parseBlockPath(f.path) && f.path.endsWith(".conf") && findSubsystem(f.content)?.command === "internal-sftp");
}

function describeEdit(block: ConfigBlock, want: Record<string, string>, file: string, match: BlockDesired["match"]): string {
  const order = (k: string) => (DIRECTIVE_NAMES.includes(k) ? DIRECTIVE_NAMES.indexOf(k) : DIRECTIVE_NAMES.length);
  const byOrder = (a: string, b: string) => order(a) - order(b);
  const { changed, added } = adoptionChanges(block, want);
  changed.sort(byOrder);
  added.sort(byOrder);
  const removed = droppedByAdoption(block, want);
  const parts = [
    ...(changed.length ? [`set ${changed.map((k) => `${k} ${want[k]}`).join(", ")}`] : []),
    ...(added.length ? [`add ${added.map((k) => `${k} ${want[k]}`).join(", ")}`] : []),
    ...(removed.length ? [`remove ${removed.join(", ")}`] : []),
  ];
  return `edit the hand-written "${matchLabel(match)}" block in ${file} in place: ${parts.join("; ") || "reformat"}`;
}

/**
 * Converges a block adopted in place: only the directive lines that differ change (none: an empty plan, the host
 * is not touched). `original` is the admin's text, kept for destroy. When the block is gone from its file, the
 * resource falls back to its own drop-in (the plan then has no `inPlace`).
 */
export function planInPlace(
  d: BlockDesired,
  facts: HostFacts,
  op: Operator,
  at: { file: string; original?: string },
  previous?: { name: string; order: number },
): BlockPlan & { inPlace?: InPlace } {
  const foreign = foreignBlockProblem(d.name, d.owner, facts);
  if (foreign) throw foreign;
  const content = configText(facts, at.file);
  const blocks = content === undefined ? [] : blocksFor(content, d.match);
  if (blocks.length === 0) return planBlock(d, facts, op, previous);
  if (blocks.length > 1) {
    throw new PlanError(
      `${at.file} now holds ${blocks.length} "${matchLabel(d.match)}" blocks`,
      "merge them into one by hand, then run pulumi up again",
    );
  }
  const after = editBlock(content!, blocks[0], d.directives);
  const mainAfter = at.file === MAIN_CONFIG ? after : (facts.sshd.main?.content ?? "");
  const marker = blockPath(d.name, d.order);
  const writes: FileChange[] = [
    { path: marker, content: d.subsystemInternalSftp && !nativeInternalSftp(facts, mainAfter) ? renderMarker(d, at.file) : undefined },
  ];
  const prev = previous ? blockPath(previous.name, previous.order) : undefined;
  if (prev && prev !== marker) writes.unshift({ path: prev, content: undefined });
  const { changes, edits } = handPlacement(facts, at.file, content!, after, describeEdit(blocks[0], d.directives, at.file, d.match), writes);
  const [steps, revert, cleanup] = planChanges(facts, op, changes, edits);
  const written = blockText(after, d.match) ?? "";
  return { steps: ownerGuard(marker, d.owner, withBannerCheck(d, steps)), revert, cleanup, path: at.file, content: written, inPlace: { file: at.file, original: at.original ?? blocks[0].text, written } };
}

/**
 * Destroy of an adopted block: the admin's block goes back. Unchanged since sftp-jail last wrote it, it is replaced by
 * the original text byte for byte; edited by someone since, its directives are set back to the original ones (the
 * rest of their edit stays). A block removed by hand stays removed. The marker drop-in, if any, goes.
 */
export function planInPlaceRestore(
  d: Pick<BlockDesired, "name" | "order" | "match">,
  facts: HostFacts,
  op: Operator,
  at: InPlace,
): BlockPlan {
  const content = configText(facts, at.file);
  const blocks = content === undefined ? [] : blocksFor(content, d.match);
  let after: string | undefined;
  if (blocks.length === 1) {
    const b = blocks[0];
    after = b.text === at.written ? replaceBlock(content!, b, at.original) : editBlock(content!, b, findMatchBlocks(at.original)[0]?.directives ?? {});
  }
  const description = `put the hand-written "${matchLabel(d.match)}" block in ${at.file} back as it was before sftp-jail adopted it`;
  const { changes, edits } = handPlacement(facts, at.file, content ?? "", after, description, [{ path: blockPath(d.name, d.order), content: undefined }]);
  // The admin's block comes back as it was: it must still jail (chroot, internal-sftp), not be as tight as ours.
  const [steps, revert, cleanup] = planChanges(facts, op, changes, edits, "core");
  return { steps, revert, cleanup, path: at.file, content: "" };
}
