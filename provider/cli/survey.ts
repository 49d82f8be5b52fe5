/**
 * sftp-jail-migrate's own reading of a host, beside the provider's snapshot in the same exec: /etc/rssh.conf and the
 * survey of the accounts sshd jails. Only the migrate CLI needs either, so the provider's snapshots (taken for every
 * resource) read neither. Read-only, like every probe.
 */
import type { PathStat } from "../observe/facts";
import { UID_MIN_SCRIPT } from "../schema/common";

/** One `user=` line of /etc/rssh.conf: rssh's per-user umask, allowed protocols and chroot. */
export interface RsshUser {
  name: string;
  umask: string;
  /** Protocols the access bits allow, of rsync, rdist, cvs, sftp, scp (rssh's order). */
  allow: string[];
  /** The user's chroot path, or null when the line names none (rssh then uses the global `chrootpath`). */
  chroot: string | null;
}

/** /etc/rssh.conf, as far as moving its users into a Match-based jail needs it. */
export interface RsshConf {
  /** Global `chrootpath`, or null. */
  chrootPath: string | null;
  /** Protocols allowed globally (`allowsftp`, `allowscp`, ...). */
  allow: string[];
  users: RsshUser[];
}


const RSSH_BITS = ["rsync", "rdist", "cvs", "sftp", "scp"];
const unquote = (v: string) => v.trim().replace(/^"(.*)"$/, "$1");

/** Parses rssh.conf text (pure): `keyword [= value]` lines, `#` comments, values optionally in double quotes. */
export function parseRsshConf(text: string): RsshConf {
  const conf: RsshConf = { chrootPath: null, allow: [], users: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    const m = /^([A-Za-z]+)\s*(?:=\s*(.*))?$/.exec(line);
    if (!m) continue;
    const key = m[1].toLowerCase();
    const value = unquote(m[2] ?? "");
    if (key === "chrootpath") conf.chrootPath = value || null;
    else if (key.startsWith("allow") && RSSH_BITS.includes(key.slice(5))) conf.allow.push(key.slice(5));
    else if (key === "user") {
      // user=name:umask:access bits[:chroot path], the path itself possibly quoted.
      const [name, umask = "", bits = "", ...rest] = value.split(":");
      if (!name) continue;
      const chroot = unquote(rest.join(":"));
      conf.users.push({
        name: name.trim(),
        umask: umask.trim(),
        allow: RSSH_BITS.filter((_, i) => bits.trim()[i] === "1"),
        chroot: chroot || null,
      });
    }
  }
  return conf;
}


/** One account as sshd itself judges it: what sshd -T -C says for a login by that user, and what the jail holds. */
export interface SurveyUser {
  name: string;
  /** `sshd -T -C user=<name>,...` values of chrootdirectory, forcecommand, authorizedkeysfile (lower-case keys). */
  sshd: Record<string, string>;
  /** The chroot sshd would use, tokens expanded (null when none applies). */
  chroot: string | null;
  /** lstat of the chroot, its ancestors, and the directories one and two levels inside it (hidden ones skipped). */
  stats: Record<string, PathStat>;
  /** Every AuthorizedKeysFile sshd would read for the user, expanded; content null when the file is missing. */
  keyFiles: Array<{ path: string; content: string | null; owner?: string }>;
}

/** What the survey read: the accounts sshd jails (and rssh.conf's), and /etc/rssh.conf itself. */
export interface Survey {
  users: SurveyUser[];
  /** /etc/rssh.conf parsed, or null when the host has none (a leftover of rssh jails). */
  rssh: RsshConf | null;
}

/** Marker of the survey's section (after the snapshot's end marker, which the snapshot parser ignores). */
export const SURVEY_MARK = "@@sftp-jail-migrate:survey";

