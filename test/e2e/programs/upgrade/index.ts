/**
 * Upgrade-suite program: one jailed user on one host, in either shape a stack can have. `split`: the account and its
 * jail as two resources (a JailedUser and a ChrootDir named `<user>-chroot`, what SftpJailHost declared before it gave
 * each user one resource); `owned`: one JailedUser that owns its jail (`chroot`), what SftpJailHost declares now.
 * `user` names the account (a rename replaces it; the home stays `home`).
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ChrootDir, JailedUser, SftpGroup, SshdMatchBlock, jailDirectives } from "sftp-jail";

const cfg = new pulumi.Config();
const host = cfg.requireObject<{ port: number; hostKey: string; keyFile: string }>("host");
const shape = cfg.require("shape") as "split" | "owned";
const user = cfg.get("user") ?? "alice";
const key = cfg.require("key");
const onDelete = (cfg.get("onDelete") ?? "retain") as "retain" | "delete";
const home = cfg.get("home") ?? "/srv/sftp/alice";
const connection = pulumi.secret({ host: "127.0.0.1", port: host.port, user: "root", privateKey: fs.readFileSync(host.keyFile, "utf8"), hostKey: host.hostKey });

const group = new SftpGroup("group", { connection, name: "sftp", gid: 2450 });
const match = new SshdMatchBlock(
  "match",
  { connection, name: "group-sftp", match: { Group: ["sftp"] }, directives: jailDirectives("/etc/ssh/sftp-jail/authorized_keys") },
  { dependsOn: [group] },
);
const subdirs = [{ path: "upload", owner: user, group: "sftp", mode: "0755" }];
const account = new JailedUser(
  "alice",
  { connection, name: user, group: "sftp", home, authorizedKeys: [key], ...(shape === "owned" ? { chroot: { subdirs, onDelete } } : {}) },
  { dependsOn: [group, match] },
);
if (shape === "split") new ChrootDir("alice-chroot", { connection, path: home, subdirs, onDelete }, { dependsOn: [account] });
