#!/usr/bin/env node
/**
 * sftp-jail-migrate: reads hosts whose SFTP jails were made by hand (a `Match Group` block with ChrootDirectory and
 * ForceCommand internal-sftp, accounts in that group, root-owned homes, keys, a firewall opening; leftovers of rssh
 * in /etc/rssh.conf) and writes the stack config (YAML) for the root program that describes them AS THEY ARE, so
 * that `pulumi up` adopts them without changing anything on the hosts. Hardening (keys moved out of the jails,
 * password fields "*", the jail's default directives) is then a deliberate, reviewable edit of that config.
 * Usage: {@link USAGE}.
 *
 * Each host is read with the same connection code as the resources (pooled ssh2 session, host key verified before
 * authentication) in ONE exec: the provider's snapshot plus migrate's own survey (./survey.ts: /etc/rssh.conf and the
 * accounts sshd jails — `sshd -T -C`, the chroots' ownership and modes, the authorized_keys files sshd reads).
 * Nothing is changed on any host.
 */
import * as fs from "fs";
import { Document, YAMLSeq } from "yaml";
import { connectionSchema, secretsOf } from "../connection/schema";
import { closeAll, session } from "../connection/pool";
import { HostFacts } from "../observe/facts";
import { RsshConf, SurveyUser, accountSurvey } from "./survey";
import { SNAPSHOT_MARK, parseSnapshot, snapshotScript } from "../observe/snapshot";
import { SftpJailError, redact } from "../util/errors";
import { EXIT, UsageError, main, optionTokens, wholeNumber } from "./args";
import { HostDescription, JailConfig, describeHost } from "./describe";

// Described in ./describe.ts; re-exported for the CLI's callers and tests.
export { describeHost };
export type { HostDescription, JailConfig };

export const USAGE = `usage: sftp-jail-migrate [defaults] --host HOST [options] [--host HOST [options]]... [--out FILE]

Reads hosts whose SFTP jails were made by hand and writes the stack config (YAML) of the root program that
describes them as they are, so that \`pulumi up\` adopts them without changing anything. Each host is read in one
SSH exec; nothing is changed on any host.

options (before the first --host: defaults for every host; after one: for that host)
  --host HOST               a host to read (repeat for more hosts)
  --name NAME               its name in the config (default: HOST with . and : as -)
  --port N                  SSH port (default 22)
  --user USER               login user (default root)
  --private-key-file FILE   the key to log in with, read here and by the program (privateKeyFile)
  --host-key "TYPE BASE64"  pin the host key; or --known-hosts-file FILE (default ~/.ssh/known_hosts)
  --sudo                    log in as USER and become root with sudo -n
  --label KEY=VALUE         a label of the host (repeatable); the host's jails select it by \`host: NAME\`
  --group NAME              the SFTP group suggested for rssh users on a host without a Match block (default sftp)
  --out FILE                write the config to FILE, which must not exist (default: standard output); notes go to
                            standard error
  -h, --help                print this help

examples:
  sftp-jail-migrate --private-key-file ~/.ssh/id_ed25519 --host files1.example.com --host files2.example.com \\
      --port 2222 --label site=fra --out Pulumi.prod.yaml
  sftp-jail-migrate --user deploy --sudo --host 10.0.0.5 --name fra-1 --host-key "ssh-ed25519 AAAA..."

exit codes:
  0  the config was written
  1  a host could not be read (the message names it and says what to do); nothing was written
  2  usage error: no host was contacted
`;

// ---- Options -----------------------------------------------------------------------------------------------------

/** A host as the root program's `sftp-jail:hosts` lists it. */
export interface HostSpec {
  name: string;
  labels: Record<string, string>;
  connection: {
    host: string;
    port?: number;
    user?: string;
    privateKeyFile?: string;
    hostKey?: string;
    knownHostsFile?: string;
    sudo?: boolean;
  };
}

export interface MigrateOptions {
  hosts: HostSpec[];
  out?: string;
  /** Group suggested for rssh users on a host without a jail block. */
  group: string;
}

const defaultName = (host: string) => host.replace(/[^A-Za-z0-9_.-]/g, "-");

