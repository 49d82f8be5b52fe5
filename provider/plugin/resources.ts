/**
 * The resources the provider plugin serves: each is the SAME adapter module the dynamic resources use (check, diff,
 * create, read, update, delete), its zod shape (the schema is generated from it) and the few facts a package schema
 * needs that the adapter decides in code (which fields replace, which outputs it adds).
 */
import { z } from "zod";
import * as sftpGroup from "../adapters/sftpGroup";
import * as jailedUser from "../adapters/jailedUser";
import * as chrootDir from "../adapters/chrootDir";
import * as sshdMatchBlock from "../adapters/sshdMatchBlock";
import * as firewallRule from "../adapters/firewallRule";
import type { AdapterModule } from "../resources/dynamic";
import { FIREWALL_IMPORT_ID_SHORT } from "./firewallImport";

export const PACKAGE = "sftpjail";
export const token = (type: string) => `${PACKAGE}:index:${type}`;

export interface PluginResource {
  type: string;
  adapter: AdapterModule;
  /** The zod shape: the single source of truth for the inputs. */
  shape: z.ZodRawShape;
  /** The TypeScript Args interface whose TSDoc gives the descriptions (provider/resources/<file>.ts). */
  argsFile: string;
  /** Fields whose change replaces the resource (mirrors the adapter's diff; the diff itself stays the adapter's). */
  replaceOnChanges: string[];
  /** Outputs beyond the inputs, as schema types. */
  outputs: Record<string, { type: string; description: string }>;
  /** What `pulumi import` takes as the ID. */
  importId: string;
}

export const RESOURCES: PluginResource[] = [
  {
    type: "SftpGroup",
    adapter: sftpGroup,
    shape: sftpGroup.sftpGroupShape,
    argsFile: "sftpGroup",
    replaceOnChanges: ["name"],
    outputs: {
      actualGid: { type: "integer", description: "The gid the host has." },
      adopted: { type: "boolean", description: "True when the group existed before (destroy then leaves it)." },
    },
    importId: "group/<name>",
  },
  {
    type: "JailedUser",
    adapter: jailedUser,
    shape: jailedUser.jailedUserShape,
    argsFile: "jailedUser",
    replaceOnChanges: ["name", "uid"],
    outputs: {
      uidActual: { type: "integer", description: "The uid the host assigned." },
      defaultShell: { type: "string", description: "The host's nologin, used when shell is not set." },
      adopted: { type: "boolean", description: "True when the account existed before (destroy then keeps it)." },
    },
    importId: "user/<name>",
  },
  {
    type: "ChrootDir",
    adapter: chrootDir,
    shape: chrootDir.chrootDirShape,
    argsFile: "chrootDir",
    replaceOnChanges: ["path"],
    outputs: {},
    importId: "chroot<path>, e.g. chroot/srv/sftp/alice",
  },
  {
    type: "SshdMatchBlock",
    adapter: sshdMatchBlock,
    shape: sshdMatchBlock.sshdMatchBlockShape,
    argsFile: "sshdMatchBlock",
    replaceOnChanges: [],
    outputs: {
      path: { type: "string", description: "The drop-in file (for a block adopted in place: the file that holds it)." },
      content: { type: "string", description: "The block as written." },
    },
    importId: "<file>#Match <criteria>, e.g. /etc/ssh/sshd_config#Match Group sftp",
  },
  {
    type: "FirewallRule",
    adapter: firewallRule,
    shape: firewallRule.firewallRuleShape,
    argsFile: "firewallRule",
    replaceOnChanges: ["name", "backend", "chain", "table"],
    outputs: {
      rule: { type: "string", description: "The rule as the host's firewall prints it." },
    },
    importId: FIREWALL_IMPORT_ID_SHORT,
  },
];

export const byToken = new Map(RESOURCES.map((r) => [token(r.type), r]));
export const typeOfUrn = (urn: string) => urn.split("::")[2]?.split("$").pop() ?? "";
/** The stack that manages a resource, `<project>/<stack>`, from its URN (`urn:pulumi:<stack>::<project>::...`). */
export function ownerOfUrn(urn: string): string | undefined {
  const [stack, project] = urn.replace(/^urn:pulumi:/, "").split("::");
  return stack && project ? `${project}/${stack}` : undefined;
}
