import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deadman } from "../../provider/apply/guarded";

describe("dead-man timer", () => {
  const revert = [{ description: "restore", script: "echo restored > \"$SJ_OUT\"", effects: {} }];

  it("arms a detached timer whose script runs the revert steps under the host lock", () => {
    const { arm, disarm } = deadman("abc", 60, revert);
    expect(arm.script).toContain("setsid sh -c");
    expect(arm.script).toContain("9>&- &");
    const timer = /setsid sh -c '([\s\S]*?)' </.exec(arm.script)?.[1] ?? "";
    expect(timer).toMatch(/^sleep 60\n/);
    // Never reverts without the lock: it waits while the change is still armed.
    expect(timer).toContain("until flock -w 300 9; do [ -e /run/sftp-jail/deadman-abc.armed ] || exit 0; done");
    const b64 = /printf '%s' (\S+) \| base64 -d > \/run\/sftp-jail\/deadman-abc\.sh/.exec(arm.script)?.[1] ?? "";
    const script = Buffer.from(b64, "base64").toString();
    expect(script).toContain('{ echo restored > "$SJ_OUT" ; }');
    expect(disarm.script).toContain("rm -f /run/sftp-jail/deadman-abc.armed");
    expect(disarm.script).toContain("kill -- -$(cat /run/sftp-jail/deadman-abc.pid)");
  });

  it("the revert script it ships runs with sh and does the revert", () => {
    const { arm } = deadman("x", 10, revert);
    const b64 = /printf '%s' (\S+) \| base64 -d/.exec(arm.script)![1];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-dm-"));
    const out = path.join(dir, "out");
    execFileSync("sh", ["-c", Buffer.from(b64, "base64").toString()], { env: { ...process.env, SJ_OUT: out } });
    expect(fs.readFileSync(out, "utf8")).toBe("restored\n");
    fs.rmSync(dir, { recursive: true });
  });
});
