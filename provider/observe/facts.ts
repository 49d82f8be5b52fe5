// Over 400 lines on purpose: the fact types (HostFacts), the base facts every snapshot takes and which a change makes stale are one list, read together; other facts have their own modules.
/**
 * Facts: read-only probes of a host, each a shell `command` plus a pure `parse` of its output (pyinfra's split).
 * A snapshot runs every fact's command in one exec and parses the sections; nothing here changes a host.
 */

import type { CreatedRecord } from "./record";
import { IptTable, parseIptablesSave } from "./iptables";
import { NftRuleset, parseNft } from "./nft";
import type { JailEval } from "./jailFacts";
import { decodeFiles } from "./pathFacts";
import { operator, sudoers } from "./operatorFacts";

// Facts that live in their own modules (each a command + parser, as here), re-exported so callers import one place.
export * from "./jailFacts";
export * from "./pathFacts";
export * from "./operatorFacts";

export interface OsRelease {
  id: string;
  versionId: string;
  idLike: string[];
  prettyName: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** The comment (GECOS) field; sftp-jail's own accounts say "sftp-jail" (observe/record.ts). */
  gecos?: string;
}

/** Only the kind of the shadow password field, never the hash itself. */
export type ShadowState = "*" | "!" | "!!" | "!*" | "" | "locked-hash" | "hash";

export interface OpenSsh {
  /** e.g. "9.2p1" */
  version: string;
  major: number;
  minor: number;
  sshdPath: string | null;
  sftpServerPath: string | null;
}

/** One file as read from the host (contents travel base64-encoded so no byte can confuse the section parser). */
export interface FileContent {
  path: string;
  content: string;
}

export interface SshdConfig {
  /** /etc/ssh/sshd_config as it is on disk, or null when missing. */
  main: FileContent | null;
  /** Files under /etc/ssh/sshd_config.d/ (any name), in name order. */
  dropins: FileContent[];
  /** sshd's verdict on the whole configuration (`sshd -T` succeeding: it checks what `sshd -t` checks). */
  valid: boolean;
  /** `sshd -t` messages when not valid. */
  error: string;
  /** `sshd -T` (no Match context): keyword (lower case) -> values, in order. Empty when the config is invalid. */
  effective: Record<string, string[]>;
}

/**
 * The packet filter as observed, parsed once here (observe/iptables.ts, observe/nft.ts): planners read these
 * structures, never the text. Each iptables field is the filter table of that tool's `-save` output, or null when the
 * tool is absent or has no filter table.
 */
export interface Firewall {
  /** `iptables-save` of the default iptables (usually iptables-nft), rules read as IPv4. */
  iptables: IptTable | null;
  /** Which variant `iptables` is: "nf_tables", "legacy" or null (no iptables). */
  iptablesVariant: "nf_tables" | "legacy" | null;
  /** `iptables-legacy-save` when that binary exists and differs from the default. */
  iptablesLegacy: IptTable | null;
  /** `nft -j list ruleset` as JSON, or null when nft is absent (the host record reads objects' handles from it). */
  nft: unknown | null;
  /** {@link nft} parsed: tables, chains and rules read into specs; null when nft is absent. */
  ruleset: NftRuleset | null;
  /** `ip6tables-save` of the default variant, rules read as IPv6. */
  ip6tables: IptTable | null;
  /** `ip6tables-legacy-save` when that binary exists and differs from the default (IPv6 beside iptablesLegacy). */
  ip6tablesLegacy: IptTable | null;
}

/** lstat of one path: what ChrootDir and JailedUser need to judge ownership rules. */
export interface PathStat {
  path: string;
  exists: boolean;
  uid: number;
  gid: number;
  /** Permission bits as a number (e.g. 0o755). */
  mode: number;
  type: "directory" | "file" | "symlink" | "other" | "missing";
  /**
   * `inode:birth time` (seconds.nanoseconds; 0 where the filesystem keeps none): which object is there, so a directory
   * removed and made again by hand is another one (observe/record.ts).
   */
  ident?: string;
}

