// Our tool: the repo's root Pulumi program (program/, compiled to bin/program) run by the real `pulumi` CLI, as
// test/e2e/pulumi.ts does it — a throw-away project dir (Pulumi.yaml + symlinks to bin/program and node_modules), a
// local file backend in it and an empty passphrase. The fleet is the stack config (`hosts`, `jails`) described in
// program/config.ts.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawn, execFileSync } = require("child_process");
const D = require("./desired");
const { KEY, ROOT } = require("./sandbox");
const { sampleTree } = require("./procmem");

/**
 * A private, pinned copy of what `pulumi up` runs: bin/program (the compiled root program) and the installed
 * sftp-jail package, beside symlinks to every other package of the repo's node_modules. Other engineers rebuild
 * node_modules/sftp-jail while they work; without the copy a run could load half a package. Also keeps the provider the same for the whole bench.
 * Layout: <dir>/node_modules/{sftp-jail (copy), @pulumi → repo, …}, <dir>/program (copy of bin/program).
 */
function pinnedTree(dir, providerDir) {
  const nm = path.join(dir, "node_modules");
  fs.mkdirSync(nm, { recursive: true });
  const repoNm = path.join(ROOT, "node_modules");
  for (const e of fs.readdirSync(repoNm)) {
    if (e !== "sftp-jail") fs.symlinkSync(path.join(repoNm, e), path.join(nm, e));
  }
  for (let attempt = 1; ; attempt++) {
    const src = providerDir ?? path.join(repoNm, "sftp-jail");
    fs.rmSync(path.join(nm, "sftp-jail"), { recursive: true, force: true });
    try {
      fs.cpSync(src, path.join(nm, "sftp-jail"), { recursive: true });
      if (fs.existsSync(path.join(nm, "sftp-jail/.built")) && fs.existsSync(path.join(nm, "sftp-jail/bin/provider/index.js"))) break;
    } catch {
      /* a rebuild was removing it: try again */
    }
    if (attempt >= 20) throw new Error("node_modules/sftp-jail is missing or incomplete: run `node scripts/build.js`");
    execFileSync("sleep", ["0.5"]);
  }
  fs.cpSync(path.join(ROOT, "bin", "program"), path.join(dir, "program"), { recursive: true });
  return { nodeModules: nm, program: path.join(dir, "program") };
}

class Ours {
  constructor(name, { firewall = false, logDir, parallel, tree, env = {} } = {}) {
    this.name = "ours";
    this.label = name;
    this.parallel = parallel;
    this.firewall = firewall;
    this.logDir = logDir;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `sj-bench-${name}-`));
    this.backend = path.join(this.dir, ".state");
    fs.mkdirSync(this.backend);
    for (const f of ["Pulumi.yaml", "tsconfig.json", "package.json"]) fs.copyFileSync(path.join(ROOT, f), path.join(this.dir, f));
    // Pulumi.yaml runs bin/program/index.js: the root program as scripts/build.js compiled it.
    fs.mkdirSync(path.join(this.dir, "bin"));
    fs.symlinkSync(tree?.program ?? path.join(ROOT, "bin", "program"), path.join(this.dir, "bin", "program"));
    fs.symlinkSync(tree?.nodeModules ?? path.join(ROOT, "node_modules"), path.join(this.dir, "node_modules"));
    this.env = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${this.backend}`,
      PULUMI_CONFIG_PASSPHRASE: "",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_CONFIRMATIONS: "true",
      NO_COLOR: "1",
      ...env,
    };
    this.stack = "bench";
    this.inited = false;
  }

  /** Writes the stack config for `hosts` (from sandbox.up) and `users` (from desired.users). */
  async configure(hosts, users) {
    if (!this.inited) {
      await this.pulumi(["stack", "init", this.stack, "--secrets-provider", "passphrase"], { check: true });
      this.inited = true;
    }
    const file = path.join(this.dir, `Pulumi.${this.stack}.yaml`);
    const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(file, "utf8"))?.[0];
    const jail = {
      group: D.GROUP,
      chrootBase: D.CHROOT_BASE,
      users: users.map((u) => ({ name: u.name, uid: u.uid, keys: [u.key] })),
    };
    if (this.firewall) jail.firewall = this.firewall;
    const cfg = {
      hosts: hosts.map((h) => ({
        name: h.name,
        connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: KEY, hostKey: h.hostKey },
      })),
      jails: [jail],
    };
    const lines = [salt ?? "", "config:"];
    for (const [k, v] of Object.entries(cfg)) lines.push(`  sftp-jail:${k}: ${JSON.stringify(v)}`);
    fs.writeFileSync(file, lines.filter(Boolean).join("\n") + "\n");
  }

  /** `pulumi up` of the whole fleet: the first converge. */
  converge(tag, otelFile) {
    return this.pulumi(["up", "--yes", "--skip-preview", ...this.extra(otelFile)], { tag, measure: true });
  }

  /**
   * Converge only to prepare a fleet for the check: with PULUMI_SKIP_CHECKPOINTS the engine writes the state once at
   * the end instead of after every step (the full state each time: quadratic in the fleet size).
   */
  prepare(tag) {
    const env = this.env;
    this.env = { ...env, PULUMI_SKIP_CHECKPOINTS: "true" };
    return this.converge(tag).finally(() => (this.env = env));
  }

  /** The drift check: refresh every resource from the hosts, then diff against the program. */
  check(tag, otelFile) {
    return this.pulumi(["preview", "--refresh", ...this.extra(otelFile)], { tag, measure: true });
  }

  /** --parallel when set; with --profile, an OpenTelemetry trace of the run (see otel.js). */
  extra(otelFile) {
    return [...(this.parallel ? ["--parallel", String(this.parallel)] : []), ...(otelFile ? ["--otel-traces", `file://${otelFile}`] : [])];
  }

  pulumi(args, { check = false, tag, measure = false } = {}) {
    return new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: this.dir, env: this.env });
      const mem = measure ? sampleTree(child.pid) : undefined;
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("close", (code) => {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const m = mem?.stop();
        if (tag && this.logDir) fs.writeFileSync(path.join(this.logDir, `${tag}.log`), out);
        const r = { code: code ?? 1, seconds, out, ...(m ? { memory: m } : {}), summary: summary(out) };
        if ((check || measure) && r.code !== 0) reject(new Error(`pulumi ${args.join(" ")} failed (${r.code}):\n${out.slice(-4000)}`));
        else resolve(r);
      });
    });
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Counts from the "Resources:" block, e.g. { create: 3, same: 2 }. */
function summary(out) {
  const r = {};
  const block = out.slice(out.lastIndexOf("Resources:"));
  for (const m of block.matchAll(/^\s+([+~\-]|\+-)?\s*(\d+) (to create|created|to update|updated|to delete|deleted|to replace|replaced|unchanged)/gm)) {
    const key = m[3].replace(/^to /, "").replace(/d$/, "").replace(/unchange$/, "same");
    r[key] = (r[key] ?? 0) + Number(m[2]);
  }
  return r;
}

module.exports = { Ours, pinnedTree };
