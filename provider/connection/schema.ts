/**
 * The connection input. Field names follow @pulumi/command's `remote.Connection` so one object can be shared between
 * `command.remote.Command` and sftp-jail resources; `sudo`, `knownHostsFile` and `dangerouslyTrustAnyHostKey` are ours.
 */
import { z } from "zod";
import { hostName, port } from "../schema/common";
import { keyBlobProblem, keyCommentProblem } from "../util/sshkey";

const HOST_KEY_LINE = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [^\x00-\x1f\x7f]*)?$/;

const hostKeyLine = z
  .string()
  .regex(HOST_KEY_LINE, {
    error: 'hostKey must be one public key in authorized_keys format, e.g. "ssh-ed25519 AAAAC3Nz..." (see ssh-keyscan)',
  })
  .superRefine((line, ctx) => {
    if (!HOST_KEY_LINE.test(line)) return;
    const [type, b64, ...comment] = line.split(" ");
    const problem = keyBlobProblem(type, b64) ?? keyCommentProblem(comment.join(" "));
    if (problem) ctx.addIssue({ code: "custom", message: `hostKey is not a well-formed public key: ${problem} (copy the line from ssh-keyscan)` });
  });

/**
 * Marks a field whose value is a secret: kept encrypted in state, redacted from every message. The one place that says
 * which connection fields are secrets; {@link CONNECTION_SECRETS} and {@link secretsOf} are derived from the marks.
 */
function secret<T extends z.ZodType>(s: T): T {
  return s.meta({ secret: true });
}

/** A local file or socket path: absolute (nothing expands "~" here), without control characters. */
const localPath = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(/^\/[^\x00-\x1f\x7f]*$/, { error: `${what} must be an absolute path without control characters ("~" is not expanded)` })
    .max(4096, { error: `${what} is longer than PATH_MAX` });

/** The fields a connection and its proxy (a bastion) share; docs here are the Args' docs (resources/dynamic.ts). */
const connectionBaseShape = {
  /** The host's name or address. */
  host: hostName,
  /** SSH port (default 22). */
  port: port("port").default(22),
  /** The login (default root; any other becomes root with `sudo`). */
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_.-]{0,31}$/, { error: "user must be a POSIX login name" })
    .default("root"),
  /** Password login (kept encrypted in state). */
  password: secret(z.string()).optional(),
  /** The private key itself, PEM or OpenSSH format (kept encrypted in state; see `privateKeyFile` to keep it out). */
  privateKey: secret(z.string()).optional(),
  /**
   * Path of a private key file on the machine running Pulumi, read by the provider when it dials: the key itself
   * then never enters Pulumi (no state, no RegisterResource payload in --debug logs).
   */
  privateKeyFile: localPath("privateKeyFile").optional(),
  /** Passphrase of an encrypted private key (kept encrypted in state). */
  privateKeyPassword: secret(z.string()).optional(),
  /** An ssh-agent's socket to authenticate with. */
  agentSocketPath: localPath("agentSocketPath").optional(),
  /** The host's public key, pinned (authorized_keys format, as ssh-keyscan prints it); else known_hosts is checked. */
  hostKey: hostKeyLine.optional(),
};

const proxySchema = z.strictObject({
  ...connectionBaseShape,
  /** Dial attempts before giving up. */
  dialErrorLimit: z.number().int().min(1).max(100).optional(),
  /** Seconds for one dial, handshake included. */
  perDialTimeout: z.number().int().min(1).max(3600).optional(),
});

