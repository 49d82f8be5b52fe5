/**
 * e2e program for SshdMatchBlock: one SftpGroup and the blocks listed in stack config (`sftp-jail:blocks`), on one
 * sandbox host. The test rewrites the config between `pulumi up`s to add, drift and remove blocks.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { SftpGroup, SshdMatchBlock } from "sftp-jail";

interface BlockConfig {
  name: string;
  order?: number;
  match: Record<string, unknown>;
  directives: Record<string, string | boolean>;
  subsystemInternalSftp?: boolean;
}

const cfg = new pulumi.Config();
const connection = {
  host: "127.0.0.1",
  port: cfg.requireNumber("port"),
  user: "root",
  hostKey: cfg.require("hostKey"),
  privateKey: fs.readFileSync(cfg.require("keyFile"), "utf8"),
};

// gid pinned: SftpGroup currently fails with "Unexpected struct type" when gid is omitted (outs carry gid: undefined).
const group = new SftpGroup("sftp", { connection, name: "sftp", gid: 2500 });

export const blocks = cfg.requireObject<BlockConfig[]>("blocks").map((b) => {
  const r = new SshdMatchBlock(b.name, { connection, ...b }, { dependsOn: [group] });
  return { name: r.name, path: r.path };
});
