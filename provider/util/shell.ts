/**
 * The one way a command reaches a host: argument lists joined through {@link quote}. Nothing in sftp-jail pastes an
 * input into a command string; values are validated by the resource's zod schema first and quoted here second.
 */

/** A safe token needs no quoting (keeps logs readable). */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument for POSIX sh. NUL cannot be passed through a shell at all, so it is refused. */
export function quoteArg(arg: string | number): string {
  const s = String(arg);
  if (s.includes("\0")) throw new Error("refusing to quote an argument containing NUL");
  if (s !== "" && SAFE.test(s)) return s;
  return "'" + s.replace(/'/g, `'"'"'`) + "'";
}

/** Joins an argument vector into one shell command line. */
export function quote(argv: ReadonlyArray<string | number>): string {
  return argv.map(quoteArg).join(" ");
}

/** A shell fragment built from already-quoted pieces; marks intent where operators (&&, ||, |) are needed. */
export type Script = string;

/** `a && b && c` from argument vectors. */
export function all(...cmds: ReadonlyArray<ReadonlyArray<string | number>>): Script {
  return cmds.map(quote).join(" && ");
}

/**
 * sshd's %h, %u and %% expansion as a shell command: expands `$SJ_S` with `$SJ_H` (home) and `$SJ_U` (user), e.g.
 * `SJ_S="$f" SJ_H="$home" SJ_U="$user" ${EXPAND_SSHD_TOKENS}`. Values read from the host (/etc/passwd, sshd -T) are
 * data here, never code: awk reads them from its environment (no sed replacement text, no `-v` escape processing).
 */
export const EXPAND_SSHD_TOKENS = `awk 'BEGIN{s=ENVIRON["SJ_S"];h=ENVIRON["SJ_H"];u=ENVIRON["SJ_U"];o="";n=length(s);for(i=1;i<=n;i++){c=substr(s,i,1);d=substr(s,i+1,1);if(c=="%"&&d=="h"){o=o h;i++}else if(c=="%"&&d=="u"){o=o u;i++}else if(c=="%"&&d=="%"){o=o "%";i++}else o=o c}print o}'`;
