#!/usr/bin/env node
// `npm run bench`: the same SFTP jail built on the same sandbox hosts by sftp-jail (`pulumi up` of the root program),
// Ansible and pyinfra, alternating, several rounds; then the no-op drift check of the converged fleets at several
// sizes. Writes bench/results/latest.json and bench/results/chart.svg and prints a table. Never part of `npm test`.
//
//   npm run bench -- [--quick|--full] [--rounds 2] [--scale-rounds 1] [--hosts 10] [--users 10] [--scale 1,10,50]
//                    [--tools ours,ansible,pyinfra]
//                    [--ansible-max-hosts 10] [--forks 10] [--firewall auto|on|off] [--parallel N] [--profile]
//                    [--transpile-only] [--pulumi-env K=V]... [--provider-dir DIR] [--upgrade-tools] [--keep-hosts] [--out bench/results]
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
const { Ours, pinnedTree } = require("./lib/ours");
const { Ansible, Pyinfra } = require("./lib/peers");
const { chart } = require("./lib/chart");
const { summarizeOtel } = require("./lib/otel");

const log = setup.log;
const ROOT = path.resolve(__dirname, "..");

// ------------------------------------------------------------------------------------------------------ options
function parseArgs(argv) {
  const o = {
    rounds: 2,
    hosts: 10,
    users: 10,
    scale: [1, 10, 50],
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
      case "--provider-dir": o.providerDir = path.resolve(val()); break;
      case "--upgrade-tools": o.upgradeTools = true; break;
      case "--keep-hosts": o.keepHosts = true; break;
      case "--out": o.out = path.resolve(val()); break;
      case "--quick": o.rounds = 1; o.scale = [1, 10]; break;
      case "--full": o.rounds = 3; o.scaleRounds = 3; o.ansibleMaxHosts = 50; break;
      case "-h": case "--help":
        console.log(fs.readFileSync(__filename, "utf8").split("\n").slice(1, 12).map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
        process.exit(0);
      // falls through
      default: throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  for (const t of o.tools) if (!["ours", "ansible", "pyinfra"].includes(t)) throw new Error(`unknown tool ${t}`);
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

/** Does the root program's stack config accept `jails[].firewall` yet? */
function programHasFirewall() {
  const src = fs.readFileSync(path.join(ROOT, "program/config.ts"), "utf8");
  const jail = /const jail = z[\s\S]*?\n\}\);/.exec(src)?.[0] ?? "";
  return /\bfirewall\s*:/.test(jail);
}

function makeTool(name, ctx) {
  const common = { firewall: ctx.firewall, logDir: ctx.logDir };
  if (name === "ours") return new Ours(`ours`, { ...common, firewall: ctx.firewall ? ctx.oursFirewall : false, parallel: ctx.opts.parallel, tree: ctx.tree,
      env: { ...(ctx.opts.transpileOnly ? { PULUMI_NODEJS_TRANSPILE_ONLY: "true" } : {}), ...ctx.opts.pulumiEnv } });
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
    if (phase === "prepare") r = await tool.prepare(tag);
    else r = phase === "converge" ? await tool.converge(tag, otelFile) : await tool.check(tag, otelFile);
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
    (r.memory?.providerPeakMiB ? `, provider peak ${r.memory.providerPeakMiB} MiB` : "") + ` ${JSON.stringify(r.summary)}`);
  return rec;
}

/** No-op check must report nothing to change. */
function noChange(rec) {
  const s = rec.summary ?? {};
  if (rec.tool === "ours") return !s.create && !s.update && !s.delete && !s.replace;
  if (rec.tool === "ansible") return s.changed === 0 && s.failed === 0;
  return !s.changes;
}

