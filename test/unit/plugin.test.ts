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
import { SECRET_SIG, SIG_KEY, reveal, seal, secretFields } from "../../provider/plugin/secrets";
import { SftpJailProvider } from "../../provider/plugin/provider";
import { UNKNOWN } from "../../provider/adapters/base";
import { seedFor } from "../../provider/plugin/importing";
import { planChrootDelete } from "../../provider/plan/chrootDir";

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
  const sec = (v: unknown) => ({ [SIG_KEY]: SECRET_SIG, value: v });

  test("reveal unwraps at any depth; seal wraps the connection and every field the program made secret", () => {
    const wrapped = { connection: sec({ host: "h", sudo: { password: sec("pw") } }), name: "a" };
    expect(reveal(wrapped)).toEqual({ connection: { host: "h", sudo: { password: "pw" } }, name: "a" });
    const sent = { connection: { host: "h" }, name: "a", authorizedKeys: ["k1", sec("k2")], reachedFrom: sec([]) };
    const fields = secretFields(sent);
    expect([...fields].sort()).toEqual(["authorizedKeys", "connection", "reachedFrom"]);
    expect(seal({ ...reveal(sent), home: "/srv/a" }, fields)).toEqual({
      connection: sec({ host: "h" }),
      name: "a",
      authorizedKeys: sec(["k1", "k2"]),
      reachedFrom: sec([]),
      home: "/srv/a",
    });
    expect(seal({ name: "a" }, secretFields({ name: "a" }))).toEqual({ name: "a" });
  });

  test("the plugin's check keeps a program's secret field secret (the engine restores no mark for such a provider)", async () => {
    const p = new SftpJailProvider("{}");
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDmA+txTPK//C2FvgdYU/W9rn/BPBVFvJ+JmNEFfah/9 partner-ci";
    const news = { connection: sec({ host: UNKNOWN, privateKey: "k" }), name: "partner", group: "sftp", home: "/srv/sftp/partner", authorizedKeys: sec([key]) };
    const r = await p.check(`urn:pulumi:dev::proj::${token("JailedUser")}::u`, {}, news);
    expect(r.failures ?? []).toEqual([]);
    expect(r.inputs?.authorizedKeys).toEqual(sec([key]));
    expect((r.inputs?.connection as { value?: unknown })?.[SIG_KEY as never]).toBe(SECRET_SIG);
    expect(r.inputs?.name).toBe("partner");
    expect(JSON.stringify({ ...r.inputs, authorizedKeys: undefined, connection: undefined })).not.toContain("partner-ci");
  });
});

describe("hidden inputs", () => {
  test("a program's look hint is dropped (only SftpJailHost sets one, on its own children); a program's stack identity is replaced", async () => {
    const p = new SftpJailProvider("{}");
    const news = { connection: { host: UNKNOWN }, name: "sftp", __look: { paths: ["/srv/x"], files: [] }, __owner: "evil/stack" };
    const own = await p.check(`urn:pulumi:dev::proj::${token("SftpGroup")}::g`, {}, news);
    expect(own.inputs?.__look).toBeUndefined();
    expect(own.inputs?.__owner).toBe("proj/dev");
    const child = await p.check(`urn:pulumi:dev::proj::${token("SftpJailHost")}$${token("SftpGroup")}::h-group`, {}, news);
    expect(child.inputs?.__look).toEqual({ paths: ["/srv/x"], files: [] });
  });
});

describe("import", () => {
  test("an imported ChrootDir is adopted: its destroy moves and deletes nothing (retain or delete alike)", async () => {
    const seed = (await seedFor("ChrootDir", "chroot/srv/hand/acme", { host: "h" })) as Parameters<typeof planChrootDelete>[0];
    expect(seed).toMatchObject({ path: "/srv/hand/acme", adopted: true });
    expect(planChrootDelete(seed, "20261203T000000")).toEqual([]);
    expect(planChrootDelete({ ...seed, onDelete: "delete" }, "20261203T000000")).toEqual([]);
  });
});
