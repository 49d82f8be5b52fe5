/**
 * ChrootDir planner. OpenSSH's rule for ChrootDirectory: every component of the path, the directory itself included,
 * must be owned by root and not writable by group or others; users write only into subdirectories they own.
 */
import { HostFacts, PathStat, withAncestors } from "../observe/facts";
import { RecordOp, createdDir, forgetStep, rec, staleEntries } from "../observe/record";
import { depth, hp } from "../util/hostpath";
import { quoteArg } from "../util/shell";
import { Plan, PlanError, Step } from "./types";
import type { ChrootDirFields } from "../schema/chrootDir";

/**
 * Every step here acts through util/hostpath.ts: walked from `/` without following a symlink, the chroot and its
 * ancestors required to be root's (so only root could have swapped them), and the change made on the pinned directory
 * itself. A jailed user who swaps something inside a writable directory makes a step refuse, never redirects it.
 */
/** A step on host paths: what it changes is declared with it (the operator envelope judges it). */
const step = (description: string, paths: string[], script: string, record: RecordOp[] = []): Step => ({ description, script, effects: { paths }, ...(record.length ? { record } : {}) });
/** A step that makes a directory exist with an owner and mode: nothing below it changes (types.ts Effects.dirs). */
const dirStep = (description: string, dir: string, script: string, record: RecordOp[] = []): Step => ({ description, script, effects: { dirs: [dir] }, ...(record.length ? { record } : {}) });

/** The jail as the schema parsed it (provider/schema/chrootDir.ts): the fields this planner reads. */
export type ChrootDesired = Pick<ChrootDirFields, "path" | "group" | "mode" | "fixAncestors" | "subdirs">;
export type SubdirDesired = ChrootDesired["subdirs"][number];

/** Where destroy moves a chroot that still holds files, so no upload is lost. */
export const RETAIN_DIR = "/var/lib/sftp-jail/retained";
/** Where a jail on another filesystem than RETAIN_DIR is retained: a root-only directory in the jail's parent. */
export const LOCAL_RETAIN = ".sftp-jail-retained";

const octal = (m: number) => "0" + (m & 0o7777).toString(8).padStart(3, "0");
const uidOf = (f: HostFacts, name: string) => f.users.find((u) => u.name === name)?.uid;
const gidOf = (f: HostFacts, name: string) => f.groups.find((g) => g.name === name)?.gid;

/** Paths whose stats the planner needs. */
export function chrootPaths(d: { path: string; subdirs: ReadonlyArray<{ path: string }> }): string[] {
  return [d.path, ...d.subdirs.map((s) => `${d.path}/${s.path}`)];
}

function stat(f: HostFacts, p: string): PathStat {
  const s = f.paths[p];
  if (!s) throw new Error(`internal: no stat for ${p} in the snapshot`);
  return s;
}

/** Why an existing component breaks OpenSSH's rule, or undefined. */
export function ruleViolation(s: PathStat): string | undefined {
  if (s.type === "symlink") return `${s.path} is a symbolic link`;
  if (s.type !== "directory") return `${s.path} is not a directory`;
  if (s.uid !== 0) return `${s.path} is owned by uid ${s.uid}, not root`;
  if (s.mode & 0o022) return `${s.path} is writable by ${s.mode & 0o020 ? "group" : "others"} (mode ${octal(s.mode)})`;
  return undefined;
}

/**
 * Steps that make the ancestors sound, or the refusal that names the offending component. `created`: the ancestors
 * this plan creates, and those sftp-jail created before (the host's record), which destroy removes when empty.
 */
