/**
 * The jail, judged by OpenSSH: what `sshd -T -C` must resolve for a jailed account, and what it resolved instead.
 * Pure: the evaluations come from the snapshot's `jail` fact (observe/facts.ts); the shell fragments here run on the
 * host inside an apply (the SshdMatchBlock change check) or as a read-only probe (which file set a value first).
 *
 * In OpenSSH every matching Match block applies and, for these keywords, the first value obtained wins: an admin's
 * drop-in that sorts before ours, a block matching only some client addresses, or a lower-order block of our own can
 * quietly undo a jail whose files are all byte-identical. Only sshd's own evaluation shows it.
 */
import { HostFacts, JAIL_NO_KEYWORDS, JailContext, JailEval, NEUTRAL_ADDR, jailSpec as spec } from "../observe/facts";
import { DROPIN_DIR, MAIN_CONFIG, parseBlock, parseBlockPath } from "./sshdRender";
import { EXPAND_SSHD_TOKENS, quoteArg } from "../util/shell";
import { FIND_SSH_CONNECTION } from "../observe/operatorFacts";
import { UID_MIN_SCRIPT } from "../schema/common";

/** A client the program says the jail is reached from (JailedUser.reachedFrom). */
export interface ReachedFrom {
  address: string;
  localAddress?: string;
  localPort?: number;
}

/** One jailed account as the program declares it. */
export interface JailSubject {
  name: string;
  /** The chroot: the account's home. */
  home: string;
  /** The one key file sshd must read for it (root-owned, outside the jail; or an adopted one). */
  keyFile: string;
  /**
   * True when keyFile is a hand-made jail's own file, adopted read-only (JailedUser.authorizedKeysFile): sshd must read
   * it, beside whatever else the admin's configuration lists. Otherwise it must be the only file sshd reads.
   */
  keysAdopted?: boolean;
  reachedFrom: ReachedFrom[];
  /** {@link MUST_BE_NO} keywords (sshd_config spelling) the program deliberately leaves to sshd's other settings. */
  optOut: string[];
}

/**
 * Keywords that must resolve to "no" for every jailed account: every forwarding, a tty, gateway ports, ~/.ssh/rc.
 * A program may opt out of one explicitly (JailedUser.jailOptOut; SftpJailHost derives it from sshdDirectives set to
 * null or to another value), e.g. to adopt a hand-made block that does not set it.
 */
export const MUST_BE_NO = JAIL_NO_KEYWORDS;

/** The sshd_config spelling of the keywords a program may opt out of. */
export const JAIL_OPT_OUT = [
  "AllowTcpForwarding",
  "AllowStreamLocalForwarding",
  "AllowAgentForwarding",
  "X11Forwarding",
  "PermitTunnel",
  "PermitTTY",
  "GatewayPorts",
  "PermitUserRC",
] as const;

/** Every evaluation a jailed account gets: the neutral client, then each client the program names. */
export function jailContexts(s: Pick<JailSubject, "name" | "reachedFrom">): JailContext[] {
  return [
    { user: s.name, addr: NEUTRAL_ADDR },
    ...s.reachedFrom.map((r) => ({ user: s.name, addr: r.address, ...(r.localAddress ? { laddr: r.localAddress } : {}), ...(r.localPort ? { lport: r.localPort } : {}) })),
  ];
}

/** The jail as it must evaluate: keyword → value (what `jail` of a JailedUser is in the program). */
export function expectedJail(s: Pick<JailSubject, "home" | "keyFile" | "optOut">): Record<string, string> {
  const out: Record<string, string> = { chrootdirectory: s.home, forcecommand: "internal-sftp", authorizedkeysfile: s.keyFile };
  const skip = new Set(s.optOut.map((k) => k.toLowerCase()));
  for (const k of MUST_BE_NO) if (!skip.has(k)) out[k] = "no";
  return out;
}

/** sshd's %h, %u and %% tokens, expanded for one account. */
export function expandTokens(v: string, home: string, user: string): string {
  return v.replace(/%([hu%])/g, (_, t: string) => (t === "h" ? home : t === "u" ? user : "%"));
}

const trimSlash = (p: string) => (p.length > 1 ? p.replace(/\/+$/, "") : p);

