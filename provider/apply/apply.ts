/**
 * Apply: the only code that changes a host. A plan's steps run in one exec, under a host-side lock so parallel
 * resources on one host never interleave, stopping at the first failure; the same exec then prints a fresh snapshot
 * (of what the plan changed, merged into the cached one: observe/snapshot.ts) so the next resource plans on the new
 * state without another round trip.
 */
import { Session } from "../connection/pool";
import {
  MANIFEST_LIB,
  Needs,
  SCRIPT_PREFIX,
  SNAPSHOT_MARK,
  forget,
  manifestEntries,
  manifestHas,
  observe,
  parseDelta,
  parseSnapshot,
  registered,
  remember,
  snapshotScript,
  touched,
  trailingSnapshot,
} from "../observe/snapshot";
import { envelopeProblem } from "../plan/envelope";
import { refuseUnfitHost } from "./hostGate";
import { HostFacts } from "../observe/facts";
import { Plan } from "../plan/types";
import { SftpJailError } from "../util/errors";
import { log } from "../util/log";
import { quoteArg } from "../util/shell";
import { REFUSED } from "../util/hostpath";
import { recordLib } from "../observe/record";
import { OWNER_RE } from "../plan/sshdRender";

export const LOCK_FILE = "/run/lock/sftp-jail.lock";
const STEP_MARK = "@@sftp-jail-step:";
/** Printed when the record of what sftp-jail created could not be updated after a step (the step itself succeeded). */
const RECORD_FAILED = "@@sftp-jail-record-failed:";

/**
 * The script for a plan (pure; unit-tested). Steps run with `set -e` semantics, each announced for error reports.
 * `manifest`: the entries to add to the host's manifest (none when the host already lists them all). `owner`: the
 * applying stack, stamped on what the host's record says it created ("-": unknown, so no stack takes it back).
 */
export function applyScript(plan: Plan, needs: Needs = {}, manifest: string[] = manifestEntries(needs), snapshot: string = snapshotScript(needs), owner = "-"): string {
  if (owner !== "-" && !OWNER_RE.test(owner)) throw new Error(`internal: ${JSON.stringify(owner)} is not a stack identity`);
  const lines = [
    SCRIPT_PREFIX,
    "umask 022",
    `mkdir -p /run/lock; exec 9>${LOCK_FILE}`,
    "flock -w 120 9 || { echo 'timed out waiting for the sftp-jail host lock' >&2; exit 75; }",
  ];
  if (plan.some((s) => s.record?.length)) lines.splice(1, 0, recordLib());
  plan.forEach((s, i) => {
    lines.push(`echo ${quoteArg(`${STEP_MARK}${i}`)}`);
    const ops = s.record ?? [];
    if (!ops.length) {
      lines.push(`{ ${s.script} ; } || exit $?`);
      return;
    }
    // The record follows its step with no output in between (a write to a client that is gone would end the
    // script there): what the step created is recorded even when nobody hears back from this exec. Objects that
    // existed before the step are never recorded as created.
    const adds = ops.filter((o) => o.startsWith("+"));
    lines.push(
      adds.length ? `sj_pre=$(sj_rec_absent ${adds.map(quoteArg).join(" ")})` : "sj_pre=",
      `{ ${s.script} ; } || exit $?`,
      `{ sj_rec_do ${quoteArg(owner)} "$sj_pre" ${ops.map(quoteArg).join(" ")} ; } > /dev/null 2>&1 || echo ${quoteArg(`${RECORD_FAILED}${i}`)}`,
    );
  });
  lines.push("exec 9>&-");
  // Record what this host's resources cover, so a later run's first snapshot covers them all (its own lock).
  if (manifest.length) lines.push(MANIFEST_LIB, `sj_manifest_add ${manifest.map(quoteArg).join(" ")} 2>/dev/null || true`);
  lines.push(snapshot);
  return lines.join("\n");
}

export interface ApplyContext {
  session: Session;
  resource: string;
  /** What the applying resource reads (its observe needs): re-read by the trailing snapshot with what the plan changes. */
  reads?: Needs;
  /** The applying stack (`<project>/<stack>`, adapters/base.ts ownerOf): whose the host's record says a creation is. */
  owner?: string;
}