export const connectionSchema = z
  .strictObject({
    ...connectionBaseShape,
    /** Dial attempts before giving up (pulumi-command's default is 10). */
    dialErrorLimit: z.number().int().min(1, { error: "dialErrorLimit must be at least 1" }).max(100).default(10),
    /** Seconds for one dial, handshake included (pulumi-command's default is 15). */
    perDialTimeout: z.number().int().min(1).max(3600).default(15),
    /**
     * Dead-man timer for sshd and firewall changes: the host itself restores the previous state and reloads this many
     * seconds after a change unless sftp-jail has confirmed a fresh login by then (so a crash or a cut network heals).
     */
    revertAfterSeconds: z
      .number()
      .int()
      .min(10, { error: "revertAfterSeconds must be at least 10 (time to reconnect and confirm)" })
      .max(3600)
      .default(60),
    /** A bastion to reach `host` through. */
    proxy: proxySchema.optional(),
    /**
     * known_hosts file to verify the host key against when no `hostKey` is pinned (default ~/.ssh/known_hosts); the
     * bastion's (`proxy`) key too, when the proxy pins none.
     */
    knownHostsFile: localPath("knownHostsFile").optional(),
    /** Accept any host key. Exists for throw-away labs only; every run warns loudly. */
    dangerouslyTrustAnyHostKey: z.boolean().default(false),
    /**
     * How to become root when `user` is not root: `true` uses `sudo -n` (NOPASSWD), `{ password }` feeds sudo a
     * password on stdin. Default: sudo -n when user is not root.
     */
    sudo: z
      .union([
        z.boolean(),
        z.strictObject({
          // sudo -S reads one line: a line break would end the password early and leave the rest on the script's stdin.
          password: secret(
            z
              .string({ error: "sudo.password must be a string" })
              .min(1, { error: "sudo.password must not be empty" })
              .regex(/^[^\n\r\x00]*$/, { error: "sudo.password must not contain line breaks or NUL (sudo reads one line)" }),
          ),
        }),
      ], { error: 'sudo must be true, false, or { password: "..." }' })
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (c.privateKey && c.privateKeyFile) {
      ctx.addIssue({ code: "custom", path: ["privateKeyFile"], message: "give privateKey or privateKeyFile, not both" });
    }
    if (!c.password && !c.privateKey && !c.privateKeyFile && !c.agentSocketPath) {
      ctx.addIssue({
        code: "custom",
        path: ["privateKey"],
        message: "give one of privateKey, privateKeyFile, password or agentSocketPath so sftp-jail can log in",
      });
    }
    if (c.hostKey && c.dangerouslyTrustAnyHostKey) {
      ctx.addIssue({
        code: "custom",
        path: ["dangerouslyTrustAnyHostKey"],
        message: "hostKey pins a key; remove dangerouslyTrustAnyHostKey (they contradict each other)",
      });
    }
    if (c.knownHostsFile && c.dangerouslyTrustAnyHostKey) {
      ctx.addIssue({
        code: "custom",
        path: ["dangerouslyTrustAnyHostKey"],
        message: "knownHostsFile is where host keys are checked; remove dangerouslyTrustAnyHostKey (they contradict each other)",
      });
    }
    if (c.user === "root" && c.sudo) {
      ctx.addIssue({ code: "custom", path: ["sudo"], message: "user is root; sudo is not needed, remove it" });
    }
  });

export type ConnectionInput = z.input<typeof connectionSchema>;
export type Connection = z.output<typeof connectionSchema>;
export type ProxyConnection = z.output<typeof proxySchema>;
/** A proxy as a program writes it (defaults optional). */
export type ProxyConnectionInput = z.input<typeof proxySchema>;

/** Where secrets sit in a value: a field's name, then `true` (the field is a secret) or the tree of its own fields. */
export type SecretTree = { readonly [field: string]: true | SecretTree };

/** The fields of a JSON schema marked `secret` (see {@link secret}), through nested objects and union alternatives. */
function secretTree(j: Record<string, any>): SecretTree | undefined {
  const out: Record<string, true | SecretTree> = {};
  for (const alt of [j, ...(j.anyOf ?? []), ...(j.oneOf ?? [])]) {
    for (const [k, v] of Object.entries<Record<string, any>>(alt.properties ?? {})) {
      const sub = v.secret === true ? true : secretTree(v);
      if (sub) out[k] = sub;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The connection's secret fields, read from the schema's marks: password, privateKey, privateKeyPassword,
 * sudo.password and the proxy's three. Everything else in a connection (host, port, user, the pinned public hostKey,
 * file and socket paths, timeouts) is not secret, as in @pulumi/command's schema.
 */
export const CONNECTION_SECRETS: SecretTree = secretTree(z.toJSONSchema(connectionSchema, { io: "input", unrepresentable: "any" })) ?? {};

/** The secret fields a connection sets (every {@link CONNECTION_SECRETS} field with a value), as dotted paths. */
export function secretFields(c: Partial<Connection> | undefined): { path: string; value: string }[] {
  const out: { path: string; value: string }[] = [];
  const walk = (v: unknown, t: SecretTree, at: string): void => {
    if (!v || typeof v !== "object") return;
    for (const [k, sub] of Object.entries(t)) {
      const x = (v as Record<string, unknown>)[k];
      if (sub !== true) walk(x, sub, `${at}${k}.`);
      else if (typeof x === "string" && x) out.push({ path: `${at}${k}`, value: x });
    }
  };
  walk(c, CONNECTION_SECRETS, "");
  return out;
}

/** The secret values a connection holds, for redaction. */
export function secretsOf(c: Partial<Connection> | undefined): string[] {
  return secretFields(c).map((f) => f.value);
}

/** Where a connection goes, for messages and as the pool key. */
export function describe(c: Pick<Connection, "host" | "port" | "user">): string {
  return `${c.user}@${c.host}:${c.port}`;
}
