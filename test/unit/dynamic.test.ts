/**
 * The serialized provider the resource classes register (provider/resources/dynamic.ts providerText) gives the
 * dynamic-provider runner the module Pulumi's own closure serializer would, so no program needs the serializer (nor
 * the TypeScript compiler it loads). Both texts are evaluated as the runner does (require-from-string, `handler()`),
 * in a plain Node process: the serializer and providerText find modules through Node's require cache, which jest's
 * module registry does not fill.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const INSTALLED = path.join(ROOT, "node_modules", "sftp-jail", "bin", "provider");
const ADAPTERS = ["sftpGroup", "jailedUser", "chrootDir", "sshdMatchBlock", "firewallRule"];

/** Runs `script` in a Node process in `cwd`; its stdout parsed as JSON. */
function node(script: string, cwd = ROOT, preload: string[] = []): any {
  // On stdin ("-"): the preload acts for scripts only, not `node -e`.
  return JSON.parse(execFileSync(process.execPath, [...preload, "-"], { cwd, input: script, env: { ...process.env, NODE_OPTIONS: "" } }).toString());
}

/**
 * A script comparing providerText(file) with the serializer's text for `() => provider` of the module loaded: each
 * text, and whether evaluating it as the dynamic-provider runner does gives that very module (`ours`/`sdk` + `Same`).
 */
function compare(dynamicJs: string, files: string[]): string {
  const sdkDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
  return `
    const pulumi = require(${JSON.stringify(require.resolve("@pulumi/pulumi"))});
    const requireFromString = require(require.resolve("require-from-string", { paths: [${JSON.stringify(sdkDir)}] }));
    const { providerText } = require(${JSON.stringify(dynamicJs)});
    (async () => {
      const out = {};
      for (const f of ${JSON.stringify(files)}) {
        const provider = require(f);
        const sdk = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
        const ours = providerText(require.resolve(f)) ?? null;
        const gives = (text) => requireFromString(text).handler() === provider;
        out[f] = { ours, sdk: sdk.text, oursSame: ours !== null && gives(ours), sdkSame: gives(sdk.text) };
      }
      console.log(JSON.stringify(out));
    })();`;
}

/** The module a serialized provider requires. */
const required = (text: string) => /require\(("[^"]+")\)/.exec(text)?.[1];

test("every adapter of the installed package: one line giving the module the serializer's text gives", () => {
  const files = ADAPTERS.map((a) => path.join(INSTALLED, "adapters", `${a}.js`));
  const out = node(compare(path.join(INSTALLED, "resources", "dynamic.js"), files));
  for (const f of files) {
    expect(out[f].ours).toBe(`exports.handler = () => require("sftp-jail/bin/provider/adapters/${path.basename(f)}");\n`);
    expect(required(out[f].ours)).toBe(required(out[f].sdk));
    expect(out[f]).toMatchObject({ oursSame: true, sdkSame: true });
    expect(out[f].ours.length).toBeLessThan(out[f].sdk.length / 3);
  }
});

test("with the preload sftp-jail runs programs with, registering needs no TypeScript (the serializer loads it)", () => {
  const out = node(
    `
    const pulumi = require(${JSON.stringify(require.resolve("@pulumi/pulumi"))});
    const { providerText } = require(${JSON.stringify(path.join(INSTALLED, "resources", "dynamic.js"))});
    const provider = require(${JSON.stringify(path.join(INSTALLED, "adapters", "sftpGroup.js"))});
    const ts = () => Object.keys(require.cache).some((k) => /node_modules\\/typescript\\//.test(k));
    const t = providerText(require.resolve(${JSON.stringify(path.join(INSTALLED, "adapters", "sftpGroup.js"))})), before = ts();
    pulumi.runtime.serializeFunction(() => provider).then(() => console.log(JSON.stringify({ t, before, after: ts() })));`,
    ROOT,
    ["--require", path.join(INSTALLED, "cli", "preload.js")],
  );
  expect(out.t).toContain("sftp-jail/bin/provider/adapters/sftpGroup.js");
  expect(out.before).toBe(false);
  expect(out.after).toBe(true);
});

test("the program side (the package's index: resources, components) loads no adapter, SSH, snapshot or apply code", () => {
  const loaded = node(`
    require(${JSON.stringify(path.join(INSTALLED, "index.js"))});
    console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /sftp-jail\\/bin\\/provider\\/(adapters|apply|connection\\/pool|observe\\/snapshot)\\/?|node_modules\\/ssh2\\//.test(k))));`);
  expect(loaded).toEqual([]);
});

test("a package in a pnpm store, nested node_modules, and a module outside node_modules", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-dyn-"));
  try {
    const write = (rel: string) => {
      const f = path.join(dir, rel);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, "exports.read = async () => ({});\n");
      return f;
    };
    const pnpm = write("app/node_modules/.pnpm/sftp-jail@1.0.0/node_modules/sftp-jail/bin/provider/adapters/x.js");
    const nested = write("app/node_modules/wrapper/node_modules/sftp-jail/bin/provider/adapters/y.js");
    const local = write("app/lib/adapters/z.js");
    // How pnpm lays a dependency out: the app's node_modules entry is a link into the store.
    fs.symlinkSync(path.join(dir, "app/node_modules/.pnpm/sftp-jail@1.0.0/node_modules/sftp-jail"), path.join(dir, "app/node_modules/sftp-jail"));
    const out = node(compare(path.join(INSTALLED, "resources", "dynamic.js"), [pnpm, nested, local]), path.join(dir, "app"));
    expect(out[pnpm].ours).toContain('require("sftp-jail/bin/provider/adapters/x.js")');
    expect(out[nested].ours).toContain('require("wrapper/node_modules/sftp-jail/bin/provider/adapters/y.js")');
    for (const f of [pnpm, nested]) {
      expect(required(out[f].ours)).toBe(required(out[f].sdk));
      expect(out[f]).toMatchObject({ oursSame: true, sdkSame: true });
    }
    // Outside node_modules the serializer captures the module by value; providerText leaves it to the serializer.
    expect(out[local].ours).toBeNull();
    expect(out[local].sdk).not.toContain("require(");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
