/**
 * @pulumi/pulumi keeps, for every promise it makes, a formatted stack trace (runtime/debuggable.js), printed only if
 * the process exits with that promise still pending. Both processes of a run pay for it: the program ~10 per resource
 * (~0.2 of its ~1.7 CPU-s in a 10-host drift check, ~25 MiB), the provider one per log line (`pulumi.log.*` goes
 * through it), each frame mapped through source maps by the source-map-support the dynamic-provider runner installs
 * (~20 MB of allocations in a 10-host converge). Issue 10.
 */

const WRAPPED = Symbol.for("sftp-jail.lighterPromiseTraces");

/**
 * Makes the SDK capture those traces with no frames: a leak report still names each pending promise's context (the
 * resource and the call), and every error keeps its full stack (the limit is lowered only around that capture).
 * Returns false, changing nothing, when the SDK no longer has that hook. Calling it again changes nothing more.
 */
export function lighterPromiseTraces(): boolean {
  type Debuggable = { debuggablePromise?: (<T>(p: Promise<T>, ctx: unknown) => Promise<T>) & { [WRAPPED]?: true } };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK's module object, whose export is replaced
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as Debuggable;
  const original = debuggable.debuggablePromise;
  if (typeof original !== "function") return false;
  if (original[WRAPPED]) return true;
  const lighter = function <T>(p: Promise<T>, ctx: unknown): Promise<T> {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return original(p, ctx);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  debuggable.debuggablePromise = Object.assign(lighter, { [WRAPPED]: true as const });
  return true;
}
