import { execFileSync } from "child_process";
import { quote, quoteArg } from "../../provider/util/shell";

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
