/**
 * A `--require` preload for the Node processes Pulumi starts for an sftp-jail stack (the program and the dynamic
 * provider), given through NODE_OPTIONS (sftp-jail-rollout sets it, and loads it itself; README "Lighter Node
 * processes"). `require("@pulumi/pulumi")` loads TypeScript eagerly (its closure serializer's `typescript-shim`):
 * ~150 ms of CPU and ~40 MiB of RSS per process (measured: 274 → 118 ms, 114 → 77 MiB for the SDK alone). The
 * dynamic provider never uses it and the program only when it serializes a provider, so `require("typescript")` here
 * returns a stand-in that loads the real module on first use: whatever touches it then gets TypeScript itself,
 * unchanged. A missing TypeScript still fails the require as before (the SDK then falls back to its vendored copy).
 * It also turns on V8's compile cache in a directory only this user can write (provider/util/compileCache.ts): the
 * modules' compiled code is reused from one run to the next. In the program, the SDK's inspector session (for its
 * closure serializer) is connected on first use instead of before the program runs (provider/util/inspectorHooks.ts).
 * Two more modules every process loads and neither uses load on first use: @pulumi/pulumi's Automation API (~30 ms of
 * CPU) and zod's table of locales (~25 ms; zod itself loads English directly). And the SDK's per-resource debug lines
 * to the engine ("Registering resource: …", provider/util/sdkLog.ts) are not sent, and stack frames in installed
 * packages are not mapped through their source maps (provider/util/sourceMaps.ts). Nothing else is altered.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loaded only for a script (below), not at the top */
// Only for a script: Pulumi's plugins also run `node -e "…require.resolve(…)"` (twice on a run's critical path), where
// loading all of this would be ~10 ms each for nothing.
if (process.argv[1] !== undefined) {
  const { enableCompileCache } = require("../util/compileCache") as typeof import("../util/compileCache");
  const { deferInspectorHooks } = require("../util/inspectorHooks") as typeof import("../util/inspectorHooks");
  const { deferModule, deferRequire } = require("../util/lazyRequire") as typeof import("../util/lazyRequire");
  const { quietSdkChatter } = require("../util/sdkLog") as typeof import("../util/sdkLog");
  const { skipPackageSourceMaps } = require("../util/sourceMaps") as typeof import("../util/sourceMaps");
  deferRequire("typescript");
  deferModule("./automation", "/@pulumi/pulumi/automation/index.js", { esModule: true });
  deferModule("../locales/index.cjs", "/zod/v4/locales/index.cjs", { esModule: true });
  enableCompileCache();
  deferInspectorHooks(process.argv[1]);
  quietSdkChatter();
  skipPackageSourceMaps(process.argv[1]);
}
