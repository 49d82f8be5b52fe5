/**
 * Apply: the only code that changes a host. A plan's steps run in one exec, under a host-side lock so parallel
 * resources on one host never interleave, stopping at the first failure; the same exec then prints a fresh snapshot
 * (of what the plan changed, merged into the cached one: observe/snapshot.ts) so the next resource plans on the new
 * state without another round trip.
 *
 * Plans that reach a host while its previous exec runs share the next one (a batch). Pulumi's engine only runs
 * independent operations at once, so they would have run one after the other under the host lock anyway; in one exec
 * they cost one round trip and one trailing snapshot instead of one each, and they no longer hold the engine's
 * parallel slots while they queue for the lock (issue 10: ten users of a host took ten applies in a row). Each plan
 * keeps its own semantics: it runs in a subshell of its own, stops at its own first failure, and fails alone.
 */
import { randomBytes } from "crypto";
import { Session } from "../connection/pool";
import { secretsOf } from "../connection/schema";
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
import { Plan, Step } from "../plan/types";
import { SftpJailError, redact } from "../util/errors";
import { log } from "../util/log";
import { quoteArg } from "../util/shell";
import { REFUSED, atOrBelow } from "../util/hostpath";
import { recordLib } from "../observe/record";
import { OWNER_RE } from "../plan/sshdRender";

/** How apply's message lists the steps it ran: `<Type "name"> on <host>: applied: <step>; <step>`. */
export const APPLIED = "applied: ";
export const STEP_SEPARATOR = "; ";

/**
 * The host lock, in root's own directory (also the dead-man timers', guarded.ts): not world-writable /run/lock, where
 * any local account could plant a link for root to truncate through, or hold the lock and stall every apply.
 */
export const LOCK_DIR = "/run/sftp-jail";
export const LOCK_FILE = `${LOCK_DIR}/host.lock`;
const STEP_MARK = "@@sftp-jail-step:";
/** Printed after each plan of an exec with its exit code. */
const DONE_MARK = "@@sftp-jail-done:";
/** Prefixes the error output of a plan that failed (a plan's error output is kept apart from the others'). */
const ERR_MARK = "@@sftp-jail-err:";
/** Printed when the record of what sftp-jail created could not be updated after a step (the step itself succeeded). */
const RECORD_FAILED = "@@sftp-jail-record-failed:";
/** Any of the four markers above: `<mark><nonce>:<plan>:<rest>`. */
const MARK_RE = new RegExp(`^(${[STEP_MARK, DONE_MARK, ERR_MARK, RECORD_FAILED].join("|")})([0-9a-z]+):(\\d+):(.*)$`);
/**
 * At most this much script per batched exec (a single plan may be larger: the script goes on stdin, not as an
 * argument, connection/pool.ts): one exec's output is parsed whole, and a failure costs the batch.
 */
const SCRIPT_MAX = 100_000;
/** At most this many plans per exec. */
const BATCH_MAX = 40;
/** How long the first plan of a batch waits for others that the engine starts at the same moment. */
const GATHER_MS = 10;

/** A plan in an exec, and the stack it applies for (what the host's record says created its objects). */
export interface BatchItem {
  plan: Plan;
  /** The applying stack, `<project>/<stack>`, or "-" (unknown: no stack takes the objects back). */
  owner?: string;
}

/**
 * The script for a plan (pure; unit-tested): {@link batchScript} of one item. `manifest`: the entries to add to the
 * host's manifest (none when the host already lists them all). `owner`: the applying stack, stamped on what the
 * host's record says it created ("-": unknown, so no stack takes it back).
 */
export function applyScript(plan: Plan, needs: Needs = {}, manifest: string[] = manifestEntries(needs), snapshot: string = snapshotScript(needs), owner = "-"): string {
  return batchScript([{ plan, owner }], manifest, snapshot, "0");
}

