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
import { Operator, verifyScript } from "./lockout";
import { FileEdit, editStep, reloadScript, restoreScript, subsystemScript } from "./sshdScripts";
import { quoteArg } from "../util/shell";
import {
  BlockDesired,
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
import { findMatchBlocks } from "./sshdAdopt";
import { JailScope, jailAfterScript, jailBeforeScript, jailScopeOf, matchContexts } from "./jail";

export type { FileEdit, Operator };
export { reloadScript, subsystemScript, verifyScript };

/** Checks and reloads of sshd: they change its running configuration, no account, group or path. */
const SSHD: Effects = { service: "sshd" };

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

export interface FileChange {
  path: string;
  /** New content, or undefined to remove. */
  content?: string;
}

/**
 * Which accounts a change can un-jail or otherwise affect (plan/jail.ts JailScope): the blocks it adds, removes or
 * rewrites, before and after; a main file whose text outside our region changes, or an admin's drop-in edited, can
 * affect anyone. `contexts`: the clients its Match lines name (plan/jail.ts matchContexts).
 */
function changeScope(facts: HostFacts, changes: FileChange[], edits: FileEdit[]): { scope: JailScope; contexts: string[] } {
  const current = new Map(facts.sshd.dropins.map((f) => [f.path, f.content]));
  const texts: Array<string | undefined> = changes.flatMap((c) => [current.get(c.path), c.content]);
  let all = false;
  for (const e of edits) {
    if (e.path !== MAIN_CONFIG) {
      all = true;
      texts.push(e.before, e.after);
      continue;
    }
    const [b, a] = [splitRegion(e.before), splitRegion(e.after)];
    const pristine = (t: string) => (isTransformed(t) ? untransformMain(t) : t);
    if (pristine(b.rest) !== pristine(a.rest)) all = true;
    const old = new Map(b.blocks.map((x) => [x.path, x.content]));
    const now = new Map(a.blocks.map((x) => [x.path, x.content]));
    for (const p of new Set([...old.keys(), ...now.keys()])) if (old.get(p) !== now.get(p)) texts.push(old.get(p), now.get(p));
  }
  return { scope: all ? "all" : jailScopeOf(texts), contexts: matchContexts(texts) };
}

/** The guarded plan for a set of block-file changes. */
export function planChanges(facts: HostFacts, op: Operator, changes: FileChange[], edits: FileEdit[] = [], jailScope: "all" | "core" = "all"): Plan[] {
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
  const reach = changeScope(facts, effective, realEdits);
  const steps: Step[] = [
    // Every account sshd jails before the change must still be jailed after it, and every other one must be allowed
    // exactly what it was (checked with the operator's access).
    {
      description: "record which accounts sshd jails now, and what it allows every other one (sshd -T -C per account the change can affect)",
      script: jailBeforeScript(reach.scope, reach.contexts),
      effects: {},
    },
    ...realEdits.map(editStep),
    ...write,
    { description: "settle Subsystem sftp in sshd_config (internal-sftp while any block wants it)", script: settle, effects: { paths: [MAIN_CONFIG, MAIN_ORIG] } },
    {
      description: "check the whole sshd configuration, the operator's access, every jailed account's jail and what every other account is allowed (sshd -t, sshd -T -C)",
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
export function ownerGuard(path: string, owner: string | undefined, steps: Plan): Plan {
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
export function placement(
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
