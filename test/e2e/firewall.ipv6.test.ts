/**
 * IPv6 (issue 11 items 5 and 8, firewall): three real Debian 12 sandbox hosts whose IPv4 AND IPv6 rules end in REJECT
 * — iptables-nft, native nftables (`inet`), iptables-legacy — and a FirewallRule without source for sshd's port on
 * each, through the real pulumi CLI. Judged by the hosts' own tools (`iptables-save`, `ip6tables-save`,
 * `ip6tables-legacy-save`, `nft -j list ruleset`) and by real TCP connections to sshd over IPv4 and IPv6 inside each
 * host's network namespace (to 127.0.0.2 and to a ULA address the test puts on the host's loopback). All traffic stays
 * on loopback: the operator's own path (127.0.0.1 or ::1 to ::1) is the one the admin's rules let in.
 */
import { ChildProcess, spawn } from "child_process";
import * as net from "net";
import * as path from "path";
import { PulumiProject, RunResult, summary } from "./pulumi";
import { Sandbox, SandboxHost, run, startSandbox } from "../sandbox";

const NAMES = { ipt: "fw6-ipt", nft: "fw6-nft", leg: "fw6-leg" } as const;
type HostKey = keyof typeof NAMES;
/** A unique-local address the test puts on each host's loopback: an IPv6 client that is not the operator. */
const ULA = "fd5a:6::1";

/**
 * The admin's rulesets (the ones test/unit/fixtures/firewall-dual-stack.txt and -iptables-legacy-v6.txt were captured
 * from): replies, the operator's loopback path to sshd, then REJECT, in both families.
 */
const ipt = (v4: string, v6: string) =>
  [
    `${v4} -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `${v4} -A INPUT -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT`,
    `${v4} -A INPUT -j REJECT`,
    `${v6} -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `${v6} -A INPUT -s ::1/128 -d ::1/128 -p tcp -m tcp --dport 22 -j ACCEPT`,
    `${v6} -A INPUT -j REJECT`,
  ];
const ADMIN: Record<HostKey, string[]> = {
  ipt: ipt("iptables", "ip6tables"),
  nft: [
    "nft add table inet filter",
    "nft add chain inet filter input '{ type filter hook input priority filter; policy accept; }'",
    "nft add rule inet filter input ct state established,related accept",
    "nft add rule inet filter input ip saddr 127.0.0.1 ip daddr 127.0.0.1 tcp dport 22 accept",
    "nft add rule inet filter input ip6 saddr ::1 ip6 daddr ::1 tcp dport 22 accept",
    "nft add rule inet filter input reject",
  ],
  leg: ipt("iptables-legacy", "ip6tables-legacy"),
};

/** sshd's port for every address; persisted where the distro loads it (iptables: rules.v4 AND rules.v6). */
const RULES = [
  { host: "ipt", id: "ssh", port: 22, state: ["NEW"], persist: true },
  { host: "nft", id: "ssh", backend: "nftables", port: 22, state: ["NEW"], persist: true },
  { host: "leg", id: "ssh", port: 22, state: ["NEW"] }, // auto: the legacy rules (IPv4 and IPv6) decide
  // Limited to IPv4 on purpose: next to the ip6tables REJECT that is a half-open door, told at preview.
  { host: "ipt", id: "v4only", port: 2222, source: "0.0.0.0/0" },
];

let sb: Sandbox;
const hosts = {} as Record<HostKey, SandboxHost>;
let proj: PulumiProject;
let baseline: Record<HostKey, string>;
let files: Record<HostKey, string>;
let v6door: { port: number; close(): void } | undefined;

/**
 * Every ruleset of a host, minus comment lines and counters: iptables and ip6tables (nft and legacy variants) by their
 * save output, and the whole nft ruleset, where iptables-nft keeps its tables: an empty table or chain left behind shows.
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

/** The distro's saved rulesets, byte for byte (sha256, mode, owner, size) or their absence, and sftp-jail's bookkeeping. */
async function savedFiles(h: SandboxHost): Promise<string> {
  const r = await h.console(
    "for f in /etc/nftables.conf /etc/iptables /etc/iptables/rules.v4 /etc/iptables/rules.v6; do if [ -e $f ]; then stat -c '%n %a %U:%G %s' $f; [ -f $f ] && sha256sum $f; else echo \"$f absent\"; fi; done; ls -A /var/lib/sftp-jail/firewall 2>/dev/null; true",
  );
  return r.stdout;
}

/** A real TCP connection to sshd inside the host's netns: its banner, or why it failed. */
async function reach(h: SandboxHost, addr: string): Promise<string> {
  const r = await h.console(`timeout 3 bash -c 'exec 3<>/dev/tcp/${addr}/22 && head -c 7 <&3' 2>&1`, { allowFail: true });
  return r.code === 0 ? r.stdout : /refused/i.test(r.stdout) ? "refused" : `failed (${r.code}): ${r.stdout.trim()}`;
}

/**
 * The operator over IPv6: 127.0.0.1:<port> on this machine → socat inside the host's netns → sshd on [::1]:22. Every
 * connection, including confirm-or-revert's fresh login, then reaches sshd as an IPv6 client.
 */