export interface HostFacts {
  os: OsRelease;
  openssh: OpenSsh | null;
  nologin: string | null;
  serviceManager: "systemd" | "sysv" | "none";
  tools: Record<string, boolean>;
  groups: GroupEntry[];
  users: UserEntry[];
  shadow: Record<string, ShadowState>;
  sshd: SshdConfig;
  firewall: Firewall;
  /** Stats of every path a resource asked about in this process, and of all their ancestors. */
  paths: Record<string, PathStat>;
  /** Contents of every file a resource asked to read in this process (absent key: file missing). */
  files: Record<string, string>;
  /** Who sftp-jail logs in as and how it becomes root: the envelope no resource may change (plan/envelope.ts). */
  operator: OperatorFacts | null;
  /** Groups the host's sudoers names (`%group`, `%#gid`), read as root. */
  sudoers: Sudoers;
  /**
   * What paths resolve to on the host (`readlink -e`; missing ones are absent): every shell in /etc/passwd, the
   * nologin/false candidates and every registered path. Shells are compared by this, never by string: on merged /usr
   * /sbin/nologin is /usr/sbin/nologin.
   */
  realpaths: Record<string, string>;
  /** sshd's own evaluation (`sshd -T -C`) of every jailed account a resource registered, per client context. */
  jail: JailEval[];
  /** The host's record of what sftp-jail created there (observe/record.ts). */
  record: CreatedRecord;
}

/** The account sftp-jail logs in as, as the host sees it. */
export interface OperatorFacts {
  /** The login user (SUDO_USER under sudo, else the user the snapshot runs as). */
  user: string;
  uid: number;
  /** Primary gid. */
  gid: number;
  /** Every gid the user is in (`id -G`: primary and supplementary). */
  gids: number[];
  home: string;
  shell: string;
  /** How it becomes root: logged in as root, or through sudo. */
  via: "root" | "sudo";
  /** The account the snapshot runs as (sudo's target; "root"). */
  runAs: string;
  /** Through sudo: whether sudo -l lists a NOPASSWD rule for the user (null when not through sudo). */
  sudoNopasswd: boolean | null;
  /** AuthorizedKeysFile entries sshd reads for this connection (`sshd -T -C`), %h/%u expanded, absolute. */
  keyFiles: string[];
  /** The port sshd accepted this very connection on (SSH_CONNECTION), when found. */
  lport?: number;
}

export interface Sudoers {
  /** Files read: /etc/sudoers, /etc/sudoers.d/*, and files they #include. */
  files: string[];
  /** Group names named as %name or %:name anywhere in them. */
  groups: string[];
  /** Numeric gids named as %#gid. */
  gids: number[];
}

export interface Fact<K extends keyof HostFacts> {
  key: K;
  command: string;
  parse(output: string): HostFacts[K];
}

const fact = <K extends keyof HostFacts>(f: Fact<K>) => f;

export const osRelease = fact({
  key: "os",
  command: "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release",
  parse(out) {
    const kv: Record<string, string> = {};
    for (const line of out.split("\n")) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) kv[m[1]] = m[2].replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
    }
    return {
      id: kv.ID ?? "unknown",
      versionId: kv.VERSION_ID ?? "",
      idLike: (kv.ID_LIKE ?? "").split(/\s+/).filter(Boolean),
      prettyName: kv.PRETTY_NAME ?? kv.ID ?? "unknown",
    };
  },
});

export const openssh = fact({
  key: "openssh",
  command: [
    "p=$(command -v sshd || ls /usr/sbin/sshd 2>/dev/null)",
    'echo "sshd=$p"',
    // sshd -V exists since 9.1; older sshd prints its version in the usage text of an unknown flag.
    '[ -n "$p" ] && { "$p" -V 2>&1 || "$p" -\\? 2>&1; } | grep -m1 -o "OpenSSH_[0-9][0-9.p]*"',
    "for f in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/libexec/sftp-server /usr/lib/ssh/sftp-server; do [ -x $f ] && echo sftp=$f && break; done",
  ].join("; "),
  parse(out) {
    const sshd = /^sshd=(.+)$/m.exec(out)?.[1]?.trim() || null;
    const v = /OpenSSH_([0-9]+)\.([0-9]+)(p[0-9]+)?/.exec(out);
    if (!v) return null;
    return {
      version: `${v[1]}.${v[2]}${v[3] ?? ""}`,
      major: Number(v[1]),
      minor: Number(v[2]),
      sshdPath: sshd,
      sftpServerPath: /^sftp=(.+)$/m.exec(out)?.[1]?.trim() ?? null,
    };
  },
});

