/**
 * Operator-envelope program: the resources listed in config (sftp-jail:resources) on one host, logging in as
 * sftp-jail:host.user (root, or a sudo user with its sudo password when given).
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ChrootDir, JailedUser, SftpGroup, SshdMatchBlock } from "sftp-jail";

const cfg = new pulumi.Config();
const host = cfg.requireObject<{ port: number; hostKey: string; keyFile: string; user: string; sudoPassword?: string; revertAfterSeconds?: number }>("host");
const resources = cfg.requireObject<Array<{ kind: "group" | "user" | "chroot" | "block"; name: string; args: Record<string, unknown> }>>("resources");
const connection = pulumi.secret({
  host: "127.0.0.1",
  port: host.port,
  user: host.user,
  privateKey: fs.readFileSync(host.keyFile, "utf8"),
  hostKey: host.hostKey,
  revertAfterSeconds: host.revertAfterSeconds ?? 30,
  ...(host.sudoPassword ? { sudo: { password: host.sudoPassword } } : {}),
});

// Match blocks first: a JailedUser must be jailed by sshd right after its change, so users depend on them.
const blocks = resources.filter((r) => r.kind === "block").map((r) => new SshdMatchBlock(r.name, { connection, ...r.args } as never));
for (const r of resources) {
  const args = { connection, ...r.args } as never;
  if (r.kind === "group") new SftpGroup(r.name, args);
  else if (r.kind === "user") new JailedUser(r.name, args, { dependsOn: blocks });
  else if (r.kind === "chroot") new ChrootDir(r.name, args);
}
