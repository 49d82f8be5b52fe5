/**
 * FirewallRule planner and parsers, on firewall facts captured from real sandbox hosts. test/unit/fixtures/firewall-*.txt
 * is the raw output of the provider's own probe (`firewall.command` in provider/observe/facts.ts), parsed here by its
 * own parser. Captured with: `sandbox.sh up fw-1`, the admin rules named in each describe() via `sandbox.sh console`,
 * then `sandbox.sh console fw-1 "$(node -p 'require("./bin/provider/observe/facts").firewall.command')"`.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { HostFacts, firewall } from "../../provider/observe/facts";
import {
  RuleDesired,
  chooseBackend,
  createdObjects,
  locate,
  parseCidr,
  planPersist,
  planRuleConverge,
  planRuleDelete,
  planUnpersist,
  qualifyCreated,
  resolveTarget,
} from "../../provider/plan/firewall";
import { iptablesRule, parseIptablesSave, tokenize } from "../../provider/observe/iptables";
import { PlanError } from "../../provider/plan/types";
import { restoreFileSh, writeFileSh } from "../../provider/plan/atomic";
import { quoteArg } from "../../provider/util/shell";
import { debian12 } from "./fixtures";

/** Debian 12 facts with the firewall section of a capture (optionally edited, to describe drift). */
function withFirewall(name: string, edit: (raw: string) => string = (s) => s): HostFacts {
  const raw = fs.readFileSync(path.join(__dirname, "fixtures", `firewall-${name}.txt`), "utf8");
  return { ...debian12(), firewall: firewall.parse(edit(raw)) };
}

const rule = (over: Partial<RuleDesired> = {}): RuleDesired => ({
  name: "new",
  backend: "auto",
  protocol: "tcp",
  ports: [2022],
  state: ["NEW"],
  action: "ACCEPT",
  position: "beforeReject",
  ...over,
});
const partnerA = rule({ name: "partner-a", ports: [2222, 2223], source: "198.51.100.0/24" });
const scripts = (p: { steps: ReadonlyArray<{ script: string }> }) => p.steps.map((s) => s.script);

describe("parseCidr", () => {
  it("accepts IPv4 networks and bare addresses, in the form iptables-save prints", () => {
    expect(parseCidr("198.51.100.0/24")).toEqual({ family: "ipv4", text: "198.51.100.0/24", any: false });
    expect(parseCidr("203.0.113.7").text).toBe("203.0.113.7/32");
    expect(parseCidr("0.0.0.0/0").any).toBe(true);
  });

  it("canonicalises IPv6 the way inet_ntop does", () => {
    expect(parseCidr("2001:DB8:0:0:0::/32").text).toBe("2001:db8::/32");
    expect(parseCidr("2001:db8:0:1:0:0:0:1").text).toBe("2001:db8:0:1::1/128");
    expect(parseCidr("::/0")).toEqual({ family: "ipv6", text: "::/0", any: true });
  });

  it("refuses host bits, naming the network to write instead", () => {
    expect(() => parseCidr("198.51.100.7/24")).toThrow(/host bits set; the network is 198\.51\.100\.0\/24/);
    expect(() => parseCidr("2001:db8::1/32")).toThrow(/the network is 2001:db8::\/32/);
  });

  it.each(["10.0.0.256/8", "010.0.0.0/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8/9", "fe80::1%eth0", "1.2.3.4 ", "::g/64", "2001:db8::/129", "example.com"])(
    "refuses %j",
    (s) => expect(() => parseCidr(s)).toThrow(),
  );
});

