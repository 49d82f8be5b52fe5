/**
 * Facts: read-only probes of a host, each a shell `command` plus a pure `parse` of its output (pyinfra's split).
 * A snapshot runs every fact's command in one exec and parses the sections; nothing here changes a host.
 */

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

export interface Firewall {
  /** `iptables-save` output of the default iptables (usually iptables-nft), or null when absent. */
  iptables: string | null;
  /** Which variant `iptables` is: "nf_tables", "legacy" or null. */
  iptablesVariant: "nf_tables" | "legacy" | null;
  /** `iptables-legacy-save` when that binary exists and differs from the default. */
  iptablesLegacy: string | null;
  /** `nft -j list ruleset` parsed, or null when nft is absent. */
  nft: unknown | null;
  /** `ip6tables-save` of the default variant, or null. */
  ip6tables: string | null;
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

export const serviceManager = fact({
  key: "serviceManager",
  command: "if [ -d /run/systemd/system ]; then echo systemd; elif command -v service >/dev/null; then echo sysv; else echo none; fi",
  parse: (out) => (out.trim() === "systemd" ? "systemd" : out.trim() === "sysv" ? "sysv" : "none"),
});

const TOOLS = ["groupadd", "groupmod", "groupdel", "useradd", "usermod", "userdel", "flock", "sshd"];
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
        const [name, , uid, gid, , home, shell] = l.split(":");
        return { name, uid: Number(uid), gid: Number(gid), home: home ?? "", shell: shell ?? "" };
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

export const firewall = fact({
  key: "firewall",
  command: [
    "echo '--variant'; iptables -V 2>/dev/null",
    "echo '--iptables'; iptables-save 2>/dev/null | grep -v '^#'",
    "echo '--ip6tables'; ip6tables-save 2>/dev/null | grep -v '^#'",
    "echo '--legacy'; if command -v iptables-legacy-save >/dev/null && ! iptables -V 2>/dev/null | grep -q legacy; then iptables-legacy-save 2>/dev/null | grep -v '^#'; fi",
    "echo '--nft'; nft -j list ruleset 2>/dev/null",
  ].join("\n"),
  parse(out) {
    const sec: Record<string, string> = {};
    let cur = "";
    for (const line of out.split("\n")) {
      const m = /^--(variant|iptables|ip6tables|legacy|nft)$/.exec(line);
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
    return {
      iptablesVariant: /nf_tables/.test(v) ? "nf_tables" : /legacy/.test(v) ? "legacy" : null,
      iptables: v.trim() ? (sec.iptables ?? "") : null,
      ip6tables: v.trim() ? (sec.ip6tables ?? "") : null,
      iptablesLegacy: sec.legacy?.trim() ? sec.legacy : null,
      nft,
    };
  },
});

/** All ancestors of a path and the path itself, root first. */
export function withAncestors(p: string): string[] {
  const parts = p.split("/").filter(Boolean);
  const out = ["/"];
  for (let i = 1; i <= parts.length; i++) out.push("/" + parts.slice(0, i).join("/"));
  return out;
}

/** Stats of the given paths (and their ancestors). Paths come from validated schemas and are quoted by the caller. */
export function pathsFact(quotedPaths: string[]): Fact<"paths"> {
  return {
    key: "paths",
    command: quotedPaths.length
      ? `for p in ${quotedPaths.join(" ")}; do if [ -e "$p" ] || [ -L "$p" ]; then stat -c '%n|%u|%g|%a|%F' -- "$p"; else echo "$p|missing"; fi; done`
      : "true",
    parse(out) {
      const r: Record<string, PathStat> = {};
      for (const line of out.split("\n")) {
        const f = line.split("|");
        if (f.length === 2 && f[1] === "missing") {
          r[f[0]] = { path: f[0], exists: false, uid: -1, gid: -1, mode: 0, type: "missing" };
        } else if (f.length === 5) {
          const t = f[4];
          r[f[0]] = {
            path: f[0],
            exists: true,
            uid: Number(f[1]),
            gid: Number(f[2]),
            mode: parseInt(f[3], 8),
            type: t === "directory" ? "directory" : /regular/.test(t) ? "file" : t === "symbolic link" ? "symlink" : "other",
          };
        }
      }
      return r;
    },
  };
}

/** Contents of the given files (quoted by the caller), base64 so any byte survives the section parser. */
export function filesFact(quotedPaths: string[]): Fact<"files"> {
  return {
    key: "files",
    command: quotedPaths.length ? `for f in ${quotedPaths.join(" ")}; do [ -f "$f" ] && { ${B64FILE('"$f"')}; }; done` : "true",
    parse(out) {
      return Object.fromEntries(files(out).map((f) => [f.path, f.content]));
    },
  };
}

/** The facts every snapshot takes; `paths` and `files` are added per session with what resources asked about. */
export const BASE_FACTS = [osRelease, openssh, nologin, serviceManager, tools, groups, users, shadow, sshd, firewall] as const;
