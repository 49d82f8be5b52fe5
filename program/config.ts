/**
 * The fleet as stack config, validated with zod so a mistake names its config path before anything connects.
 */
import * as pulumi from "@pulumi/pulumi";
import { Fleet, SftpJailHostArgs, fleetSchema, plaintextMessage, plaintextSecrets } from "sftp-jail";

/** The stack config's schema lives with the component's (one schema for both): provider/schema/stackConfig.ts. */
export { fleetSchema };
export type { Fleet };

export function readFleet(): Fleet {
  const cfg = new pulumi.Config();
  const raw = {
    hosts: cfg.requireObject("hosts"),
    groups: cfg.getObject("groups"),
    jails: cfg.getObject("jails"),
    rollout: cfg.getObject("rollout"),
  };
  const r = fleetSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `sftp-jail:${i.path.join(".")}: ${i.message}`);
    throw new pulumi.RunError(`invalid stack config:\n  ${lines.join("\n  ")}`);
  }
  // Refused before anything connects: a secret typed without --secret sits readable in the stack file.
  const key = `${cfg.name}:hosts`;
  const plain = plaintextSecrets(r.data.hosts, isConfigSecret(key), key);
  if (plain.length) throw new pulumi.RunError(plaintextMessage(plain));
  return r.data;
}

/**
 * Whether Pulumi marked a config key secret (any value in it set with --secret). The SDK's own answer
 * (`runtime.isConfigSecret`, untyped: marked internal); test/unit/stackConfig.secrets.test.ts fails if it goes away.
 */
export function isConfigSecret(key: string): boolean {
  const sdk = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
  if (typeof sdk.isConfigSecret !== "function") throw new pulumi.RunError("internal: this @pulumi/pulumi does not say which config keys are secret");
  return sdk.isConfigSecret(key);
}

/**
 * The resource connection for a host, as configured: each resource keeps the connection's secret fields (a password,
 * a private key, sudo's password; README "State and secrets") encrypted in state whatever the config marked. A
 * privateKeyFile is passed on as a path: the provider reads it.
 */
export function connectionOf(h: Fleet["hosts"][number]): SftpJailHostArgs["connection"] {
  return { ...h.connection };
}

/** A jail of the stack config as SftpJailHost's args: the same schema, but for `hosts` and a user's `keys`. */
export function jailArgs(j: Fleet["jails"][number], connection: SftpJailHostArgs["connection"]): SftpJailHostArgs {
  const { hosts: _hosts, users, ...rest } = j;
  return { ...rest, connection, users: users.map(({ keys, ...u }) => ({ ...u, authorizedKeys: keys })) };
}

/**
 * Splits hosts into waves: the canary wave, then waves of `waveSize` (all remaining hosts in one wave when unset).
 * Pure, so the preview and the tests see the same split.
 */
export function waves<T>(hosts: T[], rollout: Fleet["rollout"]): T[][] {
  const n = hosts.length;
  const canary =
    typeof rollout.canary === "string" ? Math.max(1, Math.ceil((n * Number(rollout.canary.slice(0, -1))) / 100)) : rollout.canary;
  const out: T[][] = [];
  if (canary > 0) out.push(hosts.slice(0, Math.min(canary, n)));
  const rest = hosts.slice(Math.min(canary, n));
  const size = rollout.waveSize ?? Math.max(rest.length, 1);
  for (let i = 0; i < rest.length; i += size) out.push(rest.slice(i, i + size));
  return out;
}
