/**
 * V8's compile cache as the preload turns it on (provider/util/compileCache.ts): only in a directory chain no one but
 * this user or root can write (code read from it runs), never over the user's own NODE_COMPILE_CACHE, and really
 * used by a process that loads the SDK. Runs as root, like the suite (the scratch tree is under /run, root's 0755).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { compileCacheDir, trustedChain } from "../../provider/util/compileCache";

const ROOT = path.join(__dirname, "..", "..");
const PRELOAD = path.join(ROOT, "node_modules", "sftp-jail", "bin", "provider", "cli", "preload.js");
const COMPILE_CACHE = path.join(ROOT, "node_modules", "sftp-jail", "bin", "provider", "util", "compileCache.js");
let tmp: string;

beforeEach(() => {
  tmp = fs.mkdtempSync("/run/sj-ccache-");
  fs.chmodSync(tmp, 0o755);
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A Node process with the given environment (NODE_COMPILE_CACHE and XDG_CACHE_HOME replaced), printing `script`'s JSON. */
function node(args: string[], env: NodeJS.ProcessEnv, input?: string) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !["NODE_COMPILE_CACHE", "NODE_DISABLE_COMPILE_CACHE", "XDG_CACHE_HOME", "NODE_OPTIONS"].includes(k)));
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", env: { ...base, ...env }, input });
  expect(r.stderr).toBe("");
  return r.stdout.trim();
}
const entries = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String) : []);

test("the directory: $XDG_CACHE_HOME when absolute, else ~/.cache", () => {
  expect(compileCacheDir({ XDG_CACHE_HOME: "/x/cache" })).toBe("/x/cache/sftp-jail/node-compile-cache");
  expect(compileCacheDir({ XDG_CACHE_HOME: "relative" })).toMatch(/\/\.cache\/sftp-jail\/node-compile-cache$/);
});

test("a trusted chain: real directories, this user's or root's, writable by no one else", () => {
  const d = path.join(tmp, "a", "b");
  fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  expect(trustedChain(d, 0)).toBe(true);
  fs.chmodSync(path.join(tmp, "a"), 0o775);
  expect(trustedChain(d, 0)).toBe(false);
  fs.chmodSync(path.join(tmp, "a"), 0o755);
  fs.chownSync(d, 4242, 4242);
  expect(trustedChain(d, 0)).toBe(false);
  expect(trustedChain(d, 4242)).toBe(true);
  fs.symlinkSync(path.join(tmp, "a"), path.join(tmp, "link"));
  expect(trustedChain(path.join(tmp, "link", "b"), 4242)).toBe(false);
  expect(trustedChain(path.join(tmp, "missing"), 0)).toBe(false);
  // /tmp (1777): anyone could have planted code there.
  const inTmp = fs.mkdtempSync("/tmp/sj-ccache-");
  expect(trustedChain(inTmp, 0)).toBe(false);
  fs.rmSync(inTmp, { recursive: true });
});

test("the preload caches the SDK's compiled code in the trusted directory, and the next process uses it", () => {
  const cache = path.join(tmp, "cache");
  const dir = path.join(cache, "sftp-jail", "node-compile-cache");
  // On stdin ("-"): the preload acts for scripts only, not `node -e`.
  const sdk = ["--require", PRELOAD, "-"];
  const script = "require('@pulumi/pulumi'); console.log(require('module').getCompileCacheDir())";
  expect(node(sdk, { XDG_CACHE_HOME: cache }, script)).toMatch(new RegExp(`^${dir}/v`));
  expect(entries(dir).length).toBeGreaterThan(50);
  expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  // Node's own trace of the cache: the SDK's modules are read back from it and accepted.
  const r = spawnSync(process.execPath, sdk, { cwd: ROOT, encoding: "utf8", input: script, env: { ...process.env, NODE_OPTIONS: "", NODE_COMPILE_CACHE: "", XDG_CACHE_HOME: cache, NODE_DEBUG_NATIVE: "COMPILE_CACHE" } });
  expect(r.stderr.match(/cache for \S+@pulumi\/pulumi\/\S+ was accepted/g)?.length ?? 0).toBeGreaterThan(50);
});

test("nothing is cached under a directory others can write, nor over the user's own settings", () => {
  const open = path.join(tmp, "open");
  fs.mkdirSync(open, { mode: 0o777 });
  fs.chmodSync(open, 0o777);
  const run = (env: NodeJS.ProcessEnv) => node(["-e", `console.log(JSON.stringify(require(${JSON.stringify(COMPILE_CACHE)}).enableCompileCache(process.env) ?? null))`], env);
  expect(run({ XDG_CACHE_HOME: path.join(open, "cache") })).toBe("null");
  expect(fs.readdirSync(open)).toEqual([]);
  expect(run({ XDG_CACHE_HOME: path.join(tmp, "c2"), NODE_DISABLE_COMPILE_CACHE: "1" })).toBe("null");
  const own = path.join(tmp, "own");
  expect(run({ XDG_CACHE_HOME: path.join(tmp, "c3"), NODE_COMPILE_CACHE: own })).toBe("null");
  expect(fs.existsSync(path.join(tmp, "c3"))).toBe(false);
  expect(run({ XDG_CACHE_HOME: path.join(tmp, "c4") })).toBe(JSON.stringify(path.join(tmp, "c4", "sftp-jail", "node-compile-cache")));
});
