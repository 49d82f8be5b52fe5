/**
 * FirewallRule planner: one rule, marked by its comment `sftp-jail:<name>`, in the host's packet filter.
 *
 * Pure: planners that turn (desired rule, parsed facts) into steps. Both backends are reduced to the same model: an ordered list of rules per chain,
 * each with its comment, whether it is a REJECT/DROP, and a canonical {@link RuleSpec} of its match and action.
 * Our rule is found by its comment (never by position), so runs are idempotent and drift is visible:
 * - missing: no rule carries our comment;
 * - moved: it carries our comment but its place no longer satisfies `position`;
 * - edited: its match/action differs from the spec (or it appears more than once).
 *
 * Commands are argument vectors built from validated fields only; the one exception is deleting an iptables rule by
 * the exact tokens `iptables-save` printed for it, which are passed as quoted arguments, never interpreted by a shell.
 *
 * This module plans the guarded change (backup, delete, insert, revert, cleanup); the other jobs live beside it:
 * firewallTarget.ts (the rule, its specs, backend and target), firewallLocate.ts (finding our rule and its drift),
 * firewallPersist.ts (the distro's saved ruleset), firewallDoor.ts (the IPv6 half-open door warning), and the parsers
 * of what the host printed in observe/iptables.ts and observe/nft.ts (run once, when the snapshot is parsed).
 */
import { HostFacts } from "../observe/facts";
import { RecordOp, isRecordKey, rec } from "../observe/record";
import { quote, quoteArg } from "../util/shell";
import { Located, LocatedRule, insertIndex, locate, locateRule } from "./firewallLocate";
import { Backend, COMMENT_PREFIX, ObservedRule, RuleDesired, Target, commentOf, describeSpec, desiredSpec, everyPart, iptBin, iptTable, iptablesArgs, nftTokens, resolveTarget } from "./firewallTarget";
import { Effects, Plan, PlanError, Step, cmd as stepOf } from "./types";

export * from "./firewallTarget";
export * from "./firewallLocate";
export * from "./firewallPersist";
export { halfOpenDoor } from "./firewallDoor";

/** Rule changes touch the ruleset only (guarded by confirm-or-revert); files they write say so themselves. */
const FIREWALL: Effects = { service: "firewall" };
const cmd = (description: string, argv: ReadonlyArray<string | number>, record?: RecordOp[]): Step => stepOf(description, argv, FIREWALL, record);

/** Where confirm-or-revert keeps the ruleset as it was before a change (tmpfs: gone after a reboot, as is the change). */
export const BACKUP_DIR = "/run/sftp-jail/firewall";

// ---------------------------------------------------------------------------------------------------------------
// Plans

/** A guarded change: steps, the steps that restore the exact previous ruleset, and words for errors. */
export interface FirewallPlan {
  steps: Plan;
  revert: Plan;
  what: string;
  /** Run once the change is confirmed: the saved tables only a revert needed go (nothing of ours stays behind). */
  cleanup?: Plan;
}

/** Drops the tables saved for reverting a change to these parts, once it is confirmed (the timer is disarmed then). */
function dropBackups(name: string, parts: Target[]): Plan {
  if (!parts.length) return [];
  const files = parts.flatMap((t) => [backupFile(name, t), ...(t.backend === "nftables" ? [] : [backupFile(name, t) + ".chains"])]);
  return [
    {
      description: "drop the tables saved for a revert",
      script: `${quote(["rm", "-f", ...files])} && { rmdir ${quoteArg(BACKUP_DIR)} 2>/dev/null || true; }`,
      effects: { paths: files },
    },
  ];
}

const backupFile = (name: string, t: Target) => `${BACKUP_DIR}/${name}.${t.backend === "nftables" ? "nft" : t.family === "ipv6" ? "v6" : "v4"}`;

