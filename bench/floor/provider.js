// The Pulumi floor's provider (bench/lib/floor.js): answers every call with what ours' provider answered in the same
// round (read from floor-*.json beside it), and does nothing else: no SSH, no host, no planning.
"use strict";
const fs = require("fs");
const path = require("path");

/** A value's JSON with object keys sorted: the same inputs give the same key whatever their order. */
const stable = (v) =>
  Array.isArray(v) ? `[${v.map(stable).join(",")}]`
  : v && typeof v === "object" ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(",")}}`
  : JSON.stringify(v);
const key = (props) => stable(Object.fromEntries(Object.entries(props).filter(([k]) => k !== "__provider")));

const byGiven = new Map();
const byInputs = new Map();
for (const f of fs.readdirSync(__dirname).filter((f) => /^floor-.*\.json$/.test(f))) {
  for (const r of JSON.parse(fs.readFileSync(path.join(__dirname, f), "utf8")).resources) {
    if (!r.custom) continue;
    byGiven.set(key(Object.fromEntries(r.given.filter((k) => k in r.inputs).map((k) => [k, r.inputs[k]]))), r);
    byInputs.set(key(r.inputs), r);
  }
}
const find = (map, props, what) => {
  const r = map.get(key(props));
  if (!r) throw new Error(`floor provider: no captured resource for these ${what}`);
  return r;
};
const strip = ({ __provider, ...rest }) => rest;

module.exports = {
  async check(_olds, news) {
    return { inputs: { ...find(byGiven, news, "inputs").inputs, __provider: news.__provider } };
  },
  async diff() {
    return { changes: false };
  },
  async create(inputs) {
    const r = find(byInputs, inputs, "checked inputs");
    return { id: r.id, outs: strip(r.outputs) };
  },
  async read(id, props) {
    return { id, props };
  },
  async update(_id, _olds, news) {
    return { outs: strip(news) };
  },
  async delete() {},
};
