/**
 * The program's inspector session on first use (provider/util/inspectorHooks.ts): no session while nothing is
 * serialized, and a function serialized after it is deferred comes out as with the SDK's own early session (same text,
 * same location). In plain Node processes: the SDK's hooks live in Node's module cache, which jest replaces.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const HOOKS = path.join(ROOT, "node_modules", "sftp-jail", "bin", "provider", "util", "inspectorHooks.js");
const SDK = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const RUN = path.join(SDK, "cmd", "run", "index.js");

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-hooks-"));
  // A user's module, loaded before anything asks for a session: a function closing over a value and calling another.
  fs.writeFileSync(path.join(dir, "user.js"), "const k = 42;\nfunction helper(x) { return x + k; }\nexports.f = (y) => helper(y) * 2;\n");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the SDK the way its runner starts (hooks first), then serializes user.js's function; what it saw, as JSON. */
function serialize(deferred: boolean): { deferred: boolean; before: number; after: number; text: string; file: string } {
  const script = `
    const inspector = require("inspector");
    let sessions = 0;
    const connect = inspector.Session.prototype.connect;
    inspector.Session.prototype.connect = function () { sessions++; return connect.call(this); };
    const deferred = ${deferred} && require(${JSON.stringify(HOOKS)}).deferInspectorHooks(${JSON.stringify(RUN)});
    (async () => {
      await require(${JSON.stringify(path.join(SDK, "runtime", "closure", "v8Hooks.js"))}).isInitializedAsync();
      const pulumi = require(${JSON.stringify(SDK)});
      const { f } = require(${JSON.stringify(path.join(dir, "user.js"))});
      const before = sessions;
      const sf = await pulumi.runtime.serializeFunction(f);
      const loc = await require(${JSON.stringify(path.join(SDK, "runtime", "closure", "v8.js"))}).getFunctionLocationAsync(f);
      console.log(JSON.stringify({ deferred, before, after: sessions, text: sf.text, file: loc.file }));
    })();`;
  return JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: dir, env: { ...process.env, NODE_OPTIONS: "" } }).toString());
}

test("no session until something is serialized; then the same text and location as the SDK's early session", () => {
  const sdk = serialize(false);
  const ours = serialize(true);
  expect(sdk).toMatchObject({ deferred: false, before: 1 });
  expect(ours).toMatchObject({ deferred: true, before: 0, after: 1 });
  expect(ours.text).toContain("k: 42");
  expect(ours.text).toBe(sdk.text);
  expect(ours.file).toMatch(/user\.js$/);
  expect(ours.file).toBe(sdk.file);
});

test("only in @pulumi/pulumi's program runner, and only once", () => {
  const { deferInspectorHooks } = require(HOOKS) as typeof import("../../provider/util/inspectorHooks");
  expect(deferInspectorHooks(undefined)).toBe(false);
  expect(deferInspectorHooks(path.join(SDK, "cmd", "dynamic-provider", "index.js"))).toBe(false);
  expect(deferInspectorHooks("/nowhere/node_modules/@pulumi/pulumi/cmd/run/index.js")).toBe(false);
  const out = execFileSync(process.execPath, ["-e", `const h = require(${JSON.stringify(HOOKS)}); console.log(JSON.stringify([h.deferInspectorHooks(${JSON.stringify(RUN)}), h.deferInspectorHooks(${JSON.stringify(RUN)})]))`], {
    env: { ...process.env, NODE_OPTIONS: "" },
  }).toString();
  expect(JSON.parse(out)).toEqual([true, false]);
});
