/**
 * FirewallRule end to end: the real pulumi CLI converges rules on three real Debian 12 sandbox hosts — iptables-nft
 * (auto-detected), native nftables, and iptables-legacy — each with an admin ruleset that ends in a REJECT/DROP, and
 * the hosts' own tools (iptables -S, nft -j, iptables-save) are the judge. Every firewall command runs inside the
 * sandbox hosts' network namespaces; nothing touches this machine's firewall. Needs root and `pulumi` on PATH.
 */
import * as path from "path";
import { PulumiProject, RunResult, summary } from "./pulumi";
import { Sandbox, SandboxHost, run, startSandbox } from "../sandbox";

const NAMES = { ipt: "fw-e2e-ipt", nft: "fw-e2e-nft", leg: "fw-e2e-leg", bare: "fw-e2e-bare" } as const;
type HostKey = keyof typeof NAMES;

/**
 * What the admin had before sftp-jail: replies and SSH open, then a catch-all REJECT/DROP. (Replies matter even here:
 * the sandbox's forwarder reaches sshd over the host's loopback, whose return packets also cross INPUT.)
 */
const ADMIN: Record<HostKey, string> = {
  ipt: [
    "iptables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "ip6tables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "iptables -A INPUT -p tcp --dport 22 -j ACCEPT",
    "iptables -A INPUT -p icmp -j ACCEPT",
    "iptables -A INPUT -j REJECT",
    "ip6tables -A INPUT -p tcp --dport 22 -j ACCEPT",
    "ip6tables -A INPUT -j DROP",
  ].join(" && "),
  nft: [
    "nft add table inet filter",
    "nft add chain inet filter input '{ type filter hook input priority filter; policy accept; }'",
    "nft add rule inet filter input ct state established,related accept",
    "nft add rule inet filter input tcp dport 22 accept",
    "nft add rule inet filter input counter reject",
    // A second table listed after it: a revert that re-created inet filter would move it behind this one.
    "nft add table ip admin_extra",
  ].join(" && "),
  leg: ["iptables-legacy -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", "iptables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT", "iptables-legacy -A INPUT -j DROP"].join(" && "),
  // No firewall at all (no filter table in iptables-nft, no nft table): whatever a change creates must go again.
  bare: "true",
};

const RULES = [
  { host: "ipt", id: "sftp-in", port: 2222, source: "127.0.0.0/8", state: ["NEW"], position: "beforeReject", persist: true },
  { host: "ipt", id: "sftp-v6", port: 2222, source: "::/0", position: "beforeReject" },
  { host: "ipt", id: "metrics", ports: [9101, 9100], protocol: "udp", action: "DROP", position: "bottom" },
  { host: "nft", id: "sftp-in", backend: "nftables", port: 2222, state: ["NEW"], position: "beforeReject", persist: true },
  { host: "nft", id: "web", backend: "nftables", port: 8080, position: "top" },
  { host: "leg", id: "sftp-in", backend: "iptables-legacy", port: 2222, position: "beforeReject" },
];

let sb: Sandbox;
const hosts = {} as Record<HostKey, SandboxHost>;
let proj: PulumiProject;
let baseline: Record<HostKey, string>;
let files: Record<HostKey, string>;

/**
 * The distro's saved rulesets, byte for byte (sha256, mode, owner, size) or their absence, and sftp-jail's own
 * bookkeeping of them: `persist` may change these only while a rule wants it.
 */
async function savedFiles(h: SandboxHost): Promise<string> {
  const r = await h.console(
    "for f in /etc/nftables.conf /etc/iptables /etc/iptables/rules.v4 /etc/iptables/rules.v6; do if [ -e $f ]; then stat -c '%n %a %U:%G %s' $f; [ -f $f ] && sha256sum $f; else echo \"$f absent\"; fi; done; ls -A /var/lib/sftp-jail/firewall 2>/dev/null; true",
  );
  return r.stdout;
}

