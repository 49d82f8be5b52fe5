/**
 * The root program: converges every host of the fleet described in stack config.
 */
import * as pulumi from "@pulumi/pulumi";
import { SftpGroup } from "sftp-jail";
import { connectionOf, readFleet } from "./config";

const fleet = readFleet();

/** Resource names follow the declared names (stable across reordering); odd characters are left to the schema to refuse. */
const resourceSafe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "_");

export const hosts: Record<string, pulumi.Output<number>[]> = {};
for (const h of fleet.hosts) {
  const connection = connectionOf(h);
  hosts[h.name] = fleet.groups.map(
    (g) => new SftpGroup(`${h.name}-${resourceSafe(g.name)}`, { connection: connection as never, name: g.name, gid: g.gid, system: g.system }).actualGid,
  );
}
