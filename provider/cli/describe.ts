/**
 * sftp-jail-migrate's description of one host as stack config (pure): its `Match Group` jails, their accounts, chroots,
 * keys and directives AS THEY ARE, the firewall opening, notes for what the config cannot express, and rssh-only
 * accounts as commented-out suggestions. Reading the host and writing the YAML are in ./migrate.ts.
 */
import type { HostReading, HostSpec } from "./migrate";
import type { ConfigJail, ConfigUser } from "../schema/stackConfig";
import { GroupEntry, HostFacts, NON_LOGIN_SHELLS, PathStat, UserEntry, sameShell } from "../observe/facts";
import { SurveyUser } from "./survey";
import { MAIN_CONFIG, DIRECTIVE_NAMES, mainIncludes } from "../plan/sshdRender";
import { ConfigBlock, findMatchBlocks, normalValue } from "../plan/sshdAdopt";
import { DEFAULT_KEYS_DIR, isMember, keyLines } from "../plan/jailedUser";
import { ObservedRule, RuleDesired, Target, desiredSpec, familyParts, locate, resolveTarget, sshPorts } from "../plan/firewall";
import { blockDirectives } from "../components/sftpJailHost";
import { publicKey, relPath } from "../schema/common";
import { KEY_TYPE_TOKEN } from "../util/sshkey";
import { main } from "./args";

/**
 * A jail as the root program's config takes it (`sftp-jail:jails[]`): the stack config's own schema
 * (provider/schema/stackConfig.ts), with the fields migrate always writes required.
 */
export type JailConfig = Omit<ConfigJail, "hosts" | "users"> & { hosts: Record<string, string>; users: UserConfig[] };
type UserConfig = Omit<ConfigUser, "keys"> & { keys: string[] };
/** A writable directory as the config takes it (fields at their defaults are left out). */
type DirConfig = NonNullable<ConfigUser["writableDirs"]>[number];

/** What one host contributes: its jails, notes (written as comments), and suggestions left commented out. */
export interface HostDescription {
  host: HostSpec;
  jails: JailConfig[];
  notes: string[];
  /**
   * What would CHANGE the host if enabled (accounts only rssh.conf jails), written commented out: users to add to
   * jail number `into` of this host, or (no `into`) a whole jail for a host without one.
   */
  suggestions: Array<{ note: string; jail: JailConfig; into?: number }>;
}

const octal = (m: number) => "0" + (m & 0o7777).toString(8).padStart(3, "0");
const parentOf = (p: string) => p.slice(0, p.lastIndexOf("/")) || "/";

interface FoundBlock extends ConfigBlock {
  file: string;
}

/** Every Match block sshd reads: the main file, then the included drop-ins in name order. */
function matchBlocks(f: HostFacts): FoundBlock[] {
  const main = f.sshd.main;
  const files = [
    ...(main ? [{ path: MAIN_CONFIG, content: main.content }] : []),
    ...f.sshd.dropins.filter((d) => d.path.endsWith(".conf") && (!main || mainIncludes(main.content, d.path))),
  ];
  return files.flatMap((file) => findMatchBlocks(file.content).map((b) => ({ ...b, file: file.path })));
}

/** A jail block: `Match Group <one group>` with a ChrootDirectory and ForceCommand internal-sftp. */
function jailGroup(b: ConfigBlock): string | undefined {
  const keys = Object.keys(b.match);
  const g = b.match.Group;
  if (keys.length !== 1 || !g || g.length !== 1 || g[0].startsWith("!") || /[*?]/.test(g[0])) return undefined;
  if (!b.directives.ChrootDirectory || b.directives.ChrootDirectory === "none") return undefined;
  if (!/^internal-sftp(\s|$)/.test(b.directives.ForceCommand ?? "")) return undefined;
  return g[0];
}

/**
 * A key line with options, named without their values (an `environment="TOKEN=..."` may hold a credential, and the
 * notes go to stderr and to --out): the option names and the end of the key, e.g. `[from, command] ssh-ed25519 ...Xk2Q`.
 */
