/**
 * Ancestors-suite program: the ChrootDirs listed in config (sftp-jail:chroots, in order; `dependsOn` names earlier
 * ones; `onDelete` as given) on one host. A dependency decides destroy order: a chroot is destroyed before the ones it
 * depends on.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ChrootDir } from "sftp-jail";

const cfg = new pulumi.Config();
const host = cfg.requireObject<{ port: number; hostKey: string; keyFile: string }>("host");
const chroots = cfg.requireObject<Array<{ name: string; path: string; dependsOn?: string[]; onDelete?: "retain" | "delete" }>>("chroots");
const connection = pulumi.secret({
  host: "127.0.0.1",
  port: host.port,
  user: "root",
  privateKey: fs.readFileSync(host.keyFile, "utf8"),
  hostKey: host.hostKey,
});

const made = new Map<string, ChrootDir>();
for (const c of chroots) {
  made.set(c.name, new ChrootDir(c.name, { connection, path: c.path, onDelete: c.onDelete }, { dependsOn: (c.dependsOn ?? []).map((n) => made.get(n)!) }));
}
