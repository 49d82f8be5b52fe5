/**
 * Plans that share one exec (provider/apply/apply.ts batchScript): run here by the real /bin/sh, the way a host runs
 * them. Each plan must keep the semantics it has alone: its steps stop at its own first failure, its failure is its
 * own (exit code, error output, failed step), and a plan next to it runs and succeeds regardless.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LOCK_FILE, batchOutcome, batchScript, sharedSteps, withoutDefined } from "../../provider/apply/apply";
import { MANIFEST_LIB, SCRIPT_PREFIX, SNAPSHOT_MARK, snapshotScript } from "../../provider/observe/snapshot";
import { recordLib } from "../../provider/observe/record";
import { REFUSED } from "../../provider/util/hostpath";
import type { Plan } from "../../provider/plan/types";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-batch-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const NONCE = "n0nce";
const step = (description: string, script: string) => ({ description, script, effects: {} });

/** Runs plans as one exec would (the host lock moved to a scratch file) and parses what they printed. */
function runBatch(plans: Plan[], snapshot = `echo '${SNAPSHOT_MARK}'; echo snapshot-ran`) {
  const script = batchScript(plans.map((plan) => ({ plan })), [], snapshot, NONCE).split(LOCK_FILE).join(path.join(dir, "lock"));
  const t0 = Date.now();
  const r = spawnSync("sh", ["-c", script], { encoding: "utf8", timeout: 20_000 });
  return { ...r, ms: Date.now() - t0, outcome: batchOutcome(r.stdout, plans.length, NONCE) };
}

test("each plan stops at its own first failure; the plans beside it run and succeed", () => {
  const r = runBatch([
    [step("a1", `echo a1 > ${dir}/a1`), step("a2", "echo boom-a >&2; exit 4"), step("a3", `echo a3 > ${dir}/a3`)],
    [step("b1", `echo warn-b >&2; echo b1 > ${dir}/b1`)],
    [step("c1", `exit ${REFUSED}`)],
    [step("d1", `echo d1 > ${dir}/d1`), step("d2", "true")],
  ]);
  expect(r.status).toBe(0);
  expect(fs.existsSync(`${dir}/a1`)).toBe(true);
  expect(fs.existsSync(`${dir}/a3`)).toBe(false);
  expect(fs.existsSync(`${dir}/b1`)).toBe(true);
  expect(fs.existsSync(`${dir}/d1`)).toBe(true);
  expect(r.outcome.map((o) => o.code)).toEqual([4, 0, REFUSED, 0]);
  // The step that failed is the last one announced, in that plan only.
  expect(r.outcome.map((o) => o.started)).toEqual([[0, 1], [0], [0], [0, 1]]);
  // A failed plan's error output is its own; a plan that succeeded prints none (its warnings never pass for errors).
  expect(r.outcome[0].err).toBe("boom-a");
  expect(r.outcome[1].err).toBe("");
  expect(r.stdout).not.toContain("warn-b");
  // The trailing snapshot runs once, after every plan, and is not mistaken for a plan's output.
  expect(r.stdout.trim().endsWith("snapshot-ran")).toBe(true);
});

test("a step's output cannot pass for a plan's outcome: markers carry the exec's nonce", () => {
  // Plan 1 prints a success marker for plan 0 (which failed) and for itself, without the nonce.
  const r = runBatch([[step("failed", "exit 5")], [step("liar", "printf '@@sftp-jail-done:0:0\\n@@sftp-jail-done:1:0\\n@@sftp-jail-done:x:0:0\\n'; exit 6")]]);
  expect(r.outcome.map((o) => o.code)).toEqual([5, 6]);
});

test("output without a trailing newline does not hide the next marker", () => {
  const r = runBatch([[step("n1", "printf no-newline"), step("n2", "printf again >&2; exit 3")]]);
  expect(r.outcome[0].started).toEqual([0, 1]);
  expect(r.outcome[0].code).toBe(3);
  expect(r.outcome[0].err).toBe("again");
});

test("a process a step leaves behind holds neither the exec nor the error capture open", () => {
  // What the dead-man timer does (apply/guarded.ts): detached, with its own output redirected.
  const r = runBatch([[step("bg", "sleep 5 < /dev/null > /dev/null 2>&1 &\necho started"), step("after", "true")], [step("other", "true")]]);
  expect(r.outcome.map((o) => o.code)).toEqual([0, 0]);
  expect(r.ms).toBeLessThan(4000);
});

