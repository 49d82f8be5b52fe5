/**
 * How resource classes hand Pulumi a provider. Pulumi serializes the provider object: code under node_modules is
 * captured as `require("sftp-jail/...")`, anything else by value (zod schemas, sockets and all, which cannot be).
 * So the provider is the adapter *module* itself, which the provider process then requires.
 */
import * as pulumi from "@pulumi/pulumi";
import { OWNER_KEY } from "../adapters/base";
import type { z } from "zod";
import type { OptionalKeys, PulumiInputs, PulumiOutputs, ShapeInput } from "../schema/inputs";
import type { ConnectionInput, ProxyConnectionInput } from "../connection/schema";

/** The methods an adapter module exports. */
export interface AdapterModule {
  check(olds: any, news: any): Promise<pulumi.dynamic.CheckResult>;
  diff(id: string, olds: any, news: any): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: any): Promise<pulumi.dynamic.CreateResult>;
  read(id: string, props?: any): Promise<pulumi.dynamic.ReadResult>;
  update(id: string, olds: any, news: any): Promise<pulumi.dynamic.UpdateResult>;
  delete(id: string, props: any): Promise<void>;
}

/**
 * The provider Pulumi serializes for an adapter is the adapter module itself: a module's exports serialize as one
 * `require("sftp-jail/bin/provider/adapters/<name>.js")` (~290 bytes), where an object of six wrapper functions took
 * ~1.8 KB. Every resource carries it twice in state (inputs and outputs) and in every engine call, and the file
 * backend rewrites the whole state after each step: that was ~40% of a 240-resource state (issue 10).
 */
export function dynamicProvider(m: AdapterModule): pulumi.dynamic.ResourceProvider {
  return m;
}

// The connection's Args are derived from its schema (provider/connection/schema.ts, where each field's doc is written):
// every field a Pulumi input, nested ones too (`proxy`, `sudo`).

/** A bastion, as in @pulumi/command's `remote.ProxyConnection`. */
export interface ProxyConnectionArgs extends PulumiInputs<ProxyConnectionInput> {}

/**
 * How to reach a host: @pulumi/command's `remote.Connection` fields (so one object can serve both providers), plus
 * sftp-jail's own. Validated by the connection schema (provider/connection/schema.ts) at preview.
 */
export interface ConnectionArgs extends PulumiInputs<ConnectionInput> {}

/** Resource options every sftp-jail resource gets: the connection is always kept encrypted in state. */
export function withSecretConnection(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] };
}

/**
 * The hidden input naming the stack that manages a resource (adapters/base.ts OWNER_KEY). An SshdMatchBlock writes it
 * in its block's header (another stack's block of the same name is refused); every resource stamps it on what the
 * host's record says it created, so a stack takes back only its own objects after a lost checkpoint.
 */
export function stackIdentity(): Record<string, string> {
  return { [OWNER_KEY]: `${pulumi.getProject()}/${pulumi.getStack()}` };
}

/** Wraps the connection input so it is a secret in state, whatever the caller passed. */
export function secretConnection(c: pulumi.Input<ConnectionArgs>): pulumi.Output<unknown> {
  return pulumi.secret(pulumi.output(c));
}

/** The Pulumi type token module: resources read as `sftpjail:<Type>` in previews. */
export const MODULE = "sftpjail";

/**
 * A resource's Args, derived from its zod shape: `connection`, then every schema field wrapped in `pulumi.Input`
 * (docs, optionality and types as the shape has them). `Filled` are fields the resource class fills in when the
 * program leaves them out (e.g. `name` from the resource name).
 */
export type ResourceArgs<S extends z.ZodRawShape, Filled extends keyof ShapeInput<S> = never> = {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. Always stored encrypted. */
  readonly connection: pulumi.Input<ConnectionArgs>;
} & PulumiInputs<OptionalKeys<ShapeInput<S>, Filled>>;

/** A resource's outputs, derived from what its adapter keeps in state (schema fields + what was observed). */
export type ResourceOutputs<State, Hidden extends keyof State = never> = PulumiOutputs<Omit<State, "connection" | Hidden>>;

/**
 * The properties a resource class registers: every schema field and state field as an output (undefined until the
 * provider answers; an undefined input is not sent), then the program's args over them. So each output the class
 * declares exists at run time, whether or not the program set it.
 */
export function outputProps(shape: z.ZodRawShape, state: readonly string[], args: object): Record<string, unknown> {
  return { ...Object.fromEntries([...Object.keys(shape), ...state].map((k) => [k, undefined])), ...args };
}
