/**
 * A fleet in waves: a canary host first, then the rest two at a time; each wave waits for the one before, so a
 * failure stops the rollout before it spreads. (The root Pulumi.yaml program does the same from stack config.)
 *
 *   pulumi config set --path 'hosts[0]' '{"name":"fra1","host":"203.0.113.10","hostKey":"ssh-ed25519 AAAA..."}'
 *   pulumi config set --secret sshKey < ~/.ssh/id_ed25519   # from stdin: never in a command line (ps) or the shell history
 */
import * as pulumi from "@pulumi/pulumi";
import { SftpJailHost } from "sftp-jail";

interface Host {
  name: string;
  host: string;
  port?: number;
  hostKey: string;
}

const cfg = new pulumi.Config();
const hosts = cfg.requireObject<Host[]>("hosts");
const sshKey = cfg.requireSecret("sshKey");
const partnerKeys = cfg.getObject<Record<string, string[]>>("partners") ?? {};

const waveSize = 2;
const waves: Host[][] = [hosts.slice(0, 1)];
for (let i = 1; i < hosts.length; i += waveSize) waves.push(hosts.slice(i, i + waveSize));

let previous: pulumi.Resource[] = [];
for (const wave of waves) {
  previous = wave.map(
    (h) =>
      new SftpJailHost(
        h.name,
        {
          connection: { host: h.host, port: h.port ?? 22, user: "root", privateKey: sshKey, hostKey: h.hostKey },
          group: { name: "sftp", gid: 2200 },
          users: Object.entries(partnerKeys).map(([name, keys]) => ({ name, authorizedKeys: keys })),
        },
        { dependsOn: previous },
      ),
  );
}

export const rollout = waves.map((w) => w.map((h) => h.name));