function configure(rules: object[]): void {
  const hostCfg = Object.fromEntries(Object.entries(hosts).map(([k, h]) => [k, { port: h.port, hostKey: h.hostKey }]));
  proj.setConfig({ hosts: hostCfg, keyFile: sb.keyPath, perDialTimeout: 2, rules });
}

async function ok(p: Promise<RunResult>, what: string): Promise<RunResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`pulumi ${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * Every ruleset of a host, minus comment lines and counters: what "unchanged" is judged on. iptables (nft and legacy,
 * v4 and v6) by their save output, and the whole nft ruleset, every family: iptables-nft keeps its tables there, so an
 * empty `ip filter` table or a built-in chain that a change or a restore created and left behind shows up.
 */
async function ruleset(h: SandboxHost): Promise<string> {
  const r = await h.console(
    "for s in iptables-save ip6tables-save iptables-legacy-save ip6tables-legacy-save; do echo \"== $s\"; $s 2>/dev/null; done; echo '== nft'; nft list ruleset",
  );
  return r.stdout
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .map((l) => l.replace(/ \[\d+:\d+\]/, "").replace(/^\[\d+:\d+\] /, "").replace(/counter packets \d+ bytes \d+/, "counter"))
    .join("\n");
}

/** Rule lines of an iptables chain, comments unquoted (`iptables -S`). */
async function chain(h: SandboxHost, bin: string): Promise<string[]> {
  const r = await h.console(`${bin} -S INPUT`);
  return r.stdout.split("\n").filter((l) => l.startsWith("-A ")).map((l) => l.replace(/"/g, ""));
}

/** The nft input chain as a list: the sftp-jail comment of each rule, or its verdict for the admin's rules. */
async function nftChain(h: SandboxHost): Promise<string[]> {
  const j = JSON.parse((await h.console("nft -j list chain inet filter input")).stdout) as { nftables: Array<Record<string, any>> };
  return j.nftables
    .filter((x) => x.rule)
    .map((x) => x.rule.comment ?? (x.rule.expr.some((e: object) => "reject" in e) ? "REJECT" : x.rule.expr.some((e: object) => "accept" in e) ? "ACCEPT" : "?"));
}

const idx = (lines: string[], needle: string) => lines.findIndex((l) => l.includes(needle));

/** A fresh login with the real OpenSSH client: the host still lets the operator in. */
async function expectLogin(h: SandboxHost): Promise<void> {
  const r = await run([
    "ssh", "-F", "/dev/null", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-i", sb.keyPath, "-p", String(h.port), "root@127.0.0.1", "echo operator-ok",
  ]);
  expect(r.stdout.trim()).toBe("operator-ok");
}

async function expectPlaced(): Promise<void> {
  const ipt = await chain(hosts.ipt, "iptables");
  expect(idx(ipt, "sftp-jail:sftp-in")).toBe(idx(ipt, "-j REJECT") - 1); // just before the admin's REJECT
  expect(idx(ipt, "sftp-jail:metrics")).toBe(ipt.length - 1);
  expect(ipt[idx(ipt, "sftp-jail:sftp-in")]).toBe(
    "-A INPUT -s 127.0.0.0/8 -p tcp -m tcp --dport 2222 -m conntrack --ctstate NEW -m comment --comment sftp-jail:sftp-in -j ACCEPT",
  );
  expect(ipt[idx(ipt, "sftp-jail:metrics")]).toContain("-p udp -m multiport --dports 9100,9101");
  const ip6 = await chain(hosts.ipt, "ip6tables");
  expect(idx(ip6, "sftp-jail:sftp-v6")).toBe(idx(ip6, "-j DROP") - 1);
  expect(idx(ip6, "sftp-jail:metrics")).toBe(ip6.length - 1); // no source: its ip6tables twin, also at the bottom
  expect(await nftChain(hosts.nft)).toEqual(["sftp-jail:web", "ACCEPT", "ACCEPT", "sftp-jail:sftp-in", "REJECT"]);
  const leg = await chain(hosts.leg, "iptables-legacy");
  expect(leg.map((l) => l.includes("sftp-jail:sftp-in") ? "ours" : l)).toEqual([
    "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT",
    "ours",
    "-A INPUT -j DROP",
  ]);
}

beforeAll(async () => {
  // Fresh hosts: a host left running by an earlier run would carry its rules.
  await run(["bash", path.join(__dirname, "../sandbox/sandbox.sh"), "down", ...Object.values(NAMES)]);
  sb = await startSandbox(Object.values(NAMES));
  for (const k of Object.keys(NAMES) as HostKey[]) hosts[k] = sb.hosts.find((h) => h.name === NAMES[k])!;
  await Promise.all((Object.keys(ADMIN) as HostKey[]).map((k) => hosts[k].console(ADMIN[k])));
  baseline = {
    ipt: await ruleset(hosts.ipt),
    nft: await ruleset(hosts.nft),
    leg: await ruleset(hosts.leg),
    bare: await ruleset(hosts.bare),
  };
  files = Object.fromEntries(await Promise.all((Object.keys(NAMES) as HostKey[]).map(async (k) => [k, await savedFiles(hosts[k])] as const))) as Record<HostKey, string>;
  proj = await PulumiProject.create("firewall", path.join(__dirname, "programs", "firewall"));
}, 120_000);

afterAll(async () => {
  proj?.cleanup();
  await sb?.stop();
});

describe("FirewallRule through the pulumi CLI", () => {
  it("creates rules on iptables-nft, nftables and iptables-legacy, each just before the admin's REJECT/DROP", async () => {
    configure(RULES);
    const r = await ok(proj.up(), "up");
    expect(summary(r.stdout)).toMatchObject({ create: RULES.length + 1 });
    await expectPlaced();
    const out = JSON.parse((await ok(proj.run(["stack", "output", "--json"]), "stack output")).stdout).rules;
    expect(out.find((x: { id: string }) => x.id === "ipt/sftp-in").backend).toBe("iptables"); // auto picked the admin's backend
    // persist: the distro's saved rulesets carry the rule, and nft accepts its file.
    expect((await hosts.ipt.console("cat /etc/iptables/rules.v4")).stdout).toContain("sftp-jail:sftp-in");
    expect((await hosts.nft.console("cat /etc/nftables.conf && nft -c -f /etc/nftables.conf")).stdout).toContain('comment "sftp-jail:sftp-in"');
  });

  it("changes nothing on a second up", async () => {
    const before = await Promise.all([ruleset(hosts.ipt), ruleset(hosts.nft), ruleset(hosts.leg)]);
    const r = await ok(proj.up(), "up");
    expect(summary(r.stdout)).toEqual({ same: RULES.length + 1 });
    expect(await Promise.all([ruleset(hosts.ipt), ruleset(hosts.nft), ruleset(hosts.leg)])).toEqual(before);
  });

  it("reports a rule deleted by hand as a create and moved rules as updates, and up puts them back", async () => {
    await hosts.ipt.console(
      [
        // delete "metrics" (no source: IPv4 and its ip6tables twin; one family alone is that family's drift, see
        // firewall.ipv6.test.ts)
        "iptables $(iptables -S INPUT | grep sftp-jail:metrics | sed 's/^-A/-D/' | tr -d '\"')",
        "ip6tables $(ip6tables -S INPUT | grep sftp-jail:metrics | sed 's/^-A/-D/' | tr -d '\"')",
        // move "sftp-in" behind the REJECT
        "r=$(iptables -S INPUT | grep sftp-jail:sftp-in | tr -d '\"' | cut -d' ' -f3-)",
        "iptables -D INPUT $r && iptables -A INPUT $r",
      ].join(" && "),
    );
    await hosts.nft.console(
      "h=$(nft -a list chain inet filter input | grep sftp-jail:sftp-in | sed 's/.*# handle //') && nft delete rule inet filter input handle $h && " +
        "nft add rule inet filter input tcp dport 2222 ct state new accept comment '\"sftp-jail:sftp-in\"'",
    );
    const p = await ok(proj.preview("--refresh"), "preview --refresh");
    expect(summary(p.stdout)).toMatchObject({ create: 1, update: 2 });
    expect(p.stdout).toMatch(/inPosition\s*:\s*false\s*=>\s*true/);
    await ok(proj.up("--refresh"), "up --refresh");
    await expectPlaced();
    expect(summary((await ok(proj.preview("--refresh"), "preview --refresh")).stdout)).toEqual({ same: RULES.length + 1 });
  });

  it("refuses or reverts a DROP on the SSH port, naming the cause, and the hosts keep working", async () => {
    const before = await Promise.all([ruleset(hosts.ipt), ruleset(hosts.nft), ruleset(hosts.leg)]);
    // Would cut established sessions too: refused before anything changes (at the preview-time look, which stops the
    // whole deployment, so it gets a run of its own).
    configure([...RULES, { host: "ipt", id: "no-ssh", port: 22, action: "DROP", position: "top" }]);
    const refused = await proj.up();
    expect(refused.code).not.toBe(0);
    // The resource's check refuses it (property state), naming the host and the fix.
    expect(refused.stdout + refused.stderr).toMatch(
      /FirewallRule resource 'ipt-no-ssh': property state value \{<nil>\} has a problem: a DROP rule on tcp port 22 \(the port sshd listens on\) that is not limited to state NEW would cut established SSH sessions, .* on root@127\.0\.0\.1:\d+\. Fix: add state: \["NEW"\]/,
    );
    expect(await Promise.all([ruleset(hosts.ipt), ruleset(hosts.nft), ruleset(hosts.leg)])).toEqual(before);
    configure([
      ...RULES,
      // Limited to new connections: applied, a fresh login fails, reverted (iptables-restore / nft -f). Each host's
      // change runs whatever the order the engine picks (--continue-on-error: one failure does not stop the others).
      { host: "leg", id: "no-new-ssh", backend: "iptables-legacy", port: 22, action: "DROP", state: ["NEW"], position: "top" },
      { host: "ipt", id: "no-new-ssh", port: 22, action: "DROP", state: ["NEW"], position: "top" },
      { host: "nft", id: "no-new-ssh", backend: "nftables", port: 22, action: "DROP", state: ["NEW"], position: "top" },
    ]);
    const started = Date.now();
    const r = await proj.up("--continue-on-error");
    const out = r.stdout + r.stderr;
    expect(r.code).not.toBe(0);
    for (const name of ["ipt-no-new-ssh", "nft-no-new-ssh", "leg-no-new-ssh"]) {
      // The engine prints each failed resource under its URN name, then our message.
      const at = out.indexOf(`FirewallRule (${name}):`);
      expect(at).toBeGreaterThan(-1);
      expect(out.slice(at, at + 1500)).toMatch(
        /FirewallRule "no-new-ssh" on root@127\.0\.0\.1:\d+: firewall rule sftp-jail:no-new-ssh \(DROP tcp port 22 .*\) in (iptables filter INPUT|nftables inet filter input|iptables-legacy filter INPUT) would lock the operator out: a fresh login as root failed afterwards .*The change was reverted/s,
      );
    }
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await Promise.all([ruleset(hosts.ipt), ruleset(hosts.nft), ruleset(hosts.leg)])).toEqual(before);
    await expectLogin(hosts.ipt);
    await expectLogin(hosts.nft);
    await expectLogin(hosts.leg);
    configure(RULES);
  });

  it("destroy leaves every ruleset exactly as the admin had it, and the saved rulesets byte for byte", async () => {
    await ok(proj.destroy(), "destroy");
    expect(await ruleset(hosts.ipt)).toBe(baseline.ipt);
    expect(await ruleset(hosts.nft)).toBe(baseline.nft);
    expect(await ruleset(hosts.leg)).toBe(baseline.leg);
    // /etc/iptables did not exist (persist created it) and /etc/nftables.conf was Debian's own file.
    expect(files.ipt).toMatch(/\/etc\/iptables absent/);
    expect(await savedFiles(hosts.ipt)).toBe(files.ipt);
    expect(await savedFiles(hosts.nft)).toBe(files.nft);
  });

  it("a refused change on a host without any firewall leaves no table or chain behind (iptables-nft and nftables)", async () => {
    configure([
      { host: "bare", id: "no-new-ssh-ipt", backend: "iptables", port: 22, action: "DROP", state: ["NEW"], position: "top" },
      { host: "bare", id: "no-new-ssh-nft", backend: "nftables", port: 22, action: "DROP", state: ["NEW"], position: "top" },
    ]);
    const r = await proj.up();
    expect(r.code).not.toBe(0);
    for (const name of ["bare-no-new-ssh-ipt", "bare-no-new-ssh-nft"]) {
      const at = (r.stdout + r.stderr).indexOf(`FirewallRule (${name}):`);
      expect((r.stdout + r.stderr).slice(at, at + 1500)).toMatch(/would lock the operator out: .*The change was reverted/s);
    }
    expect(await ruleset(hosts.bare)).toBe(baseline.bare);
    expect(baseline.bare).not.toMatch(/^table |^\*filter/m); // really bare: nothing to restore, only things to remove
    expect(await savedFiles(hosts.bare)).toBe(files.bare);
    await expectLogin(hosts.bare);
  });

  it("persist on a host without any firewall: destroy removes the tables it created and puts the saved files back", async () => {
    configure([
      { host: "bare", id: "keep-ipt", backend: "iptables", port: 2222, persist: true },
      { host: "bare", id: "keep-nft", backend: "nftables", port: 2223, persist: true },
    ]);
    await ok(proj.up(), "up");
    expect((await hosts.bare.console("cat /etc/iptables/rules.v4")).stdout).toContain("sftp-jail:keep-ipt");
    expect((await hosts.bare.console("cat /etc/nftables.conf && nft -c -f /etc/nftables.conf")).stdout).toContain('comment "sftp-jail:keep-nft"');
    expect(await savedFiles(hosts.bare)).not.toBe(files.bare);
    await ok(proj.destroy(), "destroy");
    expect(await ruleset(hosts.bare)).toBe(baseline.bare);
    expect(await savedFiles(hosts.bare)).toBe(files.bare);
  });

  it("persist turned off puts the file back at once; a file edited by hand since is re-saved, not overwritten with the old one", async () => {
    const rule = { host: "bare", id: "keep-nft", backend: "nftables", port: 2223 };
    configure([{ ...rule, persist: true }]);
    await ok(proj.up(), "up");
    configure([{ ...rule, persist: false }]);
    await ok(proj.up(), "up");
    expect(await savedFiles(hosts.bare)).toBe(files.bare); // the rule is live, the boot-time file is Debian's again
    configure([{ ...rule, persist: true }]);
    await ok(proj.up(), "up");
    await hosts.bare.console("echo '# the admin was here' >> /etc/nftables.conf");
    await ok(proj.destroy(), "destroy");
    const after = (await hosts.bare.console("cat /etc/nftables.conf; ls -A /var/lib/sftp-jail/firewall 2>&1; true")).stdout;
    expect(after).not.toContain("sftp-jail:keep-nft"); // a reboot does not bring the rule back
    expect(after).toContain("Written by sftp-jail from the live ruleset"); // re-saved: the hand edit was not silently replaced by the old file
    expect(after).not.toMatch(/\.orig|\.sha256|\.rules/); // and the bookkeeping is gone
    expect(after).toMatch(/firewall.: No such file or directory/); // its directory too
    expect(await ruleset(hosts.bare)).toBe(baseline.bare);
  });
});
