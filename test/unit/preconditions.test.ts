/**
 * Host preconditions (plan/preconditions.ts) on facts captured from a real Debian 12 host, each broken the way a real
 * host can be; and the gate that judges them once per host (apply/hostGate.ts).
 */
import { HostFacts } from "../../provider/observe/facts";
import { describeHostProblems, hostProblems, sshdLayout } from "../../provider/plan/preconditions";
import { HostGates } from "../../provider/apply/hostGate";
import { MAIN_CONFIG } from "../../provider/plan/sshdRender";
import { debian12 as captured } from "./fixtures";

/** Debian 12 as captured, seen by a root login (the capture predates the operator fact: a console run shows none). */
function debian12(): HostFacts {
  const f = captured();
  f.operator = { user: "root", uid: 0, gid: 0, gids: [0], home: "/root", shell: "/bin/bash", via: "root", runAs: "root", sudoNopasswd: null, keyFiles: ["/root/.ssh/authorized_keys"] };
  return f;
}
const names = (f: HostFacts, needs = {}) => hostProblems(f, needs).map((p) => p.precondition);

describe("host preconditions", () => {
  it("a stock Debian 12 host meets them all, and its Match blocks go in drop-ins", () => {
    expect(hostProblems(debian12(), { firewall: ["auto", "iptables", "nftables", "iptables-legacy"] })).toEqual([]);
    expect(sshdLayout(debian12())).toMatch(/includes \/etc\/ssh\/sshd_config\.d\/\*\.conf: one drop-in per Match block/);
  });

  it("a host without Include is supported too: known, not refused", () => {
    const f = debian12();
    f.sshd.main!.content = f.sshd.main!.content.replace(/^Include .*$/m, "");
    expect(hostProblems(f)).toEqual([]);
    expect(sshdLayout(f)).toMatch(/includes no \/etc\/ssh\/sshd_config\.d: Match blocks go in its sftp-jail region/);
  });

  it("an sshd_config that sshd -t already refuses: named with sshd's message and the fix", () => {
    const f = debian12();
    f.sshd.valid = false;
    f.sshd.error = "/etc/ssh/sshd_config: line 124: Bad configuration option: BogusKeyword\n/etc/ssh/sshd_config: terminating, 1 bad configuration options";
    const [p, ...rest] = hostProblems(f);
    expect(rest).toEqual([]);
    expect(p.precondition).toBe("sshd -t");
    expect(p.what).toBe(
      "the current sshd configuration is already invalid (sshd -t: /etc/ssh/sshd_config: line 124: Bad configuration option: BogusKeyword /etc/ssh/sshd_config: terminating, 1 bad configuration options)",
    );
    expect(p.fix).toMatch(/until `sshd -t` passes on the host/);
    const d = describeHostProblems([p], "change");
    expect(d.what).toMatch(/^the host fails a precondition, so sftp-jail changes nothing on it: no resource of this host is created, updated or deleted until it is fixed \(nothing was changed\): sshd -t: the current sshd configuration is already invalid/);
    expect(describeHostProblems([p], "preview").what).toMatch(/`pulumi up` will change nothing on it.*--continue-on-error/);
  });

  it("OpenSSH missing or older than 8.0, and sshd_config missing", () => {
    const old = debian12();
    old.openssh = { ...old.openssh!, version: "7.9p1", major: 7, minor: 9 };
    expect(hostProblems(old)).toEqual([
      { precondition: "OpenSSH version", what: expect.stringMatching(/OpenSSH 7\.9p1 is too old: sftp-jail needs 8\.0 or newer/), fix: "upgrade openssh-server to 8.0 or newer" },
    ]);
    const none = debian12();
    none.openssh = null;
    expect(names(none)).toEqual(["OpenSSH"]);
    const noMain = debian12();
    noMain.sshd.main = null;
    expect(hostProblems(noMain)).toEqual([{ precondition: "sshd_config", what: `${MAIN_CONFIG} is missing`, fix: expect.any(String) }]);
  });

  it("commands the steps use: every missing one named, with the package that brings it", () => {
    const f = debian12();
    f.tools.groupadd = false;
    f.tools.useradd = false;
    f.tools.flock = false;
    delete f.tools.setsid; // a probe that printed nothing for it counts as missing
    const [p] = hostProblems(f);
    expect(p.precondition).toBe("commands");
    expect(p.what).toMatch(/^groupadd, useradd, flock, setsid are not on root's PATH/);
    expect(p.fix).toBe("install passwd (Debian/Ubuntu) or shadow-utils (RHEL); util-linux");
  });

  it("root access: a sudo that does not make root, or no operator facts at all", () => {
    const f = debian12();
    f.operator = { ...f.operator!, user: "deploy", via: "sudo", runAs: "backup" };
    expect(hostProblems(f)).toEqual([{ precondition: "root access", what: "commands run as backup, not root (sudo for deploy)", fix: expect.stringMatching(/NOPASSWD/) }]);
    f.operator = null;
    expect(names(f)).toEqual(["root access"]);
  });

  it("a firewall backend only where a FirewallRule targets it", () => {
    const f = debian12();
    f.firewall = { ...f.firewall, nft: null, iptablesVariant: null, iptables: null, iptablesLegacy: null };
    f.tools.nft = false;
    f.tools["iptables-legacy"] = false;
    expect(hostProblems(f)).toEqual([]);
    expect(names(f, { firewall: ["nftables", "iptables", "iptables-legacy", "auto"] })).toEqual([
      "firewall backend nftables",
      "firewall backend iptables",
      "firewall backend iptables-legacy",
      "firewall backend auto",
    ]);
    f.tools.nft = true; // installed, but the kernel has no nf_tables: `nft list ruleset` failed
    expect(hostProblems(f, { firewall: ["nftables"] })[0].what).toMatch(/nft list ruleset` fails/);
  });

  it("several failures are numbered, each with its own fix", () => {
    const f = debian12();
    f.sshd.valid = false;
    f.tools.useradd = false;
    const d = describeHostProblems(hostProblems(f), "change");
    expect(d.what).toMatch(/fails 2 preconditions, .*: \(1\) commands: useradd is not on root's PATH .*; \(2\) sshd -t: /);
    expect(d.fix).toMatch(/^\(1\) install passwd .*; \(2\) fix the configuration by hand/);
  });
});

describe("the host gate: once per host", () => {
  const broken = () => {
    const f = debian12();
    f.sshd.valid = false;
    f.sshd.error = "line 1: Bad configuration option: Bogus";
    return f;
  };

  it("takes the facts once, and refuses every change on a host that fails, whichever resource asks", async () => {
    const gates = new HostGates<string>();
    const take = jest.fn(async () => broken());
    for (let i = 0; i < 5; i++) expect((await gates.pass("h1", take)).problems.map((p) => p.precondition)).toEqual(["sshd -t"]);
    expect(take).toHaveBeenCalledTimes(1);
  });

  it("clears a host at its first change: later passes (reverts, cleanups) are never refused", async () => {
    const gates = new HostGates<string>();
    const f = debian12();
    const take = jest.fn(async () => f);
    expect(await gates.pass("h1", take)).toEqual({ problems: [], first: true });
    // Learned afterwards (a FirewallRule registered late, without its backend): that rule fails in its own planner.
    f.tools.nft = false;
    gates.need("h1", "nftables");
    expect(await gates.pass("h1", take)).toEqual({ problems: [], first: false });
    expect(take).toHaveBeenCalledTimes(1);
  });

  it("a FirewallRule's backend registered before the first change counts for every resource of its host", async () => {
    const gates = new HostGates<string>();
    const f = debian12();
    f.tools.nft = false;
    gates.need("h1", "nftables");
    expect((await gates.pass("h1", async () => f)).problems.map((p) => p.precondition)).toEqual(["firewall backend nftables"]);
    expect((await gates.pass("h2", async () => debian12())).problems).toEqual([]); // other hosts are their own
  });

  it("a failed snapshot is not a verdict: the next change takes it again", async () => {
    const gates = new HostGates<string>();
    const take = jest.fn().mockRejectedValueOnce(new Error("connection reset")).mockResolvedValue(debian12());
    await expect(gates.pass("h1", take)).rejects.toThrow("connection reset");
    expect((await gates.pass("h1", take)).problems).toEqual([]);
    expect(take).toHaveBeenCalledTimes(2);
  });

  it("warns once per host and message", () => {
    const gates = new HostGates<string>();
    expect(gates.firstTime("h1", "m")).toBe(true);
    expect(gates.firstTime("h1", "m")).toBe(false);
    expect(gates.firstTime("h2", "m")).toBe(true);
  });
});