export const nologin = fact({
  key: "nologin",
  command: "for f in /usr/sbin/nologin /sbin/nologin /usr/bin/nologin; do [ -x $f ] && echo $f && break; done",
  parse: (out) => out.trim().split("\n")[0] || null,
});

/** Whether two shell paths are the same program on the host: equal, or resolving to the same file. */
export function sameShell(a: string, b: string, f: Pick<HostFacts, "realpaths">): boolean {
  if (a === b) return true;
  const ra = f.realpaths?.[a];
  const rb = f.realpaths?.[b];
  // A resolved path has no symlink left in it: a path equal to the other's resolution is that very file.
  return (!!ra && (ra === rb || ra === b)) || (!!rb && rb === a);
}

export const serviceManager = fact({
  key: "serviceManager",
  command: "if [ -d /run/systemd/system ]; then echo systemd; elif command -v service >/dev/null; then echo sysv; else echo none; fi",
  parse: (out) => (out.trim() === "systemd" ? "systemd" : out.trim() === "sysv" ? "sysv" : "none"),
});

/**
 * Commands the steps sftp-jail runs need on every host it changes, with the package that brings each (for the fix a
 * refusal names). Judged once per host before its first change (plan/preconditions.ts).
 */
export const HOST_TOOLS: Readonly<Record<string, string>> = {
  groupadd: "passwd (Debian/Ubuntu) or shadow-utils (RHEL)",
  groupmod: "passwd (Debian/Ubuntu) or shadow-utils (RHEL)",
  groupdel: "passwd (Debian/Ubuntu) or shadow-utils (RHEL)",
  useradd: "passwd (Debian/Ubuntu) or shadow-utils (RHEL)",
  usermod: "passwd (Debian/Ubuntu) or shadow-utils (RHEL)",
  userdel: "passwd (Debian/Ubuntu) or shadow-utils (RHEL)",
  flock: "util-linux",
  setsid: "util-linux",
  base64: "coreutils",
  sha256sum: "coreutils",
  stat: "coreutils",
  dd: "coreutils",
  install: "coreutils",
  readlink: "coreutils",
  mktemp: "coreutils",
  sort: "coreutils",
  cut: "coreutils",
  find: "findutils",
  awk: "gawk or mawk",
  sed: "sed",
  grep: "grep",
};
/** Firewall commands: needed only on a host a FirewallRule targets, and only its backend's. */
export const FIREWALL_TOOLS = ["iptables", "ip6tables", "iptables-legacy", "nft"] as const;
const TOOLS = [...Object.keys(HOST_TOOLS), "sshd", ...FIREWALL_TOOLS];
export const tools = fact({
  key: "tools",
  command: `for t in ${TOOLS.join(" ")}; do command -v $t >/dev/null && echo "$t=1" || echo "$t=0"; done`,
  parse(out) {
    const r: Record<string, boolean> = {};
    for (const line of out.split("\n")) {
      const [k, v] = line.trim().split("=");
      if (k) r[k] = v === "1";
    }
    return r;
  },
});

export const groups = fact({
  key: "groups",
  command: "cat /etc/group",
  parse(out) {
    return out
      .split("\n")
      .filter((l) => l.includes(":"))
      .map((l) => {
        const [name, , gid, members] = l.split(":");
        return { name, gid: Number(gid), members: (members ?? "").split(",").filter(Boolean) };
      });
  },
});

export const users = fact({
  key: "users",
  command: "cat /etc/passwd",
  parse(out) {
    return out
      .split("\n")
      .filter((l) => l.includes(":"))
      .map((l) => {
        const [name, , uid, gid, gecos, home, shell] = l.split(":");
        return { name, uid: Number(uid), gid: Number(gid), gecos: gecos ?? "", home: home ?? "", shell: shell ?? "" };
      });
  },
});

export const shadow = fact({
  key: "shadow",
  // Classified on the host so no password hash ever crosses the wire.
  command:
    "awk -F: '{f=$2; if (f==\"*\"||f==\"!\"||f==\"!!\"||f==\"!*\"||f==\"\") k=f; else if (substr(f,1,1)==\"!\") k=\"locked-hash\"; else k=\"hash\"; print $1\":\"k}' /etc/shadow",
  parse(out) {
    const r: Record<string, ShadowState> = {};
    for (const line of out.split("\n")) {
      const i = line.indexOf(":");
      if (i > 0) r[line.slice(0, i)] = line.slice(i + 1).trim() as ShadowState;
    }
    return r;
  },
});

