#!/usr/bin/env node
/**
 * Entry point of `pulumi-resource-sftpjail`: serves SftpJailProvider over gRPC with `@pulumi/pulumi/provider`'s main.
 *
 * That server (3.276.0) neither hands the provider its configuration (Configure is answered without reading it) nor
 * puts a detailed diff on the wire (its DiffResult has no such field). Both are added here, around the one service
 * object main registers, and nowhere else: configure reads the config into the provider, diff adds detailedDiff.
 */
import * as fs from "fs";
import * as path from "path";
import * as provider from "@pulumi/pulumi/provider";
import { SftpJailProvider, DetailedDiffResult } from "./provider";
import { plaintextConfigSecrets, seal } from "./secrets";
import { plaintextMessage } from "../schema/stackConfig";

// The same module instances @pulumi/pulumi uses (grpc's Server class, the generated protobuf messages).
const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [pulumiDir] }));
const provproto = require(path.join(pulumiDir, "proto", "provider_pb"));
const structproto = require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [pulumiDir] }));

type Callback = (err: unknown, resp?: unknown) => void;
type Call = { request: any };

/** As the stock server does: the engine shows the plugin's stderr; a gRPC status keeps the message. */
function fail(callback: Callback, e: unknown): void {
  console.error(`${e}: ${(e as Error)?.stack}`);
  callback({ code: grpc.status.UNKNOWN, details: String((e as Error)?.message ?? e) });
}

function extend(impl: any, p: SftpJailProvider): any {
  impl.configure = (call: Call, callback: Callback) => {
    try {
      const req = call.request;
      const config: Record<string, unknown> = {};
      // Variables: "sftpjail:config:connection" → JSON text (older engines); args: the typed configuration.
      for (const [k, v] of req.getVariablesMap().entries()) config[String(k).replace(/^sftpjail:config:/, "")] = v;
      if (req.hasArgs && req.hasArgs()) Object.assign(config, req.getArgs().toJavaScript());
      p.configure(config);
      const resp = new provproto.ConfigureResponse();
      resp.setAcceptsecrets(true);
      resp.setAcceptresources(true);
      resp.setAcceptoutputs(true);
      callback(undefined, resp);
    } catch (e) {
      fail(callback, e);
    }
  };
  // The configuration is checked where it is used (each resource's connection schema): passed through as given,
  // except that its connection is kept secret, as every resource's is, even when it was set without --secret. A
  // secret typed into the stack config without --secret sits readable in the stack file: refused, as the root
  // program refuses its own (program/config.ts).
  impl.checkConfig = (call: Call, callback: Callback) => {
    try {
      const resp = new provproto.CheckResponse();
      const news = call.request.getNews()?.toJavaScript();
      const plain = plaintextConfigSecrets(call.request.getUrn(), news);
      if (plain.length) {
        // No property: the engine would print its value, i.e. the very secret, in the error.
        const f = new provproto.CheckFailure();
        f.setReason(plaintextMessage(plain));
        resp.addFailures(f);
      }
      resp.setInputs(news ? structproto.Struct.fromJavaScript(seal(news, new Set(["connection"]))) : undefined);
      callback(undefined, resp);
    } catch (e) {
      fail(callback, e);
    }
  };
  // A new provider connection is no reason to replace anything: each resource diffs the connection it resolves.
  impl.diffConfig = (call: Call, callback: Callback) => {
    try {
      const req = call.request;
      const resp = new provproto.DiffResponse();
      const same = JSON.stringify((req.getOldInputs() ?? req.getOlds())?.toJavaScript()) === JSON.stringify(req.getNews()?.toJavaScript());
      resp.setChanges(same ? provproto.DiffResponse.DiffChanges.DIFF_NONE : provproto.DiffResponse.DiffChanges.DIFF_SOME);
      callback(undefined, resp);
    } catch (e) {
      fail(callback, e);
    }
  };
  impl.diff = async (call: Call, callback: Callback) => {
    try {
      const req = call.request;
      const r: DetailedDiffResult = await p.diff(req.getId(), req.getUrn(), req.getOlds().toJavaScript(), req.getNews().toJavaScript());
      const resp = new provproto.DiffResponse();
      const C = provproto.DiffResponse.DiffChanges;
      resp.setChanges(r.changes === true ? C.DIFF_SOME : r.changes === false ? C.DIFF_NONE : C.DIFF_UNKNOWN);
      if (r.replaces?.length) resp.setReplacesList(r.replaces);
      if (r.deleteBeforeReplace) resp.setDeletebeforereplace(true);
      if (r.detailedDiff) {
        const map = resp.getDetaileddiffMap();
        for (const [k, kind] of Object.entries(r.detailedDiff)) {
          const d = new provproto.PropertyDiff();
          d.setKind(provproto.PropertyDiff.Kind[kind]);
          d.setInputdiff(true);
          map.set(k, d);
        }
        resp.setDiffsList([...new Set(Object.keys(r.detailedDiff).map((k) => k.split(/[.[]/)[0]))]);
        resp.setHasdetaileddiff(true);
      }
      callback(undefined, resp);
    } catch (e) {
      fail(callback, e);
    }
  };
  return impl;
}

const schema = fs.readFileSync(path.join(__dirname, "schema.json"), "utf8");
const impl = new SftpJailProvider(schema);
const addService = grpc.Server.prototype.addService;
grpc.Server.prototype.addService = function (service: unknown, implementation: unknown) {
  return addService.call(this, service, extend(implementation, impl));
};
provider.main(impl, process.argv.slice(2));
