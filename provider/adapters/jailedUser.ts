/**
 * JailedUser adapter: schema + provider methods for one chrooted, key-only SFTP account.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { observe } from "../observe/snapshot";
import { HostFacts, sameShell } from "../observe/facts";
import { apply } from "../apply/apply";
import { DEFAULT_KEYS_DIR, UserDesired, isMember, keyFile, keyLines, parseKeys, planUser, planUserDelete } from "../plan/jailedUser";
import { absPath, jailPath, keysDirPath, posixId, posixName, publicKey } from "../schema/common";
import { checkInputs, containsUnknown, parseKnown, planOrThrow, sameConnection, sessionFor, defined } from "./base";
import { failuresOf } from "../schema/common";
import { log } from "../util/log";

export const TYPE = "JailedUser";

/** The schema: the single source of truth for JailedUser's inputs, defaults and messages. */
export const jailedUserShape = {
  name: posixName("user").refine((n) => n !== "root", { error: "name must not be root: sftp-jail jails accounts, it does not take over the operator's" }),
  uid: posixId("uid").optional(),
  /** The SFTP group (its `Match Group` block jails the user). New users get it as primary group. */
  group: posixName("group"),
  extraGroups: z.array(posixName("group")).default([]),
  /** The user's home = its chroot (root-owned; see ChrootDir). */
  home: jailPath("home"),
  /** Login shell; default: the host's nologin (/usr/sbin/nologin on Debian, /sbin/nologin on RHEL). */
  shell: absPath("shell").optional(),
  /** The exact set of keys allowed to log in. */
  authorizedKeys: z.array(publicKey).max(1000).default([]),
  /** Root-owned directory (outside any jail) holding one key file per user; sshd's AuthorizedKeysFile must name it. */
  keysDir: keysDirPath("keysDir").default(DEFAULT_KEYS_DIR),
  /**
   * Adopt a key file kept elsewhere (e.g. the user's ~/.ssh/authorized_keys inside the jail, where a hand-made jail
   * has it) read-only: authorizedKeys must equal its keys; drift is reported, a change is refused, destroy leaves it.
   */
  authorizedKeysFile: absPath("authorizedKeysFile").optional(),
  /** Keep the shadow password field at "*": key-only, but not locked (so key login works with UsePAM no too). */
  keyOnly: z.boolean().default(true),
};
const fieldsSchema = z.strictObject(jailedUserShape).superRefine((d, ctx) => {
  if (new Set(d.authorizedKeys).size !== d.authorizedKeys.length) {
    ctx.addIssue({ code: "custom", path: ["authorizedKeys"], message: "authorizedKeys lists the same key twice" });
  }
  if (d.extraGroups.includes(d.group)) ctx.addIssue({ code: "custom", path: ["extraGroups"], message: `extraGroups repeats group "${d.group}"` });
  // An adopted key file is read as root on every run: only the places key files live, never any file of the system.
  const f = d.authorizedKeysFile;
  if (f !== undefined && !/\/\.ssh\/authorized_keys2?$/.test(f) && !(f.endsWith(`/${d.name}`) && keysDirPath("").safeParse(f.slice(0, -d.name.length - 1)).success)) {
    ctx.addIssue({
      code: "custom",
      path: ["authorizedKeysFile"],
      message: `authorizedKeysFile must be a user's .ssh/authorized_keys (or authorized_keys2), or <dir>/${d.name} with <dir> a key directory of its own under /etc/ssh/, /etc/sftp-jail/ or /var/lib/sftp-jail/`,
    });
  }
});
type Fields = z.output<typeof fieldsSchema>;

interface Outputs extends Fields {
  connection: unknown;
  uidActual: number;
  /** The shell used when `shell` is not set (the host's nologin). */
  defaultShell: string;
  adopted: boolean;
}

const label = (n: string) => `${TYPE} "${n}"`;
const fields = (o: Record<string, unknown>): Fields =>
  parseKnown(fieldsSchema, Object.fromEntries(Object.keys(jailedUserShape).map((k) => [k, o[k]])), label(String(o.name)));
const needs = (d: Pick<Fields, "keysDir" | "name">) => ({ paths: [d.keysDir], files: [keyFile(d)] });

export async function check(_olds: unknown, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const r = checkInputs(jailedUserShape, news);
  // Cross-field rules too, at preview, once every field is known.
  if (!r.failures.length && !containsUnknown(r.inputs)) {
    const full = fieldsSchema.safeParse(Object.fromEntries(Object.keys(jailedUserShape).map((k) => [k, r.inputs[k]])));
    if (!full.success) r.failures.push(...failuresOf(full.error));
  }
  return r;
}

export async function diff(_id: string, olds: Outputs, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces = ["name", "uid"].filter((k) => news[k] !== undefined && JSON.stringify(news[k]) !== JSON.stringify(olds[k as keyof Outputs]));
  if (news.name !== olds.name && !replaces.includes("name")) replaces.push("name");
  const want: Record<string, unknown> = { ...news, shell: news.shell ?? olds.defaultShell };
  const have: Record<string, unknown> = { ...olds, shell: olds.shell ?? olds.defaultShell };
  const keys = Object.keys(jailedUserShape) as (keyof Fields)[];
  const changed = keys.some((k) => JSON.stringify(want[k]) !== JSON.stringify(have[k]));
  return { changes: changed || replaces.length > 0 || !sameConnection(olds.connection, news.connection), replaces, deleteBeforeReplace: true };
}

async function converge(d: Fields, connection: unknown, adoptedBefore?: boolean): Promise<Outputs> {
  const s = sessionFor(connection, label(d.name));
  const facts = await observe(s, needs(d));
  const plan = planOrThrow(s, label(d.name), () => planUser(d as UserDesired, facts));
  const after = (await apply({ session: s, resource: label(d.name) }, plan.steps)) ?? facts;
  const u = after.users.find((x) => x.name === d.name)!;
  if (adoptedBefore === undefined && plan.adopted) {
    log.info(`${label(d.name)} on ${s.conn.host}:${s.conn.port}: adopted the existing account (uid ${u.uid})${plan.steps.length ? `, changing ${plan.steps.length} thing(s)` : " as it is"}; destroy keeps it`);
  }
  return { ...d, connection, uidActual: u.uid, defaultShell: after.nologin ?? "", adopted: adoptedBefore ?? plan.adopted };
}

export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const d = fields(inputs);
  return { id: `user/${d.name}`, outs: defined(await converge(d, inputs.connection)) };
}

/** The account as the host has it, expressed as inputs (refresh then shows drift on the field that drifted). */
export function observedInputs(props: Outputs, f: HostFacts): Fields | undefined {
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
  };
}

export async function read(id: string, props?: Outputs): Promise<pulumi.dynamic.ReadResult> {
  if (!props) throw new Error(`${TYPE} ${id}: cannot read without prior state (import is not supported by dynamic providers)`);
  const s = sessionFor(props.connection, label(props.name));
  const facts = await observe(s, needs(props));
  const observed = observedInputs(props, facts);
  if (!observed) return {};
  const inputs = defined({ ...observed, connection: props.connection });
  return { id, props: defined({ ...props, ...observed }), inputs };
}

export async function update(_id: string, olds: Outputs, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: defined(await converge(fields(news), news.connection, olds.adopted)) };
}

async function remove(_id: string, props: Outputs): Promise<void> {
  const s = sessionFor(props.connection, label(props.name));
  const facts = await observe(s, needs(props));
  const plan = planOrThrow(s, label(props.name), () => planUserDelete(props, props.adopted, facts));
  await apply({ session: s, resource: label(props.name) }, plan);
}
export { remove as delete };
