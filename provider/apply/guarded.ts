/**
 * Confirm-or-revert for changes that can cut the operator off (sshd config, firewall).
 *
 * 1. In the same exec as the change (under the host lock), a dead-man timer is armed on the host: a detached process
 *    that, after `revertAfterSeconds`, runs the revert steps (restore the saved state, reload) unless disarmed.
 * 2. The change is applied.
 * 3. A *fresh* SSH login with the operator's credentials must succeed through the normal path.
 * 4. Success disarms the timer. Failure disarms it and reverts at once over the connection that is still open
 *    (existing sessions survive an sshd reload), then fails loudly. If sftp-jail dies, or the network drops, between
 *    2 and 4, the host heals itself when the timer fires.
 */
import { randomBytes } from "crypto";
import { Client } from "ssh2";
import { Session, dialWithRetry } from "../connection/pool";
import { secretsOf } from "../connection/schema";
import { HostFacts } from "../observe/facts";
import { Plan, Step } from "../plan/types";
import { accountGuard } from "../plan/accounts";
import { SftpJailError, redact } from "../util/errors";
import { log } from "../util/log";
import { quote, quoteArg } from "../util/shell";
import { LOCK_DIR, LOCK_FILE, apply, ApplyContext } from "./apply";
import { SCRIPT_PREFIX } from "../observe/snapshot";
import { recordLib } from "../observe/record";
import { hostQueue } from "./hostQueue";

export interface GuardedChange {
  /** Steps that make the change (they should keep backups). */
  steps: Plan;
  /** Steps that undo it, restoring the saved state and reloading. Must work on their own, from a timer. */
  revert: Plan;
  /** What could lock the operator out, for the error message. */
  what: string;
  /** Steps run with the disarm once the change is confirmed (e.g. dropping saved state). */
  cleanup?: Plan;
}

/** Where armed timers live on the host (tmpfs: a reboot disarms them, and also undoes nothing that needs undoing). */
export const DEADMAN_DIR = LOCK_DIR;

/** The timer for one change (pure; unit-tested). */
export function deadman(id: string, seconds: number, revert: Plan) {
  const base = `${DEADMAN_DIR}/deadman-${id}`;
  // What a revert removes again leaves the host's record of what sftp-jail created with it, as in apply (a timer's
  // revert only ever drops entries, and only of objects that are gone).
  const drops = (s: Step) => (s.record ?? []).filter((o) => !o.startsWith("+"));
  const revertScript = [
    SCRIPT_PREFIX,
    ...(revert.some((s) => drops(s).length) ? [recordLib()] : []),
    ...revert.map((s) => (drops(s).length ? `{ ${s.script} ; } && { sj_rec_do - "" ${drops(s).map(quoteArg).join(" ")} ; } > /dev/null 2>&1` : `{ ${s.script} ; }`)),
  ].join("\n");
  // The detached timer takes the host lock before reverting, so it never interleaves with a running apply: it waits
  // as long as an apply holds the lock (one a jailed user made long, with a tree of millions of files to delete), and
  // gives up only once the change was confirmed meanwhile (disarmed).
  const timer = [
    `sleep ${seconds}`,
    `if [ -e ${quoteArg(base + ".armed")} ]; then`,
    `  exec 9>${LOCK_FILE}; until flock -w 300 9; do [ -e ${quoteArg(base + ".armed")} ] || exit 0; done`,
    `  sh ${quoteArg(base + ".sh")} > ${quoteArg(base + ".log")} 2>&1`,
    `  echo "sftp-jail: change ${id} was not confirmed within ${seconds}s; reverted (log: ${base}.log)" > /dev/kmsg 2>/dev/null || true`,
    "fi",
    `rm -f ${quoteArg(base + ".armed")} ${quoteArg(base + ".sh")} ${quoteArg(base + ".pid")}`,
  ].join("\n");
  const arm: Step = {
    description: `arm a ${seconds}s dead-man timer that reverts this change unless it is confirmed`,
    effects: { paths: [base + ".sh", base + ".armed", base + ".pid"] },
    script: [
      `${quote(["install", "-d", "-m", "0700", "-o", "root", "-g", "root", DEADMAN_DIR])} || exit 1`,
      `printf '%s' ${quoteArg(Buffer.from(revertScript).toString("base64"))} | base64 -d > ${quoteArg(base + ".sh")} || exit 1`,
      `touch ${quoteArg(base + ".armed")} || exit 1`,
      // 9>&-: the apply holds the host lock on fd 9; the timer must not keep it for its lifetime.
      `setsid sh -c ${quoteArg(timer)} < /dev/null > /dev/null 2>&1 9>&- &`,
      `echo $! > ${quoteArg(base + ".pid")}`,
    ].join("\n"),
  };
  // setsid made the timer a process-group leader: killing the group takes its `sleep` too.
  const stop = `rm -f ${quoteArg(base + ".armed")}; if [ -f ${quoteArg(base + ".pid")} ]; then kill -- -$(cat ${quoteArg(base + ".pid")}) 2>/dev/null; fi; rm -f ${quoteArg(base + ".sh")} ${quoteArg(base + ".pid")}`;
  const disarm: Step = {
    description: "disarm the dead-man timer",
    effects: { paths: [base + ".sh", base + ".armed", base + ".pid"] },
    // Exit 3 when the timer is gone already: it fired, so the change was reverted and must not count as confirmed.
    script: `[ -e ${quoteArg(base + ".armed")} ] || { echo "the dead-man timer had already fired and reverted the change" >&2; exit 3; }; ${stop}`,
  };
  /** Stops the timer whatever its state (before reverting by hand, or after a refused change). */
  const cancel: Step = { description: "cancel the dead-man timer", script: stop, effects: { paths: [base + ".sh", base + ".armed", base + ".pid"] } };
  return { arm, disarm, cancel };
}

