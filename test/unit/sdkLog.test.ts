/**
 * The SDK's per-resource debug lines are not sent to the engine (provider/util/sdkLog.ts): against a real gRPC engine
 * endpoint in a plain Node process with the preload, what arrives is every other message, the program's own debug
 * lines included; with SFTPJAIL_SDK_DEBUG=1, everything.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { SDK_CHATTER } from "../../provider/util/sdkLog";

const ROOT = path.resolve(__dirname, "..", "..");
const PRELOAD = path.join(ROOT, "node_modules", "sftp-jail", "bin", "provider", "cli", "preload.js");

/** What an engine receives from `@pulumi/pulumi/log` calls made in a process started with the preload. */
function received(env: NodeJS.ProcessEnv = {}): [number, string][] {
  const script = `
    const grpc = require("@grpc/grpc-js");
    const svc = require("@pulumi/pulumi/proto/engine_grpc_pb");
    const { Empty } = require("google-protobuf/google/protobuf/empty_pb");
    const got = [];
    const server = new grpc.Server();
    server.addService(svc.EngineService, {
      log: (call, cb) => { got.push([call.request.getSeverity(), call.request.getMessage()]); cb(null, new Empty()); },
    });
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), async (err, port) => {
      if (err) throw err;
      process.env.PULUMI_NODEJS_ENGINE = "127.0.0.1:" + port;
      const log = require("@pulumi/pulumi").log;
      await log.debug("Registering resource: t=sftpjail:SftpGroup, name=g, custom=true, remote=false");
      await log.debug("RegisterResource RPC prepared: t=sftpjail:SftpGroup, name=g");
      await log.debug("RegisterResource RPC finished: resource:g[sftpjail:SftpGroup]; err: null, resp: x");
      await log.debug("RegisterResource RPC failed: t=sftpjail:SftpGroup, name=g");
      await log.debug("the program's own line");
      await log.info("Registering resource: said as info");
      console.log(JSON.stringify(got));
      process.exit(0);
    });`;
  return JSON.parse(execFileSync(process.execPath, ["--require", PRELOAD, "-"], { cwd: ROOT, encoding: "utf8", input: script, env: { ...process.env, NODE_OPTIONS: "", ...env } }));
}

test("the SDK's registration trace stays in the program; failures, info and the program's own debug lines reach the engine", () => {
  expect(received().map(([, m]) => m)).toEqual([
    "RegisterResource RPC failed: t=sftpjail:SftpGroup, name=g",
    "the program's own line",
    "Registering resource: said as info",
  ]);
});

test("SFTPJAIL_SDK_DEBUG=1 sends them all", () => {
  expect(received({ SFTPJAIL_SDK_DEBUG: "1" })).toHaveLength(6);
});

test("the pattern names each trace line the SDK writes and no other of its debug lines", () => {
  const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
  const lines: string[] = [];
  for (const f of ["runtime/resource.js", "runtime/invoke.js", "runtime/rpc.js", "cmd/run/run.js"]) {
    const src = require("fs").readFileSync(path.join(sdk, f), "utf8") as string;
    for (const m of src.matchAll(/log\.debug\(`([^`$]*)/g)) lines.push(m[1]);
  }
  const dropped = lines.filter((l) => SDK_CHATTER.test(l));
  expect(dropped).toEqual(expect.arrayContaining(["Registering resource: t=", "RegisterResource RPC prepared: t=", "Reading resource: t="]));
  expect(lines.filter((l) => !SDK_CHATTER.test(l))).toEqual(expect.arrayContaining(["RegisterResource RPC failed: t=", "Running program '"]));
});
