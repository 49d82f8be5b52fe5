/**
 * JailedUser adapter: schema + provider methods for one chrooted, key-only SFTP account.
 */
import type * as pulumi from "@pulumi/pulumi";
import { observe } from "../observe/snapshot";
import { HostFacts, jailSpec, sameShell } from "../observe/facts";
import { apply } from "../apply/apply";
import { applyAccountChange } from "../apply/guarded";
import { changesExistingAccounts } from "../plan/accounts";
import { assumeExisting } from "../plan/envelope";
import { isMember, keyFile, keyLines, lookNeeds, parseKeys, planUser, planUserDelete } from "../plan/jailedUser";
import { JailedUserFields, jailedUserSchema, jailedUserShape } from "../schema/jailedUser";
import { JailSubject, Violation, culpritScript, describeViolation, expectedJail, jailContexts, jailViolations, observedJail, parseCulprit, violationFix } from "../plan/jail";
import { planUserRestore } from "../plan/jailedUser";
import { SCRIPT_PREFIX } from "../observe/snapshot";
import { SftpJailError } from "../util/errors";
import type { Session } from "../connection/pool";
import { checkInputs, containsUnknown, ownerOf, parseKnown, planOrThrow, previewLook, sameConnection, sessionFor, sessionForChange, defined } from "./base";
import { failuresOf } from "../schema/common";
import { log } from "../util/log";
import { changing, ownedBy, whoseIsIt } from "../observe/record";
import { chrootPaths, planChroot } from "../plan/chrootDir";
import { ChrootKept, convergeChroot, observedInputs as observedChrootInputs, removeChroot } from "./chrootDir";
import { declareJail } from "./declared";

export { TYPE } from "../schema/jailedUser";
import { TYPE } from "../schema/jailedUser";

export { jailedUserShape };
const fieldsSchema = jailedUserSchema;
type Fields = JailedUserFields;

/** What state keeps: inputs as normalised, plus what was observed. */
export interface JailedUserState extends Fields {
  /** How the host is reached (kept encrypted in state). */
  connection: unknown;
  /**
   * The jail as sshd evaluates it for this account (see plan/jail.ts observedJail): each keyword at the jail's value
   * while in effect, sshd's value when not. The program side is expectedJail, so a broken jail is drift here.
   */
  jail?: Record<string, string>;
  /** The uid the host assigned. */
  uidActual: number;
  /** The shell used when `shell` is not set (the host's nologin). */
  defaultShell: string;
  /** True when the account existed before and was adopted (destroy then keeps it). */
  adopted: boolean;
  /** What the jail this user owns (`chroot`) keeps: the parents sftp-jail made for it; adopted, what it made inside. */
  chrootState?: ChrootKept;
}

const label = (n: string) => `${TYPE} "${n}"`;
const fields = (o: Record<string, unknown>): Fields =>
  parseKnown(fieldsSchema, Object.fromEntries(Object.keys(jailedUserShape).map((k) => [k, o[k]])), label(String(o.name)));
const subject = (d: Pick<Fields, "name" | "home" | "keysDir" | "authorizedKeysFile" | "reachedFrom" | "jailOptOut">): JailSubject => ({
  name: d.name,
  home: d.home,
  keyFile: keyFile(d),
  keysAdopted: d.authorizedKeysFile !== undefined,
  reachedFrom: d.reachedFrom ?? [],
  optOut: d.jailOptOut ?? [],
});
export { lookNeeds };
/** The jail this user owns, as the chroot planner takes it (its path is the home). */
const ownedJail = (d: Pick<Fields, "home" | "chroot">) => (d.chroot ? { ...d.chroot, path: d.home } : undefined);
const needs = (d: Pick<Fields, "keysDir" | "name" | "authorizedKeysFile" | "reachedFrom"> & { shell?: string }) => ({
  ...lookNeeds(d),
  jail: jailContexts({ name: d.name, reachedFrom: d.reachedFrom ?? [] }),
});

export async function check(_olds: unknown, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const r = checkInputs(jailedUserShape, news);
  // Cross-field rules too, at preview, once every field is known.
  if (!r.failures.length && !containsUnknown(r.inputs)) {
    const full = fieldsSchema.safeParse(Object.fromEntries(Object.keys(jailedUserShape).map((k) => [k, r.inputs[k]])));
    if (!full.success) r.failures.push(...failuresOf(full.error));
    // The plan on the host as it is (groups the program creates first assumed), judged like apply judges it.
    else {
      const d = full.data;
      const jail = ownedJail(d);
      // Noted before any look at the host: a delete later in this run must leave this jail to this user.
      if (jail) declareJail(r.inputs.connection, jail.path);
      const look = { paths: [...lookNeeds(d).paths, ...(jail ? chrootPaths(jail) : [])], files: lookNeeds(d).files };
      const groups = [d.group, ...d.extraGroups, ...(jail ? [jail.group, ...jail.subdirs.map((x) => x.group)] : [])];
      r.failures.push(
        ...(await previewLook(r.inputs.connection, label(d.name), "name", look, (f) => {
          const mine = ownedBy(f, ownerOf(r.inputs));
          const user = planUser(d, assumeExisting(mine, [], groups)).steps;
          // The jail is planned as it will be after the account's change: the account (and the owners named) exist.
          return [...user, ...(jail ? planChroot(jail, assumeExisting(mine, [d.name, ...jail.subdirs.map((x) => x.owner)], groups)).steps : [])];
        })),
      );
      // What sshd must resolve for this account: compared with what it does resolve (read), so a broken jail is drift.
      r.inputs.jail = expectedJail(subject(d));
    }
  }
  return r;
}

