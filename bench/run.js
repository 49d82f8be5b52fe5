#!/usr/bin/env node
// `npm run bench`: the same SFTP jail built on the same sandbox hosts by sftp-jail (`pulumi up` of the root program),
// Ansible and pyinfra, alternating, several rounds; then the no-op drift check of the converged fleets at several
// sizes. Writes bench/results/latest.json and bench/results/chart.svg and prints a table. Never part of `npm test`.
//
//   npm run bench -- [--quick|--full] [--rounds 2] [--scale-rounds 1] [--hosts 10] [--users 10] [--scale 1,10,50,100,200]
//                    [--tools ours,ours-plugin,ansible,pyinfra] [--stack-hosts 10] [--stack-concurrency 2]
//                    [--ansible-max-hosts 10] [--forks 10] [--firewall auto|on|off] [--parallel 64] [--profile]
//                    [--transpile-only] [--pulumi-env K=V]... [--pulumi-bin DIR] [--provider-dir DIR] [--upgrade-tools] [--keep-hosts]
//                    [--no-floor]
//                    [--out bench/results]
//
// Needs root (sandbox hosts), Python 3 with venv, and the project environment (`bash scripts/env.sh` gives Node 22 and
// pulumi). See bench/README.md.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

const setup = require("./lib/setup");
const S = require("./lib/sandbox");
const D = require("./lib/desired");
const HS = require("./lib/hoststate");
const { Ours, pinnedTree, PREVIEW_ENV, RUN_ENV, fileBackendUrl } = require("./lib/ours");
const { OursPlugin, installPlugin } = require("./lib/oursPlugin");
const { PulumiFloor } = require("./lib/floor");
const { Ansible, Pyinfra } = require("./lib/peers");
const { chart } = require("./lib/chart");
const { summarizeOtel } = require("./lib/otel");

const log = setup.log;
const ROOT = path.resolve(__dirname, "..");

// ------------------------------------------------------------------------------------------------------ options
/**
 * ours: the root TypeScript program (Node dynamic resources); ours-plugin: the same desired state as a Pulumi YAML
 * program through the provider plugin (bench/lib/oursPlugin.js); the peers.
 */
