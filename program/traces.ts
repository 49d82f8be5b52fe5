/**
 * Stack traces the root program does not need to format (issue 10). Both are called once, before any resource.
 */

/**
 * Pulumi's run harness installs source-map-support, and @pulumi/pulumi captures a stack trace for every promise it
 * makes: mapping each frame back through source maps was ~2 of the ~4 CPU-s this program spent building 240
 * resources, all before its first registration. This program is compiled JavaScript: V8's own traces do.
 */
export function withoutSourceMaps(): void {
  delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
}

/**
 * @pulumi/pulumi keeps, for every promise it makes, a formatted stack trace (runtime/debuggable.js), printed only if
 * the program exits with that promise still pending: ~10 of them per resource, ~0.2 of this program's ~1.7 CPU-s in a
 * 10-host drift check, and ~25 MiB. Here they are captured with no frames: such a report still names each pending
 * promise's context (the resource and the call), and every error keeps its full stack (the limit is lowered only
 * around that capture). Returns false, changing nothing, when the SDK no longer has that hook.
 */
export function lighterPromiseTraces(): boolean {
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise?: <T>(p: Promise<T>, ctx: unknown) => Promise<T> };
  const original = debuggable.debuggablePromise;
  if (typeof original !== "function") return false;
  debuggable.debuggablePromise = function <T>(p: Promise<T>, ctx: unknown): Promise<T> {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return original(p, ctx);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  return true;
}
