/**
 * The root program: converges every host of the fleet described in stack config.
 */
import * as pulumi from "@pulumi/pulumi";
import { SftpGroup } from "sftp-jail";
import { connectionOf, readFleet } from "./config";

const fleet = readFleet();

export const hosts: Record<string, pulumi.Output<number>[]> = {};
for (const h of fleet.hosts) {
  const connection = connectionOf(h);
  hosts[h.name] = fleet.groups.map(
    (g) => new SftpGroup(`${h.name}-${g.name}`, { connection: connection as never, name: g.name, gid: g.gid, system: g.system }).actualGid,
  );
}
