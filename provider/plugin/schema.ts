/**
 * The package schema, generated from the zod schemas (types, required fields, defaults, enums, patterns) plus the
 * TSDoc of the TypeScript API (descriptions; extracted by scripts/schema.js). Pure: docs in, schema object out.
 * Written to provider/plugin/schema.json by scripts/schema.js; CI checks that file is up to date.
 */
import { z } from "zod";
import { connectionSchema } from "../connection/schema";
import { jailShape } from "../schema/stackConfig";
import { RESOURCES, PACKAGE, token } from "./resources";

/** Descriptions by interface name, then property name (from the TSDoc of provider/resources and components). */
export type Docs = Record<string, Record<string, string>>;

type Json = Record<string, any>;
interface Prop {
  type?: string;
  $ref?: string;
  items?: Prop;
  additionalProperties?: Prop;
  oneOf?: Prop[];
  description?: string;
  default?: unknown;
  secret?: boolean;
  replaceOnChanges?: boolean;
  willReplaceOnChanges?: boolean;
}

/** Names for nested object types, by "<Owner>.<field>" (the TypeScript API's names where it has one). */
const TYPE_NAMES: Record<string, string> = {
  "Resource.connection": "Connection",
  "Connection.proxy": "ProxyConnection",
  "Connection.sudo": "SudoPassword",
  "SshdMatchBlock.match": "SshdMatchCriteria",
  "ChrootDir.subdirs": "ChrootSubdir",
  "SftpJailHost.group": "SftpJailHostGroup",
  "SftpJailHost.users": "SftpJailUser",
  "SftpJailHost.firewall": "SftpJailFirewall",
  "SftpJailUser.writableDirs": "SftpJailDir",
  "SftpJailUser.chroot": "SftpJailChroot",
  "SftpJailUser.reachedFrom": "SftpJailClient",
};
/** Which TS interface documents a schema type. */
const DOC_SOURCE: Record<string, string> = {
  Connection: "ConnectionArgs",
  ProxyConnection: "ProxyConnectionArgs",
  SshdMatchCriteria: "SshdMatchCriteria",
  ChrootSubdir: "ChrootSubdir",
  SftpJailHostGroup: "jailGroupShape",
  SftpJailChroot: "jailChrootShape",
  SftpJailClient: "jailClientShape",
  SftpJailFirewall: "SftpJailFirewall",
};

const toJson = (s: z.ZodType): Json => z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Json;

class Builder {
  readonly types: Record<string, Json> = {};
  constructor(private readonly docs: Docs) {}

  /** A JSON-schema property as a Pulumi property; nested objects become named types. */
  prop(j: Json, owner: string, field: string, doc?: string): Prop {
    // A nullable value (sshdDirectives' `null`: drop the directive) is its other alternative: Pulumi has no null type.
    const nonNull: Json[] | undefined = (j.anyOf ?? j.oneOf ?? (Array.isArray(j.type) ? j.type.map((x: string) => ({ type: x })) : undefined))?.filter((a: Json) => a.type !== "null");
    if (nonNull?.length === 1) return this.prop({ ...j, anyOf: undefined, oneOf: undefined, ...nonNull[0] }, owner, field, doc);
    const out: Prop = {};
    const t = Array.isArray(j.type) ? undefined : j.type;
    if (j.anyOf || j.oneOf || Array.isArray(j.type)) {
      const alts: Json[] = j.anyOf ?? j.oneOf ?? (j.type as string[]).map((x: string) => ({ ...j, type: x }));
      const mapped = alts.map((a, i) => this.prop(a, owner, alts.length > 1 && a.type === "object" ? field : `${field}${i}`));
      // string|boolean directive values: strings, as sshd_config has them ("yes"/"no").
      const prims = mapped.filter((m) => m.type && m.type !== "object");
      if (mapped.every((m) => m.type === "string" || m.type === "boolean")) out.type = "string";
      else out.oneOf = [...prims, ...mapped.filter((m) => m.$ref)];
    } else if (t === "object" && j.properties) {
      const name = TYPE_NAMES[`${owner}.${field}`] ?? `${owner}${field[0].toUpperCase()}${field.slice(1)}`;
      this.object(name, j, DOC_SOURCE[name] ?? name);
      out.$ref = `#/types/${token(name)}`;
    } else if (t === "object") {
      out.type = "object";
      out.additionalProperties = j.additionalProperties && j.additionalProperties !== true ? this.prop(j.additionalProperties, owner, field) : { type: "string" };
    } else if (t === "array") {
      out.type = "array";
      out.items = this.prop(j.items ?? {}, owner, field);
    } else if (t === "integer" || t === "number" || t === "boolean" || t === "string") {
      out.type = t;
    } else {
      out.$ref = "pulumi.json#/Any";
    }
    const notes: string[] = [];
    if (j.enum) notes.push(`One of: ${j.enum.map((e: unknown) => JSON.stringify(e)).join(", ")}.`);
    if (j.const !== undefined) notes.push(`Must be ${JSON.stringify(j.const)}.`);
    const description = [doc, ...notes].filter(Boolean).join(" ");
    if (description) out.description = description;
    if (j.default !== undefined && out.type && out.type !== "array" && out.type !== "object") out.default = j.default;
    return out;
  }

