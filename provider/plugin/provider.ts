/**
 * The provider plugin's implementation of `@pulumi/pulumi/provider`'s Provider: every resource method delegates to the
 * resource's adapter (provider/adapters/*.ts), the very module the dynamic resources run. What is added here is only
 * what a real provider has and a dynamic one cannot: secrets on the wire, a provider-level connection (used when a
 * resource gives none, and by `pulumi import`), import itself (importing.ts) and field-level diffs (diff.ts).
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import { SftpJailHost, SftpJailHostKinds } from "../components/sftpJailHost";
import { RESOURCES, byToken, ownerOfUrn, token, typeOfUrn, PluginResource } from "./resources";
import { reveal, seal, secretFields } from "./secrets";
import { detailedDiff, DiffKind } from "./diff";
import { seedFor } from "./importing";
import { connectionSchema } from "../connection/schema";
import { LOOK_KEY, OWNER_KEY } from "../schema/hidden";

/** The package's version, from the nearest package.json above this file that is sftp-jail's (compiled or source). */
function packageVersion(): string {
  for (let d = __dirname; ; d = path.dirname(d)) {
    const f = path.join(d, "package.json");
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, "utf8")) as { name?: string; version: string };
      if (pkg.name === "sftp-jail") return pkg.version;
    }
    if (path.dirname(d) === d) throw new Error(`sftp-jail: no package.json of sftp-jail above ${__dirname}`);
  }
}

export const VERSION = packageVersion();

/** A diff result with the field-level detail main.ts puts on the wire. */
export interface DetailedDiffResult extends provider.DiffResult {
  detailedDiff?: Record<string, DiffKind>;
}

export class SftpJailProvider implements provider.Provider {
  readonly version = VERSION;
  /** The provider configuration's `connection` (stack config `sftpjail:connection`, or an explicit provider's). */
  private connection: unknown;

  constructor(private readonly schemaText: string) {}

  async getSchema(): Promise<string> {
    return this.schemaText;
  }

  /** Called by main.ts with the provider's configuration. */
  configure(config: Record<string, unknown>): void {
    const raw = reveal(config.connection);
    const c = typeof raw === "string" ? parseConnectionConfig(raw) : raw;
    // Normalised as every resource's connection is (defaults filled in), so an imported resource's state equals
    // what check makes of a program that gives no connection. A bad one is kept as is: check then names the field.
    const parsed = c === undefined ? undefined : connectionSchema.safeParse(c);
    this.connection = parsed?.success ? parsed.data : c;
  }

  private resource(urn: string): PluginResource {
    const r = byToken.get(typeOfUrn(urn));
    if (!r) throw new Error(`sftpjail: unknown resource type ${typeOfUrn(urn)}`);
    return r;
  }

  /**
   * The inputs with the provider's connection when the resource gives none, and the stack that manages it, taken from
   * the URN (`urn:pulumi:<stack>::<project>::...`), as the dynamic resource classes set it (resources/dynamic.ts).
   */
  private withConnection(news: Record<string, unknown>, urn?: string): Record<string, unknown> {
    const n = { ...(reveal(news) as Record<string, unknown>) };
    delete n[OWNER_KEY]; // never a program's to set
    // The look hint is SftpJailHost's to set on its own children (their URN's type chain names it), never a program's.
    if (!urn?.split("::")[2]?.includes("sftpjail:index:SftpJailHost$")) delete n[LOOK_KEY];
    if (n.connection === undefined && this.connection !== undefined) n.connection = this.connection;
    const owner = urn ? ownerOfUrn(urn) : undefined;
    if (owner) n[OWNER_KEY] = owner;
    return n;
  }

  async check(urn: string, _olds: unknown, news: Record<string, unknown>): Promise<provider.CheckResult> {
    const r = await this.resource(urn).adapter.check(reveal(_olds), this.withConnection(news, urn));
    return { inputs: seal(r.inputs, secretFields(news)), failures: r.failures?.map(unnamedConnection) };
  }

