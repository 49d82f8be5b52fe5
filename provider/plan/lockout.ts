/**
 * The host-side lockout check of an sshd change: after the new configuration is in place and before sshd reloads, it
 * asks sshd itself (`sshd -t`, then `sshd -T -C` for this very session) whether the operator could still log in and
 * run commands, and reverts with the cause if not. Shell, run under the host lock in the same exec as the change;
 * test/unit/lockout.test.ts runs it with a stand-in `sshd` and `id`, test/e2e/lockout.test.ts against real sshd.
 */
import { quoteArg } from "../util/shell";
import { FIND_SSH_CONNECTION } from "../observe/operatorFacts";

/** Who runs sftp-jail: the change must leave them able to log in and run commands. */
export interface Operator {
  user: string;
  /** Methods the operator's connection can use. */
  auth: ReadonlyArray<"publickey" | "password">;
}

/**
 * `sshd -t` on the whole configuration, then `sshd -T -C` for the operator's own connection (user, and the address
 * and port from SSH_CONNECTION of this session — found in a parent process when sudo dropped it). Anything that would
 * stop the operator from logging in and running commands runs `revert` and fails with the cause.
 */
export function verifyScript(op: Operator, revert: string, extra = ""): string {
  const pub = op.auth.includes("publickey");
  const pw = op.auth.includes("password");
  const lines = [
    `sj_revert() {\n${revert}\n}`,
    `sj_fail() { sj_revert; printf '%s The configuration was restored and sshd was not reloaded.\\n' "$1" >&2; exit 1; }`,
    `if ! sj_out=$(sshd -t 2>&1); then sj_fail "sshd -t refused the configuration with this change: $sj_out."; fi`,
    FIND_SSH_CONNECTION,
    `set -- $sj_sc`,
    `[ $# -ge 4 ] || sj_fail "could not find this session's SSH_CONNECTION to check the operator's access."`,
    `sj_ctx=user=${quoteArg(op.user)}",host=$1,addr=$1,laddr=$3,lport=$4"`,
    `if ! sj_eff=$(sshd -T -C "$sj_ctx" 2>&1); then sj_fail "sshd -T -C $sj_ctx failed: $sj_eff."; fi`,
    `sj_get() { printf '%s\\n' "$sj_eff" | awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print; exit }'; }`,
    `sj_deny() { sj_fail "this change would lock the operator out: $1 for ${op.user} (sshd -T -C $sj_ctx)."; }`,
    `sj_v=$(sj_get forcecommand); case "$sj_v" in ''|none) ;; *) sj_deny "ForceCommand $sj_v would apply";; esac`,
    // Access lists, evaluated with sshd's pattern rules (* and ? are shell glob characters too; set -f stops
    // pathname expansion; "user@host" patterns are judged on their user part only, which errs towards refusing).
    `sj_all() { printf '%s\\n' "$sj_eff" | awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print }'; }`,
    `sj_in() { sj_hit=0; for sj_p in $2; do sj_n=\${sj_p#!}; sj_n=\${sj_n%%@*}; case "$1" in $sj_n) if [ "$sj_p" != "\${sj_p#!}" ]; then return 1; fi; sj_hit=1;; esac; done; [ $sj_hit = 1 ]; }`,
    `set -f; sj_u=${quoteArg(op.user)}; sj_groups=$(id -Gn "$sj_u" 2>/dev/null)`,
    `sj_v=$(sj_all denyusers); if [ -n "$sj_v" ] && sj_in "$sj_u" "$sj_v"; then sj_deny "DenyUsers $sj_v would apply"; fi`,
    `sj_v=$(sj_all allowusers); if [ -n "$sj_v" ] && ! sj_in "$sj_u" "$sj_v"; then sj_deny "AllowUsers $sj_v would not include it"; fi`,
    `sj_v=$(sj_all denygroups); if [ -n "$sj_v" ]; then for sj_g in $sj_groups; do if sj_in "$sj_g" "$sj_v"; then sj_deny "DenyGroups $sj_v would apply (group $sj_g)"; fi; done; fi`,
    `sj_v=$(sj_all allowgroups); if [ -n "$sj_v" ]; then sj_ok=0; for sj_g in $sj_groups; do if sj_in "$sj_g" "$sj_v"; then sj_ok=1; fi; done; [ $sj_ok = 1 ] || sj_deny "AllowGroups $sj_v would not include any of its groups ($sj_groups)"; fi`,
    `set +f`,
    `sj_v=$(sj_get chrootdirectory); case "$sj_v" in ''|none) ;; *) sj_deny "ChrootDirectory $sj_v would apply";; esac`,
    `sj_v=$(sj_get maxsessions); [ "$sj_v" != 0 ] || sj_deny "MaxSessions 0 would apply"`,
    `sj_pub=$(sj_get pubkeyauthentication); sj_pw=$(sj_get passwordauthentication); sj_kb=$(sj_get kbdinteractiveauthentication)`,
    `sj_ok=0; ${pub ? `[ "$sj_pub" = yes ] && sj_ok=1; ` : ""}${pw ? `{ [ "$sj_pw" = yes ] || [ "$sj_kb" = yes ]; } && sj_ok=1; ` : ""}true`,
    `[ $sj_ok = 1 ] || sj_deny "${pub ? "PubkeyAuthentication $sj_pub" : ""}${pub && pw ? ", " : ""}${pw ? "PasswordAuthentication $sj_pw, KbdInteractiveAuthentication $sj_kb" : ""} would disable the way sftp-jail logs in"`,
    `sj_v=$(sj_get authenticationmethods); case "$sj_v" in ''|any) ;; *) printf '%s\\n' $sj_v | grep -qxE '${op.auth.map((a) => (a === "password" ? "password|keyboard-interactive" : a)).join("|")}' || sj_deny "AuthenticationMethods $sj_v would apply";; esac`,
  ];
  if (op.user === "root") {
    lines.push(
      `sj_v=$(sj_get permitrootlogin); case "$sj_v" in no|forced-commands-only) sj_deny "PermitRootLogin $sj_v would apply";; without-password|prohibit-password) ${pub ? ":" : `sj_deny "PermitRootLogin $sj_v would refuse password logins"`};; esac`,
    );
  }
  if (extra) lines.push(extra);
  return lines.join("\n");
}
