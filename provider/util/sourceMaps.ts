/**
 * @pulumi/pulumi's runners (cmd/run, cmd/dynamic-provider) install source-map-support, which maps every stack frame
 * through its file's source map. The SDK takes a stack trace for each resource, the first for the stack resource
 * before the program even runs: that read and parsed the SDK's own maps, ~50 ms of the program's CPU on a check's
 * critical path (issue 10). Installed packages' maps point at TypeScript sources they do not ship; their frames now
 * stay as they are (the `.js` file and line), read from no map. The program's own files still map through theirs.
 */
import * as path from "path";

const EMPTY_MAP = { version: 3, sources: [] as string[], names: [] as string[], mappings: "" };

/** A source-map-support `retrieveSourceMap` handler: an empty map for files under node_modules, else the default. */
export function packageMapsEmpty(source: string): { url: string; map: typeof EMPTY_MAP } | null {
  return /[\\/]node_modules[\\/]/.test(source) ? { url: source, map: EMPTY_MAP } : null;
}

/**
 * In a process whose main module is one of @pulumi/pulumi's runners, adds {@link packageMapsEmpty} to the
 * source-map-support that runner loads (and installs it, as the runner's first line would a moment later). Returns
 * whether it did.
 */
export function skipPackageSourceMaps(mainScript: string | undefined): boolean {
  if (!mainScript || !/(^|[\\/])@pulumi[\\/]pulumi[\\/]cmd[\\/](run|dynamic-provider)[\\/]index\.js$/.test(mainScript)) return false;
  let sms: { install(options: object): void };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the runner's own copy, wherever it is installed
    sms = require(require.resolve("source-map-support", { paths: [path.dirname(mainScript)] }));
  } catch {
    return false;
  }
  sms.install({ retrieveSourceMap: packageMapsEmpty });
  return true;
}
