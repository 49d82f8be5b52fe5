/**
 * The operator's envelope: what sftp-jail must never change because it is how sftp-jail itself gets in — the login
 * account (and the account sudo runs as), the groups it is in, its home and every ancestor of it, the authorized_keys
 * files sshd reads for it and their directories. Every step declares its effects (types.ts); {@link envelopeProblem}
 * compares a whole plan with the envelope, once, for every resource (apply and the preview-time checks call it).
 */
import { HostFacts, OperatorFacts, withAncestors } from "../observe/facts";
import { PRIVILEGED_GROUPS } from "../schema/common";
import { Plan, PlanError } from "./types";

export interface Envelope {
  /** Who logs in and who sudo makes it. */
  accounts: Set<string>;
  /** Names of the groups the login account is in (primary and supplementary). */
  groups: Set<string>;
  /** The home, its ancestors, each key file and the directories leading to it. */
  paths: Set<string>;
  /** Directories holding key files: nothing may be created or changed inside them either. */
  keyDirs: string[];
  /** Why each path is in the envelope, for the message. */
  why: Map<string, string>;
}

const dirname = (p: string) => p.slice(0, p.lastIndexOf("/")) || "/";

/** The envelope of the operator described by `op` (pure). */
export function envelopeOf(op: OperatorFacts, f: Pick<HostFacts, "groups">): Envelope {
  const accounts = new Set([op.user, op.runAs]);
  const groups = new Set(f.groups.filter((g) => op.gids.includes(g.gid) || g.members.includes(op.user)).map((g) => g.name));
  const why = new Map<string, string>();
  const add = (p: string, reason: string) => {
    if (!why.has(p)) why.set(p, reason);
  };
  add(op.home, `the home of ${op.user}`);
  for (const a of withAncestors(op.home).slice(0, -1)) add(a, `an ancestor of ${op.home}, the home of ${op.user}`);
  for (const k of op.keyFiles) {
    add(k, `an authorized_keys file sshd reads for ${op.user}`);
    for (const a of withAncestors(dirname(k)).reverse()) add(a, a === dirname(k) ? `the directory of ${k}, a key file sshd reads for ${op.user}` : `an ancestor of ${k}, a key file sshd reads for ${op.user}`);
  }
  return { accounts, groups, paths: new Set(why.keys()), keyDirs: [...new Set(op.keyFiles.map(dirname))], why, };
}

/** The operator as the message names it. */
const who = (op: OperatorFacts) => `${op.user}, the account sftp-jail logs in as${op.via === "sudo" ? ` (becoming ${op.runAs} through sudo)` : ""}`;

/**
 * The first effect of `plan` that reaches the operator's envelope, as a refusal naming the step, the cause and the fix;
 * undefined when the plan stays outside. A host whose snapshot has no operator fact cannot be judged: refused.
 */
export function envelopeProblem(plan: Plan, f: HostFacts): PlanError | undefined {
  if (plan.length === 0) return undefined;
  const op = f.operator;
  if (!op) return new PlanError("the host snapshot did not say who sftp-jail logs in as, so no change can be checked against the operator's own account", "run the command again; if it persists, check that `id`, `awk` and `sshd` work on the host");
  const env = envelopeOf(op, f);
  for (const s of plan) {
    const e = s.effects;
    for (const a of e.accounts ?? []) {
      if (env.accounts.has(a)) {
        return new PlanError(
          `"${s.description}" would change the account ${a}, and ${a === op.user ? who(op) : `${a} is the account sudo makes ${op.user}`}: changing its shell, groups, home or password field can lock sftp-jail (and you) out`,
          `name the jailed user differently; sftp-jail never changes the account it logs in as (connection.user ${op.user})`,
        );
      }
    }
    for (const g of e.groups ?? []) {
      if (env.groups.has(g)) {
        return new PlanError(
          `"${s.description}" would change the group ${g}, which ${who(op)} is in: that changes the operator's own groups (and with them sudo or AllowGroups)`,
          `use an SFTP group the operator is not a member of (connection.user ${op.user} is in: ${[...env.groups].sort().join(", ")})`,
        );
      }
    }
    // Another account joining one of the operator's groups shares what those groups may read or do (its home, sudo).
    for (const g of e.memberships ?? []) {
      if (env.groups.has(g)) {
        return new PlanError(
          `"${s.description}" would add a member to the group ${g}, which ${who(op)} is in: a jailed user must not share the operator's groups`,
          `use groups the operator is not a member of (connection.user ${op.user} is in: ${[...env.groups].sort().join(", ")})`,
        );
      }
    }
    for (const p of [...(e.paths ?? []), ...(e.dirs ?? [])]) {
      const inKeyDir = env.keyDirs.find((d) => p.startsWith(d === "/" ? "/" : d + "/"));
      const reason = env.why.get(p) ?? (inKeyDir ? `inside ${inKeyDir}, the directory of a key file sshd reads for ${op.user}` : undefined);
      if (reason) {
        return new PlanError(
          `"${s.description}" would change ${p}, ${reason}: sshd refuses keys whose file, directory or home has the wrong owner or mode, which would lock ${who(op)} out`,
          `choose a path outside ${op.home} and outside the directories leading to it or to ${op.user}'s key files`,
        );
      }
    }
  }
  return undefined;
}


/** Why `group` grants privilege on this host (gid 0, a fixed privileged name, or named in sudoers), or undefined. */
export function privilegedGroup(group: string, f: Pick<HostFacts, "groups" | "sudoers">): string | undefined {
  const g = f.groups.find((x) => x.name === group);
  if (g && g.gid === 0) return `group ${group} has gid 0`;
  if ((PRIVILEGED_GROUPS as readonly string[]).includes(group)) return `group ${group} grants administrative rights`;
  if (f.sudoers.groups.includes(group)) return `group ${group} is named in the host's sudoers (${f.sudoers.files.join(", ")})`;
  if (g && f.sudoers.gids.includes(g.gid)) return `group ${group} (gid ${g.gid}) is named as %#${g.gid} in the host's sudoers`;
  return undefined;
}

/**
 * Facts for planning at preview: accounts and groups the program creates earlier in the same run may not exist yet,
 * so they are assumed (uid/gid -1, no members) and the plan — and its effects — can be judged before anything runs.
 */
export function assumeExisting(f: HostFacts, users: string[], groups: string[]): HostFacts {
  const moreUsers = users.filter((n) => !f.users.some((u) => u.name === n)).map((name) => ({ name, uid: -1, gid: -1, home: "", shell: "" }));
  const moreGroups = groups.filter((n) => !f.groups.some((g) => g.name === n)).map((name) => ({ name, gid: -1, members: [] as string[] }));
  return { ...f, users: [...f.users, ...moreUsers], groups: [...f.groups, ...moreGroups] };
}