/** True when sshd's value for `keyword` keeps `s` jailed. */
export function satisfies(keyword: string, value: string, s: Pick<JailSubject, "name" | "home" | "keyFile" | "keysAdopted">): boolean {
  switch (keyword) {
    case "chrootdirectory":
      return value !== "none" && trimSlash(expandTokens(value, s.home, s.name)) === trimSlash(s.home);
    case "forcecommand":
      return value.split(" ")[0] === "internal-sftp";
    case "authorizedkeysfile": {
      const files = value.split(/\s+/).filter(Boolean).map((p) => expandTokens(p, s.home, s.name)).map((p) => (p.startsWith("/") ? p : `${s.home}/${p}`));
      return s.keysAdopted ? files.includes(s.keyFile) : files.length > 0 && files.every((p) => p === s.keyFile);
    }
    default:
      return value === "no";
  }
}

/** One way a jailed account is not jailed: the keyword, what sshd resolved, what the jail needs, for which client. */
export interface Violation {
  keyword: string;
  value: string;
  expected: string;
  context: JailContext;
}

/**
 * What is wrong with `s`'s jail on this host, from the snapshot's evaluations: [] when it is in effect for every
 * client, undefined when the snapshot did not evaluate the account (it does not exist).
 */
export function jailViolations(s: JailSubject, facts: HostFacts): Violation[] | undefined {
  if (!facts.users.some((u) => u.name === s.name)) return undefined;
  const want = expectedJail(s);
  const out: Violation[] = [];
  let seen = 0;
  for (const ctx of jailContexts(s)) {
    const e: JailEval | undefined = (facts.jail ?? []).find(
      (x) => x.user === ctx.user && x.addr === ctx.addr && x.laddr === ctx.laddr && x.lport === ctx.lport,
    );
    if (!e) continue;
    seen++;
    if (!e.ok) {
      out.push({ keyword: "sshd -T -C", value: e.error || "failed", expected: "an evaluation", context: ctx });
      continue;
    }
    for (const [k, expected] of Object.entries(want)) {
      const value = e.values[k];
      // A keyword this OpenSSH does not print cannot be judged (all of them exist since 8.2).
      if (value === undefined) continue;
      if (!satisfies(k, value, s)) out.push({ keyword: k, value, expected, context: ctx });
    }
  }
  return seen ? out : undefined;
}

const ctxLabel = (c: JailContext) => (c.addr === NEUTRAL_ADDR && !c.laddr && !c.lport ? "" : ` (client ${c.addr}${c.laddr ? ` to ${c.laddr}` : ""}${c.lport ? ` port ${c.lport}` : ""})`);

/**
 * The jail as sshd evaluates it, in the shape of {@link expectedJail}: each keyword keeps its expected value while it is
 * in effect and shows sshd's value (and the client it applies to) when not, so a refresh shows exactly the keyword that
 * broke. Keywords the program opted out of are not in it.
 */
export function observedJail(s: JailSubject, facts: HostFacts): Record<string, string> | undefined {
  const v = jailViolations(s, facts);
  if (!v) return undefined;
  const out = expectedJail(s);
  const done = new Set<string>();
  for (const x of v) {
    if (done.has(x.keyword)) continue;
    done.add(x.keyword);
    out[x.keyword] = `${x.value}${ctxLabel(x.context)}`;
  }
  return out;
}

/** The sshd_config spelling of a keyword, for messages. */
const SPELLING: Record<string, string> = {
  chrootdirectory: "ChrootDirectory",
  forcecommand: "ForceCommand",
  authorizedkeysfile: "AuthorizedKeysFile",
  allowtcpforwarding: "AllowTcpForwarding",
  allowstreamlocalforwarding: "AllowStreamLocalForwarding",
  allowagentforwarding: "AllowAgentForwarding",
  x11forwarding: "X11Forwarding",
  permittunnel: "PermitTunnel",
  permittty: "PermitTTY",
  gatewayports: "GatewayPorts",
  permituserrc: "PermitUserRC",
};
export const spell = (k: string) => SPELLING[k] ?? k;

/**
 * Which file set `keyword` first for one evaluation, with OpenSSH as the judge: the configuration is copied to a
 * temporary directory (the main file's Include pointed at the copy of sshd_config.d); the first drop-in (read order)
 * whose absence changes sshd's value is the one; when none does (several set it alike), the drop-ins are put back one
 * by one from none, and the first that changes the value is. Prints that file's real path, else
 * the main file when it sets the keyword, else "default" (sshd's built-in default). Read-only for /etc/ssh.
 */
