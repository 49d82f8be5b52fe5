/**
 * Errors that name where (host, resource), what was found, and what to do. Pulumi prints the message as is, so it
 * must stand on its own.
 */
export class SftpJailError extends Error {
  constructor(
    readonly where: { host?: string; resource?: string },
    readonly what: string,
    readonly fix?: string,
  ) {
    super(SftpJailError.format(where, what, fix));
    this.name = "SftpJailError";
  }

  static format(where: { host?: string; resource?: string }, what: string, fix?: string): string {
    const at = [where.resource, where.host && `on ${where.host}`].filter(Boolean).join(" ");
    return `${at ? at + ": " : ""}${what}${fix ? `\n  fix: ${fix}` : ""}`;
  }
}

/**
 * Removes secrets from text before it can reach a log or an error message: each whole, and each line of a multi-line
 * one (a private key's lines, one of which a tool may echo) of 16 characters or more.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  // Longest first: a secret that contains another is still found whole.
  for (const s of [...secrets].sort((a, b) => (b?.length ?? 0) - (a?.length ?? 0))) {
    if (!s) continue;
    const lines = s.includes("\n") ? s.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length >= 16) : [];
    for (const part of [s, ...lines]) if (part.length >= 4) out = out.split(part).join("[secret]");
  }
  return out;
}

/**
 * The operator's own access is broken on the host (its shell runs no commands, sudo is missing or refuses): nothing
 * sftp-jail does can work until someone repairs it from a console. Preview reports it as a failure of `connection`.
 */
export class OperatorAccessError extends SftpJailError {}