test("without the host lock, no plan runs and none reports success", () => {
  const lock = path.join(dir, "held");
  // Another apply holds the lock: flock -w gives up (shortened here), the exec exits 75 before any plan.
  const holder = require("child_process").spawn("flock", [lock, "sleep", "3"], { stdio: "ignore" });
  holder.unref();
  try {
    spawnSync("sleep", ["0.3"]);
    const script = batchScript([{ plan: [step("x", `echo x > ${dir}/x`)] }], [], "true", NONCE).split(LOCK_FILE).join(lock).replace("flock -w 120 9", "flock -w 1 9");
    const r = spawnSync("sh", ["-c", script], { encoding: "utf8" });
    expect(r.status).toBe(75);
    expect(batchOutcome(r.stdout, 1, NONCE)[0].code).toBeUndefined();
    expect(fs.existsSync(`${dir}/x`)).toBe(false);
  } finally {
    holder.kill();
  }
});

test("every plan's steps stay inside its own subshell, in order, under the lock, before the snapshot", () => {
  const s = batchScript([{ plan: [step("p", "echo p")] }, { plan: [step("q", "echo q")] }], ["p /srv"], "SNAPSHOT", NONCE);
  const at = (x: string) => s.indexOf(x);
  expect(at("flock -w 120 9")).toBeLessThan(at("echo p"));
  expect(at("echo p")).toBeLessThan(at("@@sftp-jail-done:n0nce:0:"));
  expect(at("@@sftp-jail-done:n0nce:0:")).toBeLessThan(at("echo q"));
  expect(at("@@sftp-jail-done:n0nce:1:")).toBeLessThan(at("exec 9>&-"));
  expect(at("exec 9>&-")).toBeLessThan(at("sj_manifest_add 'p /srv'"));
  expect(at("sj_manifest_add")).toBeLessThan(at("SNAPSHOT"));
  // Shell-valid as a whole.
  expect(spawnSync("sh", ["-n"], { input: s }).status).toBe(0);
});

describe("the trailing snapshot reuses what the exec's shell defined already", () => {
  const functions = (lib: string) => [...lib.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)\(\)/gm)].map((m) => m[1]);

  test("the prefix and the manifest's functions are sent once; the snapshot's own copy is dropped only when it is the same text", () => {
    const snap = snapshotScript({ paths: [dir] });
    expect(snap.startsWith(`${SCRIPT_PREFIX}\n${MANIFEST_LIB}\n`)).toBe(true);
    const count = (s: string, x: string) => s.split(x).length - 1;
    expect(count(batchScript([{ plan: [step("p", "true")] }], ["p /srv"], snap, NONCE), SCRIPT_PREFIX)).toBe(1);
    expect(count(batchScript([{ plan: [step("p", "true")] }], ["p /srv"], snap, NONCE), MANIFEST_LIB)).toBe(1);
    // Without manifest entries the exec has not defined the manifest's functions: the snapshot keeps them.
    expect(count(batchScript([{ plan: [step("p", "true")] }], [], snap, NONCE), MANIFEST_LIB)).toBe(1);
    expect(withoutDefined("other\nscript", [SCRIPT_PREFIX])).toBe("other\nscript");
  });

  test("the record's and the manifest's functions never redefine the prefix's", () => {
    const prefix = functions(SCRIPT_PREFIX);
    expect(prefix.length).toBeGreaterThan(10);
    for (const lib of [recordLib(), MANIFEST_LIB]) {
      expect(functions(lib).length).toBeGreaterThan(0);
      expect(functions(lib).filter((f) => prefix.includes(f))).toEqual([]);
    }
  });

  test("what a plan changes in its shell (functions, PATH, variables) does not reach the snapshot: same output as alone", () => {
    fs.writeFileSync(path.join(dir, "probe"), "x");
    const snap = snapshotScript({ paths: [dir, path.join(dir, "probe")], files: [path.join(dir, "probe")] });
    const alone = spawnSync("sh", ["-c", snap], { encoding: "utf8" });
    expect(alone.status).toBe(0);
    const spoil = step("spoil", "sj_die() { :; }; sj_walk() { :; }; sj_nl=x; sj_tab=y; PATH=/nonexistent; LC_ALL=xx_XX; umask 077; unset -f sj_read_in");
    const r = runBatch([[spoil], [step("ok", "true")]], snap);
    expect(r.outcome.map((o) => o.code)).toEqual([0, 0]);
    // A shell's error names its script line (e.g. `sh: 210: sshd: not found`, base64 in the output where no sshd is).
    const lineless = (out: string) =>
      out.split("\n").map((l) => (/^[A-Za-z0-9+/]{8,}={0,2}$/.test(l) ? Buffer.from(l, "base64").toString().replace(/^sh: \d+:/, "sh: N:") : l));
    const after = r.stdout.slice(r.stdout.indexOf(SNAPSHOT_MARK));
    expect(after.length).toBeGreaterThan(1000);
    expect(lineless(after)).toEqual(lineless(alone.stdout));
    expect(alone.stdout).toContain(Buffer.from("x").toString("base64"));
  });
});

