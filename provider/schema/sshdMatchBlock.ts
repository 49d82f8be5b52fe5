/**
 * SshdMatchBlock's inputs: the single source of truth for their types, defaults, messages and docs, and the rules for
 * each directive's value. The resource's Args (resources/sshdMatchBlock.ts), the adapter's parsed fields and the
 * planner's desired block (plan/sshdRender.ts BlockDesired) are derived from it.
 */
import { z } from "zod";
import { DIRECTIVES, DIRECTIVE_NAMES } from "../plan/sshdRender";
import { BANNER_RULE, hostPathProblem, isBannerPath, jailProblem, port } from "./common";
import { sshAddressProblem } from "../util/cidr";

/** A pattern-list criterion: tokens matching `re`, `!` negation allowed, at least one positive pattern. */
function patternList(what: string, re: RegExp, allowed: string) {
  return z
    .array(
      z
        .string({ error: `match.${what} entries must be strings` })
        .min(1, { error: `match.${what} entries must not be empty` })
        .max(255, { error: `match.${what} entries must be at most 255 characters` })
        .regex(re, { error: `match.${what} entries may contain only ${allowed}, with an optional leading "!" to negate` }),
      { error: `match.${what} must be a list of patterns, e.g. ["sftp"]` },
    )
    .min(1, { error: `match.${what} must list at least one pattern (omit it to not match on ${what})` })
    .refine((l) => l.some((t) => !t.startsWith("!")), {
      error: `match.${what} has only negated patterns, which OpenSSH never matches; add a positive one, e.g. ["*", "!admin"]`,
    });
}

const NAMEPAT = /^!?[A-Za-z0-9_.*?][A-Za-z0-9_.*?-]*$/;
const HOSTPAT = /^!?[A-Za-z0-9.*?-]+$/;
const ADDRPAT = /^!?(?:[0-9A-Fa-f:.*?]+|[0-9A-Fa-f:.]+\/[0-9]{1,3})$/;

/** Why an address pattern is not one OpenSSH can use, or undefined: CIDRs and literal addresses must be real ones. */
export function addressProblem(raw: string): string | undefined {
  const p = raw.replace(/^!/, "");
  if (/[*?]/.test(p)) return undefined; // wildcard patterns are matched as text
  return sshAddressProblem(p, raw);
}

const addressList = (what: string) =>
  patternList(what, ADDRPAT, "IP addresses with wildcards * ?, or CIDR prefixes").superRefine((l, ctx) => {
    l.forEach((a, i) => {
      const why = addressProblem(a);
      if (why) ctx.addIssue({ code: "custom", path: [i], message: `match.${what}: ${why}` });
    });
  });

const CRITERIA_KEYS = ["all", "User", "Group", "Host", "LocalAddress", "LocalPort", "Address"];

/** The Match criteria; all given ones must hold. Pattern lists allow the wildcards `*` `?` and `!` negation. */
export const matchSchema = z
  .strictObject(
    {
      /** `Match all`: every connection (cannot be combined with other criteria). */
      all: z.literal(true, { error: "match.all must be true (omit it otherwise)" }).optional(),
      /** User name patterns, e.g. `["alice", "bob"]`. */
      User: patternList("User", NAMEPAT, "letters, digits, _ . - and the wildcards * ?").optional(),
      /** Group name patterns, e.g. `["sftp"]` or `["sftp", "!admins"]`. */
      Group: patternList("Group", NAMEPAT, "letters, digits, _ . - and the wildcards * ?").optional(),
      /** Client host name patterns (reverse DNS when sshd has UseDNS yes). */
      Host: patternList("Host", HOSTPAT, "letters, digits, . - and the wildcards * ?").optional(),
      /** Server addresses the client connected to: patterns or CIDR. */
      LocalAddress: addressList("LocalAddress").optional(),
      /** The server port the client connected to (OpenSSH takes a single port here). */
      LocalPort: port("match.LocalPort").optional(),
      /** Client addresses: patterns (`192.0.2.*`) or CIDR (`192.0.2.0/24`), `!` to exclude. */
      Address: addressList("Address").optional(),
    },
    { error: (i) => (i.code === "unrecognized_keys" ? `unknown Match criterion; allowed: ${CRITERIA_KEYS.join(", ")}` : undefined) },
  )
  .refine((m) => CRITERIA_KEYS.some((k) => (m as Record<string, unknown>)[k] !== undefined), {
    error: `match needs at least one criterion (${CRITERIA_KEYS.join(", ")}); use { all: true } to match every connection`,
  })
  .refine((m) => !m.all || Object.keys(m).length === 1, { error: "match.all cannot be combined with other criteria" });