function ancestorSteps(d: ChrootDesired, f: HostFacts): { steps: Step[]; created: string[] } {
  const steps: Step[] = [];
  const created: string[] = [];
  for (const a of withAncestors(d.path).slice(0, -1)) {
    const s = stat(f, a);
    if (!s.exists) {
      steps.push({ ...dirStep(`create ${a} (root:root 0755)`, a, hp.dir(a, depth(a) - 1, "root", "root", "0755"), [rec.add("d", a)]), shared: true });
      created.push(a);
      continue;
    }
    if (createdDir(f, a)) created.push(a);
    const bad = ruleViolation(s);
    if (!bad) continue;
    if (s.type !== "directory" || !d.fixAncestors) {
      throw new PlanError(
        `${bad}; OpenSSH refuses a ChrootDirectory below it`,
        s.type === "directory"
          ? `run "chown root:root ${a} && chmod go-w ${a}" on the host, or set fixAncestors: true to let sftp-jail do it`
          : `choose a chroot path whose every component is a real directory`,
      );
    }
    steps.push(step(`make ${a} root-owned and not group/other-writable`, [a], hp.chownDir(a, depth(a) - 1, "root")));
    steps.push(step(`remove group/other write from ${a}`, [a], hp.chmodDir(a, depth(a) - 1, "go-w")));
  }
  return { steps, created };
}

/**
 * Steps for one directory of the jail. `trusted`: how many components below `/` must be root's on the way to its
 * parent (the chroot's depth for a writable directory: the chroot and its ancestors; below it the user may own things).
 */
function dirSteps(p: string, owner: string, group: string, mode: string, f: HostFacts, what: string, trusted: number): Step[] {
  const uid = uidOf(f, owner);
  const gid = gidOf(f, group);
  if (uid === undefined) throw new PlanError(`user "${owner}" (owner of ${p}) does not exist`, "create the JailedUser first (the SftpJailHost component orders this for you)");
  if (gid === undefined) throw new PlanError(`group "${group}" (group of ${p}) does not exist`, "create the SftpGroup first");
  const s = stat(f, p);
  const set = (d: string, record: RecordOp[] = []) => [dirStep(d, p, hp.dir(p, trusted, owner, group, mode), record)];
  if (!s.exists) return set(`create ${what} ${p} (${owner}:${group} ${mode})`, [rec.add("d", p)]);
  if (s.type !== "directory") throw new PlanError(`${p} exists and is not a directory`, `move it away or choose another path`);
  const wrongOwner = s.uid !== uid || s.gid !== gid;
  const wrongMode = octal(s.mode) !== mode;
  if (wrongOwner && wrongMode) return set(`set owner of ${p} to ${owner}:${group} and mode to ${mode}`);
  if (wrongOwner) return set(`set owner of ${p} to ${owner}:${group}`);
  if (wrongMode) return set(`set mode of ${p} to ${mode}`);
  return [];
}

/**
 * Creates or converges the chroot and its writable subdirectories. `adopted`: the chroot existed already (a jail made
 * by hand), so destroy leaves it where it is; `recorded`: it exists because sftp-jail created it (the host's record),
 * though this resource's state does not know it, so it is not adopted; `createdSubdirs`: subdirectories this plan
 * creates, or sftp-jail created before (relative paths).
 */
export function planChroot(d: ChrootDesired, f: HostFacts): { steps: Plan; createdAncestors: string[]; adopted: boolean; recorded: boolean; createdSubdirs: string[] } {
  const anc = ancestorSteps(d, f);
  const recorded = createdDir(f, d.path);
  const adopted = !!f.paths[d.path]?.exists && !recorded;
  const createdSubdirs = d.subdirs.filter((sub) => !f.paths[`${d.path}/${sub.path}`]?.exists || createdDir(f, `${d.path}/${sub.path}`)).map((sub) => sub.path);
  const jail = depth(d.path);
  // Record entries of these directories that no longer hold (removed or replaced by hand since) are dropped.
  const stale = staleEntries(f, [...withAncestors(d.path).slice(1), ...chrootPaths(d).slice(1)].map((p): ["d", string] => ["d", p]));
  const steps = [...forgetStep(stale), ...anc.steps, ...dirSteps(d.path, "root", d.group, d.mode, f, "chroot", jail - 1)];
  // Parents before children, so a listed directory is converged once, with its own owner, before anything below it.
  const listed = new Set(d.subdirs.map((s) => s.path));
  const made = new Set<string>();
  for (const sub of [...d.subdirs].sort((a, b) => a.path.split("/").length - b.path.split("/").length)) {
    // Intermediate components that are not listed themselves are the jail's own structure: root-owned, like the
    // chroot. Listed ones get their listed owner from their own entry (never reset to root here).
    const parts = sub.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join("/");
      const mid = `${d.path}/${rel}`;
      if (listed.has(rel) || made.has(rel) || f.paths[mid]?.exists) continue;
      made.add(rel);
      steps.push(dirStep(`create ${mid}`, mid, hp.dir(mid, jail, "root", "root", "0755"), [rec.add("d", mid)]));
    }
    steps.push(...dirSteps(`${d.path}/${sub.path}`, sub.owner, sub.group, sub.mode, f, "writable directory", jail));
  }
  return { steps, createdAncestors: anc.created, adopted, recorded, createdSubdirs };
}

