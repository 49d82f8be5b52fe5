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
const state = process.env.SFTPJAIL_SANDBOX_STATE || "/run/sftp-jail-sandbox";
const keyFile = path.join(state, "keys", "id_ed25519");
// Two partners' keys for the jailed users (generated here, never committed).
const demoKeys = path.join(state, "demo-keys");
fs.mkdirSync(demoKeys, { recursive: true, mode: 0o700 });
const partnerKey = (name) => {
  const f = path.join(demoKeys, name);
  if (!fs.existsSync(f)) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${name}@demo`, "-f", f]);
  return fs.readFileSync(f + ".pub", "utf8").trim();
};

// A fresh stack each run: the hosts are new, so old state would describe machines that no longer exist.
pulumi(["stack", "rm", "--yes", "--force"], { allowFail: true, capture: true });
sh("pulumi", ["stack", "init", stack, "--secrets-provider", "passphrase", "--non-interactive"]);
const config = {
  hosts: hosts.map((h) => ({
    name: h.name,
    connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: keyFile, hostKey: h.hostKeyEd25519 },
  })),
  jails: [
    {
      group: { name: "sftp", gid: 2200 },
      chrootBase: "/srv/sftp",
      users: [
        { name: "acme", keys: [partnerKey("acme")] },
        { name: "globex", keys: [partnerKey("globex")], writableDirs: ["in", "out"] },
      ],
      firewall: { port: 22, state: ["NEW"], position: "beforeReject" },
    },
  ],
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
const kh = path.join(demoKeys, "known_hosts");
fs.writeFileSync(kh, hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostKeyEd25519}`).join("\n") + "\n");
console.log(`
==> done: 3 hosts converged (group, 2 jailed users with chroots and keys, Match block, firewall opening),
    second preview clean.
    SFTP in as a partner: sftp -i ${path.join(demoKeys, "acme")} -o UserKnownHostsFile=${kh} -P ${hosts[0].port} acme@127.0.0.1
    Look around:  npm run sandbox -- console demo-1 sshd -T -C user=acme,host=x,addr=127.0.0.1
    Drift:        npm run sandbox -- console demo-2 chmod 775 /srv/sftp/acme; then: npm run pulumi -- preview --refresh --stack demo
    Tear down:    npm run demo -- --down`);
