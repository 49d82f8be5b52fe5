/**
 * The jail evaluation fact: `sshd -T -C` per jailed account and client context, in the snapshot's exec (judged by
 * plan/jail.ts). Commands only read; see facts.ts.
 */
import type { Fact } from "./facts";

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
 * One `sshd -T -C` per (account, client) context of an existing account, in one shell loop; only the jail's keywords
 * are printed, so a section stays small. Specs are quoted by the caller.
 */
export function jailFact(quotedSpecs: string[], more?: string): Fact<"jail"> {
  // One grep over the whole loop's output keeps the loop's own lines (`eval` and `error`, tab-separated: no sshd
  // keyword is either) and the jail's keywords, in order. A `read` loop per evaluation (the shell reads a pipe a byte
  // at a time) cost ~5 ms per account on the host, as much as the `sshd -T` itself.
  const picks = `^(eval|error)\t|^(${JAIL_KEYWORDS.join("|")}) `;
  return {
    key: "jail",
    // `more`: a command printing further specs, one a line (the host's manifest).
    command: quotedSpecs.length || more
      ? [
          // Only accounts /etc/passwd lists (the users fact): one that does not exist yet is judged once it does
          // (plan/jail.ts jailViolations), and an `sshd -T` (~10 ms) for it would be thrown away. Read by the shell.
          `sj_pwn=" "; { while IFS=: read -r sj_u sj_r; do sj_pwn="$sj_pwn$sj_u "; done < /etc/passwd; } 2>/dev/null`,
          `{ ${quotedSpecs.length ? `printf '%s\\n' ${quotedSpecs.join(" ")}; ` : ""}${more ?? ":"}; } | sort -u | while IFS= read -r sj_c; do`,
          `  sj_u=\${sj_c#user=}; case "$sj_pwn" in *" \${sj_u%%,*} "*) ;; *) continue ;; esac`,
          `  printf 'eval\\t%s\\n' "$sj_c"`,
          `  if sj_t=$(sshd -T -C "$sj_c" < /dev/null 2>&1); then printf '%s\\n' "$sj_t"; else printf 'error\\t%s\\n' "$(printf '%s' "$sj_t" | tr '\\n' ' ')"; fi`,
          `done | grep -E '${picks}'`,
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