/**
 * The one gate every plan passes: its declared effects (types.ts) must stay outside the operator's envelope
 * (plan/envelope.ts), judged on the host's current facts (the phase's snapshot, usually cached). Refused before
 * anything runs.
 */
async function refuseInsideEnvelope(ctx: ApplyContext, plan: Plan): Promise<void> {
  const problem = envelopeProblem(plan, await observe(ctx.session));
  if (problem) {
    throw new SftpJailError({ host: `${ctx.session.conn.host}:${ctx.session.conn.port}`, resource: ctx.resource }, `${problem.what}. Nothing was changed`, problem.fix);
  }
}

/**
 * Runs a plan and returns the host's facts after it. An empty plan costs nothing. Every plan passes the host gate
 * (the adapters pass it before planning; here it is the backstop no code path can skip) and the envelope check.
 */
export async function apply(ctx: ApplyContext, plan: Plan): Promise<HostFacts | undefined> {
  if (plan.length === 0) return undefined;
  await refuseUnfitHost(ctx.session, ctx.resource);
  await refuseInsideEnvelope(ctx, plan);
  const where = `${ctx.resource} on ${ctx.session.conn.host}:${ctx.session.conn.port}`;
  const needs = registered(ctx.session);
  // The trailing snapshot re-reads what this plan changes and what this resource reads; the rest of the cache holds.
  const reread = touched(plan.map((s) => s.effects), needs, ctx.reads);
  const trailing = trailingSnapshot(ctx.session, reread);
  let r;
  try {
    // The applying resource's own jail evaluations too: a later run's first snapshot then judges every account.
    const entries = manifestEntries({ ...needs, jail: reread.jail });
    r = await ctx.session.exec(applyScript(plan, needs, manifestHas(ctx.session, entries) ? [] : entries, trailing.script, ctx.owner ?? "-"));
  } catch (e) {
    forget(ctx.session);
    throw e;
  }
  const idx = r.stdout.indexOf(SNAPSHOT_MARK);
  if (r.code !== 0) {
    forget(ctx.session);
    const started = [...r.stdout.matchAll(new RegExp(`^${STEP_MARK}(\\d+)$`, "gm"))].map((m) => Number(m[1]));
    const failed = plan[started.length ? started[started.length - 1] : 0];
    throw new SftpJailError(
      { host: `${ctx.session.conn.host}:${ctx.session.conn.port}`, resource: ctx.resource },
      `step "${failed?.description}" failed (exit ${r.code}): ${r.stderr.trim().slice(0, 2000) || "no error output"}`,
      r.code === REFUSED
        ? "sftp-jail refused to act on that path (it does not follow symlinks, and acts only through root-owned directories where a jail needs them), and this step changed nothing; look at the path on the host (a jailed user may have planted a link there), move it away, then run `pulumi up --refresh` again"
        : "fix the cause on the host or in the program, then run `pulumi up` again; completed steps are not repeated",
    );
  }
  // Logged once done, so a refused or failed change never reads as applied.
  for (const s of plan) log.info(`${where}: ${s.description}`);
  for (const m of r.stdout.slice(0, idx < 0 ? undefined : idx).matchAll(new RegExp(`^${RECORD_FAILED}(\\d+)$`, "gm"))) {
    log.warn(
      `${where}: the step "${plan[Number(m[1])]?.description}" was done, but the host's record of what sftp-jail created (/var/lib/sftp-jail/.created) could not be updated; should this stack's state be lost, the object would be adopted as the admin's and left on destroy`,
    );
  }
  const out = r.stdout.slice(idx);
  const after = trailing.delta ? remember(ctx.session, parseDelta(out), needs, out, reread, reread.jail) : remember(ctx.session, parseSnapshot(out), needs, out, undefined, reread.jail);
  if (after) return after;
  // A delta with nothing left to merge into (a failure elsewhere on this host dropped the cache): a full snapshot,
  // taken from now on (an exec already in flight may predate this change).
  forget(ctx.session);
  return observe(ctx.session);
}
