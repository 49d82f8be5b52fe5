// Our tool through the provider plugin: the same desired state as `ours` (the root program's SftpJailHost per host,
// desired.js), written as a Pulumi YAML program that uses the sftpjail package (the plugin built by
// scripts/package-plugin.sh and installed with `pulumi plugin install`, as packages.test.ts does it), run by the real
// CLI with the same commands and the same fleet split into stacks as `ours`.
//
// What YAML cannot say as the root program does: YAML has no loops, so each stack is its own project directory whose
// program lists that slice's hosts; and the plugin's SftpJailHost has no `firewall` input (its schema omits it), so the
// firewall opening is a FirewallRule beside each host's SftpJailHost, with the fields the component would give it.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const D = require("./desired");
const { KEY, ROOT } = require("./sandbox");
const { Ours } = require("./ours");

/**
 * Builds the plugin tarball (once per bench) and installs it into a PULUMI_HOME of its own under `dir`, so the
 * shared one is untouched and every run uses this very build. Returns that PULUMI_HOME.
 */
function installPlugin(dir) {
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
  const dist = path.join(dir, "dist");
  const home = path.join(dir, "home");
  fs.mkdirSync(home, { recursive: true });
  execFileSync("bash", [path.join(ROOT, "scripts/package-plugin.sh")], {
    cwd: ROOT,
    env: { ...process.env, SFTPJAIL_DIST: dist, SFTPJAIL_PLUGIN_ONLY: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const tgz = path.join(dist, `pulumi-resource-sftpjail-v${version}-linux-amd64.tar.gz`);
  execFileSync("pulumi", ["plugin", "install", "resource", "sftpjail", version, "--file", tgz], { env: { ...process.env, PULUMI_HOME: home }, stdio: "ignore" });
  fs.rmSync(dist, { recursive: true, force: true });
  return home;
}

class OursPlugin extends Ours {
  constructor(name, { pluginHome, ...rest } = {}) {
    super(name, rest);
    this.name = "ours-plugin";
    this.env = { ...this.env, PULUMI_HOME: pluginHome };
    for (const f of ["Pulumi.yaml", "tsconfig.json", "package.json", "bin", "node_modules"]) fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
    this.dirs = {};
  }

  /** One project directory per stack (the YAML program names its hosts), all on this tool's file backend. */
  async configure(hosts, users) {
    const slices = this.sliceStacks(hosts);
    for (const [i, slice] of slices.entries()) {
      const stack = this.stacks[i];
      const dir = path.join(this.dir, stack);
      this.dirs[stack] = dir;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), this.program(slice, users));
      if (!fs.existsSync(path.join(dir, `Pulumi.${stack}.yaml`))) await this.pulumi(stack, ["stack", "init", stack, "--secrets-provider", "passphrase"], { check: true });
    }
  }

  /** The YAML program of one slice (JSON is YAML: no quoting surprises). */
  program(slice, users) {
    const resources = {};
    for (const h of slice) {
      const connection = { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: KEY, hostKey: h.hostKey };
      const name = `${h.name}-${D.GROUP.name}`;
      resources[name] = {
        type: "sftpjail:index:SftpJailHost",
        properties: {
          connection,
          group: D.GROUP,
          chrootBase: D.CHROOT_BASE,
          users: users.map((u) => ({ name: u.name, uid: u.uid, authorizedKeys: [u.key] })),
        },
      };
      // What SftpJailHost makes of jails[].firewall (provider/components/sftpJailHost.ts), declared beside it.
      if (this.firewall) {
        resources[`${name}-firewall`] = {
          type: "sftpjail:index:FirewallRule",
          properties: { position: "beforeReject", ...this.firewall, connection, action: "ACCEPT" },
        };
      }
    }
    return JSON.stringify({ name: "sj-bench-plugin", runtime: "yaml", resources }, null, 1) + "\n";
  }

  cwdOf(stack) {
    return this.dirs[stack] ?? this.dir;
  }
}

module.exports = { OursPlugin, installPlugin };