function keyLineSummary(line: string): string {
  // The options end at the first blank outside double quotes (sshd's rule): a quoted value may hold " ssh-" itself.
  const t = line.trim();
  let i = 0;
  if (!/^(ssh-|ecdsa-|sk-)/.test(t)) {
    for (let quoted = false; i < t.length; i++) {
      if (t[i] === '"') quoted = !quoted;
      else if (t[i] === "\\" && quoted) i++;
      else if (/\s/.test(t[i]) && !quoted) break;
    }
  }
  const names = [...t.slice(0, i).replace(/"(?:[^"\\]|\\.)*"?/g, '""').matchAll(/(?:^|,)\s*([A-Za-z-]+)/g)].map((m) => m[1]);
  const [type, b64] = t.slice(i).trim().split(/\s+/);
  // Only what a key line may hold reaches the note: a known key type and base64 (the file is a user's to write).
  return `[${names.join(", ")}] ${type && KEY_TYPE_TOKEN.test(type) ? type : "?"} ...${/^[A-Za-z0-9+/=]+$/.test(b64 ?? "") ? b64.slice(-8) : ""}`;
}

/** The keys of a file that the config can carry; the rest are reported (and the file then differs: adoption refuses). */
function usableKeys(content: string, where: string, notes: string[]): string[] {
  const out: string[] = [];
  for (const line of keyLines(content)) {
    if (out.includes(line)) notes.push(`${where}: lists a key twice; sftp-jail carries it once, so the file differs from keys and adoption refuses until the duplicate line is removed`);
    else if (publicKey.safeParse(line).success) out.push(line);
    else notes.push(`${where}: a key line sftp-jail cannot carry (options such as from="..." or command="...") was left out; the file then differs from keys and adoption refuses until you decide: ${keyLineSummary(line)}`);
  }
  return out;
}

/**
 * The SSH opening to adopt: the first ACCEPT for sshd's port, before any REJECT/DROP, that the config can express.
 * Without a source a FirewallRule is for both families, so the opening is written without one only if IPv6 has it
 * too (or nothing filters IPv6 there); otherwise as IPv4 only (`0.0.0.0/0`), as the host has it, so that `pulumi up`
 * adopts it without adding anything.
 */
function sshOpening(f: HostFacts, notes: string[], host: string): Record<string, unknown> | undefined {
  const ports = sshPorts(f);
  const probe: RuleDesired = { name: "migrate", backend: "auto", protocol: "tcp", ports, state: [], action: "ACCEPT", position: "beforeReject" };
  let target: Target;
  let rules: ObservedRule[];
  try {
    target = resolveTarget(probe, f);
    rules = locate(probe, familyParts(target, f)[0], f).rules;
  } catch (e) {
    notes.push(`${host}: no firewall opening described (${(e as Error).message})`);
    return undefined;
  }
  for (const r of rules) {
    if (r.terminal) break;
    const s = r.spec;
    if (s.action !== "ACCEPT" || s.protocol !== "tcp" || s.extra.length || !s.ports.some((p) => ports.includes(p))) continue;
    if (r.comment?.startsWith("sftp-jail:")) continue;
    const found: RuleDesired = { ...probe, ports: s.ports, state: s.state, ...(s.source ? { source: s.source } : {}) };
    let source = s.source;
    if (!source && target.backend === "nftables" && s.family !== "any") source = s.family === "ipv4" ? "0.0.0.0/0" : "::/0";
    if (!source && target.backend !== "nftables") {
      const v6 = familyParts(target, f).find((p) => p.family === "ipv6");
      const twin = v6 && locate(found, v6, f, desiredSpec(found, v6));
      if (twin && !(twin.adopted && twin.inPosition && twin.matchesSpec)) {
        source = "0.0.0.0/0";
        notes.push(`${host}: sshd's port is open for IPv4 only (ip6tables has no such opening before its REJECT/DROP); written as source 0.0.0.0/0, as the host has it. Remove source to open IPv6 too`);
      }
    }
    return {
      ...(s.ports.length === 1 ? { port: s.ports[0] } : { ports: s.ports }),
      ...(source ? { source } : {}),
      ...(s.state.length ? { state: s.state } : {}),
    };
  }
  return undefined;
}

