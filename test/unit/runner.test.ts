/**
 * How a script reaches the root shell (provider/connection/pool.ts `runner`): on stdin after a random marker, never
 * as an argument. Run here with the real /bin/sh, as sshd runs the exec's command line.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runner } from "../../provider/connection/pool";

const MARK = "@@sftp-jail-script-0123456789abcdef@@";
const run = (stdin: string) => spawnSync("sh", ["-c", runner(MARK)], { input: stdin, encoding: "utf8", maxBuffer: 64 * 1048576 });

describe("the script runner", () => {
  it("runs the script after the marker, with stdin closed", () => {
    const r = run(`${MARK}\necho ran; cat; echo "rest: $(cat)"\nexit 4\n`);
    expect(r.stdout).toBe("ran\nrest: \n");
    expect(r.status).toBe(4);
  });

  it("drops a password line sudo did not read: it is never run, nor readable by the script", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-runner-"));
    const pwned = path.join(dir, "pwned");
    const r = run(`touch ${pwned}\n${MARK}\necho ok\n`);
    expect(r.stdout).toBe("ok\n");
    expect(fs.existsSync(pwned)).toBe(false);
    fs.rmSync(dir, { recursive: true });
  });

  it("runs nothing when the marker did not arrive (a cut stdin)", () => {
    const r = run("echo should-not-run\n");
    expect(r.status).toBe(70);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("the script did not arrive whole");
  });

  it("takes a script far over the 128 KiB an argument may have (a plan with a thousand keys)", () => {
    const big = Array.from({ length: 6000 }, (_, i) => `: ${"k".repeat(80)} ${i}`).join("\n");
    expect(big.length).toBeGreaterThan(400_000);
    const r = run(`${MARK}\n${big}\necho done\n`);
    expect(r).toMatchObject({ status: 0, stdout: "done\n" });
    // As an argument, the same script is refused by the kernel: what this replaced.
    expect(spawnSync("sh", ["-c", `${big}\necho done`], { encoding: "utf8" }).error?.message).toMatch(/E2BIG/);
  });

  it("refuses a marker that is not one", () => {
    expect(() => runner("@@x*@@")).toThrow(/not a script marker/);
  });
});
