/**
 * FirewallRule adapter: schema + the provider methods, wired to observe → plan → apply. Runs in the dynamic-provider
 * process; the resource class (resources/firewallRule.ts) only points Pulumi at this module.
 *
 * Every change goes through confirm-or-revert ({@link applyGuarded}): after the rule is written, a fresh SSH login
 * must still work, else the table saved just before the change is restored. The ruleset is persisted only after that.
 */
import type * as pulumi from "@pulumi/pulumi";
import { Session } from "../connection/pool";
import { HostFacts } from "../observe/facts";
import { Plan, PlanError } from "../plan/types";
import { observe, reread } from "../observe/snapshot";
import { apply } from "../apply/apply";
import { applyGuarded } from "../apply/guarded";
import {
  Backend,
  COMMENT_PREFIX,
  RuleDesired,
  Target,
  FamilyStatus,
  describeSpec,
  desiredSpec,
  familiesOf,
  locateRule,
  createdObjects,
  nftTablesOf,
  planPersistRule,
  planRuleConverge,
  planRuleDelete,
  planUnpersistRule,
  halfOpenDoor,
  qualifyCreated,
  refuseSshCut,
  resolveTarget,
  ruleDesired,
  ruleFamily,
} from "../plan/firewall";
import { failuresOf } from "../schema/common";
import { FirewallRuleFields, firewallRuleSchema, firewallRuleShape } from "../schema/firewallRule";
import { log } from "../util/log";
import { createdNft, createdRule, ownedBy } from "../observe/record";
import { UNKNOWN, checkInputs, containsUnknown, lookAtHost, ownerOf, parseKnown, planOrThrow, sameMachine, sessionFor, sessionForChange } from "./base";
import { hostQueue } from "../apply/hostQueue";

export { firewallRuleShape };
const fieldsSchema = firewallRuleSchema;
type Fields = FirewallRuleFields;

/**
 * Drift markers: check sets them to their desired values (`true`, and "ok" per family); read reports what it observed,
 * so a preview after a refresh shows them changing (e.g. `families.ipv6: "missing" => "ok"`).
 */
const DRIFT_KEYS = ["inPosition", "matchesSpec", "families"] as const;

/** What state keeps: inputs as normalised, where the rule went, and what was observed. */
export interface FirewallRuleState extends Fields {
  /** How the host is reached (kept encrypted in state). */
  connection: unknown;
  /** The backend used (auto resolved at create; never re-guessed). */
  resolvedBackend: Backend;
  /** "filter" (iptables) or "<family> <name>" (nftables). */
  resolvedTable: string;
  resolvedChain: string;
  family: Target["family"];
  /** The comment that marks the rule: sftp-jail:<name>. */
  comment: string;
  /** The rule in words. */
  rule: string;
  /** The rule is where `position` wants it. */
  inPosition: boolean;
  /** The rule exists once, with exactly the declared match and action. */
  matchesSpec: boolean;
  /**
   * Per address family the rule is for: "ok", or "missing", "duplicated", "edited", "moved" (on iptables, IPv4 and
   * IPv6 are separate rules: the rule and its ip6tables twin). Absent in state written before it existed.
   */
  families?: Partial<Record<"ipv4" | "ipv6", FamilyStatus>>;
  /**
   * The rule is the admin's own, adopted as it was (same spec, no sftp-jail comment): nothing was inserted, drift is
   * judged on that rule, and destroy leaves it in place (removing an SSH opening nobody asked to remove could lock
   * everyone out).
   */
  adopted?: boolean;
  /**
   * nft objects this rule's changes created ("table", "chain:<name>"; see createdObjects): destroy removes them again
   * once empty, so the ruleset ends exactly as it was. Absent in state written before it existed.
   */
  created?: string[];
}

export { TYPE } from "../schema/firewallRule";
import { TYPE } from "../schema/firewallRule";
const label = (name: string) => `${TYPE} "${name}"`;

function fields(o: Record<string, unknown>): Fields {
  const keys = Object.keys(firewallRuleShape);
  const picked = Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  return parseKnown(fieldsSchema, picked, label(String(o.name)));
}

const targetOf = (o: FirewallRuleState): Target => ({ backend: o.resolvedBackend, table: o.resolvedTable, chain: o.resolvedChain, family: o.family });

