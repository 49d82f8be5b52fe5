/**
 * @pulumi/pulumi sends the engine a debug line for each step of each resource registration ("Registering resource:
 * …", "RegisterResource RPC prepared: …", "RegisterResource RPC finished: …", the same for reads and invokes): three
 * engine RPCs per resource, one after another, which the CLI shows only under `--debug` and otherwise only writes to
 * its own log files. In a 10-host drift check that was ~0.4 of ~5.1 CPU-s on the machine, and ~0.15 s of 3.05 s
 * (issue 10). `quietSdkChatter` drops exactly those lines in this process; every other message, a program's own
 * debug lines included, goes as before. `SFTPJAIL_SDK_DEBUG=1` keeps them (to debug the SDK itself).
 */
import Module = require("module");

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
const M = Module as unknown as { _load: Loader; _resolveFilename(request: string, parent: unknown, isMain: boolean): string };

/** The SDK's per-resource and per-call trace lines (runtime/resource.js, runtime/invoke.js, runtime/rpc.js). */
export const SDK_CHATTER =
  /^(Registering resource: |Reading resource: |Getting resource: |Checking resource existence: |(RegisterResource|RegisterResourceOutputs|ReadResource|Invoke|Call) RPC (prepared|finished): |getResource Invoke RPC finished: |Resource RPC serialization requested: |Serialize property \[)/;

type Log = (msg: unknown, ...rest: unknown[]) => Promise<void>;

/** `debug` that drops {@link SDK_CHATTER} and passes everything else to `debug`. */
export function withoutChatter(debug: Log): Log {
  return function (this: unknown, msg: unknown, ...rest: unknown[]) {
    if (typeof msg === "string" && SDK_CHATTER.test(msg)) return Promise.resolve();
    return debug.call(this, msg, ...rest);
  };
}

/**
 * Once @pulumi/pulumi's log module loads in this process (whatever loads it first), replaces its `debug` with
 * {@link withoutChatter}: the SDK's modules call it through that module's exports, so all of them see it. Returns
 * false, changing nothing, when SFTPJAIL_SDK_DEBUG=1.
 */
export function quietSdkChatter(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.SFTPJAIL_SDK_DEBUG === "1") return false;
  const load = M._load;
  let done = false;
  M._load = function (this: unknown, request: string, parent: unknown, isMain: boolean) {
    const exports = load.call(this, request, parent, isMain);
    // The SDK requires it as "./log" or "../log"; only those requests are resolved to check which module they are.
    if (!done && /(^|\/)log(\/index(\.js)?)?$/.test(request)) {
      let file = "";
      try {
        file = M._resolveFilename(request, parent, isMain).replace(/\\/g, "/");
      } catch {
        // not resolvable: not the SDK's
      }
      const log = exports as { debug?: Log };
      const d = Object.getOwnPropertyDescriptor(log, "debug");
      if (file.endsWith("/@pulumi/pulumi/log/index.js") && typeof log.debug === "function" && d?.writable) {
        done = true;
        log.debug = withoutChatter(log.debug);
      }
    }
    return exports;
  } as Loader;
  return true;
}
