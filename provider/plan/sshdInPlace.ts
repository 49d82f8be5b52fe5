/**
 * SshdMatchBlock: a hand-written block adopted in place. Instead of writing a second block beside the admin's own
 * `Match` with the same criteria, the resource edits only the directive lines that differ, where the block is, and
 * destroy puts the admin's text back. Planned as one guarded change with the block planner's own machinery (plan/sshd.ts).
 */
import { HostFacts } from "../observe/facts";
import { BlockPlan, FileChange, Operator, foreignBlockProblem, ownerGuard, placement, planBlock, planChanges, withBannerCheck } from "./sshd";
import { ConfigBlock, adoptionChanges, blockText, blocksFor, droppedByAdoption, editBlock, findMatchBlocks, matchLabel, replaceBlock } from "./sshdAdopt";
import { BlockDesired, DIRECTIVE_NAMES, MAIN_CONFIG, OWNER_PREFIX, WANTS_SUBSYSTEM, blockPath, findSubsystem, isTransformed, mainIncludes, parseBlockPath, splitRegion, untransformMain } from "./sshdRender";
import { PlanError } from "./types";

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
