/**
 * How resource classes hand Pulumi a provider. Pulumi serializes the provider object: code under node_modules is
 * captured as `require("sftp-jail/...")`, anything else by value (zod schemas, sockets and all, which cannot be).
 * So the provider is the adapter *module* itself, which the provider process then requires.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { OWNER_KEY } from "../schema/hidden";
import { programFramesOnly } from "../util/registrationTraces";
import type { z } from "zod";
import type { OptionalKeys, PulumiInputs, PulumiOutputs, ShapeInput } from "../schema/inputs";
import { CONNECTION_SECRETS, type ConnectionInput, type ProxyConnectionInput, type SecretTree } from "../connection/schema";

// Our resources record the program's frames, not this package's and the SDK's (util/registrationTraces.ts).
programFramesOnly();

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
 * An adapter module as a resource class names it: its file (`require.resolve`), and how to load it. The program never
 * loads it where Pulumi's serialized form can be written from the file alone ({@link providerText}): only the provider
 * process runs adapters, and their SSH, snapshot and apply code cost a program ~40 ms of CPU and ~6 MiB for nothing.
 */
export interface AdapterRef {
  file: string;
  load(): AdapterModule;
}

/**
 * The serialized provider for an adapter module loaded from a package under node_modules: a module whose `handler`
 * returns the adapter module, as the dynamic-provider runner evaluates it (require-from-string, then `handler()`,
 * once per text and process). The module is named as Pulumi's closure serializer would name it, by the path after
 * the `node_modules` segment it picks (the first; the last in a pnpm store), so it resolves to the same file
 * (test/unit/dynamic.test.ts evaluates both). Undefined for a file outside node_modules (the serializer would capture
 * the module by value), which then goes through the serializer itself.
 *
 * Why not let the SDK serialize: it parses the closure's source with TypeScript through an inspector session, so
 * the program loaded the TypeScript compiler (~150 ms of CPU and ~40 MiB) before its first resource could register
 * (issue 10: the drift check's critical path). Why not its text either: its wrapper took 300 bytes where this takes
 * ~80, and every resource carries the text twice in state (inputs and outputs), which the file backend rewrites
 * after every step, and in every engine call. Adapters ignore `__provider` in their diffs, so a resource saved with
 * the serializer's text shows no change.
 */
export function providerText(file: string): string | undefined {
  const parts = path.relative(process.cwd(), file).split(path.sep);
  const at = parts.includes(".pnpm") ? parts.lastIndexOf("node_modules") : parts.indexOf("node_modules");
  if (at < 0) return undefined;
  const moduleName = parts.slice(at + 1).join("/");
  return `exports.handler = () => require(${JSON.stringify(moduleName)});\n`;
}

/**
 * `pulumi.dynamic.Resource`, with the adapter's serialized provider computed by {@link providerText} where it can be:
 * the same type token, the same `__provider` input, the same registration; elsewhere the adapter is loaded and the
 * SDK's own serializer used. The provider is the adapter *module* itself: a module's exports serialize as one
 * `require(...)`, where an object of six wrapper functions took ~1.8 KB (issue 10: see providerText).
 */
export abstract class DynamicResource extends pulumi.CustomResource {
  constructor(adapter: AdapterRef, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions | undefined, module: string, type: string) {
    if (props.__provider) throw new Error("A dynamic resource must not define the __provider key");
    props.__provider = providerText(adapter.file) ?? serialized(adapter.load());
    super(`pulumi-nodejs:dynamic/${module}:${type}`, name, props, opts);
  }
}

function serialized(provider: AdapterModule): pulumi.Output<string> {
  return pulumi.output(pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true }).then((f) => (f.containsSecrets ? pulumi.secret(f.text) : f.text)));
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

/**
 * The resource options a resource registers with: its `connection` output is kept encrypted whenever the connection
 * may hold a secret (see {@link secretConnection}); a connection of plain values without a secret field (a host, a
 * user, a pinned public host key, a `privateKeyFile` path) is stored as it is, like @pulumi/command's.
 */
export function withSecretConnection(opts: pulumi.CustomResourceOptions | undefined, c: unknown): pulumi.CustomResourceOptions {
  if (!maySecret(c, CONNECTION_SECRETS)) return { ...opts };
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

/**
 * The connection input as registered: every secret field of the schema (CONNECTION_SECRETS: passwords, private key,
 * its passphrase, sudo's password, the proxy's) a Pulumi secret whatever the caller passed, so each is encrypted in
 * state. A connection, or a nested object of it, given as an Output or a Promise cannot be looked into here: it is
 * made a secret whole. Secrets are encrypted on every state save (the passphrase provider re-encrypts and caches each
 * one per save), so leaving a connection's public fields plain is what keeps a 10-host converge's CLI ~50 MiB
 * smaller (issue 10).
 */
export function secretConnection(c: pulumi.Input<ConnectionArgs>): unknown {
  return sealed(c, CONNECTION_SECRETS);
}

/** A plain object literal (not an Output, a Promise, an array or another class's instance). */
const isPlain = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(v));
/** An Output, a Promise or anything else whose contents are not plain values (primitives are plain). */
const opaque = (v: unknown): boolean => (typeof v === "object" && v !== null && !isPlain(v)) || typeof v === "function";

function sealed(v: unknown, t: SecretTree): unknown {
  if (opaque(v)) return pulumi.secret(v as pulumi.Input<unknown>);
  if (!isPlain(v)) return v; // a primitive where an object belongs (sudo: true), or undefined
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, t[k] === undefined || x === undefined ? x : t[k] === true ? pulumi.secret(x) : sealed(x, t[k] as SecretTree)]),
  );
}

/** Whether a connection may hold a secret: a secret field is set, or some part is an Output/Promise (maybe secret). */
function maySecret(v: unknown, t: SecretTree | undefined): boolean {
  if (opaque(v)) return true;
  if (!isPlain(v)) return false;
  return Object.entries(v).some(([k, x]) => x !== undefined && (t?.[k] === true || maySecret(x, t?.[k] === undefined ? undefined : (t[k] as SecretTree))));
}

/** The Pulumi type token module: resources read as `sftpjail:<Type>` in previews. */
export const MODULE = "sftpjail";

/**
 * A resource's Args, derived from its zod shape: `connection`, then every schema field wrapped in `pulumi.Input`
 * (docs, optionality and types as the shape has them). `Filled` are fields the resource class fills in when the
 * program leaves them out (e.g. `name` from the resource name).
 */
export type ResourceArgs<S extends z.ZodRawShape, Filled extends keyof ShapeInput<S> = never> = {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. Its secret fields (passwords, private key, passphrase) are always stored encrypted. */
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
