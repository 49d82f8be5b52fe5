import { execFileSync } from "child_process";
import * as path from "path";

// The examples are documentation that must not rot: they type-check against the package's API, including the one
// that shares @pulumi/command's remote.ConnectionArgs object with sftp-jail resources.
test("examples type-check against the current API", () => {
  const root = path.resolve(__dirname, "../..");
  expect(() =>
    execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(root, "examples")], { stdio: "pipe" }),
  ).not.toThrow();
}, 60_000);
