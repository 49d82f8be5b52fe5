/**
 * The fleet as stack config, validated with zod so a mistake names its config path before anything connects.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

const connection = z
  .looseObject({
    host: z.string(),
    port: z.number().int().optional(),
    user: z.string().optional(),
    /** Path of a private key file; read here and passed on as a secret. */
    privateKeyFile: z.string().optional(),
    hostKey: z.string().optional(),
  });

const fleetSchema = z.strictObject({
  hosts: z
    .array(z.strictObject({ name: z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: "host name: letters, digits, . _ -" }), connection }))
    .min(1, { error: "list at least one host" }),
  groups: z.array(z.strictObject({ name: z.string(), gid: z.number().int().optional(), system: z.boolean().optional() })).default([]),
});
export type Fleet = z.output<typeof fleetSchema>;

export function readFleet(): Fleet {
  const cfg = new pulumi.Config();
  const raw = { hosts: cfg.requireObject("hosts"), groups: cfg.getObject("groups") };
  const r = fleetSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `sftp-jail:${i.path.join(".")}: ${i.message}`);
    throw new pulumi.RunError(`invalid stack config:\n  ${lines.join("\n  ")}`);
  }
  return r.data;
}

/** The resource connection for a host: the key file is read and kept secret. */
export function connectionOf(h: Fleet["hosts"][number]): pulumi.Input<Record<string, unknown>> {
  const { privateKeyFile, ...rest } = h.connection;
  const c: Record<string, unknown> = { ...rest };
  if (privateKeyFile) c.privateKey = fs.readFileSync(privateKeyFile, "utf8");
  return pulumi.secret(c);
}
