/**
 * e2e program for FirewallRule: the rules listed in stack config (`sftp-jail:rules`), each on one of the sandbox hosts
 * in `sftp-jail:hosts`. The test rewrites the config between runs to add, drift and remove rules.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { FirewallRule, FirewallRuleArgs } from "sftp-jail";

interface HostConfig {
  port: number;
  hostKey: string;
}
type RuleConfig = Omit<FirewallRuleArgs, "connection"> & { host: string; id: string };

const cfg = new pulumi.Config();
const hosts = cfg.requireObject<Record<string, HostConfig>>("hosts");
// The resource keeps the whole connection secret in state.
const privateKey = fs.readFileSync(cfg.require("keyFile"), "utf8");
// Short dials: a confirm-or-revert test blocks new logins on purpose, and each failed dial waits this long.
const perDialTimeout = cfg.getNumber("perDialTimeout") ?? 15;

export const rules = cfg.requireObject<RuleConfig[]>("rules").map(({ host, id, ...args }) => {
  const h = hosts[host];
  if (!h) throw new pulumi.RunError(`sftp-jail:rules: rule ${id} names unknown host ${host}`);
  const connection = { host: "127.0.0.1", port: h.port, user: "root", hostKey: h.hostKey, privateKey, perDialTimeout, dialErrorLimit: 3 };
  const r = new FirewallRule(`${host}-${id}`, { connection, name: id, ...args });
  return { id: `${host}/${id}`, rule: r.rule, backend: r.resolvedBackend };
});
