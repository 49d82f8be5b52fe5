/**
 * Lockout-suite program: one risky SshdMatchBlock or FirewallRule from config (sftp-jail:risk) on one host.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { FirewallRule, SshdMatchBlock } from "sftp-jail";

const cfg = new pulumi.Config();
const host = cfg.requireObject<{ port: number; hostKey: string; keyFile: string; revertAfterSeconds?: number }>("host");
const risk = cfg.requireObject<{ kind: "sshd" | "firewall"; name: string; [k: string]: unknown }>("risk");
const connection = pulumi.secret({
  host: "127.0.0.1",
  port: host.port,
  user: "root",
  privateKey: fs.readFileSync(host.keyFile, "utf8"),
  hostKey: host.hostKey,
  revertAfterSeconds: host.revertAfterSeconds ?? 30,
});

if (risk.kind === "sshd") {
  new SshdMatchBlock(risk.name, { connection, name: risk.name, match: risk.match as never, directives: risk.directives as never, subsystemInternalSftp: false });
} else {
  new FirewallRule(risk.name, { connection, ...(risk.rule as object) });
}
