/**
 * Field validators shared by the resource schemas. Each message says what is allowed, so a `check` failure tells the
 * user the fix without reading code.
 */
import { parseAddress } from "../util/cidr";
import { posix } from "path";
import { z } from "zod";
import { keyBlobProblem, keyCommentProblem } from "../util/sshkey";

/**
 * POSIX-portable user/group names as shadow-utils accept them by default: lower case letter or underscore first, then
 * letters, digits, `_` or `-`, at most 32 characters (useradd's limit). No leading dash, so a name is never an option.
 */
export const posixName = (what: "user" | "group") =>
  z
    .string({ error: `${what} name must be a string` })
    .min(1, { error: `${what} name must not be empty` })
    .max(32, { error: `${what} name must be at most 32 characters (useradd/groupadd limit)` })
    .regex(/^[a-z_][a-z0-9_-]*$/, {
      error: `${what} name must start with a lower-case letter or "_" and contain only a-z, 0-9, "_" and "-"`,
    });

/** Numeric ids: 0 is root and 65534 is nobody; both are refused, as is anything past the 32-bit range minus -1. */
export const posixId = (what: "uid" | "gid") =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number` })
    .min(1, { error: `${what} must be at least 1 (0 is root)` })
    .max(4294967294, { error: `${what} must be below 4294967295` })
    .refine((n) => n !== 65534, { error: `${what} 65534 is reserved for nobody/nogroup` });

/**
 * The accounts sftp-jail never jails, creates or adopts: root and the system range (below 1000, where Debian, RHEL
 * and SUSE put their service accounts) and nobody (65534). One rule for the schema, the planner and the host-side
 * guards ({@link UID_MIN_SCRIPT}), so no account can be jailable by one and invisible to another.
 */
export const FIRST_JAILABLE_UID = 1000;
export const isSystemUid = (uid: number): boolean => uid < FIRST_JAILABLE_UID || uid === 65534;
/** {@link isSystemUid} on a host (sh): `$sj_min` is the host's UID_MIN (login.defs), never below 1000. */
export const UID_MIN_SCRIPT = `sj_min=$(awk '$1=="UID_MIN"{print $2; exit}' /etc/login.defs 2>/dev/null); case "$sj_min" in ''|*[!0-9]*) sj_min=${FIRST_JAILABLE_UID};; esac; [ "$sj_min" -ge ${FIRST_JAILABLE_UID} ] || sj_min=${FIRST_JAILABLE_UID}`;

/** Characters a host-path component may hold: printable ASCII that no config file or shell could misread. */
const PATH_COMPONENT = /^[A-Za-z0-9._@+=,-]+$/;

/**
 * Why `p` is not an absolute, normalised host path, or undefined. The order matters and is the same for every field:
 * absolute and normalised FIRST (compared with `path.posix.normalize` of the raw value, so `/a/../b`, `/a/./b`,
 * `/a//b` and `/a/` are refused as written rather than silently resolved), then the characters of each component
 * (no control, zero-width or non-ASCII characters, no spaces, quotes or shell metacharacters), then length.
 * The allowed-prefix rule of the field comes after, in {@link hostPath}.
 */
export function hostPathProblem(what: string, p: string): string | undefined {
  if (!p.startsWith("/")) return `${what} must be an absolute path of letters, digits and ._@+=,- (no spaces, quotes or control characters)`;
  if (posix.normalize(p) !== p || (p !== "/" && p.endsWith("/")) || p.split("/").slice(1).some((c) => c === "." || c === "..")) {
    return `${what} must be normalised: no "..", ".", "//" or trailing "/"`;
  }
  if (p !== "/" && !p.split("/").slice(1).every((c) => PATH_COMPONENT.test(c))) {
    return `${what} must be an absolute path of letters, digits and ._@+=,- (no spaces, quotes or control characters)`;
  }
  if (p.length > 4096) return `${what} is longer than PATH_MAX`;
  return undefined;
}

/**
 * THE host-path type: every input that names a path on a host goes through it (chroots, subdirectories, homes, key
 * directories and files, shells, and the path values of sshd directives). `within`, when given, is the field's
 * allowed-prefix rule: it sees only a path that already passed {@link hostPathProblem} and returns why it is not
 * allowed, or undefined. Every message starts with the field's name; `check` adds the property path.
 */