/** Saves the table as it is, so revert can restore it exactly (iptables with counters; nft as a reloadable script). */
function backupStep(name: string, t: Target, facts: HostFacts): Step {
  const f = quoteArg(backupFile(name, t));
  const mk = quote(["mkdir", "-p", BACKUP_DIR]);
  if (t.backend === "nftables") {
    const [fam, tbl] = t.table.split(" ");
    // "table X" + "delete table X" + the listing: loading it replaces the table atomically, whether or not it exists.
    return {
      description: `save nft table ${t.table} for revert`,
      effects: { paths: [backupFile(name, t)] },
      script: `${mk} && { echo ${quoteArg(`table ${fam} ${tbl}`)}; echo ${quoteArg(`delete table ${fam} ${tbl}`)}; ${quote(["nft", "list", "table", fam, tbl])} 2>/dev/null || true; } > ${f}`,
    };
  }
  const save = `${iptBin(t, facts)}-save`;
  const nt = nftOfIptables(t, facts);
  // iptables-nft keeps the table in nft: which of its chains exist (or that it does not) is part of "as it was",
  // since the change (or iptables-restore) creates the table and its built-in chains on demand.
  const chains = nt
    ? ` && { if command -v nft >/dev/null && ${quote(["nft", "list", "table", ...nt])} >/dev/null 2>&1; then echo table; ${NFT_CHAINS(nt)}; else echo none; fi; } > ${quoteArg(backupFile(name, t) + ".chains")}`
    : "";
  return {
    description: `save ${save} filter table for revert`,
    effects: { paths: [backupFile(name, t), backupFile(name, t) + ".chains"] },
    script: `${mk} && { ${quote([save, "-c", "-t", "filter"])} 2>/dev/null || true; } > ${f}${chains}`,
  };
}

/** Chain names of an nft table, one per line (from `nft list table`, whose chain lines read "\tchain NAME {"). */
const NFT_CHAINS = (nt: [string, string]) => `${quote(["nft", "list", "table", ...nt])} 2>/dev/null | sed -n 's/^[[:space:]]*chain \\([^ ]*\\) {$/\\1/p'`;

/** The nft table iptables-nft keeps a target's filter table in (`ip filter` / `ip6 filter`), or undefined. */
function nftOfIptables(t: Target, facts: HostFacts): [string, string] | undefined {
  if (t.backend !== "iptables" || facts.firewall.iptablesVariant !== "nf_tables") return undefined;
  return [t.family === "ipv6" ? "ip6" : "ip", "filter"];
}

/** The nft table a target lives in: its own (nftables), iptables-nft's (`ip`/`ip6 filter`), or none (legacy). */
export function nftTableOf(t: Target, facts: HostFacts): [string, string] | undefined {
  if (t.backend === "nftables") return t.table.split(" ") as [string, string];
  return nftOfIptables(t, facts);
}

/** The nft tables a target's rule may live in, one per family part (see {@link createdObjects}). */
export function nftTablesOf(t: Target, facts: HostFacts): Array<[string, string]> {
  const all = everyPart(t)
    .map((p) => nftTableOf(p, facts))
    .filter((nt): nt is [string, string] => nt !== undefined);
  return all.filter((nt, i) => all.findIndex((x) => x.join(" ") === nt.join(" ")) === i);
}

/** One nft table as `nft -j list ruleset` showed it. */
function nftObjects(facts: HostFacts, [fam, name]: [string, string]) {
  const rs = facts.firewall.ruleset;
  return {
    exists: !!rs?.tables.some((t) => t.family === fam && t.name === name),
    chains: (rs?.chains ?? []).filter((c) => c.family === fam && c.table === name).map((c) => c.name),
    rules: (rs?.rules ?? []).filter((r) => r.family === fam && r.table === name),
    others: rs?.others[`${fam} ${name}`] ?? 0,
  };
}

