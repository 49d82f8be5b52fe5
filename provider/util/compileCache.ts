/**
 * V8's compile cache for the Node processes Pulumi starts (provider/cli/preload.ts): the compiled code of the modules
 * they load (the SDK, TypeScript when the program serializes a provider, zod, ssh2, ours) is kept on disk between
 * runs (Node >= 22.1, `module.enableCompileCache`): ~0.2 CPU-s less per program run (docs/PERFORMANCE.md). Code read
 * from that directory runs in the process, so it is used only when it and every directory above it are real
 * directories (no symlink) that no one but this user or root can write; otherwise nothing is cached, silently (a
 * cache is an optimisation, never a reason to fail).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Module = require("module");

/** `$XDG_CACHE_HOME` (when absolute) or `~/.cache`, then `sftp-jail/node-compile-cache`. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".cache"), "sftp-jail", "node-compile-cache");
}

/** True when `dir` and each directory above it is a directory (not a link) owned by `uid` or root, writable by no one else. */
export function trustedChain(dir: string, uid: number): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    let s: fs.Stats;
    try {
      s = fs.lstatSync(d);
    } catch {
      return false;
    }
    if (!s.isDirectory() || (s.uid !== uid && s.uid !== 0) || (s.mode & 0o022) !== 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * Enables the cache in this process and returns its directory, or undefined when it stays off: the user set
 * NODE_COMPILE_CACHE or NODE_DISABLE_COMPILE_CACHE (Node's own switches win), this Node has no such cache, or the
 * directory is not trusted (see above).
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const enable = (Module as unknown as { enableCompileCache?: (dir: string) => { status: number; directory?: string } }).enableCompileCache;
  const uid = process.getuid?.();
  if (typeof enable !== "function" || uid === undefined || env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const dir = compileCacheDir(env);
  try {
    // The existing part of the path is checked before anything is made in it; the whole of it once made.
    let existing = dir;
    while (!fs.existsSync(existing)) existing = path.dirname(existing);
    if (!trustedChain(existing, uid)) return undefined;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!trustedChain(dir, uid)) return undefined;
    const r = enable(dir);
    // module.constants.compileCacheStatus: ENABLED 1, ALREADY_ENABLED 2 (FAILED 0, DISABLED 3)
    return r.status === 1 || r.status === 2 ? (r.directory ?? dir) : undefined;
  } catch {
    return undefined;
  }
}