describe("iptables-save parsing", () => {
  it("tokenizes quoted comments with escapes", () => {
    expect(tokenize('-A INPUT -m comment --comment "a \\"b\\" c" -j ACCEPT')).toEqual(["-A", "INPUT", "-m", "comment", "--comment", 'a "b" c', "-j", "ACCEPT"]);
  });

  it("reads rules of the filter table in order, ignoring counters and other tables", () => {
    const t = parseIptablesSave("*nat\n-A PREROUTING -j ACCEPT\nCOMMIT\n*filter\n:INPUT DROP [1:2]\n[3:4] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n");
    expect(t).toEqual({
      chains: [{ name: "INPUT", policy: "DROP" }],
      rules: [
        {
          chain: "INPUT",
          args: ["-p", "tcp", "-m", "tcp", "--dport", "22", "-j", "ACCEPT"],
          // Read once, here: planners take the spec and comment from the fact.
          spec: { family: "ipv4", protocol: "tcp", ports: [22], source: null, state: [], action: "ACCEPT", extra: [] },
          comment: null,
        },
      ],
    });
    expect(parseIptablesSave("*filter\n-A INPUT -s ::1/128 -j DROP\nCOMMIT\n", "ipv6")!.rules[0].spec).toMatchObject({ family: "ipv6", source: "::1/128", action: "DROP" });
    expect(parseIptablesSave("")).toBeNull();
  });

  it("flags matches sftp-jail does not write as extra, so an edited rule is drift", () => {
    const { spec, comment } = iptablesRule(["-i", "eth0", "-p", "tcp", "-m", "tcp", "--dport", "22", "-m", "comment", "--comment", "sftp-jail:x", "-j", "ACCEPT"], "ipv4");
    expect(comment).toBe("sftp-jail:x");
    expect(spec.extra).toEqual(["-i", "eth0"]);
  });
});

describe("backend choice", () => {
  it("uses the backend that already holds filter rules", () => {
    expect(chooseBackend(withFirewall("iptables-nft"))).toBe("iptables");
    expect(chooseBackend(withFirewall("nftables"))).toBe("nftables");
    expect(chooseBackend(withFirewall("iptables-legacy"))).toBe("iptables-legacy");
  });

  it("falls back to the default iptables on a host with no rules", () => {
    expect(chooseBackend(withFirewall("empty"))).toBe("iptables");
  });

  it("refuses to guess when two backends filter", () => {
    const both = withFirewall("nftables");
    both.firewall.iptables = withFirewall("iptables-nft").firewall.iptables;
    expect(() => chooseBackend(both)).toThrow(/ambiguous: filter rules exist in nftables and iptables/);
  });

  it("refuses a table for iptables and an IPv6 source for an ip table", () => {
    const f = withFirewall("iptables-nft");
    expect(() => resolveTarget(rule({ table: "inet filter" }), f)).toThrow(/applies to nftables only/);
    expect(() => resolveTarget(rule({ backend: "nftables", table: "ip filter", source: "2001:db8::/32" }), f)).toThrow(/is ipv6 but table "ip filter"/);
  });
});

