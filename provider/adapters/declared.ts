/**
 * The jails the program declares in this run, per host: the path of every ChrootDir and the home of every JailedUser
 * that owns its chroot, noted when the engine checks them. The engine checks every resource the program registers
 * before it deletes the ones the program dropped, so a delete can tell "nobody wants this jail any more" from "another
 * resource of this program now manages it" (a stack upgraded from a ChrootDir per user to a JailedUser that owns its
 * chroot, a resource renamed, a JailedUser replaced with the same home): in the second case the delete leaves the jail
 * and its files where they are. A run without the program (`pulumi destroy`) declares nothing: everything goes as
 * `onDelete` says.
 */
import { connectionSchema } from "../connection/schema";
import type { Session } from "../connection/pool";

function declared(): Map<string, Set<string>> {
  const g = globalThis as unknown as { [k: symbol]: Map<string, Set<string>> };
  return (g[Symbol.for("sftp-jail.declared-jails.v1")] ??= new Map());
}

const hostKey = (host: string, port: number) => `${host}:${port}`;

/** Notes a jail the program declares on the host of `connection` (a connection not yet known or not valid: none). */
export function declareJail(connection: unknown, path: string): void {
  const c = connectionSchema.safeParse(connection);
  if (!c.success) return;
  const key = hostKey(c.data.host, c.data.port);
  const m = declared();
  if (!m.has(key)) m.set(key, new Set());
  m.get(key)!.add(path);
}

/** The program of this run declares a jail at `path` on this session's host. */
export function isDeclaredJail(s: Session, path: string): boolean {
  return !!declared().get(hostKey(s.conn.host, s.conn.port))?.has(path);
}
