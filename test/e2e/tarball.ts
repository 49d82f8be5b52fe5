/**
 * The package as users install it: the `npm pack` tarball of the repo, made once per build and reused by every test
 * (and every jest run) until the compiled provider or package.json changes.
 */
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");
/** Tarballs by content key; outside the repo so no test run leaves one there. */
const CACHE = path.join(os.tmpdir(), "sftp-jail-pack");

/** Packs the repo into `dest` (which must exist) and returns the tarball's path. Runs no npm scripts: the caller has
 * built (scripts/build.js, which `prepack` runs for a plain `npm pack`). */
export async function packInto(dest: string): Promise<string> {
  const { stdout } = await exec("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dest], { cwd: ROOT });
  const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
  return path.join(dest, filename);
}

/** Hash of what `npm pack` ships: package.json and the compiled provider (bin/provider, from scripts/build.js). */
function contentKey(): string {
  const h = crypto.createHash("sha256").update(fs.readFileSync(path.join(ROOT, "package.json")));
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(path.relative(ROOT, p)).update("\0").update(fs.readFileSync(p)).update("\0");
    }
  };
  walk(path.join(ROOT, "bin", "provider"));
  return h.digest("hex").slice(0, 16);
}

/** Drops tarballs of builds older than a day (other worktrees' current ones are younger, so stay). */
function prune(): void {
  for (const e of fs.readdirSync(CACHE)) {
    const p = path.join(CACHE, e);
    const age = Date.now() - (fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()); // another run's prune
    if (age > 24 * 3600_000) fs.rmSync(p, { recursive: true, force: true });
  }
}

let pending: Promise<string> | undefined;

/** The tarball of the current build: made on first use, then shared (per process, and across runs by content key). */
export function packageTarball(): Promise<string> {
  pending ??= (async () => {
    // A no-op when env.sh has built already; makes the key describe what is on disk when jest runs on its own.
    await exec(process.execPath, [path.join(ROOT, "scripts", "build.js")], { cwd: ROOT });
    const dir = path.join(CACHE, contentKey());
    const found = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith(".tgz")) : undefined;
    if (found) {
      const now = new Date();
      fs.utimesSync(dir, now, now); // in use: not one for prune() to drop
      return path.join(dir, found);
    }
    // Pack beside the cache entry and rename it into place: concurrent runs each pack, one rename wins, none sees
    // half a tarball.
    fs.mkdirSync(CACHE, { recursive: true });
    prune();
    const tmp = fs.mkdtempSync(path.join(CACHE, "tmp-"));
    const tgz = await packInto(tmp);
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      if (!fs.existsSync(dir)) throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return path.join(dir, path.basename(tgz));
  })();
  return pending;
}
