/**
 * @pulumi/command and sftp-jail side by side, sharing ONE connection object: `remote.Command` installs the SSH server
 * and sftp-server on a bare host first, then the jail is declared on top of it.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { SftpJailHost } from "sftp-jail";

const cfg = new pulumi.Config();

// remote.Connection's shape is sftp-jail's connection input: the same object serves both providers.
const connection: command.types.input.remote.ConnectionArgs = {
  host: cfg.require("host"),
  port: 22,
  user: "root",
  privateKey: cfg.requireSecret("sshKey"),
  hostKey: cfg.require("hostKey"),
};

const packages = new command.remote.Command("openssh", {
  connection,
  create: "DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server openssh-sftp-server iptables",
});

new SftpJailHost(
  "files",
  {
    connection,
    group: { name: "sftp" },
    users: [{ name: "acme", authorizedKeys: [cfg.require("acmeKey")] }],
  },
  { dependsOn: [packages] },
);
