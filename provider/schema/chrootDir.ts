/**
 * ChrootDir's inputs: the single source of truth for their types, defaults, messages and docs. The resource's Args
 * (resources/chrootDir.ts), the adapter's parsed fields and the planner's desired jail are derived from it.
 */
import { z } from "zod";
import { jailPath, octalMode, posixName, relPath } from "./common";

/** A directory inside the chroot that a user may write to. */
export const chrootSubdirShape = {
  /** Relative path inside the chroot, e.g. "upload". */
  path: relPath("subdirs[].path"),
  /** Owning user (usually the jailed user). */
  owner: posixName("user"),
  /** Owning group. */
  group: posixName("group"),
  /** Octal mode string, e.g. "0755" (default) or "0750". */
  mode: octalMode("subdirs[].mode").default("0755"),
};

export const chrootDirShape = {
  /** Absolute, normalised path of the jail. Every component must be root-owned and not group/other-writable. */
  path: jailPath("path"),
  /** Always root (OpenSSH requires it); an input only so that refresh can show an owner that drifted. */
  owner: z.literal("root", { error: 'owner must be "root": OpenSSH refuses a ChrootDirectory owned by anyone else' }).default("root"),
  /** Group of the jail directory (owner is always root); default "root". With mode 0750 this is who may enter. */
  group: posixName("group").default("root"),
  /** Octal mode of the jail directory; default "0755"; group/other write is refused (OpenSSH would refuse the jail). */
  mode: octalMode("mode")
    .default("0755")
    .refine((m) => (parseInt(m, 8) & 0o022) === 0, {
      error: "mode must not let group or others write (OpenSSH refuses such a ChrootDirectory): use 0755 or 0750",
    }),
  /** Repair existing ancestors that break OpenSSH's rule (chown root, chmod go-w) instead of failing at preview; default false. */
  fixAncestors: z.boolean().default(false),
  /** Writable subdirectories (e.g. `upload`), created after their owner exists. */
  subdirs: z.array(z.strictObject(chrootSubdirShape)).default([]),
  /** On destroy: "retain" (default) keeps any files (moved to /var/lib/sftp-jail/retained), "delete" removes them. */
  onDelete: z.enum(["retain", "delete"], { error: 'onDelete must be "retain" or "delete"' }).default("retain"),
};

/** A subdirectory listed twice (ChrootDir's rule, and a JailedUser's chroot's: `at` is where subdirs are). */
export function refineSubdirs(subdirs: ReadonlyArray<{ path: string }>, ctx: z.RefinementCtx, at: Array<string | number> = []): void {
  const seen = new Set<string>();
  subdirs.forEach((s, i) => {
    if (seen.has(s.path)) ctx.addIssue({ code: "custom", path: [...at, "subdirs", i, "path"], message: `subdir "${s.path}" is listed twice` });
    seen.add(s.path);
  });
}

/** The fields with their cross-field rules (checked once every field is known). */
export const chrootDirSchema = z.strictObject(chrootDirShape).superRefine((d, ctx) => refineSubdirs(d.subdirs, ctx));

/**
 * The chroot a JailedUser owns at its home (JailedUser's `chroot`): every field of a ChrootDir but `path`, which is
 * the user's home. The same fields, defaults and messages, so the same planner (plan/chrootDir.ts) serves both.
 */
const { path: _path, ...ownedChrootShape } = chrootDirShape;
export { ownedChrootShape };
/** The fields as parsed: what the adapter and the planner (plan/chrootDir.ts) work with. */
export type ChrootDirFields = z.output<typeof chrootDirSchema>;

/** The resource type (`sftpjail:ChrootDir` in previews, provider/resources/dynamic.ts MODULE). */
export const TYPE = "ChrootDir";