/**
 * The script for plans that share one exec (pure; unit-tested). Under the host lock, each plan runs in a subshell of
 * its own: its steps are announced for error reports and stop at its first failure (that plan's only), its error
 * output is kept apart from the others' (printed only when it failed), and its exit code is printed once it is done.
 * The lock is released before the manifest update and the trailing snapshot. `nonce`, in every marker, is new for
 * each exec (apply's run()): no output of a step can pass for another plan's marker.
 */
export function batchScript(items: readonly BatchItem[], manifest: string[], snapshot: string, nonce: string): string {
  if (!/^[0-9a-z]+$/.test(nonce)) throw new Error(`internal: ${JSON.stringify(nonce)} is not a marker nonce`);
  for (const { owner } of items) checkOwner(owner);
  const lines = [
    SCRIPT_PREFIX,
    "umask 022",
    // Made once per boot (no process when it is there); only root can create it in /run.
    `[ -d ${LOCK_DIR} ] || install -d -m 0700 -o root -g root ${LOCK_DIR}; exec 9>${LOCK_FILE}`,
    "flock -w 120 9 || { echo 'timed out waiting for the sftp-jail host lock' >&2; exit 75; }",
    // fd 3: the exec's own output, for a plan whose error output is being captured.
    "exec 3>&1",
  ];
  const recording = items.some((it) => it.plan.some((s) => s.record?.length));
  if (recording) lines.splice(1, 0, recordLib());
  const ranBy = sharedSteps(items);
  const referenced = new Set(ranBy.values());
  items.forEach(({ plan, owner = "-" }, k) => {
    const body: string[] = [];
    plan.forEach((s, i) => {
      body.push(`printf '\\n%s\\n' ${quoteArg(`${STEP_MARK}${nonce}:${k}:${i}`)}`);
      const ops = s.record ?? [];
      // Ran already by plan j of this exec when that plan ended well (its exit code, kept by the shell below).
      const j = ranBy.get(`${k}:${i}`);
      if (j !== undefined) body.push(`if [ "\${sj_rc_${j}:-}" != 0 ]; then`);
      if (!ops.length) {
        body.push(`{ ${s.script} ; } || exit $?`);
      } else {
        // The record follows its step with no output in between (a write to a client that is gone would end the
        // script there): what the step created is recorded even when nobody hears back from this exec. Objects that
        // existed before the step are never recorded as created.
        const adds = ops.filter((o) => o.startsWith("+"));
        body.push(
          adds.length ? `sj_pre=$(sj_rec_absent ${adds.map(quoteArg).join(" ")})` : "sj_pre=",
          `{ ${s.script} ; } || exit $?`,
          `{ sj_rec_log ${quoteArg(owner)} "$sj_pre" ${ops.map(quoteArg).join(" ")} ; } > /dev/null 2>&1 || printf '\\n%s\\n' ${quoteArg(`${RECORD_FAILED}${nonce}:${k}:${i}`)}`,
        );
      }
      if (j !== undefined) body.push("fi");
    });
    // Error output is captured (stdout goes on to fd 3, closed inside so nothing started there keeps the exec open).
    lines.push(
      `sj_err=$( (`,
      ...body,
      `) 2>&1 1>&3 3>&- ); sj_rc=$?`,
      `printf '\\n%s%s\\n' ${quoteArg(`${DONE_MARK}${nonce}:${k}:`)} "$sj_rc"`,
      ...(referenced.has(k) ? [`sj_rc_${k}=$sj_rc`] : []),
      `[ "$sj_rc" -eq 0 ] || printf '%s\\n' "$sj_err" | head -c 4000 | sed ${quoteArg(`s/^/${ERR_MARK}${nonce}:${k}:/`)}`,
    );
  });
  // The steps' logged record operations folded into the record once, still under the lock (observe/record.ts).
  if (recording) lines.push("{ sj_rec_fold ; } > /dev/null 2>&1 || true");
  lines.push("exec 9>&- 3>&-");
  // Record what this host's resources cover, so a later run's first snapshot covers them all (its own lock).
  if (manifest.length) lines.push(MANIFEST_LIB, `sj_manifest_add ${manifest.map(quoteArg).join(" ")} 2>/dev/null || true`);
  lines.push(withoutDefined(snapshot, manifest.length ? [SCRIPT_PREFIX, MANIFEST_LIB] : [SCRIPT_PREFIX]));
  return lines.join("\n");
}

