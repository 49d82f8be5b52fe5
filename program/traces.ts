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

/** The SDK's per-promise traces without frames (shared with the provider process, where adapters turn it on). */
export { lighterPromiseTraces } from "sftp-jail/bin/provider/util/promiseTraces";
