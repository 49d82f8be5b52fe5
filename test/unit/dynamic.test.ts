/**
 * The serialized provider the resource classes register (provider/resources/dynamic.ts providerText) is the text
 * Pulumi's own closure serializer makes, byte for byte, so state and diffs are unchanged and no program needs the
 * serializer (nor the TypeScript compiler it loads). Compared in a plain Node process: the serializer and providerText
 * both find modules through Node's require cache, which jest's module registry does not fill.
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

/** A script comparing providerText(file) with the serializer's text for `() => provider` of the module loaded. */
function compare(dynamicJs: string, files: string[]): string {
  return `
    const pulumi = require(${JSON.stringify(require.resolve("@pulumi/pulumi"))});
    const { providerText } = require(${JSON.stringify(dynamicJs)});
    (async () => {
      const out = {};
      for (const f of ${JSON.stringify(files)}) {
        const provider = require(f);
        const sdk = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
        out[f] = { ours: providerText(require.resolve(f)) ?? null, sdk: sdk.text };
      }
      console.log(JSON.stringify(out));
    })();`;
}

test("every adapter of the installed package: the serializer's own text, byte for byte", () => {
  const files = ADAPTERS.map((a) => path.join(INSTALLED, "adapters", `${a}.js`));
  const out = node(compare(path.join(INSTALLED, "resources", "dynamic.js"), files));
  for (const f of files) {
    expect(out[f].ours).toContain(`require("sftp-jail/bin/provider/adapters/${path.basename(f)}")`);
    expect(out[f].ours).toBe(out[f].sdk);
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
    const out = node(compare(path.join(INSTALLED, "resources", "dynamic.js"), [pnpm, nested, local]), path.join(dir, "app"));
    expect(out[pnpm].ours).toContain('require("sftp-jail/bin/provider/adapters/x.js")');
    expect(out[nested].ours).toContain('require("wrapper/node_modules/sftp-jail/bin/provider/adapters/y.js")');
    for (const f of [pnpm, nested]) expect(out[f].ours).toBe(out[f].sdk);
    // Outside node_modules the serializer captures the module by value; providerText leaves it to the serializer.
    expect(out[local].ours).toBeNull();
    expect(out[local].sdk).not.toContain("require(");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