describe("iptables planner (captured iptables-nft host: ACCEPT 22, ACCEPT icmp, sftp-jail:partner-a, REJECT)", () => {
  const facts = withFirewall("iptables-nft");

  it("finds an existing rule by its comment and plans nothing", () => {
    const p = planRuleConverge(partnerA, facts);
    expect(p.located.inPosition && p.located.matchesSpec).toBe(true);
    expect(p.steps).toEqual([]);
  });

  it("inserts beforeReject just before the first REJECT/DROP, after saving the table for revert", () => {
    const p = planRuleConverge(rule(), facts);
    expect(scripts(p)).toEqual([
      "mkdir -p /run/sftp-jail/firewall && { iptables-save -c -t filter 2>/dev/null || true; } > /run/sftp-jail/firewall/new.v4" +
        // iptables-nft: which nft chains of `ip filter` exist (or that the table does not), for an exact revert.
        " && { if command -v nft >/dev/null && nft list table ip filter >/dev/null 2>&1; then echo table; nft list table ip filter 2>/dev/null | sed -n 's/^[[:space:]]*chain \\([^ ]*\\) {$/\\1/p'; else echo none; fi; } > /run/sftp-jail/firewall/new.v4.chains",
      "iptables -w -t filter -I INPUT 4 -p tcp -m tcp --dport 2022 -m conntrack --ctstate NEW -m comment --comment sftp-jail:new -j ACCEPT",
      // No source: for IPv6 too. The host filters IPv6 (its ip6tables ends in DROP), so the twin goes before that DROP.
      "mkdir -p /run/sftp-jail/firewall && { ip6tables-save -c -t filter 2>/dev/null || true; } > /run/sftp-jail/firewall/new.v6" +
        " && { if command -v nft >/dev/null && nft list table ip6 filter >/dev/null 2>&1; then echo table; nft list table ip6 filter 2>/dev/null | sed -n 's/^[[:space:]]*chain \\([^ ]*\\) {$/\\1/p'; else echo none; fi; } > /run/sftp-jail/firewall/new.v6.chains",
      "ip6tables -w -t filter -I INPUT 2 -p tcp -m tcp --dport 2022 -m conntrack --ctstate NEW -m comment --comment sftp-jail:new -j ACCEPT",
    ]);
    // Reverts run in the reverse order: the twin first.
    expect(scripts({ steps: p.revert })[0]).toMatch(/^\{ while ip6tables -w -t filter -D INPUT -p tcp -m tcp --dport 2022 .*sftp-jail:new -j ACCEPT 2>\/dev\/null; do :; done; \} && /);
    const [, revert] = scripts({ steps: p.revert });
    // The exact inverse of an insert: delete it (iptables-nft's restore would re-create the whole table).
    expect(revert).toMatch(/^\{ while iptables -w -t filter -D INPUT -p tcp -m tcp --dport 2022 .*sftp-jail:new -j ACCEPT 2>\/dev\/null; do :; done; \} && /);
    // Then what the change (or the restore) created in nft goes: the table when it was absent and holds no rule now,
    // else every chain that was not listed before (nft refuses to delete a chain that still has rules).
    expect(revert).toContain("if ! iptables-save -t filter 2>/dev/null | grep -q '^-A'; then nft delete table ip filter 2>/dev/null || true; fi;");
    expect(revert).toContain(`tail -n +2 /run/sftp-jail/firewall/new.v4.chains | grep -qxF -- "$c" || nft delete chain ip filter "$c" 2>/dev/null || true`);
  });

  it("destroy removes the nft table or chains its create made, and only once they hold no other rule", () => {
    const t = resolveTarget(partnerA, facts);
    expect(scripts(planRuleDelete(partnerA, t, facts, ["table"])).slice(1)).toEqual([
      expect.stringMatching(/^iptables -w -t filter -D INPUT .*sftp-jail:partner-a/),
    ]); // the admin's rules are still in the table: it stays
    const alone = withFirewall("iptables-nft", (raw) => raw.split("\n").filter((l) => !/^-A INPUT/.test(l) || l.includes("partner-a")).join("\n"));
    expect(scripts(planRuleDelete(partnerA, t, alone, ["table"])).slice(2)).toEqual(["nft delete table ip filter"]);
    expect(scripts(planRuleDelete(partnerA, t, alone, [])).slice(2)).toEqual([]); // it was there before: it stays
  });

  it("knows which nft objects a change created", () => {
    const t = resolveTarget(rule(), facts);
    const none = withFirewall("empty");
    expect(createdObjects(t, facts, facts)).toEqual([]);
    // The captured empty host had neither table; each entry names its nft table.
    expect(createdObjects(t, none, facts)).toEqual(["ip filter:table", "ip6 filter:table"]);
    // A chain the table did not have before (iptables-nft creates built-in chains on demand).
    const noInput = withFirewall("iptables-nft", (raw) => raw.replace(/\{"chain": \{"family": "ip", "table": "filter", "name": "INPUT"[^}]*\}\}, /, ""));
    expect(createdObjects(t, noInput, facts)).toEqual(["ip filter:chain:INPUT"]);
    // State written before each entry named its table meant the target's one table.
    expect(qualifyCreated(["table", "chain:INPUT", "ip6 filter:table"], { ...t, family: "ipv4" }, facts)).toEqual(["ip filter:table", "ip filter:chain:INPUT", "ip6 filter:table"]);
  });

  it("puts top first and bottom last, with multiport for several ports", () => {
    expect(scripts(planRuleConverge(rule({ position: "top", ports: [2, 1], state: [] }), facts))[1]).toBe(
      "iptables -w -t filter -I INPUT 1 -p tcp -m multiport --dports 1,2 -m comment --comment sftp-jail:new -j ACCEPT",
    );
    expect(scripts(planRuleConverge(rule({ position: "bottom", protocol: "udp", action: "DROP" }), facts))[1]).toBe(
      "iptables -w -t filter -A INPUT -p udp -m udp --dport 2022 -m conntrack --ctstate NEW -m comment --comment sftp-jail:new -j DROP",
    );
  });

  it("reports a rule moved behind the REJECT and moves it back", () => {
    const moved = withFirewall("iptables-nft", (raw) => {
      const line = raw.split("\n").find((l) => l.includes("sftp-jail:partner-a"))!;
      return raw.replace(line + "\n", "").replace("-A INPUT -j REJECT --reject-with icmp-port-unreachable\n", `-A INPUT -j REJECT --reject-with icmp-port-unreachable\n${line}\n`);
    });
    const p = planRuleConverge(partnerA, moved);
    expect(p.located.inPosition).toBe(false);
    expect(p.located.matchesSpec).toBe(true);
    expect(scripts(p).slice(1)).toEqual([
      "iptables -w -t filter -D INPUT -s 198.51.100.0/24 -p tcp -m multiport --dports 2222,2223 -m conntrack --ctstate NEW -m comment --comment sftp-jail:partner-a -j ACCEPT",
      "iptables -w -t filter -I INPUT 3 -s 198.51.100.0/24 -p tcp -m multiport --dports 2222,2223 -m conntrack --ctstate NEW -m comment --comment sftp-jail:partner-a -j ACCEPT",
    ]);
    // Its revert deletes the rule put back and re-inserts the moved one where it was (4th, behind the REJECT).
    expect(scripts({ steps: p.revert })[0]).toMatch(
      /^\{ while iptables -w -t filter -D INPUT -s 198\.51\.100\.0\/24 .*; do :; done && iptables -w -t filter -I INPUT 4 -s 198\.51\.100\.0\/24 -p tcp -m multiport --dports 2222,2223 -m conntrack --ctstate NEW -m comment --comment sftp-jail:partner-a -j ACCEPT; \} && /,
    );
  });

  it("top holds behind other sftp-jail rules only; bottom holds before them only", () => {
    const loc = locate(rule({ name: "partner-a", position: "top" }), resolveTarget(partnerA, facts), facts);
    expect(loc.inPosition).toBe(false); // ACCEPT 22 and icmp are foreign rules in front of it
    expect(locate({ ...partnerA, position: "bottom" }, resolveTarget(partnerA, facts), facts).inPosition).toBe(false);
  });

  it("rewrites an edited rule and removes duplicates", () => {
    const edited = planRuleConverge({ ...partnerA, state: [] }, facts);
    expect(edited.located.matchesSpec).toBe(false);
    expect(scripts(edited)[1]).toMatch(/^iptables -w -t filter -D INPUT .*--ctstate NEW/);
    expect(scripts(edited)[2]).not.toMatch(/conntrack/);
    const dup = withFirewall("iptables-nft", (raw) => raw.replace(/(-A INPUT -s 198[^\n]*\n)/, "$1$1"));
    const p = planRuleConverge(partnerA, dup);
    expect(p.located.parts[0].ours).toHaveLength(2);
    expect(p.located.families).toEqual({ ipv4: "duplicated" });
    expect(scripts(p).filter((s) => s.includes(" -D INPUT "))).toHaveLength(2);
  });

  it("uses ip6tables for an IPv6 source and finds the captured v6 rule in place", () => {
    const v6 = rule({ name: "partner-v6", source: "2001:DB8::/32", ports: [2222], state: [] });
    const p = planRuleConverge({ ...v6, source: parseCidr(v6.source!).text }, facts);
    expect(p.located.target).toEqual({ backend: "iptables", family: "ipv6", table: "filter", chain: "INPUT" });
    expect(p.steps).toEqual([]);
    expect(scripts(planRuleConverge(rule({ source: "2001:db8::/32" }), facts))[1]).toBe(
      "ip6tables -w -t filter -I INPUT 2 -s 2001:db8::/32 -p tcp -m tcp --dport 2022 -m conntrack --ctstate NEW -m comment --comment sftp-jail:new -j ACCEPT",
    );
  });

  it("deletes exactly our rule by the tokens iptables-save printed", () => {
    const t = resolveTarget(partnerA, facts);
    expect(scripts(planRuleDelete(partnerA, t, facts)).slice(1)).toEqual([
      "iptables -w -t filter -D INPUT -s 198.51.100.0/24 -p tcp -m multiport --dports 2222,2223 -m conntrack --ctstate NEW -m comment --comment sftp-jail:partner-a -j ACCEPT",
    ]);
    expect(planRuleDelete(rule(), t, facts).steps).toEqual([]);
  });

  it("refuses a REJECT/DROP on sshd's port that would cut established sessions, and guards one limited to NEW", () => {
    expect(() => planRuleConverge(rule({ ports: [22], action: "DROP", state: [] }), facts)).toThrow(PlanError);
    expect(() => planRuleConverge(rule({ ports: [22, 80], action: "REJECT", state: ["NEW", "ESTABLISHED"] }), facts)).toThrow(
      /tcp port 22 \(the port sshd listens on\).*state NEW/,
    );
    const ok = planRuleConverge(rule({ ports: [22], action: "DROP", state: ["NEW"], position: "top" }), facts);
    expect(scripts(ok)[1]).toBe("iptables -w -t filter -I INPUT 1 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment sftp-jail:new -j DROP");
    expect(() => planRuleConverge(rule({ ports: [22], action: "DROP", protocol: "udp", state: [] }), facts)).not.toThrow();
  });

  it("re-saves after deleting a rule without persist only if the saved file still mentions it", () => {
    const [st] = planPersist(resolveTarget(rule(), facts), facts, "sftp-jail:new");
    expect(st.script).toMatch(/^if grep -qF -- sftp-jail:new \/etc\/iptables\/rules\.v4 2>\/dev\/null; then mkdir -p \/etc\/iptables && .*\{ iptables-save; \} > .*; fi$/);
  });

  it("persists to /etc/iptables/rules.v4 atomically on Debian", () => {
    // The one atomic write (plan/atomic.ts; its own tests run it): temp file beside the target, mode, fsync, rename.
    const save = `mkdir -p /etc/iptables && ${writeFileSh({ target: "/etc/iptables/rules.v4", tmp: "/etc/iptables/rules.v4.sftp-jail.tmp", dir: "/etc/iptables", content: "iptables-save", attrs: { mode: "0640" } })}`;
    const sha = "sha256sum < /etc/iptables/rules.v4 | cut -c1-64 > /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.sha256";
    expect(scripts({ steps: planPersist(resolveTarget(rule(), facts), facts) })).toEqual([`${save} && { if [ -e /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.sha256 ]; then ${sha}; fi; }`]);
    // A rule with persist: the file as it was (or its absence, and its directory's) is kept before the first write.
    expect(scripts({ steps: planPersist(resolveTarget(rule(), facts), facts, undefined, "new") })).toEqual([
      "install -d -m 0700 /var/lib/sftp-jail/firewall && " +
        "{ [ -e /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.orig ] || [ -e /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.absent ] || " +
        "if [ -e /etc/iptables/rules.v4 ]; then cp -p /etc/iptables/rules.v4 /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.orig; " +
        "else : > /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.absent && { [ -d /etc/iptables ] || : > /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.mkdir; }; fi; } && " +
        "install -d -m 0700 /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.rules && : > /var/lib/sftp-jail/firewall/etc_iptables_rules.v4.rules/new && " +
        `${save} && ${sha}`,
    ]);
  });

  it("puts the saved file back byte for byte when its last persisting rule goes and nobody edited it since", () => {
    const [st] = planUnpersist(resolveTarget(rule(), facts), facts, "new");
    const k = "/var/lib/sftp-jail/firewall/etc_iptables_rules.v4";
    expect(st.script).toContain(`rm -f ${k}.rules/new; if [ -e ${k}.sha256 ] && [ -z "$(ls -A ${k}.rules 2>/dev/null)" ]; then`);
    expect(st.script).toContain(`if [ "$(sha256sum < /etc/iptables/rules.v4 2>/dev/null | cut -c1-64)" = "$(cat ${k}.sha256)" ]; then`);
    expect(st.script).toContain(`if [ -e ${k}.orig ]; then ${restoreFileSh(`${k}.orig`, "/etc/iptables/rules.v4", "/etc/iptables", "/etc/iptables/rules.v4.sftp-jail.tmp")};`);
    expect(st.script).toContain(`else rm -f /etc/iptables/rules.v4 && { [ ! -e ${k}.mkdir ] || rmdir /etc/iptables 2>/dev/null || true; }; fi`);
    expect(st.script).toContain(`rm -rf ${k}.orig ${k}.absent ${k}.mkdir ${k}.rules ${k}.sha256`);
  });
});