// ------------------------------------------------------------------------------------------------------ main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
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

  const venv = opts.tools.some((t) => t !== "ours") ? setup.venv({ upgrade: opts.upgradeTools }) : { bin: "", versions: {} };
  S.useRootfsCache(setup.rootfs());
  const users = D.users(path.join(setup.CACHE, "bench-keys"), opts.users);
  const ctx = {
    opts, venv, logDir, runs: [], firewall: fwWanted,
    tree: opts.tools.includes("ours") ? pinnedTree(path.join(work, "pinned"), opts.providerDir) : undefined,
    oursFirewall: { name: D.FIREWALL.name, port: D.FIREWALL.port, source: D.FIREWALL.source, state: ["NEW"] },
  };
  const versions = {
    node: process.version,
    pulumi: execFileSync("pulumi", ["version"]).toString().trim(),
    ...venv.versions,
    openssh: "Debian 12 sandbox hosts (sshd -V: see test/sandbox)",
  };
  const allHostNames = new Set();
  const up = async (list) => {
    list.forEach((n) => allHostNames.add(n));
    return S.up(list);
  };
  const captured = {}; // peer tool -> files of a host it converged (to prepare its scale fleets)
  const endStates = {}; // tool -> fingerprint of its end state

  try {
    // ---- 1. first converge on fresh hosts, then the no-op check of the same fleet; tools alternate by round ----
    const fleet = names("c", opts.hosts);
    for (let round = 1; round <= opts.rounds; round++) {
      for (const name of rotate(opts.tools, round - 1)) {
        const hosts = await up(fleet); // --fresh: recreated, so every converge starts from the stock image
        const tool = makeTool(name, ctx);
        try {
          await tool.configure(hosts, users);
          const conv = await measure(ctx, tool, "converge", hosts, round);
          if (conv.error) continue;
          const fp = await HS.fingerprint(hosts, users, fwWanted);
          const login = await HS.sftpLogin(hosts[0], users[0].name, path.join(setup.CACHE, "bench-keys", users[0].name));
          conv.endState = { fingerprint: fp.sums[0], uniformAcrossHosts: fp.uniform, sftpLogin: login.ok, sftpListing: login.listing };
          endStates[name] ??= fp;
          if (!fp.uniform || !login.ok) log(`WARNING: ${name}: end state not as expected: ${JSON.stringify(conv.endState)}`);
          if (name !== "ours" && !captured[name]) captured[name] = await HS.capture(hosts[0]);
          const chk = await measure(ctx, tool, "check", hosts, round);
          if (!chk.error) chk.noChange = noChange(chk);
        } finally {
          tool.cleanup();
        }
      }
    }

    // ---- 2. the no-op check at other fleet sizes (the converge fleet's checks count for opts.hosts) ----
    for (const n of opts.scale.filter((x) => x !== opts.hosts)) {
      const tools = opts.tools.filter((t) => t !== "ansible" || n <= opts.ansibleMaxHosts);
      const fleets = {};
      for (const name of tools) {
        const prefix = { ours: "o", ansible: "a", pyinfra: "p" }[name];
        const hosts = await up(names(prefix, n));
        const tool = makeTool(name, ctx);
        await tool.configure(hosts, users);
        if (name === "ours") {
          // Ours keeps state, so its fleet is converged for real (recorded: the converge at this size).
          const conv = await measure(ctx, tool, "prepare", hosts, 0, { purpose: "converge of the check fleet, PULUMI_SKIP_CHECKPOINTS=true" });
          if (conv.error) {
            tool.cleanup();
            continue;
          }
        } else if (captured[name]) {
          await HS.restore(hosts, captured[name]);
        } else {
          log(`${name}: no converged host to copy from; skipping its ${n}-host check`);
          tool.cleanup();
          continue;
        }
        fleets[name] = { hosts, tool };
      }
      for (let round = 1; round <= opts.scaleRounds; round++) {
        for (const name of rotate(Object.keys(fleets), round - 1)) {
          const { hosts, tool } = fleets[name];
          const chk = await measure(ctx, tool, "check", hosts, round);
          if (!chk.error) chk.noChange = noChange(chk);
        }
      }
      for (const { hosts, tool } of Object.values(fleets)) {
        tool.cleanup();
        if (!opts.keepHosts) await S.down(hosts.map((h) => h.name));
      }
    }
  } finally {
    if (!opts.keepHosts) await S.down([...allHostNames]).catch((e) => log(`teardown: ${e.message}`));
    fs.rmSync(path.join(work, "pinned"), { recursive: true, force: true });
  }

  // ---- results ----
  const results = summarize(ctx, opts, { versions, firewallNote, fwWanted, endStates, started, work });
  fs.writeFileSync(path.join(opts.out, "latest.json"), JSON.stringify(results, null, 1) + "\n");
  fs.writeFileSync(path.join(opts.out, "chart.svg"), drawChart(results));
  printTable(results);
  log(`wrote ${path.relative(process.cwd(), path.join(opts.out, "latest.json"))} and chart.svg; logs of every run: ${logDir}`);
}