test("the nonce is a plain token", () => {
  expect(() => batchScript([{ plan: [step("a", "true")] }], [], "", "a:b")).toThrow(/nonce/);
});

test("an owner that is not a stack identity is refused for any plan of the batch", () => {
  expect(() => batchScript([{ plan: [step("a", "true")], owner: "acme/prod" }, { plan: [step("b", "true")], owner: "a/b;id" }], [], "", NONCE)).toThrow(/not a stack identity/);
});

test("the real block-change scripts (case patterns, here-documents) stay valid inside a plan's subshell, for dash and bash", () => {
  const { jailBeforeScript, jailAfterScript } = require("../../provider/plan/jail");
  const { verifyScript } = require("../../provider/plan/lockout");
  const s = batchScript(
    [{ plan: [step("before", jailBeforeScript()), step("verify", verifyScript({ user: "root", auth: ["publickey"] }, "true", jailAfterScript(["/x"])))] }, { plan: [step("q", "true")] }],
    [],
    "true",
    NONCE,
  );
  // RHEL-style hosts run scripts with bash as sh; Debian's sh is dash.
  for (const shell of ["sh", "bash"]) {
    const r = spawnSync(shell, ["-n"], { input: s });
    expect([shell, r.stderr.toString()]).toEqual([shell, ""]);
    expect(r.status).toBe(0);
  }
});

describe("a shared step (root-owned directories made to exist) runs once per exec", () => {
  /** A shared step that counts its runs; `dirs` as it declares them. */
  const mk = (name: string, dirs = [`/srv/${name}`]) => ({ description: `make ${name}`, script: `echo x >> ${dir}/runs-${name}`, effects: { dirs }, shared: true as const });
  const runs = (name: string) => (fs.existsSync(`${dir}/runs-${name}`) ? fs.readFileSync(`${dir}/runs-${name}`, "utf8").split("\n").length - 1 : 0);

  test("in the first plan that carries it; the others skip it once that plan ended well, and still report it", () => {
    const r = runBatch([
      [step("u1", "true"), mk("keys"), step("k1", "true")],
      [step("u2", "true"), mk("keys"), step("k2", "true")],
      [mk("keys")],
    ]);
    expect(r.outcome.map((o) => [o.code, o.started])).toEqual([[0, [0, 1, 2]], [0, [0, 1, 2]], [0, [0]]]);
    expect(runs("keys")).toBe(1);
  });

  test("runs again when the plan that ran it failed, even after the step itself", () => {
    const r = runBatch([[mk("again"), step("boom", "exit 3")], [mk("again")], [mk("again")]]);
    expect(r.outcome.map((o) => o.code)).toEqual([3, 0, 0]);
    // Plan 1 ran it (plan 0 failed); plan 2 measures from plan 0 too, so it runs it as well: never skipped on a guess.
    expect(runs("again")).toBe(3);
  });

  test("never skipped past a step that declares a change at or above its directories (below: a key file written there, it is)", () => {
    const rm = (p: string) => ({ description: `remove ${p}`, script: "true", effects: { paths: [p] } });
    const plans = (between: Plan) => [{ plan: [mk("k", ["/etc/ssh/sj", "/etc/ssh/sj/keys"])] }, { plan: between }, { plan: [mk("k", ["/etc/ssh/sj", "/etc/ssh/sj/keys"])] }];
    expect([...sharedSteps(plans([rm("/srv/elsewhere"), rm("/etc/ssh/sjx"), rm("/etc/ssh/sj/keys/alice")])).entries()]).toEqual([["2:0", 0]]);
    for (const p of ["/etc/ssh/sj/keys", "/etc/ssh/sj", "/etc/ssh", "/etc", "/"]) expect([p, sharedSteps(plans([rm(p)])).size]).toEqual([p, 0]);
    // Not shared, or not the same script: each runs.
    const plain = { ...mk("k"), shared: undefined };
    expect(sharedSteps([{ plan: [plain] }, { plan: [plain] }]).size).toBe(0);
    expect(sharedSteps([{ plan: [mk("a")] }, { plan: [mk("b")] }]).size).toBe(0);
  });

  test("a plan's scripts are the same as alone when nothing is shared", () => {
    const alone = batchScript([{ plan: [mk("solo")] }], [], "true", NONCE);
    expect(alone).not.toMatch(/sj_rc_\d/);
  });
});