const OPTIONS = {
  host: { type: "string", multiple: true },
  name: { type: "string", multiple: true },
  port: { type: "string", multiple: true },
  user: { type: "string", multiple: true },
  "private-key-file": { type: "string", multiple: true },
  "host-key": { type: "string", multiple: true },
  "known-hosts-file": { type: "string", multiple: true },
  sudo: { type: "boolean", multiple: true },
  label: { type: "string", multiple: true },
  group: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses the command line (pure); a {@link UsageError} says what is wrong with it. Options before the first --host
 * are defaults for every host; after one, they are that host's.
 */
export function parseArgs(argv: string[]): MigrateOptions {
  const defaults: Omit<HostSpec, "name"> & { name?: string } = { labels: {}, connection: { host: "" } };
  const hosts: Array<typeof defaults> = [];
  let cur = defaults;
  let out: string | undefined;
  let group = "sftp";
  for (const { name: option, raw, value } of optionTokens(argv, OPTIONS)) {
    const v = value ?? "";
    if (option === "host") {
      cur = { labels: { ...defaults.labels }, connection: { ...defaults.connection, host: v } };
      hosts.push(cur);
    } else if (option === "name") cur.name = v;
    else if (option === "port") cur.connection.port = wholeNumber(raw, v, 1, 65535);
    else if (option === "user") cur.connection.user = v;
    else if (option === "private-key-file") cur.connection.privateKeyFile = v;
    else if (option === "host-key") cur.connection.hostKey = v;
    else if (option === "known-hosts-file") cur.connection.knownHostsFile = v;
    else if (option === "sudo") cur.connection.sudo = true;
    else if (option === "label") {
      const m = /^([^=]+)=(.*)$/.exec(v);
      if (!m) throw new UsageError(`--label takes KEY=VALUE, got "${v}"`);
      cur.labels[m[1]] = m[2];
    } else if (option === "group") group = v;
    else if (option === "out") out = v;
  }
  if (!hosts.length) throw new UsageError("give at least one --host");
  const specs = hosts.map((h) => {
    const name = h.name ?? defaultName(h.connection.host);
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new UsageError(`host name "${name}": letters, digits, . _ - (set --name)`);
    const order = ["host", "port", "user", "sudo", "privateKeyFile", "hostKey", "knownHostsFile"] as const;
    const connection = Object.fromEntries(order.filter((k) => h.connection[k] !== undefined).map((k) => [k, h.connection[k]])) as HostSpec["connection"];
    return { name, labels: { ...h.labels, host: name }, connection };
  });
  const dup = specs.find((s, i) => specs.findIndex((t) => t.name === s.name) !== i);
  if (dup) throw new UsageError(`two hosts are named "${dup.name}" (set --name)`);
  return { hosts: specs, out, group };
}

// ---- Reading a host ----------------------------------------------------------------------------------------------

/** One host as read: the provider's facts plus migrate's survey (accounts, rssh.conf), from one exec. */
export interface HostReading {
  facts: HostFacts;
  survey: SurveyUser[];
  /** /etc/rssh.conf parsed, or null when the host has none. */
  rssh: RsshConf | null;
}

/** The one script a host runs: the snapshot, then the survey (after the snapshot's end marker). */
export function migrateScript(): string {
  return `${snapshotScript()}\n${accountSurvey.command}`;
}

/** Parses what {@link migrateScript} printed (pure). */
export function parseReading(stdout: string): HostReading {
  const { users, rssh } = accountSurvey.parse(stdout);
  return { facts: parseSnapshot(stdout), survey: users, rssh };
}

/** Connects as the resources do (same schema, pool, host key checks) and reads the host in one exec. */
export async function readHost(h: HostSpec): Promise<HostReading> {
  // The connection exactly as the resources get it from the root program (privateKeyFile is read when dialling).
  const parsed = connectionSchema.safeParse(h.connection);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join(".") || "connection"}: ${i.message}`).join("; ");
    throw new SftpJailError({ host: h.name }, `invalid connection: ${why}`);
  }
  const s = session(parsed.data);
  const r = await s.exec(migrateScript());
  if (r.code !== 0 || !r.stdout.includes(`${SNAPSHOT_MARK}end`)) {
    throw new SftpJailError(
      { host: s.target },
      `could not read the host (exit ${r.code}): ${redact(r.stderr.trim(), secretsOf(parsed.data)).slice(0, 500)}`,
      "the login user must be root or have sudo rights (NOPASSWD; pass --sudo)",
    );
  }
  return parseReading(r.stdout);
}

// ---- YAML ----------------------------------------------------------------------------------------------------------

/**
 * Written with the `yaml` package (eemeli/yaml), under the YAML 1.1 schema: a string any reader could take for
 * something else — 1.1's yes/no/on/off/y/n, "0750", "~", as well as 1.2's — is quoted, so Go's yaml (which Pulumi
 * reads stack config with) and JS parsers agree on every value. No line is folded: keys stay on one line, for grep.
 */
const YAML_DOC = { version: "1.1", aliasDuplicateObjects: false } as const;
const YAML_OUT = { lineWidth: 0 } as const;

/** A value as YAML text (undefined fields are left out). */
export function yamlText(v: unknown): string {
  return new Document(v, YAML_DOC).toString(YAML_OUT);
}

/** Lines as a comment: the library writes "#" (and the node's indentation) before each. */
/**
 * A line as a comment: anything outside printable ASCII is escaped (\xNN, \uNNNN). Notes quote what a host holds (a
 * jailed user writes their key file): an escape sequence must not reach a terminal, nor a character that a YAML
 * reader takes for a line break (NEL, LS, PS) end the comment and start a key.
 */
export const printable = (l: string) => l.replace(/[^\x20-\x7e]/g, (c) => (c.charCodeAt(0) < 0x100 ? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
const comment = (lines: string[]) => lines.map((l) => ` ${printable(l)}`).join("\n");
/** A suggestion: its note, then the value it suggests as YAML, commented out (uncommenting it adds the value). */
const suggested = (note: string, value: unknown) => comment([`${note}:`, ...yamlText(value).replace(/\n$/, "").split("\n")]);

/** Writes `text` as a comment after the items of `seq` (an empty one is written `[]` with the comment below it). */
function commentAfter(seq: YAMLSeq, text: string[]): void {
  if (!text.length) return;
  if (!seq.items.length) seq.flow = true;
  seq.comment = text.join("\n");
}

/** The whole stack config file (pure). */
export function renderConfig(descriptions: HostDescription[], when = new Date()): string {
  const notes = descriptions.flatMap((d) => d.notes);
  const doc = new Document(
    {
      config: {
        "sftp-jail:hosts": descriptions.map((d) => ({ name: d.host.name, labels: d.host.labels, connection: d.host.connection })),
        "sftp-jail:jails": descriptions.flatMap((d) => d.jails),
      },
    },
    YAML_DOC,
  );
  doc.commentBefore = comment([
    `Written by sftp-jail-migrate on ${when.toISOString()} from ${descriptions.map((d) => d.host.name).join(", ")}.`,
    "It describes the jails as they are: `pulumi up` with this config adopts them without changing the hosts",
    "(keys stay where they are and are only read, password fields stay, hand-written Match blocks and firewall",
    "rules are adopted in place). To harden later, drop authorizedKeysFile, keyOnly: false and the null",
    'sshdDirectives: pulumi up then moves keys to root-owned files outside the jails, sets "*", and adds the',
    'jail\'s default directives to the block, confirm-or-revert. See README, "Adopting hand-made jails".',
    ...(notes.length ? ["", "Notes:", ...notes.map((n) => `  - ${n}`)] : []),
  ]);
  // Suggested users go, commented out, after their jail's users; suggested jails after the jails.
  const jails = doc.getIn(["config", "sftp-jail:jails"], true) as YAMLSeq;
  let i = 0;
  for (const d of descriptions) {
    d.jails.forEach((_, k) => {
      const into = d.suggestions.filter((s) => s.into === k).map((s) => suggested(s.note, s.jail.users));
      commentAfter(jails.getIn([i++, "users"], true) as YAMLSeq, into);
    });
  }
  const whole = descriptions.flatMap((d) => d.suggestions.filter((s) => s.into === undefined).map((s) => suggested(s.note, [s.jail])));
  if (jails.items.length || whole.length) commentAfter(jails, whole);
  else doc.deleteIn(["config", "sftp-jail:jails"]);
  return doc.toString(YAML_OUT);
}

// ---- Command line ----------------------------------------------------------------------------------------------------

export async function migrate(o: MigrateOptions): Promise<string> {
  try {
    const readings = await Promise.all(
      o.hosts.map(async (h) => {
        try {
          return { h, r: await readHost(h) };
        } catch (e) {
          // The connection code names the address; the config names the host.
          const msg = (e as Error).message;
          throw msg.includes(h.name) ? e : new Error(`${h.name}: ${msg}`);
        }
      }),
    );
    return renderConfig(readings.map(({ h, r }) => describeHost(h, r, { group: o.group })));
  } finally {
    closeAll();
  }
}

if (require.main === module) {
  main({
    name: "sftp-jail-migrate",
    usage: USAGE,
    parse: parseArgs,
    run: async (o) => {
      const yaml = await migrate(o);
      for (const l of yaml.split("\n").filter((x) => x.startsWith("#   - "))) console.error(`note: ${l.slice(6)}`);
      if (o.out) {
        // Never over a file: a stack file holds its encryption salt and secure values.
        try {
          fs.writeFileSync(o.out, yaml, { flag: "wx" });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
          throw new Error(`${o.out} exists: sftp-jail-migrate never overwrites a file (a stack file holds its encryption salt and secure values); write to a new file and merge what you need`);
        }
        console.error(`sftp-jail-migrate: wrote ${o.out}`);
      } else await new Promise<void>((resolve) => process.stdout.write(yaml, () => resolve()));
      return EXIT.OK;
    },
  });
}
