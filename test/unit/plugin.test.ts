/**
 * The provider plugin's pure parts: the generated package schema (checked in, and generated from the zod shapes),
 * field-level diffs, and the secret wrapping on the wire.
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { buildSchema, finish } from "../../provider/plugin/schema";
import { RESOURCES, ownerOfUrn, token, typeOfUrn } from "../../provider/plugin/resources";
import { detailedDiff } from "../../provider/plugin/diff";
import { SECRET_SIG, SIG_KEY, reveal, sealConnection } from "../../provider/plugin/secrets";

const ROOT = path.resolve(__dirname, "../..");
const checkedIn = JSON.parse(fs.readFileSync(path.join(ROOT, "provider/plugin/schema.json"), "utf8"));

describe("package schema", () => {
  test("provider/plugin/schema.json is what scripts/schema.js generates from the current code", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { render } = require(path.join(ROOT, "scripts/schema.js"));
    expect(fs.readFileSync(path.join(ROOT, "provider/plugin/schema.json"), "utf8")).toBe(render());
  });

  test.each(RESOURCES.map((r) => [r.type, r] as const))("%s: every zod field is an input, with its default and required-ness", (_t, r) => {
    const spec = checkedIn.resources[token(r.type)];
    const json = z.toJSONSchema(z.object(r.shape), { io: "input", unrepresentable: "any" }) as { properties: Record<string, { default?: unknown }>; required?: string[] };
    expect(Object.keys(spec.inputProperties).sort()).toEqual(["connection", ...Object.keys(r.shape)].sort());
    expect(spec.requiredInputs.sort()).toEqual((json.required ?? []).sort());
    for (const [k, v] of Object.entries(json.properties)) {
      if (v.default !== undefined && typeof v.default !== "object") expect(spec.inputProperties[k].default).toEqual(v.default);
    }
    for (const k of r.replaceOnChanges) expect(spec.inputProperties[k].willReplaceOnChanges).toBe(true);
    // The connection is secret as an input, as an output and in the provider's configuration.
    expect(spec.inputProperties.connection.secret).toBe(true);
    expect(spec.properties.connection.secret).toBe(true);
  });

  test("descriptions come from the TypeScript API's TSDoc", () => {
    const user = checkedIn.resources[token("JailedUser")];
    expect(user.inputProperties.keyOnly.description).toMatch(/key-only/);
    expect(user.inputProperties.connection.description).toMatch(/@pulumi\/command's `remote.Connection`/);
    expect(user.description).toMatch(/Import ID: `user\/<name>`/);
    expect(checkedIn.config.variables.connection.secret).toBe(true);
    expect(checkedIn.resources[token("SftpJailHost")].isComponent).toBe(true);
  });

  test("a new field in a zod shape changes the schema (no second source of truth)", () => {
    const r = RESOURCES.find((x) => x.type === "SftpGroup")!;
    const shape = r.shape;
    try {
      r.shape = { ...shape, comment: z.string().default("x") };
      const s = finish(buildSchema({}, "0.0.0"));
      expect(s.resources[token("SftpGroup")].inputProperties.comment).toEqual({ type: "string", default: "x" });
    } finally {
      r.shape = shape;
    }
  });
});

describe("detailedDiff", () => {
  test("paths down to the changed element, with the kind the engine shows", () => {
    const olds = { authorizedKeys: ["a"], mode: "0755", directives: { X11Forwarding: "no", AllowTcpForwarding: "no" }, connection: { host: "h" } };
    const news = { authorizedKeys: ["a", "b"], mode: "0750", directives: { X11Forwarding: "no", PermitTunnel: "no" }, connection: { host: "h" } };
    expect(detailedDiff(["authorizedKeys", "mode", "directives"], olds, news, [])).toEqual({
      "authorizedKeys[1]": "ADD",
      mode: "UPDATE",
      "directives.AllowTcpForwarding": "DELETE",
      "directives.PermitTunnel": "ADD",
    });
  });

  test("a field the adapter replaces on is marked *_REPLACE; connection values are compared, never listed below it", () => {
    expect(detailedDiff(["name", "gid"], { name: "a", gid: 1, connection: { port: 1 } }, { name: "b", gid: 1, connection: { port: 2 } }, ["name"])).toEqual({
      name: "UPDATE_REPLACE",
      connection: "UPDATE",
    });
  });

  test("equal values in any key order are no change", () => {
    expect(detailedDiff(["match"], { match: { Group: ["x"], User: ["y"] } }, { match: { User: ["y"], Group: ["x"] } }, [])).toEqual({});
  });
});

test("an SshdMatchBlock's stack (written in its block file) comes from its URN, as the dynamic class takes it from the program's stack", () => {
  const urn = "urn:pulumi:site-a::fleet::sftpjail:index:SftpJailHost$sftpjail:index:SshdMatchBlock::h1-sftp-match";
  expect(typeOfUrn(urn)).toBe(token("SshdMatchBlock"));
  expect(ownerOfUrn(urn)).toBe("fleet/site-a");
  expect(ownerOfUrn("not-a-urn")).toBeUndefined();
});

describe("secrets on the wire", () => {
  test("reveal unwraps at any depth; sealConnection wraps only the connection", () => {
    const wrapped = { connection: { [SIG_KEY]: SECRET_SIG, value: { host: "h", sudo: { password: { [SIG_KEY]: SECRET_SIG, value: "pw" } } } }, name: "a" };
    expect(reveal(wrapped)).toEqual({ connection: { host: "h", sudo: { password: "pw" } }, name: "a" });
    expect(sealConnection({ connection: { host: "h" }, name: "a" })).toEqual({ connection: { [SIG_KEY]: SECRET_SIG, value: { host: "h" } }, name: "a" });
    expect(sealConnection({ name: "a" })).toEqual({ name: "a" });
  });
});
