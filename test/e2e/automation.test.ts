/**
 * The multi-stack rollout command (Automation API): 3 stacks, one host each, canary then waves of one. The second
 * stack fails; the third is never touched.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Sandbox, startSandbox } from "../sandbox";
import { PulumiProject, ROOT } from "./pulumi";
import { stackWaves } from "../../provider/cli/rollout";

jest.setTimeout(10 * 60_000);

let sb: Sandbox;
let p: PulumiProject;
const stacks = ["site-a", "site-b", "site-c"];

function rollout(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [path.join(ROOT, "bin/provider/cli/rollout.js"), ...args], { cwd: p.dir, env: p.env });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    c.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

beforeAll(async () => {
  sb = await startSandbox(["auto-1", "auto-2", "auto-3"]);
  p = await PulumiProject.create(stacks[0]);
  await p.addStack(stacks[1]);
  await p.addStack(stacks[2]);
  stacks.forEach((s, i) =>
    p.setConfig(
      {
        hosts: [{ name: `h${i + 1}`, connection: { host: "127.0.0.1", port: sb.hosts[i].port, user: "root", privateKeyFile: sb.keyPath, hostKey: sb.hosts[i].hostKey } }],
        groups: [{ name: "sftp", gid: 2400 }],
      },
      s,
    ),
  );
});

afterAll(async () => {
  for (const s of stacks) await p?.run(["destroy", "--yes", "--skip-preview", "--stack", s]);
  p?.cleanup();
  await sb?.stop();
});

test("waves: canary, then waves of the set size", () => {
  expect(stackWaves(["a", "b", "c", "d", "e"], 1, 2)).toEqual([["a"], ["b", "c"], ["d", "e"]]);
});

test("rolls 3 stacks and halts when the second fails, leaving the third untouched", async () => {
  await sb.hosts[1].console("groupadd -g 998 sftp"); // site-b's host conflicts: its update fails
  const r = await rollout(["--stacks", stacks.join(","), "--canary", "1", "--wave-size", "1"]);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/^site-a\s+0\s+succeeded\s+create 2\s/m);
  // The summary names the fleet's host beside its address, and keeps the error's fix on the line under it.
  expect(r.out).toMatch(new RegExp(`^site-b\\s+1\\s+failed\\s+.* on h2 \\(127\\.0\\.0\\.1:${sb.hosts[1].port}\\): .*already exists with gid 998.*\\n\\s+fix: set gid: 998`, "m"));
  expect(r.out).toMatch(/^site-c\s+2\s+skipped\s+-\s+-/m);
  expect((await sb.hosts[0].console("getent group sftp")).stdout.trim()).toBe("sftp:x:2400:");
  expect(await sb.hosts[2].connectionCount()).toBe(0);

  await sb.hosts[1].console("groupdel sftp");
  const again = await rollout(["--stacks", stacks.join(","), "--canary", "1", "--wave-size", "2", "--concurrency", "2"]);
  expect(again.code).toBe(0);
  expect(again.out).toMatch(/^site-c\s+1\s+succeeded/m);
});

test("a drift check over the stacks shows a hand-made change and writes no state (previews skip the per-step state serialization and refresh as the program runs)", async () => {
  // The state of every stack, byte for byte: a preview, with or without rollout's PREVIEW_ENV (PULUMI_SKIP_CHECKPOINTS,
  // PULUMI_RUN_PROGRAM), must write none; and both must name the resource and the field that drifted.
  const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  const state = () => Object.fromEntries(files(p.backend).map((f) => [f, fs.readFileSync(f, "utf8")]));
  const before = state();
  // The harness's backend URL is fileBackendUrl's (`?metadata=skip`, as scripts/env.sh sets it): every stack's state
  // is there, with no gocloud `.attrs` sidecar (an MD5 of the whole state, rewritten at every step without it).
  expect(Object.keys(before).filter((f) => /\/stacks\/.*\.json$/.test(f)).length).toBeGreaterThanOrEqual(stacks.length);
  expect(Object.keys(before).filter((f) => f.endsWith(".attrs"))).toEqual([]);
  await sb.hosts[1].console("groupmod -g 2401 sftp"); // site-b's group drifts by hand
  try {
    const r = await rollout(["--stacks", stacks.join(","), "--canary", "0", "--wave-size", "3", "--concurrency", "3", "--preview", "--refresh"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^site-b\s+0\s+succeeded\s+.*update 1/m);
    expect(r.out).toMatch(/SftpGroup h2-sftp refresh \[diff: ~gid\]/); // site-b's host
    expect(r.out).toMatch(/^site-a\s+0\s+succeeded\s/m);
    expect(r.out.split("\n").filter((l) => /^site-[ac]\s/.test(l) && /update|create|delete|replace/.test(l))).toEqual([]);
    expect(state()).toEqual(before);
    // The same check as a user types it, with Pulumi's defaults: the same verdict.
    const plain = await p.run(["preview", "--refresh", "--stack", "site-b"]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/~ 1 to update/);
    expect(plain.stdout).toMatch(/SftpGroup h2-sftp refresh \[diff: ~gid\]/);
    expect(state()).toEqual(before);
  } finally {
    await sb.hosts[1].console("groupmod -g 2400 sftp");
  }
});
