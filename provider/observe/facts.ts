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

export interface HostFacts {
  os: OsRelease;
  openssh: OpenSsh | null;
  nologin: string | null;
  serviceManager: "systemd" | "sysv" | "none";
  tools: Record<string, boolean>;
  groups: GroupEntry[];
  users: UserEntry[];
  shadow: Record<string, ShadowState>;
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

export const ALL_FACTS = [osRelease, openssh, nologin, serviceManager, tools, groups, users, shadow] as const;