  async diff(id: string, urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DetailedDiffResult> {
    const res = this.resource(urn);
    const o = reveal(olds) as Record<string, unknown>;
    const n = this.withConnection(news, urn);
    const r = await res.adapter.diff(id, o, n);
    if (!r.changes) return { changes: false };
    return { ...r, detailedDiff: detailedDiff(Object.keys(res.shape), o, n, r.replaces ?? []) };
  }

  async create(urn: string, inputs: Record<string, unknown>): Promise<provider.CreateResult> {
    const r = await this.resource(urn).adapter.create(this.withConnection(inputs, urn));
    return { id: r.id, outs: seal(r.outs, secretFields(inputs)) };
  }

  async read(id: string, urn: string, props?: Record<string, unknown>): Promise<provider.ReadResult> {
    const res = this.resource(urn);
    let state = reveal(props) as Record<string, unknown> | undefined;
    const importing = !state || Object.keys(state).length === 0;
    if (importing) {
      if (this.connection === undefined) {
        throw new Error(
          `${res.type} ${id}: import needs the provider's connection: set it with \`pulumi config set --secret --path sftpjail:connection.host ...\` (or an explicit sftpjail Provider with connection)`,
        );
      }
      state = await seedFor(res.type, id, this.connection, urn);
    }
    const r = await res.adapter.read(id, state);
    if (!r.id && !r.props) return {};
    let inputs = r.inputs as Record<string, unknown> | undefined;
    // Imported through the provider's connection: the program gives none, so the generated code shows none.
    if (importing && inputs) {
      const { connection, ...rest } = inputs;
      inputs = JSON.stringify(connection) === JSON.stringify(this.connection) ? rest : inputs;
    }
    const fields = secretFields(props);
    return { id: r.id ?? id, props: seal(r.props, fields), inputs: seal(inputs, fields) };
  }

  async update(id: string, urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<provider.UpdateResult> {
    const r = await this.resource(urn).adapter.update(id, reveal(olds), this.withConnection(news, urn));
    return { outs: seal(r.outs, secretFields(news)) };
  }

  async delete(id: string, urn: string, props: Record<string, unknown>): Promise<void> {
    await this.resource(urn).adapter.delete(id, this.withConnection(props, urn));
  }

  /** SftpJailHost: the same component class as in TypeScript programs, building this plugin's custom resources. */
  async construct(name: string, type: string, inputs: pulumi.Inputs, options: pulumi.ComponentResourceOptions): Promise<provider.ConstructResult> {
    if (type !== token("SftpJailHost")) throw new Error(`sftpjail: unknown component type ${type}`);
    const host = new SftpJailHost(name, inputs as never, options, PLUGIN_KINDS);
    return { urn: host.urn, state: {} };
  }
}

/**
 * A check failure that names the connection (or a field of it) as its property would have the engine print that
 * property's value, as the program gave it (a password typed into a YAML program, say), in the error: the property
 * goes into the reason instead, which names the field all the same.
 */
export function unnamedConnection(f: provider.CheckFailure): provider.CheckFailure {
  return f.property === "connection" || f.property.startsWith("connection.") ? { property: "", reason: `${f.property}: ${f.reason}` } : f;
}

/** The provider's `connection` given as JSON text; an error never quotes it (Node's JSON errors quote the text). */
function parseConnectionConfig(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error("sftpjail: the provider's connection (sftpjail:connection) is not a JSON object: set it with `pulumi config set --secret --path sftpjail:connection.host ...` (one field at a time)");
  }
}

/** One custom resource class per resource, registered under this package's tokens (served by this plugin). */
function kind(r: PluginResource): new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource {
  return class extends pulumi.CustomResource {
    constructor(name: string, args: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) {
      const outs = Object.fromEntries(Object.keys(r.outputs).map((k) => [k, undefined]));
      const connection = args.connection === undefined ? undefined : pulumi.secret(args.connection);
      super(token(r.type), name, { ...outs, ...args, connection }, { ...opts, additionalSecretOutputs: ["connection"] });
    }
  };
}

export const PLUGIN_KINDS = Object.fromEntries(RESOURCES.map((r) => [r.type, kind(r)])) as unknown as SftpJailHostKinds;