/**
 * What a change created in nft (a part's table, or chains of it), from the facts before and after it: destroy
 * removes exactly these again once they are empty, so the ruleset is as it was before sftp-jail. Each entry names its
 * nft table: "<family> <table>:table" or "<family> <table>:chain:<name>" (e.g. "ip6 filter:chain:INPUT"). Empty for
 * iptables-legacy (its tables cannot be removed) and when nft is not installed.
 */
export function createdObjects(t: Target, before: HostFacts, after: HostFacts): string[] {
  if (before.firewall.nft === null || after.firewall.nft === null) return [];
  return everyPart(t).flatMap((p) => {
    const nt = nftTableOf(p, after);
    if (!nt) return [];
    const b = nftObjects(before, nt);
    const a = nftObjects(after, nt);
    const key = nt.join(" ");
    if (!a.exists) return [];
    if (!b.exists) return [`${key}:table`];
    return a.chains.filter((c) => !b.chains.includes(c)).map((c) => `${key}:chain:${c}`);
  });
}

/**
 * `created` as recorded in state, each entry naming its nft table. State written before rules had an IPv6 twin holds
 * "table" / "chain:<name>" for the one table of its target; those are qualified with it.
 */
export function qualifyCreated(created: string[], t: Target, facts: HostFacts): string[] {
  const nt = nftTableOf(t, facts);
  return created.flatMap((c) => (/^(table$|chain:)/.test(c) ? (nt ? [`${nt.join(" ")}:${c}`] : []) : [c]));
}

/**
 * The revert of a change: `inverse` says what the change did to the chain — inserted our rule (`added`), removed these
 * rules (`removed`, with their 1-based positions). iptables: when every removed rule was in the target chain, the exact
 * inverse (delete what was inserted, re-insert what was removed where it was) is run; iptables-nft's restore would
 * re-create the whole table (new handles, a new place in `nft list ruleset`). Otherwise the saved table is restored.
 */
function revertStep(
  d: RuleDesired,
  t: Target,
  facts: HostFacts,
  inverse?: { added: boolean; removed: Array<{ at: number; args: string[]; chain: string }>; tableExisted?: boolean; chainExisted?: boolean },
): Step {
  // What the revert removes again leaves the host's record with it (each entry only if its object is really gone).
  const nt = nftTableOf(t, facts);
  const drops = [rec.drop("w", d.name), ...(nt ? [rec.drop("n", nt.join(":")), rec.drop("c", [...nt, t.chain].join(":"))] : [])];
  return { ...revertOnly(d, t, facts, inverse), record: drops };
}