const B64FILE = (f: string) => `printf '%s\\t' ${f}; base64 -w0 < ${f}; echo`;

export const sshd = fact({
  key: "sshd",
  command: [
    `[ -f /etc/ssh/sshd_config ] && { ${B64FILE("/etc/ssh/sshd_config")}; }`,
    `for f in /etc/ssh/sshd_config.d/*; do [ -f "$f" ] && { ${B64FILE('"$f"')}; }; done`,
    // `sshd -T` checks exactly what `sshd -t` checks before it prints (one sshd, ~5 ms of host CPU, instead of two);
    // only when it fails does `sshd -t` run, for its messages.
    "echo '--test'",
    "if sj_T=$(sshd -T 2>/dev/null); then echo ok; else sj_T=; echo fail; { sshd -t 2>&1 || :; } | base64 -w0; echo; fi",
    "echo '--effective'",
    "[ -z \"$sj_T\" ] || printf '%s\\n' \"$sj_T\"",
  ].join("\n"),
  parse(out) {
    const [filePart, rest = ""] = ("\n" + out).split("\n--test\n");
    const [testPart, effPart = ""] = rest.split("\n--effective\n");
    const all = decodeFiles(filePart);
    const main = all.find((f) => f.path === "/etc/ssh/sshd_config") ?? null;
    const dropins = all.filter((f) => f.path !== "/etc/ssh/sshd_config").sort((a, b) => (a.path < b.path ? -1 : 1));
    const [verdict, err = ""] = testPart.trim().split("\n");
    const effective: Record<string, string[]> = {};
    for (const line of effPart.split("\n")) {
      const m = /^(\S+)\s+(.*)$/.exec(line.trim());
      if (m) (effective[m[1].toLowerCase()] ??= []).push(m[2]);
    }
    return {
      main,
      dropins,
      valid: verdict === "ok",
      error: verdict === "ok" ? "" : Buffer.from(err.trim(), "base64").toString("utf8").trim(),
      effective,
    };
  },
});

/** The raw output of the firewall probe, one field per tool (what {@link firewall}'s command prints, split). */
export interface FirewallText {
  iptablesVariant: Firewall["iptablesVariant"];
  iptables: string | null;
  ip6tables: string | null;
  iptablesLegacy: string | null;
  ip6tablesLegacy: string | null;
  nft: unknown | null;
}

/** The firewall fact from what the probe printed: every parser runs here, once (tests build edited facts with it). */
export function firewallFact(t: FirewallText): Firewall {
  return {
    iptablesVariant: t.iptablesVariant,
    iptables: parseIptablesSave(t.iptables, "ipv4"),
    ip6tables: parseIptablesSave(t.ip6tables, "ipv6"),
    iptablesLegacy: parseIptablesSave(t.iptablesLegacy, "ipv4"),
    ip6tablesLegacy: parseIptablesSave(t.ip6tablesLegacy, "ipv6"),
    nft: t.nft,
    ruleset: parseNft(t.nft),
  };
}

export const firewall = fact({
  key: "firewall",
  command: [
    // One `iptables -V`, kept for the legacy tests; the `-save` comments are left to the parser, which skips them
    // (each process here is CPU on every host at every snapshot).
    "echo '--variant'; sj_iv=$(iptables -V 2>/dev/null); [ -z \"$sj_iv\" ] || printf '%s\\n' \"$sj_iv\"",
    "echo '--iptables'; iptables-save 2>/dev/null",
    "echo '--ip6tables'; ip6tables-save 2>/dev/null",
    "case \"$sj_iv\" in *legacy*) sj_il=0 ;; *) sj_il=1 ;; esac",
    "echo '--legacy'; if [ \"$sj_il\" = 1 ] && command -v iptables-legacy-save >/dev/null; then iptables-legacy-save 2>/dev/null; fi",
    // Reading never creates a legacy table (`ip6tables-legacy -S` would: the kernel instantiates it on first use).
    "echo '--legacy6'; if [ \"$sj_il\" = 1 ] && command -v ip6tables-legacy-save >/dev/null; then ip6tables-legacy-save 2>/dev/null; fi",
    "echo '--nft'; nft -j list ruleset 2>/dev/null",
  ].join("\n"),
  parse(out) {
    const sec: Record<string, string> = {};
    let cur = "";
    for (const line of out.split("\n")) {
      const m = /^--(variant|iptables|ip6tables|legacy|legacy6|nft)$/.exec(line);
      if (m) {
        cur = m[1];
        sec[cur] = "";
      } else if (cur) sec[cur] += line + "\n";
    }
    const v = sec.variant ?? "";
    let nft: unknown = null;
    try {
      nft = sec.nft?.trim() ? JSON.parse(sec.nft) : null;
    } catch {
      nft = null;
    }
    const variant = /nf_tables/.test(v) ? "nf_tables" : /legacy/.test(v) ? "legacy" : null;
    return firewallFact({
      iptablesVariant: variant,
      iptables: v.trim() ? (sec.iptables ?? "") : null,
      ip6tables: v.trim() ? (sec.ip6tables ?? "") : null,
      iptablesLegacy: sec.legacy?.trim() ? sec.legacy : null,
      ip6tablesLegacy: sec.legacy6?.trim() ? sec.legacy6 : null,
      nft,
    });
  },
});

