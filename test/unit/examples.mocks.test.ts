/**
 * examples/with-command's program run under Pulumi's mocks: the one example whose provider (@pulumi/command's
 * plugin) cannot run on these machines, so test/e2e/examples.test.ts can only type-check and partly preview it. Here
 * the program itself runs: it declares the package install and the jail with ONE connection object.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";

const PROJECT = "sftp-jail-with-command"; // examples/with-command/Pulumi.yaml's name: its config namespace
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M";
const ACME = `${HOST_KEY} acme@ci`;
/** The key Pulumi marks a secret value with, in the inputs a provider (here the mocks) receives. */
const SECRET = pulumi.runtime.specialSigKey;

const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      registered.push({ type: args.type, name: args.name, inputs: args.inputs });
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  PROJECT,
  "dev",
  true,
);
pulumi.runtime.setAllConfig(
  { [`${PROJECT}:host`]: "203.0.113.10", [`${PROJECT}:hostKey`]: HOST_KEY, [`${PROJECT}:sshKey`]: "KEY", [`${PROJECT}:acmeKey`]: ACME },
  [`${PROJECT}:sshKey`],
);

test("examples/with-command declares the package install, then the jail, over the same connection", async () => {
  // The example as written; "sftp-jail" resolves to the installed package (scripts/build.js), as in a user's project.
  require(path.resolve(__dirname, "../../examples/with-command/index.ts"));
  // Registration is asynchronous: wait until the jail's Match block (its last child) is declared.
  for (let i = 0; i < 200 && !registered.some((r) => r.name === "files-match"); i++) await new Promise((r) => setTimeout(r, 10));

  const cmd = registered.find((r) => r.type === "command:remote:Command");
  expect(cmd?.name).toBe("openssh");
  expect(cmd?.inputs.create).toMatch(/apt-get install -y -q openssh-server openssh-sftp-server iptables/);
  const want = { host: "203.0.113.10", port: 22, user: "root", privateKey: "KEY", hostKey: HOST_KEY };
  // The private key is a secret, so each provider receives the whole connection as one secret value; @pulumi/command
  // adds its dial defaults (dialErrorLimit, perDialTimeout).
  expect(cmd?.inputs.connection).toEqual({ [SECRET]: expect.any(String), value: { ...want, dialErrorLimit: 10, perDialTimeout: 15 } });

  const byName = Object.fromEntries(registered.map((r) => [r.name, r]));
  expect(Object.keys(byName).sort()).toEqual(["files", "files-acme", "files-group", "files-match", "openssh"]);
  for (const n of ["files-group", "files-acme", "files-match"]) {
    expect({ n, connection: byName[n].inputs.connection }).toEqual({ n, connection: { [SECRET]: expect.any(String), value: want } });
  }
  expect(byName["files-acme"].inputs.authorizedKeys).toEqual([ACME]);
  // The command comes first: the jail component is declared with dependsOn on it.
  expect(registered.findIndex((r) => r.name === "openssh")).toBeLessThan(registered.findIndex((r) => r.name === "files"));
});
