/**
 * Facts: read-only probes of a host, each a shell `command` plus a pure `parse` of its output (pyinfra's split).
 * A snapshot runs every fact's command in one exec and parses the sections; nothing here changes a host.
 */

import type { CreatedRecord } from "./record";
import { IptTable, parseIptablesSave } from "./iptables";
import { NftRuleset, parseNft } from "./nft";

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
  /** `sshd -t` verdict on the whole configuration. */
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
}

export interface Sudoers {
  /** Files read: /etc/sudoers, /etc/sudoers.d/*, and files they #include. */
  files: string[];
  /** Group names named as %name or %:name anywhere in them. */
  groups: string[];
  /** Numeric gids named as %#gid. */
  gids: number[];
}

/** Who connects, from where, for one `sshd -T -C` evaluation. */
export interface JailContext {
  user: string;
  /** Client address (also used as the client host name). */
  addr: string;
  /** Server address the client connects to, when the program says. */
  laddr?: string;
  /** Server port the client connects to, when the program says. */
  lport?: number;
}

/** One `sshd -T -C` evaluation of a jailed account. */
export interface JailEval extends JailContext {
  /** False when sshd -T -C failed (its message is in `error`). */
  ok: boolean;
  error: string;
  /** The {@link JAIL_KEYWORDS} sshd resolved (lower-case keyword -> value as printed). */
  values: Record<string, string>;
}

/**
 * Keywords that must resolve to "no" for every jailed account: every forwarding, a tty, gateway ports, ~/.ssh/rc
 * (judged in plan/jail.ts).
 */
export const JAIL_NO_KEYWORDS = [
  "allowtcpforwarding",
  "allowstreamlocalforwarding",
  "allowagentforwarding",
  "x11forwarding",
  "permittunnel",
  "permittty",
  "gatewayports",
  "permituserrc",
] as const;

/** What the jail check reads from sshd's evaluation of a jailed account. */
export const JAIL_KEYWORDS = ["chrootdirectory", "forcecommand", "authorizedkeysfile", ...JAIL_NO_KEYWORDS, "passwordauthentication"] as const;

/** TEST-NET-1 addresses: a neutral client no traffic ever goes to (RFC 5737), as the migrate survey uses. */
export const NEUTRAL_ADDR = "192.0.2.1";

/** The `-C` argument of one evaluation (values come from validated schemas: names, IP addresses, ports). */
export function jailSpec(c: JailContext): string {
  return [`user=${c.user}`, `host=${c.addr}`, `addr=${c.addr}`, ...(c.laddr ? [`laddr=${c.laddr}`] : []), ...(c.lport ? [`lport=${c.lport}`] : [])].join(",");
}