function revertOnly(
  d: RuleDesired,
  t: Target,
  facts: HostFacts,
  inverse?: { added: boolean; removed: Array<{ at: number; args: string[]; chain: string }>; tableExisted?: boolean; chainExisted?: boolean },
): Step {
  const f = quoteArg(backupFile(d.name, t));
  if (t.backend === "nftables") {
    if (inverse?.added && inverse.removed.length === 0) {
      // A pure insert: delete the rule(s) carrying our comment (found by handle now), then the table or chain the
      // change created. Loading the saved table instead would re-create it (a new place in `nft list ruleset`).
      const [fam, tbl] = t.table.split(" ");
      const sed = `s/.* comment "${commentOf(d.name).replace(/\./g, "\\.")}" # handle \\([0-9][0-9]*\\)$/\\1/p`;
      const del = `for h in $(${quote(["nft", "-a", "list", "chain", fam, tbl, t.chain])} 2>/dev/null | sed -n ${quoteArg(sed)}); do ${quote(["nft", "delete", "rule", fam, tbl, t.chain, "handle"])} "$h" || sj_failed=1; done; [ -z "\${sj_failed:-}" ]`;
      const created = !inverse.tableExisted ? [quote(["nft", "delete", "table", fam, tbl])] : !inverse.chainExisted ? [quote(["nft", "delete", "chain", fam, tbl, t.chain])] : [];
      return { description: `remove ${commentOf(d.name)} from nft table ${t.table} again`, script: [del, ...created].join(" && "), effects: FIREWALL };
    }
    return { description: `restore nft table ${t.table} as it was`, script: quote(["nft", "-f", backupFile(d.name, t)]), effects: FIREWALL };
  }
  const bin = iptBin(t, facts);
  const del = `while ${quote([bin, "-w", "-t", "filter", "-D", t.chain, ...iptablesArgs(d, commentOf(d.name))])} 2>/dev/null; do :; done`;
  const exact = inverse && inverse.removed.every((r) => r.chain === t.chain);
  const reinsert = exact
    ? [...inverse.removed].sort((a, b) => a.at - b.at).map((r) => quote([bin, "-w", "-t", "filter", "-I", t.chain, r.at, ...r.args]))
    : [];
  const restore = exact
    ? [...(inverse.added ? [del] : []), ...reinsert].join(" && ") || "true"
    : // Without a saved filter table (it did not exist), removing our rule is the exact inverse.
      `if grep -q '^\\*filter' ${f}; then ${quote([`${bin}-restore`, "-w", "-c"])} < ${f}; else ${del}; fi`;
  const nt = nftOfIptables(t, facts);
  if (!nt) return { description: `restore the ${bin} filter table as it was`, script: restore, effects: FIREWALL };
  // iptables-nft: then remove what the change or the restore created in nft — the table itself when it was not there
  // (and holds no rule now), else the (empty) chains that were not there. `nft delete chain` refuses a chain with rules.
  const chainsFile = quoteArg(backupFile(d.name, t) + ".chains");
  const prune = [
    `if command -v nft >/dev/null && [ -s ${chainsFile} ]; then`,
    `if [ "$(head -n 1 ${chainsFile})" = none ]; then`,
    `if ! ${quote([`${bin}-save`, "-t", "filter"])} 2>/dev/null | grep -q '^-A'; then ${quote(["nft", "delete", "table", ...nt])} 2>/dev/null || true; fi;`,
    `else for c in $(${NFT_CHAINS(nt)}); do tail -n +2 ${chainsFile} | grep -qxF -- "$c" || ${quote(["nft", "delete", "chain", ...nt])} "$c" 2>/dev/null || true; done; fi;`,
    "fi",
  ].join(" ");
  return { description: `restore the ${bin} filter table as it was`, script: `{ ${restore}; } && ${prune}`, effects: FIREWALL };
}

/** The rules a plan deletes (ours, or the adopted one being replaced), each with its 1-based place in its chain. */
function removedRules(loc: Located): Array<{ at: number; args: string[]; chain: string }> {
  return loc.ours.map((r) => ({ at: loc.rules.indexOf(r) + 1, args: r.args ?? [], chain: loc.rules.includes(r) ? r.chain : "" }));
}

/** A removed rule of ours leaves the host's record (once no rule carries its comment any more). */
const dropRule = (r: ObservedRule): RecordOp[] => {
  const name = r.comment?.startsWith(COMMENT_PREFIX) ? r.comment.slice(COMMENT_PREFIX.length) : "";
  return isRecordKey("w", name) ? [rec.drop("w", name)] : [];
};