const SAFE_TEXT = /^[^\n\r#"'\\]*$/;

/**
 * Why one path value of a directive is refused, or undefined. Every path value goes through the one host-path type
 * (schema/common.ts): sshd's tokens are first replaced by stand-ins of the same shape (%u: a user name, %U: a uid;
 * %h only as the whole first component, since it expands to an absolute path), then the result must be an absolute,
 * normalised host path, then the directive's own prefix rule applies. So `%h/../..`, `/etc/sftp-jail/../shadow` and
 * `ChrootDirectory /` are all refused as written.
 */
export function directivePathProblem(key: string, raw: string, tokens: boolean): string | undefined {
  if (!tokens && raw.includes("%")) return `${key} does not expand % tokens`;
  if (/%(?![hUu])/.test(raw)) return `${key} may use only the tokens %h, %u and %U`;
  if (/.%h/.test(raw) || /^%h[^/]/.test(raw)) return `${key} may use %h only at the start, as in %h or %h/sub (it expands to the home directory)`;
  const home = raw.startsWith("%h");
  // AuthorizedKeysFile: a relative path is relative to the home directory, like %h/.
  const relative = DIRECTIVES[key]?.kind === "paths" && !home && !raw.startsWith("/");
  const path = (home ? "/home/u" + raw.slice(2) : relative ? "/home/u/" + raw : raw).replace(/%u/g, "u").replace(/%U/g, "1000");
  const problem = hostPathProblem(key, path);
  if (problem) return home || relative ? problem.replace(/an absolute path/, "an absolute path (or start with %h)") : problem;
  return PATH_RULES[key]?.(path, home || relative);
}

/** The allowed-prefix rule of each path directive, for a value that is already a normalised host path. */
const PATH_RULES: Record<string, (p: string, inHome: boolean) => string | undefined> = {
  // "/" (or anything the host needs) as a chroot is no confinement at all; a jail is a jail path, or under %h.
  ChrootDirectory: (p, inHome) =>
    p === "/" ? "ChrootDirectory / is no confinement at all: use %h or a jail path such as /srv/sftp/%u" : inHome ? undefined : jailProblem("ChrootDirectory", p),
  // sshd (root) sends the Banner file to every matching client before authentication: only banner files. At apply
  // time the file must also be a root-owned regular file in a root-owned directory chain (plan/sshd.ts).
  Banner: (p) => (isBannerPath(p) ? undefined : BANNER_RULE),
  // AuthorizedKeysFile: sshd opens these with the user's own privileges, so any normalised path is harmless to root.
};

/** Checks one directive value against its kind; returns the normalised value or a reason. */
function directiveValue(key: string, raw: string | boolean): { value: string } | { reason: string } {
  const spec = DIRECTIVES[key];
  let v = typeof raw === "boolean" ? (raw ? "yes" : "no") : raw;
  if (v === "" || v.trim() !== v) return { reason: `${key} must not be empty or start/end with spaces` };
  if (!SAFE_TEXT.test(v)) return { reason: `${key} must not contain newlines, "#", quotes or backslashes (sshd_config cannot carry them safely)` };
  switch (spec.kind) {
    case "enum":
      v = v.toLowerCase();
      return spec.values.includes(v) ? { value: v } : { reason: `${key} must be one of ${spec.values.join(", ")}` };
    case "path":
    case "paths": {
      if (v === "none") return { value: v };
      const entries = spec.kind === "paths" ? v.split(" ") : [v];
      for (const e of entries) {
        const problem = directivePathProblem(key, e, spec.kind === "paths" || spec.tokens);
        if (problem) return { reason: problem };
      }
      return { value: v };
    }
    case "patterns":
      return /^!?[A-Za-z0-9._*?@-]+( !?[A-Za-z0-9._*?@-]+)*$/.test(v)
        ? { value: v }
        : { reason: `${key} must be user/group patterns of letters, digits and ._-*?@ (optionally starting with !), separated by single spaces` };
    case "command":
      return /^[A-Za-z0-9._@+=,/%:-]+( [A-Za-z0-9._@+=,/%:-]+)*$/.test(v)
        ? { value: v }
        : { reason: `${key} must be a command of letters, digits and ._@+=,/%:- separated by single spaces, e.g. "internal-sftp -d /upload" (no shell metacharacters)` };
  }
}

/** Directives: OpenSSH keywords (exact spelling) → value; booleans become yes/no. */
export const directivesSchema = z
  .record(z.string(), z.union([z.string(), z.boolean()], { error: "directive values must be strings (or booleans for yes/no)" }), {
    error: 'directives must be an object of sshd keywords to values, e.g. { ChrootDirectory: "%h", ForceCommand: "internal-sftp" }',
  })
  .transform((dirs, ctx) => {
    const out: Record<string, string> = {};
    for (const [k, raw] of Object.entries(dirs)) {
      if (!DIRECTIVES[k]) {
        const near = DIRECTIVE_NAMES.find((n) => n.toLowerCase() === k.toLowerCase());
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: near
            ? `"${k}" must be spelled ${near}`
            : `"${k}" is not a keyword sftp-jail allows inside a Match block; allowed: ${DIRECTIVE_NAMES.join(", ")}`,
        });
        continue;
      }
      const r = directiveValue(k, raw);
      if ("reason" in r) ctx.addIssue({ code: "custom", path: [k], message: r.reason });
      else out[k] = r.value;
    }
    if (Object.keys(out).length === 0 && Object.keys(dirs).length === 0) {
      ctx.addIssue({ code: "custom", message: "directives must set at least one keyword" });
    }
    return out;
  });

