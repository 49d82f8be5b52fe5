/**
 * Stack frames in installed packages are not mapped through their source maps (provider/util/sourceMaps.ts); the
 * program's own files still are. In plain Node processes, through the source-map-support @pulumi/pulumi's runner loads.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const MAPS = path.join(ROOT, "node_modules", "sftp-jail", "bin", "provider", "util", "sourceMaps.js");
const RUN = path.join(path.dirname(require.resolve("@pulumi/pulumi/package.json")), "cmd", "run", "index.js");

let dir: string;
/** A file that throws from line 1, with an inline map saying that line is line 10 of `<name>.ts`. */
function throwing(file: string, name: string) {
  const map = Buffer.from(JSON.stringify({ version: 3, sources: [`${name}.ts`], names: [], mappings: "AASA" })).toString("base64");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `exports.f = function () { throw new Error("x"); };\n//# sourceMappingURL=data:application/json;base64,${map}\n`);
}
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-maps-"));
  throwing(path.join(dir, "app", "own.js"), "own");
  throwing(path.join(dir, "app", "node_modules", "pkg", "lib.js"), "lib");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The top frame's file of an error thrown in each file, with or without the skip. */
function frames(skip: boolean): { own: string; lib: string; skipped: boolean } {
  const script = `
    const skipped = ${skip} && require(${JSON.stringify(MAPS)}).skipPackageSourceMaps(${JSON.stringify(RUN)});
    require(require.resolve("source-map-support/register", { paths: [${JSON.stringify(path.dirname(RUN))}] }));
    const top = (m) => { try { require(m).f(); } catch (e) { return e.stack.split("\\n")[1].trim(); } };
    console.log(JSON.stringify({ skipped, own: top(${JSON.stringify(path.join(dir, "app", "own.js"))}), lib: top(${JSON.stringify(path.join(dir, "app", "node_modules", "pkg", "lib.js"))}) }));`;
  return JSON.parse(execFileSync(process.execPath, ["-"], { input: script, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } }));
}

test("a package's frame stays the .js file; the program's own file still maps to its source", () => {
  const before = frames(false);
  expect(before.own).toMatch(/own\.ts:10:/);
  expect(before.lib).toMatch(/lib\.ts:10:/);
  const after = frames(true);
  expect(after.skipped).toBe(true);
  expect(after.own).toMatch(/own\.ts:10:/);
  expect(after.lib).toMatch(/node_modules\/pkg\/lib\.js:1:/);
});

test("only in @pulumi/pulumi's runners", () => {
  const { skipPackageSourceMaps } = require(MAPS) as typeof import("../../provider/util/sourceMaps");
  expect(skipPackageSourceMaps(undefined)).toBe(false);
  expect(skipPackageSourceMaps("/work/x/bin/provider/cli/rollout.js")).toBe(false);
});