/**
 * The trailing snapshot without the leading parts this exec's shell has run already (pure). The snapshot runs in the
 * same shell after the plans, and each plan runs in a subshell of its own, so none can undo the prefix's settings or
 * redefine its functions; the record's and the manifest's functions have names of their own (test/unit/apply.batch.test.ts).
 * ~8 KB less per apply exec (a user's was ~35 KB) to send, and for the host's shell to parse.
 */
export function withoutDefined(snapshot: string, defined: readonly string[]): string {
  let rest = snapshot;
  for (const part of defined) if (rest.startsWith(part + "\n")) rest = rest.slice(part.length + 1);
  return rest;
}

/**
 * The {@link Step.shared} steps of an exec that an earlier plan of it runs already (pure): `plan:step` -> the plan
 * that runs the first copy (same script, same record operations). Never when a step in between (from that copy to
 * this one, in the order the exec runs them) declares a change at or above one of the step's directories.
 */
export function sharedSteps(items: readonly BatchItem[]): Map<string, number> {
  const flat = items.flatMap(({ plan }, k) => plan.map((step, i) => ({ step, k, i })));
  const touched = (st: Step) => [...(st.effects.paths ?? []), ...(st.effects.dirs ?? [])];
  const keyOf = (st: Step) => (st.shared ? JSON.stringify([st.script, st.record ?? [], st.effects]) : undefined);
  const first = new Map<string, number>();
  const out = new Map<string, number>();
  flat.forEach(({ step, k, i }, at) => {
    const key = keyOf(step);
    if (key === undefined) return;
    const from = first.get(key);
    if (from === undefined) return void first.set(key, at);
    const dirs = touched(step);
    // Copies of this very step in between (skipped, or run again) leave its directories as this one would. A change
    // at a directory or above it can replace or re-own it; one below it (a key file written there) cannot.
    const clear = flat.slice(from + 1, at).every((x) => keyOf(x.step) === key || !touched(x.step).some((p) => dirs.some((d) => atOrBelow(d, p))));
    // A copy that must run again is the one later copies are measured from.
    if (clear && flat[from].k !== k) out.set(`${k}:${i}`, flat[from].k);
    else first.set(key, at);
  });
  return out;
}

/** A plan's stack identity goes into its script quoted, but only one of the shape OWNER_RE allows (or "-": unknown). */
function checkOwner(owner: string | undefined): void {
  if (owner !== undefined && owner !== "-" && !OWNER_RE.test(owner)) throw new Error(`internal: ${JSON.stringify(owner)} is not a stack identity`);
}

/** How each plan of an exec ended, from its output (pure; unit-tested). */
export function batchOutcome(stdout: string, n: number, nonce: string): { code?: number; started: number[]; err: string; recordFailed: number[] }[] {
  const out = Array.from({ length: n }, () => ({ code: undefined as number | undefined, started: [] as number[], err: [] as string[], recordFailed: [] as number[] }));
  const end = stdout.indexOf(SNAPSHOT_MARK);
  for (const line of stdout.slice(0, end < 0 ? undefined : end).split("\n")) {
    const m = MARK_RE.exec(line);
    const it = m && m[2] === nonce ? out[Number(m[3])] : undefined;
    if (!m || !it) continue;
    if (m[1] === STEP_MARK && /^\d+$/.test(m[4])) it.started.push(Number(m[4]));
    else if (m[1] === DONE_MARK && /^\d+$/.test(m[4])) it.code = Number(m[4]);
    else if (m[1] === ERR_MARK) it.err.push(m[4]);
    else if (m[1] === RECORD_FAILED && /^\d+$/.test(m[4])) it.recordFailed.push(Number(m[4]));
  }
  return out.map((o) => ({ ...o, err: o.err.join("\n") }));
}

