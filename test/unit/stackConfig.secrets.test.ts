/**
 * A connection secret typed into the stack config without --secret sits readable in the stack file: the root program
 * refuses to run with one (program/config.ts readFleet), naming each config path and the command that fixes it.
 * Read through the SDK's own config store, as a real run fills it.
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
