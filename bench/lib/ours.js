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
/** The environment of every run (RUN_ENV) and of a drift check (PREVIEW_ENV too): sftp-jail-rollout's own. */
const { PREVIEW_ENV, RUN_ENV, fileBackendUrl } = require(path.join(ROOT, "bin", "provider", "cli", "rollout.js"));
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

/**
 * A fleet of N hosts as ceil(N / stackHosts) stacks of one project (the README's "fleets past one stack" path, what
 * `sftp-jail-rollout --concurrency C` does through the Automation API): each stack's state stays small, so the
 * engine's checkpoint after every step (crash recovery, kept ON) stays cheap, and `stackConcurrency` stacks run at a
 * time so every core works. One stack when N <= stackHosts. Times, counts, CPU and memory cover the whole fleet run.
 */
class Ours {
  constructor(name, { firewall = false, logDir, parallel, tree, env = {}, stackHosts = 10, stackConcurrency = 2 } = {}) {
    this.name = "ours";
    this.label = name;
    this.parallel = parallel;
    this.firewall = firewall;
    this.logDir = logDir;
    this.stackHosts = stackHosts;
    this.stackConcurrency = stackConcurrency;
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
      PULUMI_BACKEND_URL: fileBackendUrl(this.backend),
      PULUMI_CONFIG_PASSPHRASE: "",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_CONFIRMATIONS: "true",
      NO_COLOR: "1",
      ...RUN_ENV,
      ...env,
    };
    this.userEnv = env;
    this.stacks = [];
  }

  /** The fleet cut into stacks of `stackHosts` hosts (sets this.stacks): the first is "bench", then bench-002… */
  sliceStacks(hosts) {
    const slices = [];
    for (let i = 0; i < hosts.length; i += this.stackHosts) slices.push(hosts.slice(i, i + this.stackHosts));
    this.stacks = slices.map((_, i) => (i === 0 ? "bench" : `bench-${String(i + 1).padStart(3, "0")}`));
    return slices;
  }

  /** Writes the stack config for `hosts` (from sandbox.up) and `users` (from desired.users), one stack per slice. */
  async configure(hosts, users) {
    const slices = this.sliceStacks(hosts);
    for (const [i, slice] of slices.entries()) {
      const stack = this.stacks[i];
      const file = path.join(this.dir, `Pulumi.${stack}.yaml`);
      if (!fs.existsSync(file)) await this.pulumi(stack, ["stack", "init", stack, "--secrets-provider", "passphrase"], { check: true });
      const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(file, "utf8"))?.[0];
      const jail = {
        group: D.GROUP,
        chrootBase: D.CHROOT_BASE,
        users: users.map((u) => ({ name: u.name, uid: u.uid, keys: [u.key] })),
      };
      if (this.firewall) jail.firewall = this.firewall;
      const cfg = {
        hosts: slice.map((h) => ({
          name: h.name,
          connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: KEY, hostKey: h.hostKey },
        })),
        jails: [jail],
      };
      const lines = [salt ?? "", "config:"];
      for (const [k, v] of Object.entries(cfg)) lines.push(`  sftp-jail:${k}: ${JSON.stringify(v)}`);
      fs.writeFileSync(file, lines.filter(Boolean).join("\n") + "\n");
    }
  }

  /** `pulumi up` of the whole fleet: the first converge. */
  converge(tag, otelFile) {
    return this.fleet(tag, (stack) => ["up", "--yes", "--skip-preview", ...this.extra(otelFile, stack)]);
  }

  /**
   * The drift check: refresh every resource from the hosts, then diff against the program. Run as the README says to
   * run it, and as `sftp-jail-rollout --preview` does: with PULUMI_SKIP_CHECKPOINTS=true, which a preview gives
   * nothing up for (it saves no state), and PULUMI_RUN_PROGRAM=true, which refreshes each resource as the program
   * declares it (see PREVIEW_ENV in provider/cli/rollout.ts). A value given with --pulumi-env wins.
   */
  check(tag, otelFile) {
    return this.fleet(tag, (stack) => ["preview", "--refresh", ...this.extra(otelFile, stack)], { ...PREVIEW_ENV, ...this.userEnv });
  }

  /** --parallel when set; with --profile, an OpenTelemetry trace of the run (see otel.js; the first stack's only). */
  extra(otelFile, stack) {
    return [
      ...(this.parallel ? ["--parallel", String(this.parallel)] : []),
      ...(otelFile && stack === this.stacks[0] ? ["--otel-traces", `file://${otelFile}`] : []),
    ];
  }

  /**
   * Runs `argsOf(stack)` for every stack, `stackConcurrency` at a time, measured as one run: wall clock of the whole,
   * the process tree of every pulumi run (CPU: exact, from the bench's reaped children; memory: peak of the sum of
   * all concurrent trees' RSS), and the summed resource counts. Any stack failing fails the run.
   */
  async fleet(tag, argsOf, env = {}) {
    const t0 = process.hrtime.bigint();
    const mem = sampleTree(process.pid, { excludeRoot: true });
    const queue = [...this.stacks];
    const results = [];
    const failures = [];
    const worker = async () => {
      for (let stack; (stack = queue.shift()); ) {
        const r = await this.pulumi(stack, argsOf(stack), { tag: this.stacks.length > 1 ? `${tag}-${stack}` : tag, env });
        results.push(r);
        if (r.code !== 0) failures.push(`[${stack}] pulumi ${argsOf(stack).join(" ")} failed (${r.code}):\n${r.out.slice(-4000)}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.stackConcurrency, queue.length) }, worker));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const memory = mem.stop();
    if (failures.length) throw new Error(failures.join("\n"));
    const summaryAll = {};
    for (const r of results) for (const [k, v] of Object.entries(r.summary)) summaryAll[k] = (summaryAll[k] ?? 0) + v;
    return { code: 0, seconds, memory: { ...memory, stacks: this.stacks.length, stackConcurrency: this.stackConcurrency }, summary: summaryAll };
  }

  /** The project directory a stack runs in (one for every stack: the program reads its hosts from stack config). */
  cwdOf(_stack) {
    return this.dir;
  }

  pulumi(stack, args, { check = false, tag, env = {} } = {}) {
    return new Promise((resolve, reject) => {
      const init = args[0] === "stack" && args[1] === "init";
      const child = spawn("pulumi", [...args, ...(init ? [] : ["--stack", stack]), "--non-interactive"], { cwd: this.cwdOf(stack), env: { ...this.env, ...env } });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("close", (code) => {
        if (tag && this.logDir) fs.writeFileSync(path.join(this.logDir, `${tag}.log`), out);
        const r = { code: code ?? 1, out, summary: summary(out) };
        if (check && r.code !== 0) reject(new Error(`pulumi ${args.join(" ")} failed (${r.code}):\n${out.slice(-4000)}`));
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

module.exports = { Ours, pinnedTree, PREVIEW_ENV, RUN_ENV, fileBackendUrl };