export function culpritScript(c: JailContext, keyword: string): string {
  const d = quoteArg(DROPIN_DIR);
  return [
    "sj_d=$(mktemp -d) || exit 1",
    `trap 'rm -rf "$sj_d"' EXIT`,
    `mkdir "$sj_d/d" "$sj_d/all" && for f in ${d}/*.conf; do [ -f "$f" ] && cp -p "$f" "$sj_d/all/"; done`,
    // Absolute and relative (to /etc/ssh) Include paths of the drop-in directory both point at the copy.
    `sed -e "s#${DROPIN_DIR}/#$sj_d/d/#g" -e "s#^\\([[:space:]]*[Ii][Nn][Cc][Ll][Uu][Dd][Ee][[:space:]=]\\{1,\\}\\)sshd_config.d/#\\1$sj_d/d/#" ${quoteArg(MAIN_CONFIG)} > "$sj_d/main"`,
    `sj_v() { sshd -T -C ${quoteArg(spec(c))} -f "$sj_d/main" < /dev/null 2>/dev/null | awk -v k=${quoteArg(keyword)} '$1 == k { sub(/^[^ ]+ /, ""); print; exit }'; }`,
    // 1. All drop-ins but one, each in read order: the first whose absence changes the value set it (even to a value
    //    that equals sshd's default, when a later block would set another).
    `for f in "$sj_d"/all/*.conf; do [ -f "$f" ] && cp -p "$f" "$sj_d/d/"; done`,
    "sj_all=$(sj_v)",
    `for f in "$sj_d"/d/*.conf; do [ -f "$f" ] || continue; n=\${f##*/}; mv "$f" "$sj_d/out"; sj_x=$(sj_v); mv "$sj_d/out" "$f"; if [ "$sj_x" != "$sj_all" ]; then echo "culprit ${DROPIN_DIR}/$n"; exit 0; fi; done`,
    // 2. Several files set it alike: drop-ins come back one by one in read order; the first value wins, so the value
    //    changes at the first file that sets it for this connection.
    `rm -f "$sj_d"/d/*.conf; sj_prev=$(sj_v)`,
    `for f in "$sj_d"/all/*.conf; do [ -f "$f" ] || continue; n=\${f##*/}; mv "$f" "$sj_d/d/"; sj_x=$(sj_v); if [ "$sj_x" != "$sj_prev" ]; then echo "culprit ${DROPIN_DIR}/$n"; exit 0; fi; done`,
    // No drop-in: the main file when it names the keyword, else sshd's built-in default.
    `if grep -qiE ${quoteArg(`^[[:space:]]*${keyword}([[:space:]]|=)`)} ${quoteArg(MAIN_CONFIG)}; then echo "culprit ${MAIN_CONFIG}"; else echo "culprit default"; fi`,
  ].join("\n");
}

/** The file {@link culpritScript} printed. */
export function parseCulprit(out: string): string | undefined {
  return /^culprit (\S.*)$/m.exec(out)?.[1];
}

/** True when a file is one sftp-jail writes (a block drop-in), so `up` may fix it; else it is the admin's. */
export const isOurs = (file: string) => parseBlockPath(file) !== undefined;

/** The message for a jailed account that is not jailed: the user, the keyword, sshd's value, the file. */
export function describeViolation(user: string, v: Violation, file?: string): string {
  if (v.keyword === "sshd -T -C") return `${user}'s jail cannot be judged: sshd -T -C ${spec(v.context)} failed (${v.value})`;
  const where = file === "default" ? ", sshd's built-in default (no configuration file sets it)" : file ? `, most likely set first by ${file}` : "";
  return `${user} is not jailed: sshd resolves ${spell(v.keyword)} ${v.value || "(nothing)"}${ctxLabel(v.context)} where the jail needs ${v.keyword === "forcecommand" ? "internal-sftp" : v.expected}${where} (sshd -T -C ${spec(v.context)})`;
}

