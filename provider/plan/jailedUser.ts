/**
 * JailedUser planner: a key-only account whose home is its chroot, in the SFTP group, with its authorized keys kept
 * as an exact set in a root-owned file outside the jail. Only what differs is changed: a key change rewrites that one
 * key file, a shell change is one usermod; a new key-only account is one useradd.
 */
import { HostFacts, NON_LOGIN_SHELLS, sameShell } from "../observe/facts";
import { ACCOUNT_COMMENT, RecordOp, createdDir, createdUser, forgetStep, rec, staleEntries } from "../observe/record";
import { privilegedGroup } from "./envelope";
import { isSystemUid } from "../schema/common";
import { atomicWrite } from "./files";
import { depth, hp } from "../util/hostpath";
import { Plan, PlanError, Step, cmd } from "./types";
import type { JailedUserFields } from "../schema/jailedUser";

export const DEFAULT_KEYS_DIR = "/etc/ssh/sftp-jail/authorized_keys";

/**
 * The account as the schema parsed it (provider/schema/jailedUser.ts): the fields this planner reads. A shell other
 * than nologin/false is refused unless allowLoginShell is true; authorizedKeysFile is an adopted, read-only key file.
 */
export type UserDesired = Pick<
  JailedUserFields,
  "name" | "uid" | "group" | "extraGroups" | "home" | "shell" | "authorizedKeys" | "keysDir" | "authorizedKeysFile" | "keyOnly"
> &
  Partial<Pick<JailedUserFields, "allowLoginShell">>;

/** The file holding the user's keys: the adopted one, or sftp-jail's own root-owned `<keysDir>/<name>`. */
export const keyFile = (d: Pick<UserDesired, "keysDir" | "name"> & { authorizedKeysFile?: string }) => d.authorizedKeysFile ?? `${d.keysDir}/${d.name}`;
/** What a check of the account looks at on its host (also a component's look hint, schema/hidden.ts LOOK_KEY). */
export const lookNeeds = (d: Pick<UserDesired, "keysDir" | "name"> & { authorizedKeysFile?: string; shell?: string }) => ({
  paths: [d.keysDir, ...(d.shell ? [d.shell] : [])],
  files: [keyFile(d)],
});

/** The key file's exact content for a key set. */
export function renderKeys(keys: string[]): string {
  return keys.length ? keys.join("\n") + "\n" : "";
}

