/**
 * The root program: converges every host of the fleet described in stack config (its format: README, "A program";
 * its schema: provider/schema/stackConfig.ts), in waves: each wave's resources depend on every resource of the wave
 * before, so a failure stops the rollout before the next wave is touched.
 */
import * as pulumi from "@pulumi/pulumi";
import { SftpGroup, SftpJailHost } from "sftp-jail";
import { connectionOf, jailArgs, readFleet, waves } from "./config";
import { lighterPromiseTraces, withoutSourceMaps } from "./traces";

withoutSourceMaps();
lighterPromiseTraces();

const fleet = readFleet();

/** Resource names follow the declared names (stable across reordering and re-waving). */
const resourceSafe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "_");

const plan = waves(fleet.hosts, fleet.rollout);
if (plan.length > 1) {
  plan.forEach((w, i) => pulumi.log.info(`rollout wave ${i}${i === 0 && fleet.rollout.canary ? " (canary)" : ""}: ${w.map((h) => h.name).join(", ")}`));
}

/**
 * The stack's outputs: `rollout` (the waves, by host name) and `hosts` (each host's groups' gids). Built by an async
 * function, the SDK's other program form, so the program can yield once after the first host: until a program's
 * synchronous code ends, none of its registrations leave, and the engine starts the provider process only on the
 * first one. Yielding there lets the provider load while the other hosts are built (issue 10: the drift check's
 * critical path). The resources, their names and order, are as before.
 */
export = async (): Promise<{ rollout: string[][]; hosts: Record<string, pulumi.Output<number>[]> }> => {
  const rollout = plan.map((w) => w.map((h) => h.name));
  const hosts: Record<string, pulumi.Output<number>[]> = {};
  let previousWave: pulumi.Resource[] = [];
  let yielded = false;
  for (const wave of plan) {
    const thisWave: pulumi.Resource[] = [];
    for (const h of wave) {
      const connection = connectionOf(h);
      const opts = { dependsOn: previousWave };
      const groups = fleet.groups.map(
        (g) => new SftpGroup(`${h.name}-${resourceSafe(g.name)}`, { connection, name: g.name, gid: g.gid, system: g.system }, opts),
      );
      hosts[h.name] = groups.map((g) => g.actualGid);
      thisWave.push(...groups);
      for (const j of fleet.jails) {
        const selected = Object.entries(j.hosts ?? {}).every(([k, v]) => h.labels[k] === v);
        if (!selected) continue;
        thisWave.push(new SftpJailHost(`${h.name}-${resourceSafe(j.group.name)}`, jailArgs(j, connection), opts));
      }
      if (!yielded) {
        yielded = true;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    previousWave = thisWave;
  }
  return { rollout, hosts };
};
