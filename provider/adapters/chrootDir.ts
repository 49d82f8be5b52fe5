/**
 * ChrootDir adapter: a root-owned jail directory that satisfies OpenSSH's ChrootDirectory rule, with writable
 * subdirectories for uploads. Problems with existing ancestors are reported at preview (check observes the host once,
 * after the inputs passed the schema).
 */
import { randomBytes } from "crypto";
import type * as pulumi from "@pulumi/pulumi";
import { observe } from "../observe/snapshot";
import { HostFacts } from "../observe/facts";
import { apply } from "../apply/apply";
import { ChrootDesired, chrootPaths, planChroot, planChrootDelete } from "../plan/chrootDir";
import { declareJail, isDeclaredJail } from "./declared";
import { failuresOf } from "../schema/common";
import { ChrootDirFields, chrootDirSchema, chrootDirShape } from "../schema/chrootDir";
import { checkInputs, containsUnknown, ownerOf, parseKnown, planOrThrow, previewLook, sameConnection, sessionFor, sessionForChange, defined } from "./base";
import { assumeExisting } from "../plan/envelope";
import { log } from "../util/log";
import { changing, createdDir, ownedBy, whoseIsIt } from "../observe/record";
import type { Session } from "../connection/pool";
import { atOrBelow } from "../util/hostpath";

export { TYPE } from "../schema/chrootDir";
import { TYPE } from "../schema/chrootDir";

export { chrootDirShape };
const fieldsSchema = chrootDirSchema;
type Fields = ChrootDirFields;

/** What state keeps: inputs as normalised, plus what this resource created. */
export interface ChrootDirState extends Fields {
  /** How the host is reached (kept encrypted in state). */
  connection: unknown;
  /** Ancestors this resource created (removed on destroy when empty). */
  createdAncestors: string[];
  /** The chroot existed before (a hand-made jail, adopted): destroy leaves it, and everything in it, in place. */
  adopted?: boolean;
  /** Subdirectories this resource created (relative); of an adopted chroot, only these are removed, when empty. */
  createdSubdirs?: string[];
}

const label = (p: string) => `${TYPE} "${p}"`;
const fields = (o: Record<string, unknown>): Fields =>
  parseKnown(fieldsSchema, Object.fromEntries(Object.keys(chrootDirShape).map((k) => [k, o[k]])), label(String(o.path)));

export async function check(_olds: unknown, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const { inputs, failures } = checkInputs(chrootDirShape, news);
  if (failures.length || containsUnknown(inputs)) return { inputs, failures };
  const d = fieldsSchema.safeParse(Object.fromEntries(Object.keys(chrootDirShape).map((k) => [k, inputs[k]])));
  if (!d.success) return { inputs, failures: failuresOf(d.error) };
  declareJail(inputs.connection, d.data.path);
  // The one preview-time look at the host: an ancestor that breaks OpenSSH's rule, or a step that reaches the
  // operator's home or key files, is a failure of `path` now, not a surprise during `up`. Owners the program
  // creates in the same run are assumed to exist.
  const owners = assumeOwners(d.data);
  failures.push(...(await previewLook(inputs.connection, label(d.data.path), "path", { paths: chrootPaths(d.data) }, (f) => planChroot(d.data, assumeExisting(ownedBy(f, ownerOf(inputs)), owners.users, owners.groups)).steps)));
  return { inputs, failures };
}

const assumeOwners = (d: Fields) => ({ users: d.subdirs.map((s) => s.owner), groups: [d.group, ...d.subdirs.map((s) => s.group)] });

export async function diff(_id: string, olds: ChrootDirState, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const keys = Object.keys(chrootDirShape) as (keyof Fields)[];
  const changed = keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
  const replaces = news.path !== olds.path ? ["path"] : [];
  return { changes: changed.length > 0 || !sameConnection(olds.connection, news.connection), replaces, deleteBeforeReplace: false };
}

