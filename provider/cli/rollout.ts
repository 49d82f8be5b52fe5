#!/usr/bin/env node
/**
 * sftp-jail-rollout: rolls one change out across many stacks (e.g. one per site) with Pulumi's Automation API — a
 * canary first, then waves of bounded concurrency — stopping at the first failed stack, then prints a summary table.
 * Pulumi is the engine (its hosted deployments can run the same stacks); this only orders the runs.
 *
 *   sftp-jail-rollout --stacks fra,ams,nyc,sfo [--canary 1] [--wave-size 2] [--concurrency 2] [--preview] [--refresh]
 *                     [--dir <project dir>]
 */
import { LocalWorkspace } from "@pulumi/pulumi/automation";

export interface RolloutOptions {
  stacks: string[];
  canary: number;
  waveSize: number;
  concurrency: number;
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

async function runOne(o: RolloutOptions, stack: string, wave: number): Promise<StackResult> {
  const started = Date.now();
  const print = o.print ?? (() => undefined);
  try {
    const s = await LocalWorkspace.selectStack({ stackName: stack, workDir: o.dir });
    print(`[${stack}] ${o.preview ? "preview" : "up"} (wave ${wave})`);
    const onOutput = (line: string) => print(`[${stack}] ${line.trimEnd()}`);
    const changes: Record<string, number> = {};
    if (o.preview) {
      const r = await s.preview({ refresh: o.refresh, onOutput });
      for (const [k, v] of Object.entries(r.changeSummary ?? {})) changes[k] = v ?? 0;
    } else {
      const r = await s.up({ refresh: o.refresh, onOutput });
      for (const [k, v] of Object.entries(r.summary.resourceChanges ?? {})) changes[k] = v ?? 0;
    }
    return { stack, wave, result: "succeeded", changes, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    const msg = (e as Error).message;
    const firstError = /error: (.*)/.exec(msg)?.[1] ?? msg.split("\n")[0];
    return { stack, wave, result: "failed", changes: {}, seconds: (Date.now() - started) / 1000, error: firstError.slice(0, 300) };
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

/** The summary table. */
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
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(head), line(widths.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n");
}

function parseArgs(argv: string[]): RolloutOptions {
  const o: RolloutOptions = { stacks: [], canary: 1, waveSize: 1, concurrency: 1, preview: false, refresh: false, dir: process.cwd() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (v: string) => {
      if (!/^\d+$/.test(v)) throw new Error(`${a} takes a whole number, got "${v}"`);
      return Number(v);
    };
    if (a === "--stacks") o.stacks = next().split(",").map((s) => s.trim()).filter(Boolean);
    else if (a === "--canary") o.canary = int(next());
    else if (a === "--wave-size") o.waveSize = Math.max(1, int(next()));
    else if (a === "--concurrency") o.concurrency = Math.max(1, int(next()));
    else if (a === "--dir") o.dir = next();
    else if (a === "--preview") o.preview = true;
    else if (a === "--refresh") o.refresh = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.stacks.length) throw new Error("--stacks is required (comma-separated stack names)");
  for (const s of o.stacks) if (!/^[A-Za-z0-9_.\/-]+$/.test(s)) throw new Error(`stack name "${s}" has characters Pulumi does not allow`);
  return o;
}

if (require.main === module) {
  let o: RolloutOptions;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`sftp-jail-rollout: ${(e as Error).message}`);
    process.exit(2);
  }
  o.print = (l) => console.log(l);
  rollout(o).then(
    (results) => {
      console.log("\n" + table(results));
      process.exit(results.some((r) => r.result !== "succeeded") ? 1 : 0);
    },
    (e) => {
      console.error(`sftp-jail-rollout: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