/**
 * Which accounts sshd jails, in one exec: every account with uid >= UID_MIN (not nobody) and every account named in
 * /etc/rssh.conf is judged by `sshd -T -C` (OpenSSH's own Match evaluation, with a neutral client address from
 * TEST-NET-1 that no traffic ever goes to). For jailed accounts (and rssh.conf's), the chroot is stat'ed and the
 * authorized_keys files sshd would read are printed. /etc/rssh.conf itself comes first, whole. Read-only.
 *
 * File names are data, not lines: a jailed user names what they upload (newlines and tabs included), so every field
 * the host supplies (names, paths, sshd values, owners, contents) travels base64-encoded; only the record kind and
 * the numeric stat fields are plain. No name can end a record or start another. Key files are read through the
 * no-follow library (util/hostpath.ts): a symlink, FIFO or hard link a jailed user planted is not followed.
 */
export const accountSurvey = {
  command: [
    `echo '${SURVEY_MARK}'`,
    // The whole file, base64 like every file the probes read, so no line of it can look like a record.
    "[ -f /etc/rssh.conf ] && { printf 'rssh\\t'; base64 -w0 < /etc/rssh.conf; echo; }",
    UID_MIN_SCRIPT,
    "sj_rssh=$(sed -n 's/^[[:space:]]*user[[:space:]]*=[[:space:]]*\"\\{0,1\\}\\([a-z_][a-z0-9_.-]*\\):.*/\\1/p' /etc/rssh.conf 2>/dev/null)",
    // %h, %u and %% as sshd expands them (awk -v: values are data, never code).
    "sj_xp() { awk -v s=\"$1\" -v h=\"$2\" -v u=\"$3\" 'BEGIN{o=\"\";n=length(s);for(i=1;i<=n;i++){c=substr(s,i,1);d=substr(s,i+1,1);if(c==\"%\"&&d==\"h\"){o=o h;i++}else if(c==\"%\"&&d==\"u\"){o=o u;i++}else if(c==\"%\"&&d==\"%\"){o=o \"%\";i++}else o=o c}print o}'; }",
    "sj_b64() { printf '%s' \"$1\" | base64 -w0; }",
    // stat <base64 path> <uid>|<gid>|<mode>|<type>: the numbers and stat's own type words are the only plain text.
    "sj_stat() { for sj_q; do if sj_s=$(stat --printf '%u|%g|%a|%F' -- \"$sj_q\" 2>/dev/null); then printf 'stat\\t%s\\t%s\\n' \"$(sj_b64 \"$sj_q\")\" \"$sj_s\"; fi; done; }",
    "set -f",
    "while IFS=: read -r sj_u sj_x sj_uid sj_gid sj_gecos sj_home sj_shell; do",
    "  case \"$sj_uid\" in ''|*[!0-9]*) continue;; esac",
    "  sj_r=0; for sj_n in $sj_rssh; do [ \"$sj_n\" = \"$sj_u\" ] && sj_r=1; done",
    "  if [ $sj_r = 0 ] && { [ \"$sj_uid\" -lt \"$sj_min\" ] || [ \"$sj_uid\" -eq 65534 ]; }; then continue; fi",
    "  sj_t=$(sshd -T -C \"user=$sj_u,host=sftp-jail-migrate,addr=192.0.2.1\" < /dev/null 2>/dev/null)",
    "  sj_get() { printf '%s\\n' \"$sj_t\" | awk -v k=\"$1\" '$1==k{sub(/^[^ ]+ /,\"\");print;exit}'; }",
    "  sj_cdir=$(sj_get chrootdirectory)",
    "  if [ $sj_r = 0 ] && { [ -z \"$sj_cdir\" ] || [ \"$sj_cdir\" = none ]; }; then continue; fi",
    "  printf 'user\\t%s\\n' \"$(sj_b64 \"$sj_u\")\"",
    "  for sj_k in chrootdirectory forcecommand authorizedkeysfile; do printf 'sshd\\t%s\\t%s\\n' $sj_k \"$(sj_b64 \"$(sj_get $sj_k)\")\"; done",
    "  if [ -n \"$sj_cdir\" ] && [ \"$sj_cdir\" != none ]; then",
    "    sj_c=$(sj_xp \"$sj_cdir\" \"$sj_home\" \"$sj_u\"); printf 'chroot\\t%s\\n' \"$(sj_b64 \"$sj_c\")\"",
    "    sj_p=$sj_c; while :; do sj_stat \"$sj_p\"; [ \"$sj_p\" = / ] || [ -z \"$sj_p\" ] && break; sj_p=$(dirname -- \"$sj_p\"); done",
    // find passes each name as one argument (never a line); the inner sh frames it like sj_stat.
    "    [ -d \"$sj_c\" ] && [ ! -L \"$sj_c\" ] && find \"$sj_c\" -mindepth 1 -maxdepth 2 -type d ! -path '*/.*' -exec sh -c 'for q; do if s=$(stat --printf \"%u|%g|%a|%F\" -- \"$q\" 2>/dev/null); then printf \"stat\\t%s\\t%s\\n\" \"$(printf %s \"$q\" | base64 -w0)\" \"$s\"; fi; done' sj {} + 2>/dev/null",
    "  fi",
    "  for sj_f in $(sj_get authorizedkeysfile); do",
    "    [ \"$sj_f\" = none ] && continue",
    "    sj_f=$(sj_xp \"$sj_f\" \"$sj_home\" \"$sj_u\"); case \"$sj_f\" in /*) ;; *) sj_f=\"$sj_home/$sj_f\";; esac",
    "    if sj_kb=$(sj_read \"$sj_f\" 2>/dev/null); then printf 'keys\\t%s\\t%s\\t%s\\n' \"$(sj_b64 \"$sj_f\")\" \"$(sj_b64 \"$(stat -c %U -- \"$sj_f\")\")\" \"$sj_kb\"; else printf 'nokeys\\t%s\\n' \"$(sj_b64 \"$sj_f\")\"; fi",
    "  done",
    "done < /etc/passwd",
    "set +f",
  ].join("\n"),

  /** Parses the survey section (pure; tested on output captured from sandbox hosts). Every text field is base64. */
  parse(out: string): Survey {
    const at = out.indexOf(SURVEY_MARK);
    const users: SurveyUser[] = [];
    let rssh: RsshConf | null = null;
    let cur: SurveyUser | undefined;
    const text = (b64: string | undefined) => Buffer.from(b64 ?? "", "base64").toString("utf8");
    for (const line of (at < 0 ? "" : out.slice(at + SURVEY_MARK.length)).split("\n")) {
      const [kind, ...rest] = line.split("\t");
      if (kind === "rssh" && !cur) rssh = parseRsshConf(text(rest[0]));
      else if (kind === "user") users.push((cur = { name: text(rest[0]), sshd: {}, chroot: null, stats: {}, keyFiles: [] }));
      else if (!cur) continue;
      else if (kind === "sshd") {
        const v = text(rest[1]);
        if (rest[0] && v) cur.sshd[rest[0]] = v;
      } else if (kind === "chroot") cur.chroot = text(rest[0]) || null;
      else if (kind === "stat") {
        const p = text(rest[0]);
        const f = (rest[1] ?? "").split("|");
        if (f.length !== 4) continue;
        const t = f[3];
        cur.stats[p] = {
          path: p,
          exists: true,
          uid: Number(f[0]),
          gid: Number(f[1]),
          mode: parseInt(f[2], 8),
          type: t === "directory" ? "directory" : /regular/.test(t) ? "file" : t === "symbolic link" ? "symlink" : "other",
        };
      } else if (kind === "keys") cur.keyFiles.push({ path: text(rest[0]), owner: text(rest[1]), content: text(rest[2]) });
      else if (kind === "nokeys") cur.keyFiles.push({ path: text(rest[0]), content: null });
    }
    return { users, rssh };
  },
};
