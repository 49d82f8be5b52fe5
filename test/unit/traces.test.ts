/**
 * Lighter promise traces (provider/util/promiseTraces.ts, used by the root program and the provider process):
 * @pulumi/pulumi's per-promise stack capture without frames, nothing else changed. Against the installed SDK, in this
 * process.
 */
import * as fs from "fs";
import * as path from "path";
import { lighterPromiseTraces } from "../../provider/util/promiseTraces";

const SDK = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
  debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T>;
};
/** What the SDK hangs on the promise it was given (its leak report prints these). */
type Traced = Promise<unknown> & { _debugCtx?: unknown; _debugStackTrace?: string };

test("every call site in the SDK goes through the module's export, so replacing it reaches them all", () => {
  const sites: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== "node_modules") walk(p);
      else if (e.name.endsWith(".js")) {
        for (const line of fs.readFileSync(p, "utf8").split("\n")) if (/debuggablePromise\)?\(/.test(line) && !/function debuggablePromise\(/.test(line)) sites.push(line.trim());
      }
    }
  };
  walk(SDK);
  expect(sites.length).toBeGreaterThan(5);
  expect(sites.filter((l) => !/\bdebuggable_1\.debuggablePromise\(|\(0, debuggable_1\.debuggablePromise\)\(/.test(l))).toEqual([]);
});

test("promises keep their context and value, lose only the frames; errors keep theirs and the limit is restored", async () => {
  const before = Error.stackTraceLimit;
  const plain: Traced = Promise.resolve(1);
  void debuggable.debuggablePromise(plain, "plain");
  expect(plain._debugStackTrace).toMatch(/\n\s+at /);
  expect(lighterPromiseTraces()).toBe(true);
  const given: Traced = Promise.resolve(42);
  expect(await debuggable.debuggablePromise(given, "registerResource(a)")).toBe(42);
  expect(given._debugCtx).toBe("registerResource(a)");
  expect(given._debugStackTrace).not.toMatch(/\n\s+at /);
  await expect(debuggable.debuggablePromise(Promise.reject(new Error("boom")), "x")).rejects.toThrow("boom");
  expect(Error.stackTraceLimit).toBe(before);
  expect(new Error("e").stack).toMatch(/\n\s+at /);
  await plain;
});

test("turning it on again wraps nothing twice; the adapters turn it on in the process that loads them", () => {
  expect(lighterPromiseTraces()).toBe(true);
  const once = debuggable.debuggablePromise;
  expect(lighterPromiseTraces()).toBe(true);
  expect(debuggable.debuggablePromise).toBe(once);
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fresh = require("@pulumi/pulumi/runtime/debuggable") as typeof debuggable;
    const given: Traced = Promise.resolve(1);
    void fresh.debuggablePromise(given, "before");
    expect(given._debugStackTrace).toMatch(/\n\s+at /);
    require("../../provider/adapters/base");
    const after: Traced = Promise.resolve(2);
    void fresh.debuggablePromise(after, "after");
    expect(after._debugStackTrace).not.toMatch(/\n\s+at /);
  });
});
