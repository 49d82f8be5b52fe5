#!/usr/bin/env node
// The main job: start three sandbox hosts (real Debian 12 + sshd in namespaces) and converge them with a real
// `pulumi up` of the root Pulumi.yaml program, then show that a second preview has nothing to do.
// Run through `npm run demo` (scripts/env.sh puts Node 22 and pulumi on PATH). `npm run demo -- --down` tears down.
"use strict";
const { execFileSync, spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const sandbox = path.join(root, "test", "sandbox", "sandbox.sh");
const names = ["demo-1", "demo-2", "demo-3"];
const stack = "demo";
const stackFile = path.join(root, `Pulumi.${stack}.yaml`);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: opts.capture ? ["ignore", "pipe", "inherit"] : "inherit", encoding: "utf8" });
  if (r.status !== 0 && !opts.allowFail) {
    console.error(`\n${cmd} ${args.join(" ")} failed (exit ${r.status})`);
    process.exit(r.status || 1);
  }
  return r;
}
const pulumi = (args, opts) => sh("pulumi", [...args, "--stack", stack, "--non-interactive"], opts);

if (process.argv.includes("--down")) {
  pulumi(["destroy", "--yes", "--skip-preview"], { allowFail: true });
  pulumi(["stack", "rm", "--yes", "--force"], { allowFail: true });
  sh("bash", [sandbox, "down", ...names]);
  fs.rmSync(stackFile, { force: true });
  process.exit(0);
}

console.log("==> starting 3 sandbox hosts (first run builds the Debian 12 rootfs: ~30 s)");
sh("bash", [sandbox, "rootfs"], { capture: true });
const hosts = JSON.parse(sh("bash", [sandbox, "up", "--json", "--fresh", ...names], { capture: true }).stdout);
const keyFile = path.join(process.env.SFTPJAIL_SANDBOX_STATE || "/run/sftp-jail-sandbox", "keys", "id_ed25519");

// A fresh stack each run: the hosts are new, so old state would describe machines that no longer exist.
pulumi(["stack", "rm", "--yes", "--force"], { allowFail: true, capture: true });
sh("pulumi", ["stack", "init", stack, "--secrets-provider", "passphrase", "--non-interactive"]);
const config = {
  hosts: hosts.map((h) => ({
    name: h.name,
    connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: keyFile, hostKey: h.hostKeyEd25519 },
  })),
  groups: [{ name: "sftponly", gid: 2001 }],
};
const salt = fs.readFileSync(stackFile, "utf8").match(/^encryptionsalt: .*$/m);
fs.writeFileSync(
  stackFile,
  [salt ? salt[0] : "", "config:", ...Object.entries(config).map(([k, v]) => `  sftp-jail:${k}: ${JSON.stringify(v)}`)]
    .filter(Boolean)
    .join("\n") + "\n",
);

console.log("\n==> pulumi up: converge the fleet");
pulumi(["up", "--yes"]);
console.log("\n==> pulumi preview --refresh: read every host again; nothing should change");
const pv = pulumi(["preview", "--refresh", "--diff"], { capture: true });
process.stdout.write(pv.stdout);
if (/to (create|update|delete|replace)/.test(pv.stdout)) {
  console.error("demo: the second preview wanted changes; convergence is broken");
  process.exit(1);
}
console.log(`
==> done: 3 hosts converged, second preview clean.
    Look around:  npm run sandbox -- console demo-1 getent group sftponly
    Drift:        npm run sandbox -- console demo-2 groupdel sftponly; then: npm run pulumi -- preview --refresh --stack demo
    Tear down:    npm run demo -- --down`);
