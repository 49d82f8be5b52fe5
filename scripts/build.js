#!/usr/bin/env node
// Compiles provider/ to bin/ and installs the result as node_modules/sftp-jail, the way a user gets the package;
// then compiles the root program (program/, type-checked against that package) to bin/program, which Pulumi.yaml
// runs as plain JavaScript: type-checking it at every `pulumi` run cost ~11 CPU-s (issue 10).
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

const tsc = (project, outDir) =>
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", project, "--outDir", outDir], { stdio: "inherit" });
/** The root program into `dir`, with a package.json of its own: a copy elsewhere (the bench pins one) is a whole
 * package, and the nodejs runtime does not warn that it found no package.json for the program. */
function buildProgram(dir, time) {
  tsc(path.join(root, "program", "tsconfig.json"), dir);
  const pkg = {
    name: "sftp-jail-fleet-program",
    private: true,
    description: "The root program, compiled from program/ by scripts/build.js.",
    main: "index.js",
  };
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  fs.writeFileSync(path.join(dir, ".built"), String(time));
}
/** Moves `tmp` to `dest` (replacing it) in two renames, so a reader sees the old or the new tree, never half of one. */
function replace(tmp, dest) {
  const old = `${dest}.old-${process.pid}`;
  if (fs.existsSync(dest)) fs.renameSync(dest, old);
  fs.renameSync(tmp, dest);
  fs.rmSync(old, { recursive: true, force: true });
}

const srcTime = Math.max(newest(path.join(root, "provider")), fs.statSync(path.join(root, "package.json")).mtimeMs,
  fs.statSync(path.join(root, "tsconfig.json")).mtimeMs);
const progTime = Math.max(srcTime, newest(path.join(root, "program")));
const stamp = path.join(target, ".built");
const progStamp = path.join(out, "program", ".built");
const fresh = (file, time) => fs.existsSync(file) && Number(fs.readFileSync(file, "utf8")) >= time;

// Build and install through temp directories renamed into place, so a concurrent build or a reader never sees a
// half-written package. The program is type-checked against the package just installed, so the package goes first.
if (!fresh(stamp, srcTime)) {
  const tmpOut = `${out}.tmp-${process.pid}`;
  const tmpTarget = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmpOut, { recursive: true, force: true });
  tsc(path.join(root, "tsconfig.json"), tmpOut);
  fs.rmSync(tmpTarget, { recursive: true, force: true });
  fs.mkdirSync(tmpTarget, { recursive: true });
  fs.cpSync(tmpOut, path.join(tmpTarget, "bin"), { recursive: true });
  fs.copyFileSync(path.join(root, "package.json"), path.join(tmpTarget, "package.json"));
  fs.writeFileSync(path.join(tmpTarget, ".built"), String(srcTime));
  replace(tmpTarget, target);
  buildProgram(path.join(tmpOut, "program"), progTime);
  replace(tmpOut, out);
  console.error(`[build] compiled provider/ and installed it as node_modules/sftp-jail; compiled program/ to bin/program`);
} else if (!fresh(progStamp, progTime)) {
  const tmp = path.join(out, `program.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  buildProgram(tmp, progTime);
  replace(tmp, path.join(out, "program"));
  console.error(`[build] compiled program/ to bin/program`);
}
