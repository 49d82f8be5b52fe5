/**
 * The command-line tools as a person and a script use them: argument handling (Node's util.parseArgs), --help, usage
 * errors and exit codes, and how rollout reports a failed stack. The last block runs the compiled CLIs (bin/, built
 * by scripts/env.sh) as processes; none of them reaches a host.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError, optionTokens, wantsHelp, wholeNumber } from "../../provider/cli/args";
import { parseArgs as migrateArgs } from "../../provider/cli/migrate";
import { StackResult, fileBackendUrl, fleetHosts, firstError, nameHosts, parseArgs as rolloutArgs, table } from "../../provider/cli/rollout";

const ROOT = path.resolve(__dirname, "../..");

describe("shared argument handling", () => {
  it("asks for help with --help or -h anywhere before --", () => {
    expect(wantsHelp(["--stacks", "a", "--help"])).toBe(true);
    expect(wantsHelp(["-h"])).toBe(true);
    expect(wantsHelp(["--stacks", "a"])).toBe(false);
    expect(wantsHelp(["--", "--help"])).toBe(false);
  });

  it("turns Node's parse errors into short usage errors naming the option", () => {
    const options = { port: { type: "string" }, sudo: { type: "boolean" } } as const;
    const err = (argv: string[]) => {
      try {
        optionTokens(argv, options);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error("no error");
    };
    expect(err(["--frob"])).toBe("unknown option --frob");
    expect(err(["--port"])).toBe("--port needs a value");
    expect(err(["--sudo=yes"])).toBe("--sudo takes no value");
    expect(err(["stray"])).toBe('unexpected argument "stray" (every argument is an --option)');
    expect(optionTokens(["--port=22", "--sudo", "--port", "23"], options)).toEqual([
      { name: "port", raw: "--port", value: "22" },
      { name: "sudo", raw: "--sudo", value: undefined },
      { name: "port", raw: "--port", value: "23" },
    ]);
  });

  it("accepts whole numbers in range only", () => {
    expect(wholeNumber("--n", "0")).toBe(0);
    expect(wholeNumber("--port", "65535", 1, 65535)).toBe(65535);
    expect(() => wholeNumber("--port", "65536", 1, 65535)).toThrow('--port takes a whole number from 1 to 65535, got "65536"');
    expect(() => wholeNumber("--n", "-1")).toThrow('--n takes a whole number, got "-1"');
    expect(() => wholeNumber("--n", "1.5", 1)).toThrow('--n takes a whole number of at least 1, got "1.5"');
    expect(() => wholeNumber("--n", "0", 1)).toThrow(UsageError);
  });
});

describe("sftp-jail-rollout's arguments", () => {
  it("has defaults for everything but --stacks, and resolves --dir against the current directory", () => {
    expect(rolloutArgs(["--stacks", "fra, ams,,nyc"], "/work")).toEqual({
      stacks: ["fra", "ams", "nyc"],
      canary: 1,
      waveSize: 1,
      concurrency: 1,
      parallel: 64,
      preview: false,
      refresh: false,
      dir: "/work",
    });
    expect(
      rolloutArgs(["--stacks=a,b", "--canary", "0", "--wave-size", "3", "--concurrency=2", "--parallel", "16", "--preview", "--refresh", "--dir", "fleet"], "/work"),
    ).toMatchObject({ stacks: ["a", "b"], canary: 0, waveSize: 3, concurrency: 2, parallel: 16, preview: true, refresh: true, dir: "/work/fleet" });
  });

  it("refuses what it cannot use, saying why", () => {
    expect(() => rolloutArgs([])).toThrow("--stacks is required");
    expect(() => rolloutArgs(["--stacks", "a", "--wave-size", "0"])).toThrow('--wave-size takes a whole number of at least 1, got "0"');
    expect(() => rolloutArgs(["--stacks", "a", "--concurrency", "two"])).toThrow("--concurrency takes a whole number");
    expect(() => rolloutArgs(["--stacks", "a", "--parallel", "0"])).toThrow('--parallel takes a whole number of at least 1, got "0"');
    expect(() => rolloutArgs(["--stacks", "a b"])).toThrow('stack name "a b" has characters Pulumi does not allow');
    expect(() => rolloutArgs(["--stacks", "a,b,a"])).toThrow('--stacks lists "a" twice');
    expect(() => rolloutArgs(["--stacks", "a", "--yes"])).toThrow("unknown option --yes");
    expect(() => rolloutArgs(["--stacks"])).toThrow("--stacks needs a value");
    expect(() => rolloutArgs(["--stacks", "a", "--preview=no"])).toThrow(UsageError);
  });
});

test("the file backend URL asks gocloud for no sidecars, and refuses a directory it would cut at '?'", () => {
  expect(fileBackendUrl("/srv/state")).toBe("file:///srv/state?metadata=skip");
  expect(() => fileBackendUrl("/srv/a?b")).toThrow(/must not contain "\?"/);
  // The same URL as scripts/env.sh's default (bash cannot call this function).
  expect(fs.readFileSync(path.join(__dirname, "../../scripts/env.sh"), "utf8")).toContain('file://$ROOT/.pulumi-state?metadata=skip}');
});

describe("sftp-jail-migrate's arguments", () => {
  it("applies options before the first --host to every host, and later ones to the --host before them", () => {
    const o = migrateArgs(["--port=2222", "--host", "a", "--host=b", "--port", "22", "--label", "k=v=w", "--sudo", "--group", "partners"]);
    expect(o.group).toBe("partners");
    expect(o.hosts).toEqual([
      { name: "a", labels: { host: "a" }, connection: { host: "a", port: 2222 } },
      { name: "b", labels: { k: "v=w", host: "b" }, connection: { host: "b", port: 22, sudo: true } },
    ]);
  });

  it("refuses a label without =, a port out of range, and a stray word, as usage errors", () => {
    expect(() => migrateArgs(["--host", "a", "--label", "site"])).toThrow('--label takes KEY=VALUE, got "site"');
    expect(() => migrateArgs(["--host", "a", "--port", "0"])).toThrow("--port takes a whole number from 1 to 65535");
    expect(() => migrateArgs(["--host", "a", "extra"])).toThrow(UsageError);
    expect(() => migrateArgs(["--host", "a", "--name", "x", "--host", "b", "--name", "x"])).toThrow(UsageError);
  });
});

describe("rollout's report of a failed stack", () => {
  const config = {
    "sftp-jail:hosts": {
      value: JSON.stringify([
        { name: "h1", connection: { host: "10.0.0.1" } },
        { name: "h2", connection: { host: "127.0.0.1", port: 2202 } },
        { name: "h12", connection: { host: "127.0.0.1", port: 22021 } },
      ]),
    },
    "sftp-jail:groups": { value: "[]" },
    "other:hosts": { value: "not json" },
  };

  it("reads the fleet's host names and addresses from the stack config", () => {
    expect(fleetHosts(config)).toEqual([
      { name: "h1", address: "10.0.0.1:22" },
      { name: "h2", address: "127.0.0.1:2202" },
      { name: "h12", address: "127.0.0.1:22021" },
    ]);
  });

  it("names the host beside its address, never inside a longer address", () => {
    const hosts = fleetHosts(config);
    expect(nameHosts('SftpGroup "h2-sftp" on 127.0.0.1:2202: group exists', hosts)).toBe('SftpGroup "h2-sftp" on h2 (127.0.0.1:2202): group exists');
    expect(nameHosts("on root@127.0.0.1:22021, and 10.0.0.1:22.", hosts)).toBe("on h12 (root@127.0.0.1:22021), and h1 (10.0.0.1:22).");
    expect(nameHosts("110.0.0.1:22 and 10.0.0.1:220", hosts)).toBe("110.0.0.1:22 and 10.0.0.1:220");
  });

  it("takes the diagnosed error, not the stack's generic one, with its indented lines (the fix)", () => {
    const out = [
      "Updating (b):",
      ' +  pulumi-nodejs:dynamic/sftpjail:SftpGroup h2-sftp creating (0s) error: SftpGroup "h2-sftp" on 127.0.0.1:2202: group "sftp" already exists with gid 998',
      "Diagnostics:",
      "  pulumi:pulumi:Stack (sftp-jail-b):",
      "    error: update failed",
      "",
      '  pulumi-nodejs:dynamic/sftpjail:SftpGroup (h2-sftp):',
      '    error: SftpGroup "h2-sftp" on 127.0.0.1:2202: group "sftp" already exists with gid 998',
      "      fix: remove it or set gid: 998",
      "",
      "Resources:",
    ].join("\n");
    expect(firstError(out)).toEqual(['SftpGroup "h2-sftp" on 127.0.0.1:2202: group "sftp" already exists with gid 998', "fix: remove it or set gid: 998"]);
    expect(firstError("code: 255\n stdout: \n stderr: no Pulumi.yaml project file found")).toEqual(["code: 255"]);
  });

  it("prints the fix under the error in the summary table", () => {
    const results: StackResult[] = [
      { stack: "a", wave: 0, result: "succeeded", changes: { create: 2, same: 1 }, seconds: 3.04 },
      { stack: "b", wave: 1, result: "failed", changes: {}, seconds: 1.5, error: "on h2 (127.0.0.1:2202): exists\nfix: remove it" },
      { stack: "c", wave: 2, result: "skipped", changes: {}, seconds: 0 },
    ];
    expect(table(results).split("\n")).toEqual([
      "stack  wave  result     changes           time  error",
      "-----  ----  ---------  ----------------  ----  ------------------------------",
      "a      0     succeeded  create 2, same 1  3.0s",
      "b      1     failed     -                 1.5s  on h2 (127.0.0.1:2202): exists",
      "                                                fix: remove it",
      "c      2     skipped    -                 -",
    ]);
  });
});

describe("the installed commands (compiled, as processes)", () => {
  const run = (cli: "rollout" | "migrate", args: string[], cwd = ROOT) => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "bin/provider/cli", `${cli}.js`), ...args], { cwd, encoding: "utf8", timeout: 10_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it.each(["rollout", "migrate"] as const)("sftp-jail-%s --help prints usage, examples and exit codes on stdout and exits 0", (cli) => {
    for (const flag of ["--help", "-h"]) {
      const r = run(cli, [flag]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(new RegExp(`^usage: sftp-jail-${cli} `));
      expect(r.stdout).toMatch(/\nexamples:\n {2}sftp-jail-/);
      expect(r.stdout).toMatch(/\nexit codes:\n {2}0 {2}.*\n {2}1 {2}.*\n {2}2 {2}usage error/);
    }
  });

  it.each(["rollout", "migrate"] as const)("sftp-jail-%s answers a usage error with the message, then the usage, on stderr and exits 2", (cli) => {
    const r = run(cli, ["--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(new RegExp(`^sftp-jail-${cli}: unknown option --frobnicate\n\nusage: sftp-jail-${cli} `));
  });

  it("rollout previews skip the thrown-away state serialization and refresh in one pass; a value the user set wins", () => {
    const previewEnv = (env: Record<string, string>) => {
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "PULUMI_SKIP_CHECKPOINTS" && k !== "PULUMI_RUN_PROGRAM"));
      const r = spawnSync(process.execPath, ["-e", `console.log(JSON.stringify(require("./bin/provider/cli/rollout.js").PREVIEW_ENV))`], { cwd: ROOT, encoding: "utf8", env: { ...base, ...env } });
      return JSON.parse(r.stdout);
    };
    expect(previewEnv({})).toEqual({ PULUMI_SKIP_CHECKPOINTS: "true", PULUMI_RUN_PROGRAM: "true" });
    expect(previewEnv({ PULUMI_RUN_PROGRAM: "false" })).toEqual({ PULUMI_SKIP_CHECKPOINTS: "true" });
    expect(previewEnv({ PULUMI_SKIP_CHECKPOINTS: "false", PULUMI_RUN_PROGRAM: "false" })).toEqual({});
  });

  it("rollout refuses a --dir that is no Pulumi project before touching any stack (exit 2)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-cli-"));
    try {
      const r = run("rollout", ["--stacks", "a", "--dir", dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${dir} is not a Pulumi project (no Pulumi.yaml there): give the project's directory with --dir`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("migrate exits 1, naming the host, when a host cannot be read, and writes nothing", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-cli-"));
    try {
      const out = path.join(dir, "out.yaml");
      // No such key file: refused before any connection is attempted.
      const r = run("migrate", ["--host", "127.0.0.1", "--name", "h9", "--private-key-file", path.join(dir, "missing"), "--host-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M", "--out", out]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^sftp-jail-migrate: h9: .*127\.0\.0\.1:22: .*cannot be read/);
      expect(fs.existsSync(out)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
