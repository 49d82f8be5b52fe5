import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EXPAND_SSHD_TOKENS, quote, quoteArg } from "../../provider/util/shell";

describe("quote", () => {
  const hostile = ["a;b", "$(id)", "`id`", "a b", "it's", "-x", "", "\n", "a\nb", "'\"'", "*", "~root", "a|b", "$HOME"];

  it.each(hostile)("passes %j through sh as one literal argument", (arg) => {
    const out = execFileSync("sh", ["-c", `printf '%s' ${quoteArg(arg)}`]).toString();
    expect(out).toBe(arg);
  });

  it("joins argument vectors and leaves safe tokens bare", () => {
    expect(quote(["groupadd", "--gid", 2001, "--", "sftp users"])).toBe("groupadd --gid 2001 -- 'sftp users'");
  });

  it("refuses NUL, which no shell can carry", () => {
    expect(() => quoteArg("a\0b")).toThrow(/NUL/);
  });
});

describe("EXPAND_SSHD_TOKENS (sshd's %h, %u, %% with values read from the host)", () => {
  const expand = (s: string, h: string, u: string) =>
    spawnSync("sh", ["-c", `SJ_S="$1" SJ_H="$2" SJ_U="$3" ${EXPAND_SSHD_TOKENS}`, "sh", s, h, u], { encoding: "utf8" }).stdout;

  it("expands exactly, and a home or name is data: no sed command, no awk escape, no shell", () => {
    expect(expand("%h/.ssh/authorized_keys", "/srv/sftp/acme", "acme")).toBe("/srv/sftp/acme/.ssh/authorized_keys\n");
    expect(expand("/etc/ssh/keys/%u %%u %%%h", "/h", "bob")).toBe("/etc/ssh/keys/bob %u %/h\n");
    const marker = path.join(os.tmpdir(), `sj-expand-${process.pid}`);
    const hostile = `/x#;e touch ${marker}#\\n&$(touch ${marker})`;
    expect(expand("%h|%u", hostile, "a&b\\\\c")).toBe(`${hostile}|a&b\\\\c\n`);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
