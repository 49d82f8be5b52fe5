/**
 * The fleet as stack config, validated with zod so a mistake names its config path before anything connects.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

/**
 * A key left with nothing under it (`sshdDirectives:` after the hardening edits remove its lines) reads as null in
 * YAML: it means "none", the same as leaving the key out.
 */
const blank = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema);

const connection = z
  .looseObject({
    host: z.string(),
    port: z.number().int().optional(),
    user: z.string().optional(),
    /** Path of a private key file, read by the provider when it dials (the key never enters Pulumi). */
    privateKeyFile: z.string().optional(),
    hostKey: z.string().optional(),
  });

const jailUser = z.strictObject({
  name: z.string(),
  uid: z.number().int().optional(),
  keys: blank(z.array(z.string()).default([])),
  /** Names (owner: the user, group: the jail's group, 0755), or exact descriptions of hand-made directories. */
  writableDirs: blank(z
    .array(
      z.union([
        z.string(),
        z.strictObject({ path: z.string(), owner: z.string().optional(), group: z.string().optional(), mode: z.string().optional() }),
      ]),
    )
    .optional()),
  /** The chroot (= home): path (default <chrootBase>/<name>), group (default root), mode (default "0755"). */
  chroot: blank(z.strictObject({ path: z.string().optional(), group: z.string().optional(), mode: z.string().optional() }).optional()),
  /** false: leave the password field as it is (default true: "*", key-only). */
  keyOnly: z.boolean().optional(),
  /** Clients the user reaches the jail from ({ address, localAddress?, localPort? }): the jail is proven for each. */
  reachedFrom: z.array(z.strictObject({ address: z.string(), localAddress: z.string().optional(), localPort: z.number().int().optional() })).optional(),
  /** Login shell (default: the host's nologin); compared on the host by what it resolves to. */
  shell: z.string().optional(),
  /** A login shell (not nologin/false) is refused unless this is true. */
  allowLoginShell: z.boolean().optional(),
});

/** A jail rolled out to every host whose labels include all of `hosts` (or to every host when omitted). */
const jail = z.strictObject({
  hosts: blank(z.record(z.string(), z.string()).optional()),
  group: z.strictObject({ name: z.string(), gid: z.number().int().optional() }),
  chrootBase: z.string().optional(),
  fixAncestors: z.boolean().optional(),
  users: blank(z.array(jailUser).default([])),
  /** Overrides of the Match block's directives; null drops a default one (to describe a hand-written block). */
  sshdDirectives: blank(z.record(z.string(), z.string().nullable()).optional()),
  /** Keep Subsystem sftp internal-sftp set while the block exists (default true). */
  subsystemInternalSftp: z.boolean().optional(),
  /** Keys stay where a hand-made jail keeps them (an sshd AuthorizedKeysFile pattern, e.g. .ssh/authorized_keys), read-only. */
  authorizedKeysFile: z.string().optional(),
  onDelete: z.enum(["retain", "delete"]).optional(),
  /** Firewall opening; fields as FirewallRule (port, ports, source, state, position, backend, chain, table, persist). */
  firewall: blank(z.looseObject({}).optional()),
});

export const fleetSchema = z.strictObject({
  hosts: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: "host name: letters, digits, . _ -" }),
        labels: blank(z.record(z.string(), z.string()).default({})),
        connection,
      }),
    )
    .min(1, { error: "list at least one host" }),
  groups: blank(z.array(z.strictObject({ name: z.string(), gid: z.number().int().optional(), system: z.boolean().optional() })).default([])),
  jails: blank(z.array(jail).default([])),
  /** Safe waves: `canary` hosts first (a count, or a percentage like "10%"), then waves of `waveSize` hosts. */
  rollout: z
    .strictObject({
      canary: z.union([z.number().int().min(0), z.string().regex(/^\d{1,3}%$/, { error: 'canary must be a count or a percentage like "10%"' })]).default(0),
      waveSize: z.number().int().min(1, { error: "waveSize must be at least 1" }).optional(),
    })
    .default({ canary: 0 }),
});
export type Fleet = z.output<typeof fleetSchema>;

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
  return r.data;
}

/** The resource connection for a host, kept secret. A privateKeyFile is passed on as a path: the provider reads it. */
export function connectionOf(h: Fleet["hosts"][number]): pulumi.Input<Record<string, unknown>> {
  return pulumi.secret({ ...h.connection });
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