export async function diff(_id: string, olds: JailedUserState, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces = ["name", "uid"].filter((k) => news[k] !== undefined && JSON.stringify(news[k]) !== JSON.stringify(olds[k as keyof JailedUserState]));
  if (news.name !== olds.name && !replaces.includes("name")) replaces.push("name");
  const want: Record<string, unknown> = { ...news, shell: news.shell ?? olds.defaultShell };
  const have: Record<string, unknown> = { ...olds, shell: olds.shell ?? olds.defaultShell };
  const keys = [...Object.keys(jailedUserShape), "jail"] as (keyof JailedUserState)[];
  const changed = keys.some((k) => JSON.stringify(want[k]) !== JSON.stringify(have[k]));
  return { changes: changed || replaces.length > 0 || !sameConnection(olds.connection, news.connection), replaces, deleteBeforeReplace: true };
}

/**
 * After an account change: the account must evaluate to its jail, for every client. If not, the change is undone (a
 * new account is deleted again; a changed one gets its previous home, shell, groups and keys back) and the error names
 * the keyword, sshd's value and the file that most likely set it first, found by OpenSSH (plan/jail.ts culpritScript).
 */
async function assertJailed(s: Session, d: Fields, before: HostFacts, after: HostFacts, changed: boolean, adopted: boolean): Promise<void> {
  const v = jailViolations(subject(d), after);
  if (!v || v.length === 0) return;
  const ctx = { session: s, resource: label(d.name) };
  let undone = "";
  if (changed && !adopted && !before.users.some((u) => u.name === d.name)) {
    await apply(ctx, planUserDelete(d, false, after));
    undone = "; the account was deleted again";
  } else if (changed) {
    await apply(ctx, planUserRestore(d, before, after));
    undone = "; the account change was reverted";
  }
  const file = await whoSets(s, v[0]);
  throw new SftpJailError({ host: `${s.conn.host}:${s.conn.port}`, resource: label(d.name) }, `${describeViolation(d.name, v[0], file)}${v.length > 1 ? ` (and ${v.length - 1} more: ${v.slice(1).map((x) => x.keyword).join(", ")})` : ""}${undone}`, violationFix(d.name, v[0], file));
}

/** The file that set a violation's value first (a read-only probe; OpenSSH evaluates copies of the configuration). */
async function whoSets(s: Session, v: Violation): Promise<string | undefined> {
  if (v.keyword === "sshd -T -C") return undefined;
  const r = await s.exec([SCRIPT_PREFIX, culpritScript(v.context, v.keyword)].join("\n"));
  return parseCulprit(r.stdout);
}

async function converge(d: Fields, connection: unknown, owner: string | undefined, adoptedBefore?: boolean, prev?: JailedUserState): Promise<JailedUserState> {
  const s = await sessionForChange(connection, label(d.name));
  const own = needs(d);
  const { files, jail } = own;
  const home = ownedJail(d);
  // The jail's paths too: the account's looks cover what its jail's converge looks at next (no exec of its own).
  const paths = [...own.paths, ...(home ? chrootPaths(home) : [])];
  // Planned without sshd's evaluation of the account (the plan does not read it; it is judged after the change).
  const facts = await observe(s, { paths, files });
  // Only what this stack created is taken back; another stack's account is adopted (its creator deletes it).
  const plan = planOrThrow(s, label(d.name), () => planUser(d, ownedBy(facts, owner)));
  // The trailing snapshot also judges this account's jail after the change (the check below reads it from there).
  const ctx = { session: s, resource: label(d.name), owner, reads: { paths, files, jail: jail.map(jailSpec) } };
  // Changing an account that exists (shell, groups, home, password field) could change who may log in: confirmed by
  // a fresh operator login, or its entries are put back exactly.
  const after =
    (changesExistingAccounts(plan.steps, facts)
      ? await applyAccountChange(ctx, plan.steps, `the change of account ${d.name}`)
      : await apply(ctx, plan.steps)) ?? facts;
  // Judged by sshd after the change: apply's trailing snapshot evaluated this account (reads.jail), so this is cached;
  // with no change, this is the one evaluation.
  const changed = changing(plan.steps).length > 0;
  const judged = await observe(s, needs(d));
  await assertJailed(s, d, facts, judged, changed, adoptedBefore ?? plan.adopted);
  // The jail after the account (its writable directories belong to it); a new home: the old jail goes as onDelete says.
  const chrootState = home ? await convergeChroot(s, label(d.name), home, owner, prev?.home === d.home ? prev.chrootState : undefined) : undefined;
  const old = prev && ownedJail(prev);
  if (old && prev!.chrootState && old.path !== d.home) await removeChroot(s, label(d.name), { ...old, ...prev!.chrootState });
  const u = after.users.find((x) => x.name === d.name)!;
  const n = changing(plan.steps).length;
  const changes = n ? `, changing ${n} thing(s)` : " as it is";
  if (adoptedBefore === undefined && plan.recorded) {
    log.info(`${label(d.name)} on ${s.conn.host}:${s.conn.port}: took back the account (uid ${u.uid}) that sftp-jail created (the host's record says so; this stack's state did not know it)${changes}; destroy deletes it`);
  } else if (adoptedBefore === undefined && plan.adopted) {
    log.info(`${label(d.name)} on ${s.conn.host}:${s.conn.port}: adopted the existing account (uid ${u.uid}), ${whoseIsIt(facts, "u", d.name, owner)}${changes}; destroy keeps it`);
  }
  return { ...d, connection, uidActual: u.uid, defaultShell: after.nologin ?? "", adopted: adoptedBefore ?? plan.adopted, jail: expectedJail(subject(d)), chrootState };
}