export const hostPath = (what: string, within?: (p: string) => string | undefined) =>
  z.string({ error: `${what} must be a string` }).superRefine((p, ctx) => {
    const problem = hostPathProblem(what, p) ?? within?.(p);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** An absolute host path with no prefix rule of its own (kept as a name for {@link hostPath} without one). */
export const absPath = (what: string) => hostPath(what);

/** Host names (RFC 1123 labels), IPv4 or bracket-free IPv6 literals. */
export const hostName = z
  .string({ error: "host must be a string" })
  .min(1, { error: "host must not be empty" })
  .max(253, { error: "host must be at most 253 characters" })
  .refine(
    (h) =>
      /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(h) ||
      parseAddress(h)?.family === "ipv6",
    { error: "host must be a DNS name, an IPv4 address or an IPv6 address" },
  );

export const port = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number` })
    .min(1, { error: `${what} must be between 1 and 65535` })
    .max(65535, { error: `${what} must be between 1 and 65535` });

/** One failure as Pulumi's `check` reports it. */
export interface CheckFailure {
  property: string;
  reason: string;
}

/** Turns zod issues into check failures, every one at once, each with its property path. */
export function failuresOf(error: z.ZodError): CheckFailure[] {
  return error.issues.map((i) => ({
    property: i.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "["),
    reason: i.message,
  }));
}

/** File modes as octal strings ("0755"): what admins write, and what previews show. */
export const octalMode = (what: string) =>
  z
    .string({ error: `${what} must be an octal string such as "0755"` })
    .regex(/^0[0-7]{3}$/, { error: `${what} must be an octal string such as "0755" (4 digits, leading 0)` });

/**
 * A relative path inside another directory (a jail's subdirectory): the host-path rules applied to "/" + the value,
 * and every component starts with a letter, digit or "_" (no hidden, dot-dot or option-like names).
 */
export const relPath = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .max(1024, { error: `${what} must be at most 1024 characters` })
    .superRefine((p, ctx) => {
      if (p.length > 1024) return; // one message is enough
      if (hostPathProblem(what, "/" + p) !== undefined || !p.split("/").every((c) => /^[A-Za-z0-9_]/.test(c))) {
        ctx.addIssue({
          code: "custom",
          message: `${what} must be a relative path like "upload" or "in/new" (letters, digits, ._@+=,-; no "..", no leading "/")`,
        });
      }
    });

/** An OpenSSH public key line: type, base64, optional printable comment; no options, no second key. */
const KEY_LINE =
  /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [\x20-\x7e]{0,200})?$/;

/**
 * An OpenSSH public key line, one key only, whose base64 part really is a key of the type it names, and whose comment
 * carries no second key (sshd would ignore it silently).
 */
export const publicKey = z
  .string({ error: "each key must be a string" })
  .regex(KEY_LINE, {
    error:
      'each key must be one public key line "type base64 [comment]" (ssh-ed25519, ecdsa-sha2-*, ssh-rsa, sk-*) with no options and no newline',
  })
  .superRefine((line, ctx) => {
    if (!KEY_LINE.test(line)) return; // the line itself is wrong: one message is enough
    const [type, b64, ...comment] = line.split(" ");
    const problem = keyBlobProblem(type, b64) ?? keyCommentProblem(comment.join(" "));
    if (problem) ctx.addIssue({ code: "custom", message: `each key must be a well-formed public key: ${problem} (copy the whole line of the .pub file)` });
  });

/** Top-level directories that hold the system itself: never a jail, never a place to write key files into. */
const SYSTEM_TOP = new Set(["bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "root", "run", "sbin", "sys", "tmp", "usr"]);
/** System directories under /var. */
const SYSTEM_VAR = new Set(["backups", "cache", "lib", "local", "lock", "log", "mail", "opt", "run", "spool", "tmp"]);

/**
 * A jail (chroot, and so the jailed user's home): an absolute, normalised path at least two levels deep that is not
 * inside the system's own directories — destroy may move a jail away, and its owner rules are forced on every ancestor.
 */
export const jailPath = (what: string) => hostPath(what, (p) => jailProblem(what, p));

/** The allowed-prefix rule of a jail (see {@link jailPath}), for a path that is already a host path. */
export function jailProblem(what: string, p: string): string | undefined {
  const parts = p.split("/").filter(Boolean);
  if (parts.length < 2) return `${what} must be at least two levels deep, e.g. /srv/sftp/<user> (got ${p})`;
  if (SYSTEM_TOP.has(parts[0]) || (parts[0] === "var" && SYSTEM_VAR.has(parts[1]))) {
    return `${what} must not be inside /${parts[0]}${parts[0] === "var" ? "/" + parts[1] : ""} (a system directory): use e.g. /srv/sftp/<user>`;
  }
  return undefined;
}

/** True when `p` (a host path) is a key directory of its own: see {@link keysDirPath}. */
export const isKeysDir = (p: string) =>
  (/^\/etc\/ssh\/[^/]+(\/.+)?$/.test(p) && !/^\/etc\/ssh\/(sshd_config\.d|ssh_config\.d|moduli|ssh_host_[^/]*)(\/|$)/.test(p)) ||
  /^\/(etc|var\/lib)\/sftp-jail(\/.+)?$/.test(p);

/**
 * True when sftp-jail may read the host file `p` as root: an account's `.ssh/authorized_keys` (or `2`), or `<dir>/<name>`
 * in a key directory of its own ({@link isKeysDir}), `<name>` the account's when given, else any valid user name.
 * Key files (public keys) are the only files sftp-jail reads; never any other file of the system (a JailedUser's
 * adopted `authorizedKeysFile`, a component's look hint and the host's manifest all answer to this one rule).
 */
export function isKeyFilePath(p: string, name?: string): boolean {
  if (/\/\.ssh\/authorized_keys2?$/.test(p)) return true;
  const i = p.lastIndexOf("/");
  const base = p.slice(i + 1);
  return (name === undefined ? USER_NAME.safeParse(base).success : base === name) && isKeysDir(p.slice(0, i));
}
const USER_NAME = posixName("user");

/**
 * Where per-user key files live: a directory of its own under /etc/ssh (not sshd_config.d or ssh_config.d), or under
 * /etc/sftp-jail or /var/lib/sftp-jail — never a directory whose files the system reads for something else.
 */
export const keysDirPath = (what: string) =>
  hostPath(what, (p) =>
    isKeysDir(p) ? undefined : `${what} must be a directory of its own under /etc/ssh/ (e.g. /etc/ssh/sftp-jail/authorized_keys), /etc/sftp-jail/ or /var/lib/sftp-jail/`,
  );

/**
 * Groups that grant privilege on any host by their name alone (gid 0 and the groups a host's sudoers names are
 * judged per host by the planners): a jailed user, or an SFTP group whose members get jailed, must not be one.
 */
export const PRIVILEGED_GROUPS = [
  "root", "sudo", "wheel", "adm", "admin", "shadow", "disk", "kmem", "docker", "lxd", "incus", "incus-admin", "libvirt",
  "kvm", "systemd-journal",
] as const;

/** A group name that is not one of {@link PRIVILEGED_GROUPS}. */
export const unprivilegedGroup = (what: string) =>
  posixName("group").refine((g) => !(PRIVILEGED_GROUPS as readonly string[]).includes(g), {
    error: (i) => `${what} must not be ${String(i.input)}: it grants administrative rights (refused: ${PRIVILEGED_GROUPS.join(", ")}, gid 0, and any group named in the host's sudoers)`,
  });

/** Files sshd may send to clients before they log in (Banner): the classic issue files and sftp-jail's own. */
export const BANNER_RULE =
  "Banner must be /etc/issue, /etc/issue.net, /etc/ssh/banner* or a file under /etc/sftp-jail/ (sshd sends it to clients before they log in)";
/** True when the host path `p` is a place a Banner may be read from (see {@link BANNER_RULE}). */
export const isBannerPath = (p: string) => /^\/etc\/(issue(\.net)?|ssh\/banner[A-Za-z0-9._-]*|sftp-jail\/[A-Za-z0-9._@+=,/-]+)$/.test(p);

/** One IP address (v4 dotted quad or v6), as sshd's `-C addr=` / `laddr=` take it: no names, no CIDR. */
export const ipAddress = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .refine((a) => parseAddress(a) !== null, { error: `${what} must be one IP address, e.g. "203.0.113.7" or "2001:db8::7" (no name, no CIDR)` });
