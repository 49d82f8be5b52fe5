/**
 * SftpGroup planner: the group exists with the wanted gid. Adopts a matching existing group; refuses conflicts.
 */
import { HostFacts } from "../observe/facts";
import { createdGroup, forgetStep, rec, staleEntries } from "../observe/record";
import { privilegedGroup } from "./envelope";
import { Plan, PlanError, cmd } from "./types";
import type { SftpGroupFields } from "../schema/sftpGroup";

/** The group as the schema parsed it (provider/schema/sftpGroup.ts). */
export type GroupDesired = SftpGroupFields;

export interface GroupCreatePlan {
  steps: Plan;
  /** True when the group already existed and matches: it is adopted, not created (and destroy leaves it). */
  adopted: boolean;
  /**
   * True when the group exists because sftp-jail created it (the host's record says so, and its gid is the one it was
   * created with) though this resource's state does not know it: it is taken back as created, not adopted.
   */
  recorded?: boolean;
}

function gidOwner(facts: HostFacts, gid: number, except: string): string | undefined {
  return facts.groups.find((g) => g.gid === gid && g.name !== except)?.name;
}

/** An SFTP group jails its members: one that grants privilege (gid 0, or named in the host's sudoers) is refused. */
function refusePrivileged(d: GroupDesired, facts: HostFacts): void {
  const why = privilegedGroup(d.name, facts);
  if (why || d.gid === 0 || (d.gid !== undefined && facts.sudoers.gids.includes(d.gid))) {
    throw new PlanError(
      `${why ?? `gid ${d.gid} grants privilege on this host`}: an SFTP group's members are jailed users, so it must not be a group that grants privilege`,
      "choose another group name (and gid) for the SFTP group",
      "name",
    );
  }
}

export function planGroupCreate(d: GroupDesired, facts: HostFacts): GroupCreatePlan {
  refusePrivileged(d, facts);
  const existing = facts.groups.find((g) => g.name === d.name);
  // sftp-jail's own group, which a lost or stale state forgot: converged like a group this resource created.
  if (existing && createdGroup(facts, d.name)) return { steps: planGroupUpdate(d, facts), adopted: false, recorded: true };
  if (existing) {
    if (d.gid !== undefined && existing.gid !== d.gid) {
      throw new PlanError(
        `group "${d.name}" already exists with gid ${existing.gid}, not the requested ${d.gid}`,
        `set gid: ${existing.gid} to adopt it as it is, or remove gid; sftp-jail does not renumber a group it did not create`,
      );
    }
    // A record entry for this name that no longer holds (the group was replaced by hand) is dropped.
    return { steps: forgetStep(staleEntries(facts, [["g", d.name]])), adopted: true };
  }
  if (d.gid !== undefined) {
    const owner = gidOwner(facts, d.gid, d.name);
    if (owner) throw new PlanError(`gid ${d.gid} is already used by group "${owner}"`, "choose a free gid or omit gid");
  }
  const argv = ["groupadd", ...(d.system ? ["--system"] : []), ...(d.gid !== undefined ? ["--gid", d.gid] : []), "--", d.name];
  return { steps: [cmd(`create group ${d.name}${d.gid !== undefined ? ` (gid ${d.gid})` : ""}`, argv, { groups: [d.name] }, [rec.add("g", d.name)])], adopted: false };
}

export function planGroupUpdate(d: GroupDesired, facts: HostFacts): Plan {
  refusePrivileged(d, facts);
  const existing = facts.groups.find((g) => g.name === d.name);
  if (!existing) return planGroupCreate(d, facts).steps;
  if (d.gid === undefined || existing.gid === d.gid) return [];
  const owner = gidOwner(facts, d.gid, d.name);
  if (owner) throw new PlanError(`gid ${d.gid} is already used by group "${owner}"`, "choose a free gid");
  return [cmd(`change gid of group ${d.name} from ${existing.gid} to ${d.gid}`, ["groupmod", "--gid", d.gid, "--", d.name], { groups: [d.name] }, [rec.renew("g", d.name)])];
}

export function planGroupDelete(name: string, facts: HostFacts): Plan {
  const existing = facts.groups.find((g) => g.name === name);
  if (!existing) return [];
  const primaryOf = facts.users.filter((u) => u.gid === existing.gid).map((u) => u.name);
  if (primaryOf.length) {
    throw new PlanError(
      `group "${name}" is the primary group of ${primaryOf.join(", ")}`,
      "remove or change those users first (delete their JailedUser resources, or set their primary group elsewhere)",
    );
  }
  return [cmd(`delete group ${name}`, ["groupdel", "--", name], { groups: [name] }, [rec.drop("g", name)])];
}
