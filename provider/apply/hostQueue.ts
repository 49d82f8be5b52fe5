/**
 * The one per-host queue: work on one host runs one piece at a time in this process, in the order it was queued; a
 * failed piece does not stop the next. Keyed by the host (`Session.target`), so two resources that reach the same host
 * with different connection settings (two pooled sessions) still wait for each other.
 *
 * Each purpose has its own named queue, because they nest: a firewall change holds the "firewall" queue while its
 * guarded change waits in the "guarded" one. Queues live on globalThis under a versioned symbol, so two copies of this
 * module loaded in one process (Pulumi's dynamic-provider serialisation can do that) still share them.
 */
import type { Session } from "../connection/pool";

export type HostQueue = <T>(s: Pick<Session, "target">, f: () => Promise<T>) => Promise<T>;

export function hostQueue(name: string): HostQueue {
  return <T>(s: Pick<Session, "target">, f: () => Promise<T>): Promise<T> => {
    const g = globalThis as unknown as { [k: symbol]: Map<string, Promise<unknown>> };
    const chains = (g[Symbol.for(`sftp-jail.queue.${name}.v1`)] ??= new Map());
    const run = (chains.get(s.target) ?? Promise.resolve()).catch(() => undefined).then(f);
    chains.set(s.target, run);
    return run;
  };
}