const TOOLS = ["ours", "ours-plugin", "ansible", "pyinfra"];
/** Our tool, by either path: the figures compared with the peers are the dynamic path's ("ours"). */
const isOurs = (t) => t === "ours" || t === "ours-plugin";
function parseArgs(argv) {
  const o = {
    rounds: 2,
    hosts: 10,
    users: 10,
    scale: [1, 10, 50, 100, 200],
    stackHosts: 10,
    stackConcurrency: 2,
    scaleRounds: undefined,
    tools: ["ours", "ansible", "pyinfra"],
    ansibleMaxHosts: 10,
    forks: 10,
    firewall: "auto",
    parallel: undefined,
    profile: false,
    transpileOnly: false,
    pulumiEnv: {},
    providerDir: undefined,
    upgradeTools: false,
    keepHosts: false,
    floor: true,
    out: path.join(__dirname, "results"),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const int = (v, min = 1) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${a}: expected an integer >= ${min}, got ${v}`);
      return n;
    };
    switch (a) {
      case "--rounds": o.rounds = int(val()); break;
      case "--scale-rounds": o.scaleRounds = int(val()); break;
      case "--hosts": o.hosts = int(val()); break;
      case "--users": o.users = int(val()); break;
      case "--scale": o.scale = val().split(",").filter(Boolean).map((x) => int(x)); break;
      case "--stack-hosts": o.stackHosts = int(val()); break;
      case "--stack-concurrency": o.stackConcurrency = int(val()); break;
      case "--tools": o.tools = val().split(",").filter(Boolean); break;
      case "--ansible-max-hosts": o.ansibleMaxHosts = int(val()); break;
      case "--forks": o.forks = int(val()); break;
      case "--firewall": o.firewall = val(); break;
      case "--parallel": o.parallel = int(val()); break;
      case "--profile": o.profile = true; break;
      case "--transpile-only": o.transpileOnly = true; break;
      case "--pulumi-env": {
        const [k, ...v] = val().split("=");
        if (!/^[A-Z_][A-Z0-9_]*$/.test(k) || !v.length) throw new Error("--pulumi-env: expected NAME=value");
        o.pulumiEnv[k] = v.join("=");
        break;
      }
      // A Pulumi CLI other than the project's (e.g. one `scripts/setup-pulumi.sh --patch FILE` built with a proposed upstream change),
      // first on ours' PATH; recorded in latest.json, and never the default.
      case "--pulumi-bin": o.pulumiBin = path.resolve(val()); break;
      case "--provider-dir": o.providerDir = path.resolve(val()); break;
      case "--upgrade-tools": o.upgradeTools = true; break;
      case "--keep-hosts": o.keepHosts = true; break;
      case "--no-floor": o.floor = false; break;
      case "--out": o.out = path.resolve(val()); break;
      case "--quick": o.rounds = 1; o.scale = [1, 10]; break;
      case "--full": o.rounds = 3; o.scaleRounds = 3; o.ansibleMaxHosts = 50; break;
      case "-h": case "--help":
        console.log(fs.readFileSync(__filename, "utf8").split("\n").slice(1, 14).map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
        process.exit(0);
      // falls through
      default: throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  for (const t of o.tools) if (!TOOLS.includes(t)) throw new Error(`unknown tool ${t} (tools: ${TOOLS.join(", ")})`);
  // Printed and recorded in this order: the plugin row next to the dynamic one.
  o.tools = TOOLS.filter((t) => o.tools.includes(t));
  if (!["auto", "on", "off"].includes(o.firewall)) throw new Error("--firewall must be auto, on or off");
  if (o.users > 99) throw new Error("--users: at most 99");
  o.scaleRounds ??= Math.min(o.rounds, 1);
  return o;
}

// ------------------------------------------------------------------------------------------------------ helpers
const median = (xs) => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const r2 = (x) => (x === undefined ? undefined : +x.toFixed(2));
const names = (prefix, n) => Array.from({ length: n }, (_, i) => `bench-${prefix}${String(i + 1).padStart(2, "0")}`);
const loadavg = () => os.loadavg().map((x) => +x.toFixed(2));
/** Alternation: round r starts with a different tool. */
const rotate = (xs, r) => xs.map((_, i) => xs[(i + r) % xs.length]);

/** Whether the root program's stack config takes `jails[].firewall`: asked of the stack-config schema itself (built). */
function programHasFirewall() {
  const { jailShape } = require(path.join(ROOT, "node_modules/sftp-jail/bin/provider/schema/stackConfig.js"));
  return Object.prototype.hasOwnProperty.call(jailShape ?? {}, "firewall");
}

function makeTool(name, ctx) {
  const common = { firewall: ctx.firewall, logDir: ctx.logDir };
  if (name === "ours") return new Ours(`ours`, { ...common, firewall: ctx.firewall ? ctx.oursFirewall : false, parallel: ctx.opts.parallel, tree: ctx.tree,
      stackHosts: ctx.opts.stackHosts, stackConcurrency: ctx.opts.stackConcurrency,
      env: { ...(ctx.opts.transpileOnly ? { PULUMI_NODEJS_TRANSPILE_ONLY: "true" } : {}), ...ctx.opts.pulumiEnv } });
  if (name === "ours-plugin") return new OursPlugin("ours-plugin", { ...common, firewall: ctx.firewall ? ctx.oursFirewall : false, parallel: ctx.opts.parallel,
      pluginHome: ctx.pluginHome, stackHosts: ctx.opts.stackHosts, stackConcurrency: ctx.opts.stackConcurrency, env: { ...ctx.opts.pulumiEnv } });
  if (name === "ansible") return new Ansible(ctx.venv.bin, { ...common, forks: ctx.opts.forks });
  return new Pyinfra(ctx.venv.bin, common);
}

/** Runs one measured phase of one tool and records it. */
async function measure(ctx, tool, phase, hosts, round, extra = {}) {
  const tag = `${phase}-${tool.name}-${hosts.length}h-r${round}`;
  const marks = S.marks(hosts);
  const load = loadavg();
  let r;
  const otelFile = ctx.opts.profile && tool.name === "ours" ? path.join(ctx.logDir, `${tag}.otel.json`) : undefined;
  log(`${tag}: ${tool.name} ${phase} on ${hosts.length} host(s)…`);
  try {
    r = phase === "converge" ? await tool.converge(tag, otelFile) : await tool.check(tag, otelFile);
  } catch (e) {
    const rec = { phase, tool: tool.name, hosts: hosts.length, round, error: String(e.message).slice(0, 3000), loadavg: load, ...extra };
    ctx.runs.push(rec);
    log(`${tag}: FAILED: ${String(e.message).split("\n").slice(0, 6).join(" | ")}`);
    return rec;
  }
  const traffic = S.traffic(hosts, marks);
  const rec = {
    phase,
    tool: tool.name,
    hosts: hosts.length,
    round,
    seconds: r2(r.seconds),
    ...traffic,
    memory: r.memory,
    summary: r.summary,
    loadavg: load,
    ...extra,
  };
  if (otelFile && fs.existsSync(otelFile)) {
    rec.profile = summarizeOtel(otelFile);
    fs.rmSync(otelFile, { force: true });
  }
  ctx.runs.push(rec);
  log(`${tag}: ${rec.seconds} s, ${traffic.connectionsPerHost} conn/host, ${traffic.sessionsPerHost} sessions/host` +
    (r.memory?.providerPeakMiB ? `, provider peak ${r.memory.providerPeakMiB} MiB` : "") +
    (r.memory?.cpuSeconds ? `, CPU ${r.memory.cpuSeconds.total} s (tree) / ${r.memory.cpuSeconds.machine} s (machine)` : "") + ` ${JSON.stringify(r.summary)}`);
  return rec;
}

/**
 * The strict end-state check, after every converge and every check of every tool, round and size: every host's
 * fingerprint (out of band, hoststate.js) must equal the reference (the first one taken) and a jailed user must log in
 * with OpenSSH's sftp. Any difference is recorded on the run and in ctx.endStateFailures, and fails the bench.
 */
async function verifyEndState(ctx, rec, hosts) {
  const fp = await HS.fingerprint(hosts, ctx.users, ctx.fwWanted);
  ctx.reference ??= { sum: fp.sums[0], text: fp.first, by: `${rec.tool} ${rec.phase} ${rec.hosts}h r${rec.round}` };
  const bad = hosts.filter((_, i) => fp.sums[i] !== ctx.reference.sum).map((h) => h.name);
  const login = rec.phase === "converge" ? await HS.sftpLogin(hosts[0], ctx.users[0].name, path.join(setup.CACHE, "bench-keys", ctx.users[0].name)) : { ok: true };
  rec.endState = { fingerprint: fp.sums[0], identical: bad.length === 0, hostsChecked: hosts.length, sftpLogin: login.ok };
  if (bad.length || !login.ok) {
    const f = { tool: rec.tool, phase: rec.phase, hosts: rec.hosts, round: rec.round, differingHosts: bad, sftpLogin: login.ok, reference: ctx.reference.by };
    ctx.endStateFailures.push(f);
    log(`END STATE MISMATCH: ${JSON.stringify(f)}`);
  }
  ctx.endStates[rec.tool] ??= fp.sums[0];
}

/**
 * Pulumi's floor for the converge ours just made (bench/lib/floor.js): the same stacks, resources and state through
 * the same CLI and --parallel, with a provider that does nothing. Measured like a converge (its CPU, memory and SSH
 * traffic: none); no end state, since it touches no host.
 */
async function measureFloor(ctx, ours, hosts, round) {
  const floor = new PulumiFloor({ logDir: ctx.logDir, parallel: ctx.opts.parallel, tree: ctx.tree, stackHosts: ctx.opts.stackHosts,
    stackConcurrency: ctx.opts.stackConcurrency, env: { ...ctx.opts.pulumiEnv } });
  try {
    await floor.prepare(ours);
    await measure(ctx, floor, "converge", hosts, round);
  } catch (e) {
    log(`pulumi-floor: not measured: ${String(e.message).split("\n")[0]}`);
  } finally {
    floor.cleanup();
  }
}

/** No-op check must report nothing to change. */
function noChange(rec) {
  const s = rec.summary ?? {};
  if (isOurs(rec.tool)) return !s.create && !s.update && !s.delete && !s.replace;
  if (rec.tool === "ansible") return s.changed === 0 && s.failed === 0;
  return !s.changes;
}

// ------------------------------------------------------------------------------------------------------ main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // Ours runs with the --parallel sftp-jail-rollout uses and the README tells `pulumi up` users to set.
  opts.parallel ??= require(path.join(ROOT, "node_modules/sftp-jail/bin/provider/cli/args.js")).DEFAULT_PARALLEL;
  if (opts.pulumiBin) {
    if (!fs.existsSync(path.join(opts.pulumiBin, "pulumi"))) throw new Error(`--pulumi-bin: no pulumi in ${opts.pulumiBin}`);
    opts.pulumiEnv.PATH = `${opts.pulumiBin}:${process.env.PATH}`;
  }
  if (process.getuid?.() !== 0) throw new Error("the bench starts sandbox hosts: run it as root");
  fs.mkdirSync(opts.out, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sj-bench-"));
  const logDir = path.join(work, "logs");
  fs.mkdirSync(logDir);
  const started = Date.now();

  const fwWanted = opts.firewall === "on" || (opts.firewall === "auto" && programHasFirewall());
  if (opts.firewall === "on" && !programHasFirewall()) throw new Error("--firewall on: program/config.ts has no jails[].firewall yet");
  const firewallNote = fwWanted
    ? "with one firewall ACCEPT rule per host (jails[].firewall)"
    : "WITHOUT the firewall rule: the root program has no jails[].firewall yet, so no tool adds it";
  log(`desired state: ${opts.users} users per host, ${firewallNote}`);

  const venv = opts.tools.some((t) => !isOurs(t)) ? setup.venv({ upgrade: opts.upgradeTools }) : { bin: "", versions: {} };
  S.useRootfsCache(setup.rootfs());
  const users = D.users(path.join(setup.CACHE, "bench-keys"), opts.users);
  const ctx = {
    opts, venv, logDir, runs: [], firewall: fwWanted,
    tree: opts.tools.includes("ours") ? pinnedTree(path.join(work, "pinned"), opts.providerDir) : undefined,
    oursFirewall: { name: D.FIREWALL.name, port: D.FIREWALL.port, source: D.FIREWALL.source, state: ["NEW"] },
    // The plugin, built from this tree and installed once (outside the measured runs) in a PULUMI_HOME of the bench's.
    pluginHome: opts.tools.includes("ours-plugin") ? installPlugin(path.join(work, "plugin")) : undefined,
  };
  const versions = {
    node: process.version,
    pulumi: execFileSync("pulumi", ["version"]).toString().trim(),
    ...(opts.pulumiBin ? { pulumiBin: `${path.join(opts.pulumiBin, "pulumi")} (not the project's CLI: --pulumi-bin)` } : {}),
    ...venv.versions,
    openssh: "Debian 12 sandbox hosts (sshd -V: see test/sandbox)",
    // Which sftp-jail was measured: the commit, "+changes" when the work tree differed from it.
    sftpJail: gitDescribe(),
  };
  const allHostNames = new Set();
  const up = async (list) => {
    list.forEach((n) => allHostNames.add(n));
    return S.up(list);
  };
  Object.assign(ctx, { users, fwWanted, endStates: {}, endStateFailures: [], reference: undefined });

  try {
    // ---- 1. first converge on fresh hosts, then the no-op check of the same fleet; tools alternate by round ----
    // ---- 2. the same at every other fleet size (the scaling curve): each tool converges its own fresh fleet ----
    const sizes = [opts.hosts, ...opts.scale.filter((x) => x !== opts.hosts)];
    for (const n of sizes) {
      const rounds = n === opts.hosts ? opts.rounds : opts.scaleRounds;
      const tools = opts.tools.filter((t) => t !== "ansible" || n <= opts.ansibleMaxHosts);
      for (let round = 1; round <= rounds; round++) {
        for (const name of rotate(tools, round - 1)) {
          const prefix = { ours: "o", "ours-plugin": "q", ansible: "a", pyinfra: "p" }[name];
          const hosts = await up(n === opts.hosts ? names("c", n) : names(prefix, n)); // fresh: every converge starts from the stock image
          const tool = makeTool(name, ctx);
          try {
            await tool.configure(hosts, users);
            const conv = await measure(ctx, tool, "converge", hosts, round);
            if (conv.error) continue;
            await verifyEndState(ctx, conv, hosts);
            const chk = await measure(ctx, tool, "check", hosts, round);
            if (chk.error) continue;
            chk.noChange = noChange(chk);
            await verifyEndState(ctx, chk, hosts);
            if (name === "ours" && n === opts.hosts && opts.floor) await measureFloor(ctx, tool, hosts, round);
          } finally {
            // --keep-hosts keeps the project directory too, so a run can be repeated by hand against the same fleet.
            if (opts.keepHosts) log(`kept ${tool.dir ?? "(no project directory)"}`);
            else tool.cleanup();
            // Other sizes' fleets go as soon as they are measured (200 hosts per tool would not fit twice).
            if (n !== opts.hosts && !opts.keepHosts) {
              await S.down(hosts.map((h) => h.name));
              hosts.forEach((h) => allHostNames.delete(h.name));
            }
          }
        }
      }
    }
  } finally {
    if (!opts.keepHosts) await S.down([...allHostNames]).catch((e) => log(`teardown: ${e.message}`));
    fs.rmSync(path.join(work, "pinned"), { recursive: true, force: true });
    fs.rmSync(path.join(work, "plugin"), { recursive: true, force: true });
  }

  // ---- results ----
  const results = summarize(ctx, opts, { versions, firewallNote, fwWanted, started, work });
  fs.writeFileSync(path.join(opts.out, "latest.json"), JSON.stringify(results, null, 1) + "\n");
  fs.writeFileSync(path.join(opts.out, "chart.svg"), drawChart(results));
  printTable(results);
  if (!results.endStatesIdentical) {
    console.log("\nEND STATES DIFFER (see endStateFailures in latest.json): this run FAILS.");
    process.exitCode = 1;
  }
  log(`wrote ${path.relative(process.cwd(), path.join(opts.out, "latest.json"))} and chart.svg; logs of every run: ${logDir}`);
}

/** The checked-out commit, with "+changes" when the work tree has uncommitted changes; "unknown" outside git. */
function gitDescribe() {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return "unknown";
  }
}

