/**
 * SftpJailHost: the whole chrooted-SFTP set-up of one host from one compact declaration — the group, the sshd Match
 * block that jails it, one chroot with writable directories per user, the users with their keys, and (optionally)
 * the firewall opening.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConnectionArgs } from "../resources/dynamic";
import { SftpGroup, SftpGroupArgs } from "../resources/sftpGroup";
import { LOOK_KEY } from "../schema/hidden";
import { chrootPaths } from "../plan/chrootDir";
import { hostPathProblem, isKeyFilePath } from "../schema/common";
import { SshdMatchBlock } from "../resources/sshdMatchBlock";
import { JailedUser } from "../resources/jailedUser";
import { FirewallRule } from "../resources/firewallRule";
import type { DeepReadonly, PulumiInputs, ShapeInput } from "../schema/inputs";
import { type jailDirShape, type jailFirewallShape, jailShape, jailUserShape } from "../schema/stackConfig";
import { DEFAULT_KEYS_DIR, lookNeeds } from "../plan/jailedUser";
import { JAIL_OPT_OUT } from "../plan/jail";

/** A writable directory inside a chroot, described exactly (the fields of `jailDirShape`). */
export interface SftpJailDir extends DeepReadonly<ShapeInput<typeof jailDirShape>> {}

/**
 * One jailed user of a {@link SftpJailHost} (the fields of `jailUserShape`); `authorizedKeys` may be a Pulumi input,
 * every other field is a plain value the component computes with.
 */
