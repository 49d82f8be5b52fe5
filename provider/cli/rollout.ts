#!/usr/bin/env node
/**
 * sftp-jail-rollout: rolls one change out across many stacks (e.g. one per site) with Pulumi's Automation API — a
 * canary first, then waves of bounded concurrency — stopping at the first failed stack, then prints a summary table.
 * Pulumi is the engine (its hosted deployments can run the same stacks); this only orders the runs. Usage: {@link USAGE}.
 */
import * as fs from "fs";
import * as path from "path";
import type { Stack } from "@pulumi/pulumi/automation";
import { DEFAULT_PARALLEL, EXIT, UsageError, main, optionTokens, wholeNumber } from "./args";

export const USAGE = `usage: sftp-jail-rollout --stacks NAME[,NAME...] [options]

Runs \`pulumi up\` (or preview) on several stacks of one Pulumi project: the canary stacks first, then waves of
--wave-size stacks, at most --concurrency at a time. The first failed stack stops the rollout: stacks already
running finish, every later stack is skipped. A table of every stack's result follows.

options:
  --stacks A,B,C      the stacks, in rollout order (required)
  --canary N          stacks in the first wave, alone (default 1; 0: no canary)
  --wave-size N       stacks per later wave (default 1)
  --concurrency N     stacks of one wave run at the same time (default 1)
  --parallel N        resource operations each stack's engine runs at once (default ${DEFAULT_PARALLEL}; Pulumi's own
                      default is 4 per CPU, and sftp-jail's operations mostly wait on their hosts)
  --preview           preview only: change nothing (run with PULUMI_SKIP_CHECKPOINTS=true, which skips state
                      serialization a preview throws away, and PULUMI_RUN_PROGRAM=true, which refreshes each
                      resource as the program declares it, in one pass)
  --refresh           read every host again before the preview or update (drift check)
  --dir DIR           the Pulumi project directory holding Pulumi.yaml (default: the current directory)
  -h, --help          print this help

examples:
  sftp-jail-rollout --stacks fra,ams,nyc,sfo --preview --refresh
  sftp-jail-rollout --stacks fra,ams,nyc,sfo --canary 1 --wave-size 2 --concurrency 2 --dir ~/fleet

exit codes:
  0  every stack succeeded
  1  a stack failed (the table names it, its host and the fix); later stacks were skipped
  2  usage error: no stack was touched
`;

export interface RolloutOptions {
  stacks: string[];
  canary: number;
  waveSize: number;
  concurrency: number;
  /** Pulumi's --parallel for each stack. */
  parallel: number;
  preview: boolean;
  refresh: boolean;
  dir: string;
  /** Receives progress lines. */
  print?: (line: string) => void;
}

export interface StackResult {
  stack: string;
  wave: number;
  result: "succeeded" | "failed" | "skipped";
  changes: Record<string, number>;
  seconds: number;
  error?: string;
}

/** Canary wave, then waves of `waveSize` (pure). */
export function stackWaves(stacks: string[], canary: number, waveSize: number): string[][] {
  const out: string[][] = [];
  if (canary > 0) out.push(stacks.slice(0, canary));
  for (let i = Math.min(canary, stacks.length); i < stacks.length; i += waveSize) out.push(stacks.slice(i, i + waveSize));
  return out;
}

/** A host of the fleet, as the stack config lists it (`<project>:hosts`). */
export interface FleetHost {
  name: string;
  address: string;
}

/** The fleet's hosts in a stack's config: every `*:hosts` value that lists `{ name, connection: { host, port } }`. */
export function fleetHosts(config: Record<string, { value: string }>): FleetHost[] {
  const out: FleetHost[] = [];
  for (const [key, { value }] of Object.entries(config)) {
    if (!key.endsWith(":hosts")) continue;
    let hosts: unknown;
    try {
      hosts = JSON.parse(value);
    } catch {
      continue;
    }
    if (!Array.isArray(hosts)) continue;
    for (const h of hosts as Array<{ name?: unknown; connection?: { host?: unknown; port?: unknown } }>) {
      if (typeof h?.name === "string" && typeof h.connection?.host === "string") {
        out.push({ name: h.name, address: `${h.connection.host}:${typeof h.connection.port === "number" ? h.connection.port : 22}` });
      }
    }
  }
  return out;
}