function summarize(ctx, opts, { versions, firewallNote, fwWanted, started, work }) {
  const ok = ctx.runs.filter((r) => !r.error);
  const pick = (phase, tool, hosts) => ok.filter((r) => r.phase === phase && r.tool === tool && r.hosts === hosts && !r.purpose);
  const stat = (rs) =>
    rs.length
      ? {
          median: r2(median(rs.map((r) => r.seconds))),
          min: r2(Math.min(...rs.map((r) => r.seconds))),
          max: r2(Math.max(...rs.map((r) => r.seconds))),
          n: rs.length,
          connectionsPerHost: r2(median(rs.map((r) => r.connectionsPerHost))),
          sessionsPerHost: r2(median(rs.map((r) => r.sessionsPerHost))),
          providerPeakMiB: rs[0].memory?.providerPeakMiB ? Math.max(...rs.map((r) => r.memory.providerPeakMiB)) : undefined,
          treePeakMiB: Math.max(...rs.map((r) => r.memory?.treePeakMiB ?? 0)),
          cpuSeconds: rs[0].memory?.cpuSeconds ? medianObj(rs.map((r) => r.memory.cpuSeconds)) : undefined,
          noChange: rs.every((r) => r.noChange !== false),
        }
      : undefined;
  const sizes = [...new Set([...opts.scale, opts.hosts])].sort((a, b) => a - b);
  const scenarios = [];
  for (const n of sizes) scenarios.push({ key: `converge@${n}`, phase: "converge", hosts: n }, { key: `check@${n}`, phase: "check", hosts: n });
  const medians = {};
  const ratios = {};
  for (const sc of scenarios) {
    medians[sc.key] = {};
    for (const t of opts.tools) medians[sc.key][t] = stat(pick(sc.phase, t, sc.hosts));
    const ours = medians[sc.key].ours?.median;
    ratios[sc.key] = {};
    for (const t of ["ansible", "pyinfra"]) {
      const p = medians[sc.key][t]?.median;
      if (ours !== undefined && p) ratios[sc.key][`ours/${t}`] = +(ours / p).toFixed(3);
    }
    // The plugin path against the dynamic one (same program, same hosts' state): > 1 means the plugin is slower.
    const plugin = medians[sc.key]["ours-plugin"]?.median;
    if (ours !== undefined && plugin) ratios[sc.key]["ours-plugin/ours"] = +(plugin / ours).toFixed(3);
  }
  const H = opts.hosts;
  // Pulumi's floor (bench/lib/floor.js), beside ours at the main size: not a tool, so not in the ratios or the curve.
  const floorStat = stat(pick("converge", "pulumi-floor", H));
  if (floorStat && medians[`converge@${H}`]) medians[`converge@${H}`]["pulumi-floor"] = floorStat;
  const g = (k, t) => medians[k]?.[t];
  const ratio = (k, t) => ratios[k]?.[`ours/${t}`];
  const cpu = (k, t) => g(k, t)?.cpuSeconds?.total;
  const tg = (target, value, met) => ({ target, value, met: value === undefined || value === null || Number.isNaN(value) ? null : met(value) });
  // The scaling curve: seconds, seconds per host and ratios to pyinfra at every size both tools ran.
  const curve = sizes.map((n) => {
    const row = { hosts: n };
    for (const t of opts.tools) {
      const c = g(`converge@${n}`, t);
      const k = g(`check@${n}`, t);
      if (c || k) {
        row[t] = {
          converge: c?.median, check: k?.median,
          convergePerHost: c ? r2(c.median / n) : undefined, checkPerHost: k ? r2(k.median / n) : undefined,
          convergeCpuSeconds: c?.cpuSeconds?.total, convergeTreePeakMiB: c?.treePeakMiB,
        };
      }
    }
    row.ratios = { converge: ratio(`converge@${n}`, "pyinfra"), check: ratio(`check@${n}`, "pyinfra") };
    return row;
  });
  const big = sizes.filter((n) => n >= 10);
  const perHost = (n) => curve.find((r) => r.hosts === n)?.ours?.convergePerHost;
  const growth = big.length > 1 && perHost(big[0]) && perHost(big[big.length - 1]) ? r2(perHost(big[big.length - 1]) / perHost(big[0])) : undefined;
  const failedEnd = ctx.endStateFailures.length;
  const floorCpu = floorStat?.cpuSeconds?.total;
  const floor = floorStat && {
    what: `the same ${H}-host stacks, resources and state as ours' converge, through the same pulumi, language host and dynamic-provider process, with a provider that does nothing (bench/floor/)`,
    seconds: floorStat.median, cpuSeconds: floorStat.cpuSeconds, treePeakMiB: floorStat.treePeakMiB, connectionsPerHost: floorStat.connectionsPerHost,
    cpuOfPyinfra: floorCpu !== undefined && cpu(`converge@${H}`, "pyinfra") ? r2(floorCpu / cpu(`converge@${H}`, "pyinfra")) : undefined,
    cpuOfOurs: floorCpu !== undefined && cpu(`converge@${H}`, "ours") ? r2(floorCpu / cpu(`converge@${H}`, "ours")) : undefined,
  };
  const targets = [
    tg(`first converge <= 0.6x pyinfra (${H} hosts)`, ratio(`converge@${H}`, "pyinfra"), (v) => v <= 0.6),
    tg(`first converge <= 0.2x Ansible (${H} hosts)`, ratio(`converge@${H}`, "ansible"), (v) => v <= 0.2),
    tg(`drift check <= 0.25x pyinfra (${H} hosts)`, ratio(`check@${H}`, "pyinfra"), (v) => v <= 0.25),
    tg(`drift check <= 0.05x Ansible (${H} hosts)`, ratio(`check@${H}`, "ansible"), (v) => v <= 0.05),
    tg(`1 SSH session per host in a drift check (${H} hosts, sessions/host)`, g(`check@${H}`, "ours")?.sessionsPerHost, (v) => v <= 1),
    tg(`1 SSH connection per host in a drift check (${H} hosts, connections/host)`, g(`check@${H}`, "ours")?.connectionsPerHost, (v) => v <= 1),
    tg(`<= 3 SSH connections per host in a converge (${H} hosts, connections/host)`, g(`converge@${H}`, "ours")?.connectionsPerHost, (v) => v <= 3),
    tg(`converge CPU seconds of our process tree <= pyinfra's (${H} hosts; ours/pyinfra)`,
      cpu(`converge@${H}`, "ours") !== undefined && cpu(`converge@${H}`, "pyinfra") ? r2(cpu(`converge@${H}`, "ours") / cpu(`converge@${H}`, "pyinfra")) : undefined, (v) => v <= 1),
    tg(`process-tree peak memory <= 450 MiB in the converge (${H} hosts, MiB)`, g(`converge@${H}`, "ours")?.treePeakMiB, (v) => v <= 450),
    ...sizes.filter((n) => n >= 10 && n !== H).flatMap((n) => [
      tg(`first converge <= 0.6x pyinfra (${n} hosts)`, ratio(`converge@${n}`, "pyinfra"), (v) => v <= 0.6),
      tg(`drift check <= 0.25x pyinfra (${n} hosts)`, ratio(`check@${n}`, "pyinfra"), (v) => v <= 0.25),
    ]),
    tg(`converge time per host does not grow with the fleet (${big[0]} -> ${big[big.length - 1]} hosts, ratio of s/host; <= 1.1)`, growth, (v) => v <= 1.1),
    tg("end states identical: every tool, round, size and host (failures)", ctx.reference ? failedEnd : undefined, (v) => v === 0),
  ];
  // The drift check runs as the README says to run it (bench/lib/ours.js, check): rollout's PREVIEW_ENV (a preview
  // skips the per-step state serialization it would throw away, and refreshes as the program runs); --pulumi-env can
  // set either otherwise.
  const previewEnv = Object.entries({ ...PREVIEW_ENV, ...opts.pulumiEnv }).filter(([k]) => ["PULUMI_SKIP_CHECKPOINTS", "PULUMI_RUN_PROGRAM"].includes(k)).map(([k, v]) => `${k}=${v} `).join("");
  return {
    generatedAt: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: { cpus: os.cpus().length, memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), loadavgAtEnd: loadavg() },
    versions,
    settings: {
      rounds: opts.rounds, scaleRounds: opts.scaleRounds, hosts: opts.hosts, usersPerHost: opts.users, scale: opts.scale,
      tools: opts.tools, ansibleMaxHosts: opts.ansibleMaxHosts, ansibleForks: opts.forks, pulumiParallel: opts.parallel,
      pulumiTranspileOnly: opts.transpileOnly, pulumiEnv: opts.pulumiEnv, runEnv: RUN_ENV, providerDir: opts.providerDir ?? "node_modules/sftp-jail (pinned copy)",
      firewall: fwWanted, firewallNote,
      stateBackend: fileBackendUrl("<stack dir>/.state"),
      commands: {
        ours: { converge: `pulumi up --yes --skip-preview --parallel ${opts.parallel}`, check: `${previewEnv}pulumi preview --refresh --parallel ${opts.parallel}` },
        "ours-plugin": { converge: `pulumi up --yes --skip-preview --parallel ${opts.parallel} (Pulumi YAML program, provider plugin)`, check: `${previewEnv}pulumi preview --refresh --parallel ${opts.parallel}` },
        ansible: { converge: "ansible-playbook site.yml", check: "ansible-playbook --check --diff site.yml" },
        pyinfra: { converge: "pyinfra -y inventory.py deploy.py", check: "pyinfra --dry inventory.py deploy.py" },
        "pulumi-floor": { converge: `pulumi up --yes --skip-preview --parallel ${opts.parallel} (bench/floor/program.js: ours' resources replayed, a provider that does nothing)` },
      },
      notes: [
        "Times are wall clock of the whole CLI run (start-up included), medians over rounds; tools alternate within each round.",
        "Every converge starts on freshly created hosts. The check runs on the fleet its own tool converged.",
        "Every size is a fresh fleet converged for real by each tool, then checked. Ours splits a fleet into stacks of --stack-hosts hosts run --stack-concurrency at a time (checkpoints on: crash recovery as by default). Its drift check is a preview run with PULUMI_SKIP_CHECKPOINTS=true and PULUMI_RUN_PROGRAM=true, as the README says to run it and as sftp-jail-rollout --preview does: a preview saves no state, so the per-step state serialization the first skips is thrown away anyway; the second refreshes each resource as the program declares it, in the preview's own pass (one provider process instead of two).",
        "CPU total: exact utime+stime of the tool's whole process tree (reaped children of the bench); per-role figures are sampled every 50 ms. treePeakMiB: peak of the summed RSS of the tree.",
        "CPU machine: busy CPU of the whole machine over the run (/proc/stat), so the hosts' side of a tool's work (sshd, the commands it runs there) counts too; on an idle machine it is the tool plus its hosts.",
        "End state: after every converge and check, every host's fingerprint must equal the first one taken (any tool); any difference fails the run.",
        "connections / sessions are counted per host from sshd's VERBOSE log ('Connection from', 'Starting session:').",
        "The machine is shared: loadavg is recorded with every run.",
      ],
    },
    endStates: ctx.endStates,
    endStatesIdentical: ctx.endStateFailures.length === 0 && new Set(Object.values(ctx.endStates)).size <= 1,
    endStateFailures: ctx.endStateFailures,
    medians,
    ratios,
    curve,
    targets,
    floor,
    runs: ctx.runs,
    logs: work,
  };
}