export interface ApplyContext {
  session: Session;
  resource: string;
  /** What the applying resource reads (its observe needs): re-read by the trailing snapshot with what the plan changes. */
  reads?: Needs;
  /** The applying stack (`<project>/<stack>`, adapters/base.ts ownerOf): whose the host's record says a creation is. */
  owner?: string;
  /**
   * Run in an exec of its own, never in a batch: a guarded change (apply/guarded.ts), whose fresh-login confirmation
   * and dead-man timer must be about that change alone.
   */
  alone?: boolean;
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
 * (the adapters pass it before planning; here it is the backstop no code path can skip) and the envelope check, on
 * its own, before it joins its host's next exec.
 */
export async function apply(ctx: ApplyContext, plan: Plan): Promise<HostFacts | undefined> {
  if (plan.length === 0) return undefined;
  await refuseUnfitHost(ctx.session, ctx.resource);
  await refuseInsideEnvelope(ctx, plan);
  // Judged here, for this plan alone (batchScript would refuse the whole batch).
  checkOwner(ctx.owner);
  return new Promise<HostFacts>((resolve, reject) => {
    const q = queueOf(ctx.session);
    q.items.push({ ctx, plan, resolve, reject });
    if (!q.running) void drain(ctx.session, q);
  });
}

interface Waiting {
  ctx: ApplyContext;
  plan: Plan;
  resolve: (f: HostFacts) => void;
  reject: (e: unknown) => void;
}
interface HostApplies {
  items: Waiting[];
  running: boolean;
}

/** Plans waiting for a host's next exec, per pooled session (on globalThis, like the snapshot cache). */
function queueOf(s: Session): HostApplies {
  const g = globalThis as unknown as { [k: symbol]: Map<Session, HostApplies> };
  const m = (g[Symbol.for("sftp-jail.applies.v1")] ??= new Map());
  let q = m.get(s);
  if (!q) m.set(s, (q = { items: [], running: false }));
  return q;
}

/** One exec at a time per session: whatever queued while one ran goes in the next. */
async function drain(s: Session, q: HostApplies): Promise<void> {
  q.running = true;
  try {
    while (q.items.length) {
      await new Promise((r) => setTimeout(r, GATHER_MS));
      const batch = takeBatch(q);
      // run() settles every plan it ran; anything it threw settles the rest (a settled promise ignores it).
      await run(s, batch).catch((e) => batch.forEach((w) => w.reject(e)));
    }
  } finally {
    q.running = false;
  }
}

/** The next exec's plans, in the order they came: the first plan, then others that may share its exec. */
function takeBatch(q: HostApplies): Waiting[] {
  const first = q.items.shift()!;
  if (first.ctx.alone) return [first];
  const batch = [first];
  let size = batch[0].plan.reduce((n, st) => n + st.script.length, 0);
  for (let i = 0; i < q.items.length && batch.length < BATCH_MAX; ) {
    const w = q.items[i];
    const more = w.plan.reduce((n, st) => n + st.script.length + 200, 0);
    if (w.ctx.alone || size + more > SCRIPT_MAX / 2) {
      i++;
      continue;
    }
    batch.push(...q.items.splice(i, 1));
    size += more;
  }
  return batch;
}

/** Runs a batch in one exec and settles every plan in it. */
async function run(s: Session, batch: Waiting[]): Promise<void> {
  let script = "";
  const nonce = randomBytes(6).toString("hex");
  let reread!: ReturnType<typeof touched>;
  let trailing!: ReturnType<typeof trailingSnapshot>;
  const needs = registered(s);
  // Built last-in-first-out until it fits (the libraries and the snapshot are shared, the plans are not).
  for (;;) {
    // The trailing snapshot re-reads what these plans change and what their resources read; the rest of the cache holds.
    reread = touched(
      batch.flatMap((w) => w.plan.map((st) => st.effects)),
      needs,
      {
        paths: batch.flatMap((w) => [...(w.ctx.reads?.paths ?? [])]),
        files: batch.flatMap((w) => [...(w.ctx.reads?.files ?? [])]),
        jail: batch.flatMap((w) => [...(w.ctx.reads?.jail ?? [])]),
      },
      batch.some((w) => w.plan.some((st) => st.record?.length)),
    );
    trailing = trailingSnapshot(s, reread);
    // The applying resources' own jail evaluations too: a later run's first snapshot then judges every account.
    const entries = manifestEntries({ ...needs, jail: reread.jail });
    script = batchScript(
      batch.map((w) => ({ plan: w.plan, owner: w.ctx.owner ?? "-" })),
      manifestHas(s, entries) ? [] : entries,
      trailing.script,
      nonce,
    );
    if (script.length <= SCRIPT_MAX || batch.length === 1) break;
    queueOf(s).items.unshift(batch.pop()!);
  }
  let r;
  try {
    r = await s.exec(script);
  } catch (e) {
    forget(s);
    for (const w of batch) w.reject(e);
    return;
  }
  const outcome = batchOutcome(r.stdout, batch.length, nonce);
  const ok = outcome.every((o) => o.code === 0);
  if (!ok) forget(s);
  batch.forEach((w, k) => {
    const o = outcome[k];
    if (o.code === 0) return;
    const failed = w.plan[o.started.length ? o.started[o.started.length - 1] : 0];
    // No exit code of its own: the exec ended before this plan did (the lock timed out, or the script was killed).
    const code = o.code ?? r.code;
    const stderr = redact((o.code === undefined ? r.stderr : o.err).trim(), secretsOf(s.conn));
    w.reject(
      new SftpJailError(
        { host: `${s.conn.host}:${s.conn.port}`, resource: w.ctx.resource },
        `step "${failed?.description}" failed (exit ${code}): ${stderr.slice(0, 2000) || "no error output"}`,
        code === REFUSED
          ? "sftp-jail refused to act on that path (it does not follow symlinks, and acts only through root-owned directories where a jail needs them), and this step changed nothing; look at the path on the host (a jailed user may have planted a link there), move it away, then run `pulumi up --refresh` again"
          : "fix the cause on the host or in the program, then run `pulumi up` again; completed steps are not repeated",
      ),
    );
  });
  const done = batch.filter((_, k) => outcome[k].code === 0);
  if (!done.length) return;
  for (const [k, w] of batch.entries()) {
    if (outcome[k].code !== 0) continue;
    const where = `${w.ctx.resource} on ${s.conn.host}:${s.conn.port}`;
    // Logged once done, so a refused or failed change never reads as applied; one message per resource, because
    // every message is a call to the engine and an event it renders (one per step cost ~1 CPU-s in a 10-host converge).
    log.info(`${where}: ${APPLIED}${w.plan.map((st) => st.description).join(STEP_SEPARATOR)}`);
    for (const i of outcome[k].recordFailed) {
      log.warn(
        `${where}: the step "${w.plan[i]?.description}" was done, but the host's record of what sftp-jail created (/var/lib/sftp-jail/.created) could not be updated; should this stack's state be lost, the object would be adopted as the admin's and left on destroy`,
      );
    }
  }
  let after: HostFacts | undefined;
  if (ok && r.code === 0) {
    const out = r.stdout.slice(Math.max(0, r.stdout.indexOf(SNAPSHOT_MARK)));
    after = trailing.delta ? remember(s, parseDelta(out, s.target), needs, out, reread, reread.jail) : remember(s, parseSnapshot(out, s.target), needs, out, undefined, reread.jail);
  }
  // After a failure beside them, or with nothing left to merge a delta into (a failure elsewhere on this host dropped
  // the cache): a full snapshot, taken from now on (an exec already in flight may predate these changes).
  if (!after) forget(s);
  const facts = after ? Promise.resolve(after) : observe(s);
  await facts.then(
    (f) => done.forEach((w) => w.resolve(f)),
    (e) => done.forEach((w) => w.reject(e)),
  );
}
