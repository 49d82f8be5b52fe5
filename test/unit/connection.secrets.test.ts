/**
 * Which connection fields are secrets, decided once in the schema (provider/connection/schema.ts `secret(...)`), and
 * what the resource classes register from that (provider/resources/dynamic.ts): each secret field a Pulumi secret, a
 * connection that may hold one kept encrypted in outputs too, and a connection of plain public values left readable.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { CONNECTION_SECRETS, connectionSchema, secretsOf } from "../../provider/connection/schema";
import { secretConnection, withSecretConnection } from "../../provider/resources/dynamic";

/** Every leaf field of a JSON schema, dotted, through nested objects and union alternatives. */
function leaves(j: Record<string, any>, at = ""): string[] {
  const out = new Set<string>();
  for (const alt of [j, ...(j.anyOf ?? []), ...(j.oneOf ?? [])]) {
    for (const [k, v] of Object.entries<Record<string, any>>(alt.properties ?? {})) {
      // A leaf when one of its alternatives is not an object (sudo: a boolean, or an object with a password).
      if ([v, ...(v.anyOf ?? []), ...(v.oneOf ?? [])].some((x) => !x.properties && !x.anyOf && !x.oneOf)) out.add(at + k);
      leaves(v, `${at}${k}.`).forEach((f) => out.add(f));
    }
  }
  return [...out].sort();
}

/** The fields reviewed as not secret: a new connection field fails here until someone decides which it is. */
const PUBLIC = [
  "agentSocketPath", "dangerouslyTrustAnyHostKey", "dialErrorLimit", "host", "hostKey", "knownHostsFile", "perDialTimeout", "port",
  "privateKeyFile", "revertAfterSeconds", "sudo", "user",
  ...["agentSocketPath", "dialErrorLimit", "host", "hostKey", "perDialTimeout", "port", "privateKeyFile", "user"].map((f) => `proxy.${f}`),
];
const SECRET = ["password", "privateKey", "privateKeyPassword", "proxy.password", "proxy.privateKey", "proxy.privateKeyPassword", "sudo.password"];

const paths = (t: object, at = ""): string[] =>
  Object.entries(t).flatMap(([k, v]) => (v === true ? [at + k] : paths(v, `${at}${k}.`))).sort();

test("the schema marks exactly the secret fields; every other field is reviewed as public", () => {
  expect(paths(CONNECTION_SECRETS)).toEqual(SECRET);
  const all = leaves(z.toJSONSchema(connectionSchema, { io: "input", unrepresentable: "any" }) as Record<string, any>);
  expect(all.filter((f) => !SECRET.includes(f))).toEqual([...PUBLIC].sort());
});

test("secretsOf finds every secret field that is set, nested ones too", () => {
  const c = {
    host: "h", password: "p1", privateKey: "k1", privateKeyPassword: "pp1", sudo: { password: "s1" },
    proxy: { host: "b", password: "p2", privateKey: "k2", privateKeyPassword: "pp2" },
  };
  expect(secretsOf(c as never).sort()).toEqual(["k1", "k2", "p1", "p2", "pp1", "pp2", "s1"]);
  expect(secretsOf({ host: "h", sudo: true, privateKeyFile: "/k" } as never)).toEqual([]);
  expect(secretsOf(undefined)).toEqual([]);
});

const secretOf = (o: pulumi.Output<unknown>) => (o as unknown as { isSecret: Promise<boolean> }).isSecret;
const valueOf = (o: pulumi.Output<unknown>) => new Promise((resolve) => o.apply(resolve));

describe("secretConnection", () => {
  test("each secret field becomes a Pulumi secret with its value; public fields stay plain values", async () => {
    const sealed = secretConnection({
      host: "h", port: 22, user: "ops", hostKey: "ssh-ed25519 AAAA", privateKey: "KEY", privateKeyPassword: "PP",
      sudo: { password: "SUDO" }, proxy: { host: "b", password: "PW", privateKeyFile: "/k" },
    }) as Record<string, any>;
    expect({ host: sealed.host, port: sealed.port, user: sealed.user, hostKey: sealed.hostKey, proxyHost: sealed.proxy.host, proxyFile: sealed.proxy.privateKeyFile }).toEqual({
      host: "h", port: 22, user: "ops", hostKey: "ssh-ed25519 AAAA", proxyHost: "b", proxyFile: "/k",
    });
    for (const [o, v] of [[sealed.privateKey, "KEY"], [sealed.privateKeyPassword, "PP"], [sealed.sudo.password, "SUDO"], [sealed.proxy.password, "PW"]] as const) {
      expect(pulumi.Output.isInstance(o)).toBe(true);
      expect(await secretOf(o)).toBe(true);
      expect(await valueOf(o)).toBe(v);
    }
  });

  test("a secret the program already made secret stays one; sudo: true stays a boolean", async () => {
    const sealed = secretConnection({ host: "h", password: pulumi.secret("PW"), sudo: true } as never) as Record<string, any>;
    expect(await secretOf(sealed.password)).toBe(true);
    expect(await valueOf(sealed.password)).toBe("PW");
    expect(sealed.sudo).toBe(true);
  });

  test("a connection (or its proxy, or sudo) given as an Output or a Promise is made a secret whole", async () => {
    for (const c of [pulumi.output({ host: "h", password: "PW" }), Promise.resolve({ host: "h", password: "PW" })]) {
      const sealed = secretConnection(c as never) as pulumi.Output<unknown>;
      expect(await secretOf(sealed)).toBe(true);
      expect(await valueOf(sealed)).toEqual({ host: "h", password: "PW" });
    }
    const nested = secretConnection({ host: "h", proxy: pulumi.output({ host: "b", password: "PW" }), sudo: pulumi.output({ password: "S" }) } as never) as Record<string, any>;
    expect(await secretOf(nested.proxy)).toBe(true);
    expect(await secretOf(nested.sudo)).toBe(true);
    expect(nested.host).toBe("h");
  });
});

describe("withSecretConnection: the connection output is encrypted whenever the connection may hold a secret", () => {
  const aso = (c: unknown, opts?: pulumi.CustomResourceOptions) => withSecretConnection(opts, c).additionalSecretOutputs ?? [];

  test("plain public values only: the output stays readable (no encryption per state save)", () => {
    expect(aso({ host: "h", port: 22, user: "root", privateKeyFile: "/k", hostKey: "ssh-ed25519 AAAA", sudo: true })).toEqual([]);
    expect(aso({ host: "h", proxy: { host: "b", agentSocketPath: "/s" } })).toEqual([]);
    expect(aso({ host: "h" }, { additionalSecretOutputs: ["other"] })).toEqual(["other"]);
  });

  test("a secret field, anywhere, or any Output/Promise (it may be secret): encrypted", () => {
    for (const c of [
      { host: "h", password: "x" },
      { host: "h", privateKey: "x" },
      { host: "h", privateKeyPassword: "x" },
      { host: "h", sudo: { password: "x" } },
      { host: "h", proxy: { host: "b", privateKey: "x" } },
      { host: pulumi.output("h") },
      { host: "h", port: Promise.resolve(22) },
      { host: "h", proxy: { host: pulumi.secret("b") } },
      pulumi.output({ host: "h" }),
    ]) {
      expect(aso(c, { additionalSecretOutputs: ["other"] })).toEqual(["other", "connection"]);
    }
  });
});
