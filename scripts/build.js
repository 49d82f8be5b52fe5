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

fs.rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(root, "tsconfig.json")], {
  stdio: "inherit",
});
fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(target, { recursive: true });
fs.cpSync(out, path.join(target, "bin"), { recursive: true });
fs.copyFileSync(path.join(root, "package.json"), path.join(target, "package.json"));
fs.writeFileSync(stamp, String(srcTime));
console.error(`[build] compiled provider/ and installed it as node_modules/sftp-jail`);
