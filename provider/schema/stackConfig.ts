/**
 * The jail, written once: SftpJailHost's args (components/sftpJailHost.ts), the root program's stack config
 * (`sftp-jail:jails`, program/config.ts) and what sftp-jail-migrate writes (cli/migrate.ts) are all this schema.
 * The component and the stack config differ only where they must: the component takes `connection` and the users'
 * `authorizedKeys` as Pulumi inputs, the stack config names hosts by label (`hosts`) and a user's keys `keys`.
 *
 * These schemas check the shape of the config (types, unknown keys); the values are judged by the resources'
 * schemas (provider/schema/<resource>.ts) at preview, where each message names the resource and field.
 */
import { z } from "zod";
import { firewallRuleShape } from "./firewallRule";
import { Connection, secretFields } from "../connection/schema";

/**
 * A key left with nothing under it (`sshdDirectives:` after the hardening edits remove its lines) reads as null in
 * YAML: it means "none", the same as leaving the key out.
 */
const blank = <T extends z.ZodType>(schema: T): T =>
  // Typed as the schema itself: a preprocess types its input as unknown, which would erase the config's input type
  // (what migrate writes); null is the only value it adds, and it parses exactly as an absent key.
  z.preprocess((v) => (v === null ? undefined : v), schema) as unknown as T;

/** A writable directory inside a chroot, described exactly (a hand-made one is then adopted unchanged). */
export const jailDirShape = {
  /** Relative path inside the chroot. */
  path: z.string(),
  /** Default: the user. */
  owner: z.string().optional(),
  /** Default: the SFTP group. */
  group: z.string().optional(),
  /** Default "0755". */
  mode: z.string().optional(),
};

/** A user's chroot, when it is not sftp-jail's default (e.g. a hand-made one to adopt unchanged). */
export const jailChrootShape = {
  /** Default <chrootBase>/<name>. */
  path: z.string().optional(),
  /** Default "root". */
  group: z.string().optional(),
  /** Default "0755". */
  mode: z.string().optional(),
};

/** A client a user reaches the jail from (see JailedUser.reachedFrom). */
export const jailClientShape = {
  /** The client's address, as sshd sees it. */
  address: z.string(),
  /** The server address the client connects to, when it matters. */
  localAddress: z.string().optional(),
  /** The server port the client connects to, when it matters. */
  localPort: z.number().int().optional(),
};

/** One jailed user: SftpJailHost's `users[]` (with `authorizedKeys`) and the stack config's `users[]` (with `keys`). */
export const jailUserShape = {
  /** Login name. */
  name: z.string(),
  /** Numeric uid; omit to let the host choose. */
  uid: z.number().int().optional(),
  /**
   * Directories inside the chroot the user may write to; default ["upload"]. A name gets owner = the user, group =
   * the SFTP group, mode 0755; give `{ path, owner?, group?, mode? }` to describe a hand-made one exactly.
   */
  writableDirs: z.array(z.union([z.string(), z.strictObject(jailDirShape)])).optional(),
  /**
   * The chroot (= home) directory: `path` (default `<chrootBase>/<name>`), `group` (default "root") and `mode`
   * (default "0755"). A hand-made jail is often root:<user's group> 0750: say so here and it is adopted unchanged.
   */
  chroot: z.strictObject(jailChrootShape).optional(),
  /** Keep the password field "*" (default true); false leaves it as it is (e.g. the "!" useradd wrote). */
  keyOnly: z.boolean().optional(),
  /** Clients this user reaches the jail from; the jail is proven in effect for each (see JailedUser.reachedFrom). */
  reachedFrom: z.array(z.strictObject(jailClientShape)).optional(),
  /** Login shell; default: the host's nologin. An equivalent path (/sbin/nologin on merged /usr) is not a change. */
  shell: z.string().optional(),
  /** A login shell (not nologin/false) is refused unless this is true (see JailedUser.allowLoginShell). */
  allowLoginShell: z.boolean().optional(),
  /** Exact set of public keys allowed to log in. */
  authorizedKeys: z.array(z.string()),
};

const { name, action: _action, ...firewallFields } = firewallRuleShape;
/**
 * A firewall opening for the SFTP clients (the admin's "ACCEPT tcp 2222 before the REJECT rule"): FirewallRule's
 * fields but `action` (always ACCEPT); `name` defaults to the rule's resource name. Defaults: port 22, position
 * beforeReject, backend auto, every source of both families (IPv4 and IPv6; on iptables the rule and its ip6tables
 * twin, where the host filters IPv6).
 */
export const jailFirewallShape = { ...firewallFields, name: name.optional() };

/** The jail's SFTP group. */
export const jailGroupShape = {
  /** The SFTP group whose members are jailed. */
  name: z.string(),
  /** Numeric gid; omit to let the host choose. */
  gid: z.number().int().optional(),
};

