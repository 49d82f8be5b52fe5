/**
 * Output of sftp-jail-migrate's one exec (`migrateScript()`: the provider's snapshot + migrate's survey, with
 * rssh.conf), captured from real sandbox hosts set up by hand with test/e2e/handmade.ts (unchanged but for the rssh
 * section, moved into the survey when it left the snapshot: fixtures/README.md):
 * - `adopt-hand.migrate.txt`: handMadeJail(alice, bob) — the admin's jail: the Match block appended to sshd_config,
 *   keys in ~/.ssh, root:<user> 0750 homes, an iptables ACCEPT for 22 before a REJECT;
 * - `adopt-rssh.migrate.txt`: rsshLeftovers(carol, dave) — /etc/rssh.conf, the block in a drop-in, Debian's
 *   Subsystem line, an ACCEPT limited to 127.0.0.0/8 + NEW before a DROP.
 *
 * Re-capture (as root): `npm run sandbox -- up cap1 cap2`; run the two scripts on the hosts' consoles; then
 *   node -e 'process.stdout.write(require("./bin/provider/cli/migrate").migrateScript())' > /tmp/probe.sh
 *   npm run sandbox -- console cap1 sh < /tmp/probe.sh > test/unit/fixtures/adopt-hand.migrate.txt   (cap2: adopt-rssh)
 */
import * as fs from "fs";
import * as path from "path";
import { HostReading, parseReading } from "../../provider/cli/migrate";

export function reading(name: "hand" | "rssh"): HostReading {
  return parseReading(fs.readFileSync(path.join(__dirname, "fixtures", `adopt-${name}.migrate.txt`), "utf8"));
}
