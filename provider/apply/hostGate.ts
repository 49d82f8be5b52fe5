/**
 * The host gate: every resource's change on a host passes here first (the adapters' create/update/delete, and apply
 * itself as the backstop), so a host that fails a precondition (plan/preconditions.ts) gets NO change at all — not
 * the group first and a refusal at the Match block later.
 *
 * Once per host: the verdict is taken from the first snapshot this provider process uses on the host (the preview-time
 * look, or the first change), and kept for the process. After the first change has passed the gate the host is
 * cleared for the rest of the process: a revert, a cleanup or a later resource is never refused because of something
 * learned afterwards (a FirewallRule registered late still fails on its own, in its planner).
 */
import { Session } from "../connection/pool";
import { HostFacts } from "../observe/facts";
import { observe } from "../observe/snapshot";
import { FirewallNeed, HostProblem, describeHostProblems, firewallProblem, hostProblems, sshdLayout } from "../plan/preconditions";
import { SftpJailError } from "../util/errors";
import { log } from "../util/log";

interface Verdict {
  facts: HostFacts;
  /** Problems every change on the host has (firewall needs are judged on `facts` as they are registered). */
  problems: HostProblem[];
}

interface HostState {
  verdict?: Promise<Verdict>;
  firewall: Set<FirewallNeed>;
  /** A change passed the gate: the host is cleared for this process. */
  cleared: boolean;
  /** Messages already warned about at preview (once per host, not once per resource). */
  warned: Set<string>;
}

/** The gate's logic on any key and any source of facts (pure of sessions; unit-tested with plain objects). */
export class HostGates<K> {
  private readonly hosts = new Map<K, HostState>();

  private state(key: K): HostState {
    let h = this.hosts.get(key);
    if (!h) this.hosts.set(key, (h = { firewall: new Set(), cleared: false, warned: new Set() }));
    return h;
  }

  /** Records that a FirewallRule with this backend targets the host. */
  need(key: K, backend: FirewallNeed): void {
    this.state(key).firewall.add(backend);
  }

  /** The verdict, taken once from `take()` (a failed take is not kept: the next call tries again). */
  private verdict(key: K, take: () => Promise<HostFacts>): Promise<Verdict> {
    const h = this.state(key);
    if (!h.verdict) {
      const v = take().then((facts) => ({ facts, problems: hostProblems(facts) }));
      h.verdict = v;
      v.catch(() => {
        if (h.verdict === v) h.verdict = undefined;
      });
    }
    return h.verdict;
  }

  /** Every precondition the host fails, for the needs registered so far. */
  async problems(key: K, take: () => Promise<HostFacts>): Promise<HostProblem[]> {
    const v = await this.verdict(key, take);
    const firewall = [...this.state(key).firewall].map((n) => firewallProblem(n, v.facts)).filter((p): p is HostProblem => p !== undefined);
    return [...v.problems, ...firewall];
  }

  /** The facts the verdict was taken from (for the layout message). */
  async facts(key: K, take: () => Promise<HostFacts>): Promise<HostFacts> {
    return (await this.verdict(key, take)).facts;
  }

  /**
   * For a change: the problems that refuse it (none once the host is cleared). Passing clears the host; `first` says
   * whether this call cleared it.
   */
  async pass(key: K, take: () => Promise<HostFacts>): Promise<{ problems: HostProblem[]; first: boolean }> {
    const h = this.state(key);
    if (h.cleared) return { problems: [], first: false };
    const problems = await this.problems(key, take);
    if (problems.length || h.cleared) return { problems: h.cleared ? [] : problems, first: false };
    h.cleared = true;
    return { problems, first: true };
  }

  /** True the first time `message` is seen for this host (for warnings given once per host). */
  firstTime(key: K, message: string): boolean {
    const h = this.state(key);
    if (h.warned.has(message)) return false;
    h.warned.add(message);
    return true;
  }
}

/** One gate table per provider process (on globalThis: Pulumi serializes the provider object, nothing live is captured). */
function gates(): HostGates<Session> {
  const g = globalThis as unknown as { [k: symbol]: HostGates<Session> };
  return (g[Symbol.for("sftp-jail.hostgates.v1")] ??= new HostGates<Session>());
}

const take = (s: Session) => () => observe(s);

/** The host is the target of a FirewallRule with this backend. */
export function requireFirewall(s: Session, backend: FirewallNeed): void {
  gates().need(s, backend);
}

/** Every precondition the host fails (the verdict is taken once per host per process). */
export function hostProblemsOf(s: Session): Promise<HostProblem[]> {
  return gates().problems(s, take(s));
}

/** A change refused because its host fails a precondition: nothing was changed on the host. */
export class HostPreconditionError extends SftpJailError {}

/**
 * The gate: throws, naming the host, the failed preconditions and their fixes, unless the host meets them (or a change
 * on it already passed in this process). Called before anything is planned or run for a create, update or delete.
 */
export async function refuseUnfitHost(s: Session, resource: string): Promise<void> {
  const { problems, first } = await gates().pass(s, take(s));
  if (problems.length) {
    const { what, fix } = describeHostProblems(problems, "change");
    throw new HostPreconditionError({ host: `${s.conn.host}:${s.conn.port}`, resource }, what, fix);
  }
  if (first) log.debug(`${s.target}: host preconditions met (sshd -t, OpenSSH, commands, root); ${sshdLayout(await gates().facts(s, take(s)))}`);
}

/**
 * At preview: the host's failed preconditions as one warning per host (not a check failure: the other hosts of the
 * stack can still converge, with `pulumi up --continue-on-error`), returned so the caller can skip its own look.
 */
export async function warnUnfitHost(s: Session): Promise<HostProblem[]> {
  const problems = await hostProblemsOf(s);
  if (problems.length) {
    const { what, fix } = describeHostProblems(problems, "preview");
    const message = SftpJailError.format({ resource: `${s.conn.host}:${s.conn.port}` }, what, fix);
    if (gates().firstTime(s, message)) log.warn(message);
  }
  return problems;
}