/**
 * Firewall work on one host runs one resource at a time in this process, each on the firewall and the host's record
 * as they are now: planners use rule positions and handles, which a concurrent change to the same chain would make
 * stale. The rest (accounts, sshd, operator) is the phase's snapshot, which sftp-jail's own changes keep current.
 */
const serialized = hostQueue("firewall");

const fresh = (s: Session): Promise<HostFacts> => reread(s, ["firewall"]);

function outputsOf(f: Fields, connection: unknown, t: Target, facts: HostFacts, adopted = false, created: string[] = []): FirewallRuleState {
  const d = ruleDesired(f);
  const loc = locateRule(d, t, facts, adopted ? d : undefined);
  return {
    ...f,
    connection,
    resolvedBackend: t.backend,
    resolvedTable: t.table,
    resolvedChain: t.chain,
    family: t.family,
    comment: COMMENT_PREFIX + f.name,
    rule: describeSpec(desiredSpec(d, t)),
    inPosition: loc.inPosition,
    matchesSpec: loc.matchesSpec,
    families: loc.families,
    ...(adopted ? { adopted } : {}),
    created,
  };
}

/**
 * The state create would have written had it adopted this rule (plugin import, plugin/importing.ts): read then judges
 * drift on the rule as it is, and destroy leaves it (adopted, nothing created).
 */
export function adoptedState(f: Fields, connection: unknown, facts: HostFacts, backend?: Target["backend"]): FirewallRuleState {
  return outputsOf(f, connection, resolveTarget(ruleDesired(f), facts, backend), facts, true, []);
}

/** The desired per-family drift marker: "ok" for each family the inputs make the rule for. */
function familiesWanted(f: { source?: string; table?: string; backend: Fields["backend"] }): FirewallRuleState["families"] {
  const backend = f.backend === "auto" ? (f.table ? "nftables" : "iptables") : f.backend;
  return Object.fromEntries(familiesOf(ruleFamily(f, backend)).map((x) => [x, "ok" as const]));
}

/** Converges the rule (create and update share it): guarded change, then persistence once confirmed. */
async function converge(f: Fields, connection: unknown, owner: string | undefined, previous?: FirewallRuleState, persistAnyway = false, adoptFrom?: RuleDesired): Promise<FirewallRuleState> {
  const s = await sessionForChange(connection, label(f.name), previous?.resolvedBackend ?? f.backend);
  const ctx = { session: s, resource: label(f.name), owner };
  return serialized(s, async () => {
    const facts = await fresh(s);
    const plan = planOrThrow(s, ctx.resource, () => planRuleConverge(ruleDesired(f), facts, previous?.resolvedBackend, adoptFrom));
    const t = plan.located.target;
    const door = halfOpenDoor(ruleDesired(f), t, facts);
    if (door) log.warn(`${ctx.resource} on ${s.conn.host}:${s.conn.port}: ${door}`);
    // Adopted: a family's rule is an admin's own, kept as it is (the other family's may still be added as ours).
    const kept = plan.located.parts.filter((l) => l.adopted && l.inPosition && l.matchesSpec);
    const adopted = kept.length > 0;
    if (adopted && !previous) {
      for (const l of kept) {
        log.info(`${ctx.resource} on ${s.conn.host}:${s.conn.port}: adopted the existing rule "${describeSpec(l.ours[0].spec)}" in ${t.backend}${l.target.family === "ipv6" ? " (IPv6)" : ""} ${t.table} ${t.chain} as it is (no sftp-jail comment added; destroy leaves it)`);
      }
    } else if (!previous && plan.located.parts.some((l) => !l.adopted && l.ours.length)) {
      // Our comment is on the host already (a lost or stale state): the rule is this resource's, recorded or not.
      log.info(
        `${ctx.resource} on ${s.conn.host}:${s.conn.port}: ${createdRule(ownedBy(facts, owner), f.name) ? "took back the rule that sftp-jail inserted (the host's record says so; this stack's state did not know it)" : "found a rule carrying its comment though not in the host's record: taken as sftp-jail's"} in ${t.backend} ${t.table} ${t.chain}; destroy removes it`,
      );
    }
    let after = (await applyGuarded(ctx, plan)) ?? facts;
    const before = previous ? qualifyCreated(previous.created ?? [], targetOf(previous), facts) : [];
    // A state that forgot this rule: what sftp-jail's earlier changes created in its nft tables, as the host's record
    // says, for objects that are still those very ones (same handles).
    const recorded = previous ? [] : nftTablesOf(t, facts).flatMap((nt) => createdNft(ownedBy(facts, owner), nt));
    const created = [...new Set([...before, ...recorded, ...createdObjects(t, facts, after)])];
    if (f.persist && (plan.steps.length || persistAnyway)) {
      const persist = planOrThrow(s, ctx.resource, () => planPersistRule(t, after, undefined, f.name));
      after = (await apply(ctx, persist)) ?? after;
    } else if (!f.persist && previous?.persist) {
      // persist turned off: the saved files go back to what they were (or are re-saved without this rule).
      after = (await apply(ctx, tryPlan(() => planUnpersistRule(t, after, f.name)))) ?? after;
    }
    const outs = outputsOf(f, connection, t, after, adopted, created);
    if (!outs.inPosition || !outs.matchesSpec) {
      log.warn(`${ctx.resource}: the rule is not in place after the change (another tool may be editing ${t.table} ${t.chain})`);
    }
    return outs;
  });
}