/** The fix for a violation, by who owns the file that set it. */
export function violationFix(user: string, v: Violation, file?: string): string {
  if (v.keyword === "sshd -T -C") return "run the sshd -T -C command above on the host and fix what it reports, then run pulumi up again";
  if (v.keyword === "chrootdirectory" && v.value === "none" && (!file || file === MAIN_CONFIG || file === "default")) {
    return `no Match block jails ${user}: create its SshdMatchBlock first (dependsOn: the block), e.g. Match Group <its group> with ChrootDirectory %h and ForceCommand internal-sftp (SftpJailHost does this)`;
  }
  if (file === "default") {
    return `set ${spell(v.keyword)} ${v.keyword === "forcecommand" ? "internal-sftp" : "no"} in the SshdMatchBlock that jails ${user} (SftpJailHost does by default), or opt out explicitly with jailOptOut: ["${spell(v.keyword)}"] (SftpJailHost: sshdDirectives { ${spell(v.keyword)}: null })`;
  }
  if (file && isOurs(file)) {
    return `${file} is an sftp-jail block: fix the directives of that SshdMatchBlock (or give it a higher order than the jail's block), then run pulumi up again`;
  }
  return `${file ?? "the sshd configuration"} is not sftp-jail's, so sftp-jail does not edit it: remove or narrow that ${spell(v.keyword)} line there (it applies before the jail's block), then run pulumi up again`;
}

// ---- The check a change of sshd's configuration runs before it reloads -----------------------------------------------

const SHELL_KEYS = [...Object.keys(expectedJail({ home: "/", keyFile: "/", optOut: [] }))].join(" ");
/** Keeps only the jail's keywords of `sshd -T` output as `k=v<TAB>` pairs on one line. */
const EVAL = String.raw`sj_jeval() { sshd -T -C "user=$1,host=${NEUTRAL_ADDR},addr=${NEUTRAL_ADDR}" < /dev/null 2>/dev/null | awk -v ks=" ${SHELL_KEYS} " 'index(ks, " " $1 " ") { k = $1; sub(/^[^ ]+ /, ""); printf "%s=%s\t", k, $0 }'; }`;

/**
 * The accounts a change of sshd's configuration can affect. A Match block applies to an account only when its User
 * and Group criteria hold for it, so a change that only adds, removes or rewrites blocks whose every Match names
 * users and groups literally can change the evaluation of those users and of those groups' members, and of nobody
 * else. Anything else (a directive outside Match, `Match all`, a Match by address or port only, a wildcard or a
 * negation) can affect every account: "all".
 */
export type JailScope = "all" | { users: string[]; groups: string[] };

/** The {@link JailScope} of a change: each pair is one file's (or region block's) text before and after. */
export function jailScopeOf(texts: Array<string | undefined>): JailScope {
  const users = new Set<string>();
  const groups = new Set<string>();
  const literal = (v: string) => v !== "" && !/[*?!]/.test(v);
  for (const text of texts) {
    if (text === undefined) continue;
    let inMatch = false;
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
      const keyword = (m ? m[1] : line).toLowerCase();
      if (keyword !== "match") {
        // A directive before any Match applies to every connection.
        if (!inMatch) return "all";
        continue;
      }
      inMatch = true;
      const toks = (m ? m[2] : "").trim().split(/\s+/).filter(Boolean);
      const named: { user?: string[]; group?: string[] } = {};
      for (let i = 0; i < toks.length; i++) {
        const k = toks[i].toLowerCase();
        if (k === "all") return "all";
        const v = (toks[++i] ?? "").replace(/^"|"$/g, "").split(",");
        if (k === "user" || k === "group") {
          if (!v.every(literal)) return "all";
          named[k] = v;
        }
      }
      if (!named.user && !named.group) return "all";
      // Both given: OpenSSH ANDs them; the union is a safe superset.
      for (const u of named.user ?? []) users.add(u);
      for (const g of named.group ?? []) groups.add(g);
    }
  }
  return { users: [...users].sort(), groups: [...groups].sort() };
}

/**
 * Keywords that decide who may log in to an account and what its sessions may do. An sshd change sftp-jail makes may
 * change them only for the accounts it jails: for every other account (root, the operator, a service account, an
 * admin) each must resolve as before, or the change is reverted before sshd reloads ({@link jailAfterScript}). Else a
 * block could, say, make sshd read a partner's key file for root (`Match User root` + `AuthorizedKeysFile`), open
 * forwarding or passwords for everyone, or take the operator's TTY away, all of which pass `sshd -t` and a fresh login.
 */