export interface SftpJailUser extends DeepReadonly<Omit<ShapeInput<typeof jailUserShape>, "authorizedKeys">> {
  /** Exact set of public keys allowed to log in. */
  readonly authorizedKeys: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * Arguments of {@link SftpJailHost}: the fields of `jailShape` (provider/schema/stackConfig.ts, the same schema the
 * root program's stack config uses), plus `connection`; the firewall's fields may be Pulumi inputs.
 */
export interface SftpJailHostArgs extends DeepReadonly<Omit<ShapeInput<typeof jailShape>, "users" | "firewall">> {
  /** How to reach the host; same fields as @pulumi/command's `remote.Connection`. */
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** The jailed users. */
  readonly users: ReadonlyArray<SftpJailUser>;
  /**
   * A firewall opening for the SFTP clients (the admin's "ACCEPT tcp 2222 before the REJECT rule"). Defaults:
   * port 22, action ACCEPT, position beforeReject, backend auto, every source of both families (IPv4 and IPv6; on
   * iptables the rule and its ip6tables twin, where the host filters IPv6).
   */
  readonly firewall?: PulumiInputs<ShapeInput<typeof jailFirewallShape>>;
}

/**
 * The directives that make a jail: what the admin's hand-written `Match Group` block held, plus defence in depth for
 * keywords whose default would let a jailed account do more than SFTP (unix-socket forwarding, a tty, gateway ports,
 * ~/.ssh/rc). A program opts out of one with `sshdDirectives: { Keyword: null }` (sftp-jail-migrate does that for a
 * hand-made block that lacks them, so adoption changes no file).
 */
export function jailDirectives(keysDir: string): Record<string, string> {
  return {
    ChrootDirectory: "%h",
    ForceCommand: "internal-sftp",
    X11Forwarding: "no",
    AllowTcpForwarding: "no",
    PermitTunnel: "no",
    AllowAgentForwarding: "no",
    AuthorizedKeysFile: `${keysDir}/%u`,
    AllowStreamLocalForwarding: "no",
    PermitTTY: "no",
    GatewayPorts: "no",
    PermitUserRC: "no",
  };
}

/** One user's key file for an AuthorizedKeysFile pattern, as sshd expands it (%h, %u, %%; relative to the home). */
export function expandKeysFile(pattern: string, user: string, home: string): string {
  if (/\s/.test(pattern.trim())) throw new Error(`authorizedKeysFile "${pattern}" must name one file (sftp-jail adopts one key file per user)`);
  const p = pattern.trim().replace(/%([hu%])/g, (_, t: string) => (t === "h" ? home : t === "u" ? user : "%"));
  return p.startsWith("/") ? p : `${home}/${p}`;
}

/** The Match block's directives: the jail's, the key file pattern, then the program's overrides (null drops one). */
export function blockDirectives(keysDir: string, keysPattern?: string, overrides: Record<string, string | null> = {}): Record<string, string> {
  const out: Record<string, string | null> = { ...jailDirectives(keysDir), ...(keysPattern ? { AuthorizedKeysFile: keysPattern } : {}), ...overrides };
  return Object.fromEntries(Object.entries(out).filter((e): e is [string, string] => e[1] !== null && e[1] !== undefined));
}

/**
 * The resource classes a SftpJailHost builds: the dynamic ones in TypeScript programs; the provider plugin
 * (provider/plugin) passes classes registered under its own tokens, so the same component serves every language.
 */
export interface SftpJailHostKinds {
  SftpGroup: typeof SftpGroup;
  SshdMatchBlock: typeof SshdMatchBlock;
  JailedUser: typeof JailedUser;
  FirewallRule: typeof FirewallRule;
}
const DYNAMIC_KINDS: SftpJailHostKinds = { SftpGroup, SshdMatchBlock, JailedUser, FirewallRule };

/**
 * The look hint (adapters/base.ts LOOK_KEY) of these needs: valid host paths and key files only (a bad one is its
 * resource's failure, named there; the hint never makes the group's check read a file a JailedUser would refuse).
 */
function lookHint(needs: Array<{ paths: string[]; files: string[] }>): { paths: string[]; files: string[] } | undefined {
  const ok = (p: unknown): p is string => typeof p === "string" && hostPathProblem("path", p) === undefined;
  const paths = [...new Set(needs.flatMap((n) => n.paths).filter(ok))].sort();
  const files = [...new Set(needs.flatMap((n) => n.files).filter(ok).filter((f) => isKeyFilePath(f)))].sort();
  return paths.length || files.length ? { paths, files } : undefined;
}

/** The jail keywords a program's sshdDirectives leave at anything but "no" (null or another value): its users' opt-outs. */
export function jailOptOut(overrides: Record<string, string | null> = {}): (typeof JAIL_OPT_OUT)[number][] {
  return JAIL_OPT_OUT.filter((k) => k in overrides && overrides[k] !== "no");
}

/** Levenshtein distance (a few short field names: the plain quadratic table). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** Throws, naming the first field of `o` that is not one of `known` (and a known field within two edits of it). */
function unknownFields(host: string, where: string, o: object, known: string[], parent: pulumi.Resource): void {
  const bad = Object.keys(o).find((k) => !known.includes(k) && (o as Record<string, unknown>)[k] !== undefined);
  if (bad === undefined) return;
  const near = known.find((k) => editDistance(k.toLowerCase(), bad.toLowerCase()) <= 2);
  throw new pulumi.ResourceError(
    `SftpJailHost "${host}": ${where ? `${where} has` : "has"} an unknown field "${bad}"${near ? ` (did you mean "${near}"?)` : ""}; known fields: ${known.join(", ")}`,
    parent,
  );
}

export class SftpJailHost extends pulumi.ComponentResource {
  readonly group: SftpGroup;
  readonly matchBlock: SshdMatchBlock;
  /** Each user's JailedUser, which owns the user's jail (its `chroot`). */
  readonly users: Record<string, JailedUser> = {};
  readonly firewallRule?: FirewallRule;

  constructor(name: string, args: SftpJailHostArgs, opts?: pulumi.ComponentResourceOptions, kinds: SftpJailHostKinds = DYNAMIC_KINDS) {
    super("sftpjail:index:SftpJailHost", name, {}, opts);
    const { SftpGroup, SshdMatchBlock, JailedUser, FirewallRule } = kinds;
    // A misspelt field (`writeableDirs`) would otherwise be dropped without a word: the stack config's schema refuses
    // it, and so does the component, naming the field and the nearest known one.
    unknownFields(name, "", args as object, [...Object.keys(jailShape), "connection"], this);
    for (const [i, u] of args.users.entries()) unknownFields(name, `users[${i}] (${u.name})`, u, Object.keys(jailUserShape), this);
    // Cross-resource rules no single resource can see: caught at preview, before anything connects.
    const seen = new Map<string, string>();
    for (const u of args.users) {
      for (const key of [`name ${u.name}`, ...(u.uid !== undefined ? [`uid ${u.uid}`] : [])]) {
        if (seen.has(key)) {
          throw new pulumi.ResourceError(`SftpJailHost "${name}": users lists ${key} twice (${seen.get(key)} and ${u.name}); each user needs its own name and uid`, this);
        }
        seen.set(key, u.name);
      }
    }
    const parent = { parent: this };
    const base = args.chrootBase ?? "/srv/sftp";
    const keysDir = args.keysDir ?? DEFAULT_KEYS_DIR;
    const connection = args.connection;

    const home = (u: SftpJailUser) => u.chroot?.path ?? `${base}/${u.name}`;
    for (const inner of args.users) {
      const outer = args.users.find((o) => o !== inner && (home(inner) === home(o) || home(inner).startsWith(`${home(o)}/`)));
      if (outer) {
        throw new pulumi.ResourceError(
          `SftpJailHost "${name}": ${inner.name}'s jail ${home(inner)} is inside ${outer.name}'s jail ${home(outer)}; give each user a jail of its own (chroot.path) outside the others`,
          this,
        );
      }
    }
    const keysFile = (u: SftpJailUser) => (args.authorizedKeysFile === undefined ? undefined : expandKeysFile(args.authorizedKeysFile, u.name, home(u)));
    const writable = (u: SftpJailUser) => (u.writableDirs ?? ["upload"]).map((d) => (typeof d === "string" ? { path: d } : d));

    // The group is checked first: its one look at the host covers what every user and chroot here will look at.
    const look = lookHint(args.users.flatMap((u) => [lookNeeds({ name: u.name, keysDir, authorizedKeysFile: keysFile(u), shell: u.shell }), { paths: chrootPaths({ path: home(u), subdirs: writable(u) }), files: [] }]));
    const group: SftpGroupArgs & { [LOOK_KEY]?: unknown } = { connection, name: args.group.name, gid: args.group.gid, ...(look ? { [LOOK_KEY]: look } : {}) };
    this.group = new SftpGroup(`${name}-group`, group, parent);

    // group -> Match block -> users (each with its jail): a user is jailed from the moment it exists (and is checked as
    // jailed right after its creation), and destroy removes users before the block, so no account of the group ever
    // exists without the block that jails it.
    this.matchBlock = new SshdMatchBlock(
      `${name}-match`,
      {
        connection,
        name: `group-${args.group.name}`,
        order: args.sshdOrder ?? 50,
        match: { Group: [args.group.name] },
        directives: blockDirectives(keysDir, args.authorizedKeysFile, args.sshdDirectives),
        subsystemInternalSftp: args.subsystemInternalSftp ?? true,
      },
      { ...parent, dependsOn: [this.group] },
    );

    for (const u of args.users) {
      // One resource per user: the account and the jail at its home (created after the account, removed before it).
      this.users[u.name] = new JailedUser(
        `${name}-${u.name}`,
        {
          connection,
          name: u.name,
          uid: u.uid,
          group: args.group.name,
          home: home(u),
          authorizedKeys: u.authorizedKeys,
          keysDir,
          authorizedKeysFile: keysFile(u),
          keyOnly: u.keyOnly,
          reachedFrom: u.reachedFrom?.map((r) => ({ ...r })),
          jailOptOut: jailOptOut(args.sshdDirectives),
          shell: u.shell,
          allowLoginShell: u.allowLoginShell,
          chroot: {
            group: u.chroot?.group,
            mode: u.chroot?.mode,
            fixAncestors: args.fixAncestors,
            onDelete: args.onDelete,
            subdirs: writable(u).map((d) => ({ path: d.path, owner: d.owner ?? u.name, group: d.group ?? args.group.name, mode: d.mode ?? "0755" })),
          },
        },
        { ...parent, dependsOn: [this.group, this.matchBlock] },
      );
    }

    if (args.firewall) {
      this.firewallRule = new FirewallRule(
        `${name}-firewall`,
        // Port 22 only when neither port nor ports is given (FirewallRule takes exactly one of them).
        { ...(args.firewall.port === undefined && args.firewall.ports === undefined ? { port: 22 } : {}), position: "beforeReject", ...args.firewall, connection, action: "ACCEPT" },
        parent,
      );
    }
    this.registerOutputs({});
  }
}