function deleteSteps(loc: Located, facts: HostFacts): Step[] {
  const t = loc.target;
  if (t.backend === "nftables") {
    const [fam, tbl] = t.table.split(" ");
    return loc.ours.map((r) => {
      const description = `delete rule ${r.comment} (handle ${r.handle}) from ${t.table} ${r.chain}`;
      const del = ["nft", "delete", "rule", fam, tbl, r.chain, "handle", r.handle!];
      if (!r.comment?.startsWith(COMMENT_PREFIX)) return cmd(description, del, dropRule(r)); // the adopted rule replaced
      // The handle was read when the host was observed; firewalld or an `nft -f` may have rebuilt the table since (new
      // handles, this one perhaps on another rule). Under the host lock, it is deleted only if it still carries ours.
      const tail = `comment "${r.comment}" # handle ${r.handle}`;
      const still = `${quote(["nft", "-a", "list", "chain", fam, tbl, r.chain])} 2>/dev/null | SJ_T=${quoteArg(tail)} awk 'substr($0, length($0) - length(ENVIRON["SJ_T"]) + 1) == ENVIRON["SJ_T"] { f = 1 } END { exit !f }'`;
      const refuse = `{ echo ${quoteArg(`nft rule handle ${r.handle} in ${t.table} ${r.chain} no longer carries ${r.comment}: the ruleset changed since it was read; nothing deleted, run pulumi up again`)} >&2; false; }`;
      return { description, script: `{ ${still} || ${refuse}; } && ${quote(del)}`, effects: FIREWALL, record: dropRule(r) };
    });
  }
  const bin = iptBin(t, facts);
  return loc.ours.map((r) => cmd(`delete rule ${r.comment} from ${bin} ${r.chain}`, [bin, "-w", "-t", "filter", "-D", r.chain, ...r.args!], dropRule(r)));
}

const NFT_HOOKS = new Set(["input", "forward", "output"]);

function insertSteps(d: RuleDesired, loc: Located, facts: HostFacts): Step[] {
  const t = loc.target;
  const comment = commentOf(d.name);
  // Without the rules about to be deleted (ours, or the adopted one being replaced).
  const others = loc.rules.filter((r) => r.comment !== comment && !loc.ours.includes(r));
  const at = insertIndex(d.position, others);
  const where = at === others.length ? "at the end" : `before rule ${at + 1}`;
  const desc = `insert ${describeSpec(desiredSpec(d, t))} as ${comment} into ${t.backend} ${t.table} ${t.chain} ${where}`;
  // The host's record of what sftp-jail created (observe/record.ts): the rule, and the nft table and chain it brought
  // into being (iptables-nft makes them on demand), each recorded only if the step created it.
  const nt = nftTableOf(t, facts);
  const made = nt ? [rec.add("n", nt.join(":")), rec.add("c", [...nt, t.chain].join(":"))] : [];
  if (t.backend === "nftables") {
    const [fam, tbl] = t.table.split(" ");
    const steps: Step[] = [];
    if (!loc.tableExists) steps.push(cmd(`create nft table ${t.table}`, ["nft", "add", "table", fam, tbl], [made[0]]));
    if (!loc.chainExists) {
      if (!NFT_HOOKS.has(t.chain)) {
        throw new PlanError(`chain "${t.chain}" does not exist in nft table ${t.table}`, `create it first, or use chain "input"`);
      }
      steps.push(cmd(`create base chain ${t.chain} in ${t.table}`, ["nft", "add", "chain", fam, tbl, t.chain, `{ type filter hook ${t.chain} priority filter ; policy accept ; }`], [made[1]]));
    }
    const tokens = nftTokens(d, t, comment);
    const argv =
      at === others.length
        ? ["nft", "add", "rule", fam, tbl, t.chain, ...tokens]
        : ["nft", "insert", "rule", fam, tbl, t.chain, "position", others[at].handle!, ...tokens];
    return [...steps, cmd(desc, argv, [rec.add("w", d.name)])];
  }
  if (!loc.chainExists) {
    throw new PlanError(`chain "${t.chain}" does not exist in the ${t.backend} filter table`, "create it first, or use chain INPUT");
  }
  const bin = iptBin(t, facts);
  const argv = at === others.length ? [bin, "-w", "-t", "filter", "-A", t.chain] : [bin, "-w", "-t", "filter", "-I", t.chain, at + 1];
  return [cmd(desc, [...argv, ...iptablesArgs(d, comment)], [rec.add("w", d.name), ...made])];
}

