/**
 * Pulumi.yaml's runtime options reach the Node.js program through the language host this repo builds
 * (scripts/setup-pulumi.sh, scripts/langhost/runtime_options.go). Before, the root program, which Pulumi.yaml runs as
 * compiled JavaScript with `typescript: false`, had ts-node registered at every run anyway, and `nodeargs` never
 * reached Node: silently, since the program still ran.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiProject, ROOT } from "./pulumi";

/** A program that exports how it was started. */
const PROBE = `
const pulumi = require("@pulumi/pulumi");
module.exports = {
  typescript: process.env.PULUMI_NODEJS_TYPESCRIPT ?? "unset",
  tsNode: Object.keys(require.cache).some((k) => /ts-node/.test(k)),
  execArgv: process.execArgv.join(" "),
};
`;

/** The repo's own Pulumi.yaml with its `main` pointed at `main` (its runtime options as they are). */
function rootProjectFile(main: string): string {
  const text = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
  expect(text).toMatch(/^main: bin\/program\/index\.js$/m);
  return text.replace(/^main: .*$/m, `main: ${main}`);
}

async function outputs(files: Record<string, string>, links: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const p = await PulumiProject.fromFiles("probe", files, links);
  try {
    await p.run(["up", "--yes", "--skip-preview"], { check: true });
    return JSON.parse((await p.run(["stack", "output", "--json"], { check: true })).stdout);
  } finally {
    p.cleanup();
  }
}

test("the root project's `typescript: false` and `nodeargs` hold: its program runs without ts-node, with a small young generation", async () => {
  // main in a subdirectory, as the root project has it: the CLI starts the language host in main's directory
  const out = await outputs({ "Pulumi.yaml": rootProjectFile("bin/probe/index.js"), "bin/probe/index.js": PROBE });
  expect(out).toEqual({ typescript: "unset", tsNode: false, execArgv: "--max-semi-space-size=2" });
});

test("nodeargs reach Node, and `typescript: true` (a user's TypeScript program) still runs through ts-node", async () => {
  const yaml = [
    "name: probe",
    "runtime:",
    "  name: nodejs",
    "  options:",
    "    typescript: true",
    "    nodeargs: --max-old-space-size=321 --stack-size=2000",
    "main: src/",
    "",
  ].join("\n");
  const ts = PROBE.replace('const pulumi = require("@pulumi/pulumi");', 'import * as pulumi from "@pulumi/pulumi";\nconst typed: number = 1;');
  // The program directory is a link into another tree whose Pulumi.yaml says otherwise (as the e2e test programs
  // are, under the repo's root project): the options are the project's, wherever its program lives.
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "sj-elsewhere-"));
  try {
    fs.writeFileSync(path.join(elsewhere, "Pulumi.yaml"), rootProjectFile("src/"));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(elsewhere, "node_modules")); // the host resolves the SDK from there
    fs.mkdirSync(path.join(elsewhere, "src"));
    fs.writeFileSync(path.join(elsewhere, "src", "index.ts"), ts);
    fs.writeFileSync(path.join(elsewhere, "src", "package.json"), '{ "main": "index.ts" }\n');
    const out = await outputs({ "Pulumi.yaml": yaml }, { src: path.join(elsewhere, "src") });
    expect(out).toEqual({ typescript: "true", tsNode: true, execArgv: "--max-old-space-size=321 --stack-size=2000" });
  } finally {
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});