/** The facts every full snapshot takes; `paths` and `files` are added per session with what resources asked about. */
export const BASE_FACTS = [osRelease, openssh, nologin, serviceManager, tools, groups, users, shadow, sshd, firewall, operator, sudoers] as const;
export type BaseKey = (typeof BASE_FACTS)[number]["key"];
export const BASE_KEYS: readonly BaseKey[] = BASE_FACTS.map((f) => f.key);

/**
 * What a change touches: what a step declares as its effects (plan/types.ts `Effects` is this type), defined here
 * because the declarations the operator envelope is judged on are also the ones that decide what is re-read.
 */
export interface Touches {
  /** Accounts whose passwd/shadow entry (shell, home, password field, groups) is created, changed or removed. */
  readonly accounts?: readonly string[];
  /** Groups created, renumbered or removed (a change of the group itself, not of one member's membership). */
  readonly groups?: readonly string[];
  /** Groups whose member list changes (the member is named in `accounts`). */
  readonly memberships?: readonly string[];
  /** Host paths created, removed, moved, written, or whose owner or mode changes (a directory: the directory itself). */
  readonly paths?: readonly string[];
  /**
   * Directories made to exist with an owner and mode (created, chown'ed or chmod'ed), when nothing below them can
   * change: judged like `paths` by the operator envelope, but a snapshot after the step re-reads only the directory,
   * not everything registered below it (the key store holds every user's key file).
   */
  readonly dirs?: readonly string[];
  /** The step changes the firewall ruleset or sshd's configuration (guarded by confirm-or-revert on their own). */
  readonly service?: "firewall" | "sshd";
}

/** Paths whose change could alter any base fact (account databases, shells, tools, sudoers, os-release). */
const SYSTEM_PATH = /^\/(etc|usr|bin|sbin|lib[^/]*|opt|run\/systemd)?(\/|$)/;
const SSH_PATH = /^\/etc\/ssh(\/|$)/;
/** sftp-jail's own key store under /etc/ssh (plan/jailedUser.ts DEFAULT_KEYS_DIR): read by sshd at login, not by -T. */
const KEY_STORE = /^\/etc\/ssh\/sftp-jail(\/|$)/;

/**
 * The base facts a change can make stale (pure; unit-tested), so the snapshot an apply prints after it re-reads only
 * those, and the rest of the cache holds. The operator's facts depend on accounts, groups and sshd's
 * AuthorizedKeysFile, so they go with either; sudoers changes only with its files. A path a declaration does not place
 * (under /etc outside /etc/ssh, /usr, /bin…) re-reads them all.
 */
export function staleAfter(changes: readonly Touches[]): BaseKey[] {
  const stale = new Set<BaseKey>();
  for (const c of changes) {
    if (c.accounts?.length || c.groups?.length || c.memberships?.length) for (const k of ["groups", "users", "shadow", "operator"] as const) stale.add(k);
    if (c.service === "sshd") for (const k of ["sshd", "operator"] as const) stale.add(k);
    if (c.service === "firewall") stale.add("firewall");
    for (const p of [...(c.paths ?? []), ...(c.dirs ?? [])]) {
      if (KEY_STORE.test(p)) continue;
      if (SSH_PATH.test(p)) for (const k of ["sshd", "operator"] as const) stale.add(k);
      else if (SYSTEM_PATH.test(p)) return [...BASE_KEYS];
    }
  }
  return BASE_KEYS.filter((k) => stale.has(k));
}