/** A brand-new SSH connection (not the pooled one) that logs in and runs `true` as root. */
export async function confirmFreshLogin(s: Session): Promise<void> {
  // sshd refuses connections for a few ms after a HUP; dialWithRetry covers that with quick retries. The whole
  // confirmation must end well before the dead-man timer fires (3 dials of at most T/6 each), or a login that only
  // works because the timer reverted the change would pass for a confirmation.
  const t = s.conn.revertAfterSeconds ?? 60;
  const client: Client = await dialWithRetry({
    ...s.conn,
    dialErrorLimit: 3,
    perDialTimeout: Math.max(2, Math.min(s.conn.perDialTimeout, Math.floor(t / 6))),
  });
  try {
    const r = await new Session(s.conn, client).exec("true");
    if (r.code !== 0) throw new Error(`a fresh login worked but running a command as root failed (exit ${r.code}): ${redact(r.stderr.trim(), secretsOf(s.conn))}`);
  } finally {
    client.end();
  }
}

/** Fault injection for the crash suite: pause between applying and confirming (never set in normal use). */
async function testPause(): Promise<void> {
  const ms = Number(process.env.SFTPJAIL_TEST_PAUSE_BEFORE_CONFIRM_MS ?? 0);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/**
 * Guarded changes on one host run one at a time in this process: another change's reload must not land while a fresh
 * login is confirming this one (sshd drops connections that are mid-handshake when it re-execs on HUP).
 */
const serialised = hostQueue("guarded");

export function applyGuarded(ctx: ApplyContext, change: GuardedChange): Promise<HostFacts | undefined> {
  if (change.steps.length === 0) return Promise.resolve(undefined);
  return serialised(ctx.session, () => guardedNow(ctx, change));
}

async function guardedNow(shared: ApplyContext, change: GuardedChange): Promise<HostFacts | undefined> {
  // In execs of its own (never batched with other resources' plans): the timer and the confirmation judge this change.
  const ctx: ApplyContext = { ...shared, alone: true };
  const id = `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  const { arm, disarm, cancel } = deadman(id, ctx.session.conn.revertAfterSeconds ?? 60, change.revert);
  let facts: HostFacts | undefined;
  try {
    facts = await apply(ctx, [arm, ...change.steps]);
  } catch (e) {
    // A step refused or failed (its own checks restore what it touched): the timer must not fire later and revert
    // a change that never happened over one that may come next. If the host is unreachable this fails too, and the
    // timer stays armed, which is the point.
    await apply(ctx, [cancel]).catch(() => log.warn(`${ctx.resource}: could not disarm the dead-man timer ${id}; it will run the revert in ${ctx.session.conn.revertAfterSeconds}s`));
    throw e;
  }
  await testPause();
  try {
    await confirmFreshLogin(ctx.session);
  } catch (e) {
    const cause = e instanceof SftpJailError ? e.what : (e as Error).message;
    log.warn(`${ctx.resource}: a fresh login failed after the change (${cause}); reverting`);
    try {
      await apply(ctx, [cancel, ...change.revert]);
    } catch (re) {
      throw new SftpJailError(
        { host: ctx.session.target, resource: ctx.resource },
        `${change.what} locked out a fresh login AND the revert failed: ${re instanceof SftpJailError ? re.what : (re as Error).message}`,
        `the dead-man timer could not be relied on either; use the host's console to restore the .sftp-jail.bak files and reload sshd / the firewall`,
      );
    }
    throw new SftpJailError(
      { host: ctx.session.target, resource: ctx.resource },
      `${change.what} would lock the operator out: a fresh login as ${ctx.session.conn.user} failed afterwards (${cause}). The change was reverted`,
      "make sure the change does not apply to the operator (check Match criteria, AllowUsers/DenyUsers, firewall rules for the SSH port)",
    );
  }
  try {
    await apply(ctx, [disarm, ...(change.cleanup ?? [])]);
  } catch (e) {
    throw new SftpJailError(
      { host: ctx.session.target, resource: ctx.resource },
      `${change.what} was not confirmed within revertAfterSeconds (${ctx.session.conn.revertAfterSeconds}s): the host's dead-man timer reverted it (${e instanceof SftpJailError ? e.what : (e as Error).message})`,
      "raise connection.revertAfterSeconds if logins to this host are slow, then run `pulumi up` again",
    );
  }
  return facts;
}

/**
 * An account change (shell, groups, home, password field) under confirm-or-revert: the touched passwd/shadow/group/
 * gshadow lines are saved host-side first, and restored exactly if a fresh operator login fails afterwards.
 */
export function applyAccountChange(ctx: ApplyContext, steps: Plan, what: string): Promise<HostFacts | undefined> {
  const g = accountGuard(`${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`, steps);
  if (!g) return apply(ctx, steps);
  return applyGuarded(ctx, { steps: [g.save, ...steps], revert: [g.restore], cleanup: [g.drop], what });
}
