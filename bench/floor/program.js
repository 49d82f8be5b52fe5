// The Pulumi floor's program (bench/lib/floor.js): registers, for the stack it runs, the very resources ours' root
// program registered in the same round (types, names, parents, dependencies, the inputs the program gave), read from
// floor-<stack>.json, so the engine stores the same state; its provider (provider.js) does nothing. Compiled
// JavaScript with the root program's own trace settings (bin/program/traces.js), as the root program runs.
"use strict";
const fs = require("fs");
const path = require("path");
const pulumi = require("@pulumi/pulumi");
const { lighterPromiseTraces, withoutSourceMaps } = require("./bin/program/traces");

withoutSourceMaps();
lighterPromiseTraces();
// The root program records only its own frame with each resource (provider/util/registrationTraces.ts): so does this.
const original = pulumi.Resource.stackTrace;
pulumi.Resource.stackTrace = function (skip) {
  const frames = original.call(this, skip);
  const mine = frames.filter((f) => typeof f?.uri === "string" && f.uri.endsWith("/floor-program.js"));
  return mine.length ? mine : frames;
};

const { resources, stackOutputs } = JSON.parse(fs.readFileSync(path.join(__dirname, `floor-${pulumi.getStack()}.json`), "utf8"));
const providerText = `exports.handler = () => require(${JSON.stringify(path.join(__dirname, "floor-provider.js"))});\n`;

class Component extends pulumi.ComponentResource {
  constructor(type, name, opts) {
    super(type, name, {}, opts);
    this.registerOutputs({});
  }
}

const byUrn = new Map();
for (const r of resources) {
  const opts = { parent: r.parent ? byUrn.get(r.parent) : undefined, dependsOn: r.dependencies.map((u) => byUrn.get(u)).filter(Boolean) };
  if (!r.custom) {
    byUrn.set(r.urn, new Component(r.type, r.name, opts));
    continue;
  }
  // What the program gave (the keys of its property dependencies), then every output declared, as the classes do.
  const props = Object.fromEntries(Object.keys(r.outputs).map((k) => [k, undefined]));
  for (const k of r.given) props[k] = r.inputs[k];
  props.__provider = providerText;
  byUrn.set(r.urn, new pulumi.CustomResource(r.type, r.name, props, opts));
}
module.exports = stackOutputs;