export const ACCESS_KEYS = [
  ...new Set([
    ...SHELL_KEYS.split(" "),
    "authorizedkeysfile", "authorizedkeyscommand", "authorizedkeyscommanduser", "authorizedprincipalsfile",
    "authorizedprincipalscommand", "authorizedprincipalscommanduser", "trustedusercakeys", "revokedkeys",
    "pubkeyauthentication", "passwordauthentication", "kbdinteractiveauthentication", "permitemptypasswords",
    "hostbasedauthentication", "gssapiauthentication", "kerberosauthentication", "authenticationmethods", "permitrootlogin",
    "allowusers", "denyusers", "allowgroups", "denygroups", "disableforwarding", "permitopen", "permitlisten",
    "maxsessions", "setenv", "acceptenv", "ignorerhosts",
  ]),
];

/**
 * The clients an outside account is evaluated for, besides the neutral one and the operator's own session: one per
 * Match line of the changed texts that names addresses, a local address or port (its first address that is not a
 * negation; a CIDR as its network address, which it contains). So `Match User root Address 203.0.113.5` is judged
 * for a client at 203.0.113.5, where it applies.
 */
export function matchContexts(texts: Array<string | undefined>): string[] {
  const out = new Set<string>();
  for (const text of texts) {
    for (const m of (text ?? "").matchAll(/^\s*match\s+(.*)$/gim)) {
      const toks = m[1].trim().split(/\s+/);
      const crit: Record<string, string> = {};
      for (let i = 0; i + 1 < toks.length; i += 2) {
        const first = toks[i + 1].replace(/^"|"$/g, "").split(",").find((v) => v && !v.startsWith("!"));
        if (first) crit[toks[i].toLowerCase()] = first.replace(/\/\d+$/, "").replace(/[*?]/g, "1");
      }
      const addr = crit.address && /^[0-9a-fA-F.:]+$/.test(crit.address) ? crit.address : undefined;
      const laddr = crit.localaddress && /^[0-9a-fA-F.:]+$/.test(crit.localaddress) ? crit.localaddress : undefined;
      const lport = crit.localport && /^\d{1,5}$/.test(crit.localport) ? crit.localport : undefined;
      if (!addr && !laddr && !lport) continue;
      const a = addr ?? NEUTRAL_ADDR;
      out.add(`host=${a},addr=${a}${laddr ? `,laddr=${laddr}` : ""}${lport ? `,lport=${lport}` : ""}`);
    }
  }
  return [...out].slice(0, 4);
}

/**
 * An account's {@link ACCESS_KEYS} as sshd resolves them, for the neutral client, each of `contexts` and the
 * operator's own session (`$sj_opctx`): `@<context>` then `keyword=value` entries, tab-separated, on one line.
 */
const aevalScript = (contexts: string[]) =>
  `sj_aeval() { for sj_c in "host=${NEUTRAL_ADDR},addr=${NEUTRAL_ADDR}" ${contexts.map(quoteArg).join(" ")} \${sj_opctx:+"$sj_opctx"}; do printf '@%s\t' "$sj_c"; sshd -T -C "user=$1,$sj_c" < /dev/null 2>/dev/null | awk -v ks=" ${ACCESS_KEYS.join(" ")} " 'index(ks, " " $1 " ") { k = $1; sub(/^[^ ]+ /, ""); printf "%s=%s\t", k, $0 }'; done; }`;

/**
 * Before a change (same exec, under the lock), for every account the change can affect ({@link JailScope}; group
 * membership as NSS reports it, as sshd's own Match Group does): those sshd jails now (uid >= UID_MIN and not nobody,
 * its ChrootDirectory not none for a neutral client), with the jail's keywords, in `$sj_jailed`; every other one
 * (root and system accounts included), with its {@link ACCESS_KEYS} for each client of `contexts` (see
 * {@link matchContexts}), the neutral one and the operator's session, in `$sj_outside`.
 */
