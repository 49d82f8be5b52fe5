/**
 * Drives the real `pulumi` CLI for end-to-end tests: a throw-away project directory that points at the repo's root
 * program (or a test program), or a copy of an example installed from the package tarball as a user's project, with
 * a local file backend and an empty passphrase. Nothing here calls provider methods directly.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { packageTarball } from "./tarball";
import { APPLIED, STEP_SEPARATOR } from "../../provider/apply/apply";
import { CONNECTION_SECRETS, SecretTree } from "../../provider/connection/schema";
import { fileBackendUrl } from "../../provider/cli/rollout";
import { SECRET_SIG, SIG_KEY } from "../../provider/plugin/secrets";

export const ROOT = path.resolve(__dirname, "../..");
/** The root program as Pulumi.yaml runs it: compiled to JavaScript by scripts/build.js. */
export const ROOT_PROGRAM = path.join(ROOT, "bin", "program");
/** The project file for a TypeScript test program (the root Pulumi.yaml runs the compiled root program). */
const TS_PROJECT = ["name: sftp-jail", "runtime:", "  name: nodejs", "  options:", "    typescript: true", "main: program/", ""].join("\n");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class PulumiProject {
  readonly backend: string;
  readonly env: NodeJS.ProcessEnv;
  /** The project's name (from its Pulumi.yaml): the namespace of its config keys. */
  readonly name: string;

  private constructor(
    readonly stack: string,
    readonly dir: string,
  ) {
    this.backend = path.join(this.dir, ".state");
    fs.mkdirSync(this.backend);
    const name = /^name:\s*(\S+)\s*$/m.exec(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"))?.[1];
    if (!name) throw new Error(`${dir}/Pulumi.yaml names no project`);
    this.name = name;
    this.env = {
      ...process.env,
      PULUMI_BACKEND_URL: fileBackendUrl(this.backend),
      PULUMI_CONFIG_PASSPHRASE: "",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_CONFIRMATIONS: "true",
      NO_COLOR: "1",
    };
  }

  /**
   * A project with a fresh stack. `pulumi` must be on PATH (`npm test` arranges it).
   * @param program a directory holding `index.ts` (and a package.json whose main is index.ts), run through ts-node
   *   as a user's TypeScript program is; or {@link ROOT_PROGRAM} (the default): the root program, compiled by
   *   scripts/build.js, run by the repo's own Pulumi.yaml. Test programs live in test/e2e/programs/<name>/ and
   *   import from "sftp-jail". Either way the project uses the repo's node_modules (sftp-jail installed there by
   *   scripts/build.js); {@link fromExample} is the project exactly as a user has it.
   */
  static async create(stack: string, program = ROOT_PROGRAM): Promise<PulumiProject> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sj-proj-${stack}-`));
    fs.copyFileSync(path.join(ROOT, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    if (program === ROOT_PROGRAM) {
      fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
      fs.mkdirSync(path.join(dir, "bin"));
      fs.symlinkSync(program, path.join(dir, "bin", "program"));
    } else {
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), TS_PROJECT);
      fs.symlinkSync(program, path.join(dir, "program"));
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.copyFileSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
    const p = new PulumiProject(stack, dir);
    await p.run(["stack", "init", stack, "--secrets-provider", "passphrase"], { check: true });
    return p;
  }

  /**
   * A user's project: a copy of `example` (a directory with its own Pulumi.yaml, package.json, index.ts, tsconfig)
   * as is, except that its `sftp-jail` dependency is the package tarball ({@link packageTarball}); then `npm install`
   * as a user runs it (from npm's cache when it can), and a fresh stack. Nothing of the repo's node_modules is used.
   */
  static async fromExample(stack: string, example: string): Promise<PulumiProject> {
    const tarball = await packageTarball();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sj-user-${stack}-`));
    fs.cpSync(example, dir, { recursive: true, filter: (src) => path.basename(src) !== "node_modules" });
    const pkgFile = path.join(dir, "package.json");
    const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8")) as { dependencies?: Record<string, string> };
    if (!pkg.dependencies?.["sftp-jail"]) throw new Error(`${example}/package.json does not depend on sftp-jail`);
    pkg.dependencies["sftp-jail"] = `file:${tarball}`;
    fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + "\n");
    const p = new PulumiProject(stack, dir);
    const npm = await p.command(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund"], 300_000);
    if (npm.code !== 0) throw new Error(`npm install in ${dir} failed (${npm.code}):\n${npm.stdout}\n${npm.stderr}`);
    await p.run(["stack", "init", stack, "--secrets-provider", "passphrase"], { check: true });
    return p;
  }

  /**
   * A project made of `files` (paths relative to the project directory, e.g. "Pulumi.yaml", "bin/probe/index.js") and
   * symbolic `links` (path → target), with the repo's node_modules, and a fresh stack: for tests of how Pulumi runs a
   * program rather than of what it builds.
   */
  static async fromFiles(stack: string, files: Record<string, string>, links: Record<string, string> = {}): Promise<PulumiProject> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sj-files-${stack}-`));
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    for (const [name, target] of Object.entries(links)) fs.symlinkSync(target, path.join(dir, name));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    const p = new PulumiProject(stack, dir);
    await p.run(["stack", "init", stack, "--secrets-provider", "passphrase"], { check: true });
    return p;
  }

  /** Runs any command (argv) in the project directory, with the project's environment. */
  command(argv: string[], timeoutMs = 120_000): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = spawn(argv[0], argv.slice(1), { cwd: this.dir, env: this.env });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", (e) => (stderr += String(e)));
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });
  }

  /** Adds another stack to the project (for multi-stack tests). */
  async addStack(name: string): Promise<void> {
    await this.run(["stack", "init", name, "--secrets-provider", "passphrase"], { check: true });
    await this.run(["stack", "select", this.stack], { check: true });
  }

  /** Writes a stack's config (values are JSON, which is YAML). */
  setConfig(values: Record<string, unknown>, stack = this.stack): void {
    const file = path.join(this.dir, `Pulumi.${stack}.yaml`);
    const existing = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    const salt = /^encryptionsalt: .*$/m.exec(existing)?.[0];
    const lines = [salt ?? "", "config:"];
    for (const [k, v] of Object.entries(values)) lines.push(`  ${this.name}:${k}: ${JSON.stringify(v)}`);
    fs.writeFileSync(file, lines.filter(Boolean).join("\n") + "\n");
  }

  run(args: string[], opts: { check?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: this.dir, env: this.env });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 300_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        const r = { code: code ?? 1, stdout, stderr };
        if (opts.check && r.code !== 0) {
          reject(new Error(`pulumi ${args.join(" ")} failed (${r.code}):\n${stdout}\n${stderr}`));
        } else resolve(r);
      });
    });
  }

  /**
   * Starts `pulumi` in its own process group (so a test can SIGKILL it together with its plugins, as a crash would)
   * and returns the child; `extraEnv` is added to the environment.
   */
  start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
    return spawn("pulumi", [...args, "--non-interactive"], { cwd: this.dir, env: { ...this.env, ...extraEnv }, detached: true, stdio: "ignore" });
  }

  up(...extra: string[]): Promise<RunResult> {
    return this.run(["up", "--yes", "--skip-preview", ...extra]);
  }

  preview(...extra: string[]): Promise<RunResult> {
    return this.run(["preview", "--diff", ...extra]);
  }

  destroy(...extra: string[]): Promise<RunResult> {
    return this.run(["destroy", "--yes", "--skip-preview", ...extra]);
  }

  /** Exported stack state (secrets stay encrypted). */
  async exportState(): Promise<string> {
    return (await this.run(["stack", "export"], { check: true })).stdout;
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Counts of operations in a `pulumi preview`/`up` summary, e.g. { create: 3, update: 1, same: 2 }. */
export function summary(out: string): Record<string, number> {
  const r: Record<string, number> = {};
  const block = out.slice(out.lastIndexOf("Resources:"));
  for (const m of block.matchAll(/^\s+([+~\-]|\+-)?\s*(\d+) (to create|created|to update|updated|to delete|deleted|to replace|replaced|unchanged|to refresh)/gm)) {
    const key = m[3].replace(/^to /, "").replace(/d$/, "").replace(/unchange$/, "same");
    r[key] = (r[key] ?? 0) + Number(m[2]);
  }
  return r;
}

/**
 * The provider's messages about the host on 127.0.0.1:`port` in a run's "Diagnostics:" section, without the host:
 * `<Type "name">: <message>`. Apply's one message per resource ("applied: <step>; <step>") gives one entry per step.
 */
export function hostMessages(out: string, port: number): string[] {
  if (!out.includes("Diagnostics:")) return [];
  const where = ` on 127.0.0.1:${port}: `;
  return out
    .slice(out.indexOf("Diagnostics:"), out.search(/^(Outputs|Resources):/m))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.includes(where))
    .flatMap((l) => {
      const at = l.indexOf(where);
      const who = l.slice(0, at);
      const what = l.slice(at + where.length);
      return what.startsWith(APPLIED) ? what.slice(APPLIED.length).split(STEP_SEPARATOR).map((st) => `${who}: ${st}`) : [`${who}: ${what}`];
    });
}

const isCiphertext = (v: unknown) =>
  !!v && typeof v === "object" && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG && typeof (v as Record<string, unknown>).ciphertext === "string";

/**
 * How a connection is kept in exported state: `whole` when it is one ciphertext; else `encrypted`, the secret fields
 * of the schema (CONNECTION_SECRETS) that are set and are ciphertext, and `plain`, those set in plain text (a leak).
 */
export function connectionSecrecy(conn: unknown): { whole: boolean; encrypted: string[]; plain: string[] } {
  if (isCiphertext(conn)) return { whole: true, encrypted: [], plain: [] };
  const encrypted: string[] = [];
  const plain: string[] = [];
  const walk = (v: unknown, t: SecretTree, at: string): void => {
    if (!v || typeof v !== "object") return;
    for (const [k, sub] of Object.entries(t)) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue;
      if (isCiphertext(x)) encrypted.push(at + k);
      else if (sub === true) plain.push(at + k);
      else walk(x, sub, `${at}${k}.`);
    }
  };
  walk(conn, CONNECTION_SECRETS, "");
  return { whole: false, encrypted: encrypted.sort(), plain: plain.sort() };
}