function summarize(ctx, opts, { versions, firewallNote, fwWanted, endStates, started, work }) {
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
  const scenarios = [{ key: `converge@${opts.hosts}`, phase: "converge", hosts: opts.hosts }];
  for (const n of [...new Set([...opts.scale, opts.hosts])].sort((a, b) => a - b)) scenarios.push({ key: `check@${n}`, phase: "check", hosts: n });
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
  }
  const H = opts.hosts;
  const g = (k, t) => medians[k]?.[t];
  const ratio = (k, t) => ratios[k]?.[`ours/${t}`];
  const scale50 = g("check@50", "ours")?.median && g(`check@${H}`, "ours")?.median ? +(g("check@50", "ours").median / g(`check@${H}`, "ours").median).toFixed(2) : undefined;
  const targets = [
    { target: `drift check <= 0.2x Ansible (${H} hosts)`, value: ratio(`check@${H}`, "ansible"), met: ratio(`check@${H}`, "ansible") <= 0.2 },
    { target: `drift check <= 1.0x pyinfra (${H} hosts)`, value: ratio(`check@${H}`, "pyinfra"), met: ratio(`check@${H}`, "pyinfra") <= 1.0 },
    { target: `first converge <= 0.5x Ansible (${H} hosts)`, value: ratio(`converge@${H}`, "ansible"), met: ratio(`converge@${H}`, "ansible") <= 0.5 },
    { target: `first converge <= 1.0x pyinfra (${H} hosts)`, value: ratio(`converge@${H}`, "pyinfra"), met: ratio(`converge@${H}`, "pyinfra") <= 1.0 },
    { target: "<= 1 exec per host to observe (drift check sessions/host)", value: g(`check@${H}`, "ours")?.sessionsPerHost, met: g(`check@${H}`, "ours")?.sessionsPerHost <= 1 },
    { target: `50-host check <= 2x the ${H}-host check`, value: scale50, met: scale50 !== undefined ? scale50 <= 2 : undefined },
  ].map((t) => (t.value === undefined ? { ...t, met: null } : t));
  const scaleConverges = ok
    .filter((r) => r.purpose)
    .map((r) => ({ tool: r.tool, hosts: r.hosts, seconds: r.seconds, connectionsPerHost: r.connectionsPerHost, sessionsPerHost: r.sessionsPerHost, providerPeakMiB: r.memory?.providerPeakMiB }));
  return {
    generatedAt: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: { cpus: os.cpus().length, memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), loadavgAtEnd: loadavg() },
    versions,
    settings: {
      rounds: opts.rounds, scaleRounds: opts.scaleRounds, hosts: opts.hosts, usersPerHost: opts.users, scale: opts.scale,
      tools: opts.tools, ansibleMaxHosts: opts.ansibleMaxHosts, ansibleForks: opts.forks, pulumiParallel: opts.parallel ?? "pulumi default",
      pulumiTranspileOnly: opts.transpileOnly, pulumiEnv: opts.pulumiEnv, providerDir: opts.providerDir ?? "node_modules/sftp-jail (pinned copy)",
      firewall: fwWanted, firewallNote,
      commands: {
        ours: { converge: "pulumi up --yes --skip-preview", check: "pulumi preview --refresh" },
        ansible: { converge: "ansible-playbook site.yml", check: "ansible-playbook --check --diff site.yml" },
        pyinfra: { converge: "pyinfra -y inventory.py deploy.py", check: "pyinfra --dry inventory.py deploy.py" },
      },
      notes: [
        "Times are wall clock of the whole CLI run (start-up included), medians over rounds; tools alternate within each round.",
        "Every converge starts on freshly created hosts. The check runs on the fleet its own tool converged.",
        "Peers' fleets for other sizes hold the files copied from a host that peer converged (they keep no state); ours converges them for real.",
        "connections / sessions are counted per host from sshd's VERBOSE log ('Connection from', 'Starting session:').",
        "The machine is shared: loadavg is recorded with every run.",
      ],
    },
    endStates: Object.fromEntries(Object.entries(endStates).map(([t, fp]) => [t, fp.sums[0]])),
    endStatesIdentical: new Set(Object.values(endStates).map((fp) => fp.sums[0])).size <= 1,
    medians,
    ratios,
    scaleConverges,
    targets,
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
      bars: Object.entries(byTool).filter(([, s]) => s).map(([tool, s]) => ({ tool, ...s })),
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
  const rows = [["scenario", "tool", "median s", "min–max", "n", "conn/host", "sess/host", "ratio ours/tool", "peak MiB"]];
  for (const [key, byTool] of Object.entries(res.medians)) {
    for (const [tool, s] of Object.entries(byTool)) {
      if (!s) {
        rows.push([key, tool, "-", "", "", "", "", "", ""]);
        continue;
      }
      const ratio = tool === "ours" ? "" : (res.ratios[key][`ours/${tool}`] ?? "").toString();
      const mem = tool === "ours" ? `${s.providerPeakMiB} (provider)` : `${s.treePeakMiB} (tree)`;
      rows.push([key, tool, s.median.toFixed(2), `${s.min}–${s.max}`, String(s.n), String(s.connectionsPerHost), String(s.sessionsPerHost), ratio, mem]);
    }
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => String(c).padEnd(w[j])).join("  "));
    if (i === 0) console.log(w.map((x) => "-".repeat(x)).join("  "));
  }
  for (const c of res.scaleConverges) {
    console.log(`(ours, converging its ${c.hosts}-host check fleet with PULUMI_SKIP_CHECKPOINTS=true: ${c.seconds} s, ${c.connectionsPerHost} conn/host, ${c.sessionsPerHost} sessions/host, provider peak ${c.providerPeakMiB} MiB)`);
  }
  const failed = res.runs.filter((r) => r.error);
  if (failed.length) console.log(`FAILED runs: ${failed.map((r) => `${r.phase}-${r.tool}-${r.hosts}h-r${r.round}`).join(", ")} (see latest.json)`);
  const dirty = res.runs.filter((r) => r.noChange === false);
  if (dirty.length) console.log(`checks that reported changes on a converged fleet: ${dirty.map((r) => `${r.tool}@${r.hosts}`).join(", ")}`);
  console.log(`\n${res.settings.firewallNote}`);
  console.log(`end states identical across tools: ${res.endStatesIdentical} ${JSON.stringify(res.endStates)}`);
  console.log("\ntargets:");
  for (const t of res.targets) console.log(`  ${t.met === null ? "n/a " : t.met ? "MET " : "MISS"}  ${t.target}: ${t.value ?? "not measured"}`);
  console.log(`\ntotal ${res.durationSeconds} s`);
}

main().catch((e) => {
  console.error(`[bench] error: ${e.stack || e.message}`);
  process.exit(1);
});
