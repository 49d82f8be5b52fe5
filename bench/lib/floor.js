// Pulumi's own floor for ours' converge: the same stacks, resources and state as ours' run of the same round, through
// the same CLI, language host and dynamic-provider process, with a provider that does nothing (bench/floor/). What it
// costs is what Pulumi costs for this state before sftp-jail does any work: its figures put the CPU target in
// proportion (issue 10). It touches no host, so it has no end state to check.
"use strict";
const fs = require("fs");
const path = require("path");
const { Ours } = require("./ours");

const FLOOR = path.join(__dirname, "..", "floor");
/** The signature Pulumi's state gives a secret value: the floor cannot replay one (it holds only its ciphertext). */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

class PulumiFloor extends Ours {
  constructor(opts) {
    super("pulumi-floor", opts);
    this.name = "pulumi-floor";
    // The root project's Pulumi.yaml (same name, runtime and options), running the floor's program instead.
    const yaml = path.join(this.dir, "Pulumi.yaml");
    const text = fs.readFileSync(yaml, "utf8");
    if (!/^main: .*$/m.test(text)) throw new Error("Pulumi.yaml has no main: the floor cannot replace it");
    fs.writeFileSync(yaml, text.replace(/^main: .*$/m, "main: floor-program.js"));
    fs.copyFileSync(path.join(FLOOR, "program.js"), path.join(this.dir, "floor-program.js"));
    fs.copyFileSync(path.join(FLOOR, "provider.js"), path.join(this.dir, "floor-provider.js"));
  }

  /** Takes ours' state after its converge (`pulumi stack export` of each stack), and makes the same stacks here. */
  async prepare(ours) {
    this.stacks = [...ours.stacks];
    for (const stack of this.stacks) {
      const file = path.join(this.dir, `export-${stack}.json`);
      await ours.pulumi(stack, ["stack", "export", "--file", file], { check: true });
      const text = fs.readFileSync(file, "utf8");
      if (text.includes(SECRET_SIG)) throw new Error(`floor: ours' stack ${stack} holds secrets, which the floor cannot replay`);
      const all = JSON.parse(text).deployment.resources;
      const resources = all
        .filter((r) => !r.type.startsWith("pulumi:"))
        .map((r) => ({
          urn: r.urn, type: r.type, name: r.urn.slice(r.urn.lastIndexOf("::") + 2), custom: !!r.custom, id: r.id,
          parent: r.parent, dependencies: r.dependencies ?? [], given: Object.keys(r.propertyDependencies ?? {}),
          inputs: r.inputs ?? {}, outputs: r.outputs ?? {},
        }));
      const stackOutputs = all.find((r) => r.type === "pulumi:pulumi:Stack")?.outputs ?? {};
      fs.writeFileSync(path.join(this.dir, `floor-${stack}.json`), JSON.stringify({ resources, stackOutputs }));
      fs.rmSync(file);
      await this.pulumi(stack, ["stack", "init", stack, "--secrets-provider", "passphrase"], { check: true });
    }
  }
}

module.exports = { PulumiFloor };