function medianObj(objs) {
  const keys = new Set(objs.flatMap((o) => Object.keys(o)));
  return Object.fromEntries([...keys].map((k) => [k, r2(median(objs.map((o) => o[k] ?? 0)))]));
}

function drawChart(res) {
  const groups = Object.entries(res.medians).map(([key, byTool]) => {
    const [phase, n] = key.split("@");
    return {
      title: phase === "converge" ? `first converge` : `no-op check`,
      subtitle: `${n} host${n === "1" ? "" : "s"}`,
      bars: Object.entries(byTool).filter(([tool, s]) => s && tool !== "pulumi-floor").map(([tool, s]) => ({ tool, ...s })),
      notes: Object.entries(res.ratios[key] ?? {}).map(([x, v]) => `${x.replace("ours/", "ours ÷ ")} = ${v}`),
    };
  });
  return chart(groups, {
    title: `sftp-jail vs Ansible vs pyinfra — ${res.settings.usersPerHost} jailed users per host (${res.generatedAt.slice(0, 10)})`,
    footer: [
      `Medians of ${res.settings.rounds} alternating round(s); whiskers: min–max. ${res.machine.cpus} CPUs, shared machine. ${res.settings.firewall ? "With" : "Without"} the firewall rule.`,
      `Wall clock of the whole CLI run. SSH sessions per host in the ${res.settings.hosts}-host check: ` +
        Object.entries(res.medians[`check@${res.settings.hosts}`] ?? {}).filter(([, s]) => s).map(([t, s]) => `${t} ${s.sessionsPerHost}`).join(", ") + ".",
      `pulumi ${res.versions.pulumi}, ansible-core ${res.versions["ansible-core"] ?? "-"}, pyinfra ${res.versions.pyinfra ?? "-"}`,
    ],
  });
}

