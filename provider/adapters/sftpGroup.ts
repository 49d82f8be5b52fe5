/**
 * SftpGroup adapter: schema + the provider methods, wired to observe → plan → apply. Runs in the dynamic-provider
 * process; the resource class (resources/sftpGroup.ts) only points Pulumi at this module.
 */
import type * as pulumi from "@pulumi/pulumi";
import { observe } from "../observe/snapshot";
import { apply } from "../apply/apply";
import { planGroupCreate, planGroupDelete, planGroupUpdate } from "../plan/sftpGroup";
import { SftpGroupFields, sftpGroupSchema, sftpGroupShape } from "../schema/sftpGroup";
import { log } from "../util/log";
import { ownedBy, whoseIsIt } from "../observe/record";
import { UNKNOWN, checkInputs, containsUnknown, lookHint, ownerOf, parseKnown, planOrThrow, previewLook, sameConnection, sessionFor, sessionForChange, defined } from "./base";

export { sftpGroupShape };
const fieldsSchema = sftpGroupSchema;
type Fields = SftpGroupFields;

/** What state keeps: inputs as normalised, plus what was observed. */
export interface SftpGroupState extends Fields {
  /** How the host is reached (kept encrypted in state). */
  connection: unknown;
  /** The gid the host has. */
  actualGid: number;
  /** True when the group existed before and was adopted (destroy then leaves it on the host). */
  adopted: boolean;
}

export { TYPE } from "../schema/sftpGroup";
import { TYPE } from "../schema/sftpGroup";
const label = (name: string) => `${TYPE} "${name}"`;
const groupId = (name: string) => `group/${name}`;

/** The schema's fields of inputs or state (not the connection, not what was observed). */
const pick = (o: Record<string, unknown>) => Object.fromEntries(Object.keys(sftpGroupShape).map((k) => [k, o[k]]));

function fields(o: Record<string, unknown>): Fields {
  return parseKnown(fieldsSchema, pick(o), label(String(o.name)));
}

export async function check(_olds: unknown, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const { inputs, failures } = checkInputs(sftpGroupShape, news);
  if (failures.length || containsUnknown(inputs)) return { inputs, failures };
  const d = fieldsSchema.safeParse(pick(inputs));
  // The group is a host's first resource a component registers: its look covers what the others will look at.
  if (d.success) failures.push(...(await previewLook(inputs.connection, label(d.data.name), "name", lookHint(inputs), (f) => planGroupUpdate(d.data, f))));
  return { inputs, failures };
}

export async function diff(_id: string, olds: SftpGroupState, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces: string[] = [];
  if (news.name === UNKNOWN || news.name !== olds.name) replaces.push("name");
  const gidChanged = news.gid !== undefined && (news.gid === UNKNOWN || news.gid !== olds.actualGid);
  const connChanged = !sameConnection(olds.connection, news.connection);
  return {
    changes: replaces.length > 0 || gidChanged || connChanged || olds.gid !== news.gid,
    replaces,
    deleteBeforeReplace: false,
  };
}

export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const d = fields(inputs);
  const s = await sessionForChange(inputs.connection, label(d.name));
  const facts = await observe(s);
  // Only what this stack created is taken back; another stack's group is adopted (its creator removes it).
  const plan = planOrThrow(s, label(d.name), () => planGroupCreate(d, ownedBy(facts, ownerOf(inputs))));
  const after = (await apply({ session: s, resource: label(d.name), owner: ownerOf(inputs) }, plan.steps)) ?? facts;
  const g = after.groups.find((x) => x.name === d.name)!;
  const at = `${label(d.name)} on ${s.conn.host}:${s.conn.port}`;
  if (plan.recorded) log.info(`${at}: took back the group (gid ${g.gid}) that sftp-jail created (the host's record says so; this stack's state did not know it); destroy removes it`);
  else if (plan.adopted) log.info(`${at}: adopted the existing group (gid ${g.gid}), ${whoseIsIt(facts, "g", d.name, ownerOf(inputs))}; destroy leaves it`);
  const outs: SftpGroupState = { ...d, connection: inputs.connection, actualGid: g.gid, adopted: plan.adopted };
  return { id: groupId(d.name), outs: defined(outs) };
}

export async function read(id: string, props?: SftpGroupState): Promise<pulumi.dynamic.ReadResult> {
  if (!props) throw new Error(`${TYPE} ${id}: cannot read without prior state (import is not supported by dynamic providers)`);
  const s = sessionFor(props.connection, label(props.name));
  const facts = await observe(s);
  const g = facts.groups.find((x) => x.name === props.name);
  if (!g) return {}; // gone from the host: refresh drops it and the next up recreates it
  const outs: SftpGroupState = { ...props, actualGid: g.gid };
  const inputs = {
    name: props.name,
    // Only a gid the program pinned is an input; an observed gid must not look like a program change.
    ...(props.gid !== undefined ? { gid: g.gid } : {}),
    system: props.system,
    connection: props.connection,
  };
  return { id, props: defined(outs), inputs: defined(inputs) };
}

export async function update(_id: string, olds: SftpGroupState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const d = fields(news);
  const s = await sessionForChange(news.connection, label(d.name));
  const facts = await observe(s);
  const plan = planOrThrow(s, label(d.name), () => planGroupUpdate(d, ownedBy(facts, ownerOf(news))));
  const after = (await apply({ session: s, resource: label(d.name), owner: ownerOf(news) }, plan)) ?? facts;
  const g = after.groups.find((x) => x.name === d.name)!;
  const outs: SftpGroupState = { ...d, connection: news.connection, actualGid: g.gid, adopted: olds.adopted };
  return { outs: defined(outs) };
}

async function remove(_id: string, props: SftpGroupState): Promise<void> {
  // Gated like every delete: a host that fails a precondition has none of its resources deleted either.
  const s = await sessionForChange(props.connection, label(props.name));
  if (props.adopted) return; // it was there before us; leave it
  const facts = await observe(s);
  const plan = planOrThrow(s, label(props.name), () => planGroupDelete(props.name, facts));
  await apply({ session: s, resource: label(props.name) }, plan);
}
export { remove as delete };
