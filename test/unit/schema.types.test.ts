/**
 * The resources' Args, outputs and planner types are derived from their zod shapes (provider/schema/*.ts), not written
 * again by hand. This file is type-checked by ts-jest (and by `tsc -p test/tsconfig.json`): each `@ts-expect-error`
 * line must be an error, so a derived type that accepted a wrong value would fail the build. The runtime part checks
 * what the types claim about the shapes, and that the shapes' field docs reach the derived Args (what an editor shows).
 */
import * as path from "path";
import * as ts from "typescript";
import { z } from "zod";
import * as pulumi from "@pulumi/pulumi";
import type { ChrootDirArgs, FirewallRuleArgs, JailedUserArgs, SftpGroupArgs, SftpJailHostArgs, SshdMatchBlockArgs } from "../../provider";
import type { ResourceArgs } from "../../provider/resources/dynamic";
import type { ShapeOutput } from "../../provider/schema/inputs";
import { sftpGroupShape } from "../../provider/schema/sftpGroup";
import { jailedUserShape } from "../../provider/schema/jailedUser";
import { chrootDirShape } from "../../provider/schema/chrootDir";
import { sshdMatchBlockShape } from "../../provider/schema/sshdMatchBlock";
import { firewallRuleShape } from "../../provider/schema/firewallRule";
import { fleetSchema } from "../../provider/schema/stackConfig";
import type { GroupDesired } from "../../provider/plan/sftpGroup";
import type { UserDesired } from "../../provider/plan/jailedUser";
import type { RuleDesired } from "../../provider/plan/firewall";
import { jailArgs } from "../../program/config";

