/**
 * Facts about the operator: who sftp-jail logs in as (user, groups, home, shell, sudo, the key files sshd reads for its
 * own connection) and the groups the host's sudoers files name. The operator envelope (plan/envelope.ts) is judged
 * on them. Commands only read; see facts.ts.
 */
import type { Fact } from "./facts";
import { decodeFiles } from "./pathFacts";
import { EXPAND_SSHD_TOKENS } from "../util/shell";

/** Where the login user's SSH_CONNECTION is: this process's, or (dropped by sudo's env_reset) an ancestor's. */
export const FIND_SSH_CONNECTION = `sj_sc=\${SSH_CONNECTION:-}; sj_p=$PPID
while [ -z "$sj_sc" ] && [ "\${sj_p:-1}" -gt 1 ]; do sj_sc=$(tr '\\0' '\\n' < /proc/$sj_p/environ 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p'); sj_p=$(sed 's/.*) //' /proc/$sj_p/stat 2>/dev/null | cut -d' ' -f2); done`;

export const operator: Fact<"operator"> = {
  key: "operator",
  command: [
    'sj_runas=$(id -un)',
    'sj_u=${SUDO_USER:-$sj_runas}',
    'printf \'user\\t%s\\n\' "$sj_u"',
    'printf \'via\\t%s\\n\' "${SUDO_USER:+sudo}"',
    'printf \'runas\\t%s\\n\' "$sj_runas"',
    // getent: an operator from LDAP/sssd is not in /etc/passwd. Its first line, cut by the shell (no `head`).
    'sj_pw=$(getent passwd -- "$sj_u" 2>/dev/null); sj_pw=${sj_pw%%"$sj_nl"*}; [ -n "$sj_pw" ] || sj_pw=$(awk -F: -v u="$sj_u" \'$1==u{print; exit}\' /etc/passwd)',
    'printf \'passwd\\t%s\\n\' "$sj_pw"',
    'printf \'gids\\t%s\\n\' "$(id -G -- "$sj_u")"',
    '[ -n "${SUDO_USER:-}" ] && { printf \'sudol\\t\'; sudo -n -l -U "$sj_u" 2>/dev/null | base64 -w0; echo; }',
    FIND_SSH_CONNECTION,
    "set -- $sj_sc",
    'printf \'lport\\t%s\\n\' "${4:-}"',
    // The home: the sixth field, cut by the shell.
    'sj_h=${sj_pw#*:*:*:*:*:}; sj_h=${sj_h%%:*}',
    // %h, %u and %% as sshd expands them (values are data, never code); relative entries are under the home.
    'for sj_f in $(sshd -T -C "user=$sj_u,host=${1:-127.0.0.1},addr=${1:-127.0.0.1},laddr=${3:-127.0.0.1},lport=${4:-22}" 2>/dev/null | awk \'$1=="authorizedkeysfile"{for(i=2;i<=NF;i++)print $i}\'); do',
    '  [ "$sj_f" = none ] && continue',
    `  sj_f=$(SJ_S="$sj_f" SJ_H="$sj_h" SJ_U="$sj_u" ${EXPAND_SSHD_TOKENS})`,
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
      ...(/^\d{1,5}$/.test(rec.lport?.[0] ?? "") ? { lport: Number(rec.lport![0]) } : {}),
    };
  },
};

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

export const sudoers: Fact<"sudoers"> = {
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
    for (const f of decodeFiles(out)) seen.set(f.path, f.content);
    const groups = new Set<string>();
    const gids = new Set<number>();
    for (const content of seen.values()) {
      const r = parseSudoersGroups(content);
      r.groups.forEach((g) => groups.add(g));
      r.gids.forEach((g) => gids.add(g));
    }
    return { files: [...seen.keys()], groups: [...groups].sort(), gids: [...gids].sort((a, b) => a - b) };
  },
};
