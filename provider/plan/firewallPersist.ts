/**
 * FirewallRule persistence: the live ruleset saved where the distribution loads it at boot, once a change is
 * confirmed, and the file put back byte for byte when the last rule that wanted it goes. Pure: plans shell steps.
 */
import { HostFacts } from "../observe/facts";
import { isIptablesNftTable } from "../observe/nft";
import { quote, quoteArg } from "../util/shell";
import { COMMENT_PREFIX, Target, everyPart, familyParts, iptBin } from "./firewallTarget";
import { Plan, PlanError } from "./types";
import { parentOf, restoreFileSh, writeFileSh } from "./atomic";

const isDebianLike = (f: HostFacts) => f.os.id === "debian" || f.os.id === "ubuntu" || f.os.idLike.includes("debian");
const isRhelLike = (f: HostFacts) => ["rhel", "centos", "fedora", "rocky", "almalinux"].includes(f.os.id) || f.os.idLike.some((x) => x === "rhel" || x === "fedora");

/** Where the distro loads the saved ruleset from at boot. */
export function persistPath(t: Target, facts: HostFacts): string {
  if (isDebianLike(facts)) {
    if (t.backend === "nftables") return "/etc/nftables.conf";
    return t.family === "ipv6" ? "/etc/iptables/rules.v6" : "/etc/iptables/rules.v4";
  }
  if (isRhelLike(facts)) {
    if (t.backend === "nftables") return "/etc/sysconfig/nftables.conf";
    return t.family === "ipv6" ? "/etc/sysconfig/ip6tables" : "/etc/sysconfig/iptables";
  }
  throw new PlanError(`persist: do not know where ${facts.os.prettyName} keeps its saved ${t.backend} ruleset`, "set persist: false and save the ruleset with your distribution's tool");
}

/** Where sftp-jail keeps, per persistence file, the file as it was before it first wrote it (survives reboots). */
export const PERSIST_STATE = "/var/lib/sftp-jail/firewall";

/** The bookkeeping files of one persistence file: `<key>.orig` (or `.absent`, `.mkdir`), `.rules/<name>`, `.sha256`. */
function persistState(path: string) {
  const k = `${PERSIST_STATE}/${path.replace(/^\//, "").replace(/\//g, "_")}`;
  return { orig: `${k}.orig`, absent: `${k}.absent`, mkdir: `${k}.mkdir`, rules: `${k}.rules`, sha: `${k}.sha256` };
}

/** Records the sha256 of what sftp-jail just wrote, so a later restore can tell whether anyone edited the file since. */
const recordSha = (path: string) => `sha256sum < ${quoteArg(path)} | cut -c1-64 > ${quoteArg(persistState(path).sha)}`;

/**
 * Writes the live ruleset where the distro loads it at boot, with the one atomic write (plan/atomic.ts), after the change
 * was confirmed. nftables: every native table as "table X / delete table X / listing", so loading it replaces those
 * tables without flushing iptables-nft's or anyone else's; checked with `nft -c` before the rename.
 *
 * `rule` (a rule with `persist`): registers it as a user of the file, and before sftp-jail first writes the file keeps
 * it as it was (or notes it was absent), so that {@link planUnpersist} can put it back byte for byte.
 * Without `rule`, `onlyIfMentions`: re-saves only if the saved file mentions that text (a rule without persist that
 * another rule's persist saved while it existed; when it goes, the file is re-saved so a reboot does not bring it back).
 */
export function planPersist(t: Target, facts: HostFacts, onlyIfMentions?: string, rule?: string): Plan {
  const path = persistPath(t, facts);
  const st = persistState(path);
  const base = planPersistTo(path, t, facts);
  if (rule !== undefined) {
    const dir = parentOf(path);
    const keep = [
      quote(["install", "-d", "-m", "0700", PERSIST_STATE]),
      `{ [ -e ${quoteArg(st.orig)} ] || [ -e ${quoteArg(st.absent)} ] || if [ -e ${quoteArg(path)} ]; then ${quote(["cp", "-p", path, st.orig])}; else : > ${quoteArg(st.absent)} && { [ -d ${quoteArg(dir)} ] || : > ${quoteArg(st.mkdir)}; }; fi; }`,
      quote(["install", "-d", "-m", "0700", st.rules]),
      `: > ${quoteArg(`${st.rules}/${rule}`)}`,
    ].join(" && ");
    return base.map((x) => ({ description: x.description, script: `${keep} && ${x.script} && ${recordSha(path)}`, effects: { paths: [...(x.effects.paths ?? []), `${st.rules}/${rule}`, st.sha] } }));
  }
  const steps = base.map((x) => ({ ...x, script: `${x.script} && { if [ -e ${quoteArg(st.sha)} ]; then ${recordSha(path)}; fi; }` }));
  if (onlyIfMentions === undefined) return steps;
  return steps.map((x) => ({
    description: `${x.description} (it still mentions ${onlyIfMentions})`,
    script: `if grep -qF -- ${quoteArg(onlyIfMentions)} ${quoteArg(path)} 2>/dev/null; then ${x.script}; fi`,
    effects: x.effects,
  }));
}

/**
 * Rule `rule` no longer wants the ruleset persisted (destroyed, or persist turned off). When it was the file's last
 * sftp-jail user and nobody edited the file since sftp-jail last wrote it, the file goes back to exactly what it was
 * before sftp-jail first wrote it (byte for byte, owner and mode; removed if there was none). Otherwise the live
 * ruleset (now without the rule) is saved again, as before.
 */