export async function check(olds: unknown, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const rest = { ...news };
  for (const k of DRIFT_KEYS) delete rest[k];
  const { inputs, failures } = checkInputs(firewallRuleShape, rest);
  const keys = Object.keys(firewallRuleShape);
  const markers: Record<string, unknown> = { inPosition: true, matchesSpec: true };
  if (!failures.length && !keys.some((k) => containsUnknown(inputs[k]))) {
    // Cross-field rules (port xor ports, table only for nftables), once every field is known.
    const r = fieldsSchema.safeParse(Object.fromEntries(keys.filter((k) => inputs[k] !== undefined).map((k) => [k, inputs[k]])));
    if (!r.success) failures.push(...failuresOf(r.error));
    else {
      markers.families = familiesWanted(r.data);
      // The preview-time look at the host: its preconditions with this rule's backend (a host without it gets no
      // change at all), and a half-open IPv6 door, told now rather than found later by an IPv6 client.
      if (!containsUnknown(inputs.connection)) {
        const f = fields(inputs);
        const { failures: hostFailures, look } = await lookAtHost(inputs.connection, label(f.name), {}, f.backend);
        failures.push(...hostFailures);
        // The same refusal create makes, told at preview: a DROP/REJECT that would cut established SSH sessions.
        if (look) {
          try {
            refuseSshCut(ruleDesired(f), look.facts);
          } catch (e) {
            if (!(e instanceof PlanError)) throw e;
            failures.push({ property: "state", reason: `${e.what} on ${look.s.target}. Fix: ${e.fix}` });
          }
        }
        try {
          const existing = !!olds && typeof olds === "object" && Object.keys(olds).length > 0;
          const door = look && halfOpenDoor(ruleDesired(f), resolveTarget(ruleDesired(f), look.facts), look.facts, existing);
          if (door && look) log.warn(`${label(f.name)} on ${look.s.conn.host}:${look.s.conn.port}: ${door}`);
        } catch (e) {
          log.debug(`${TYPE}: preview-time IPv6 check skipped: ${(e as Error).message}`);
        }
      }
    }
  }
  return { inputs: { ...inputs, ...markers }, failures };
}

export async function diff(_id: string, olds: FirewallRuleState, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const differs = (k: string) => JSON.stringify(news[k] ?? null) !== JSON.stringify((olds as unknown as Record<string, unknown>)[k] ?? null);
  const replaces = ["name", "backend", "chain", "table"].filter(differs);
  if (!sameMachine(olds.connection, news.connection)) replaces.push("connection");
  const fieldChanged = ["protocol", "port", "ports", "source", "state", "action", "position", "persist"].some(differs);
  const drift = olds.inPosition === false || olds.matchesSpec === false || Object.values(olds.families ?? {}).some((v) => v !== "ok");
  // A rule whose families changed is converged in place: the new family's rule goes in before the old one goes out
  // (state written before IPv6 twins has family "ipv4" for a rule without source, which is now for both families).
  const familyChanged = news.source !== UNKNOWN && news.table !== UNKNOWN && olds.family !== undefined &&
    ruleFamily({ source: news.source as string | undefined, table: news.table as string | undefined }, olds.resolvedBackend) !== olds.family;
  return {
    changes: replaces.length > 0 || fieldChanged || drift || familyChanged || JSON.stringify(olds.connection) !== JSON.stringify(news.connection),
    replaces,
    // The new rule may reuse the old comment; the old one must be gone first or create would adopt it.
    deleteBeforeReplace: true,
  };
}