export const sshdMatchBlockShape = {
  /**
   * Names the block on the host (1-64 of `A-Za-z0-9_-`; its file is /etc/ssh/sshd_config.d/NN-sftp-jail-<name>.conf).
   * Default: the resource name.
   */
  name: z
    .string({ error: "name must be a string" })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "name must be 1-64 letters, digits, _ or - (it becomes part of a file name); set name explicitly" }),
  /**
   * 0–99 (default 50). Blocks are read in this order (file `NN-sftp-jail-<name>.conf`); when several matching blocks
   * set the same keyword, the lowest order wins, as OpenSSH takes the first value.
   */
  order: z
    .number({ error: "order must be a number" })
    .int({ error: "order must be a whole number" })
    .min(0, { error: "order must be between 0 and 99" })
    .max(99, { error: "order must be between 0 and 99" })
    .default(50),
  /** Who the block applies to, e.g. `{ Group: ["sftp"] }`. */
  match: matchSchema,
  /**
   * sshd keywords allowed inside Match → value, e.g. `{ ChrootDirectory: "%h", ForceCommand: "internal-sftp",
   * X11Forwarding: "no", AllowTcpForwarding: "no" }`. Allowed: ChrootDirectory, ForceCommand, AllowTcpForwarding,
   * AllowStreamLocalForwarding, AllowAgentForwarding, X11Forwarding, GatewayPorts, PermitTunnel, DisableForwarding,
   * PermitTTY, PermitUserRC, PasswordAuthentication, KbdInteractiveAuthentication, PubkeyAuthentication,
   * AuthorizedKeysFile, Banner. Booleans are written as yes/no.
   */
  directives: directivesSchema,
  /**
   * Keep `Subsystem sftp internal-sftp` on the host while this block exists (default true). Shared by all blocks of a
   * host: the main file's Subsystem line is changed while any block wants it and restored byte for byte after the last.
   */
  subsystemInternalSftp: z.boolean({ error: "subsystemInternalSftp must be true or false" }).default(true),
};
export const sshdMatchBlockSchema = z.strictObject(sshdMatchBlockShape);
/** The fields as parsed: what the adapter and the planner (plan/sshd.ts, BlockDesired) work with. */
export type SshdMatchBlockFields = z.output<typeof sshdMatchBlockSchema>;
/** The Match criteria as parsed (plan/sshdRender.ts MatchCriteria). */
export type SshdMatchCriteriaFields = z.output<typeof matchSchema>;

/** The resource type (`sftpjail:SshdMatchBlock` in previews, provider/resources/dynamic.ts MODULE). */
export const TYPE = "SshdMatchBlock";