async function operatorOverIpv6(h: SandboxHost): Promise<{ port: number; close(): void }> {
  const kids = new Set<ChildProcess>();
  const server = net.createServer((sock) => {
    const p = spawn("nsenter", ["-t", String(h.pid), "-n", "--", "socat", "STDIO", "TCP6:[::1]:22"], { stdio: ["pipe", "pipe", "ignore"] });
    kids.add(p);
    p.on("exit", () => (kids.delete(p), sock.destroy()));
    p.stdin.on("error", () => undefined);
    sock.on("error", () => undefined);
    sock.on("close", () => p.kill("SIGKILL"));
    sock.pipe(p.stdin);
    p.stdout.pipe(sock);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.close();
      for (const k of kids) k.kill("SIGKILL");
    },
  };
}

function configure(rules: object[]): void {
  const hostCfg: Record<string, { port: number; hostKey: string }> = Object.fromEntries(Object.entries(hosts).map(([k, h]) => [k, { port: h.port, hostKey: h.hostKey }]));
  if (v6door) hostCfg.ipt6 = { port: v6door.port, hostKey: hosts.ipt.hostKey };
  proj.setConfig({ hosts: hostCfg, keyFile: sb.keyPath, perDialTimeout: 2, rules });
}

async function ok(p: Promise<RunResult>, what: string): Promise<RunResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`pulumi ${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Our rule's line, as the host's save tool prints it, and where it is relative to the chain's REJECT. */
async function placed(h: SandboxHost, save: string): Promise<string[]> {
  const r = await h.console(`${save} -t filter | grep -e '^-A INPUT' | sed 's/"//g'`);
  const lines = r.stdout.trim().split("\n").filter((l) => !l.includes("sftp-jail:v4only"));
  return lines.map((l) => (l.includes("sftp-jail:ssh") ? `ours: ${l}` : l.includes("-j REJECT") ? "REJECT" : "admin"));
}

beforeAll(async () => {
  await run(["bash", path.join(__dirname, "../sandbox/sandbox.sh"), "down", ...Object.values(NAMES)]);
  sb = await startSandbox(Object.values(NAMES));
  for (const k of Object.keys(NAMES) as HostKey[]) hosts[k] = sb.hosts.find((h) => h.name === NAMES[k])!;
  await Promise.all((Object.keys(ADMIN) as HostKey[]).map((k) => hosts[k].console([`ip -6 addr add ${ULA}/128 dev lo`, ...ADMIN[k]].join(" && "))));
  baseline = Object.fromEntries(await Promise.all((Object.keys(NAMES) as HostKey[]).map(async (k) => [k, await ruleset(hosts[k])] as const))) as Record<HostKey, string>;
  files = Object.fromEntries(await Promise.all((Object.keys(NAMES) as HostKey[]).map(async (k) => [k, await savedFiles(hosts[k])] as const))) as Record<HostKey, string>;
  proj = await PulumiProject.create("firewall6", path.join(__dirname, "programs", "firewall"));
}, 120_000);

afterAll(async () => {
  v6door?.close();
  proj?.cleanup();
  await sb?.stop();
});

describe("FirewallRule without source on hosts whose IPv4 and IPv6 end in REJECT", () => {
  it("before: IPv4 and IPv6 clients other than the operator's loopback path are turned away", async () => {
    const seen = await Promise.all((Object.keys(NAMES) as HostKey[]).map(async (k) => ({ k, v4: await reach(hosts[k], "127.0.0.2"), v6: await reach(hosts[k], ULA) })));
    expect(seen).toEqual((Object.keys(NAMES) as HostKey[]).map((k) => ({ k, v4: "refused", v6: "refused" })));
  });

  it("preview tells the IPv4-only rule's half-open door, and only that one", async () => {
    configure(RULES);
    const p = await ok(proj.preview(), "preview");
    const out = p.stdout + p.stderr;
    expect(out).toMatch(
      /FirewallRule "v4only" on 127\.0\.0\.1:\d+: half-open door: tcp port 2222 is open for IPv4 only: this rule is limited to IPv4 \(source 0\.0\.0\.0\/0\), and the ip6tables rule "-A INPUT -j REJECT --reject-with icmp6-port-unreachable" turns IPv6 clients away/,
    );
    expect(out.match(/half-open door/g)).toHaveLength(1);
  });

  it("up opens sshd's port in both families on every backend; real IPv4 and IPv6 clients get sshd's banner", async () => {
    const r = await ok(proj.up(), "up");
    expect(summary(r.stdout)).toMatchObject({ create: RULES.length + 1 });
    const ours = "ours: -A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment sftp-jail:ssh -j ACCEPT";
    for (const [h, saves] of [[hosts.ipt, ["iptables-save", "ip6tables-save"]], [hosts.leg, ["iptables-legacy-save", "ip6tables-legacy-save"]]] as const) {
      for (const save of saves) expect({ save, chain: await placed(h, save) }).toEqual({ save, chain: ["admin", "admin", ours, "REJECT"] });
    }
    // nftables: one inet rule, with no address family match, so it covers both; just before the reject.
    const j = JSON.parse((await hosts.nft.console("nft -j list chain inet filter input")).stdout) as { nftables: Array<Record<string, any>> };
    const rules = j.nftables.filter((x) => x.rule).map((x) => x.rule);
    const at = rules.findIndex((x) => x.comment === "sftp-jail:ssh");
    expect(at).toBe(rules.length - 2);
    expect(JSON.stringify(rules[at].expr)).not.toMatch(/nfproto|saddr/);
    const seen = await Promise.all((Object.keys(NAMES) as HostKey[]).map(async (k) => ({ k, v4: await reach(hosts[k], "127.0.0.2"), v6: await reach(hosts[k], ULA) })));
    expect(seen).toEqual((Object.keys(NAMES) as HostKey[]).map((k) => ({ k, v4: "SSH-2.0", v6: "SSH-2.0" })));
    // persist: each family where Debian loads it at boot.
    expect((await hosts.ipt.console("grep -c sftp-jail:ssh /etc/iptables/rules.v4 /etc/iptables/rules.v6")).stdout).toBe("/etc/iptables/rules.v4:1\n/etc/iptables/rules.v6:1\n");
    expect((await hosts.nft.console("nft -c -f /etc/nftables.conf && grep -c sftp-jail:ssh /etc/nftables.conf")).stdout).toBe("1\n");
  });

  it("refresh is clean but for a twin deleted by hand: that family's drift (and a half-open door); up --refresh puts it back", async () => {
    await hosts.ipt.console("ip6tables $(ip6tables -S INPUT | grep sftp-jail:ssh | sed 's/^-A/-D/' | tr -d '\"')");
    expect(await reach(hosts.ipt, ULA)).toBe("refused");
    const p = await ok(proj.preview("--refresh"), "preview --refresh");
    expect(summary(p.stdout)).toEqual({ update: 1, same: RULES.length });
    expect(p.stdout).toMatch(/ipt-ssh\][\s\S]*?~ families\s*: \{[\s\S]*?~ ipv6\s*: "missing" => "ok"/);
    expect(p.stdout + p.stderr).toMatch(/FirewallRule "ssh" on 127\.0\.0\.1:\d+: half-open door: tcp port 22 is open for IPv4 only: this rule is for every address, but its IPv6 twin is missing from ip6tables INPUT or comes after the ip6tables rule "-A INPUT -j REJECT/);
    await ok(proj.up("--refresh"), "up --refresh");
    expect(await reach(hosts.ipt, ULA)).toBe("SSH-2.0");
    expect(summary((await ok(proj.preview("--refresh"), "preview --refresh")).stdout)).toEqual({ same: RULES.length + 1 });
  });

  it("an IPv6 change that locks out an operator who comes over IPv6 is reverted in both families, and the host keeps working", async () => {
    v6door = await operatorOverIpv6(hosts.ipt);
    const before = await ruleset(hosts.ipt);
    // Both families: the IPv4 part leaves this operator alone, its ip6tables twin does not.
    configure([...RULES, { host: "ipt6", id: "no-new-ssh", port: 22, action: "DROP", state: ["NEW"], position: "top" }]);
    const r = await proj.up();
    const out = r.stdout + r.stderr;
    expect(r.code).not.toBe(0);
    expect(out).toMatch(/FirewallRule "no-new-ssh" on root@127\.0\.0\.1:\d+: firewall rule sftp-jail:no-new-ssh \(DROP tcp port 22 from anywhere state NEW\) in iptables filter INPUT would lock the operator out: a fresh login as root failed afterwards .*The change was reverted/s);
    expect(await ruleset(hosts.ipt)).toBe(before);
    const sshd = (await hosts.ipt.console("grep -c 'Accepted publickey for root from ::1' /var/log/sshd.log")).stdout.trim();
    expect(Number(sshd)).toBeGreaterThan(0); // the operator really was an IPv6 client
    configure(RULES);
  });

  it("destroy leaves every ruleset exactly as the admin had it (no table or chain of ours), and the saved files byte for byte", async () => {
    await ok(proj.destroy(), "destroy");
    for (const k of Object.keys(NAMES) as HostKey[]) {
      expect({ k, rules: await ruleset(hosts[k]) }).toEqual({ k, rules: baseline[k] });
      expect({ k, files: await savedFiles(hosts[k]) }).toEqual({ k, files: files[k] });
    }
    expect(files.ipt).toMatch(/\/etc\/iptables absent/); // persist created it, and both rules files in it
    // Nor any bookkeeping: the persist state directory and the tables saved for reverting the rules' changes are gone.
    for (const k of Object.keys(NAMES) as HostKey[]) {
      const left = await hosts[k].console("ls -A /var/lib/sftp-jail 2>&1; ls -A /run/sftp-jail/firewall 2>/dev/null | grep -v '^no-new-ssh' || true");
      expect({ k, left: left.stdout }).toEqual({ k, left: "ls: cannot access '/var/lib/sftp-jail': No such file or directory\n" });
    }
    expect(files.nft).toMatch(/\/etc\/nftables\.conf 755 root:root/); // Debian's own file, put back
  });
});