describe("iptables-legacy planner (captured host: legacy rules beside a default iptables-nft)", () => {
  const facts = withFirewall("iptables-legacy");

  it("reads and writes through the -legacy binaries", () => {
    const found = planRuleConverge(rule({ name: "legacy-a", ports: [2222], state: [], position: "beforeReject" }), facts);
    expect(found.located.target.backend).toBe("iptables-legacy");
    expect(found.steps).toEqual([]);
    const p = planRuleConverge(rule(), facts);
    expect(scripts(p)[0]).toContain("iptables-legacy-save -c -t filter");
    expect(scripts(p)[1]).toBe("iptables-legacy -w -t filter -I INPUT 3 -p tcp -m tcp --dport 2022 -m conntrack --ctstate NEW -m comment --comment sftp-jail:new -j ACCEPT");
    expect(scripts({ steps: p.revert })[0]).toMatch(/^while iptables-legacy -w -t filter -D INPUT .*sftp-jail:new -j ACCEPT 2>\/dev\/null; do :; done$/);
  });

  it("writes IPv6 through ip6tables-legacy (the host has no legacy IPv6 table: no twin for a rule without source)", () => {
    expect(scripts(planRuleConverge(rule({ source: "2001:db8::/32" }), facts))[1]).toBe(
      "ip6tables-legacy -w -t filter -A INPUT -s 2001:db8::/32 -p tcp -m tcp --dport 2022 -m conntrack --ctstate NEW -m comment --comment sftp-jail:new -j ACCEPT",
    );
    expect(planRuleConverge(rule(), facts).located.parts.map((l) => l.target.family)).toEqual(["ipv4"]);
  });
});