/** Names each fleet host where the text gives only its address: `on 127.0.0.1:2202` -> `on h2 (127.0.0.1:2202)`. */
export function nameHosts(text: string, hosts: FleetHost[]): string {
  let out = text;
  for (const h of hosts) {
    const escaped = h.address.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // An address, possibly with user@, not part of a longer address or port, and not already named.
    const re = new RegExp(`(?<![\\w.:@-])((?:[\\w.-]+@)?${escaped})(?!\\d)(?!\\))`, "g");
    out = out.replace(re, `${h.name} ($1)`);
  }
  return out;
}

/**
 * The error of a failed run that says what went wrong, whole: from its "Diagnostics:" section (progress lines carry
 * only an error's first line), the first error that is not the stack's generic "update failed", with the lines
 * indented under it (the "fix:" line of an sftp-jail error), each trimmed.
 */
export function firstError(output: string): string[] {
  const diag = output.lastIndexOf("Diagnostics:");
  const lines = (diag >= 0 ? output.slice(diag) : output).split("\n");
  const blocks: string[][] = [];
  lines.forEach((l, i) => {
    if (!/(^|\s)error: /.test(l)) return;
    const indent = l.search(/\S/);
    const block = [l.slice(l.indexOf("error: ") + "error: ".length).trim()];
    for (const m of lines.slice(i + 1)) {
      if (!m.trim() || m.search(/\S/) <= indent) break;
      block.push(m.trim());
    }
    blocks.push(block);
  });
  const generic = (b: string[]) => /^(update|preview|refresh|destroy) failed$|^\d+ errors?$/.test(b[0]);
  const chosen = blocks.find((b) => !generic(b)) ?? blocks[0] ?? [output.split("\n").find((l) => l.trim())?.trim() ?? "failed without output"];
  return chosen.map((l) => (l.length > 300 ? `${l.slice(0, 297)}...` : l));
}

/**
 * The environment of a preview (sftp-jail-rollout --preview, the bench's drift check; the README gives the same for a
 * plain `pulumi preview --refresh`). Each is set only when the user has not set it; neither is ever used for `up`.
 * - PULUMI_SKIP_CHECKPOINTS: a preview saves no state: Pulumi's file backend gives it a persister that discards
 *   (pkg/backend/diy/backend.go), yet its snapshot manager still serializes the whole state after every step, ~45% of
 *   the CLI's CPU in a 10-host drift check. The setting makes that manager keep the same in-memory state and save
 *   once, at the end, which a preview discards too: nothing is given up (the crash bookkeeping it skips is only ever
 *   written by an update).
 * - PULUMI_RUN_PROGRAM (the CLI's `--run-program`, Pulumi >= 3.170): with --refresh, each resource is refreshed as the
 *   program registers it, in the preview's own deployment, instead of in a refresh pass of its own first: one
 *   provider process instead of two, and the program starts at once (10-host check -4% wall, -100 MiB peak, measured
 *   in docs/PERFORMANCE.md). Every resource in the program is still read from its host; the refresh's diffs, the
 *   preview's steps and its change summary are the same (test/e2e/automation.test.ts). One difference, Pulumi's: a
 *   resource the program no longer declares is not refreshed first, so it is listed for deletion even when it is
 *   already gone from its host.
 */
export const PREVIEW_ENV: Record<string, string> = Object.fromEntries(
  Object.entries({ PULUMI_SKIP_CHECKPOINTS: "true", PULUMI_RUN_PROGRAM: "true" }).filter(([k]) => process.env[k] === undefined),
);