/** One jail: SftpJailHost's args (beside `connection`), and the stack config's `jails[]` (beside `hosts`). */
export const jailShape = {
  /** The SFTP group whose members are jailed. */
  group: z.strictObject(jailGroupShape),
  /** Parent of the per-user chroots (each user's chroot and home is `<chrootBase>/<user>`); default /srv/sftp. */
  chrootBase: z.string().optional(),
  /** Repair existing ancestors of chrootBase that break OpenSSH's rule; default false. */
  fixAncestors: z.boolean().optional(),
  /** The jailed users. */
  users: z.array(z.strictObject(jailUserShape)),
  /**
   * Extra or overriding directives for the Match block (e.g. { PasswordAuthentication: "no" }); `null` drops one of
   * jailDirectives (to describe a hand-written block that does not set it).
   */
  sshdDirectives: z.record(z.string(), z.string().nullable()).optional(),
  /** Keep `Subsystem sftp internal-sftp` set while the block exists (default true); see SshdMatchBlock. */
  subsystemInternalSftp: z.boolean().optional(),
  /**
   * Where the users' keys are, as an sshd AuthorizedKeysFile pattern (`%h`, `%u`; relative = inside the home), when
   * they stay where a hand-made jail keeps them, e.g. ".ssh/authorized_keys". Each user's file is then adopted
   * read-only (see JailedUser.authorizedKeysFile) and the Match block's AuthorizedKeysFile is this pattern. Default:
   * sftp-jail's root-owned `<keysDir>/%u`, outside the jails, written by sftp-jail.
   */
  authorizedKeysFile: z.string().optional(),
  /** Position of the Match block among other managed blocks; default 50. */
  sshdOrder: z.number().int().optional(),
  /** Root-owned directory of per-user key files; default /etc/ssh/sftp-jail/authorized_keys. */
  keysDir: z.string().optional(),
  /** On destroy, what happens to files in the chroots: "retain" (default) or "delete". */
  onDelete: z.enum(["retain", "delete"]).optional(),
  /** A firewall opening for the SFTP clients; see {@link jailFirewallShape}. */
  firewall: z.strictObject(jailFirewallShape).optional(),
};

// ---- The stack config: the jail as YAML holds it ------------------------------------------------------------------

const { authorizedKeys: _keys, ...configUserShape } = jailUserShape;
/** A user as the stack config holds it: `keys` for authorizedKeys; YAML's null is "none". */
const configUser = z.strictObject({
  ...configUserShape,
  /** Exact set of public keys allowed to log in (SftpJailHost's `authorizedKeys`). */
  keys: blank(z.array(z.string()).default([])),
  writableDirs: blank(jailUserShape.writableDirs),
  chroot: blank(jailUserShape.chroot),
});

/**
 * The stack config does not take the component's sshdOrder and keysDir (the root program uses their defaults).
 */
const { sshdOrder: _order, keysDir: _keysDir, ...configJailShape } = jailShape;

/** A jail rolled out to every host whose labels include all of `hosts` (or to every host when omitted). */
export const configJailSchema = z.strictObject({
  ...configJailShape,
  /** Labels a host must have (all of them) to get this jail; omit for every host. */
  hosts: blank(z.record(z.string(), z.string()).optional()),
  users: blank(z.array(configUser).default([])),
  sshdDirectives: blank(jailShape.sshdDirectives),
  // Loose, as it always was: FirewallRule's own check refuses unknown fields at preview (`action` is overridden).
  firewall: blank(z.looseObject(jailFirewallShape).optional()),
});

const connection = z.looseObject({
  host: z.string(),
  port: z.number().int().optional(),
  user: z.string().optional(),
  /** Path of a private key file, read by the provider when it dials (the key never enters Pulumi). */
  privateKeyFile: z.string().optional(),
  hostKey: z.string().optional(),
});

/** The root program's stack config (`sftp-jail:hosts`, `groups`, `jails`, `rollout`). */
export const fleetSchema = z.strictObject({
  hosts: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: "host name: letters, digits, . _ -" }),
        labels: blank(z.record(z.string(), z.string()).default({})),
        connection,
      }),
    )
    .min(1, { error: "list at least one host" }),
  groups: blank(z.array(z.strictObject({ name: z.string(), gid: z.number().int().optional(), system: z.boolean().optional() })).default([])),
  jails: blank(z.array(configJailSchema).default([])),
  /** Safe waves: `canary` hosts first (a count, or a percentage like "10%"), then waves of `waveSize` hosts. */
  rollout: z
    .strictObject({
      canary: z.union([z.number().int().min(0), z.string().regex(/^\d{1,3}%$/, { error: 'canary must be a count or a percentage like "10%"' })]).default(0),
      waveSize: z.number().int().min(1, { error: "waveSize must be at least 1" }).optional(),
    })
    .default({ canary: 0 }),
});
/** The stack config as parsed (defaults filled in). */
export type Fleet = z.output<typeof fleetSchema>;

/**
 * The connection secrets a stack config holds in plain text, as config paths (pure): every secret field a host sets
 * (a password, a private key, sudo's password; connection/schema.ts marks them), when no part of the `key` config key
 * (`<project>:hosts`) is a Pulumi secret. Pulumi marks the whole key as soon as one value in it is, without saying
 * which (`hostsKeyIsSecret`): nothing is reported then. State keeps every secret field encrypted either way.
 */
export function plaintextSecrets(hosts: readonly { connection: object }[], hostsKeyIsSecret: boolean, key = "sftp-jail:hosts"): string[] {
  if (hostsKeyIsSecret) return [];
  return hosts.flatMap((h, i) => secretFields(h.connection as Partial<Connection>).map((f) => `${key}[${i}].connection.${f.path}`));
}

/**
 * The error for connection secrets kept in plain text in stack config (the root program's `hosts`, the provider
 * plugin's `sftpjail:connection`): where each is, and how to set it again.
 */
export function plaintextMessage(paths: readonly string[]): string {
  return [
    `the stack config holds ${paths.length === 1 ? "a secret" : `${paths.length} secrets`} in plain text: ${paths.join(", ")}. Nothing was changed.`,
    "Set each again as a Pulumi secret, encrypted in the stack file (without a value on the command line, Pulumi asks for it, so it stays out of your shell history):",
    ...paths.map((p) => `  pulumi config set --path --secret '${p}'`),
  ].join("\n");
}
/** A jail as the stack config holds it: what sftp-jail-migrate writes (`sftp-jail:jails[]`). */
export type ConfigJail = z.input<typeof configJailSchema>;
/** A user of a jail as the stack config holds it. */
export type ConfigUser = z.input<typeof configUser>;
