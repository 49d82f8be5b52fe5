/**
 * Why the snapshot could not run as root: read-only probes, run as the login user itself, that tell a host broken by
 * hand (the operator's shell is nologin, sudo is missing, asks for a password it was not given, or refuses the user)
 * from a network or script failure, so every command names what it found instead of a generic "must have sudo".
 */
import { ExecResult, Session } from "../connection/pool";
import { secretsOf } from "../connection/schema";
import { OperatorAccessError, SftpJailError, redact } from "../util/errors";

const LOGIN_OK = "sj-login-ok";

/** The error for a snapshot exec that did not finish (`failed`), after probing the login the way it failed. */
export async function diagnoseAccess(s: Session, failed: ExecResult): Promise<SftpJailError> {
  const user = s.conn.user;
  const clean = (t: string) => redact(t.trim().replace(/\s+/g, " "), secretsOf(s.conn)).slice(0, 300);
  const where = { host: s.target };
  const generic = () =>
    new SftpJailError(
      where,
      `could not read host facts as root (exit ${failed.code}): ${clean(failed.stderr) || "no error output"}`,
      "run the command again; if it keeps failing, check the host's console (disk full, /tmp or /run not writable)",
    );
  let probe: ExecResult;
  try {
    probe = await s.execAsLogin(`echo ${LOGIN_OK}; command -v sudo >/dev/null 2>&1 && echo sj-sudo-present; true`);
  } catch {
    return generic();
  }
  if (!probe.stdout.includes(LOGIN_OK)) {
    let shell: string | undefined;
    try {
      const passwd = await s.readOverSftp("/etc/passwd");
      shell = passwd.split("\n").map((l) => l.split(":")).find((f) => f[0] === user)?.[6];
    } catch {
      shell = undefined; // no sftp subsystem that bypasses the shell: say what the shell printed
    }
    const said = clean(probe.stderr || probe.stdout);
    // "This account is currently not available." is what nologin prints (util-linux and shadow alike).
    const kind = shell ? `is ${shell}` : /currently not available/i.test(said) ? "is nologin" : "runs no commands";
    return new OperatorAccessError(
      where,
      `login as ${user} works, but ${user}'s shell ${kind}${said ? ` (it printed "${said}")` : ""}, so nothing can run on the host`,
      `from the host's console, give ${user} a login shell again (e.g. usermod --shell /bin/bash ${user}), or connect as another account that has one`,
    );
  }
  if (user === "root") return generic();
  if (!probe.stdout.includes("sj-sudo-present")) {
    return new OperatorAccessError(
      where,
      `login as ${user} works, but sudo is not installed on the host, so ${user} cannot become root`,
      `from the host's console, install sudo and allow ${user} (e.g. "${user} ALL=(ALL) NOPASSWD:ALL" in /etc/sudoers.d/${user}), or connect as root`,
    );
  }
  const password = typeof s.conn.sudo === "object" ? s.conn.sudo.password : undefined;
  let t: ExecResult;
  try {
    t = password ? await s.execAsLogin("sudo -S -p '' -- true", password + "\n") : await s.execAsLogin("sudo -n -- true");
  } catch {
    return generic();
  }
  const said = clean(t.stderr);
  if (t.code === 0) return generic();
  if (/not in the sudoers|not allowed to (run|execute)|may not run sudo/i.test(said)) {
    return new OperatorAccessError(
      where,
      `login as ${user} works, but ${user} may not use sudo (sudo said "${said}")`,
      `from the host's console, allow ${user} in /etc/sudoers.d (e.g. "${user} ALL=(ALL) NOPASSWD:ALL"), or connect as root`,
    );
  }
  if (!password && /password is required|no password was provided|terminal is required|askpass/i.test(said)) {
    return new OperatorAccessError(
      where,
      `login as ${user} works but sudo asks for a password it was not given (sudo said "${said}")`,
      `give ${user} NOPASSWD in /etc/sudoers.d, or set connection.sudo = { password: ... } (as a secret)`,
    );
  }
  if (password && /incorrect password|try again|authentication failure/i.test(said)) {
    return new OperatorAccessError(
      where,
      `login as ${user} works but sudo refused the password in connection.sudo.password (sudo said "${said}")`,
      `set connection.sudo.password to ${user}'s current password (as a secret), or give ${user} NOPASSWD in /etc/sudoers.d`,
    );
  }
  return new OperatorAccessError(
    where,
    `login as ${user} works, but sudo fails for it (exit ${t.code}: "${said || "no error output"}")`,
    `from the host's console, make "sudo -n true" (or sudo with the configured password) work for ${user}, or connect as root`,
  );
}