/**
 * The environment of every run (preview and up): the Node processes Pulumi starts load `preload.js` first, which
 * defers the SDK's eager load of TypeScript until something uses it (~150 ms of CPU and ~40 MiB per process; see
 * provider/cli/preload.ts). Added to the user's own NODE_OPTIONS, never in place of them.
 */
export const RUN_ENV: Record<string, string> = {
  NODE_OPTIONS: [process.env.NODE_OPTIONS, `--require ${JSON.stringify(require.resolve("./preload"))}`].filter(Boolean).join(" "),
};

/**
 * The URL of a local file backend in `dir`, as this project's set-up (scripts/env.sh), tests and bench open one, and as
 * the README recommends: `metadata=skip` is gocloud's fileblob option (Pulumi passes the query through) that writes
 * no `.attrs` sidecar beside each state file. The sidecar holds only a content type and an MD5 that nothing reads
 * (Pulumi reads the state file itself), yet the engine rewrites the whole state at every step, so the MD5 and the
 * extra file cost ~0.35 CPU-s of a 10-host converge (docs/PERFORMANCE.md). The state file is written exactly as
 * before (a temporary file renamed over it, the previous state kept as `.bak`), so crash recovery is unchanged.
 */
export function fileBackendUrl(dir: string): string {
  if (dir.includes("?")) throw new Error(`a file backend directory must not contain "?": ${dir}`);
  return `file://${dir}?metadata=skip`;
}

async function runOne(o: RolloutOptions, stack: string, wave: number): Promise<StackResult> {
  const started = Date.now();
  const print = o.print ?? (() => undefined);
  let s: Stack | undefined;
  try {
    // Loaded here, not at the top: --help and usage errors answer without loading Pulumi's SDK (~1 s).
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    s = await LocalWorkspace.selectStack({ stackName: stack, workDir: o.dir }, { envVars: o.preview ? { ...RUN_ENV, ...PREVIEW_ENV } : RUN_ENV });
    print(`[${stack}] ${o.preview ? "preview" : "up"} (wave ${wave})`);
    const onOutput = (line: string) => print(`[${stack}] ${line.trimEnd()}`);
    const changes: Record<string, number> = {};
    if (o.preview) {
      const r = await s.preview({ refresh: o.refresh, parallel: o.parallel, onOutput });
      for (const [k, v] of Object.entries(r.changeSummary ?? {})) changes[k] = v ?? 0;
    } else {
      const r = await s.up({ refresh: o.refresh, parallel: o.parallel, onOutput });
      for (const [k, v] of Object.entries(r.summary.resourceChanges ?? {})) changes[k] = v ?? 0;
    }
    return { stack, wave, result: "succeeded", changes, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    // The stack's own config names its hosts; without it (no such stack) the addresses stay as they are.
    const hosts = s ? fleetHosts(await s.getAllConfig().catch(() => ({}))) : [];
    const error = firstError((e as Error).message).map((l) => nameHosts(l, hosts));
    return { stack, wave, result: "failed", changes: {}, seconds: (Date.now() - started) / 1000, error: error.join("\n") };
  }
}

/** Runs the waves; a failure stops new runs (those already running finish) and skips every later wave. */
export async function rollout(o: RolloutOptions): Promise<StackResult[]> {
  const results: StackResult[] = [];
  let failed = false;
  for (const [w, wave] of stackWaves(o.stacks, o.canary, o.waveSize).entries()) {
    if (failed) {
      results.push(...wave.map((stack) => ({ stack, wave: w, result: "skipped" as const, changes: {}, seconds: 0 })));
      continue;
    }
    const queue = [...wave];
    const workers = Array.from({ length: Math.min(o.concurrency, queue.length) }, async () => {
      for (let stack = queue.shift(); stack !== undefined; stack = queue.shift()) {
        if (failed) {
          results.push({ stack, wave: w, result: "skipped", changes: {}, seconds: 0 });
          continue;
        }
        const r = await runOne(o, stack, w);
        results.push(r);
        if (r.result === "failed") failed = true;
      }
    });
    await Promise.all(workers);
  }
  const order = new Map(o.stacks.map((s, i) => [s, i]));
  return results.sort((a, b) => order.get(a.stack)! - order.get(b.stack)!);
}

/** The summary table; an error's further lines ("fix: ...") go under its first, in the error column. */
export function table(results: StackResult[]): string {
  const rows = results.map((r) => [
    r.stack,
    String(r.wave),
    r.result,
    Object.entries(r.changes).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") || "-",
    r.result === "skipped" ? "-" : `${r.seconds.toFixed(1)}s`,
    r.error ?? "",
  ]);
  const head = ["stack", "wave", "result", "changes", "time", "error"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.max(...r[i].split("\n").map((l) => l.length)))));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const errorColumn = widths.slice(0, 5).reduce((n, w) => n + w + 2, 0);
  return [
    line(head),
    line(widths.map((n) => "-".repeat(n))),
    ...rows.flatMap((r) => {
      const [first, ...more] = r[5].split("\n");
      return [line([...r.slice(0, 5), first]), ...more.map((l) => " ".repeat(errorColumn) + l)];
    }),
  ].join("\n");
}

