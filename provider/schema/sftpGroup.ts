/**
 * SftpGroup's inputs: the single source of truth for their types, defaults, messages and docs. The resource's Args
 * (resources/sftpGroup.ts), the adapter's parsed fields and the planner's desired group are all derived from it.
 */
import { z } from "zod";
import { posixId, unprivilegedGroup } from "./common";

export const sftpGroupShape = {
  /**
   * Group name (POSIX: `[a-z_][a-z0-9_-]*`, at most 32 characters). A new name replaces the group. Its members get
   * jailed, so it must not be a group that grants privilege.
   */
  name: unprivilegedGroup("name"),
  /** Numeric gid; omit to let the host choose (groupadd). Changing it runs `groupmod` in place. */
  gid: posixId("gid").optional(),
  /** Create as a system group (groupadd --system) when the group does not exist yet. */
  system: z.boolean({ error: "system must be true or false" }).default(false),
};
export const sftpGroupSchema = z.strictObject(sftpGroupShape);
/** The fields as parsed: what the adapter and the planner (plan/sftpGroup.ts) work with. */
export type SftpGroupFields = z.output<typeof sftpGroupSchema>;

/** The resource type (`sftpjail:SftpGroup` in previews, provider/resources/dynamic.ts MODULE). */
export const TYPE = "SftpGroup";