  object(name: string, j: Json, docsOf: string): void {
    if (this.types[token(name)]) return;
    this.types[token(name)] = {}; // reserve (recursion)
    const properties: Record<string, Prop> = {};
    for (const [k, v] of Object.entries(j.properties ?? {})) properties[k] = this.prop(v as Json, name, k, this.docs[docsOf]?.[k]);
    this.types[token(name)] = { type: "object", properties, ...(j.required?.length ? { required: j.required } : {}) };
  }
}

export function buildSchema(docs: Docs, version: string): Json {
  const b = new Builder(docs);
  const connection = b.prop(toJson(connectionSchema), "Resource", "connection", docs.ConnectionArgs?.["$"] ??
    "How to reach the host; same fields as @pulumi/command's remote.Connection. Always stored encrypted. Optional when the provider is configured with a connection.");
  const connectionProp: Prop = { ...connection, secret: true };
  const resources: Record<string, Json> = {};
  for (const r of RESOURCES) {
    const j = toJson(z.object(r.shape));
    const argsDocs = docs[`${r.type}Args`] ?? {};
    const inputs: Record<string, Prop> = { connection: { ...connectionProp, description: argsDocs.connection ?? connection.description } };
    for (const [k, v] of Object.entries(j.properties as Json)) {
      const p = b.prop(v as Json, r.type, k, argsDocs[k]);
      if (r.replaceOnChanges.includes(k)) p.willReplaceOnChanges = true;
      inputs[k] = p;
    }
    const outputs: Record<string, Prop> = { ...inputs };
    for (const [k, v] of Object.entries(r.outputs)) outputs[k] = { type: v.type, description: v.description };
    resources[token(r.type)] = {
      description: `${docs[r.type]?.["$"] ?? r.type}\n\nImport ID: \`${r.importId}\`.`,
      inputProperties: inputs,
      requiredInputs: (j.required ?? []) as string[],
      properties: outputs,
      required: [...((j.required ?? []) as string[])],
    };
  }
  resources[token("SftpJailHost")] = sftpJailHost(b, docs, connectionProp);
  return {
    name: PACKAGE,
    displayName: "sftp-jail",
    version,
    description: "Chrooted, SFTP-only access on Linux hosts, converged safely over SSH.",
    keywords: ["pulumi", "sftp", "ssh", "chroot", "category/infrastructure"],
    license: "Apache-2.0",
    config: {
      variables: {
        connection: { ...connectionProp, description: "The connection resources use when they give none, and that `pulumi import` uses." },
      },
    },
    provider: {
      description: "The sftpjail provider. Its `connection` is used by resources that give none, and by `pulumi import`.",
      inputProperties: { connection: connectionProp },
      properties: { connection: connectionProp },
    },
    types: b.types,
    resources,
    language: {
      python: { packageName: "pulumi_sftpjail", respectSchemaVersion: true, requires: { pulumi: ">=3.0.0,<4.0.0" } },
      nodejs: { packageName: "@sftp-jail/sftpjail", respectSchemaVersion: true, dependencies: { "@pulumi/pulumi": "^3.0.0" } },
    },
  };
}

/**
 * The component's inputs, from the jail schema its TypeScript Args are derived from (schema/stackConfig.ts `jailShape`,
 * docs from the shapes), plus `connection`. Nested objects become the named types of TYPE_NAMES.
 */
function sftpJailHost(b: Builder, docs: Docs, connection: Prop): Json {
  const d = docs.SftpJailHostArgs ?? {};
  const j = toJson(z.object(jailShape));
  const inputs: Record<string, Prop> = { connection: { ...connection, description: d.connection } };
  for (const [k, v] of Object.entries(j.properties as Json)) inputs[k] = b.prop(v as Json, "SftpJailHost", k, d[k]);
  return {
    isComponent: true,
    description: docs.SftpJailHost?.["$"] ?? "The whole chrooted-SFTP set-up of one host.",
    inputProperties: inputs,
    requiredInputs: (j.required ?? []) as string[],
    properties: {},
  };
}

/** The schema as JSON has it (undefined descriptions dropped). */
export function finish(schema: Json): Json {
  return JSON.parse(JSON.stringify(schema));
}