const OPTIONS = {
  stacks: { type: "string" },
  canary: { type: "string" },
  "wave-size": { type: "string" },
  concurrency: { type: "string" },
  parallel: { type: "string" },
  preview: { type: "boolean" },
  refresh: { type: "boolean" },
  dir: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses the command line (pure); a {@link UsageError} says what is wrong with it. */
export function parseArgs(argv: string[], cwd = process.cwd()): RolloutOptions {
  const o: RolloutOptions = { stacks: [], canary: 1, waveSize: 1, concurrency: 1, parallel: DEFAULT_PARALLEL, preview: false, refresh: false, dir: cwd };
  for (const t of optionTokens(argv, OPTIONS)) {
    const v = t.value ?? "";
    if (t.name === "stacks") o.stacks = v.split(",").map((x) => x.trim()).filter(Boolean);
    else if (t.name === "canary") o.canary = wholeNumber(t.raw, v);
    else if (t.name === "wave-size") o.waveSize = wholeNumber(t.raw, v, 1);
    else if (t.name === "concurrency") o.concurrency = wholeNumber(t.raw, v, 1);
    else if (t.name === "parallel") o.parallel = wholeNumber(t.raw, v, 1);
    else if (t.name === "dir") o.dir = path.resolve(cwd, v);
    else if (t.name === "preview") o.preview = true;
    else if (t.name === "refresh") o.refresh = true;
  }
  if (!o.stacks.length) throw new UsageError("--stacks is required (comma-separated stack names)");
  for (const s of o.stacks) if (!/^[A-Za-z0-9_.\/-]+$/.test(s)) throw new UsageError(`stack name "${s}" has characters Pulumi does not allow`);
  const dup = o.stacks.find((s, i) => o.stacks.indexOf(s) !== i);
  if (dup) throw new UsageError(`--stacks lists "${dup}" twice`);
  return o;
}

if (require.main === module) {
  // This driver loads the SDK's automation too: it gets the same deferred TypeScript as the runs it starts.
  require("./preload");
  main({
    name: "sftp-jail-rollout",
    usage: USAGE,
    parse: (argv) => {
      const o = parseArgs(argv);
      if (!["Pulumi.yaml", "Pulumi.yml"].some((f) => fs.existsSync(path.join(o.dir, f)))) {
        throw new UsageError(`${o.dir} is not a Pulumi project (no Pulumi.yaml there): give the project's directory with --dir`);
      }
      return o;
    },
    run: async (o) => {
      const results = await rollout({ ...o, print: (l) => console.log(l) });
      console.log("\n" + table(results));
      return results.every((r) => r.result === "succeeded") ? EXIT.OK : EXIT.FAILED;
    },
  });
}