/** What every part of a host's description reads, and where its notes go. */
interface Reading {
  host: HostSpec;
  f: HostFacts;
  r: HostReading;
  notes: string[];
  /** Survey entries by account name. */
  byName: Map<string, SurveyUser>;
  userName(uid: number): string;
  groupName(gid: number): string;
}

// ---- notes: blocks that jail accounts in a way the config cannot describe ----

/** A note for each block that sets a ChrootDirectory but is not a `Match Group` jail block. */
function noteOtherJailBlocks(x: Reading, blocks: FoundBlock[]): void {
  for (const b of blocks) {
    if (!jailGroup(b) && b.directives.ChrootDirectory && b.directives.ChrootDirectory !== "none") {
      x.notes.push(`${x.host.name}: the block "Match ${b.text.split("\n")[0].replace(/^\s*match\s*/i, "")}" in ${b.file} jails accounts, but only "Match Group <group>" blocks with ForceCommand internal-sftp are described; move them to a group`);
    }
  }
}

// ---- sshd: where keys are, and the block's directives ----

/**
 * The AuthorizedKeysFile the jail's users have (sshd's evaluation for a jailed member, else the block's own, else
 * sshd's default), as its list of patterns and the one the config describes: the first that holds keys.
 */
function keysPattern(x: Reading, b: FoundBlock, g: GroupEntry, members: UserEntry[]): { patterns: string[]; pattern: string } {
  const effective = x.r.survey.find((u) => u.chroot && members.some((m) => m.name === u.name))?.sshd.authorizedkeysfile;
  const patterns = (effective ?? b.directives.AuthorizedKeysFile ?? ".ssh/authorized_keys").split(" ").filter(Boolean);
  const pick = (u: SurveyUser) => u.keyFiles.findIndex((k) => k.content !== null && keyLines(k.content).length > 0);
  const used = new Set(members.map((m) => x.byName.get(m.name)).filter((u): u is SurveyUser => !!u).map(pick).filter((i) => i >= 0));
  const patternIndex = used.size ? Math.min(...used) : 0;
  if (used.size > 1) x.notes.push(`${x.host.name}: the users of group ${g.name} keep keys in different files (${[...used].map((i) => patterns[i]).join(", ")}); only ${patterns[patternIndex]} is described`);
  return { patterns, pattern: patterns[patternIndex] ?? ".ssh/authorized_keys" };
}

/**
 * The block's directives against what SftpJailHost would write: only the differences, null for a default it lacks.
 * A directive sftp-jail does not manage inside a Match block is a note (adoption refuses to drop it).
 */
function directivesDiff(x: Reading, b: FoundBlock, g: GroupEntry, authorizedKeysFile: string | undefined): Record<string, string | null> {
  const want = blockDirectives(DEFAULT_KEYS_DIR, authorizedKeysFile);
  const dirs: Record<string, string | null> = {};
  for (const k of Object.keys(want)) if (b.directives[k] === undefined) dirs[k] = null;
  for (const [k, v] of Object.entries(b.directives)) {
    if (!DIRECTIVE_NAMES.includes(k)) {
      x.notes.push(`${x.host.name}: the block "Match Group ${g.name}" in ${b.file} sets ${k}, which sftp-jail does not manage inside a Match block; move it out of the block by hand before pulumi up (adoption refuses to drop it)`);
    } else if (want[k] === undefined || normalValue(k, want[k]) !== v) dirs[k] = v;
  }
  return dirs;
}

// ---- chroots: ownership and mode, writable directories, where they are ----