export function jailBeforeScript(scope: JailScope = "all", contexts: string[] = []): string {
  // Case patterns built from quoted literals: the names match as text, whatever they hold.
  const alt = (names: string[], wrap: (n: string) => string) => names.map((n) => wrap(quoteArg(n))).join("|");
  const groupCheck = (scope: Exclude<JailScope, "all">) =>
    scope.groups.length
      ? [`    sj_gs=" $(id -Gn -- "$sj_u" 2>/dev/null) "`, `    case "$sj_gs" in ${alt(scope.groups, (g) => `*" "${g}" "*`)}) ;; *) continue;; esac;;`]
      : ["    continue;;"];
  const inScope =
    scope === "all"
      ? []
      : scope.users.length
        ? [`  case "$sj_u" in ${alt(scope.users, (u) => u)}) ;; *)`, ...groupCheck(scope), "  esac"]
        : [`  case "$sj_u" in *)`, ...groupCheck(scope), "  esac"];
  return [
    EVAL,
    aevalScript(contexts),
    UID_MIN_SCRIPT,
    // The operator's own client (SSH_CONNECTION of this session), in a subshell: the positional parameters stay.
    `sj_opctx=$(${FIND_SSH_CONNECTION}\nset -f; set -- $sj_sc; [ $# -ge 4 ] && printf 'host=%s,addr=%s,laddr=%s,lport=%s' "$1" "$1" "$3" "$4")`,
    "sj_before=$(while IFS=: read -r sj_u sj_x sj_uid sj_gid sj_g sj_h sj_s; do",
    "  case \"$sj_uid\" in ''|*[!0-9]*) continue;; esac",
    ...inScope,
    "  if [ \"$sj_uid\" -ge \"$sj_min\" ] && [ \"$sj_uid\" -ne 65534 ]; then",
    "    sj_e=$(sj_jeval \"$sj_u\")",
    "    case \"$sj_e\" in ''|*chrootdirectory=none*) ;; *) printf 'J\\t%s\\t%s\\t%s\\n' \"$sj_u\" \"$sj_h\" \"$sj_e\"; continue;; esac",
    "  fi",
    "  printf 'O\\t%s\\t%s\\t%s\\t%s\\n' \"$sj_u\" \"$sj_h\" \"$sj_uid\" \"$(sj_aeval \"$sj_u\")\"",
    "done < /etc/passwd)",
    "sj_jailed=$(printf '%s\\n' \"$sj_before\" | sed -n 's/^J\\t//p')",
    "sj_outside=$(printf '%s\\n' \"$sj_before\" | sed -n 's/^O\\t//p')",
  ].join("\n");
}

/**
 * After the change, before the reload (inside the verify step, where `sj_fail` reverts): every account that was jailed
 * must still be — each keyword as it was, or at the jail's value (its home as chroot, internal-sftp, "no"); key files
 * as they were, or all outside the chroot (moving keys out of a hand-made jail tightens it). `files` names what this
 * change wrote, the likely cause. `core` judges only ChrootDirectory and ForceCommand: for handing an adopted block
 * back to the admin as it was (destroy), which may be looser than sftp-jail's but must still jail.
 */
export function jailAfterScript(files: string[], scope: "all" | "core" = "all"): string {
  return [
    EVAL,
    `sj_jfiles=${quoteArg(files.join(", "))}`,
    String.raw`sj_jv() { printf '%s' "$1" | tr '\t' '\n' | sed -n "s/^$2=//p"; }`,
    `sj_jx() { SJ_S="$1" SJ_H="$2" SJ_U="$3" ${EXPAND_SSHD_TOKENS}; }`,
    `while IFS='\t' read -r sj_ju sj_jh sj_jb; do`,
    `  [ -n "$sj_ju" ] || continue`,
    `  sj_ja=$(sj_jeval "$sj_ju")`,
    `  for sj_k in ${scope === "core" ? "chrootdirectory forcecommand" : SHELL_KEYS}; do`,
    `    sj_b=$(sj_jv "$sj_jb" $sj_k); sj_a=$(sj_jv "$sj_ja" $sj_k)`,
    `    [ "$sj_a" = "$sj_b" ] && continue`,
    `    case $sj_k in`,
    `      chrootdirectory) [ "$sj_a" != none ] && [ "$(sj_jx "$sj_a" "$sj_jh" "$sj_ju")" = "$sj_jh" ] && continue;;`,
    `      forcecommand) case "$sj_a" in internal-sftp|"internal-sftp "*) continue;; esac;;`,
    `      authorizedkeysfile) sj_in=0; set -f; for sj_p in $sj_a; do sj_p=$(sj_jx "$sj_p" "$sj_jh" "$sj_ju"); case "$sj_p" in /*) ;; *) sj_p="$sj_jh/$sj_p";; esac; case "$sj_p" in "$sj_jh"/*|none) sj_in=1;; esac; done; set +f; [ -n "$sj_a" ] && [ $sj_in = 0 ] && continue;;`,
    `      *) [ "$sj_a" = no ] && continue;;`,
    `    esac`,
    `    sj_fail "this change would un-jail $sj_ju: sshd would resolve $sj_k \${sj_a:-(nothing)} for it (was $sj_b; sshd -T -C user=$sj_ju,addr=${NEUTRAL_ADDR}), most likely set first by $sj_jfiles."`,
    `  done`,
    `done <<SJ_JAILED_EOF`,
    `$sj_jailed`,
    `SJ_JAILED_EOF`,
    ...(scope === "core" ? [] : outsidersScript()),
    // The terminator must stay alone on its line: apply wraps each step as "{ script ; }".
    ":",
  ].join("\n");
}

