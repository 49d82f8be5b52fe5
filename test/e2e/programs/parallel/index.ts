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
for (let i = 0; i < users; i++) {
  new JailedUser(`u${i}`, {
    connection,
    name: `u${i}`,
    group: "sftp",
    home: `/srv/sftp/u${i}`,
    authorizedKeys: [keys[(i + round) % keys.length]],
  }, { dependsOn: [group] });
}
for (let i = 0; i < blocks; i++) {
  new SshdMatchBlock(`b${i}`, {
    connection,
    name: `b${i}`,
    order: 10 + (i % 80),
    match: { User: [`u${i}`] },
    directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp", X11Forwarding: round % 2 ? "yes" : "no" },
    subsystemInternalSftp: true,
  });
}
