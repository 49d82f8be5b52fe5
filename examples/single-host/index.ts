/**
 * One host, two jailed partners: the admin's hand-made SFTP jail as one declaration.
 *
 *   pulumi config set host 203.0.113.10
 *   pulumi config set hostKey "ssh-ed25519 AAAA..."        # from a trusted channel, e.g. the provider's console
 *   pulumi config set --secret sshKey < ~/.ssh/id_ed25519   # from stdin: never in a command line (ps) or the shell history
 *   pulumi config set --path 'partners.acme' "ssh-ed25519 AAAA... acme@ci"
 *   pulumi up
 */
import * as pulumi from "@pulumi/pulumi";
import { SftpJailHost } from "sftp-jail";

const cfg = new pulumi.Config();
const partners = cfg.requireObject<Record<string, string>>("partners"); // user name -> public key

const host = new SftpJailHost("files", {
  connection: {
    host: cfg.require("host"),
    port: cfg.getNumber("port") ?? 22,
    user: cfg.get("user") ?? "root",
    privateKey: cfg.requireSecret("sshKey"),
    hostKey: cfg.require("hostKey"),
  },
  group: { name: "sftp", gid: 2200 },
  chrootBase: "/srv/sftp",
  users: Object.entries(partners).map(([name, key]) => ({ name, authorizedKeys: [key], writableDirs: ["upload"] })),
  // The admin's opening for the partners, just before the chain's REJECT rule.
  firewall: { port: cfg.getNumber("sftpPort") ?? 22, state: ["NEW"], position: "beforeReject" },
});

export const users = Object.keys(host.users);
