/**
 * JailedUser's inputs: the single source of truth for their types, defaults, messages and docs. The resource's Args
 * (resources/jailedUser.ts), the adapter's parsed fields and the planner's desired account are derived from it.
 */
import { z } from "zod";
import { DEFAULT_KEYS_DIR } from "../plan/jailedUser";
import { JAIL_OPT_OUT } from "../plan/jail";
import { ownedChrootShape, refineSubdirs } from "./chrootDir";
import { FIRST_JAILABLE_UID, absPath, ipAddress, isKeyFilePath, isSystemUid, jailPath, keysDirPath, port, posixId, posixName, publicKey, unprivilegedGroup } from "./common";

export const jailedUserShape = {
  /** Login name. A new name replaces the account. Never root: sftp-jail jails accounts, it does not take over the operator's. */
  name: posixName("user").refine((n) => n !== "root", { error: "name must not be root: sftp-jail jails accounts, it does not take over the operator's" }),
  /** Numeric uid; omit to let the host choose. A new uid replaces the account. */
  uid: posixId("uid")
    .refine((n) => n < 1 || !isSystemUid(n), { error: `uid must be ${FIRST_JAILABLE_UID} or more (and not 65534): lower uids are the system's, and sftp-jail never jails a system account` })
    .optional(),
  /** The SFTP group (its `Match Group` block jails the user); new accounts get it as primary group. */
  group: unprivilegedGroup("group"),
  /** More supplementary groups; none may grant privilege (see group). */
  extraGroups: z.array(unprivilegedGroup("each of extraGroups")).default([]),
  /** Home directory = the chroot (root-owned: this user's `chroot`, or a ChrootDir). */
  home: jailPath("home"),
  /**
   * Login shell; default: the host's nologin (/usr/sbin/nologin on Debian, /sbin/nologin on RHEL). Anything that does
   * not resolve on the host to nologin or false is refused unless allowLoginShell is true.
   */
  shell: absPath("shell").optional(),
  /**
   * Let `shell` be a real login shell (e.g. /bin/bash). Off by default: the Match block is then the only thing that
   * keeps the account in its jail, and a moment without it (an edit, a destroy) gives the user a shell on the host.
   */
  allowLoginShell: z.boolean({ error: "allowLoginShell must be true or false" }).default(false),
  /** Exact set of public keys allowed to log in ("type base64 [comment]"). */
  authorizedKeys: z.array(publicKey).max(1000).default([]),
  /**
   * Root-owned directory (outside any jail) holding one key file per user; sshd's AuthorizedKeysFile must name it.
   * Default /etc/ssh/sftp-jail/authorized_keys.
   */
  keysDir: keysDirPath("keysDir").default(DEFAULT_KEYS_DIR),
  /**
   * Adopt a key file kept elsewhere (e.g. ~/.ssh/authorized_keys inside a hand-made jail) read-only: its keys must
   * equal `authorizedKeys`; sftp-jail reports drift, refuses to write it, and destroy leaves it.
   */
  authorizedKeysFile: absPath("authorizedKeysFile").optional(),
  /** Keep the shadow password field at "*" (default true): key-only, but not locked (so key login works with UsePAM no too). */
  keyOnly: z.boolean().default(true),
  /**
   * Clients the jail is reached from, e.g. `[{ address: "203.0.113.7" }]` (optionally with the server's
   * `localAddress` and `localPort` they connect to). Every run proves the jail in effect (`sshd -T -C`) for a neutral
   * client and for each of these, so a `Match Address` block that loosens it for the partner shows as drift.
   */
  reachedFrom: z
    .array(z.strictObject({ address: ipAddress("reachedFrom.address"), localAddress: ipAddress("reachedFrom.localAddress").optional(), localPort: port("reachedFrom.localPort").optional() }))
    .max(16)
    .default([]),
  /**
   * Jail keywords this account deliberately does not need at "no" (default none), of AllowTcpForwarding,
   * AllowStreamLocalForwarding, AllowAgentForwarding, X11Forwarding, PermitTunnel, PermitTTY, GatewayPorts,
   * PermitUserRC: e.g. to adopt a hand-made block that does not set them. Every other one must resolve to "no".
   */
  jailOptOut: z.array(z.enum(JAIL_OPT_OUT, { error: `jailOptOut entries must be one of ${JAIL_OPT_OUT.join(", ")}` })).default([]),
  /**
   * The jail at `home`, owned by this user (what SftpJailHost gives every user): root-owned, with its writable
   * subdirectories; the fields of a ChrootDir but `path`. Created after the account, removed before it (onDelete:
   * "retain" by default moves any files to /var/lib/sftp-jail/retained). Omit it when a ChrootDir of its own manages
   * the home.
   */
  chroot: z.strictObject(ownedChrootShape).optional(),
};
/** The fields with their cross-field rules (checked once every field is known). */
export const jailedUserSchema = z.strictObject(jailedUserShape).superRefine((d, ctx) => {
  if (new Set(d.authorizedKeys).size !== d.authorizedKeys.length) {
    ctx.addIssue({ code: "custom", path: ["authorizedKeys"], message: "authorizedKeys lists the same key twice" });
  }
  if (d.chroot) refineSubdirs(d.chroot.subdirs, ctx, ["chroot"]);
  if (d.extraGroups.includes(d.group)) ctx.addIssue({ code: "custom", path: ["extraGroups"], message: `extraGroups repeats group "${d.group}"` });
  // An adopted key file is read as root on every run: only the places key files live, never any file of the system.
  const f = d.authorizedKeysFile;
  if (f !== undefined && !isKeyFilePath(f, d.name)) {
    ctx.addIssue({
      code: "custom",
      path: ["authorizedKeysFile"],
      message: `authorizedKeysFile must be a user's .ssh/authorized_keys (or authorized_keys2), or <dir>/${d.name} with <dir> a key directory of its own under /etc/ssh/, /etc/sftp-jail/ or /var/lib/sftp-jail/`,
    });
  }
});
/** The fields as parsed: what the adapter and the planner (plan/jailedUser.ts) work with. */
export type JailedUserFields = z.output<typeof jailedUserSchema>;

/** The resource type (`sftpjail:JailedUser` in previews, provider/resources/dynamic.ts MODULE). */
export const TYPE = "JailedUser";
