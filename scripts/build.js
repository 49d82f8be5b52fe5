#!/usr/bin/env node
// Compiles provider/ to bin/ and installs the result as node_modules/sftp-jail, the way a user gets the package.
// Why the copy: Pulumi serializes dynamic providers, capturing code under node_modules as `require("sftp-jail/...")`
// but copying local files by value. Installed, our provider is required by name in the provider process, so its
// connection pool and caches are shared by all resources, exactly as in a user's program.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const root = path.resolve(__dirname, "..");
const out = path.join(root, "bin");
const target = path.join(root, "node_modules", "sftp-jail");

function newest(dir) {
  let t = 0;
  if (!fs.existsSync(dir)) return t;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

const srcTime = Math.max(newest(path.join(root, "provider")), fs.statSync(path.join(root, "package.json")).mtimeMs,
  fs.statSync(path.join(root, "tsconfig.json")).mtimeMs);
const stamp = path.join(target, ".built");
if (fs.existsSync(stamp) && Number(fs.readFileSync(stamp, "utf8")) >= srcTime) process.exit(0);

// Build and install through temp directories renamed into place, so a concurrent build or a reader never sees a
// half-written package.
const tmpOut = `${out}.tmp-${process.pid}`;
const tmpTarget = `${target}.tmp-${process.pid}`;
fs.rmSync(tmpOut, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(root, "tsconfig.json"), "--outDir", tmpOut], {
  stdio: "inherit",
});
fs.rmSync(tmpTarget, { recursive: true, force: true });
fs.mkdirSync(tmpTarget, { recursive: true });
fs.cpSync(tmpOut, path.join(tmpTarget, "bin"), { recursive: true });
fs.copyFileSync(path.join(root, "package.json"), path.join(tmpTarget, "package.json"));
fs.writeFileSync(path.join(tmpTarget, ".built"), String(srcTime));
for (const [tmp, dest] of [[tmpOut, out], [tmpTarget, target]]) {
  const old = `${dest}.old-${process.pid}`;
  if (fs.existsSync(dest)) fs.renameSync(dest, old);
  fs.renameSync(tmp, dest);
  fs.rmSync(old, { recursive: true, force: true });
}
console.error(`[build] compiled provider/ and installed it as node_modules/sftp-jail`);