/** Compile-time equality of two types. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(): T => true as T;

const connection = { host: "h", privateKeyFile: "/k" };

// Every schema field is an Args field, and nothing else is (but `connection`).
assertType<Equal<keyof SftpGroupArgs, keyof typeof sftpGroupShape | "connection">>();
assertType<Equal<keyof JailedUserArgs, keyof typeof jailedUserShape | "connection">>();
assertType<Equal<keyof ChrootDirArgs, keyof typeof chrootDirShape | "connection">>();
assertType<Equal<keyof SshdMatchBlockArgs, keyof typeof sshdMatchBlockShape | "connection">>();
assertType<Equal<keyof FirewallRuleArgs, keyof typeof firewallRuleShape | "connection">>();
// The planner's desired group is the schema's parsed output.
assertType<Equal<GroupDesired, ShapeOutput<typeof sftpGroupShape>>>();

// Accepted: plain values, Outputs and promises, at every level.
export const accepted: [SftpGroupArgs, JailedUserArgs, FirewallRuleArgs, SshdMatchBlockArgs, ChrootDirArgs] = [
  { connection, name: pulumi.output("sftp"), gid: Promise.resolve(2000) },
  { connection, name: "alice", group: "sftp", home: "/srv/sftp/alice", reachedFrom: [{ address: pulumi.output("203.0.113.7") }], jailOptOut: ["PermitTTY"] },
  { connection, port: 22, state: ["NEW"], action: "ACCEPT" },
  { connection, match: { Group: ["sftp"], LocalPort: 2222 }, directives: { ChrootDirectory: "%h", X11Forwarding: false } },
  { connection, path: "/srv/sftp/alice", subdirs: [{ path: "upload", owner: "alice", group: pulumi.output("sftp") }], onDelete: "retain" },
];

// Refused: wrong types, on the derived Args.
// @ts-expect-error gid is a number
export const badGid: SftpGroupArgs = { connection, name: "sftp", gid: "2000" };
// @ts-expect-error name is required (no resource-name default for a group)
export const noName: SftpGroupArgs = { connection };
// @ts-expect-error connection is required
export const noConnection: SftpGroupArgs = { name: "sftp" };
// @ts-expect-error state entries are CT_STATES (upper case)
export const badState: FirewallRuleArgs = { connection, port: 22, state: ["new"] };
// @ts-expect-error action is ACCEPT, DROP or REJECT
export const badAction: FirewallRuleArgs = { connection, port: 22, action: "ALLOW" };
// @ts-expect-error a field no schema has
export const unknownField: ChrootDirArgs = { connection, path: "/srv/sftp/a", colour: "red" };
// @ts-expect-error subdirs need an owner (nested objects are derived too)
export const badSubdir: ChrootDirArgs = { connection, path: "/srv/sftp/a", subdirs: [{ path: "upload", group: "sftp" }] };
// @ts-expect-error jailOptOut takes the jail's keywords only
export const badOptOut: JailedUserArgs = { connection, name: "a", group: "g", home: "/srv/sftp/a", jailOptOut: ["ForceCommand"] };
// @ts-expect-error match.LocalPort is one port
export const badMatch: SshdMatchBlockArgs = { connection, match: { LocalPort: [22] }, directives: {} };
// @ts-expect-error the component's users need authorizedKeys
export const badUser: SftpJailHostArgs = { connection, group: { name: "sftp" }, users: [{ name: "alice" }] };

// A field added to a schema is in the Args at once, typed as the schema says (here: a new optional string field).
const extendedShape = { ...sftpGroupShape, comment: z.string().optional() };
type ExtendedArgs = ResourceArgs<typeof extendedShape>;
export const withComment: ExtendedArgs = { connection, name: "sftp", comment: pulumi.output("partners") };
// @ts-expect-error the new field has the schema's type
export const badComment: ExtendedArgs = { connection, name: "sftp", comment: 42 };

// The adapter's firewall fields fold into the planner's RuleDesired (port|ports -> ports), which stays in plan/firewall.ts.
assertType<Equal<RuleDesired["state"][number], NonNullable<ShapeOutput<typeof firewallRuleShape>["state"]>[number]>>();
// The planner's desired account takes the schema's types (a planner field is picked from the schema, not retyped).
assertType<Equal<UserDesired["authorizedKeys"], ShapeOutput<typeof jailedUserShape>["authorizedKeys"]>>();

describe("types derived from the schemas", () => {
  it("the stack config's jail is the component's args (no cast): keys become authorizedKeys, hosts stay behind", () => {
    const fleet = fleetSchema.parse({
      hosts: [{ name: "h1", connection: { host: "10.0.0.5" } }],
      jails: [{ hosts: { site: "fra" }, group: { name: "sftp" }, users: [{ name: "alice", keys: ["ssh-ed25519 AAAA"] }], firewall: { port: 2222 } }],
    });
    const args = jailArgs(fleet.jails[0], connection);
    expect(args).toEqual({ connection, group: { name: "sftp" }, users: [{ name: "alice", authorizedKeys: ["ssh-ed25519 AAAA"] }], firewall: { port: 2222, backend: "auto", protocol: "tcp", position: "beforeReject", persist: false } });
    expect(Object.keys(args)).not.toContain("hosts");
  });

  it("each Args field shows the doc written next to it in the schema (what an editor's hover shows)", () => {
    const root = path.resolve(__dirname, "../..");
    const file = path.join(root, "provider/index.ts");
    const program = ts.createProgram([file], { strict: true, skipLibCheck: true, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, target: ts.ScriptTarget.ES2022, esModuleInterop: true, noEmit: true, types: [] });
    const checker = program.getTypeChecker();
    /** The doc of `field` on the type `name` declared in provider/<where>.ts, as the language service shows it. */
    const docOf = (name: string, field: string, where: string) => {
      const source = program.getSourceFile(path.join(root, "provider", `${where}.ts`))!;
      const sym = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).find((e) => e.name === name)!;
      const prop = checker.getPropertyOfType(checker.getDeclaredTypeOfSymbol(sym), field);
      return prop ? ts.displayPartsToString(prop.getDocumentationComment(checker)) : undefined;
    };
    expect(docOf("SftpGroupArgs", "gid", "resources/sftpGroup")).toMatch(/^Numeric gid; omit to let the host choose/);
    expect(docOf("SftpGroupArgs", "connection", "resources/sftpGroup")).toMatch(/^How to reach the host/);
    expect(docOf("JailedUserArgs", "reachedFrom", "resources/jailedUser")).toMatch(/^Clients the jail is reached from/);
    expect(docOf("FirewallRuleArgs", "name", "resources/firewallRule")).toMatch(/^Identifies the rule on the host/); // optional in Args, still documented
    expect(docOf("ChrootSubdir", "owner", "resources/chrootDir")).toBe("Owning user (usually the jailed user).");
    expect(docOf("SshdMatchCriteria", "Group", "resources/sshdMatchBlock")).toMatch(/^Group name patterns/);
    expect(docOf("SftpJailHostArgs", "chrootBase", "components/sftpJailHost")).toMatch(/^Parent of the per-user chroots/);
    // Outputs of a resource class, derived from what its adapter keeps in state.
    expect(docOf("SftpGroup", "actualGid", "resources/sftpGroup")).toBe("The gid the host has.");
  }, 60_000);
});