export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const f = fields(inputs);
  // An existing rule with exactly this spec (an admin's hand-made opening) is adopted instead of duplicated.
  const outs = await converge(f, inputs.connection, ownerOf(inputs), undefined, false, ruleDesired(f));
  return { id: `firewall/${f.name}`, outs };
}

export async function read(id: string, props?: FirewallRuleState): Promise<pulumi.dynamic.ReadResult> {
  if (!props) throw new Error(`${TYPE} ${id}: cannot read without prior state (import is not supported by dynamic providers)`);
  const f = fields(props as unknown as Record<string, unknown>);
  const s = sessionFor(props.connection, label(f.name));
  const t = targetOf(props);
  // A read plans no change, so this phase's snapshot will do (every apply of this process refreshed it in the same
  // exec): the refresh of a host stays one exec. Changes still plan on a fresh snapshot (converge, remove).
  const facts = await serialized(s, () => observe(s));
  const loc = locateRule(ruleDesired(f), t, facts, props.adopted ? ruleDesired(f) : undefined);
  // Deleted by hand in every family: refresh drops it and the next up recreates it. A family's rule alone missing
  // (an ip6tables twin, say) is drift of that family.
  if (![...loc.parts, ...loc.strays].some((l) => l.ours.length)) return {};
  const drift = { inPosition: loc.inPosition, matchesSpec: loc.matchesSpec, families: loc.families };
  const outs: FirewallRuleState = { ...props, ...drift };
  // Inputs stay the program's; only the drift markers carry what was observed, so a preview shows them changing.
  const inputs: Record<string, unknown> = { connection: props.connection, ...drift };
  for (const k of Object.keys(firewallRuleShape)) if ((props as unknown as Record<string, unknown>)[k] !== undefined) inputs[k] = (props as unknown as Record<string, unknown>)[k];
  return { id, props: outs, inputs };
}

export async function update(_id: string, olds: FirewallRuleState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const f = fields(news);
  // An adopted rule is found by the spec it had; if the new spec differs, it is replaced by ours.
  const adoptFrom = olds.adopted ? ruleDesired(fields(olds as unknown as Record<string, unknown>)) : undefined;
  const outs = await converge(f, news.connection, ownerOf(news), olds, !olds.persist, adoptFrom);
  return { outs };
}

async function remove(_id: string, props: FirewallRuleState): Promise<void> {
  const f = fields(props as unknown as Record<string, unknown>);
  const s = await sessionForChange(props.connection, label(f.name), props.resolvedBackend);
  const ctx = { session: s, resource: label(f.name) };
  const t = targetOf(props);
  await serialized(s, async () => {
    const facts = await fresh(s);
    // Only rules carrying our comment are removed: an adopted rule (the admin's own) stays where it was.
    const plan = planOrThrow(s, ctx.resource, () => planRuleDelete(ruleDesired(f), t, facts, props.created));
    // Removing a rule can lock out too (an ACCEPT for SSH in front of a REJECT), so it is guarded like a change.
    // Even with our rule gone already, a persisted file may still wait to be put back.
    const after = (await applyGuarded(ctx, plan)) ?? facts;
    const onlyIf = f.persist ? undefined : COMMENT_PREFIX + f.name;
    // Without persist, a distro we cannot persist on is not an error: there is no saved file to clean. An adopted
    // rule never carried our comment, so no saved file can mention it: nothing to re-save.
    const persist = f.persist
      ? planOrThrow(s, ctx.resource, () => planUnpersistRule(t, after, f.name))
      : props.adopted
        ? []
        : tryPlan(() => planPersistRule(t, after, onlyIf));
    await apply(ctx, persist);
  });
}
export { remove as delete };

function tryPlan(f: () => Plan): Plan {
  try {
    return f();
  } catch {
    return [];
  }
}