/** The chroot's group and mode where they differ from root:root 0755 (its owner must be root: a note otherwise). */
function chrootOwnership(x: Reading, s: SurveyUser & { chroot: string }): NonNullable<UserConfig["chroot"]> {
  const st: PathStat | undefined = s.stats[s.chroot];
  const chroot: NonNullable<UserConfig["chroot"]> = {};
  if (st?.exists) {
    if (st.uid !== 0) x.notes.push(`${x.host.name}: ${s.chroot} is owned by ${x.userName(st.uid)}, not root: sshd refuses this chroot; adoption makes it root-owned`);
    if (st.gid !== 0) chroot.group = x.groupName(st.gid);
    if (octal(st.mode) !== "0755") chroot.mode = octal(st.mode);
  }
  return chroot;
}

/** Writable directories: the user's (or anyone's but root's) directories in the jail's root-owned structure. */
function writableDirs(x: Reading, m: UserEntry, g: GroupEntry, s: SurveyUser & { chroot: string }): DirConfig[] {
  const dirs: DirConfig[] = [];
  const inside = Object.values(s.stats)
    .filter((p) => p.path.startsWith(s.chroot + "/") && p.type === "directory")
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  for (const d of inside) {
    const rel = d.path.slice(s.chroot.length + 1);
    const parent = s.stats[parentOf(d.path)];
    if (d.uid === 0 || (rel.includes("/") && parent && parent.uid !== 0)) continue; // structure, or the user's own content
    // A name sftp-jail could not manage (a jailed user may name a directory anything) is reported, never described.
    if (!relPath("").safeParse(rel).success) {
      x.notes.push(`${x.host.name}: ${m.name}'s directory ${JSON.stringify(rel)} in ${s.chroot} has a name sftp-jail does not accept; not described`);
      continue;
    }
    const owner = x.userName(d.uid);
    const group = x.groupName(d.gid);
    const mode = octal(d.mode);
    const exact = { path: rel, ...(owner !== m.name ? { owner } : {}), ...(group !== g.name ? { group } : {}), ...(mode !== "0755" ? { mode } : {}) };
    dirs.push(Object.keys(exact).length === 1 ? rel : exact);
  }
  return dirs;
}

/**
 * Where the chroots are: the user's home is the chroot (%h), so the most common parent becomes chrootBase and the
 * others get chroot.path; an empty chroot object is left out.
 */