/**
 * Ancestors sftp-jail created on each host (`host:port`), as far as this provider process knows: from the plans that
 * create them and from the state of every ChrootDir it creates, updates or deletes. Two chroots under one new parent
 * both record it, whichever planned first, so whoever is destroyed last removes it (each destroy removes it only
 * when empty and still root's). What an earlier process created and no resource of this one mentions stays unknown
 * here: the host-side record of what sftp-jail created covers that.
 */
function createdOn(s: Session): Set<string> {
  const g = globalThis as unknown as { [k: symbol]: Map<string, Set<string>> };
  const m = (g[Symbol.for("sftp-jail.chroot.ancestors.v1")] ??= new Map());
  const key = `${s.conn.host}:${s.conn.port}`;
  let set = m.get(key);
  if (!set) m.set(key, (set = new Set()));
  return set;
}

/** `a` is a strict ancestor of `p`. */
const above = (a: string, p: string) => a !== p && atOrBelow(p, a);

/** The created ancestors a chroot at `path` shares: its own, and those this process knows above it. */
function sharedAncestors(s: Session, path: string, own: Iterable<string>): string[] {
  const known = createdOn(s);
  for (const a of own) known.add(a);
  return [...known].filter((a) => above(a, path)).sort((a, b) => a.split("/").length - b.split("/").length || (a < b ? -1 : 1));
}

/** What a chroot's state keeps besides its fields (a ChrootDir's, and a JailedUser's `chrootState`). */
export interface ChrootKept {
  createdAncestors: string[];
  adopted?: boolean;
  createdSubdirs?: string[];
}

/**
 * Creates or converges a jail (ChrootDir's, or the one a JailedUser owns at its home; `resource` names the one in
 * errors and logs). Returns what its state keeps.
 */
export async function convergeChroot(s: Session, resource: string, d: ChrootDesired & { onDelete: string }, owner: string | undefined, prev?: ChrootKept): Promise<ChrootKept> {
  const facts = await observe(s, { paths: chrootPaths(d) });
  // Only what this stack created is taken back; another stack's directories are adopted (their creator removes them).
  const plan = planOrThrow(s, resource, () => planChroot(d, ownedBy(facts, owner)));
  // Known before the change runs, so a sibling planned meanwhile on the new snapshot still shares them.
  const ancestors = sharedAncestors(s, d.path, [...(prev?.createdAncestors ?? []), ...plan.createdAncestors]);
  await apply({ session: s, resource, owner, reads: { paths: chrootPaths(d) } }, plan.steps);
  const adopted = prev ? !!prev.adopted : plan.adopted;
  // A ChrootDir's name is its path; a JailedUser's jail is named by its path here.
  const jail = resource === label(d.path) ? "jail" : `jail ${d.path}`;
  if (!prev && plan.recorded) {
    log.info(`${resource} on ${s.conn.host}:${s.conn.port}: took back the ${jail} that sftp-jail created (the host's record says so; this stack's state did not know it); destroy removes it (onDelete: ${d.onDelete})`);
  } else if (!prev && adopted) {
    log.info(`${resource} on ${s.conn.host}:${s.conn.port}: adopted the existing ${jail}${changing(plan.steps).length ? "" : " as it is"}, ${whoseIsIt(facts, "d", d.path, owner)}; destroy leaves it and its files in place`);
  }
  return { createdAncestors: ancestors, ...(adopted ? { adopted, createdSubdirs: [...new Set([...(prev?.createdSubdirs ?? []), ...plan.createdSubdirs])] } : {}) };
}

async function converge(d: Fields, connection: unknown, owner: string | undefined, prev?: ChrootDirState): Promise<ChrootDirState> {
  const s = await sessionForChange(connection, label(d.path));
  return { ...d, connection, ...(await convergeChroot(s, label(d.path), d, owner, prev)) };
}

export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const d = fields(inputs);
  return { id: `chroot${d.path}`, outs: defined(await converge(d, inputs.connection, ownerOf(inputs))) };
}

