// Where a `pulumi` run's time goes, from its OpenTelemetry trace (`--otel-traces file://…`, JSON lines): when the
// program first registered a resource, when the provider process started, and per provider RPC (Create, Read, Check,
// Diff…) how many, how long on average, and the window from the first to the last.
"use strict";
const fs = require("fs");

function summarizeOtel(file) {
  const spans = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    let o;
    try {
      o = JSON.parse(line);
    } catch {
      continue;
    }
    for (const rs of o.resourceSpans ?? []) {
      const svc = (rs.resource?.attributes ?? []).find((a) => a.key === "service.name")?.value?.stringValue ?? "?";
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) spans.push({ svc, name: s.name, a: Number(BigInt(s.startTimeUnixNano) / 1000n) / 1e6, b: Number(BigInt(s.endTimeUnixNano) / 1000n) / 1e6 });
      }
    }
  }
  if (!spans.length) return undefined;
  const t0 = Math.min(...spans.map((s) => s.a));
  const rel = (v) => +(v - t0).toFixed(2);
  const cli = spans.filter((s) => s.svc === "pulumi-cli");
  const ops = {};
  for (const s of cli) {
    const m = /^pulumirpc\.ResourceProvider\/(\w+)$/.exec(s.name);
    if (!m || ["GetPluginInfo", "Handshake", "Configure", "CheckConfig", "Cancel"].includes(m[1])) continue;
    const o = (ops[m[1]] ??= { n: 0, sum: 0, first: Infinity, last: 0 });
    o.n++;
    o.sum += s.b - s.a;
    o.first = Math.min(o.first, s.a);
    o.last = Math.max(o.last, s.b);
  }
  for (const o of Object.values(ops)) {
    o.avgSeconds = +(o.sum / o.n).toFixed(3);
    o.window = [rel(o.first), rel(o.last)];
    o.concurrency = +(o.sum / Math.max(1e-3, o.last - o.first)).toFixed(1);
    delete o.sum;
    delete o.first;
    delete o.last;
  }
  const regs = cli.filter((s) => s.name === "pulumirpc.ResourceMonitor/RegisterResource").map((s) => s.a).sort((x, y) => x - y);
  const runs = cli
    .filter((s) => s.name === "run-program")
    .map((s) => {
      // The stack registers first; the program's own first resource is the run's second registration.
      const inRun = regs.filter((t) => t >= s.a && t <= s.b);
      return { window: [rel(s.a), rel(s.b)], firstResourceAt: inRun.length > 1 ? rel(inRun[1]) : undefined };
    });
  const providers = cli.filter((s) => s.name === "pulumirpc.ResourceProvider/Handshake").map((s) => rel(s.a));
  return {
    wallSeconds: rel(Math.max(...spans.map((s) => s.b))),
    programRuns: runs,
    resourcesRegistered: regs.length,
    providerStartedAt: providers,
    providerOps: ops,
  };
}

module.exports = { summarizeOtel };