export function planUnpersist(t: Target, facts: HostFacts, rule: string, onlyIfRegistered = false): Plan {
  const path = persistPath(t, facts);
  const st = persistState(path);
  const dir = parentOf(path);
  const tmp = `${path}.sftp-jail.tmp`;
  const save = planPersistTo(path, t, facts).map((x) => x.script).join(" && ");
  const restore = [
    `if [ -e ${quoteArg(st.orig)} ]; then ${restoreFileSh(quoteArg(st.orig), quoteArg(path), quoteArg(dir), quoteArg(tmp))};`,
    `else rm -f ${quoteArg(path)} && { [ ! -e ${quoteArg(st.mkdir)} ] || rmdir ${quoteArg(dir)} 2>/dev/null || true; }; fi`,
  ].join(" ");
  // The bookkeeping goes with the last rule that wanted the file, and its directories once empty (nothing of ours stays).
  const forget = `${quote(["rm", "-rf", st.orig, st.absent, st.mkdir, st.rules, st.sha])} && { rmdir ${quoteArg(PERSIST_STATE)} ${quoteArg(PERSIST_STATE.slice(0, PERSIST_STATE.lastIndexOf("/")))} 2>/dev/null || true; }`;
  const script = [
    `rm -f ${quoteArg(`${st.rules}/${rule}`)};`,
    `if [ -e ${quoteArg(st.sha)} ] && [ -z "$(ls -A ${quoteArg(st.rules)} 2>/dev/null)" ]; then`,
    `if [ "$(sha256sum < ${quoteArg(path)} 2>/dev/null | cut -c1-64)" = "$(cat ${quoteArg(st.sha)})" ]; then ${restore};`,
    `else ${save}; fi && ${forget};`,
    `else ${save} && { if [ -e ${quoteArg(st.sha)} ]; then ${recordSha(path)}; fi; }; fi`,
  ].join(" ");
  return [
    {
      description: `put ${path} back as it was before sftp-jail, or save the ruleset without ${COMMENT_PREFIX}${rule}`,
      script: onlyIfRegistered ? `if [ -e ${quoteArg(`${st.rules}/${rule}`)} ]; then ${script}; fi` : script,
      effects: { paths: [path, tmp, dir, st.orig, st.absent, st.mkdir, st.rules, st.sha, PERSIST_STATE, PERSIST_STATE.slice(0, PERSIST_STATE.lastIndexOf("/"))] },
    },
  ];
}

/**
 * {@link planPersist} for every family part of a rule: the rule and its ip6tables twin are saved each where the distro
 * loads that family from (Debian: rules.v4 and rules.v6). Re-saving a file that mentions a rule looks in every family.
 * With `rule`, a family the rule is not in (any more) is handed back as {@link planUnpersist} does, where it registered.
 */
export function planPersistRule(t: Target, facts: HostFacts, onlyIfMentions?: string, rule?: string): Plan {
  if (rule === undefined) return (onlyIfMentions !== undefined ? everyPart(t) : familyParts(t, facts)).flatMap((p) => planPersist(p, facts, onlyIfMentions));
  // A family the rule no longer has (no twin any more, or its source changed family) gives its saved file back.
  const wanted = familyParts(t, facts);
  const gone = everyPart(t).filter((p) => !wanted.some((w) => w.family === p.family));
  return [...wanted.flatMap((p) => planPersist(p, facts, undefined, rule)), ...gone.flatMap((p) => planUnpersist(p, facts, rule, true))];
}

/**
 * {@link planUnpersist} for every family the rule may have been saved in, in the reverse order of
 * {@link planPersistRule} (the file written first may have created the directory both live in). Families other than
 * the target's own one are touched only where this rule registered a save (a twin that existed), so no file is written
 * where sftp-jail never wrote one.
 */
export function planUnpersistRule(t: Target, facts: HostFacts, rule: string): Plan {
  const own = t.family === "ipv6" ? "ipv6" : t.backend === "nftables" ? t.family : "ipv4";
  return everyPart(t)
    .reverse()
    .flatMap((p) => planUnpersist(p, facts, rule, p.family !== own));
}

function planPersistTo(path: string, t: Target, facts: HostFacts): Plan {
  const tmp = `${path}.sftp-jail.tmp`;
  const dir = parentOf(path);
  if (t.backend === "nftables") {
    const rs = facts.firewall.ruleset;
    const tables = (rs?.tables ?? []).filter((x) => !isIptablesNftTable(rs!, x));
    const body = tables
      .map((x) => `echo ${quoteArg(`table ${x.family} ${x.name}`)}; echo ${quoteArg(`delete table ${x.family} ${x.name}`)}; ${quote(["nft", "list", "table", x.family, x.name])}`)
      .join("; ");
    const script = writeFileSh({
      target: quoteArg(path),
      tmp: quoteArg(tmp),
      dir: quoteArg(dir),
      content: `echo '#!/usr/sbin/nft -f'; echo '# Written by sftp-jail from the live ruleset; each table is replaced as a whole.'; ${body || "true"}`,
      attrs: { mode: "0755" },
      checks: [quote(["nft", "-c", "-f", tmp])],
    });
    return [{ description: `save the nftables ruleset to ${path}`, script, effects: { paths: [path, tmp] } }];
  }
  const save = `${iptBin(t, facts)}-save`;
  const script = `${quote(["mkdir", "-p", dir])} && ${writeFileSh({ target: quoteArg(path), tmp: quoteArg(tmp), dir: quoteArg(dir), content: quote([save]), attrs: { mode: "0640" } })}`;
  return [{ description: `save the ${save} ruleset to ${path}`, script, effects: { paths: [path, tmp] } }];
}
