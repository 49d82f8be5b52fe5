/**
 * e2e program that builds any sftp-jail resource from stack config, so a test can put any value into any field, the
 * connection included: the hostile-input suite (every field attacked, refused at preview), and the MITM, network-fault
 * and secrets suites (valid resources on sandbox hosts).
 *
 * Config:
 * - `sftp-jail:keyFile`: private key file; a connection field `privateKey: "@keyFile"` is replaced by its content,
 *   or by `sftp-jail:privateKey` (secret config) when that is set.
 * - `sftp-jail:resources`: [{ id, type, args, dependsOn? }], `args` complete (connection included); `type` is a
 *   resource class of sftp-jail (or the SftpJailHost component); `dependsOn` names earlier ids. Values go in as
 *   given: the resources' `check` is the judge.
 * - `sftp-jail:privateKeyPassword`, `sftp-jail:sudoPassword` (secret, optional): added to every connection, the way
 *   a program should pass secrets (Pulumi secret config, never plain text).
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ChrootDir, FirewallRule, JailedUser, SftpGroup, SftpJailHost, SshdMatchBlock } from "sftp-jail";

interface ResourceConfig {
  id: string;
  type: "SftpGroup" | "JailedUser" | "ChrootDir" | "SshdMatchBlock" | "FirewallRule" | "SftpJailHost";
  args: Record<string, unknown> & { connection?: Record<string, unknown> };
  dependsOn?: string[];
}

const cfg = new pulumi.Config();
const keyFile = cfg.get("keyFile");
const privateKey = keyFile ? fs.readFileSync(keyFile, "utf8") : undefined;
const privateKeySecret = cfg.getSecret("privateKey");
const privateKeyPassword = cfg.getSecret("privateKeyPassword");
const sudoPassword = cfg.getSecret("sudoPassword");

function connectionOf(c: Record<string, unknown> = {}): pulumi.Input<Record<string, unknown>> {
  const conn: Record<string, pulumi.Input<unknown>> = { ...c };
  if (conn.privateKey === "@keyFile") conn.privateKey = privateKeySecret ?? privateKey;
  if (privateKeyPassword) conn.privateKeyPassword = privateKeyPassword;
  if (sudoPassword) conn.sudo = { password: sudoPassword };
  return conn as pulumi.Input<Record<string, unknown>>;
}

const byId = new Map<string, pulumi.Resource>();

function build(r: ResourceConfig): pulumi.Resource {
  const args = { ...r.args, connection: connectionOf(r.args.connection) } as never;
  const opts = {
    dependsOn: (r.dependsOn ?? []).map((d) => {
      const dep = byId.get(d);
      if (!dep) throw new pulumi.RunError(`sftp-jail:resources: ${r.id} depends on ${d}, which is not listed before it`);
      return dep;
    }),
  };
  switch (r.type) {
    case "SftpGroup":
      return new SftpGroup(r.id, args, opts);
    case "JailedUser":
      return new JailedUser(r.id, args, opts);
    case "ChrootDir":
      return new ChrootDir(r.id, args, opts);
    case "SshdMatchBlock":
      return new SshdMatchBlock(r.id, args, opts);
    case "FirewallRule":
      return new FirewallRule(r.id, args, opts);
    case "SftpJailHost":
      return new SftpJailHost(r.id, args, opts);
    default:
      throw new pulumi.RunError(`sftp-jail:resources: ${(r as ResourceConfig).id} has unknown type ${(r as ResourceConfig).type}`);
  }
}

export const built = cfg.requireObject<ResourceConfig[]>("resources").map((r) => {
  const res = build(r);
  byId.set(r.id, res);
  return res.urn;
});