function placeChroots(x: Reading, jail: JailConfig): void {
  const parents = new Map<string, number>();
  for (const u of jail.users) {
    const c = x.byName.get(u.name)!.chroot!;
    if (c.endsWith(`/${u.name}`)) parents.set(parentOf(c), (parents.get(parentOf(c)) ?? 0) + 1);
  }
  const base = [...parents.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (base) jail.chrootBase = base;
  for (const u of jail.users) {
    const c = x.byName.get(u.name)!.chroot!;
    if (c !== `${base}/${u.name}`) u.chroot = { path: c, ...u.chroot };
    if (u.chroot && !Object.keys(u.chroot).length) delete u.chroot;
  }
}

// ---- accounts: the jailed users, and the ones only rssh.conf jails ----

/** One jailed member as the config describes it: password field, shell, chroot, writable directories, keys. */
function describeUser(x: Reading, m: UserEntry, g: GroupEntry, s: SurveyUser & { chroot: string }, keys: { patterns: string[]; pattern: string }): UserConfig {
  const { f, host } = x;
  const user: UserConfig = { name: m.name, uid: m.uid, keys: [] };
  if (f.shadow[m.name] !== "*") {
    user.keyOnly = false;
    x.notes.push(`${host.name}: ${m.name}'s password field is "${f.shadow[m.name] ?? "?"}", kept (keyOnly: false); with "*" key login works under UsePAM no as well`);
  }
  if (s.chroot !== m.home) x.notes.push(`${host.name}: ${m.name} is jailed in ${s.chroot} but its home is ${m.home}; sftp-jail jails with ChrootDirectory %h, so adoption sets the home to ${s.chroot}`);
  // Compared by what the paths resolve to: /sbin/nologin on merged /usr is the host's nologin, kept as it is.
  if (!f.nologin || !sameShell(m.shell, f.nologin, f)) {
    user.shell = m.shell;
    const nonLogin = new Set(NON_LOGIN_SHELLS.map((p) => f.realpaths?.[p]).filter(Boolean));
    if (!nonLogin.has(f.realpaths?.[m.shell])) {
      // A jailed user's login shell is refused unless the program opts in: adoption says so, visibly.
      user.allowLoginShell = true;
      x.notes.push(`${host.name}: ${m.name}'s shell is ${m.shell}, kept (shell: ${m.shell}, allowLoginShell: true); only the Match block keeps it from a shell on the host: drop both lines to give it nologin`);
    }
  }
  user.chroot = chrootOwnership(x, s);
  user.writableDirs = writableDirs(x, m, g, s);
  const keyFile = s.keyFiles[keys.patterns.indexOf(keys.pattern)] ?? s.keyFiles[0];
  user.keys = keyFile?.content ? usableKeys(keyFile.content, `${host.name}: ${keyFile.path}`, x.notes) : [];
  return user;
}

/** One jail block as a jail of the config; `covered` gets the accounts it describes. */
function describeJail(x: Reading, b: FoundBlock, g: GroupEntry, subsystem: boolean, covered: Set<string>): JailConfig {
  const { f, host } = x;
  const jail: JailConfig = { hosts: { host: host.name }, group: { name: g.name, gid: g.gid }, users: [] };
  const members = f.users.filter((u) => isMember(f, u.name, g.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
  const keys = keysPattern(x, b, g, members);
  if (keys.pattern !== `${DEFAULT_KEYS_DIR}/%u`) jail.authorizedKeysFile = keys.pattern;
  for (const m of members) {
    const s = x.byName.get(m.name);
    if (!s?.chroot) {
      x.notes.push(`${host.name}: ${m.name} is in group ${g.name} but sshd does not jail it (sshd -T -C user=${m.name}); not described`);
      continue;
    }
    covered.add(m.name);
    jail.users.push(describeUser(x, m, g, s as SurveyUser & { chroot: string }, keys));
  }
  // SftpJailHost refuses a jail inside (or equal to) another's: destroying one would move or delete the other's files.
  const jailOf = (name: string) => x.byName.get(name)!.chroot!;
  for (const u of jail.users) {
    const c = jailOf(u.name);
    const o = jail.users.find((v) => v !== u && (c === jailOf(v.name) || c.startsWith(`${jailOf(v.name)}/`)));
    if (o) x.notes.push(`${host.name}: ${u.name}'s jail ${c} is ${c === jailOf(o.name) ? "shared with" : "inside"} ${o.name}'s; sftp-jail gives every user a jail of its own and refuses this config until each has one`);
  }
  placeChroots(x, jail);
  const dirs = directivesDiff(x, b, g, jail.authorizedKeysFile);
  if (Object.keys(dirs).length) jail.sshdDirectives = dirs;
  if (!subsystem) jail.subsystemInternalSftp = false;
  return jail;
}

/**
 * Accounts /etc/rssh.conf jails that sshd does not (yet): a suggestion, commented out, since enabling them changes
 * the host; rssh.conf lines of accounts a Match block jails already are notes (leftovers).
 */
function rsshSuggestion(x: Reading, jails: JailConfig[], covered: Set<string>, group: string | undefined): HostDescription["suggestions"] {
  const { f, host } = x;
  const rssh = x.r.rssh;
  if (!rssh) return [];
  const pending: JailConfig["users"] = [];
  for (const ru of rssh.users) {
    // rssh ignores every global setting (chrootpath too) for a user that has a user= line.
    const chroot = ru.chroot;
    if (covered.has(ru.name)) {
      const s = x.byName.get(ru.name)!;
      x.notes.push(`${host.name}: /etc/rssh.conf also lists ${ru.name} (chroot ${chroot ?? "none"}); sshd's Match block jails it in ${s.chroot} now${chroot && chroot !== s.chroot ? " — a different place" : ""}, so the rssh.conf line is a leftover`);
      continue;
    }
    const account = f.users.find((u) => u.name === ru.name);
    if (!account) {
      x.notes.push(`${host.name}: /etc/rssh.conf lists ${ru.name}, which has no account; skipped`);
      continue;
    }
    const keyFile = x.byName.get(ru.name)?.keyFiles.find((k) => k.content !== null);
    pending.push({
      name: ru.name,
      uid: account.uid,
      keys: keyFile?.content ? usableKeys(keyFile.content, `${host.name}: ${keyFile.path}`, x.notes) : [],
      ...(chroot ? { chroot: { path: chroot } } : {}),
      writableDirs: ["upload"],
    });
  }
  if (!pending.length) return [];
  const target = jails[0] ?? { hosts: { host: host.name }, group: { name: group ?? "sftp" }, users: [] };
  const allows = rssh.users.filter((u) => pending.some((p) => p.name === u.name)).map((u) => `${u.name} allows ${u.allow.join("+") || "nothing"}`);
  return [
    {
      note: `${host.name}: /etc/rssh.conf jails ${pending.map((u) => u.name).join(", ")} (rssh: ${allows.join("; ")}), which sshd does not. Uncomment to move them into the jail: pulumi up then adds them to group ${target.group.name}, sets their shell to nologin and their home to the chroot, and makes the chroot root-owned (it CHANGES the host)`,
      jail: { ...target, users: pending },
      ...(jails[0] ? { into: 0 } : {}),
    },
  ];
}

// ---- the host ----

/**
 * Describes one host (pure): its jail blocks as jails of the root program's config, with every value as the host has
 * it, so that `pulumi up` adopts everything unchanged. What the config cannot express is written as a note.
 */
export function describeHost(host: HostSpec, r: HostReading, opts: { group?: string } = {}): HostDescription {
  const f = r.facts;
  const x: Reading = {
    host,
    f,
    r,
    notes: [],
    byName: new Map(r.survey.map((u) => [u.name, u])),
    userName: (uid) => f.users.find((u) => u.uid === uid)?.name ?? String(uid),
    groupName: (gid) => f.groups.find((g) => g.gid === gid)?.name ?? String(gid),
  };
  const blocks = matchBlocks(f);
  const subsystem = (f.sshd.effective.subsystem ?? []).some((v) => /^sftp\s+internal-sftp(\s|$)/.test(v));
  noteOtherJailBlocks(x, blocks);

  const jails: JailConfig[] = [];
  const covered = new Set<string>();
  const seen = new Set<string>();
  for (const b of blocks) {
    const name = jailGroup(b);
    if (!name || seen.has(name)) continue;
    seen.add(name);
    const g = f.groups.find((y) => y.name === name);
    if (g) jails.push(describeJail(x, b, g, subsystem, covered));
    else x.notes.push(`${host.name}: ${b.file} jails group "${name}", which does not exist; skipped`);
  }

  const fw = jails.length ? sshOpening(f, x.notes, host.name) : undefined;
  if (fw) jails[0].firewall = fw;
  else if (jails.length) x.notes.push(`${host.name}: no firewall rule found that accepts sshd's port before a REJECT/DROP; none described`);

  const suggestions = rsshSuggestion(x, jails, covered, opts.group);
  if (!jails.length && !suggestions.length) x.notes.push(`${host.name}: no jail found (no "Match Group" block with ChrootDirectory and ForceCommand internal-sftp, no /etc/rssh.conf)`);
  return { host, jails: jails.map(ordered), notes: x.notes, suggestions };
}

/** The same jail with its keys in reading order (YAML keeps insertion order). */
function ordered(j: JailConfig): JailConfig {
  const { hosts, group, chrootBase, authorizedKeysFile, subsystemInternalSftp, sshdDirectives, users, firewall } = j;
  const ordUsers = users.map(({ name, uid, keyOnly, shell, allowLoginShell, chroot, writableDirs, keys }) => ({ name, uid, keyOnly, shell, allowLoginShell, chroot, writableDirs, keys }));
  return { hosts, group, chrootBase, authorizedKeysFile, subsystemInternalSftp, sshdDirectives, users: ordUsers, firewall };
}