/** The first ancestor that would make `check` fail, for a preview-time error (no steps are planned). */
export function ancestorProblem(d: ChrootDesired, f: HostFacts): PlanError | undefined {
  try {
    ancestorSteps(d, f);
    return undefined;
  } catch (e) {
    if (e instanceof PlanError) return e;
    throw e;
  }
}

/**
 * Removal that never loses data: empty subdirectories and an empty chroot are removed; a chroot that still holds
 * anything is moved whole to RETAIN_DIR (root-only), unless the program asked for deletion with onDelete: "delete".
 */
export function planChrootDelete(
  d: { path: string; subdirs: { path: string }[]; createdAncestors: string[]; onDelete: "retain" | "delete"; adopted?: boolean; createdSubdirs?: string[] },
  stamp: string,
  recordedDirs: readonly string[] = [],
): Plan {
  if (d.adopted) return planAdoptedChrootDelete(d.path, d.createdSubdirs ?? []);
  const jail = depth(d.path);
  const inside = [...new Set(d.subdirs.flatMap((s) => s.path.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"))))];
  // Another jail inside this one (a chroot, or the parents made for one, that sftp-jail recorded and this chroot did
  // not create): deleting or moving this tree would take that jail's users' uploads with it.
  const own = new Set(inside.map((s) => `${d.path}/${s}`));
  const nested = recordedDirs.filter((p) => p.startsWith(`${d.path}/`) && !own.has(p)).sort();
  if (nested.length) {
    throw new PlanError(
      `${d.path} holds ${nested.length > 3 ? `${nested.slice(0, 3).join(", ")} and ${nested.length - 3} more` : nested.join(", ")}, which sftp-jail created for another jail; removing ${d.path} (onDelete: "${d.onDelete}") would take that jail and its users' files with it`,
      `destroy the jail inside first (its ChrootDir or JailedUser), then run pulumi again; or move it out of ${d.path}`,
    );
  }
  // Whatever of the jail is gone after the step leaves the host's record with it (moved to retained/ counts as gone).
  const drops = [d.path, ...inside.map((s) => `${d.path}/${s}`)].map((p) => rec.drop("d", p));
  if (d.onDelete === "delete") {
    if (jail < 2) throw new PlanError(`refusing to delete ${d.path} recursively`, "use a deeper chroot path");
    // Gone already (its parent too, say): nothing to delete; whatever is there is walked without following a link.
    // Sessions chrooted into it end first, and again after (one that started meanwhile is in a deleted directory).
    const q = quoteArg(d.path);
    const script = `if [ -e ${q} ] || [ -L ${q} ]; then sj_ji=$(stat -c %d:%i -- ${q}); sj_endroot "$sj_ji"; ${hp.rmtree(d.path, jail - 1)} || exit $?; sj_endroot "$sj_ji"; fi`;
    return [step(`delete ${d.path} and everything in it (onDelete: "delete")`, [d.path], script, drops), ...removeAncestors(d.createdAncestors)];
  }
  // `stamp` is unique per removal (the adapter's time and a random part): two jails can flatten to one name.
  const name = `${d.path.slice(1).replace(/\//g, "_")}.${stamp}`;
  const dest = `${RETAIN_DIR}/${name}`;
  // A jail on another filesystem than RETAIN_DIR is kept on its own, in a root-only directory beside it: a rename,
  // never a copy (sj_mvdir refuses one).
  const parent = d.path.slice(0, d.path.lastIndexOf("/"));
  const localDir = `${parent}/${LOCAL_RETAIN}`;
  const localDest = `${localDir}/${name}`;
  // Deepest first; each one only if it is an empty real directory (a swapped one stays, and so the jail is retained).
  const subs = [...inside]
    .sort((a, b) => b.split("/").length - a.split("/").length)
    .map((s) => `${hp.rmdir(`${d.path}/${s}`, jail)} || true`);
  const retainParent = RETAIN_DIR.slice(0, RETAIN_DIR.lastIndexOf("/"));
  const script = [
    `if [ -d ${quoteArg(d.path)} ]; then`,
    // Which directory the jail is: a rename keeps it, so the sessions chrooted into it are found where it went.
    `  sj_ji=$(stat -c %d:%i -- ${quoteArg(d.path)})`,
    ...subs.map((l) => `  ${l}`),
    `  if ! ${hp.rmdir(d.path, jail - 1)}; then`,
    `    ${hp.dir(retainParent, depth(retainParent) - 1, "root", "root", "0755")} || exit $?`,
    `    ${hp.dir(RETAIN_DIR, depth(RETAIN_DIR) - 1, "root", "root", "0700")} || exit $?`,
    `    sj_to=${quoteArg(dest)}`,
    `    if [ "$(stat -c %d -- ${quoteArg(d.path)})" != "$(stat -c %d -- ${quoteArg(RETAIN_DIR)})" ]; then`,
    `      ${hp.dir(localDir, depth(localDir) - 1, "root", "root", "0700")} || exit $?`,
    `      sj_to=${quoteArg(localDest)}`,
    "    fi",
    // Said only once the move happened: a refused or failed one fails the step (the jail stays, and so does the state).
    `    sj_mvdir ${quoteArg(d.path)} ${jail - 1} "$sj_to" || exit $?`,
    `    echo "retained files of ${d.path} in $sj_to" >&2`,
    "  fi",
    // Sessions still chrooted into it (its user connected while the jail moves, e.g. to a new home) end: they would
    // go on writing into the root-only retained/ copy, or into a deleted directory.
    `  sj_endroot "$sj_ji"`,
    "fi",
  ].join("\n");
  return [
    { description: `remove ${d.path}, keeping any files in ${RETAIN_DIR} (or ${localDir} when the jail is on another filesystem)`, script, effects: { paths: [d.path, RETAIN_DIR, dest, localDir, localDest] }, record: drops },
    ...removeAncestors(d.createdAncestors),
  ];
}

/**
 * Destroy of a chroot that existed before sftp-jail (adopted): it and everything in it stay exactly where they are,
 * whatever `onDelete` says — the jail was the admin's. Only subdirectories sftp-jail created are removed, and only
 * while empty.
 */
export function planAdoptedChrootDelete(path: string, createdSubdirs: string[]): Plan {
  if (!createdSubdirs.length) return [];
  const dirs = [...createdSubdirs].sort((a, b) => b.split("/").length - a.split("/").length);
  return [
    {
      description: `remove the empty subdirectories sftp-jail created in ${path} (${createdSubdirs.join(", ")}), not the adopted jail itself`,
      script: dirs.map((s) => `{ ${hp.rmdir(`${path}/${s}`, depth(path))} || true; }`).join("\n"),
      effects: { paths: createdSubdirs.map((s) => `${path}/${s}`) },
      record: createdSubdirs.map((s) => rec.drop("d", `${path}/${s}`)),
    },
  ];
}

/**
 * Ancestors sftp-jail created for chroots, deepest first, each removed only while empty and still root's: shared by
 * several chroots, it goes with the last of them (each destroy tries; the others still find something in it).
 */
function removeAncestors(created: string[]): Step[] {
  if (!created.length) return [];
  const deepest = [...new Set(created)].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));
  const script = deepest.map((a) => `{ ${hp.rmdirRoot(a, depth(a) - 1)} || true; }`).join("\n");
  return [{ description: `remove directories sftp-jail created for chroots (${deepest.join(", ")}) where empty`, script, effects: { paths: deepest }, record: deepest.map((a) => rec.drop("d", a)) }];
}