export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const d = fields(inputs);
  return { id: `user/${d.name}`, outs: defined(await converge(d, inputs.connection, ownerOf(inputs))) };
}

/** The account as the host has it, expressed as inputs (refresh then shows drift on the field that drifted). */
export function observedInputs(props: JailedUserState, f: HostFacts): Fields | undefined {
  const u = f.users.find((x) => x.name === props.name);
  if (!u) return undefined;
  const primary = f.groups.find((g) => g.gid === u.gid)?.name ?? String(u.gid);
  const keys = f.files[keyFile(props)];
  return {
    name: props.name,
    uid: props.uid !== undefined ? u.uid : undefined,
    group: isMember(f, props.name, props.group) ? props.group : primary,
    extraGroups: props.extraGroups.filter((g) => isMember(f, props.name, g)),
    home: u.home,
    // Compared by what the paths resolve to: an equivalent path on the host is no drift.
    shell:
      props.shell === undefined ? (f.nologin && sameShell(u.shell, f.nologin, f) ? undefined : u.shell) : sameShell(u.shell, props.shell, f) ? props.shell : u.shell,
    // From an adopted file, only lines that are keys (whatever else it holds never reaches state or a preview).
    authorizedKeys: keys === undefined ? [] : props.authorizedKeysFile ? keyLines(keys) : parseKeys(keys),
    keysDir: props.keysDir,
    authorizedKeysFile: props.authorizedKeysFile,
    keyOnly: props.keyOnly ? f.shadow[props.name] === "*" : false,
    allowLoginShell: props.allowLoginShell ?? false,
    reachedFrom: props.reachedFrom ?? [],
    jailOptOut: props.jailOptOut ?? [],
    chroot: observedChroot(props, f),
  };
}

/** The owned jail as the host has it (ChrootDir's view of it, without the path); undefined when it is gone. */
function observedChroot(props: JailedUserState, f: HostFacts): Fields["chroot"] {
  const jail = ownedJail(props);
  if (!jail) return undefined;
  const seen = observedChrootInputs({ ...jail, connection: undefined, createdAncestors: [] }, f) as (Fields["chroot"] & { path?: string; connection?: unknown }) | undefined;
  if (!seen) return undefined;
  const { path: _p, connection: _c, ...rest } = seen;
  return rest;
}

export async function read(id: string, props?: JailedUserState): Promise<pulumi.dynamic.ReadResult> {
  if (!props) throw new Error(`${TYPE} ${id}: cannot read without prior state (import is not supported by dynamic providers)`);
  const s = sessionFor(props.connection, label(props.name));
  const home = ownedJail(props);
  const n = needs(props);
  const facts = await observe(s, { ...n, paths: [...n.paths, ...(home ? chrootPaths(home) : [])] });
  const observed = observedInputs(props, facts);
  if (!observed) return {};
  const jail = observedJail(subject(props), facts);
  const inputs = defined({ ...observed, connection: props.connection, jail });
  return { id, props: defined({ ...props, ...observed, jail }), inputs };
}

export async function update(_id: string, olds: JailedUserState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: defined(await converge(fields(news), news.connection, ownerOf(news), olds.adopted, olds)) };
}

async function remove(_id: string, props: JailedUserState): Promise<void> {
  const s = await sessionForChange(props.connection, label(props.name));
  // No sshd evaluation: deleting the account does not read it (usually the phase's snapshot covers this: no exec).
  const facts = await observe(s, lookNeeds(props));
  const plan = planOrThrow(s, label(props.name), () => planUserDelete(props, props.adopted, facts));
  // The account first (its sessions end with it), then its jail as onDelete says: no one can log in in between, and
  // no open session keeps reading or writing the jail while it is moved away. Unless this run's program declares the
  // jail again (adapters/declared.ts): then it stays.
  await apply({ session: s, resource: label(props.name) }, plan);
  const jail = ownedJail(props);
  if (jail) await removeChroot(s, label(props.name), { ...jail, ...(props.chrootState ?? { createdAncestors: [] }) });
}
export { remove as delete };
