/**
 * Parallel-suite program: many SshdMatchBlocks and JailedUsers on ONE host, so every read-modify-write of shared
 * files (sshd_config and drop-ins, /etc/passwd, /etc/group, /etc/shadow, key files) races under `--parallel`.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { JailedUser, SftpGroup, SshdMatchBlock } from "sftp-jail";

const cfg = new pulumi.Config();
const host = cfg.requireObject<{ port: number; hostKey: string; keyFile: string }>("host");
const blocks = cfg.requireNumber("blocks");
const users = cfg.requireNumber("users");
const round = cfg.requireNumber("round"); // each round changes every block and every user
const keys = cfg.requireObject<string[]>("keys");

const connection = pulumi.secret({
  host: "127.0.0.1",
  port: host.port,
  user: "root",
  privateKey: fs.readFileSync(host.keyFile, "utf8"),
  hostKey: host.hostKey,
});

const group = new SftpGroup("sftp", { connection, name: "sftp", gid: 2700 });
// The group's jail, last in order; users come after it (a JailedUser must be jailed once it exists).
const jail = new SshdMatchBlock("jail", {
  connection,
  name: "jail",
  order: 95,
  match: { Group: ["sftp"] },
  directives: {
    ChrootDirectory: "%h", ForceCommand: "internal-sftp", AllowTcpForwarding: "no", AllowStreamLocalForwarding: "no", AllowAgentForwarding: "no",
    X11Forwarding: "no", PermitTunnel: "no", PermitTTY: "no", GatewayPorts: "no", PermitUserRC: "no", AuthorizedKeysFile: "/etc/ssh/sftp-jail/authorized_keys/%u",
  },
  subsystemInternalSftp: true,
}, { dependsOn: [group] });
for (let i = 0; i < users; i++) {
  new JailedUser(`u${i}`, {
    connection,
    name: `u${i}`,
    group: "sftp",
    home: `/srv/sftp/u${i}`,
    authorizedKeys: [keys[(i + round) % keys.length]],
  }, { dependsOn: [group, jail] });
}
for (let i = 0; i < blocks; i++) {
  new SshdMatchBlock(`b${i}`, {
    connection,
    name: `b${i}`,
    order: 10 + (i % 80),
    match: { User: [`u${i}`] },
    // What changes per round must not loosen the jail (a change that would is refused): the banner.
    directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp", Banner: round % 2 ? "/etc/issue.net" : "/etc/issue" },
    subsystemInternalSftp: true,
  });
}