/**
 * After the change (inside the verify step, after the jails): every account that was not jailed must get from sshd
 * exactly the {@link ACCESS_KEYS} it got before, for every client evaluated — unless the change jails it now (its home
 * as chroot and internal-sftp) and it may be jailed at all (uid >= UID_MIN, not nobody). The first difference is named.
 */
function outsidersScript(): string[] {
  return [
    // The first entry of $2 (after) not in $1 (before), as "+<context>\t<k=v>", else the first of $1 not in $2 ("-").
    String.raw`sj_adiff() { awk -v b="$1" -v a="$2" 'function load(s, S, p,   n, i, t, c) { n = split(s, t, "	"); c = ""; for (i = 1; i <= n; i++) { if (t[i] == "") continue; if (substr(t[i], 1, 1) == "@") { c = substr(t[i], 2); continue } S[c "	" t[i]] = 1; L[p, ++N[p]] = c "	" t[i] } } BEGIN { load(b, B, "b"); load(a, A, "a"); for (i = 1; i <= N["a"]; i++) if (!(L["a", i] in B)) { print "+" L["a", i]; exit } for (i = 1; i <= N["b"]; i++) if (!(L["b", i] in A)) { print "-" L["b", i]; exit } }'; }`,
    `while IFS='	' read -r sj_ou sj_oh sj_oid sj_ob; do`,
    `  [ -n "$sj_ou" ] || continue`,
    `  sj_oa=$(sj_aeval "$sj_ou"); sj_oa=\${sj_oa%\t}`,
    `  [ "$sj_oa" = "$sj_ob" ] && continue`,
    `  if [ "$sj_oid" -ge "$sj_min" ] && [ "$sj_oid" -ne 65534 ]; then`,
    `    sj_ja=$(sj_jeval "$sj_ou"); sj_c=$(sj_jv "$sj_ja" chrootdirectory)`,
    `    if [ -n "$sj_c" ] && [ "$sj_c" != none ] && [ "$(sj_jx "$sj_c" "$sj_oh" "$sj_ou")" = "$sj_oh" ]; then case "$(sj_jv "$sj_ja" forcecommand)" in internal-sftp|"internal-sftp "*) continue;; esac; fi`,
    `  fi`,
    `  sj_d=$(sj_adiff "$sj_ob" "$sj_oa"); sj_dc=\${sj_d#?}; sj_dk=\${sj_dc#*	}; sj_dc=\${sj_dc%%	*}`,
    `  case "$sj_d" in -*) sj_dw="sshd would no longer resolve \${sj_dk%%=*} \\"\${sj_dk#*=}\\" for it";; *) sj_dw="sshd would resolve \${sj_dk%%=*} \\"\${sj_dk#*=}\\" for it";; esac`,
    `  sj_fail "this change would alter what sshd allows $sj_ou, an account sftp-jail does not jail: $sj_dw (sshd -T -C user=$sj_ou,$sj_dc), most likely set by $sj_jfiles. A block may change sshd's settings only for the accounts it jails: narrow its Match to them (e.g. Match Group <the jail's group>)."`,
    `done <<SJ_OUTSIDE_EOF`,
    `$sj_outside`,
    `SJ_OUTSIDE_EOF`,
  ];
}