/** Keys in a key file as sshd reads them (blank lines and comments are not keys). */
export function parseKeys(content: string): string[] {
  return content
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

/** A public key in a line (options may precede it): a line sshd would try to use as a key. */
const KEY_TOKEN = /(^|\s)(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) AAAA[A-Za-z0-9+/]/;

/** The key lines of a file sftp-jail did not write (an adopted one): whatever else it holds is not a key, and ignored. */
export function keyLines(content: string): string[] {
  return parseKeys(content).filter((l) => KEY_TOKEN.test(l));
}

export function resolveShell(d: Pick<UserDesired, "shell" | "allowLoginShell">, f: HostFacts): string {
  if (d.shell) {
    if (!d.allowLoginShell) {
      // Judged by what the path resolves to on the host: /tmp/nologin -> /bin/bash is a login shell, /sbin/nologin
      // on merged /usr is nologin.
      const real = f.realpaths?.[d.shell];
      const allowed = new Set(NON_LOGIN_SHELLS.map((p) => f.realpaths?.[p]).filter(Boolean));
      if (!real || !allowed.has(real)) {
        throw new PlanError(
          `shell ${d.shell} ${real ? `resolves to ${real}, which is not nologin or false` : "does not exist on the host"}: a jailed user must not get a login shell`,
          `remove shell (the host's nologin is used), set it to nologin or false, or set allowLoginShell: true if this account really needs a login shell`,
          "shell",
        );
      }
    }
    return d.shell;
  }
  if (!f.nologin) throw new PlanError("no nologin shell found on the host (looked in /usr/sbin, /sbin, /usr/bin)", "set shell explicitly");
  return f.nologin;
}

/** Refuses a jailed user in a group that grants privilege: the wanted groups, and those an adopted account has. */
function refusePrivilegedGroups(d: UserDesired, f: HostFacts): void {
  // The operator's own account is refused by the envelope (apply) with the right fix: never advise taking it out of
  // its groups.
  const isOperator = !!f.operator && [f.operator.user, f.operator.runAs].includes(d.name);
  const u = isOperator ? undefined : f.users.find((x) => x.name === d.name);
  const current = u ? f.groups.filter((g) => g.gid === u.gid || g.members.includes(d.name)).map((g) => g.name) : [];
  for (const g of [...new Set([d.group, ...d.extraGroups, ...current])]) {
    const why = privilegedGroup(g, f);
    if (why) {
      const wanted = g === d.group || d.extraGroups.includes(g);
      throw new PlanError(
        `${why}: a jailed user ${wanted ? "must not be in it" : `must not be in it, and the existing account ${d.name} is`}`,
        wanted ? `remove ${g} from ${g === d.group ? "group" : "extraGroups"}` : `remove ${d.name} from ${g} on the host first (gpasswd -d ${d.name} ${g}), or jail another account`,
        g === d.group ? "group" : d.extraGroups.includes(g) ? "extraGroups" : "name",
      );
    }
  }
}

export function isMember(f: HostFacts, user: string, group: string): boolean {
  const g = f.groups.find((x) => x.name === group);
  const u = f.users.find((x) => x.name === user);
  return !!g && !!u && (u.gid === g.gid || g.members.includes(user));
}

/**
 * Create or converge the account and its key file. `adopted` tells whether the account existed before and is not one
 * sftp-jail created; `recorded`, that it exists because sftp-jail created it (the host's record, same uid, its comment)
 * though this resource's state does not know it.
 */
export function planUser(d: UserDesired, f: HostFacts): { steps: Plan; adopted: boolean; recorded: boolean } {
  for (const g of [d.group, ...d.extraGroups]) {
    if (!f.groups.some((x) => x.name === g)) throw new PlanError(`group "${g}" does not exist`, "create the SftpGroup first (dependsOn), or fix the group name");
  }
  refusePrivilegedGroups(d, f);
  const shell = resolveShell(d, f);
  const existing = f.users.find((u) => u.name === d.name);
  const steps: Step[] = [];
  if (!existing) {
    if (d.uid !== undefined) {
      const owner = f.users.find((u) => u.uid === d.uid);
      if (owner) throw new PlanError(`uid ${d.uid} is already used by user "${owner.name}"`, "choose a free uid or omit uid");
    }
    // A key-only account gets its password field "*" from useradd itself (one account-database rewrite, not two).
    steps.push(
      cmd(`create user ${d.name}${d.keyOnly ? ' (key-only: password field "*", not locked)' : ""}`, [
        "useradd", "--no-create-home", "--home-dir", d.home, "--shell", shell, "--gid", d.group,
        ...(d.uid !== undefined ? ["--uid", d.uid] : []),
        ...(d.extraGroups.length ? ["--groups", d.extraGroups.join(",")] : []),
        ...(d.keyOnly ? ["--password", "*"] : []),
        "--comment", ACCOUNT_COMMENT, "--", d.name,
      ], { accounts: [d.name], memberships: [d.group, ...d.extraGroups] }, [rec.add("u", d.name)]),
    );
  } else {
    // Adopting means taking the account over (shell, home, password field): never one of the system's own.
    if (isSystemUid(existing.uid)) {
      throw new PlanError(
        `"${d.name}" is an existing system account (uid ${existing.uid}); sftp-jail would replace its shell, home and password field`,
        "choose another name for the jailed user",
      );
    }
    if (d.uid !== undefined && existing.uid !== d.uid) {
      throw new PlanError(`user "${d.name}" exists with uid ${existing.uid}, not ${d.uid}`, `set uid: ${existing.uid} to adopt it, or remove uid`);
    }
    if (existing.home !== d.home) steps.push(cmd(`set home of ${d.name} to ${d.home}`, ["usermod", "--home", d.home, "--", d.name], { accounts: [d.name] }));
    if (!sameShell(existing.shell, shell, f)) steps.push(cmd(`set shell of ${d.name} to ${shell}`, ["usermod", "--shell", shell, "--", d.name], { accounts: [d.name] }));
    for (const g of [d.group, ...d.extraGroups]) {
      if (!isMember(f, d.name, g)) steps.push(cmd(`add ${d.name} to group ${g}`, ["usermod", "--append", "--groups", g, "--", d.name], { accounts: [d.name], memberships: [g] }));
    }
  }
  // useradd leaves "!" (Debian) or "!!" (RHEL) there, which OpenSSH treats as locked when UsePAM is no.
  if (d.keyOnly && existing && f.shadow[d.name] !== "*") {
    steps.push(cmd(`make ${d.name} key-only (password field "*", not locked)`, ["usermod", "--password", "*", "--", d.name], { accounts: [d.name] }));
  }
  steps.push(...keySteps(d, f));
  const recorded = !!existing && createdUser(f, d.name);
  // Record entries of this account or its key directories that no longer hold (replaced by hand) are dropped.
  const keyDirs = [d.keysDir, d.keysDir.split("/").slice(0, -1).join("/")].filter(Boolean);
  steps.unshift(...forgetStep(staleEntries(f, [["u", d.name], ...keyDirs.map((p): ["d", string] => ["d", p])])));
  return { steps, adopted: !!existing && !recorded, recorded };
}

function keySteps(d: UserDesired, f: HostFacts): Step[] {
  const path = keyFile(d);
  if (d.authorizedKeysFile) {
    // Adopted read-only: sftp-jail writes key files only where it created them, never into a directory the jailed
    // user may write to (a symlink planted there would turn a root write into anyone's file).
    const have = keyLines(f.files[path] ?? "");
    if (JSON.stringify(have) === JSON.stringify(d.authorizedKeys)) return [];
    throw new PlanError(
      `the keys of ${d.name} live in ${path}, which sftp-jail adopted read-only, and they differ from authorizedKeys (the file has ${have.length} key(s): ${have.map((k) => k.split(" ").slice(2).join(" ") || k.split(" ")[0]).join(", ") || "none"})`,
      `to let sftp-jail manage the keys, remove authorizedKeysFile (SftpJailHost: authorizedKeysFile and sshdDirectives.AuthorizedKeysFile): the keys then move to root-owned ${d.keysDir}/${d.name} outside the jail; or edit ${path} by hand to match`,
    );
  }
  const want = renderKeys(d.authorizedKeys);
  if (f.files[path] === want) return [];
  const steps: Step[] = [];
  const missingDirs = [d.keysDir.split("/").slice(0, -1).join("/"), d.keysDir].filter((p) => p && !f.paths[p]?.exists);
  if (missingDirs.length) {
    // Created one component at a time in pinned, root-only parents (util/hostpath.ts), never through a symlink.
    steps.push({
      description: `create ${missingDirs.join(", ")} (root:root 0755)`,
      script: missingDirs.map((p) => hp.dir(p, depth(p) - 1, "root", "root", "0755")).join(" && "),
      effects: { dirs: missingDirs },
      record: missingDirs.map((p) => rec.add("d", p)),
      shared: true,
    });
  }
  const write = atomicWrite({ path, content: want, mode: 0o644, owner: "root", group: "root" }, `write ${d.authorizedKeys.length} authorized key(s) of ${d.name} to ${path}`, undefined, { backup: false });
  // Recorded when this write creates it; a rewrite leaves the record as it is (a key change touches one file).
  steps.push({ ...write, record: [rec.add("f", path)] });
  return steps;
}

/** The key directories (`keysDir` and its parent) that sftp-jail created, as the host's record says. */
const createdKeyDirs = (d: Pick<UserDesired, "keysDir">, f: HostFacts) => [d.keysDir, d.keysDir.split("/").slice(0, -1).join("/")].filter((p) => p && createdDir(f, p));

/** Removes the account (never its files) and its key file. Accounts that were adopted keep existing. */
export function planUserDelete(d: Pick<UserDesired, "name" | "keysDir" | "authorizedKeysFile">, adopted: boolean, f: HostFacts): Plan {
  const steps: Step[] = [];
  const u = f.users.find((x) => x.name === d.name);
  if (!adopted && u) {
    // No --remove: uploaded files stay (ChrootDir decides what happens to them). userdel also drops the user from
    // every group, and (USERGROUPS_ENAB) removes a group of its own name that is its primary group.
    const memberships = f.groups.filter((g) => g.members.includes(d.name)).map((g) => g.name);
    const own = f.groups.filter((g) => g.name === d.name && g.gid === u.gid).map((g) => g.name);
    // Its sessions end first: userdel refuses an account with processes (an open SFTP session would hold destroy up
    // for as long as the partner stays connected), and a deleted account must not keep a session open. The uid is
    // the observed one (a number); /proc's owner of a process directory is the process's user.
    const del = cmd(`end the sessions of ${d.name} and delete the user (files kept)`, ["userdel", "--", d.name], { accounts: [d.name], memberships, groups: own }, [rec.drop("u", d.name)]);
    const kill = `stat -c '%u %n' /proc/[0-9]* 2>/dev/null | while read -r sj_pu sj_pp; do [ "$sj_pu" = ${Number(u.uid)} ] && kill -KILL "\${sj_pp#/proc/}" 2>/dev/null; done; true`;
    steps.push({ ...del, script: `${kill}\n${del.script}` });
  }
  const path = keyFile(d);
  // An adopted key file is the admin's (or the user's): it stays.
  if (!d.authorizedKeysFile && f.files[path] !== undefined) steps.push({ description: `remove ${path}`, script: hp.rm(path, depth(path) - 1), effects: { paths: [path] }, record: [rec.drop("f", path)] });
  // The key directories sftp-jail created go with the last key file in them (each user's delete tries; rmdir only
  // removes an empty directory, and its entry stays while the directory does).
  if (!d.authorizedKeysFile) {
    const dirs = createdKeyDirs(d as UserDesired, f);
    if (dirs.length) {
      steps.push({
        description: `remove ${dirs.join(", ")} if empty (sftp-jail created ${dirs.length > 1 ? "them" : "it"})`,
        script: dirs.map((p) => `{ ${hp.rmdir(p, depth(p) - 1)} || true; }`).join("\n"),
        effects: { paths: dirs },
        record: dirs.map((p): RecordOp => rec.drop("d", p)),
      });
    }
  }
  return steps;
}

/**
 * Puts an account back as `before` had it (home, shell, primary and supplementary groups, sftp-jail's key file), after
 * a change that left it un-jailed. Only what differs from `now` is changed.
 */
export function planUserRestore(d: Pick<UserDesired, "name" | "keysDir" | "authorizedKeysFile">, before: HostFacts, now: HostFacts): Plan {
  const was = before.users.find((u) => u.name === d.name);
  const is = now.users.find((u) => u.name === d.name);
  if (!was || !is) return [];
  const steps: Step[] = [];
  const groupsOf = (f: HostFacts) => f.groups.filter((g) => g.members.includes(d.name)).map((g) => g.name).sort();
  const args: Array<string | number> = [];
  if (is.home !== was.home) args.push("--home", was.home);
  if (is.shell !== was.shell) args.push("--shell", was.shell);
  if (is.gid !== was.gid) args.push("--gid", was.gid);
  if (groupsOf(now).join(",") !== groupsOf(before).join(",")) args.push("--groups", groupsOf(before).join(","));
  const memberships = [...new Set([...groupsOf(now), ...groupsOf(before)])];
  if (args.length) {
    steps.push(cmd(`put ${d.name} back as it was (${args.filter((a) => String(a).startsWith("--")).join(" ")})`, ["usermod", ...args, "--", d.name], { accounts: [d.name], memberships }));
  }
  const path = keyFile(d);
  if (!d.authorizedKeysFile && now.files[path] !== before.files[path]) {
    steps.push(
      before.files[path] === undefined
        ? { description: `remove ${path} again`, script: hp.rm(path, depth(path) - 1), effects: { paths: [path] } }
        : atomicWrite({ path, content: before.files[path], mode: 0o644, owner: "root", group: "root" }, `put the keys of ${d.name} back`, undefined, { backup: false }),
    );
  }
  return steps;
}
