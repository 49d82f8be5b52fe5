/**
 * Host facts captured from a real sandbox host (Debian 12): the raw snapshot output is stored as is and parsed by the
 * same parser the provider uses. Re-capture with `npm run sandbox -- console <host> sh -c "$(node -e ...)"` — see
 * test/unit/fixtures/README.md.
 */
import * as fs from "fs";
import * as path from "path";
import { HostFacts } from "../../provider/observe/facts";
import { parseSnapshot } from "../../provider/observe/snapshot";

export function captured(name: string): string {
  return fs.readFileSync(path.join(__dirname, "fixtures", `${name}.snapshot.txt`), "utf8");
}

/** Debian 12 facts, with extra groups/users appended (tests describe only what they add). */
export function debian12(extra: Partial<Pick<HostFacts, "groups" | "users">> = {}): HostFacts {
  const f = parseSnapshot(captured("debian12"));
  f.groups.push(...(extra.groups ?? []));
  f.users.push(...(extra.users ?? []));
  return f;
}