/** Parses a `user=..,host=..` spec back into its context. */
function parseSpec(spec: string): JailContext {
  const kv = Object.fromEntries(spec.split(",").map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
  return { user: kv.user ?? "", addr: kv.addr ?? "", ...(kv.laddr ? { laddr: kv.laddr } : {}), ...(kv.lport ? { lport: Number(kv.lport) } : {}) };
}

/**
 * One `sshd -T -C` per (account, client) context in one shell loop; only the jail's keywords are printed, so a
 * section stays small. Specs are quoted by the caller.
 */
export function jailFact(quotedSpecs: string[]): Fact<"jail"> {
  const keys = JAIL_KEYWORDS.join("|");
  return {
    key: "jail",
    command: quotedSpecs.length
      ? [
          `for sj_c in ${quotedSpecs.join(" ")}; do`,
          `  printf 'eval\\t%s\\n' "$sj_c"`,
          `  if sj_t=$(sshd -T -C "$sj_c" < /dev/null 2>&1); then printf '%s\\n' "$sj_t" | grep -E '^(${keys}) '; else printf 'error\\t%s\\n' "$(printf '%s' "$sj_t" | tr '\\n' ' ')"; fi`,
          "done",
        ].join("\n")
      : "true",
    parse: parseJail,
  };
}

/** Parses the jail section (pure; tested on output captured from a sandbox host). */
export function parseJail(out: string): JailEval[] {
  const evals: JailEval[] = [];
  let cur: JailEval | undefined;
  for (const line of out.split("\n")) {
    const [kind, ...rest] = line.split("\t");
    if (kind === "eval" && rest.length) evals.push((cur = { ...parseSpec(rest.join("\t")), ok: true, error: "", values: {} }));
    else if (!cur) continue;
    else if (kind === "error") {
      cur.ok = false;
      cur.error = rest.join("\t").trim();
    } else {
      const m = /^(\S+) (.*)$/.exec(line);
      if (m && (JAIL_KEYWORDS as readonly string[]).includes(m[1])) cur.values[m[1]] = m[2];
    }
  }
  return evals;
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

/** Decodes "path<TAB>base64" lines. */
function files(out: string): FileContent[] {
  return out
    .split("\n")
    .filter((l) => l.includes("\t"))
    .map((l) => {
      const [path, b64] = l.split("\t");
      return { path, content: Buffer.from(b64.trim(), "base64").toString("utf8") };
    });
}

const B64FILE = (f: string) => `printf '%s\\t' ${f}; base64 -w0 < ${f}; echo`;

export const sshd = fact({
  key: "sshd",
  command: [
    `[ -f /etc/ssh/sshd_config ] && { ${B64FILE("/etc/ssh/sshd_config")}; }`,
    `for f in /etc/ssh/sshd_config.d/*; do [ -f "$f" ] && { ${B64FILE('"$f"')}; }; done`,
    "echo '--test'",
    "if t=$(sshd -t 2>&1); then echo ok; else echo fail; printf '%s\\n' \"$t\" | base64 -w0; echo; fi",
    "echo '--effective'",
    "sshd -T 2>/dev/null",
  ].join("\n"),
  parse(out) {
    const [filePart, rest = ""] = ("\n" + out).split("\n--test\n");
    const [testPart, effPart = ""] = rest.split("\n--effective\n");
    const all = files(filePart);
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
    "echo '--variant'; iptables -V 2>/dev/null",
    "echo '--iptables'; iptables-save 2>/dev/null | grep -v '^#'",
    "echo '--ip6tables'; ip6tables-save 2>/dev/null | grep -v '^#'",
    "echo '--legacy'; if command -v iptables-legacy-save >/dev/null && ! iptables -V 2>/dev/null | grep -q legacy; then iptables-legacy-save 2>/dev/null | grep -v '^#'; fi",
    // Reading never creates a legacy table (`ip6tables-legacy -S` would: the kernel instantiates it on first use).
    "echo '--legacy6'; if command -v ip6tables-legacy-save >/dev/null && ! iptables -V 2>/dev/null | grep -q legacy; then ip6tables-legacy-save 2>/dev/null | grep -v '^#'; fi",
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

/** Where the login user's SSH_CONNECTION is: this process's, or (dropped by sudo's env_reset) an ancestor's. */
export const FIND_SSH_CONNECTION = `sj_sc=\${SSH_CONNECTION:-}; sj_p=$PPID
while [ -z "$sj_sc" ] && [ "\${sj_p:-1}" -gt 1 ]; do sj_sc=$(tr '\\0' '\\n' < /proc/$sj_p/environ 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p'); sj_p=$(sed 's/.*) //' /proc/$sj_p/stat 2>/dev/null | cut -d' ' -f2); done`;

export const operator = fact({
  key: "operator",
  command: [
    'sj_u=${SUDO_USER:-$(id -un)}',
    'printf \'user\\t%s\\n\' "$sj_u"',
    'printf \'via\\t%s\\n\' "${SUDO_USER:+sudo}"',
    'printf \'runas\\t%s\\n\' "$(id -un)"',
    // getent: an operator from LDAP/sssd is not in /etc/passwd.
    'sj_pw=$(getent passwd -- "$sj_u" 2>/dev/null | head -n 1); [ -n "$sj_pw" ] || sj_pw=$(awk -F: -v u="$sj_u" \'$1==u{print; exit}\' /etc/passwd)',
    'printf \'passwd\\t%s\\n\' "$sj_pw"',
    'printf \'gids\\t%s\\n\' "$(id -G -- "$sj_u")"',
    '[ -n "${SUDO_USER:-}" ] && { printf \'sudol\\t\'; sudo -n -l -U "$sj_u" 2>/dev/null | base64 -w0; echo; }',
    FIND_SSH_CONNECTION,
    "set -- $sj_sc",
    'sj_h=$(printf \'%s\\n\' "$sj_pw" | cut -d: -f6)',
    // %h, %u and %% as sshd expands them (awk -v: values are data, never code); relative entries are under the home.
    'for sj_f in $(sshd -T -C "user=$sj_u,host=${1:-127.0.0.1},addr=${1:-127.0.0.1},laddr=${3:-127.0.0.1},lport=${4:-22}" 2>/dev/null | awk \'$1=="authorizedkeysfile"{for(i=2;i<=NF;i++)print $i}\'); do',
    '  [ "$sj_f" = none ] && continue',
    '  sj_f=$(awk -v s="$sj_f" -v h="$sj_h" -v u="$sj_u" \'BEGIN{o="";n=length(s);for(i=1;i<=n;i++){c=substr(s,i,1);d=substr(s,i+1,1);if(c=="%"&&d=="h"){o=o h;i++}else if(c=="%"&&d=="u"){o=o u;i++}else if(c=="%"&&d=="%"){o=o "%";i++}else o=o c}print o}\')',
    '  case "$sj_f" in /*) ;; *) sj_f="$sj_h/$sj_f";; esac',
    '  printf \'keyfile\\t%s\\n\' "$sj_f"',
    "done",
  ].join("\n"),
  parse(out) {
    const rec: Record<string, string[]> = {};
    for (const line of out.split("\n")) {
      const i = line.indexOf("\t");
      if (i > 0) (rec[line.slice(0, i)] ??= []).push(line.slice(i + 1));
    }
    const pw = rec.passwd?.[0]?.split(":");
    const user = rec.user?.[0];
    if (!user || !pw || pw.length < 7) return null;
    const via = rec.via?.[0] === "sudo" ? "sudo" : "root";
    const listing = via === "sudo" ? Buffer.from(rec.sudol?.[0] ?? "", "base64").toString("utf8") : "";
    return {
      user,
      uid: Number(pw[2]),
      gid: Number(pw[3]),
      gids: (rec.gids?.[0] ?? "").split(/\s+/).filter(Boolean).map(Number),
      home: pw[5],
      shell: pw[6],
      via,
      runAs: rec.runas?.[0] ?? "root",
      sudoNopasswd: via === "sudo" ? /NOPASSWD:/.test(listing) : null,
      keyFiles: [...new Set(rec.keyfile ?? [])],
    };
  },
});

/**
 * Groups a sudoers text names (pure). Conservative on purpose: any `%group` outside a comment or a quoted string
 * counts, wherever it stands (user specs, User_Alias, Defaults:%group, negations), since refusing a harmless group
 * costs a rename while missing a privileged one hands out root.
 */
export function parseSudoersGroups(text: string): { groups: string[]; gids: number[] } {
  const groups = new Set<string>();
  const gids = new Set<number>();
  // Backslash-newline continues a line.
  for (const raw of text.replace(/\\\r?\n/g, " ").split("\n")) {
    // "#include"/"#includedir" are directives and "#123" a uid; any other "#" at a word start begins a comment.
    if (/^\s*[#@]include(dir)?\s/.test(raw)) continue;
    const line = raw.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/(^|\s)#(?!\d).*$/, "$1");
    for (const m of line.matchAll(/%(:?)(#?)((?:[^\s,:=()!\\]|\\.)+)/g)) {
      const name = m[3].replace(/\\(.)/g, "$1");
      if (m[2] === "#" && /^\d+$/.test(name)) gids.add(Number(name));
      else if (m[2] === "") groups.add(name);
    }
  }
  return { groups: [...groups].sort(), gids: [...gids].sort((a, b) => a - b) };
}

export const sudoers = fact({
  key: "sudoers",
  // Read as root, base64 like every file fact. Includes of /etc/sudoers are followed one level (files and dirs);
  // sudo skips names in an included directory that end in "~" or contain ".".
  command: [
    "sj_inc=$(sed -n 's/^[[:space:]]*[#@]include\\(dir\\)\\{0,1\\}[[:space:]]\\{1,\\}\\(.*\\)$/\\2/p' /etc/sudoers 2>/dev/null)",
    "set -f; sj_l=\"/etc/sudoers /etc/sudoers.d\"; for sj_i in $sj_inc; do sj_l=\"$sj_l $sj_i\"; done; set +f",
    "for sj_i in $sj_l; do",
    '  if [ -d "$sj_i" ]; then for sj_f in "$sj_i"/*; do case "${sj_f##*/}" in *~|*.*) continue;; esac; [ -f "$sj_f" ] && { printf \'%s\\t\' "$sj_f"; base64 -w0 < "$sj_f"; echo; }; done',
    '  elif [ -f "$sj_i" ]; then printf \'%s\\t\' "$sj_i"; base64 -w0 < "$sj_i"; echo; fi',
    "done",
  ].join("\n"),
  parse(out) {
    const seen = new Map<string, string>();
    for (const f of files(out)) seen.set(f.path, f.content);
    const groups = new Set<string>();
    const gids = new Set<number>();
    for (const content of seen.values()) {
      const r = parseSudoersGroups(content);
      r.groups.forEach((g) => groups.add(g));
      r.gids.forEach((g) => gids.add(g));
    }
    return { files: [...seen.keys()], groups: [...groups].sort(), gids: [...gids].sort((a, b) => a - b) };
  },
});

/** Paths whose resolution decides whether a shell is a non-login shell (merged /usr makes several the same file). */
export const NON_LOGIN_SHELLS = ["/usr/sbin/nologin", "/sbin/nologin", "/usr/bin/nologin", "/bin/false", "/usr/bin/false"];

/** What the given paths (quoted by the caller) and the non-login shell candidates resolve to; missing ones are absent. */
export function realpathsFact(quotedPaths: string[]): Fact<"realpaths"> {
  return {
    key: "realpaths",
    // Shell fields of /etc/passwd are data: read line by line with `cut`, each passed as one argument; only absolute
    // ones are resolved.
    command: [
      `for p in ${[...NON_LOGIN_SHELLS, ...quotedPaths].join(" ")}; do r=$(readlink -e -- "$p") && printf '%s\\t%s\\n' "$p" "$r"; done`,
      `cut -d: -f7 /etc/passwd | sort -u | while IFS= read -r p; do case "$p" in /*) r=$(readlink -e -- "$p") && printf '%s\\t%s\\n' "$p" "$r";; esac; done`,
    ].join("\n"),
    parse(out) {
      const r: Record<string, string> = {};
      for (const line of out.split("\n")) {
        const [p, t] = line.split("\t");
        if (p && t) r[p] = t;
      }
      return r;
    },
  };
}

/** All ancestors of a path and the path itself, root first. */
export function withAncestors(p: string): string[] {
  const parts = p.split("/").filter(Boolean);
  const out = ["/"];
  for (let i = 1; i <= parts.length; i++) out.push("/" + parts.slice(0, i).join("/"));
  return out;
}

/** Stats of the given paths (and their ancestors). Paths come from validated schemas and are quoted by the caller. */
export function pathsFact(quotedPaths: string[], more?: string): Fact<"paths"> {
  const stat = `if [ -e "$p" ] || [ -L "$p" ]; then stat -c '%n|%u|%g|%a|%F|%i:%.9W' -- "$p"; else echo "$p|missing"; fi`;
  return {
    key: "paths",
    // `more`: a command printing further paths, one a line (the host's manifest, observe/snapshot.ts).
    command: more
      ? `{ ${quotedPaths.length ? `printf '%s\\n' ${quotedPaths.join(" ")}; ` : ""}${more}; } | sort -u | while IFS= read -r p; do ${stat}; done`
      : quotedPaths.length
        ? `for p in ${quotedPaths.join(" ")}; do ${stat}; done`
        : "true",
    parse(out) {
      const r: Record<string, PathStat> = {};
      for (const line of out.split("\n")) {
        const f = line.split("|");
        if (f.length === 2 && f[1] === "missing") {
          r[f[0]] = { path: f[0], exists: false, uid: -1, gid: -1, mode: 0, type: "missing" };
        } else if (f.length === 5 || f.length === 6) {
          const t = f[4];
          r[f[0]] = {
            path: f[0],
            exists: true,
            uid: Number(f[1]),
            gid: Number(f[2]),
            mode: parseInt(f[3], 8),
            type: t === "directory" ? "directory" : /regular/.test(t) ? "file" : t === "symbolic link" ? "symlink" : "other",
            ...(f.length === 6 && /^\d+:\d+(\.\d+)?$/.test(f[5]) ? { ident: f[5] } : {}),
          };
        }
      }
      return r;
    },
  };
}

/**
 * Contents of the given files (quoted by the caller), base64 so any byte survives the section parser. Read through
 * the no-follow library (util/hostpath.ts): no symlink in any component is followed, a FIFO cannot hang the probe,
 * and a file that is not a plain regular file is reported as absent (its refusal goes to the probe's stderr).
 */
export function filesFact(quotedPaths: string[], more?: string): Fact<"files"> {
  const read = `if sj_b=$(sj_read "$f"); then printf '%s\t%s\n' "$f" "$sj_b"; fi`;
  return {
    key: "files",
    command: more
      ? `{ ${quotedPaths.length ? `printf '%s\\n' ${quotedPaths.join(" ")}; ` : ""}${more}; } | sort -u | while IFS= read -r f; do ${read}; done`
      : quotedPaths.length
        ? `for f in ${quotedPaths.join(" ")}; do ${read}; done`
        : "true",
    parse(out) {
      return Object.fromEntries(files(out).map((f) => [f.path, f.content]));
    },
  };
}

/** The facts every snapshot takes; `paths` and `files` are added per session with what resources asked about. */
export const BASE_FACTS = [osRelease, openssh, nologin, serviceManager, tools, groups, users, shadow, sshd, firewall, operator, sudoers] as const;