function printTable(res) {
  const rows = [["scenario", "tool", "median s", "min–max", "n", "conn/host", "sess/host", "ratio ours/tool", "CPU s (tree)", "CPU s (machine)", "peak MiB (tree)"]];
  for (const [key, byTool] of Object.entries(res.medians)) {
    for (const [tool, s] of Object.entries(byTool)) {
      if (!s) {
        rows.push([key, tool, "-", "", "", "", "", "", "", "", ""]);
        continue;
      }
      const ratio = tool === "ours" ? "" : tool === "pulumi-floor" ? (res.floor?.cpuOfOurs !== undefined ? `${res.floor.cpuOfOurs} (floor/ours CPU)` : "") : tool === "ours-plugin" ? `${res.ratios[key]["ours-plugin/ours"] ?? ""} (plugin/ours)` : (res.ratios[key][`ours/${tool}`] ?? "").toString();
      rows.push([key, tool, s.median.toFixed(2), `${s.min}–${s.max}`, String(s.n), String(s.connectionsPerHost), String(s.sessionsPerHost), ratio,
        String(s.cpuSeconds?.total ?? "-"), String(s.cpuSeconds?.machine ?? "-"), String(s.treePeakMiB)]);
    }
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => String(c).padEnd(w[j])).join("  "));
    if (i === 0) console.log(w.map((x) => "-".repeat(x)).join("  "));
  }
  console.log("\nscaling curve (median s; s/host; ours/pyinfra):");
  for (const r of res.curve) {
    const f = (t) => (r[t] ? `${t} converge ${r[t].converge ?? "-"} s (${r[t].convergePerHost ?? "-"}/host, ${r[t].convergeCpuSeconds ?? "-"} CPU-s, ${r[t].convergeTreePeakMiB ?? "-"} MiB), check ${r[t].check ?? "-"} s` : "");
    console.log(`  ${String(r.hosts).padStart(3)} hosts: ${["ours", "ours-plugin", "pyinfra", "ansible"].map(f).filter(Boolean).join("; ")}; ratios ${JSON.stringify(r.ratios)}`);
  }
  const failed = res.runs.filter((r) => r.error);
  if (failed.length) console.log(`FAILED runs: ${failed.map((r) => `${r.phase}-${r.tool}-${r.hosts}h-r${r.round}`).join(", ")} (see latest.json)`);
  const dirty = res.runs.filter((r) => r.noChange === false);
  if (dirty.length) console.log(`checks that reported changes on a converged fleet: ${dirty.map((r) => `${r.tool}@${r.hosts}`).join(", ")}`);
  console.log(`\n${res.settings.firewallNote}`);
  console.log(`end states identical (every tool, round, size, host): ${res.endStatesIdentical} ${JSON.stringify(res.endStates)}` +
    (res.endStateFailures.length ? ` — ${res.endStateFailures.length} mismatch(es): ${JSON.stringify(res.endStateFailures)}` : ""));
  console.log("\ntargets:");
  for (const t of res.targets) console.log(`  ${t.met === null ? "n/a " : t.met ? "MET " : "MISS"}  ${t.target}: ${t.value ?? "not measured"}`);
  if (res.floor) {
    console.log(`\nPulumi's floor (${res.floor.what}): ${res.floor.cpuSeconds?.total ?? "-"} CPU-s of its tree ` +
      `(${Object.entries(res.floor.cpuSeconds ?? {}).filter(([k]) => !["total", "machine"].includes(k)).map(([k, v]) => `${k} ${v}`).join(", ")}), ` +
      `${res.floor.seconds} s, ${res.floor.treePeakMiB} MiB, ${res.floor.connectionsPerHost} SSH connections/host: ${res.floor.cpuOfPyinfra ?? "-"}x pyinfra's CPU, ${res.floor.cpuOfOurs ?? "-"} of ours'`);
  }
  console.log(`\ntotal ${res.durationSeconds} s`);
}

main().catch((e) => {
  console.error(`[bench] error: ${e.stack || e.message}`);
  process.exit(1);
});