describe("nftables planner (captured host: inet filter input with accept 22, sftp-jail:partner-a, icmp, reject)", () => {
  const facts = withFirewall("nftables");

  it("finds the rule in nft JSON by its comment and plans nothing", () => {
    const p = planRuleConverge(partnerA, facts);
    expect(p.located.target).toEqual({ backend: "nftables", family: "ipv4", table: "inet filter", chain: "input" });
    expect(p.steps).toEqual([]);
  });

  it("inserts before the reject by handle, with nft tokens built from validated parts", () => {
    const p = planRuleConverge(rule({ source: "2001:db8::/32", ports: [2022, 2023], state: ["ESTABLISHED", "NEW"] }), facts);
    expect(scripts(p)).toEqual([
      "mkdir -p /run/sftp-jail/firewall && { echo 'table inet filter'; echo 'delete table inet filter'; nft list table inet filter 2>/dev/null || true; } > /run/sftp-jail/firewall/new.nft",
      `nft insert rule inet filter input position 6 ip6 saddr 2001:db8::/32 tcp dport '{ 2022, 2023 }' ct state '{ new, established }' accept comment '"sftp-jail:new"'`,
    ]);
    // A pure insert is undone by deleting the rule that carries our comment (not by re-loading the table, which would
    // re-create it). Run by a real sh with `nft` stubbed to print a listing as `nft -a` does and record the rest.
    const [revert] = scripts({ steps: p.revert });
    const listing = [
      "table inet filter { # handle 3",
      "\tchain input { # handle 1",
      "\t\ttype filter hook input priority filter; policy accept;",
      "\t\ttcp dport 22 accept # handle 4",
      '\t\tip6 saddr 2001:db8::/32 tcp dport { 2022, 2023 } ct state { established, new } accept comment "sftp-jail:new" # handle 7',
      '\t\ttcp dport 2022 accept comment "sftp-jail:newer" # handle 8',
      '\t\ttcp dport 2024 accept comment "sftp-jail:neW" # handle 9',
      "\t\tcounter packets 0 bytes 0 reject # handle 5",
      "\t}",
      "}",
    ].join("\n");
    const stub = `nft() { if [ "$1" = -a ]; then printf '%s\\n' ${quoteArg(listing)}; else echo "nft $*"; fi; }`;
    expect(execFileSync("sh", ["-c", `${stub}\n${revert}`]).toString()).toBe("nft delete rule inet filter input handle 7\n");
  });

  it("deletes by handle only while that handle still carries our comment (run by sh against a stand-in nft)", () => {
    const t = resolveTarget(partnerA, facts);
    const del = planRuleDelete(partnerA, t, facts).steps.find((st) => st.script.includes("nft delete rule"))!.script;
    const run = (listing: string) =>
      execFileSync("sh", ["-c", `nft() { if [ "$1" = -a ]; then printf '%s\n' ${quoteArg(listing)}; else echo "deleted: $*"; fi; }\n${del} || echo refused`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    expect(run('\t\ttcp dport 2222 accept comment "sftp-jail:partner-a" # handle 4')).toBe("deleted: delete rule inet filter input handle 4\n");
    // rebuilt by another tool: handle 4 is now someone else's rule, ours has handle 41
    expect(run('\t\ttcp dport 80 accept # handle 4\n\t\ttcp dport 2222 accept comment "sftp-jail:partner-a" # handle 41')).toBe("refused\n");
  });

  it("moves a rule found after the reject, deleting it by handle", () => {
    const moved = withFirewall("nftables", (raw) => {
      const j = JSON.parse(raw.split("--nft\n")[1]);
      const items = j.nftables as Array<Record<string, { handle?: number }>>;
      const i = items.findIndex((x) => x.rule?.handle === 4);
      items.push(...items.splice(i, 1));
      return raw.split("--nft\n")[0] + "--nft\n" + JSON.stringify(j);
    });
    const p = planRuleConverge(partnerA, moved);
    expect(p.located.inPosition).toBe(false);
    expect(scripts(p).slice(1)).toEqual([
      expect.stringMatching(/'comment "sftp-jail:partner-a" # handle 4'.*\} && nft delete rule inet filter input handle 4$/),
      `nft insert rule inet filter input position 6 ip saddr 198.51.100.0/24 tcp dport '{ 2222, 2223 }' ct state new accept comment '"sftp-jail:partner-a"'`,
    ]);
  });

  it("creates table and base chain on a host with none, and removes them again when the last rule goes", () => {
    const empty = withFirewall("empty");
    const p = planRuleConverge(rule({ backend: "nftables", state: [] }), empty);
    expect(scripts(p).slice(1)).toEqual([
      "nft add table inet filter",
      "nft add chain inet filter input '{ type filter hook input priority filter ; policy accept ; }'",
      `nft add rule inet filter input tcp dport 2022 accept comment '"sftp-jail:new"'`,
    ]);
    expect(scripts({ steps: p.revert })[0]).toMatch(/; \[ -z "\$\{sj_failed:-\}" \] && nft delete table inet filter$/); // it was not there
    const after = withFirewall("empty", (raw) =>
      raw.replace(
        /\]\}\s*$/,
        `, {"table": {"family": "inet", "name": "filter", "handle": 9}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 2, "comment": "sftp-jail:new", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 2022}}, {"accept": null}]}}]}`,
      ),
    );
    const t = resolveTarget(rule({ backend: "nftables" }), after);
    expect(scripts(planRuleDelete(rule({ backend: "nftables", state: [] }), t, after)).slice(1)).toEqual([
      expect.stringMatching(/'comment "sftp-jail:new" # handle 2'.*\} && nft delete rule inet filter input handle 2$/),
      "nft delete table inet filter",
    ]);
    // The admin's table (more rules) stays.
    expect(scripts(planRuleDelete(partnerA, resolveTarget(partnerA, facts), facts)).slice(1)).toEqual([expect.stringMatching(/\} && nft delete rule inet filter input handle 4$/)]);
  });

  it("persists only native tables, each replaced as a whole, checked with nft -c", () => {
    const mixed = withFirewall("iptables-nft");
    const s = planPersist({ backend: "nftables", family: "any", table: "inet filter", chain: "input" }, mixed)[0].script;
    expect(s).not.toContain("ip filter"); // iptables-nft's tables are not nft's to save
    const own = planPersist({ backend: "nftables", family: "any", table: "inet filter", chain: "input" }, facts)[0].script;
    expect(own).toContain("echo 'table inet filter'; echo 'delete table inet filter'; nft list table inet filter");
    expect(own).toContain(
      "chmod 0755 /etc/nftables.conf.sftp-jail.tmp && nft -c -f /etc/nftables.conf.sftp-jail.tmp && { sync /etc/nftables.conf.sftp-jail.tmp 2>/dev/null || true; } && mv -fT /etc/nftables.conf.sftp-jail.tmp /etc/nftables.conf && { sync /etc 2>/dev/null || true; }",
    );
  });

  it("refuses a missing custom chain", () => {
    expect(() => planRuleConverge(rule({ chain: "sftp_in" }), facts)).toThrow(/chain "sftp_in" does not exist in nft table inet filter/);
  });
});