/**
 * Ports sshd may accept SSH on: its `Port` lines and the ports of its `ListenAddress host:port` lines (which override
 * `Port` for that address, so `sshd -T`'s `port` alone can name a port nothing listens on), and the port sftp-jail's
 * own connection came in on; 22 when nothing says.
 */
export function sshPorts(facts: HostFacts): number[] {
  const listen = (facts.sshd.effective.listenaddress ?? []).map((v) => /:(\d{1,5})$/.exec(v.trim().split(/\s+/)[0])?.[1]);
  const p = [...(facts.sshd.effective.port ?? []), ...listen, facts.operator?.lport]
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0 && n < 65536);
  return p.length ? [...new Set(p)] : [22];
}

/**
 * Refuses a REJECT/DROP on sshd's port that also hits established connections: it would cut the SSH session sftp-jail
 * needs to confirm the change and, if a fresh login fails, to revert it. Limited to NEW (and INVALID) connections,
 * existing sessions survive, so a lockout is detected by the fresh login and reverted.
 */
export function refuseSshCut(d: RuleDesired, facts: HostFacts): void {
  if (d.action === "ACCEPT" || d.protocol !== "tcp") return;
  const hit = d.ports.filter((p) => sshPorts(facts).includes(p));
  if (!hit.length) return;
  const newOnly = d.state.length > 0 && d.state.every((s) => s === "NEW" || s === "INVALID");
  if (newOnly) return;
  throw new PlanError(
    `a ${d.action} rule on tcp port ${hit.join(",")} (the port sshd listens on) that is not limited to state NEW would cut established SSH sessions, including the one sftp-jail needs to confirm or revert this change`,
    `add state: ["NEW"] (existing sessions keep working and a lockout of new logins is detected and reverted), or use another port`,
  );
}

/**
 * Create or converge. `adoptFrom`: the rule whose spec an existing rule may have to be adopted (create: the desired
 * rule itself; update of an adopted rule: the previous one). An adopted rule that already is what `d` wants is kept
 * as it is (no steps); otherwise it is replaced by ours, in place of nothing else.
 *
 * Every family part (the iptables rule and its ip6tables twin) is planned on its own chain, and all of them form one
 * guarded change: one dead-man timer and one fresh login cover both families, and a revert undoes every part. Our
 * rule left in a family the rule is no longer for (its source changed family) is removed in the same change, after
 * the new one is in, so an opening is never gone in between.
 */
export function planRuleConverge(d: RuleDesired, facts: HostFacts, previous?: Backend, adoptFrom?: RuleDesired): FirewallPlan & { located: LocatedRule } {
  const target = resolveTarget(d, facts, previous);
  const loc = locateRule(d, target, facts, adoptFrom);
  const what = `firewall rule ${commentOf(d.name)} (${describeSpec(desiredSpec(d, target))}) in ${target.backend} ${target.table} ${target.chain}`;
  if (loc.inPosition && loc.matchesSpec) return { steps: [], revert: [], what, located: loc };
  refuseSshCut(d, facts);
  const steps: Step[] = [];
  const revert: Step[] = [];
  const stale = loc.parts.filter((l) => !(l.inPosition && l.matchesSpec));
  for (const part of stale) {
    steps.push(backupStep(d.name, part.target, facts), ...deleteSteps(part, facts), ...insertSteps(d, part, facts));
    revert.unshift(revertStep(d, part.target, facts, { added: true, removed: removedRules(part), tableExisted: part.tableExists, chainExisted: part.chainExists }));
  }
  for (const stray of loc.strays) {
    steps.push(backupStep(d.name, stray.target, facts), ...deleteSteps(stray, facts));
    revert.unshift(revertStep(d, stray.target, facts, { added: false, removed: removedRules(stray) }));
  }
  return { steps, revert, what, located: loc, cleanup: dropBackups(d.name, [...stale, ...loc.strays].map((l) => l.target)) };
}

