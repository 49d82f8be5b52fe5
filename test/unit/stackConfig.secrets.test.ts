/**
 * A connection secret typed into the stack config without --secret sits readable in the stack file: the root program
 * refuses to run with one (program/config.ts readFleet, read through the SDK's own config store, as a real run fills
 * it), and so does the provider plugin with its `sftpjail:connection` (provider/plugin/secrets.ts), each naming the
 * config paths and the command that fixes them, never the values; the plugin's failures print no connection value.
 */
import * as pulumi from "@pulumi/pulumi";
import { readFleet } from "../../program/config";
import { plaintextSecrets } from "../../provider/schema/stackConfig";

/** The key the root program reads: `<project>:hosts` (the root project is sftp-jail; here the SDK's default project). */
const HOSTS = `${new pulumi.Config().name}:hosts`;
const base = (port: number) => ({ host: "127.0.0.1", port, user: "root", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDVVuNZbMoOMqyN6h8e6f4dsGjZBBPA4xqs8oyZ88Vhy" });
const hosts = [
  { name: "a", connection: { ...base(22), privateKeyFile: "/keys/a" } },
  { name: "b", connection: { ...base(23), user: "ops", password: "pw-b", sudo: { password: "sudo-b" } } },
  { name: "c", connection: { ...base(24), privateKey: "KEY-c", privateKeyPassword: "pp-c", proxy: { host: "10.0.0.1", privateKey: "KEY-proxy" } } },
];

function configure(value: unknown, secretKeys: string[]): void {
  pulumi.runtime.setAllConfig({ [HOSTS]: JSON.stringify(value) }, secretKeys);
}

test("every secret field a host sets is named by its config path, public fields never", () => {
  expect(plaintextSecrets(hosts, false)).toEqual([
    "sftp-jail:hosts[1].connection.password",
    "sftp-jail:hosts[1].connection.sudo.password",
    "sftp-jail:hosts[2].connection.privateKey",
    "sftp-jail:hosts[2].connection.privateKeyPassword",
    "sftp-jail:hosts[2].connection.proxy.privateKey",
  ]);
  const publicOnly = [hosts[0], { name: "d", connection: { ...base(25), sudo: true, agentSocketPath: "/run/agent" } }];
  expect(plaintextSecrets(publicOnly, false)).toEqual([]);
  // Pulumi marks the whole key once any value in it is a secret, and does not say which: nothing to report then.
  expect(plaintextSecrets(hosts, true)).toEqual([]);
});

test("the root program refuses plain-text secrets in its stack config, naming each path and the command to fix it", () => {
  configure(hosts, []);
  let err: unknown;
  try {
    readFleet();
  } catch (e) {
    err = e;
  }
  expect(pulumi.RunError.isInstance(err)).toBe(true);
  const msg = (err as Error).message;
  expect(msg.startsWith(`the stack config holds 5 secrets in plain text: ${HOSTS}[1].connection.password, `)).toBe(true);
  expect(msg).toContain(`pulumi config set --path --secret '${HOSTS}[2].connection.proxy.privateKey'`);
  expect(msg).toContain("Nothing was changed");
  // The error names where the secrets are, never what they are.
  for (const v of ["pw-b", "sudo-b", "KEY-c", "pp-c", "KEY-proxy"]) expect(msg).not.toContain(v);

  configure([hosts[1]], []);
  expect(() => readFleet()).toThrow(`holds 2 secrets in plain text: ${HOSTS}[0].connection.password, ${HOSTS}[0].connection.sudo.password.`);
});

test("it runs when the secrets are Pulumi secrets, or when the hosts hold none", () => {
  // The SDK's answer the check rests on (untyped, marked internal): an SDK without it fails here, not silently.
  expect(typeof (pulumi.runtime as unknown as { isConfigSecret?: unknown }).isConfigSecret).toBe("function");
  configure(hosts, [HOSTS]);
  expect(readFleet().hosts.map((h) => h.name)).toEqual(["a", "b", "c"]);
  configure([hosts[0]], []);
  expect(readFleet().hosts.map((h) => h.name)).toEqual(["a"]);
});

describe("the provider plugin's own stack config (sftpjail:connection)", () => {
  const { plaintextConfigSecrets, secret } = require("../../provider/plugin/secrets");
  const urn = (name: string) => `urn:pulumi:dev::proj::pulumi:providers:sftpjail::${name}`;
  const conn = { host: "10.0.0.5", user: "ops", password: "pw", sudo: { password: "sudo-pw" }, privateKeyFile: "/k" };

  test("a default provider's connection with secrets set without --secret is named field by field, as object or JSON text", () => {
    const want = ["sftpjail:connection.password", "sftpjail:connection.sudo.password"];
    expect(plaintextConfigSecrets(urn("default"), { connection: conn })).toEqual(want);
    expect(plaintextConfigSecrets(urn("default_0_4_0"), { connection: JSON.stringify(conn) })).toEqual(want);
  });

  test("nothing when the key is a Pulumi secret, holds no secret field, or the provider is a program's own", () => {
    expect(plaintextConfigSecrets(urn("default"), { connection: secret(conn) })).toEqual([]);
    expect(plaintextConfigSecrets(urn("default"), { connection: { host: "h", privateKeyFile: "/k" } })).toEqual([]);
    expect(plaintextConfigSecrets(urn("explicit"), { connection: conn })).toEqual([]);
    expect(plaintextConfigSecrets(urn("default"), {})).toEqual([]);
    expect(plaintextConfigSecrets(urn("default"), { connection: "not json" })).toEqual([]);
  });
});

test("the plugin's check failures about the connection name the field in the reason, so the engine prints no value", () => {
  const { unnamedConnection } = require("../../provider/plugin/provider");
  expect(unnamedConnection({ property: "connection", reason: "HOST KEY MISMATCH" })).toEqual({ property: "", reason: "connection: HOST KEY MISMATCH" });
  expect(unnamedConnection({ property: "connection.port", reason: "must be 1-65535" })).toEqual({ property: "", reason: "connection.port: must be 1-65535" });
  expect(unnamedConnection({ property: "name", reason: "bad" })).toEqual({ property: "name", reason: "bad" });
  expect(unnamedConnection({ property: "connections", reason: "x" })).toEqual({ property: "connections", reason: "x" });
});