describe("a DROP or REJECT on sshd's port must spare established sessions", () => {
  const { sshPorts } = require("../../provider/plan/firewall");
  const facts = (effective: Record<string, string[]>, lport?: number): HostFacts => {
    const f = withFirewall("iptables-nft");
    return { ...f, sshd: { ...f.sshd, effective: { ...f.sshd.effective, ...effective } }, operator: { ...f.operator!, ...(lport ? { lport } : {}) } };
  };

  it("knows sshd's ports from Port, from ListenAddress host:port, and from the operator's own connection", () => {
    // `Port 2200` with `ListenAddress 0.0.0.0:22`: sshd -T says port 2200, sshd listens on 22 only.
    expect(sshPorts(facts({ port: ["2200"], listenaddress: ["0.0.0.0:22", "[::]:22"] }))).toEqual([2200, 22]);
    expect(sshPorts(facts({ port: ["2200"], listenaddress: ["0.0.0.0:2200"] }, 2222))).toEqual([2200, 2222]);
    expect(sshPorts(facts({ port: [], listenaddress: [] }))).toEqual([22]);
  });

  it("refuses a DROP on port 22 when sshd listens there only through ListenAddress", () => {
    const f = facts({ port: ["2200"], listenaddress: ["0.0.0.0:22"] });
    expect(() => planRuleConverge(rule({ ports: [22], action: "DROP", state: [], position: "top" }), f)).toThrow(/a DROP rule on tcp port 22 \(the port sshd listens on\) that is not limited to state NEW/);
    expect(() => planRuleConverge(rule({ ports: [22], action: "DROP", state: ["NEW"], position: "top" }), f)).not.toThrow();
  });
});
