/**
 * ChrootDir planner. OpenSSH's rule for ChrootDirectory: every component of the path, the directory itself included,
 * must be owned by root and not writable by group or others; users write only into subdirectories they own.
 */
import { HostFacts, PathStat, withAncestors } from "../observe/facts";
import { quote, quoteArg } from "../util/shell";
import { Plan, PlanError, Step, cmd } from "./types";

export interface SubdirDesired {
  path: string;
  owner: string;
  group: string;
  mode: string;
}

export interface ChrootDesired {
  path: string;
  group: string;
  mode: string;
  fixAncestors: boolean;
  subdirs: SubdirDesired[];
}

/** Where destroy moves a chroot that still holds files, so no upload is lost. */
export const RETAIN_DIR = "/var/lib/sftp-jail/retained";

const octal = (m: number) => "0" + (m & 0o7777).toString(8).padStart(3, "0");
const uidOf = (f: HostFacts, name: string) => f.users.find((u) => u.name === name)?.uid;
const gidOf = (f: HostFacts, name: string) => f.groups.find((g) => g.name === name)?.gid;

/** Paths whose stats the planner needs. */
export function chrootPaths(d: Pick<ChrootDesired, "path" | "subdirs">): string[] {
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

/** Steps that make the ancestors sound, or the refusal that names the offending component. */
function ancestorSteps(d: ChrootDesired, f: HostFacts): { steps: Step[]; created: string[] } {
  const steps: Step[] = [];
  const created: string[] = [];
  for (const a of withAncestors(d.path).slice(0, -1)) {
    const s = stat(f, a);
    if (!s.exists) {
      steps.push(cmd(`create ${a} (root:root 0755)`, ["install", "-d", "-m", "0755", "-o", "root", "-g", "root", a], { paths: [a] }));
      created.push(a);
      continue;
    }
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
    steps.push(cmd(`make ${a} root-owned and not group/other-writable`, ["chown", "root", a], { paths: [a] }));
    steps.push(cmd(`remove group/other write from ${a}`, ["chmod", "go-w", a], { paths: [a] }));
  }
  return { steps, created };
}

function dirSteps(p: string, owner: string, group: string, mode: string, f: HostFacts, what: string): Step[] {
  const uid = uidOf(f, owner);
  const gid = gidOf(f, group);
  if (uid === undefined) throw new PlanError(`user "${owner}" (owner of ${p}) does not exist`, "create the JailedUser first (the SftpJailHost component orders this for you)");
  if (gid === undefined) throw new PlanError(`group "${group}" (group of ${p}) does not exist`, "create the SftpGroup first");
  const s = stat(f, p);
  if (!s.exists) return [cmd(`create ${what} ${p} (${owner}:${group} ${mode})`, ["install", "-d", "-m", mode, "-o", owner, "-g", group, p], { paths: [p] })];
  if (s.type !== "directory") throw new PlanError(`${p} exists and is not a directory`, `move it away or choose another path`);
  const steps: Step[] = [];
  if (s.uid !== uid || s.gid !== gid) steps.push(cmd(`set owner of ${p} to ${owner}:${group}`, ["chown", `${owner}:${group}`, p], { paths: [p] }));
  if (octal(s.mode) !== mode) steps.push(cmd(`set mode of ${p} to ${mode}`, ["chmod", mode, p], { paths: [p] }));
  return steps;
}

/**
 * Creates or converges the chroot and its writable subdirectories. `adopted`: the chroot existed already (a jail made
 * by hand), so destroy leaves it where it is; `createdSubdirs`: subdirectories this plan creates (relative paths).
 */
export function planChroot(d: ChrootDesired, f: HostFacts): { steps: Plan; createdAncestors: string[]; adopted: boolean; createdSubdirs: string[] } {
  const anc = ancestorSteps(d, f);
  const adopted = !!f.paths[d.path]?.exists;
  const createdSubdirs = d.subdirs.filter((sub) => !f.paths[`${d.path}/${sub.path}`]?.exists).map((sub) => sub.path);
  const steps = [...anc.steps, ...dirSteps(d.path, "root", d.group, d.mode, f, "chroot")];
  for (const sub of d.subdirs) {
    const full = `${d.path}/${sub.path}`;
    // Intermediate components of a nested subdir are the jail's own structure: root-owned, like the chroot.
    const parts = sub.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const mid = `${d.path}/${parts.slice(0, i).join("/")}`;
      if (!(f.paths[mid]?.exists)) steps.push(cmd(`create ${mid}`, ["install", "-d", "-m", "0755", "-o", "root", "-g", "root", mid], { paths: [mid] }));
    }
    steps.push(...dirSteps(full, sub.owner, sub.group, sub.mode, f, "writable directory"));
  }
  return { steps, createdAncestors: anc.created, adopted, createdSubdirs };
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
): Plan {
  if (d.adopted) return planAdoptedChrootDelete(d.path, d.createdSubdirs ?? []);
  const p = quoteArg(d.path);
  if (d.onDelete === "delete") {
    if (d.path.split("/").filter(Boolean).length < 2) throw new PlanError(`refusing to delete ${d.path} recursively`, "use a deeper chroot path");
    return [
      cmd(`delete ${d.path} and everything in it (onDelete: "delete")`, ["rm", "-rf", "--one-file-system", "--", d.path], { paths: [d.path] }),
      ...removeAncestors(d.createdAncestors),
    ];
  }
  const dest = `${RETAIN_DIR}/${d.path.slice(1).replace(/\//g, "_")}.${stamp}`;
  const subs = [...d.subdirs].reverse().flatMap((s) => {
    const parts = s.path.split("/");
    return parts.map((_, i) => quoteArg(`${d.path}/${parts.slice(0, parts.length - i).join("/")}`));
  });
  const script = [
    `if [ -d ${p} ]; then`,
    ...(subs.length ? [`  rmdir ${subs.join(" ")} 2>/dev/null || true`] : []),
    `  if ! rmdir ${p} 2>/dev/null; then`,
    `    ${quote(["install", "-d", "-m", "0700", "-o", "root", "-g", "root", RETAIN_DIR])}`,
    `    ${quote(["mv", "--", d.path, dest])}`,
    `    echo ${quoteArg(`retained files of ${d.path} in ${dest}`)} >&2`,
    "  fi",
    "fi",
  ].join("\n");
  return [{ description: `remove ${d.path}, keeping any files in ${RETAIN_DIR}`, script, effects: { paths: [d.path, RETAIN_DIR, dest] } }, ...removeAncestors(d.createdAncestors)];
}

/**
 * Destroy of a chroot that existed before sftp-jail (adopted): it and everything in it stay exactly where they are,
 * whatever `onDelete` says — the jail was the admin's. Only subdirectories sftp-jail created are removed, and only
 * while empty.
 */
export function planAdoptedChrootDelete(path: string, createdSubdirs: string[]): Plan {
  if (!createdSubdirs.length) return [];
  const dirs = [...createdSubdirs].sort((a, b) => b.split("/").length - a.split("/").length).map((s) => quoteArg(`${path}/${s}`));
  return [
    {
      description: `remove the empty subdirectories sftp-jail created in ${path} (${createdSubdirs.join(", ")}); the adopted jail itself stays`,
      script: `for sj_d in ${dirs.join(" ")}; do rmdir "$sj_d" 2>/dev/null || true; done`,
      effects: { paths: createdSubdirs.map((s) => `${path}/${s}`) },
    },
  ];
}

function removeAncestors(created: string[]): Step[] {
  if (!created.length) return [];
  const rev = [...created].reverse().map(quoteArg).join(" ");
  return [{ description: `remove directories created for the chroot (${created.join(", ")}) if empty`, script: `for a in ${rev}; do rmdir "$a" 2>/dev/null || true; done`, effects: { paths: created } }];
}
