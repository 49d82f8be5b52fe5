/**
 * The NODE_OPTIONS preload (provider/cli/preload.ts): in a real Node process, `require("@pulumi/pulumi")` no longer
 * loads TypeScript, and the stand-in is TypeScript itself as soon as it is used.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { lazyModule } from "../../provider/util/lazyRequire";

const ROOT = path.join(__dirname, "..", "..");
const PRELOAD = path.join(ROOT, "node_modules", "sftp-jail", "bin", "provider", "cli", "preload.js");

function node(script: string, preload = true): any {
  // The script comes on stdin ("-"): the preload acts for scripts only, not `node -e` (provider/cli/preload.ts).
  const out = execFileSync(process.execPath, [...(preload ? ["--require", PRELOAD] : []), "-"], { cwd: ROOT, encoding: "utf8", input: script });
  return JSON.parse(out);
}

const loadedTs = `Object.keys(require.cache).some((k) => /node_modules\\/typescript\\/lib\\/typescript\\.js$/.test(k))`;

describe("preload: TypeScript loads on first use", () => {
  test("the SDK loads without TypeScript, which the unpreloaded SDK does load", () => {
    expect(node(`require("@pulumi/pulumi"); console.log(JSON.stringify(${loadedTs}))`)).toBe(false);
    expect(node(`require("@pulumi/pulumi"); console.log(JSON.stringify(${loadedTs}))`, false)).toBe(true);
  });

  test("the stand-in is TypeScript once used: values, functions, keys, `in`", () => {
    const r = node(`
      const ts = require("typescript");
      const before = ${loadedTs};
      const sf = ts.createSourceFile("x.ts", "const a = 1;", ts.ScriptTarget.Latest);
      console.log(JSON.stringify({ before, after: ${loadedTs}, version: ts.version, kind: sf.statements[0].kind === ts.SyntaxKind.VariableStatement,
        keys: Object.keys(ts).includes("createSourceFile"), has: "SyntaxKind" in ts, same: require("typescript") === ts,
        real: require("typescript/package.json").version }));`);
    expect(r).toEqual({ before: false, after: true, version: r.real, kind: true, keys: true, has: true, same: true, real: r.real });
  });

  test("the SDK's closure serializer (its one use of TypeScript) works through the stand-in", () => {
    const r = node(`
      require("@pulumi/pulumi/runtime").serializeFunction(() => 42).then((f) => {
        const m = { exports: {} }; new Function("exports", "require", f.text)(m.exports, require);
        console.log(JSON.stringify({ value: m.exports.handler(), loaded: ${loadedTs} }));
      });`);
    expect(r).toEqual({ value: 42, loaded: true });
  });

  test("the serialized provider is the same text with and without it (a changed one would make Pulumi replace every resource)", () => {
    const s = `const provider = require("sftp-jail/bin/provider/adapters/sftpGroup.js");
      require("@pulumi/pulumi/runtime").serializeFunction(() => provider, { allowSecrets: true }).then((f) => console.log(JSON.stringify(f.text)));`;
    const text = node(s);
    expect(text).toContain('require("sftp-jail/bin/provider/adapters/sftpGroup.js")');
    expect(text).toBe(node(s, false));
  });

  test("a `node -e` one-liner (Pulumi's plugins resolve their scripts with them) loads nothing of it", () => {
    const out = execFileSync(process.execPath, ["--require", PRELOAD, "-e", `console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /sftp-jail\\/bin\\/provider\\/util\\//.test(k))))`], {
      cwd: ROOT, encoding: "utf8",
    });
    expect(JSON.parse(out)).toEqual([]);
    expect(node(`console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /sftp-jail\\/bin\\/provider\\/util\\//.test(k)).length))`)).toBeGreaterThan(3);
  });

  test("a missing module still fails to load, as without the preload", () => {
    expect(node(`try { require("typescript-not-installed"); console.log("1") } catch (e) { console.log(JSON.stringify(e.code)) }`)).toBe("MODULE_NOT_FOUND");
  });

  test("sftp-jail-rollout's runs get it, after the NODE_OPTIONS the user has, and the path it names loads", () => {
    const env = execFileSync(process.execPath, ["-e", `console.log(JSON.stringify(require("sftp-jail/bin/provider/cli/rollout.js").RUN_ENV))`], {
      cwd: ROOT, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=300" },
    });
    const opts = JSON.parse(env).NODE_OPTIONS as string;
    expect(opts).toBe(`--max-old-space-size=300 --require ${JSON.stringify(PRELOAD)}`);
    const out = execFileSync(process.execPath, ["-"], {
      cwd: ROOT, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: opts }, input: `require("@pulumi/pulumi"); console.log(JSON.stringify(${loadedTs}))`,
    });
    expect(JSON.parse(out)).toBe(false);
  });

  test("the SDK's Automation API and zod's locales load on first use, and are the modules themselves then", () => {
    const has = (re: string) => `Object.keys(require.cache).some((k) => ${re}.test(k))`;
    const [auto, locales] = [has("/@pulumi\\/pulumi\\/automation\\/index\\.js$/"), has("/zod\\/v4\\/locales\\/index\\.cjs$/")];
    const r = node(`
      const pulumi = require("@pulumi/pulumi"), z = require("zod");
      const before = [${auto}, ${locales}];
      const message = z.object({ a: z.string() }).safeParse({ a: 1 }).error.issues[0].message;
      const still = [${auto}, ${locales}];
      const same = pulumi.automation.LocalWorkspace === require("@pulumi/pulumi/automation").LocalWorkspace && typeof z.locales.fr === "function";
      console.log(JSON.stringify({ before, message, still, same, after: [${auto}, ${locales}] }));`);
    expect(r).toEqual({ before: [false, false], message: "Invalid input: expected string, received number", still: [false, false], same: true, after: [true, true] });
    // Without the preload both load with the SDK and zod.
    expect(node(`require("@pulumi/pulumi"); require("zod"); console.log(JSON.stringify([${auto}, ${locales}]))`, false)).toEqual([true, true]);
  });

  test("lazyModule with esModule answers __esModule without loading (so __importStar keeps the stand-in)", () => {
    let loads = 0;
    const m = lazyModule(() => (loads++, { __esModule: true, x: 1 }), { esModule: true }) as Record<string, unknown>;
    const importStar = (mod: Record<string, unknown>) => (mod && mod.__esModule ? mod : { default: mod });
    expect(importStar(m)).toBe(m);
    expect("__esModule" in m).toBe(true);
    expect(loads).toBe(0);
    expect(m.x).toBe(1);
    expect(loads).toBe(1);
    // Without it, __esModule is read from the module: it loads.
    let plain = 0;
    importStar(lazyModule(() => (plain++, { __esModule: true })) as Record<string, unknown>);
    expect(plain).toBe(1);
  });

  test("lazyModule loads once, on the first use, and forwards every trap", () => {
    let loads = 0;
    const real: Record<string, unknown> = { a: 1 };
    const m = lazyModule(() => (loads++, real)) as Record<string, unknown>;
    expect(loads).toBe(0);
    expect(m.a).toBe(1);
    m.b = 2;
    expect(real.b).toBe(2);
    expect(Object.keys(m)).toEqual(["a", "b"]);
    delete m.a;
    expect("a" in m).toBe(false);
    expect(loads).toBe(1);
  });
});
