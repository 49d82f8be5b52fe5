/**
 * Confirm-or-revert for changes that can cut the operator off (sshd config, firewall): apply, then prove that a
 * *fresh* login with the operator's credentials still works through the normal path; if it does not, run the revert
 * steps over the connection that is still open (existing sessions survive an sshd reload) and fail loudly.
 */
import { Client } from "ssh2";
import { Session, dialWithRetry } from "../connection/pool";
import { HostFacts } from "../observe/facts";
import { Plan } from "../plan/types";
import { SftpJailError } from "../util/errors";
import { log } from "../util/log";
import { apply, ApplyContext } from "./apply";

export interface GuardedChange {
  /** Steps that make the change (they should keep backups). */
  steps: Plan;
  /** Steps that undo it, restoring the saved state and reloading. */
  revert: Plan;
  /** What could lock the operator out, for the error message. */
  what: string;
}

/** A brand-new SSH connection (not the pooled one) that logs in and runs `true` as root. */
export async function confirmFreshLogin(s: Session): Promise<void> {
  // sshd refuses connections for a few ms after a HUP; dialWithRetry covers that with quick retries.
  const client: Client = await dialWithRetry({ ...s.conn, dialErrorLimit: Math.max(3, Math.min(s.conn.dialErrorLimit, 6)) });
  try {
    const r = await new Session(s.conn, client).exec("true");
    if (r.code !== 0) throw new Error(`a fresh login worked but running a command as root failed (exit ${r.code}): ${r.stderr.trim()}`);
  } finally {
    client.end();
  }
}

export async function applyGuarded(ctx: ApplyContext, change: GuardedChange): Promise<HostFacts | undefined> {
  if (change.steps.length === 0) return undefined;
  const facts = await apply(ctx, change.steps);
  try {
    await confirmFreshLogin(ctx.session);
    return facts;
  } catch (e) {
    const cause = e instanceof SftpJailError ? e.what : (e as Error).message;
    log.warn(`${ctx.resource}: a fresh login failed after the change (${cause}); reverting`);
    try {
      await apply(ctx, change.revert);
    } catch (re) {
      throw new SftpJailError(
        { host: ctx.session.target, resource: ctx.resource },
        `${change.what} locked out a fresh login AND the revert failed: ${re instanceof SftpJailError ? re.what : (re as Error).message}`,
        "use the host's console to restore the .sftp-jail.bak files and reload sshd / the firewall",
      );
    }
    throw new SftpJailError(
      { host: ctx.session.target, resource: ctx.resource },
      `${change.what} would lock the operator out: a fresh login as ${ctx.session.conn.user} failed afterwards (${cause}). The change was reverted`,
      "make sure the change does not apply to the operator (check Match criteria, AllowUsers/DenyUsers, firewall rules for the SSH port)",
    );
  }
}