/**
 * Removes exactly our rule(s), in every family. `created`: what this rule's changes created in nft (see
 * {@link createdObjects}), removed too once nothing but our rule was in it, so destroy leaves the ruleset as it found
 * it. Without that record (state written before it existed), an nftables table left with nothing but the one empty,
 * accept-policy base chain sftp-jail would have created is removed (it filters nothing).
 */
export function planRuleDelete(d: RuleDesired, target: Target, facts: HostFacts, created?: string[]): FirewallPlan {
  const what = `removing firewall rule ${commentOf(d.name)} from ${target.backend} ${target.table} ${target.chain}`;
  const all = created && qualifyCreated(created, target, facts);
  const parts = everyPart(target).map((p) => ({ target: p, ...planPartDelete(d, p, facts, all) }));
  const cleanup = dropBackups(d.name, parts.filter((p) => p.steps.length).map((p) => p.target));
  return { steps: parts.flatMap((p) => p.steps), revert: [...parts].reverse().flatMap((p) => p.revert), what, cleanup };
}

function planPartDelete(d: RuleDesired, target: Target, facts: HostFacts, created?: string[]): { steps: Plan; revert: Plan } {
  const loc = locate(d, target, facts);
  if (!loc.ours.length) return { steps: [], revert: [] };
  const steps = [backupStep(d.name, target, facts), ...deleteSteps(loc, facts)];
  const revert = [revertStep(d, target, facts, { added: false, removed: removedRules(loc) })];
  const nt = nftTableOf(target, facts);
  if (created && nt) {
    // Exactly what this rule's changes created in this part's nft table, once nothing but our rules is in it.
    const key = `${nt.join(" ")}:`;
    const mine = created.filter((c) => c.startsWith(key)).map((c) => c.slice(key.length));
    const o = nftObjects(facts, nt);
    // Rules that stay after ours go (iptables-nft: judged on iptables-save, which names our comment the same way).
    const rules: Array<{ chain: string; comment: string | null }> =
      target.backend === "nftables"
        ? o.rules.map((r) => ({ chain: r.chain, comment: r.comment ?? null }))
        : (iptTable(target, facts)?.rules ?? []).map((r) => ({ chain: r.chain, comment: r.comment }));
    const left = (chain?: string) => rules.filter((r) => (chain === undefined || r.chain === chain) && r.comment !== commentOf(d.name)).length;
    if (mine.includes("table") && o.exists && left() === 0 && o.others === 0) {
      steps.push(cmd(`delete nft table ${nt.join(" ")} (sftp-jail created it; now empty)`, ["nft", "delete", "table", ...nt], [rec.drop("n", nt.join(":")), ...o.chains.map((c) => [...nt, c].join(":")).filter((k) => isRecordKey("c", k)).map((k) => rec.drop("c", k))]));
    } else {
      for (const c of mine.filter((x) => x.startsWith("chain:")).map((x) => x.slice(6))) {
        if (o.chains.includes(c) && left(c) === 0) steps.push(cmd(`delete nft chain ${nt.join(" ")} ${c} (sftp-jail created it; now empty)`, ["nft", "delete", "chain", ...nt, c], isRecordKey("c", [...nt, c].join(":")) ? [rec.drop("c", [...nt, c].join(":"))] : []));
      }
    }
    return { steps, revert };
  }
  if (target.backend === "nftables" && loc.nft) {
    const onlyOurs = loc.nft.rules === loc.ours.length && loc.nft.others === 0;
    const c = loc.nft.chains;
    const bare = c.length === 1 && c[0].name === target.chain && c[0].hook === target.chain && c[0].type === "filter" && (c[0].prio ?? 0) === 0 && c[0].policy === "accept";
    if (onlyOurs && bare) {
      const [fam, tbl] = target.table.split(" ");
      steps.push(cmd(`delete nft table ${target.table} (now empty)`, ["nft", "delete", "table", fam, tbl]));
    }
  }
  return { steps, revert };
}