const octal = (m: number) => "0" + (m & 0o7777).toString(8).padStart(3, "0");

/** What the host has, expressed as inputs, so refresh shows real drift on the field that drifted. */
export function observedInputs(props: ChrootDirState, f: HostFacts): Record<string, unknown> | undefined {
  const st = f.paths[props.path];
  if (!st?.exists) return undefined;
  const userName = (uid: number) => f.users.find((u) => u.uid === uid)?.name ?? String(uid);
  const groupName = (gid: number) => f.groups.find((g) => g.gid === gid)?.name ?? String(gid);
  return {
    path: props.path,
    owner: userName(st.uid),
    group: groupName(st.gid),
    mode: octal(st.mode),
    fixAncestors: props.fixAncestors,
    subdirs: props.subdirs.flatMap((sd) => {
      const ss = f.paths[`${props.path}/${sd.path}`];
      return ss?.exists ? [{ path: sd.path, owner: userName(ss.uid), group: groupName(ss.gid), mode: octal(ss.mode) }] : [];
    }),
    onDelete: props.onDelete,
    connection: props.connection,
  };
}

export async function read(id: string, props?: ChrootDirState): Promise<pulumi.dynamic.ReadResult> {
  if (!props) throw new Error(`${TYPE} ${id}: cannot read without prior state (import is not supported by dynamic providers)`);
  const s = sessionFor(props.connection, label(props.path));
  const facts = await observe(s, { paths: chrootPaths(props) });
  const inputs = observedInputs(props, facts);
  if (!inputs) return {};
  return { id, props: defined({ ...props, ...inputs, createdAncestors: props.createdAncestors }), inputs: defined(inputs) };
}

export async function update(_id: string, olds: ChrootDirState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const d = fields(news);
  return { outs: defined(await converge(d, news.connection, ownerOf(news), { ...olds, createdAncestors: olds.createdAncestors ?? [] })) };
}

/**
 * Removes a jail as its `onDelete` says (plan/chrootDir.ts planChrootDelete), unless the program of this run declares
 * a jail at the same path (adapters/declared.ts): then another resource manages it now and it stays, files and all.
 */
export async function removeChroot(s: Session, resource: string, d: Pick<ChrootDirState, "path" | "subdirs" | "onDelete"> & ChrootKept): Promise<void> {
  if (isDeclaredJail(s, d.path)) {
    log.info(`${resource} on ${s.conn.host}:${s.conn.port}: left the jail ${d.path} and its files in place: this program declares it again (another resource manages it now)`);
    return;
  }
  // The time, and a random part: a stamp has one-second resolution, and two jail paths can flatten to one name.
  const stamp = `${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "")}.${randomBytes(4).toString("hex")}`;
  // A sibling destroyed earlier in this run may have left a shared parent it created: this one removes it if last;
  // never a parent that is itself a jail the program declares.
  const createdAncestors = sharedAncestors(s, d.path, d.createdAncestors ?? []).filter((a) => !isDeclaredJail(s, a));
  // The host's record: a jail sftp-jail made inside this one, still there as recorded, refuses the removal (usually
  // the phase's snapshot: no exec; the recorded directories below are looked at only when there are any).
  const own = new Set(chrootPaths(d));
  let facts = await observe(s, { paths: [...own] });
  const below = Object.keys(facts.record?.dirs ?? {}).filter((p) => p.startsWith(`${d.path}/`) && !own.has(p));
  if (below.length) facts = await observe(s, { paths: [...own, ...below] });
  const nested = below.filter((p) => createdDir(facts, p));
  const plan = planOrThrow(s, resource, () => planChrootDelete({ ...d, createdAncestors }, stamp, nested));
  await apply({ session: s, resource }, plan);
}

async function remove(_id: string, props: ChrootDirState): Promise<void> {
  const s = await sessionForChange(props.connection, label(props.path));
  await removeChroot(s, label(props.path), props);
}
export { remove as delete };
